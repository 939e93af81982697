/**
 * Creates the data folder (and any missing parents) before anything is stored in it, and says
 * plainly when it cannot. Node's recursive mkdir retries forever when the kernel answers ENOENT for
 * a folder whose parent exists (procfs, sysfs: DATA_DIR=/proc/x hung `parley serve` silently), so
 * each level is made here at most twice, and a failure is one error naming DATA_DIR.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** A new data folder is the server's alone: it holds password hashes, private messages and the signing key. */
const DATA_DIR_MODE = 0o700;

export async function ensureDataDir(dir: string): Promise<void> {
  const path = resolve(dir);
  try {
    await makeFolder(path, DATA_DIR_MODE, false);
  } catch (err) {
    throw new Error(`cannot use DATA_DIR ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Makes `path`; on ENOENT makes its parent first (with the default mode), once: a second ENOENT is the answer. */
async function makeFolder(path: string, mode: number | undefined, parentMade: boolean): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(path)).isDirectory()) throw new Error(`${path} is a file, not a folder`, { cause: err });
      return;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parentMade || parent === path) throw err;
    await makeFolder(parent, undefined, false);
    await makeFolder(path, mode, true);
  }
}
