/**
 * The cid and room a refused frame carried (bounded, and only when they are strings), for its error
 * frame: the client can then tell which message was refused.
 */
export function refusalIds(json: unknown): { cid?: string; room?: string } {
  const ids: { cid?: string; room?: string } = {};
  if (typeof json !== 'object' || json === null) return ids;
  const { cid, room } = json as { cid?: unknown; room?: unknown };
  if (typeof cid === 'string' && cid.length > 0) ids.cid = cid.slice(0, 64);
  if (typeof room === 'string' && room.length > 0) ids.room = room.slice(0, 200);
  return ids;
}
