/**
 * The files of TLS_CERT and TLS_KEY, read and checked before anything else starts, so that a missing
 * file or a key that does not belong to the certificate is reported naming its setting, not in
 * Node's or OpenSSL's words ("ENOENT … open", "PEM routines::no start line").
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { SettingName } from './config.js';

/** A setting whose value the server cannot use: `setting` names it, `problem` says why. */
export class SettingError extends Error {
  constructor(
    readonly setting: SettingName,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`${setting}=${value}: ${problem}`);
  }
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'not allowed to read it',
  EPERM: 'not allowed to read it',
  EISDIR: 'a folder, not a file',
};

async function readSettingFile(setting: SettingName, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new SettingError(setting, path, FILE_PROBLEMS[code] ?? `cannot read it (${code || (err as Error).message})`);
  }
}

export async function readTlsFiles(tls: { cert: string; key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const cert = await readSettingFile('TLS_CERT', tls.cert);
  const key = await readSettingFile('TLS_KEY', tls.key);
  try {
    new X509Certificate(cert);
  } catch {
    throw new SettingError('TLS_CERT', tls.cert, 'not a PEM certificate');
  }
  try {
    createPrivateKey(key);
  } catch {
    throw new SettingError('TLS_KEY', tls.key, 'not a PEM private key (or one protected by a passphrase)');
  }
  try {
    createSecureContext({ cert, key });
  } catch {
    throw new SettingError('TLS_KEY', tls.key, `not the private key of the certificate in TLS_CERT (${tls.cert})`);
  }
  return { cert, key };
}
