/**
 * The etcher-sdk peer, run as its own process by the benchmark
 * (`node out/bench/etcher-flash.js IMAGE DEVICE`): flash with verification the
 * way balenaEtcher's writer does (decompressThenFlash, O_DIRECT block device,
 * verify: true), and print one JSON line with what etcher-sdk reported.
 *
 * drivelist hides loop devices, so the drive object is built by hand from
 * what the kernel says about the device (drivelist's Drive type only).
 */
import * as fs from 'fs';
import type { Drive } from 'drivelist';
// Deep imports: the package's index loads its drive scanner, which needs
// drivelist's native binding (not built here: its install script is denied).
// The source-destination index must be loaded whole: each decoder (gzip, xz,
// zip...) registers its mime type there when imported, and without them
// etcher-sdk silently writes a compressed image as if it were raw.
import { decompressThenFlash } from 'etcher-sdk/build/multi-write';
import { BlockDevice, File } from 'etcher-sdk/build/source-destination';

/** What the child prints on its last line. */
export interface EtcherOutcome {
  ok: boolean;
  error?: string;
  bytesWritten: number;
  /** Seconds from the start of the flash to the first "verifying" progress (the write phase). */
  writeSeconds: number | null;
  totalSeconds: number;
}

function sysfs(device: string, file: string): number {
  const name = device.replace(/^\/dev\//, '');
  return Number(fs.readFileSync(`/sys/class/block/${name}/${file}`, 'utf8').trim());
}

async function main(image: string, device: string): Promise<EtcherOutcome> {
  const drive: Drive = {
    device,
    raw: device,
    devicePath: null,
    description: 'Imprint bench loop device',
    size: sysfs(device, 'size') * 512,
    blockSize: sysfs(device, 'queue/physical_block_size'),
    logicalBlockSize: sysfs(device, 'queue/logical_block_size'),
    mountpoints: [],
    busType: 'UNKNOWN',
    busVersion: null,
    enumerator: 'bench',
    error: null,
    isCard: null,
    isReadOnly: false,
    isRemovable: true,
    isSCSI: null,
    isSystem: false,
    isUAS: null,
    isUSB: null,
    isVirtual: true,
    partitionTableType: null,
  };
  const source = new File({ path: image });
  const destination = new BlockDevice({ drive, write: true, direct: true, unmountOnSuccess: false });
  const start = process.hrtime.bigint();
  const since = (): number => Number(process.hrtime.bigint() - start) / 1e9;
  let writeSeconds: number | null = null;
  const errors: string[] = [];
  const result = await decompressThenFlash({
    source,
    destinations: [destination],
    verify: true,
    // As balenaEtcher's writer calls it for one drive: min(2 + (drives - 1) * 32, 256) buffers,
    // no trimming (every byte written, as dd and Imprint do), no decompression to a temp file first.
    numBuffers: 2,
    trim: false,
    decompressFirst: false,
    onFail: (_dest, err) => errors.push(err.message),
    onProgress: (p) => {
      if (p.type === 'verifying' && writeSeconds === null) writeSeconds = since();
    },
  });
  for (const err of result.failures.values()) if (!errors.includes(err.message)) errors.push(err.message);
  return {
    ok: errors.length === 0,
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
    bytesWritten: result.bytesWritten,
    writeSeconds,
    totalSeconds: since(),
  };
}

const [image, device] = process.argv.slice(2);
if (!image || !device) {
  process.stderr.write('usage: etcher-flash IMAGE DEVICE\n');
  process.exit(2);
}
main(image, device).then(
  (outcome) => {
    process.stdout.write(JSON.stringify(outcome) + '\n');
    // etcher-sdk leaves handles open (lzma-native threads, timers): do not wait for them.
    process.exit(outcome.ok ? 0 : 1);
  },
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message, bytesWritten: 0, writeSeconds: null, totalSeconds: 0 }) + '\n');
    process.exit(1);
  },
);
