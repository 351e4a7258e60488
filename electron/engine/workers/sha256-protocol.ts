import { workerKind } from '../worker-host';

/** Messages of the SHA-256 thread (sha256-worker.ts): pieces of shared memory to hash, in order. */
export interface Sha256WorkerData {
  memory: SharedArrayBuffer;
}

export type ToSha256 =
  /** Hash these [offset, length] pieces of the memory next; the memory must stay as it is until 'updated' comes back with this id. */
  | { type: 'update'; id: number; pieces: [number, number][] }
  | { type: 'digest' };

export type FromSha256 = { type: 'updated'; id: number } | { type: 'digest'; hex: string };

export const SHA256_WORKER = workerKind<ToSha256, FromSha256, Sha256WorkerData>('sha256-worker');
