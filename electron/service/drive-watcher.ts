import type { Drive } from '../../shared/drive';

/**
 * Keeps the drive list current by polling, and reports only changes. Polling
 * (rather than udev events) works the same for every OS drivelist supports.
 * Owned here: 1.5 s, so a plugged-in drive appears within the ~2 s the UI
 * promises, while lsblk runs rarely enough not to load two shared cores.
 */
export const DRIVE_POLL_MS = 1500;

export class DriveWatcher {
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly list: () => Promise<Drive[]>,
    private readonly onChange: (drives: Drive[]) => void,
    private readonly intervalMs = DRIVE_POLL_MS,
    /** A failed listing is reported but keeps the last known list (lsblk can fail briefly while a drive settles). */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Starts polling; the first listing only sets the baseline (callers ask listDrives for the initial list). */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * A listing made elsewhere (a client's listDrives call): if it shows a
   * change, everyone hears of it, and polls compare against it from now on.
   */
  observe(drives: Drive[]): void {
    const key = JSON.stringify(drives);
    const first = this.last === null;
    if (key === this.last) return;
    this.last = key;
    if (!first) this.onChange(drives);
  }

  /** Lists now; emits when the list differs from the last one seen. Overlapping polls are skipped. */
  async poll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const drives = await this.list();
      // A poll that was in flight when stop() came reports nothing.
      if (!this.stopped) this.observe(drives);
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
    }
  }
}
