// The IPC protocol between the cluster primary and its workers. `seq` pairs an answer with its request, so a late
// answer to an attempt that was given up (or rolled back) is never taken for the answer to a newer one.
import type { SluiceConfig } from '../config/schema.ts';
import type { BoundAddress } from '../proxy/gateway.ts';

export type ToWorker = { type: 'apply'; seq: number; version: number; config: SluiceConfig } | { type: 'shutdown' };

export type ToPrimary =
  /** Sent once the worker listens for messages: only then can it be given a config. */
  | { type: 'ready' }
  | { type: 'applied'; seq: number; version: number; listeners: BoundAddress[] }
  | { type: 'apply-failed'; seq: number; version: number; error: string };
