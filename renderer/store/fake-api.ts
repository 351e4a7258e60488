import type { Drive } from '../../shared/drive';
import type { CallName, Calls, Events, ImprintApi, Result } from '../../shared/ipc-contract';

/**
 * A stand-in for the transport, for the store's unit tests only: it records
 * every call and answers from a table the test fills. The real service is
 * exercised by the engine's tests and by the Playwright end-to-end tests.
 */
export interface FakeApi extends ImprintApi {
  calls: { name: CallName; request: unknown }[];
  /** A table answer, or a function of the request; a function may answer later (a Promise), so tests can order answers. */
  answer<K extends CallName>(name: K, result: Result<Calls[K]['response']> | ((req: Calls[K]['request']) => Result<Calls[K]['response']> | Promise<Result<Calls[K]['response']>>)): void;
  emitDrives(drives: Events['onDrivesChanged']): void;
  emitJob(event: Events['onJobEvent']): void;
  listenerCount(): number;
}

export function createFakeApi(): FakeApi {
  const calls: FakeApi['calls'] = [];
  const answers = new Map<CallName, unknown>();
  const driveListeners = new Set<(d: Drive[]) => void>();
  const jobListeners = new Set<(e: Events['onJobEvent']) => void>();
  const call = <K extends CallName>(name: K) => async (request: Calls[K]['request']): Promise<Result<Calls[K]['response']>> => {
    calls.push({ name, request });
    const a = answers.get(name);
    if (a === undefined) return { ok: false, error: { code: 'E_INTERNAL', message: `fake api: no answer for ${name}` } };
    return typeof a === 'function' ? (a as (r: unknown) => Promise<Result<Calls[K]['response']>>)(request) : (a as Result<Calls[K]['response']>);
  };
  return {
    calls,
    answer: (name, result) => void answers.set(name, result),
    emitDrives: (d) => driveListeners.forEach((l) => l(d)),
    emitJob: (e) => jobListeners.forEach((l) => l(e)),
    listenerCount: () => driveListeners.size + jobListeners.size,
    listDrives: call('listDrives'),
    inspectImage: call('inspectImage'),
    inspectBackup: call('inspectBackup'),
    chooseImage: call('chooseImage'),
    chooseBackupPath: call('chooseBackupPath'),
    startFlash: call('startFlash'),
    startBackup: call('startBackup'),
    planBackup: call('planBackup'),
    startRestore: call('startRestore'),
    startFormat: call('startFormat'),
    cancelJob: call('cancelJob'),
    revealFile: call('revealFile'),
    jobSnapshots: call('jobSnapshots'),
    checkBackupOutput: call('checkBackupOutput'),
    inspectLayout: call('inspectLayout'),
    listFolder: call('listFolder'),
    loadCatalogue: call('loadCatalogue'),
    startFlashUrl: call('startFlashUrl'),
    startFlashOs: call('startFlashOs'),
    browsePartitions: call('browsePartitions'),
    browseFolder: call('browseFolder'),
    startExtract: call('startExtract'),
    chooseFolder: call('chooseFolder'),
    inspectBackupFolder: call('inspectBackupFolder'),
    startFolderBackup: call('startFolderBackup'),
    unlockBackupFolder: call('unlockBackupFolder'),
    onDrivesChanged: (l) => {
      driveListeners.add(l);
      return () => driveListeners.delete(l);
    },
    onJobEvent: (l) => {
      jobListeners.add(l);
      return () => jobListeners.delete(l);
    },
  };
}
