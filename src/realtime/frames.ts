/**
 * Server-to-client frames, encoded once. A server frame is never masked, so the same bytes are
 * valid on every connection: a room broadcast serializes and frames a message once per node.
 */
import type { ServerMessage } from './protocol.js';

const FIN_TEXT = 0x81;

/**
 * The complete WebSocket text frame (RFC 6455 §5.2: header + JSON payload) of one server message,
 * in a single buffer. ws's Sender.frame returns the header and payload apart, which would cost a
 * second allocation and copy per message to join them; the header of an unmasked frame is 2-10 bytes.
 */
export function encodeFrame(message: ServerMessage): Buffer {
  const json = JSON.stringify(message);
  const length = Buffer.byteLength(json);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = FIN_TEXT;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  frame.write(json, header, 'utf8');
  return frame;
}
