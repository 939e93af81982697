import type { PresenceUser } from './types.js';

/** By name in the default locale's collation (String#localeCompare's order), then by id. */
const collate = new Intl.Collator().compare;

/** The order of a room's `list`, the same from every Presence implementation. */
export const presenceOrder = (a: PresenceUser, b: PresenceUser): number => collate(a.name, b.name) || a.id - b.id;
