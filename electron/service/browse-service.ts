import * as fs from 'fs';
import type { BrowseFolder, BrowsePartition, ExtractRequest } from '../../shared/browse-types';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { ImprintError, toErrorInfo } from '../engine/errors';
import type { FileEntry, FilesystemView } from '../engine/disks/filesystem-driver';
import { BrowseSession, parsePartPath } from '../engine/jobs/browse-source';
import { ExtentCopier, copyThrough } from '../engine/jobs/extract-copy';
import { Extractor, plannedBytes } from '../engine/jobs/extract-files';

/**
 * "Browse files" for the desktop app: the partitions and folders of an
 * image, backup or drive, and extraction as a job. Sessions stay open
 * between calls (a tree is expanded one folder at a time, and a backup's
 * seek table or a .gz's decoded copy should not be rebuilt per folder);
 * the few most recent are kept. Read-only toward every source.
 */

/** Sources kept open at once (the Flash and Restore screens each browse one). */
const MAX_SESSIONS = 3;
/** Entries sent for one folder at most: the dialog is for finding a file, and `imprint ls` lists the rest. */
const MAX_FOLDER_ENTRIES = 20_000;
/** Problems carried in a finished extraction's details; the rest are counted. */
const MAX_PROBLEMS_KEPT = 50;
/** Progress events per second at most (the conventions' ten a second). */
const PROGRESS_MS = 100;

type Run = (jobId: string, signal: AbortSignal, onEvent: (e: JobEvent) => void) => Promise<JobFinishedEvent>;

interface Open {
  session: Promise<BrowseSession>;
  /** An encrypted backup folder's passphrase it was opened with: a request must bring the same one to use it. */
  passphrase: string | undefined;
}

export class BrowseSources {
  private readonly sessions = new Map<string, Open>();

  /**
   * `passphrase`: an encrypted folder generation's, which the service takes
   * from the request's unlock handle each time. An open session is reused
   * only by a request bringing the passphrase it was opened with, so a
   * request without a (still valid) handle never reads through a session
   * another one unlocked.
   */
  private session(source: string, passphrase?: string): Promise<BrowseSession> {
    const open = this.sessions.get(source);
    this.sessions.delete(source);
    if (open && open.passphrase === passphrase) {
      // Most recently used last: the first is the one to close.
      this.sessions.set(source, open);
      return open.session;
    }
    if (open) void open.session.then((x) => x.close()).catch(() => undefined);
    const s = BrowseSession.open(source, passphrase === undefined ? {} : { passphrase });
    const entry = { session: s, passphrase };
    this.sessions.set(source, entry);
    s.catch(() => {
      if (this.sessions.get(source) === entry) this.sessions.delete(source);
    });
    while (this.sessions.size > MAX_SESSIONS) {
      const [oldest, first] = this.sessions.entries().next().value as [string, Open];
      this.sessions.delete(oldest);
      void first.session.then((x) => x.close()).catch(() => undefined);
    }
    return s;
  }

  async partitions(source: string, passphrase?: string): Promise<BrowsePartition[]> {
    const summaries = await (await this.session(source, passphrase)).summaries();
    return summaries.map((p) => ({ number: p.number, size: p.size, filesystem: p.filesystem, label: p.label, problem: p.problem, warnings: p.warnings }));
  }

  async folder(source: string, where: string, passphrase?: string): Promise<BrowseFolder> {
    const { part, path } = parsePartPath(where);
    const session = await this.session(source, passphrase);
    const view = await session.view(part);
    const warned = view.warnings.length;
    const dir = await session.resolve(view, part, path);
    if (dir.kind !== 'directory') throw new ImprintError('E_BAD_ARGUMENTS', `${where} is not a folder.`);
    const entries = await view.list(dir);
    const shown = entries.slice(0, MAX_FOLDER_ENTRIES).map((e) => ({ name: e.name, kind: e.kind, size: e.kind === 'file' ? e.size : 0, mtimeMs: e.mtimeMs ?? null }));
    const warnings = view.warnings.slice(warned);
    if (entries.length > shown.length) warnings.push(`${entries.length - shown.length} more entries are not shown; imprint ls lists them all`);
    const norm = `/${path.split('/').filter((s) => s && s !== '.').join('/')}`;
    return { where: `${part}:${norm}`, entries: shown, warnings };
  }

  /** Resolves every item (a typo refuses the whole request, before anything is written), then returns the job. */
  async prepareExtract(req: ExtractRequest, passphrase?: string): Promise<{ devices: string[]; run: Run }> {
    const session = await this.session(req.source, passphrase);
    const items: { part: number; path: string; view: FilesystemView; entry: FileEntry; bytes: number }[] = [];
    for (const w of req.items) {
      const { part, path } = parsePartPath(w);
      const view = await session.view(part);
      const entry = await session.resolve(view, part, path);
      items.push({ part, path: `/${path.split('/').filter((s) => s && s !== '.').join('/')}`, view, entry, bytes: await plannedBytes(view, entry) });
    }
    const total = items.reduce((s, i) => s + i.bytes, 0);
    const copier = ExtentCopier.for(session.source);
    const devices = req.source.startsWith('/dev/') ? [req.source] : [];
    const run: Run = async (jobId, signal, onEvent) => {
      onEvent({ type: 'job-started', jobId, kind: 'extract', source: req.source, targets: [req.dest], totalBytes: total });
      const started = Date.now();
      let last = 0;
      let before = 0;
      const progress = (done: number, force = false): void => {
        const now = Date.now();
        if (!force && now - last < PROGRESS_MS) return;
        last = now;
        const rate = done / Math.max(0.001, (now - started) / 1000);
        onEvent({ type: 'progress', jobId, phase: 'copying', bytesDone: done, totalBytes: total, bytesPerSecond: rate, etaSeconds: rate > 0 ? Math.max(0, (total - done) / rate) : null, targets: [] });
      };
      // The job's end is an event like the others (the service's launch() only hands it back to its caller).
      const finish = (e: JobFinishedEvent): JobFinishedEvent => {
        onEvent(e);
        return e;
      };
      const details = { kind: 'extract' as const, dest: req.dest, files: 0, folders: 0, symlinks: 0, bytes: 0, problems: [] as { path: string; message: string }[], problemCount: 0 };
      try {
        fs.mkdirSync(req.dest, { recursive: true });
        for (const item of items) {
          if (signal.aborted) throw new ImprintError('E_CANCELLED', 'Extraction cancelled.');
          const ex = new Extractor(item.view, req.dest, {
            force: false,
            ...copyThrough(copier, session.partitions, item.part),
            onBytes: (b) => {
              if (signal.aborted) throw new ImprintError('E_CANCELLED', 'Extraction cancelled.');
              progress(before + b);
            },
            onProblem: (p) => {
              const shown = { path: `${item.part}:${p.path}`, message: p.message };
              if (details.problems.length < MAX_PROBLEMS_KEPT) details.problems.push(shown);
              onEvent({ type: 'warning', jobId, message: `${shown.path}: ${shown.message}` });
            },
          });
          await ex.extract(item.entry, item.path);
          await ex.finish();
          before += ex.totals.bytes;
          details.files += ex.totals.files;
          details.folders += ex.totals.folders;
          details.symlinks += ex.totals.symlinks;
          details.bytes += ex.totals.bytes;
          details.problemCount += ex.totals.problems;
        }
        progress(before, true);
        return finish({ type: 'job-finished', jobId, ok: true, targets: [], bytes: details.bytes, details });
      } catch (err) {
        return finish({ type: 'job-finished', jobId, ok: false, targets: [], bytes: details.bytes, error: toErrorInfo(err), details });
      }
    };
    return { devices, run };
  }

  /** Closes every open source (the service is shutting down). */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map(async (s) => (await s.session).close()));
  }
}
