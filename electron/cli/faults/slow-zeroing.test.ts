// A USB stick or SD card has no "write zeroes" command: the kernel zeroes a
// range by writing zeros to it, at the card's pace. An image's free space
// (a long run of zeros) then takes as long as writing it, and must neither
// look like a hung drive nor leave the progress standing still.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobEvent } from '../../../shared/job-events';
import { createSlowDrive } from '../../engine/testing/slow-drive';
import { fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { MiB, describe, faultTest, imprint, noCrash } from './fault-bench';

const DATA = 4 * MiB;
/** Zeroed through nbdkit's rate filter at about 8-14 MB/s: 7-12 s, longer than STALL_MS. */
const ZEROS = 96 * MiB;
const DRIVE = 128 * MiB;
/**
 * Shorter than the whole run of zeros takes, longer than any paced call of
 * it: about 1 s each, and 32 MiB (4.2 s) at most, after nbdkit's rate bucket
 * (2 s of burst, like a stick's write cache) let the first 16 MiB through at once.
 */
const STALL_MS = 8_000;

faultTest('a long run of zeros on a slow drive without write-zeroes: zeroed call by call with progress, never "stopped responding"', async () => {
  const image = path.join(fixtureDir(), 'data-then-zeros.img');
  const data = pseudoRandom(DATA, 'slow zeroing');
  fs.writeFileSync(image, data);
  fs.truncateSync(image, DATA + ZEROS);
  // The drive held old data everywhere: the zeros must really be written.
  const drive = await createSlowDrive(DRIVE, '64M', { noWriteZeroes: true, initialContent: Buffer.alloc(DRIVE, 0xa5) });
  try {
    const r = await imprint(['flash', image, drive.device, '--yes', '--no-verify'], { env: { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) }, timeoutMs: 90_000 });
    noCrash(r);
    assert.equal(r.code, 0, describe(r));
    const written = new Set(
      r.events.filter((e): e is Extract<JobEvent, { type: 'progress' }> => e.type === 'progress').map((e) => e.targets[0]?.bytesWritten ?? 0),
    );
    // Each paced call reports its piece as it lands: the count moves through the run, not once at its end.
    const inRun = [...written].filter((b) => b > DATA && b < DATA + ZEROS);
    assert.ok(inRun.length >= 3, `progress while the zeros were written: ${[...written].map((b) => b / MiB).join(', ')} MiB`);
    const back = fs.readFileSync(drive.backingFile);
    assert.ok(back.subarray(0, DATA).equals(data), 'the data is on the drive');
    assert.ok(back.subarray(DATA, DATA + ZEROS).every((b) => b === 0), 'the run reads back as zeros');
    // (Up to the drive's last MiB, where a flash clears an old backup GPT.)
    assert.ok(back.subarray(DATA + ZEROS, DRIVE - MiB).every((b) => b === 0xa5), 'after the image: untouched');
  } finally {
    await drive.close();
  }
});
