import { randomUUID } from 'crypto';
import * as path from 'path';
import type { Drive } from '../../shared/drive';
import type { FolderBackupRequest } from '../../shared/backup-folder-types';
import type { BackupRequest, CallName, Calls, EventName, Events, FlashRequest, FormatRequest, JobStarted, RestoreRequest, Result, Unsubscribe } from '../../shared/ipc-contract';
import type { JobEvent, JobFinishedEvent, JobKind } from '../../shared/job-events';
import { ImprintError, toErrorInfo } from '../engine/errors';
import { listDrives as engineListDrives } from '../engine/drives/list-drives';
import { prepareFlash, runFlash } from '../engine/jobs/flash-job';
import { engineSettingsFromEnv, type EngineSettings } from '../engine/jobs/engine-settings';
import { inspectBackupDetails, prepareBackupJob, prepareRestoreJob } from './backup-jobs';
import { generationDetails, inspectBackupFolder, isFolderRef, prepareFolderBackupJob, prepareFolderRestoreJob, unlockBackupFolder } from './backup-folders';
import { FolderUnlocks, inAppWords, passphraseFile, withOptions, withUnlocked } from './folder-unlocks';
import { parseFolderRef } from '../engine/formats/backup-folder/folder-ref';
import { planBackupStorage } from '../engine/jobs/backup-job';
import { canOpenDirectly } from './device-access';
import { DriveWatcher, DRIVE_POLL_MS } from './drive-watcher';
import { inspectImageDetails } from './image-details';
import { inspectLayoutDetails } from './layout-details';
import { listFolder } from './folder-listing';
import { BrowseSources } from './browse-service';
import { checkBackupOutput } from './output-check';
import { prepareFormat, runFormat } from '../engine/jobs/format-job';
import { backupCliArgs, flashCliArgs, folderBackupCliArgs, formatCliArgs, restoreCliArgs, runHelper, type HelperCommand } from './privileged-helper';
import { runUrlFlash } from '../engine/jobs/flash-url-job';
import { redact } from '../engine/net/url-policy';
import { CatalogueBrowser } from './catalogue-browser';
import { planOsFlash, planUrlFlash, webSettingsFromEnv, type WebFlashPlan, type WebSettings } from './web-flash';

/**
 * The one service behind every transport: Electron's IPC, browser mode's
 * WebSocket. Transports validate payloads (shared/ipc-schemas.ts) and call
 * `call`; results are data, never thrown. Events go to every subscriber.
 */

/** Native dialogs and the file manager: only Electron has them. */
export interface DialogAdapter {
  chooseImage(): Promise<string | null>;
  chooseBackupPath(suggestedName: string): Promise<string | null>;
  revealFile(path: string): Promise<void>;
  /** A folder dialog that can make new folders (a backup folder's place); absent: the call resolves null. */
  chooseFolder?(title: string): Promise<string | null>;
}

/** An event as the service emits it; browser mode sends exactly this object as its push frame. */
export type ServiceEvent = { [E in EventName]: { event: E; payload: Events[E] } }[EventName];

export interface ServiceOptions {
  /** Absent in browser mode: chooseImage / chooseBackupPath resolve null, revealFile says it cannot. */
  dialogs?: DialogAdapter;
  /** The drive lister; tests pass one that adds nothing, the app uses the engine's. */
  listDrives?: () => Promise<Drive[]>;
  drivePollMs?: number;
  /**
   * How to run a job as root when this process may not open the device.
   * Defaults to pkexec and this repository's bin/imprint.js under the
   * running Node (or Electron as Node).
   */
  helper?: HelperCommand;
  /** How the engine works (decoders, read-back while writing...); read from this process's environment when absent. */
  settings?: EngineSettings;
  /** Overrides the privilege check (tests exercise the helper path as root this way). */
  needsHelper?: (devices: readonly string[], mode: 'read' | 'write') => boolean;
  /** Where a listing failure or a bug in a job gets logged. */
  log?: (message: string) => void;
  /** Catalogues, proxies and the download cache (web-flash.ts); read from this process's environment when absent. */
  web?: WebSettings;
}

interface RunningJob {
  kind: JobKind;
  controller: AbortController;
  devices: string[];
  done: Promise<JobFinishedEvent>;
}

/** bin/imprint.js, three folders up from out/electron/service/ (inside app.asar when packaged: Electron as Node reads it there). */
export function defaultCliScript(): string {
  return path.resolve(__dirname, '..', '..', '..', 'bin', 'imprint.js');
}

export function defaultHelperCommand(): HelperCommand {
  return { elevator: 'pkexec', execPath: process.execPath, runAsNode: process.versions.electron !== undefined, cliScript: defaultCliScript() };
}

/** A job's start and end with the time they happened (kept when the engine gave one). */
function stamped(event: JobEvent): JobEvent {
  if (event.type === 'job-started') return { ...event, startedAt: event.startedAt ?? new Date().toISOString() };
  if (event.type === 'job-finished') return { ...event, finishedAt: event.finishedAt ?? new Date().toISOString() };
  return event;
}

/** How many finished job ids are remembered, so a late cancel of a finished job is a no-op, not an error. */
const FINISHED_MEMORY = 64;

type Handlers = { [K in CallName]: (request: Calls[K]['request']) => Promise<Calls[K]['response']> };

export class ImprintService {
  private readonly listeners = new Set<(event: ServiceEvent) => void>();
  private readonly jobs = new Map<string, RunningJob>();
  private readonly finished: string[] = [];
  /** Per job (running, or among the last FINISHED_MEMORY finished): started, latest progress, finished. */
  private readonly snapshots = new Map<string, { started?: JobEvent; progress?: JobEvent; finished?: JobEvent }>();
  private readonly watcher: DriveWatcher;
  private readonly list: () => Promise<Drive[]>;
  private readonly helper: HelperCommand;
  private readonly needsHelper: (devices: readonly string[], mode: 'read' | 'write') => boolean;
  private readonly log: (message: string) => void;
  /** The environment is read here, once: the engine takes these as options. */
  private readonly settings: EngineSettings;
  private readonly web: WebSettings;
  /** Loads nothing until the page asks: Imprint makes no request on its own. */
  private readonly catalogues: CatalogueBrowser;
  private disposed = false;
  /** Sources open for "Browse files". */
  private readonly browse = new BrowseSources();
  /** Passphrases of encrypted backup folders opened in the app, under the handles the renderer holds instead. */
  private readonly unlocks = new FolderUnlocks();

  constructor(private readonly options: ServiceOptions = {}) {
    this.settings = options.settings ?? engineSettingsFromEnv(process.env);
    // A running job's drives are listed without probing their partitions: an open, however brief, can fail the job's partition-table re-read.
    this.list = options.listDrives ?? (() => engineListDrives({ inUse: new Set([...this.jobs.values()].flatMap((j) => j.devices)) }));
    this.helper = options.helper ?? defaultHelperCommand();
    this.needsHelper = options.needsHelper ?? ((devices, mode) => !canOpenDirectly(devices, mode));
    this.log = options.log ?? ((m) => process.stderr.write(`imprint: ${m}\n`));
    this.web = options.web ?? webSettingsFromEnv(process.env);
    this.catalogues = new CatalogueBrowser(this.web.catalogues, this.web.http, this.log);
    this.watcher = new DriveWatcher(
      this.list,
      (drives) => this.emit({ event: 'onDrivesChanged', payload: drives }),
      options.drivePollMs ?? DRIVE_POLL_MS,
      (err) => this.log(`listing drives failed: ${toErrorInfo(err).message}`),
    );
    this.watcher.start();
  }

  /** Runs one call. The request must already have passed its schema. Never throws. */
  async call<K extends CallName>(name: K, request: Calls[K]['request']): Promise<Result<Calls[K]['response']>> {
    try {
      if (this.disposed) throw new ImprintError('E_INTERNAL', 'Imprint is shutting down.');
      const handler = this.handlers[name] as (r: Calls[K]['request']) => Promise<Calls[K]['response']>;
      return { ok: true, value: await handler(request) };
    } catch (err) {
      const info = toErrorInfo(err);
      if (info.code === 'E_INTERNAL') this.log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return { ok: false, error: info };
    }
  }

  /** Receives every event until the returned function is called. */
  subscribe(listener: (event: ServiceEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Jobs still running (tests and shutdown). */
  get runningJobs(): string[] {
    return [...this.jobs.keys()];
  }

  /** Resolves when the job has ended; undefined for an unknown id. */
  jobDone(jobId: string): Promise<JobFinishedEvent> | undefined {
    return this.jobs.get(jobId)?.done;
  }

  /** Stops polling, cancels every job and waits for them to close their devices. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.watcher.stop();
    const running = [...this.jobs.values()];
    for (const job of running) job.controller.abort();
    await Promise.allSettled(running.map((j) => j.done));
    await this.browse.close();
    this.unlocks.clear();
    this.listeners.clear();
  }

  private emit(event: ServiceEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        // One broken transport (a closed socket) must not starve the others.
        this.log(`an event listener failed: ${toErrorInfo(err).message}`);
      }
    }
  }

  private readonly handlers: Handlers = {
    listDrives: async () => {
      const drives = await this.list();
      this.watcher.observe(drives);
      return drives;
    },
    inspectImage: async ({ path: file }) => inspectImageDetails(file, this.settings.decoders),
    inspectBackup: async ({ path: file, unlock }) => (isFolderRef(file) ? generationDetails(file, unlock, this.unlocks) : inspectBackupDetails(file, this.settings.decoders)),
    chooseImage: async () => (this.options.dialogs ? this.options.dialogs.chooseImage() : null),
    chooseBackupPath: async ({ suggestedName }) => (this.options.dialogs ? this.options.dialogs.chooseBackupPath(suggestedName) : null),
    revealFile: async ({ path: file }) => {
      if (!this.options.dialogs) throw new ImprintError('E_BAD_ARGUMENTS', `Showing files is not available in browser mode. The file is at ${file}.`);
      await this.options.dialogs.revealFile(file);
      return null;
    },
    checkBackupOutput: async ({ path: file }) => checkBackupOutput(file),
    inspectLayout: async ({ path: file }) => inspectLayoutDetails(file),
    listFolder: async ({ path: dir }) => listFolder(dir),
    browsePartitions: async ({ source, unlock }) => withUnlocked(this.unlocks, source, unlock, (pass) => this.browse.partitions(source, pass)),
    browseFolder: async ({ source, where, unlock }) => withUnlocked(this.unlocks, source, unlock, (pass) => this.browse.folder(source, where, pass)),
    startExtract: async (req) => {
      const prepared = await withUnlocked(this.unlocks, req.source, req.unlock, (pass) => this.browse.prepareExtract(req, pass));
      this.refuseBusy(prepared.devices);
      return this.launch('extract', prepared.devices, prepared.run);
    },
    chooseFolder: async ({ title }) => (this.options.dialogs?.chooseFolder ? this.options.dialogs.chooseFolder(title) : null),
    inspectBackupFolder: async ({ path: dir }) => inspectBackupFolder(dir),
    startFolderBackup: async (req) => this.startFolderBackup(req),
    unlockBackupFolder: async ({ path: dir, passphrase }) => unlockBackupFolder(dir, passphrase, this.unlocks),
    jobSnapshots: async () => [...this.snapshots.values()].flatMap((s) => [s.started, s.progress, s.finished].filter((e): e is JobEvent => e !== undefined)),
    startFlash: async (req) => this.startFlash(req),
    loadCatalogue: async (req) => this.catalogues.list(req),
    startFlashUrl: async (req) => this.startWebFlash(await planUrlFlash(this.web, this.settings.decoders, req), req.verify),
    startFlashOs: async (req) => this.startWebFlash(await planOsFlash(this.web, this.settings.decoders, this.catalogues, req), req.verify),
    startBackup: async (req) => this.startBackup(req),
    planBackup: async ({ device, sectorBySector }) => (this.needsHelper([device], 'read') ? null : planBackupStorage(device, sectorBySector === true)),
    startRestore: async (req) => this.startRestore(req),
    startFormat: async (req) => this.startFormat(req),
    cancelJob: async ({ jobId }) => {
      const job = this.jobs.get(jobId);
      if (job) job.controller.abort();
      else if (!this.finished.includes(jobId)) throw new ImprintError('E_BAD_ARGUMENTS', `No job ${jobId} is known: it may have ended long ago.`);
      return null;
    },
  };

  /**
   * Checks the image and targets (refusals come back as this call's error,
   * before anything is written), then writes in the background: in-process
   * when this process may open the targets, else through the privileged helper.
   */
  private async startFlash(req: FlashRequest): Promise<JobStarted> {
    const prepared = await prepareFlash({ image: req.image, targets: req.targets, decoders: this.settings.decoders });
    const devices = prepared.targets.filter((t) => t.isBlockDevice).map((t) => t.path);
    this.refuseBusy(devices);
    if (this.needsHelper(devices, 'write')) {
      return this.viaHelper('flash', devices, { source: prepared.source.path, targets: req.targets, totalBytes: prepared.source.size }, flashCliArgs(req));
    }
    return this.launch('flash', devices, (jobId, signal, onEvent) => runFlash(prepared, { verify: req.verify, signal, onEvent, jobId, verifyWhileWriting: this.settings.verifyWhileWriting, zeroOut: this.settings.zeroOut }));
  }

  /** A flash from a URL or a catalogue: like startFlash, the download and the write in one job; warnings from preparing follow its start. */
  private startWebFlash({ prepared, cliArgs, warnings }: WebFlashPlan, verify: boolean): JobStarted {
    const devices = prepared.targets.filter((t) => t.isBlockDevice).map((t) => t.path);
    this.refuseBusy(devices);
    const targets = prepared.targets.map((t) => t.path);
    if (this.needsHelper(devices, 'write')) {
      return this.viaHelper('flash', devices, { source: redact(prepared.url), targets, totalBytes: prepared.request.entry?.extractSize ?? null }, cliArgs);
    }
    return this.launch('flash', devices, (jobId, signal, onEvent) =>
      runUrlFlash(prepared, {
        verify,
        signal,
        jobId,
        verifyWhileWriting: this.settings.verifyWhileWriting,
        zeroOut: this.settings.zeroOut,
        onEvent: (e) => {
          onEvent(e);
          if (e.type === 'job-started') for (const message of warnings) onEvent({ type: 'warning', jobId, message });
        },
      }),
    );
  }

  private async startFormat(req: FormatRequest): Promise<JobStarted> {
    const prepared = await prepareFormat({ drive: req.drive, filesystem: req.filesystem ?? null, label: req.label ?? null });
    const devices = [prepared.target.path];
    this.refuseBusy(devices);
    if (this.needsHelper(devices, 'write')) {
      return this.viaHelper('format', devices, { source: `format:${prepared.filesystem}`, targets: devices, totalBytes: prepared.target.drive.size }, formatCliArgs(req));
    }
    return this.launch('format', devices, (jobId, signal, onEvent) => runFormat(prepared, { signal, onEvent, jobId }));
  }

  private async startRestore(req: RestoreRequest): Promise<JobStarted> {
    // A backup folder's generation (FOLDER#ID): the same checks, smart restore and read-back, from its pieces.
    const ref = parseFolderRef(req.backup);
    const passphrase = ref ? this.unlocks.passphraseFor(req.unlock, ref.folder) : undefined;
    const prepared = ref ? await prepareFolderRestoreJob(req, passphrase).catch((err: unknown) => Promise.reject(inAppWords(err, ref.folder))) : await prepareRestoreJob(req, this.settings);
    this.refuseBusy(prepared.devices);
    if (this.needsHelper(prepared.devices, 'write')) {
      return this.viaHelper('restore', prepared.devices, prepared, restoreCliArgs(req), passphrase);
    }
    return this.launch('restore', prepared.devices, (jobId, signal, onEvent) => prepared.run({ jobId, signal, onEvent }));
  }

  /**
   * A backup only reads the drive, but reading it may need root too. Then the
   * helper does the checking as well (this process cannot read the partition
   * table to check with), and its refusals arrive as the job's end.
   */
  private async startBackup(req: BackupRequest): Promise<JobStarted> {
    this.refuseBusy([req.device]);
    if (this.needsHelper([req.device], 'read')) {
      // With --rescue the helper runs the same backup-else-rescue job as below (jobs/backup-rescue.ts): its one job-finished is the rescue's when a rescue replaced the backup.
      return this.viaHelper('backup', [req.device], { source: req.device, targets: [req.output], totalBytes: null }, backupCliArgs(req));
    }
    const prepared = await prepareBackupJob(req);
    this.refuseBusy(prepared.devices);
    return this.launch('backup', prepared.devices, (jobId, signal, onEvent) => prepared.run({ jobId, signal, onEvent }));
  }

  /** A backup into a backup folder: like startBackup, the helper checks and reads when this process may not read the drive. */
  private async startFolderBackup(req: FolderBackupRequest): Promise<JobStarted> {
    this.refuseBusy([req.device]);
    if (this.needsHelper([req.device], 'read')) {
      return this.viaHelper('backup', [req.device], { source: req.device, targets: [req.folder], totalBytes: null }, folderBackupCliArgs(req), req.passphrase);
    }
    const prepared = await prepareFolderBackupJob(req).catch((err: unknown) => Promise.reject(inAppWords(err, req.folder)));
    this.refuseBusy(prepared.devices);
    return this.launch('backup', prepared.devices, (jobId, signal, onEvent) => prepared.run({ jobId, signal, onEvent }));
  }

  /** Runs the job as root through the elevator (privileged-helper.ts); its events look like an in-process job's. */
  private viaHelper(kind: JobKind, devices: string[], announce: { source: string; targets: string[]; totalBytes: number | null }, cliArgs: string[], passphrase?: string): JobStarted {
    return this.launch(kind, devices, async (jobId, signal, onEvent) => {
      // An encrypted folder's passphrase goes to the helper in a private file, deleted when it ends (folder-unlocks.ts).
      const secret = passphrase === undefined ? null : passphraseFile(passphrase);
      // The helper starts by asking for a password: the job exists from now on, so say so.
      onEvent({ type: 'job-started', jobId, kind, source: announce.source, targets: announce.targets, totalBytes: announce.totalBytes });
      const finished = await runHelper({
        command: this.helper,
        cliArgs: secret ? withOptions(cliArgs, secret.args) : cliArgs,
        jobId,
        targets: announce.targets,
        action: `${kind === 'backup' ? 'read' : 'write'} ${devices.join(', ')}`,
        signal,
        // Our job-started went out already; the helper's would be a duplicate (a rescue after a backup announces itself: kind 'rescue').
        // The CLI runs the same backup-else-rescue job as the service (jobs/backup-rescue.ts): one job-finished ends it.
        onEvent: (e) => (e.type === 'job-started' && e.kind === kind ? undefined : onEvent(e)),
      }).finally(() => secret?.dispose());
      return finished;
    });
  }

  private refuseBusy(devices: readonly string[]): void {
    for (const job of this.jobs.values()) {
      const shared = devices.find((d) => job.devices.includes(d));
      if (shared) throw new ImprintError('E_TARGET_BUSY', `${shared} is being used by the ${job.kind} that is running: wait for it to finish or cancel it.`);
    }
  }

  /**
   * Registers a job and starts it on the next turn of the event loop, so the
   * caller's answer ({jobId}) leaves before the job's first event: a
   * renderer that filters events by job id then sees them all.
   */
  private launch(
    kind: JobKind,
    devices: string[],
    run: (jobId: string, signal: AbortSignal, onEvent: (e: JobEvent) => void) => Promise<JobFinishedEvent>,
  ): JobStarted {
    const jobId = randomUUID();
    const controller = new AbortController();
    const onEvent = (event: JobEvent): void => {
      // Stamped here, so every transport (and a window opened mid-job) can say how long the job took.
      const payload = stamped(event);
      // Forgotten before its last event goes out: a client that starts the
      // next job on hearing "finished" must not be told the drive is busy.
      if (payload.type === 'job-finished') this.forget(jobId);
      this.remember(payload);
      this.emit({ event: 'onJobEvent', payload });
    };
    const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      run(jobId, controller.signal, onEvent).catch((err: unknown) => {
        // The engine reports failures as events; reaching here is a bug, reported as data all the same.
        this.log(`${kind} job ${jobId} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        const event: JobFinishedEvent = { type: 'job-finished', jobId, ok: false, targets: [], bytes: 0, error: toErrorInfo(err) };
        onEvent(event);
        return event;
      }),
    );
    this.jobs.set(jobId, { kind, controller, devices, done });
    void done.finally(() => this.forget(jobId));
    return { jobId };
  }

  private forget(jobId: string): void {
    if (!this.jobs.delete(jobId)) return;
    this.finished.push(jobId);
    if (this.finished.length > FINISHED_MEMORY) this.snapshots.delete(this.finished.shift() as string);
  }

  /** Keeps what jobSnapshots answers: a reconnecting client's view of every job. */
  private remember(event: JobEvent): void {
    const snap = this.snapshots.get(event.jobId) ?? {};
    if (event.type === 'job-started') snap.started = event;
    else if (event.type === 'progress') snap.progress = event;
    else if (event.type === 'job-finished') snap.finished = event;
    this.snapshots.set(event.jobId, snap);
  }
}
