// What the admin server may see and do, and nothing more: the runtime implements this, admin/ never reaches
// into the gateway itself (DESIGN.md: nothing below admin imports it; admin reads state through an interface).
import type { SluiceConfig } from '../config/schema.ts';

export type ReloadResult = { ok: true; version: number; changed: boolean } | { ok: false; errors: string[] };

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export interface AdminControl {
  readiness(): Readiness;
  currentConfig(): { version: number; config: SluiceConfig; loadedAt: string } | undefined;
  reload(reason: string): Promise<ReloadResult>;
}
