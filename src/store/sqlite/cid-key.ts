/**
 * The key of messages_recent's cid index: a 32-bit FNV-1a hash of (room, user id, cid). A hash
 * keeps the index a few pages small however long the cids are; it is not unique, so every lookup
 * also compares the room, user and cid themselves. Every connection to a database must compute
 * the same key: changing this function needs a migration that recomputes messages_recent.cid_key.
 */
export function cidKey(room: string, userId: number, cid: string): number {
  let h = 0x811c9dc5;
  h = fnv(h, room);
  // The user id as four bytes (ids fit 32 bits; a larger one still hashes deterministically).
  for (let v = userId >>> 0, i = 0; i < 4; i++, v >>>= 8) h = Math.imul(h ^ (v & 0xff), 0x01000193);
  h = Math.imul(h ^ 0xff, 0x01000193); // a separator, so ("ab", "c") and ("a", "bc") differ
  h = fnv(h, cid);
  return h >>> 0;
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193);
}
