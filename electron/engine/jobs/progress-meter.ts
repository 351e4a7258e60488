/**
 * Throughput over the last few seconds, so a stall shows at once and a burst
 * does not promise a wrong ETA.
 */
export class ProgressMeter {
  private samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 3000) {}

  /** Records `bytes` done so far at time `now` (ms). */
  sample(bytes: number, now = Date.now()): void {
    this.samples.push({ t: now, bytes });
    while (this.samples.length > 2 && now - (this.samples[0] as { t: number }).t > this.windowMs) this.samples.shift();
  }

  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t <= first.t) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }

  eta(done: number, total: number | null): number | null {
    const rate = this.rate();
    if (total === null || rate <= 0) return null;
    return Math.max(0, (total - done) / rate);
  }

  reset(): void {
    this.samples = [];
  }
}
