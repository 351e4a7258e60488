import type { BrowserWindow, Dialog, NotificationConstructorOptions, PowerSaveBlocker, ProgressBarOptions } from 'electron';
import type { ServiceEvent } from '../service/imprint-service';
import type { JobEvent, JobKind } from '../../shared/job-events';
import type { Unsubscribe } from '../../shared/ipc-contract';

/**
 * What a running job means to the desktop around the window: progress on
 * the taskbar or dock icon, a system notification when it ends unseen, the
 * system kept from suspending meanwhile, and a question before the window
 * closes on it. Electron's objects come in as parameters (main.ts passes the
 * real ones, tests the stand-ins), typed by Electron's own declarations.
 */
export interface DesktopDeps {
  window(): Pick<BrowserWindow, 'setProgressBar' | 'isFocused' | 'isDestroyed'> | null;
  powerSaveBlocker: Pick<PowerSaveBlocker, 'start' | 'stop' | 'isStarted'>;
  /** Electron's Notification class (or a stand-in): constructed with options, then shown. */
  Notification: { isSupported(): boolean; new (options: NotificationConstructorOptions): { show(): void } };
}

const KIND_WORDS: Record<JobKind, string> = {
  flash: 'Flash',
  verify: 'Verification',
  hash: 'Checksum',
  backup: 'Backup',
  restore: 'Restore',
  clone: 'Clone',
  rescue: 'Rescue',
  check: 'Drive check',
  format: 'Format',
  extract: 'Extraction',
};

/** Follows the service's job events; returns the unsubscribe (which also releases the blocker). */
export function followJobs(subscribe: (listener: (e: ServiceEvent) => void) => Unsubscribe, deps: DesktopDeps): Unsubscribe {
  /** Running jobs: kind, and fraction done (null while the total is unknown). */
  const running = new Map<string, { kind: JobKind; fraction: number | null }>();
  let blocker: number | null = null;

  const showProgress = (): void => {
    const win = deps.window();
    if (!win || win.isDestroyed()) return;
    if (running.size === 0) return win.setProgressBar(-1);
    const fractions = [...running.values()].map((j) => j.fraction);
    // The slowest job is what the person waits for; an unknown total shows as indeterminate.
    if (fractions.some((f) => f === null)) return win.setProgressBar(2, { mode: 'indeterminate' } as ProgressBarOptions);
    win.setProgressBar(Math.min(...(fractions as number[])), { mode: 'normal' } as ProgressBarOptions);
  };

  const onEvent = (e: JobEvent): void => {
    if (e.type === 'job-started') {
      running.set(e.jobId, { kind: e.kind, fraction: null });
      if (blocker === null || !deps.powerSaveBlocker.isStarted(blocker)) blocker = deps.powerSaveBlocker.start('prevent-app-suspension');
    } else if (e.type === 'progress') {
      const job = running.get(e.jobId);
      if (!job) return;
      job.fraction = e.totalBytes && e.totalBytes > 0 ? Math.min(1, e.bytesDone / e.totalBytes) : null;
    } else if (e.type === 'job-finished') {
      const job = running.get(e.jobId);
      running.delete(e.jobId);
      if (running.size === 0 && blocker !== null) {
        deps.powerSaveBlocker.stop(blocker);
        blocker = null;
      }
      const win = deps.window();
      const unseen = !win || win.isDestroyed() || !win.isFocused();
      if (unseen && deps.Notification.isSupported()) {
        const what = KIND_WORDS[job?.kind ?? 'flash'];
        const body = e.ok ? 'Finished and checked.' : (e.error?.message ?? e.targets.find((t) => t.error)?.error?.message ?? 'It did not finish.');
        new deps.Notification({ title: `${what} ${e.ok ? 'finished' : 'failed'}`, body: body.slice(0, 240), silent: false }).show();
      }
    } else return;
    showProgress();
  };

  const unsubscribe = subscribe((event) => {
    if (event.event === 'onJobEvent') onEvent(event.payload as JobEvent);
  });
  return () => {
    unsubscribe();
    if (blocker !== null) deps.powerSaveBlocker.stop(blocker);
    blocker = null;
  };
}

/**
 * Closing the window while a job runs asks first; leaving cancels the jobs
 * (main.ts's before-quit disposes the service, which cancels them and closes
 * their devices). Returns nothing: the handler lives as long as the window.
 */
export function confirmCloseWhileRunning(
  win: Pick<BrowserWindow, 'on' | 'close'>,
  runningJobs: () => number,
  dialog: Pick<Dialog, 'showMessageBoxSync'>,
): void {
  let allowed = false;
  win.on('close', (event) => {
    const count = runningJobs();
    if (allowed || count === 0) return;
    event.preventDefault();
    const choice = dialog.showMessageBoxSync(win as BrowserWindow, {
      type: 'warning',
      buttons: ['Keep running', count === 1 ? 'Cancel the job and quit' : `Cancel ${count} jobs and quit`],
      defaultId: 0,
      cancelId: 0,
      noLink: true,
      title: 'A job is still running',
      message: count === 1 ? 'A job is still running.' : `${count} jobs are still running.`,
      detail: 'Quitting cancels it. A drive that was being written holds no usable data until it is written again.',
    });
    if (choice === 1) {
      allowed = true;
      win.close();
    }
  });
}
