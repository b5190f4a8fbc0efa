// What starts a reload besides the admin API: an edit of the config file, and SIGHUP (as nginx and HAProxy do).
// With a shared store (etcd) the store is followed instead, and an edit of the local file, which then only
// bootstraps the instance, is pointed out rather than applied.
import type { Logger } from '../observability/logger.ts';
import type { ConfigFile } from '../store/config-file.ts';
import { FILE_CHANGE, type ControlPlane } from './control-plane.ts';

/** Wires the file watch (or the store) and SIGHUP to control.reload(); returns the function that unwires them. */
export function watchForReloads(file: ConfigFile, control: ControlPlane, log: Logger): () => void {
  const unfollow = control.followStore();
  const onFileChange = control.shared
    ? () =>
        log.warn(
          { file: file.path, store: control.storeStatus().location },
          'the config file changed, but the config in service lives in the config store: apply it with `sluice config apply -f FILE` (the file only bootstraps this instance)',
        )
    : () => void control.reload(FILE_CHANGE);
  const unwatch = file.watch(onFileChange, {
    onError: (err) => log.error({ err: err.message, file: file.path }, 'cannot watch the config file; reload with SIGHUP or POST /api/v1/reload'),
  });
  const onHup = () => void control.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    unfollow();
    unwatch();
    process.off('SIGHUP', onHup);
  };
}
