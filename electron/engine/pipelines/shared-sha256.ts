import { ImprintError } from '../errors';
import { spawnWorker, type TypedWorker } from '../worker-host';
import { SHA256_WORKER, type FromSha256, type ToSha256 } from '../workers/sha256-protocol';

/**
 * A SHA-256 of pieces of a SharedArrayBuffer taken on another thread
 * (workers/sha256-worker.ts), so the caller goes on writing while it is
 * taken. Pieces are hashed in the order update() is called; each update's
 * promise says when its memory may be reused.
 */
export class SharedSha256 {
  private readonly worker: TypedWorker<ToSha256, FromSha256>;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private digestWaiter: { resolve: (hex: string) => void; reject: (err: Error) => void } | null = null;
  private nextId = 0;
  private failure: Error | null = null;

  constructor(memory: SharedArrayBuffer) {
    this.worker = spawnWorker(SHA256_WORKER, { memory });
    this.worker.onMessage((msg) => {
      if (msg.type === 'updated') {
        this.waiting.get(msg.id)?.resolve();
        this.waiting.delete(msg.id);
      } else {
        this.digestWaiter?.resolve(msg.hex);
        this.digestWaiter = null;
      }
    });
    this.worker.onCrash((err) => this.fail(new ImprintError('E_INTERNAL', `The SHA-256 thread failed: ${err.message}`, { cause: err })));
  }

  /** Hashes `pieces` ([offset, length] in the memory) after everything posted before. */
  update(pieces: [number, number][]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.post({ type: 'update', id, pieces });
    return done;
  }

  /** The hex digest of everything posted; call once. */
  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const hex = new Promise<string>((resolve, reject) => (this.digestWaiter = { resolve, reject }));
    this.worker.post({ type: 'digest' });
    return hex;
  }

  close(): Promise<void> {
    return this.worker.terminate();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.digestWaiter?.reject(err);
    this.digestWaiter = null;
  }
}
