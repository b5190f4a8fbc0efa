// What starts a reload besides the admin API: an edit of the config file, and SIGHUP (as nginx and HAProxy do).
import type { Logger } from '../observability/logger.ts';
import type { ConfigFile } from '../store/config-file.ts';
import { FILE_CHANGE, type ControlPlane } from './control-plane.ts';

/** Wires the file watch and SIGHUP to control.reload(); returns the function that unwires both. */
export function watchForReloads(file: ConfigFile, control: ControlPlane, log: Logger): () => void {
  const unwatch = file.watch(() => void control.reload(FILE_CHANGE), {
    onError: (err) => log.error({ err: err.message, file: file.path }, 'cannot watch the config file; reload with SIGHUP or POST /api/v1/reload'),
  });
  const onHup = () => void control.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    unwatch();
    process.off('SIGHUP', onHup);
  };
}
