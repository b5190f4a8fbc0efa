// Crash-safe file replacement: a reader (or a restart after SIGKILL or power loss) sees the old content or the
// new content, never a mix or a truncated file. The steps are the classic ones (as SQLite, etcd's WAL and
// `git` do it): write a temp file in the same directory, fsync it so its bytes are on disk before its name is,
// rename it over the target (atomic on POSIX within one file system), then fsync the directory so the rename
// itself survives a power cut.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp files start with this, so a store can recognise (and remove) the leftovers of an interrupted write. */
export const TEMP_PREFIX = '.tmp-';

/**
 * Replaces `path` with `data` atomically and durably.
 *
 * @example
 * await writeFileAtomic('/etc/sluice/sluice.yaml', text, 0o644);
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
  const file = await open(tmp, 'wx', mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** fsync of a directory makes the names created, renamed or removed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
