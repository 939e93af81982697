/**
 * Server-to-client frames, encoded once. A server frame is never masked, so the same bytes are
 * valid on every connection: a room broadcast serializes and frames a message once per node.
 */
import { Sender } from 'ws';
import type { ServerMessage } from './protocol.js';

const TEXT = 0x1;
const frameOptions = { fin: true, opcode: TEXT, mask: false, readOnly: true, rsv1: false };

/** The complete WebSocket text frame (header + JSON payload) of one server message. */
export function encodeFrame(message: ServerMessage): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const parts = Sender.frame(payload, frameOptions);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
