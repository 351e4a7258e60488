import * as fs from 'fs';
import * as path from 'path';
import { ImprintError } from '../errors';

/**
 * GNU ddrescue's mapfile, read and written in its own format so that
 * `ddrescuelog` and `ddrescue` itself can read ours (and we theirs). From the
 * ddrescue manual, "Mapfile structure": heading comments, then a status line
 * `current_pos current_status current_pass`, then `pos size status` lines
 * describing contiguous, non-overlapping blocks. Numbers are C++ integer
 * constants (hex `0x..`, octal `0..`, or decimal); `#` at the start of a line
 * or after whitespace starts a comment.
 */

/** `?` non-tried, `*` non-trimmed, `/` non-scraped, `-` bad sector, `+` finished. */
export type BlockStatus = '?' | '*' | '/' | '-' | '+';
/** What the rescue was doing: `?` copying, `*` trimming, `/` scraping, `-` retrying, `+` finished (`F`, `G`: ddrescue's fill and generate modes). */
export type MapPhase = '?' | '*' | '/' | '-' | '+' | 'F' | 'G';

export const BLOCK_STATUSES: readonly BlockStatus[] = ['?', '*', '/', '-', '+'];
const PHASES: readonly MapPhase[] = ['?', '*', '/', '-', '+', 'F', 'G'];

export interface MapBlock {
  pos: number;
  size: number;
  status: BlockStatus;
}

export interface MapfileContent {
  currentPos: number;
  currentStatus: MapPhase;
  currentPass: number;
  blocks: MapBlock[];
}

/** The words ddrescue writes in the heading for each phase. */
export const PHASE_WORDS: Record<MapPhase, string> = {
  '?': 'Copying non-tried blocks...',
  '*': 'Trimming failed blocks...',
  '/': 'Scraping failed blocks...',
  '-': 'Retrying bad sectors...',
  '+': 'Finished',
  F: 'Filling specified blocks...',
  G: 'Generating approximate mapfile...',
};

/**
 * The state of a rescue: a list of blocks that covers [0, size) with no gaps,
 * adjacent blocks always of different status (merged as they change).
 */
export class RescueMap {
  blocks: MapBlock[];
  currentPos = 0;
  currentStatus: MapPhase = '?';
  currentPass = 1;

  constructor(readonly size: number, blocks?: MapBlock[]) {
    this.blocks = blocks ? blocks.map((b) => ({ ...b })) : size > 0 ? [{ pos: 0, size, status: '?' }] : [];
    this.merge();
  }

  /** A map from parsed mapfile content; gaps and a short tail become non-tried, as ddrescue treats them. */
  static fromContent(content: MapfileContent, size: number): RescueMap {
    const blocks: MapBlock[] = [];
    let at = 0;
    for (const b of content.blocks) {
      if (b.pos + b.size > size) {
        throw new ImprintError('E_BAD_ARGUMENTS', `The mapfile describes ${b.pos + b.size} bytes but the source holds only ${size}: it belongs to another device.`);
      }
      if (b.pos > at) blocks.push({ pos: at, size: b.pos - at, status: '?' });
      blocks.push({ ...b });
      at = b.pos + b.size;
    }
    if (at < size) blocks.push({ pos: at, size: size - at, status: '?' });
    const map = new RescueMap(size, blocks);
    map.currentPos = Math.min(content.currentPos, size);
    map.currentStatus = content.currentStatus;
    map.currentPass = content.currentPass;
    return map;
  }

  /** Index of the block holding byte `pos` (binary search). */
  indexAt(pos: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.blocks[mid] as MapBlock).pos <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The block holding byte `pos`. */
  blockAt(pos: number): MapBlock {
    return this.blocks[this.indexAt(pos)] as MapBlock;
  }

  /** Marks [pos, pos+size) with `status`, splitting and merging blocks as needed. */
  set(pos: number, size: number, status: BlockStatus): void {
    if (size <= 0) return;
    const end = pos + size;
    if (pos < 0 || end > this.size) throw new RangeError(`map range ${pos}+${size} outside 0..${this.size}`);
    const first = this.indexAt(pos);
    const last = this.indexAt(end - 1);
    const a = this.blocks[first] as MapBlock;
    const z = this.blocks[last] as MapBlock;
    const replacement: MapBlock[] = [];
    if (a.pos < pos) replacement.push({ pos: a.pos, size: pos - a.pos, status: a.status });
    replacement.push({ pos, size, status });
    if (z.pos + z.size > end) replacement.push({ pos: end, size: z.pos + z.size - end, status: z.status });
    this.blocks.splice(first, last - first + 1, ...replacement);
    this.mergeAround(Math.max(0, first - 1), first + replacement.length);
  }

  /** Bytes of each status. */
  totals(): Record<BlockStatus, number> {
    const t: Record<BlockStatus, number> = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 };
    for (const b of this.blocks) t[b.status] += b.size;
    return t;
  }

  /** Copies of the blocks of one status, in order (safe to iterate while the map changes). */
  blocksOf(status: BlockStatus): MapBlock[] {
    return this.blocks.filter((b) => b.status === status).map((b) => ({ ...b }));
  }

  /** Areas not rescued (anything but finished), as ranges: what the output holds as zeros. */
  unrescued(): { offset: number; length: number }[] {
    return this.blocks.filter((b) => b.status !== '+').map((b) => ({ offset: b.pos, length: b.size }));
  }

  private merge(): void {
    this.mergeAround(0, this.blocks.length);
  }

  /** Merges equal neighbours and drops empty blocks within [from, to] (indices, clamped). */
  private mergeAround(from: number, to: number): void {
    let i = Math.max(0, from);
    let stop = Math.min(to, this.blocks.length - 1);
    while (i < stop + 1 && i < this.blocks.length) {
      const b = this.blocks[i] as MapBlock;
      const next = this.blocks[i + 1];
      if (b.size === 0) {
        this.blocks.splice(i, 1);
        stop--;
      } else if (next && next.status === b.status && next.pos === b.pos + b.size) {
        b.size += next.size;
        this.blocks.splice(i + 1, 1);
        stop--;
      } else i++;
    }
  }
}

/** Parses one C++ integer constant as ddrescue accepts it. */
function parseInteger(word: string, what: string, line: number): number {
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(word)) value = parseInt(word.slice(2), 16);
  else if (/^0[0-7]*$/.test(word)) value = parseInt(word, 8);
  else if (/^[1-9][0-9]*$/.test(word)) value = parseInt(word, 10);
  else throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${line}: "${word}" is not a valid ${what}.`);
  if (!Number.isSafeInteger(value)) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${line}: ${what} ${word} is too large.`);
  return value;
}

/** Parses mapfile text. Throws E_BAD_ARGUMENTS naming the line when it is not a valid mapfile. */
export function parseMapfile(text: string): MapfileContent {
  let status: Omit<MapfileContent, 'blocks'> | null = null;
  const blocks: MapBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const hash = raw.search(/(^|\s)#/);
    const words = (hash < 0 ? raw : raw.slice(0, hash)).trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const n = i + 1;
    if (status === null) {
      // Versions before 1.21 wrote no current_pass; ddrescue reads it as pass 1.
      if (words.length < 2 || words.length > 3) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: expected "current_pos current_status current_pass".`);
      const st = words[1] as MapPhase;
      if (!PHASES.includes(st)) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: "${words[1]}" is not a ddrescue status.`);
      const pass = words[2] === undefined ? 1 : Number(words[2]);
      if (!(/^[1-9][0-9]*$/.test(words[2] ?? '1') && Number.isSafeInteger(pass))) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: current_pass must be a positive decimal integer.`);
      status = { currentPos: parseInteger(words[0] as string, 'position', n), currentStatus: st, currentPass: pass };
      continue;
    }
    if (words.length !== 3) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: expected "pos size status".`);
    const pos = parseInteger(words[0] as string, 'position', n);
    const size = parseInteger(words[1] as string, 'size', n);
    const st = words[2] as BlockStatus;
    if (!BLOCK_STATUSES.includes(st)) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: "${words[2]}" is not a block status.`);
    const prev = blocks[blocks.length - 1];
    // ddrescue requires contiguous blocks; a gap or overlap means the file was damaged or edited wrongly.
    if (prev ? pos !== prev.pos + prev.size : pos < 0) throw new ImprintError('E_BAD_ARGUMENTS', `Mapfile line ${n}: block at ${words[0]} does not follow the previous one.`);
    if (size > 0) blocks.push({ pos, size, status: st });
  }
  if (status === null) throw new ImprintError('E_BAD_ARGUMENTS', 'The mapfile has no status line: it is empty or not a ddrescue mapfile.');
  return { ...status, blocks };
}

const hex = (n: number): string => '0x' + n.toString(16).toUpperCase().padStart(8, '0');

/** Mapfile text in ddrescue's layout, with its heading comments. */
export function formatMapfile(map: RescueMap, heading: { commandLine: string; startTime: Date; now?: Date; version: string }): string {
  const pass = map.currentStatus === '?' ? ` Pass ${map.currentPass}` : '';
  const lines = [
    `# Mapfile. Created by Imprint version ${heading.version} (GNU ddrescue's format)`,
    `# Command line: ${heading.commandLine}`,
    `# Start time:   ${timestamp(heading.startTime)}`,
    `# Current time: ${timestamp(heading.now ?? new Date())}`,
    `# ${PHASE_WORDS[map.currentStatus]}${pass}`,
    '# current_pos  current_status  current_pass',
    `${hex(map.currentPos).padEnd(15)}${map.currentStatus.padEnd(16)}${map.currentPass}`,
    '#      pos        size  status',
    ...map.blocks.map((b) => `${hex(b.pos)}  ${hex(b.size)}  ${b.status}`),
  ];
  return lines.join('\n') + '\n';
}

function timestamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Reads a mapfile; null when it does not exist or is empty (a fresh rescue, as ddrescue treats it). */
export function readMapfile(file: string): MapfileContent | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ImprintError('E_BAD_ARGUMENTS', `Cannot read the mapfile ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (text.trim() === '') return null;
  return parseMapfile(text);
}

/**
 * Replaces `file` with `text` so that a crash at any moment leaves either the
 * old map or the new one, never half of each: temp file, fsync, rename, then
 * fsync of the folder so the rename itself is durable.
 */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(path.resolve(file)), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
