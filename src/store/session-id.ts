import { randomBytes } from 'node:crypto';

/** A new session id: 128 random bits in base64url (22 characters), as every Store makes them. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}
