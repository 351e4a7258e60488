import { longDate, shortDate } from './iso-records';

/**
 * Rock Ridge (RRIP, IEEE P1282) entries in a directory record's system use
 * area, as laid out by SUSP (IEEE P1281): 2-byte signature, length,
 * version, data. A CE entry continues the area in another block; the chain
 * of continuations is bounded, and every continuation must lie inside the
 * image. What Imprint uses: NM (the POSIX name), PX (mode), TF (times), SL
 * (symlink target), CL/RE (folders moved by deep-directory relocation).
 */

/** Continuation areas followed per record at most (a real one needs one or two). */
const MAX_CONTINUATIONS = 32;
/** Bytes one continuation area may claim (they live in one block in practice). */
const MAX_CONTINUATION_BYTES = 64 * 1024;
/** System use entries looked at per record in all, continuations included. */
const MAX_ENTRIES = 4096;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface RockRidge {
  name?: string;
  /** st_mode, file type bits included. */
  mode?: number;
  mtimeMs?: number;
  /** The symlink's target, its components joined by "/". */
  symlink?: string;
  /** RE: this folder was moved here by deep-directory relocation; it is listed where its CL entry points from. */
  relocated: boolean;
  /** CL: this entry stands for a folder relocated to this block. */
  childLink?: number;
  /** SP seen (only meaningful in the root's "." record). */
  susp?: { skip: number };
  /** Any RRIP entry seen. */
  any: boolean;
  /** What was malformed, if anything (the rest is still used). */
  problem?: string;
}

/** Reads `length` bytes at byte `offset` of the image, checked against its size. */
export type ReadBytes = (offset: number, length: number) => Promise<Buffer>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Rock Ridge names are bytes in the writer's charset; UTF-8 nearly always, Latin-1 when they are not valid UTF-8. */
function decodeName(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/**
 * Parses the system use area `area` (the LEN_SKP bytes of SP already
 * skipped), following CE continuations through `read` in blocks of
 * `blockSize`.
 */
export async function parseSystemUse(area: Buffer, read: ReadBytes, blockSize: number, imageSize: number): Promise<RockRidge> {
  const rr: RockRidge = { relocated: false, any: false };
  const nameParts: Buffer[] = [];
  let nameDone = false;
  const link: string[] = [];
  let linkRoot = false;
  let componentOpen = false;
  let linkDone = false;
  let seen = 0;
  let continuations = 0;
  let current: Buffer | null = area;
  const problem = (p: string): void => {
    rr.problem ??= p;
  };
  while (current) {
    const b: Buffer = current;
    current = null;
    let next: { offset: number; length: number } | null = null;
    for (let at = 0; at + 4 <= b.length; ) {
      if (++seen > MAX_ENTRIES) {
        problem('too many system use entries');
        break;
      }
      const sig = b.toString('latin1', at, at + 2);
      const len = b[at + 2]!;
      if (len < 4 || at + len > b.length) {
        // Zero padding ends an area; anything else is damage.
        if (sig !== '\0\0') problem(`a ${JSON.stringify(sig)} entry of ${len} bytes runs past its area`);
        break;
      }
      const e = b.subarray(at, at + len);
      at += len;
      switch (sig) {
        case 'ST':
          at = b.length;
          break;
        case 'SP':
          if (len >= 7 && e[4] === 0xbe && e[5] === 0xef) rr.susp = { skip: e[6]! };
          break;
        case 'CE':
          if (len >= 28) next = { offset: e.readUInt32LE(4) * blockSize + e.readUInt32LE(12), length: e.readUInt32LE(20) };
          break;
        case 'PX':
          rr.any = true;
          if (len >= 12) rr.mode = e.readUInt32LE(4);
          break;
        case 'TF':
          rr.any = true;
          readTimes(e, rr);
          break;
        case 'NM':
          rr.any = true;
          if (nameDone || len < 5) break;
          if (e[4]! & 0x02) nameParts.push(Buffer.from('.'));
          else if (e[4]! & 0x04) nameParts.push(Buffer.from('..'));
          else nameParts.push(e.subarray(5));
          // CONTINUE: the name goes on in the next NM entry.
          if (!(e[4]! & 0x01)) nameDone = true;
          break;
        case 'SL':
          rr.any = true;
          if (linkDone || len < 5) break;
          ({ linkRoot, componentOpen } = readLinkComponents(e.subarray(5), link, linkRoot, componentOpen, problem));
          if (!(e[4]! & 0x01)) linkDone = true;
          break;
        case 'CL':
          rr.any = true;
          if (len >= 12) rr.childLink = e.readUInt32LE(4);
          break;
        case 'RE':
          rr.any = true;
          rr.relocated = true;
          break;
        case 'ER': {
          // An extension reference naming Rock Ridge (its three historical identifiers).
          const idLen = len >= 8 ? e[4]! : 0;
          if (8 + idLen <= len && /RRIP|IEEE_P?1282/.test(e.toString('latin1', 8, 8 + idLen))) rr.any = true;
          break;
        }
        case 'RR':
        case 'PN':
        case 'PL':
          rr.any = true;
          break;
        default:
          break;
      }
    }
    if (next) {
      if (++continuations > MAX_CONTINUATIONS) problem('too many continuation areas (CE)');
      else if (next.length === 0 || next.length > MAX_CONTINUATION_BYTES) problem(`a continuation area of ${next.length} bytes`);
      else if (next.offset + next.length > imageSize) problem('a continuation area (CE) lies outside the image');
      else current = await read(next.offset, next.length);
    }
  }
  if (nameParts.length > 0) rr.name = decodeName(Buffer.concat(nameParts));
  if (link.length > 0 || linkRoot) rr.symlink = (linkRoot ? '/' : '') + link.join('/');
  return rr;
}

/** TF: which times follow is a bit set (creation, modify, access, ...); bit 7 picks the 17-byte form. */
function readTimes(e: Buffer, rr: RockRidge): void {
  if (e.length < 5) return;
  const flags = e[4]!;
  const size = flags & 0x80 ? 17 : 7;
  let at = 5;
  for (let bit = 0; bit < 7; bit++) {
    if (!(flags & (1 << bit))) continue;
    if (bit === 1) rr.mtimeMs = size === 17 ? longDate(e, at) : shortDate(e, at);
    at += size;
  }
}

/**
 * SL component records: flags, length, bytes. Flag bits: 0 the component
 * goes on in the next record, 1 ".", 2 "..", 3 the root "/". Components
 * are joined with "/", except where one continues.
 */
function readLinkComponents(
  b: Buffer,
  link: string[],
  linkRoot: boolean,
  componentOpen: boolean,
  problem: (p: string) => void,
): { linkRoot: boolean; componentOpen: boolean } {
  for (let at = 0; at + 2 <= b.length; ) {
    const flags = b[at]!;
    const len = b[at + 1]!;
    if (at + 2 + len > b.length) {
      problem('a symlink component runs past its entry');
      break;
    }
    let text: string;
    if (flags & 0x02) text = '.';
    else if (flags & 0x04) text = '..';
    else if (flags & 0x08) {
      if (link.length === 0) linkRoot = true;
      text = '';
    } else text = decodeName(b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
    if (flags & 0x08) continue;
    if (componentOpen && link.length > 0) link[link.length - 1] += text;
    else link.push(text);
    componentOpen = (flags & 0x01) !== 0;
  }
  return { linkRoot, componentOpen };
}
