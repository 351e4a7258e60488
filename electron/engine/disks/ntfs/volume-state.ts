import { readDirectoryIndex, FILE_NAME_DOS } from './directory-index';
import { applyFixups } from './fixups';
import { AT_DATA, AT_VOLUME_INFORMATION, AT_VOLUME_NAME, findAttributes } from './mft-record';
import { FILE_LOG_FILE, FILE_ROOT, FILE_VOLUME, type NtfsReader } from './ntfs-reader';
import { NtfsFormatError } from './runlist';

/**
 * Whether the filesystem on disk is the whole truth: not marked dirty, no
 * journal left to replay, Windows not hibernated on it. When any of these
 * fails, clusters the bitmap calls free may still hold data Windows will
 * use (through the journal or the hibernated memory), so a backup must copy
 * every byte.
 */

const VOLUME_IS_DIRTY = 0x0001;
/** RESTART_AREA flags (logfile.h): set when the volume was cleanly shut down. */
const RESTART_VOLUME_IS_CLEAN = 0x0002;
/** RESTART_AREA client_in_use_list value meaning no client has the log open (logfile.h LOGFILE_NO_CLIENT). */
const LOGFILE_NO_CLIENT = 0xffff;

export interface VolumeInfo {
  label: string | null;
  dirty: boolean;
  version: string;
}

/** $Volume's name and $VOLUME_INFORMATION flags. */
export async function readVolumeInfo(reader: NtfsReader): Promise<VolumeInfo> {
  const rec = await reader.readRecord(FILE_VOLUME);
  const [info] = findAttributes(rec.attributes, AT_VOLUME_INFORMATION);
  if (info?.value === undefined || info.value.length < 12) throw new NtfsFormatError('$Volume has no volume information');
  const [name] = findAttributes(rec.attributes, AT_VOLUME_NAME);
  const label = name?.value !== undefined && name.value.length > 0 ? name.value.toString('utf16le') : null;
  return {
    label,
    dirty: (info.value.readUInt16LE(10) & VOLUME_IS_DIRTY) !== 0,
    version: `${info.value[8]}.${info.value[9]}`,
  };
}

interface RestartState {
  clean: boolean;
  lsn: bigint;
}

/** One restart page ("RSTR") of $LogFile, or null when it is not a valid one. */
function parseRestartPage(page: Buffer): RestartState | null {
  const magic = page.toString('latin1', 0, 4);
  // CHKD: chkdsk was working on the volume when it stopped.
  if (magic === 'CHKD') return { clean: false, lsn: 0n };
  if (magic !== 'RSTR') return null;
  const systemPageSize = page.readUInt32LE(0x10);
  if (systemPageSize !== page.length) return null;
  if (applyFixups(page, 'RSTR') !== null) return null;
  const ra = page.readUInt16LE(0x18);
  if (ra + 0x10 > page.length) return null;
  const clientInUse = page.readUInt16LE(ra + 0x0c);
  const flags = page.readUInt16LE(ra + 0x0e);
  return { clean: clientInUse === LOGFILE_NO_CLIENT || (flags & RESTART_VOLUME_IS_CLEAN) !== 0, lsn: page.readBigUInt64LE(ra) };
}

/**
 * Whether $LogFile has changes Windows has still to replay (a crash, or a
 * "fast startup" shutdown, which leaves the journal open). A log wiped to
 * 0xFF (as ntfs-3g and mkntfs leave it) is clean. Returns the problem, or null.
 */
export async function logFileProblem(reader: NtfsReader): Promise<string | null> {
  const rec = await reader.readRecord(FILE_LOG_FILE);
  const s = await reader.attributeStream(rec, AT_DATA);
  if (s === null || s.size < 8192) return 'the NTFS journal ($LogFile) is missing or too small';
  const head = await reader.read(s, 0, 512);
  if (head.every((b) => b === 0xff)) return null;
  const magic = head.toString('latin1', 0, 4);
  let pageSize = magic === 'RSTR' || magic === 'CHKD' ? head.readUInt32LE(0x10) : 4096;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0 || pageSize * 2 > s.size) pageSize = 4096;
  // Two copies of the restart page; the one with the later LSN is current.
  const pages = [parseRestartPage(await reader.read(s, 0, pageSize)), parseRestartPage(await reader.read(s, pageSize, pageSize))];
  const valid = pages.filter((p): p is RestartState => p !== null);
  if (valid.length === 0) return 'the NTFS journal ($LogFile) has no valid restart page';
  const current = valid.reduce((a, b) => (b.lsn > a.lsn ? b : a));
  return current.clean ? null : 'the NTFS journal ($LogFile) has changes not yet applied (Windows was not shut down cleanly, or "fast startup" is on)';
}

/**
 * Whether Windows is hibernated on this volume: hiberfil.sys in the root
 * whose header says "hibr" (or "HIBR", Windows 8 and later, also written by a
 * fast-startup shutdown) or "rstr"/"RSTR" (a resume in progress). A header of
 * zeros or "wake" means Windows resumed. Returns the problem, or null.
 */
export async function hibernationProblem(reader: NtfsReader): Promise<string | null> {
  const root = await reader.readRecord(FILE_ROOT);
  const keys = await readDirectoryIndex(reader, root);
  const key = keys.find((k) => k.namespace !== FILE_NAME_DOS && k.name.toLowerCase() === 'hiberfil.sys' && k.parent === FILE_ROOT);
  if (key === undefined) return null;
  const rec = await reader.readRecord(key.record);
  const s = await reader.attributeStream(rec, AT_DATA);
  if (s === null || s.size < 4) return null;
  if (s.compressed || s.encrypted) return 'hiberfil.sys is stored in a form this reader cannot check';
  const magic = (await reader.read(s, 0, 4)).toString('latin1').toLowerCase();
  return magic === 'hibr' || magic === 'rstr' ? 'Windows is hibernated on this NTFS volume (hiberfil.sys is active, as after a fast-startup shutdown)' : null;
}
