import { ImprintError } from '../errors';
import type { BlockStatus, MapBlock, RescueMap } from '../formats/rescue-map';

/**
 * GNU ddrescue's algorithm (its manual, chapter "Algorithm"), over a
 * RescueMap. Good areas first, in large reads, getting out of bad areas fast;
 * then the edges of failed reads sector by sector (trimming), their insides
 * (scraping), and last the bad sectors again (retrying). Each sector is tried
 * at most twice before retrying: once in a large read, once alone.
 *
 * Only areas the map does not call finished are ever read, and only what is
 * read well is written, once: resuming from a map reads nothing rescued.
 */

export interface RescueIo {
  /**
   * Reads [pos, pos+length) of the source. Returns the bytes read from `pos`:
   * all of them, a shorter good prefix (the read stopped early), or null when
   * the source reported a read error. Throws when the source is gone: that
   * ends the rescue rather than marking the rest of the drive bad.
   */
  read(pos: number, length: number): Buffer | null;
  /** Writes rescued bytes to the output at the same position. */
  write(pos: number, data: Buffer): void;
}

export interface RescueHooks {
  /** Checked before every read. */
  cancelled(): boolean;
  /** Called after every read (progress, periodic map saves, rate limit). */
  afterRead(): void;
  /** Called when a pass or phase ends (the map is saved then). */
  passEnded(): void;
}

export interface RescueTuning {
  sectorSize: number;
  /** Read size of the first copying pass. */
  largeCluster: number;
  /** Read size of the later copying passes. */
  smallCluster: number;
  /** First skip after a failed read in pass 1; doubles after each consecutive failure, up to `maxSkip`. */
  initialSkip: number;
  maxSkip: number;
  retries: number;
}

/** ddrescue's defaults scaled to Imprint: 1 MiB then 64 KiB reads, skips from 64 KiB to 1% of the drive (at most 1 GiB). */
export function defaultTuning(size: number, sectorSize: number, retries: number): RescueTuning {
  const align = (n: number): number => Math.max(sectorSize, Math.floor(n / sectorSize) * sectorSize);
  return {
    sectorSize,
    largeCluster: align(1 << 20),
    smallCluster: align(64 << 10),
    initialSkip: align(64 << 10),
    maxSkip: align(Math.max(64 << 10, Math.min(1 << 30, size / 100))),
    retries,
  };
}

type Stop = 'cancelled' | 'ok';

/**
 * Failed reads in a row before checking that the drive still reads a sector
 * it read well before; then after twice as many, and so on. A disconnected or
 * dead drive fails every read, and without this check the rescue would mark
 * the whole rest of it bad, sector by sector. A genuinely bad area of N
 * sectors costs about log2(N / 32) probe reads.
 */
const FIRST_PROBE = 32;

export class Rescuer {
  reads = 0;
  readErrors = 0;
  bytesRequested = 0;
  /**
   * When set, every read as [pos, length, good bytes, probe]: probe is 1 for a
   * liveness probe (see probeDrive), 0 otherwise. Tests prove from it what was
   * read and written.
   */
  trace: [number, number, number, number][] | null = null;
  /** Failed reads in a row, and the map changes they made (undone if the drive turns out to be gone). */
  private streak = 0;
  private streakMarks: MapBlock[] = [];
  private nextProbe = FIRST_PROBE;
  /** A sector read well in this run, for probes. */
  private lastGood: number | null = null;

  constructor(
    private readonly map: RescueMap,
    private readonly io: RescueIo,
    private readonly t: RescueTuning,
    private readonly hooks: RescueHooks,
  ) {}

  /** Runs every phase the map still needs; false when cancelled (the map says where it stopped). */
  run(): boolean {
    const phases = [() => this.copy(), () => this.trim(), () => this.scrape(), () => this.retry()];
    for (const phase of phases) {
      if (phase() === 'cancelled') return false;
    }
    this.map.currentStatus = '+';
    this.map.currentPass = 1;
    this.map.currentPos = this.map.size;
    return true;
  }

  /**
   * Reads [pos, pos+length) once. The good part (from `pos`) is written out and
   * marked finished; returns its length (== length when all went well).
   */
  private attempt(pos: number, length: number): number {
    this.map.currentPos = pos;
    this.reads++;
    this.bytesRequested += length;
    const data = this.readOrUndo(pos, length);
    let good = data === null ? 0 : Math.min(data.length, length);
    // A short read's last partial sector is not trusted: the next attempt reads it alone.
    if (good < length) good = this.alignDown(pos + good) - pos;
    if (good < 0) good = 0;
    this.trace?.push([pos, length, good, 0]);
    if (data !== null && good > 0) {
      this.io.write(pos, data.subarray(0, good));
      this.map.set(pos, good, '+');
      this.lastGood = this.alignDown(pos + good - 1);
      this.streak = 0;
      this.streakMarks = [];
      this.nextProbe = FIRST_PROBE;
    } else if (++this.streak >= this.nextProbe) {
      this.nextProbe *= 2;
      this.probeDrive();
    }
    if (good < length) this.readErrors++;
    this.hooks.afterRead();
    return good;
  }

  private readOrUndo(pos: number, length: number): Buffer | null {
    try {
      return this.io.read(pos, length);
    } catch (err) {
      // The drive is gone: the failures just before were its going, not bad sectors.
      this.undoStreak();
      throw err;
    }
  }

  /**
   * After many failed reads in a row: does the drive still read a sector it
   * read well before? If not, it is gone or dead, not full of bad sectors:
   * the streak's marks are undone (those areas stay to be tried) and the
   * rescue stops, its map saved, so that it can resume once the drive is back.
   * The probe's data is not written: that sector is already in the output.
   */
  private probeDrive(): void {
    const at = this.lastGood ?? this.someFinishedSector();
    if (at === null) return;
    this.reads++;
    this.bytesRequested += this.t.sectorSize;
    const data = this.readOrUndo(at, this.t.sectorSize);
    const ok = data !== null && data.length >= this.t.sectorSize;
    this.trace?.push([at, this.t.sectorSize, 0, 1]);
    if (ok) return;
    this.undoStreak();
    throw new ImprintError(
      'E_DEVICE_GONE',
      `The drive stopped answering: after ${this.streak} failed reads in a row it no longer reads byte offset ${at}, which it read well before. It was disconnected or has failed as a whole; the areas it failed on are not marked bad. Reconnect it and run the same command to resume.`,
      { offset: at },
    );
  }

  private someFinishedSector(): number | null {
    const sec = this.t.sectorSize;
    for (const b of this.map.blocks) {
      const start = Math.ceil(b.pos / sec) * sec;
      if (b.status === '+' && start + sec <= b.pos + b.size) return start;
    }
    return null;
  }

  /** Marks an area that did not read (non-trimmed, non-scraped, bad), remembering what it was while a failure streak lasts. */
  private markUnread(pos: number, size: number, status: BlockStatus): void {
    if (this.streak > 0) {
      const end = pos + size;
      for (let i = this.map.indexAt(pos); i < this.map.blocks.length; i++) {
        const b = this.map.blocks[i] as MapBlock;
        if (b.pos >= end) break;
        const from = Math.max(b.pos, pos);
        this.streakMarks.push({ pos: from, size: Math.min(end, b.pos + b.size) - from, status: b.status });
      }
    }
    this.map.set(pos, size, status);
  }

  private undoStreak(): void {
    for (const m of this.streakMarks.reverse()) this.map.set(m.pos, m.size, m.status);
    this.streakMarks = [];
  }

  // ---- phase 1: copying ----

  private copy(): Stop {
    if (this.map.totals()['?'] === 0) return 'ok';
    // A map saved during copying resumes at its pass (and pass 1 at its position), as ddrescue does.
    const resuming = this.map.currentStatus === '?';
    const firstPass = resuming ? Math.min(3, Math.max(1, this.map.currentPass)) : 1;
    const from = resuming && firstPass === 1 ? this.map.currentPos : 0;
    this.enter('?');
    const passes: (() => Stop)[] = [
      // Pass 1: forwards in large reads, skipping ahead (more after each consecutive error) to leave bad areas fast.
      () => this.copyForward(this.t.largeCluster, 'skip-ahead', from),
      // Pass 2: backwards, delimiting from the other side the areas pass 1 skipped.
      () => this.copyBackward(this.t.smallCluster),
      // Pass 3: a sweep of whatever is left, no skipping: after it nothing is non-tried.
      () => this.copyForward(this.t.smallCluster, 'none', 0),
    ];
    for (let pass = firstPass; pass <= passes.length; pass++) {
      this.map.currentPass = pass;
      if ((passes[pass - 1] as () => Stop)() === 'cancelled') return 'cancelled';
      this.hooks.passEnded();
    }
    return 'ok';
  }

  private copyForward(cluster: number, skipping: 'skip-ahead' | 'none', from: number): Stop {
    let skip = this.t.initialSkip;
    for (const block of this.map.blocksOf('?')) {
      const end = block.pos + block.size;
      let p = Math.max(block.pos, this.alignDown(from));
      while (p < end) {
        if (this.hooks.cancelled()) return 'cancelled';
        // Reads end on cluster boundaries, so after a skip they fall back into step.
        const chunkEnd = Math.min(end, (Math.floor(p / cluster) + 1) * cluster);
        const good = this.attempt(p, chunkEnd - p);
        if (p + good === chunkEnd) {
          skip = this.t.initialSkip;
          p = chunkEnd;
          continue;
        }
        this.markUnread(p + good, chunkEnd - p - good, '*');
        p = chunkEnd;
        if (skipping === 'skip-ahead') {
          p = Math.min(end, p + skip);
          skip = Math.min(this.t.maxSkip, skip * 2);
        }
      }
    }
    return 'ok';
  }

  /** Backwards over each non-tried block; after the first failed read in a block, leaves the rest of it to the next pass. */
  private copyBackward(cluster: number): Stop {
    for (const block of this.map.blocksOf('?').reverse()) {
      let e = block.pos + block.size;
      while (e > block.pos) {
        if (this.hooks.cancelled()) return 'cancelled';
        const s = Math.max(block.pos, Math.floor((e - 1) / cluster) * cluster);
        this.map.currentPos = e;
        const good = this.attempt(s, e - s);
        if (good === e - s) {
          e = s;
          continue;
        }
        this.markUnread(s + good, e - s - good, '*');
        break;
      }
    }
    return 'ok';
  }

  // ---- phase 2: trimming ----

  /**
   * Each non-trimmed block: sector by sector from the leading edge forwards
   * until a bad sector, then from the trailing edge backwards until a bad
   * sector; the middle becomes non-scraped untried. An edge already next to
   * a bad sector counts as trimmed.
   */
  private trim(): Stop {
    if (this.map.totals()['*'] === 0) return 'ok';
    this.enter('*');
    const sec = this.t.sectorSize;
    for (const block of this.map.blocksOf('*')) {
      const end = block.pos + block.size;
      let lead = block.pos; // first byte not yet known good from the front
      let leadBad = block.pos > 0 && this.statusAt(block.pos - 1) === '-';
      while (!leadBad && lead < end) {
        if (this.hooks.cancelled()) return 'cancelled';
        const len = Math.min(end - lead, sec - (lead % sec));
        if (this.attempt(lead, len) === len) lead += len;
        else {
          this.markUnread(lead, len, '-');
          leadBad = true;
          lead += len;
        }
      }
      let trail = end; // first byte known good (or bad) from the back
      let trailBad = end < this.map.size && this.statusAt(end) === '-';
      while (!trailBad && trail > lead) {
        if (this.hooks.cancelled()) return 'cancelled';
        const s = Math.max(lead, this.alignDown(trail - 1));
        if (this.attempt(s, trail - s) === trail - s) trail = s;
        else {
          this.markUnread(s, trail - s, '-');
          trailBad = true;
          trail = s;
        }
      }
      if (trail > lead) this.markUnread(lead, trail - lead, '/');
    }
    this.hooks.passEnded();
    return 'ok';
  }

  // ---- phase 3: scraping ----

  private scrape(): Stop {
    if (this.map.totals()['/'] === 0) return 'ok';
    this.enter('/');
    const sec = this.t.sectorSize;
    for (const block of this.map.blocksOf('/')) {
      const end = block.pos + block.size;
      for (let p = block.pos; p < end; ) {
        if (this.hooks.cancelled()) return 'cancelled';
        const len = Math.min(end - p, sec - (p % sec));
        if (this.attempt(p, len) < len) this.markUnread(p, len, '-');
        p += len;
      }
    }
    this.hooks.passEnded();
    return 'ok';
  }

  // ---- phase 4: retrying ----

  /** Bad sectors again, `retries` passes, each sector once per pass, reversing direction after each pass. */
  private retry(): Stop {
    for (let pass = 1; pass <= this.t.retries; pass++) {
      if (this.map.totals()['-'] === 0) return 'ok';
      this.enter('-');
      this.map.currentPass = pass;
      const forwards = pass % 2 === 1;
      const blocks = this.map.blocksOf('-');
      if (!forwards) blocks.reverse();
      for (const block of blocks) {
        const sectors = this.sectorsOf(block);
        if (!forwards) sectors.reverse();
        for (const [p, len] of sectors) {
          if (this.hooks.cancelled()) return 'cancelled';
          // A sector that reads well now is written and marked finished by attempt().
          this.attempt(p, len);
        }
      }
      this.hooks.passEnded();
    }
    return 'ok';
  }

  private sectorsOf(block: MapBlock): [number, number][] {
    const out: [number, number][] = [];
    const sec = this.t.sectorSize;
    const end = block.pos + block.size;
    for (let p = block.pos; p < end; ) {
      const len = Math.min(end - p, sec - (p % sec));
      out.push([p, len]);
      p += len;
    }
    return out;
  }

  private enter(phase: '?' | '*' | '/' | '-'): void {
    if (this.map.currentStatus !== phase) {
      this.map.currentStatus = phase;
      this.map.currentPass = 1;
    }
  }

  private statusAt(pos: number): BlockStatus {
    return this.map.blockAt(pos).status;
  }

  private alignDown(n: number): number {
    return Math.floor(n / this.t.sectorSize) * this.t.sectorSize;
  }
}
