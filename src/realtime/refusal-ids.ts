/**
 * The cid, rid and room a refused frame carried (bounded, and only when they are strings), for its
 * error frame: the client can then tell which of its messages or requests was refused.
 */
export interface RefusalIds {
  cid?: string;
  rid?: string;
  room?: string;
}

export function refusalIds(json: unknown): RefusalIds {
  const ids: RefusalIds = {};
  if (typeof json !== 'object' || json === null) return ids;
  const { cid, rid, room } = json as { cid?: unknown; rid?: unknown; room?: unknown };
  if (typeof cid === 'string' && cid.length > 0) ids.cid = cid.slice(0, 64);
  if (typeof rid === 'string' && rid.length > 0) ids.rid = rid.slice(0, 64);
  if (typeof room === 'string' && room.length > 0) ids.room = room.slice(0, 200);
  return ids;
}
