// The IPC protocol between the cluster primary and its workers.
import type { SluiceConfig } from '../config/schema.ts';

export type ToWorker = { type: 'apply'; version: number; config: SluiceConfig } | { type: 'shutdown' };

export type ToPrimary =
  | { type: 'applied'; version: number }
  | { type: 'apply-failed'; version: number; error: string };
