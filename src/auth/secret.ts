/**
 * The key that signs session tokens. Generated once and kept in the data dir, so sessions survive
 * restarts; SESSION_SECRET overrides it (and must be shared by every node of a cluster).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_FILE = 'session-secret';
const MIN_SECRET_CHARS = 32;

export async function loadOrCreateSecret(dataDir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  // Write a private temp file, then link it into place: link fails if another process won the
  // race, and nobody ever reads a half-written secret.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, secret + '\n', { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readSecret(file);
    if (winner === undefined) throw new Error(`cannot read ${file}`, { cause: err });
    return winner;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_CHARS) {
    throw new Error(`${file} holds no usable secret (fewer than ${MIN_SECRET_CHARS} characters); delete it to generate a new one`);
  }
  return secret;
}
