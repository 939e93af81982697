/**
 * Creates the data folder (and any missing parents) before anything is stored in it, and says
 * plainly when it cannot. Node's recursive mkdir retries forever when the kernel answers ENOENT for
 * a folder whose parent exists (procfs, sysfs: DATA_DIR=/proc/x hung `parley serve` silently), so
 * each level is made here at most twice, and a failure is one error naming DATA_DIR.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export async function ensureDataDir(dir: string): Promise<void> {
  const path = resolve(dir);
  try {
    await makeFolder(path, false);
  } catch (err) {
    throw new Error(`cannot use DATA_DIR ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Makes `path`; on ENOENT makes its parent first, once: a second ENOENT is the answer. */
async function makeFolder(path: string, parentMade: boolean): Promise<void> {
  try {
    await mkdir(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(path)).isDirectory()) throw new Error(`${path} is a file, not a folder`, { cause: err });
      return;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parentMade || parent === path) throw err;
    await makeFolder(parent, false);
    await makeFolder(path, true);
  }
}
