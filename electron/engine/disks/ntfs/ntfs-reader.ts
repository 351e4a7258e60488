import type { Volume } from '../volume';
import { readStream, streamFromExtents, type AttributeStream } from './attribute-stream';
import { parseBootSector, type NtfsGeometry } from './boot-sector';
import { AT_ATTRIBUTE_LIST, AT_DATA, findAttributes, mftRefRecord, parseMftRecord, type Attribute, type MftRecord } from './mft-record';
import { NtfsFormatError } from './runlist';

/** Record numbers of the system files this reader uses (layout.h: NTFS_SYSTEM_FILES). */
export const FILE_MFT = 0;
export const FILE_MFT_MIRR = 1;
export const FILE_LOG_FILE = 2;
export const FILE_VOLUME = 3;
export const FILE_ROOT = 5;
export const FILE_BITMAP = 6;

/**
 * Records are read this many at a time and the last few windows kept: a
 * directory's files were mostly created together, so their records sit
 * together, and listing 2,000 of them takes ~60 reads instead of 2,000.
 */
const RECORD_WINDOW = 32;
const WINDOWS_KEPT = 8;

/** An attribute list of a file scattered over more records than this is treated as damage. */
const MAX_EXTENSION_RECORDS = 4096;

interface AttrListEntry {
  type: number;
  name: string;
  lowestVcn: number;
  record: number;
}

/**
 * An NTFS filesystem opened for reading: its geometry and the $MFT's own
 * runlist, through which every other record is found. Everything it reads is
 * checked; metadata that does not check out throws NtfsFormatError.
 */
export class NtfsReader {
  private constructor(
    readonly volume: Volume,
    readonly geo: NtfsGeometry,
    /** The $MFT's $DATA, once known (record 0 is found from the boot sector alone). */
    private mft: AttributeStream,
  ) {}

  /** Raw (not yet fixed-up) record windows by window number, oldest first. */
  private readonly windows = new Map<number, Buffer>();

  /** Reads and checks the boot sector and $MFT. Throws NtfsFormatError when they do not check out. */
  static async open(volume: Volume): Promise<NtfsReader> {
    if (volume.size < 512) throw new NtfsFormatError('the volume is too small to hold NTFS');
    const geo = parseBootSector(await volume.read(0, 512), volume.size);
    if (typeof geo === 'string') throw new NtfsFormatError(geo);
    // Record 0 sits at the MFT's first cluster; until its runlist is known,
    // pretend the MFT is one run long enough for the first records.
    const bootstrapClusters = Math.ceil((geo.mftRecordSize * 16) / geo.clusterSize);
    const bootstrap: AttributeStream = {
      size: bootstrapClusters * geo.clusterSize,
      runs: [{ vcn: 0, lcn: geo.mftLcn, length: Math.min(bootstrapClusters, geo.totalClusters - geo.mftLcn) }],
      initializedSize: bootstrapClusters * geo.clusterSize,
      compressed: false,
      encrypted: false,
    };
    const reader = new NtfsReader(volume, geo, bootstrap);
    const rec0 = await reader.readRecord(FILE_MFT);
    if (!rec0.inUse || rec0.baseRecord !== 0) throw new NtfsFormatError('MFT record 0 ($MFT) is not in use');
    reader.mft = await reader.mftStreamFrom(rec0);
    reader.windows.clear(); // read through the bootstrap runlist, which stops early
    return reader;
  }

  /** Number of records the MFT holds (its $DATA size over the record size). */
  get recordCount(): number {
    return Math.floor(this.mft.size / this.geo.mftRecordSize);
  }

  /** The $MFT's $DATA runs (the clusters the MFT occupies). */
  get mftStream(): AttributeStream {
    return this.mft;
  }

  /** Reads, fixes up and parses record `n`; throws NtfsFormatError if it is outside the MFT or damaged. */
  async readRecord(n: number): Promise<MftRecord> {
    if (!Number.isSafeInteger(n) || n < 0 || n >= this.recordCount) {
      throw new NtfsFormatError(`MFT record ${n} lies outside the MFT (${this.recordCount} records)`);
    }
    const size = this.geo.mftRecordSize;
    const w = Math.floor(n / RECORD_WINDOW);
    let window = this.windows.get(w);
    if (window === undefined) {
      window = await readStream(this.volume, this.geo.clusterSize, this.mft, w * RECORD_WINDOW * size, RECORD_WINDOW * size);
      if (this.windows.size >= WINDOWS_KEPT) this.windows.delete(this.windows.keys().next().value as number);
      this.windows.set(w, window);
    }
    const at = (n - w * RECORD_WINDOW) * size;
    if (at + size > window.length) throw new NtfsFormatError(`MFT record ${n} lies outside the MFT`);
    // A copy: the fix-ups are applied in place.
    return parseMftRecord(Buffer.from(window.subarray(at, at + size)), n, this.geo.totalClusters);
  }

  /**
   * Every extent of the attribute `type`/`name` of the file whose base record
   * is `base`, following its attribute list into extension records. Sorted by
   * first VCN.
   */
  async attributeExtents(base: MftRecord, type: number, name = ''): Promise<Attribute[]> {
    const entries = await this.attributeList(base);
    if (entries === null) return findAttributes(base.attributes, type, name);
    const out: Attribute[] = [];
    const seen = new Set<number>();
    for (const e of entries) {
      if (e.type !== type || e.name !== name || seen.has(e.record)) continue;
      seen.add(e.record);
      const rec = e.record === base.number ? base : await this.readExtension(base, e.record);
      out.push(...findAttributes(rec.attributes, type, name));
    }
    return out.sort((a, b) => a.lowestVcn - b.lowestVcn);
  }

  /** The stream of one attribute of a file (the unnamed one by default); null when the file has none. */
  async attributeStream(base: MftRecord, type: number, name = ''): Promise<AttributeStream | null> {
    const extents = await this.attributeExtents(base, type, name);
    if (extents.length === 0) return null;
    return streamFromExtents(extents, `MFT record ${base.number}`, this.geo.clusterSize);
  }

  /** Reads a whole attribute value, refusing values larger than `limit` bytes (metadata only). */
  async readWhole(s: AttributeStream, limit: number, what: string): Promise<Buffer> {
    if (s.size > limit) throw new NtfsFormatError(`${what} is implausibly large (${s.size} bytes)`);
    return readStream(this.volume, this.geo.clusterSize, s, 0, s.size);
  }

  read(s: AttributeStream, offset: number, length: number): Promise<Buffer> {
    return readStream(this.volume, this.geo.clusterSize, s, offset, length);
  }

  private async readExtension(base: MftRecord, n: number): Promise<MftRecord> {
    const rec = await this.readRecord(n);
    if (!rec.inUse || rec.baseRecord !== base.number) {
      throw new NtfsFormatError(`MFT record ${n} does not belong to record ${base.number}, whose attribute list names it`);
    }
    return rec;
  }

  /** The parsed $ATTRIBUTE_LIST of a base record, or null when it has none. */
  private async attributeList(base: MftRecord): Promise<AttrListEntry[] | null> {
    const list = findAttributes(base.attributes, AT_ATTRIBUTE_LIST);
    if (list.length === 0) return null;
    const s = streamFromExtents(list, `MFT record ${base.number} attribute list`, this.geo.clusterSize);
    const buf = await this.readWhole(s, 8 * 1024 * 1024, `the attribute list of MFT record ${base.number}`);
    return parseAttributeList(buf, base.number);
  }

  /**
   * $MFT's $DATA from record 0. When the MFT is so fragmented that its
   * runlist continues in extension records, those records are found through
   * the part of the runlist already known (they lie in the MFT's start).
   */
  private async mftStreamFrom(rec0: MftRecord): Promise<AttributeStream> {
    const where = '$MFT';
    const own = findAttributes(rec0.attributes, AT_DATA);
    const entries = await this.attributeList(rec0);
    if (entries === null) return streamFromExtents(own, where, this.geo.clusterSize);
    const extents = [...own];
    const done = new Set<number>([0]);
    const dataEntries = entries.filter((e) => e.type === AT_DATA && e.name === '').sort((a, b) => a.lowestVcn - b.lowestVcn);
    for (const e of dataEntries) {
      if (done.has(e.record)) continue;
      done.add(e.record);
      extents.sort((a, b) => a.lowestVcn - b.lowestVcn);
      this.mft = streamFromPrefix(extents, this.geo.clusterSize);
      this.windows.clear();
      const rec = await this.readExtension(rec0, e.record);
      extents.push(...findAttributes(rec.attributes, AT_DATA));
    }
    extents.sort((a, b) => a.lowestVcn - b.lowestVcn);
    return streamFromExtents(extents, where, this.geo.clusterSize);
  }
}

/** The part of a not yet complete $MFT runlist known so far, readable up to where it ends. */
function streamFromPrefix(extents: Attribute[], clusterSize: number): AttributeStream {
  const runs = extents.flatMap((e) => e.runs);
  const last = runs.at(-1);
  const covered = last === undefined ? 0 : (last.vcn + last.length) * clusterSize;
  const size = Math.min(covered, extents[0]?.dataSize ?? 0);
  return { size, runs, initializedSize: Math.min(size, extents[0]?.initializedSize ?? 0), compressed: false, encrypted: false };
}

/** Parses ATTR_LIST_ENTRY records (layout.h). */
function parseAttributeList(buf: Buffer, base: number): AttrListEntry[] {
  const out: AttrListEntry[] = [];
  let pos = 0;
  while (pos + 0x1a <= buf.length) {
    const length = buf.readUInt16LE(pos + 4);
    const nameLength = buf[pos + 6] ?? 0;
    const nameOffset = buf[pos + 7] ?? 0;
    if (length < 0x1a || pos + length > buf.length || nameOffset + nameLength * 2 > length) {
      throw new NtfsFormatError(`the attribute list of MFT record ${base} is malformed`);
    }
    const lowestVcn = buf.readBigInt64LE(pos + 8);
    if (lowestVcn < 0n || lowestVcn > BigInt(Number.MAX_SAFE_INTEGER)) throw new NtfsFormatError(`the attribute list of MFT record ${base} is malformed`);
    out.push({
      type: buf.readUInt32LE(pos),
      name: buf.toString('utf16le', pos + nameOffset, pos + nameOffset + nameLength * 2),
      lowestVcn: Number(lowestVcn),
      record: mftRefRecord(buf.readBigUInt64LE(pos + 0x10)),
    });
    if (out.length > MAX_EXTENSION_RECORDS * 8) throw new NtfsFormatError(`the attribute list of MFT record ${base} is implausibly long`);
    pos += length;
  }
  return out;
}
