// Opens what the control plane keeps — the version store and the audit log, beside the config file or in etcd —
// and the admin API's tokens, turning each problem into the start-up failure DESIGN.md gives it: a store that cannot be
// opened is a runtime failure (exit 2), an unusable token is invalid input (exit 1).
import { dirname, join, resolve } from 'node:path';
import { AdminAuth } from '../admin/auth.ts';
import type { SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import { AuditLog } from '../store/audit-log.ts';
import { EtcdAuditLog } from '../store/etcd-audit-log.ts';
import { EtcdVersionStore } from '../store/etcd-version-store.ts';
import type { ConfigFile } from '../store/config-file.ts';
import { FileVersionStore } from '../store/file-version-store.ts';
import type { ControlStore } from './control-plane.ts';
import { StartupError } from './errors.ts';
import { openFleet, type Fleet, type MetricSnapshots } from './fleet.ts';

/** store.dir, or .sluice/<config file name>/ beside the config file (so two configs in one folder never share). */
export function storeDir(file: ConfigFile, config: SluiceConfig): string {
  const base = dirname(file.path);
  return config.store.dir === undefined ? join(base, '.sluice', file.path.slice(base.length + 1)) : resolve(base, config.store.dir);
}

/**
 * `metrics` is read only once the instance serves (staged rollouts measure with it), so it may close over what
 * is created after the store.
 */
export async function openControlStore(file: ConfigFile, config: SluiceConfig, log: Logger, metrics: MetricSnapshots): Promise<ControlStore & { fleet?: Fleet }> {
  const { etcd } = config.store;
  if (etcd !== undefined) {
    try {
      const store = await EtcdVersionStore.open({ ...etcd, maxVersions: config.store.maxVersions });
      const audit = new EtcdAuditLog(store.client, etcd.prefix, store.location);
      const fleet = openFleet(store, audit, etcd, log, metrics);
      return { store, audit, rollouts: fleet.rollouts, fleet };
    } catch (err) {
      // DESIGN.md: a store unreachable at start is a runtime failure. Serving the local file instead could put a
      // config in service that the fleet replaced long ago, with nothing to show for it.
      throw new StartupError(`cannot open the config store: ${(err as Error).message}`, 2);
    }
  }
  const dir = storeDir(file, config);
  try {
    const store = await FileVersionStore.open(dir, {
      maxVersions: config.store.maxVersions,
      onWarning: (message, detail) => log.warn({ store: dir, ...detail }, message),
    });
    const audit = await AuditLog.open(join(dir, 'audit.log'));
    for (const name of await file.removeLeftovers()) log.warn({ file: name }, 'removed the leftover of an interrupted config file write');
    return { store, audit };
  } catch (err) {
    throw new StartupError(`cannot open the config store ${dir}: ${(err as Error).message}`, 2);
  }
}

/** The admin API's tokens from SLUICE_ADMIN_TOKEN and admin.tokenFile (relative to the config file). */
export function adminAuth(file: ConfigFile, config: SluiceConfig, log: Logger): AdminAuth {
  const tokenFile = config.admin.tokenFile === undefined ? undefined : resolve(dirname(file.path), config.admin.tokenFile);
  try {
    return new AdminAuth({
      envToken: process.env.SLUICE_ADMIN_TOKEN,
      tokenFile,
      onError: (message) => log.error({ tokenFile }, `${message}; only SLUICE_ADMIN_TOKEN (if set) is accepted until the file is fixed`),
    });
  } catch (err) {
    throw new StartupError((err as Error).message, 1);
  }
}
