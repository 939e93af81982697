/**
 * The look-alike keys of accounts that existed before the stores kept them (the migration that
 * adds them, in both stores). Two registered accounts made before may look alike; neither is
 * renamed or removed: the older one (lower id) holds the key they share, the other has none there (null)
 * and keeps its name and its login, while every new name that looks like theirs is refused because
 * of the older one. Guests get their keys too, though they hold none (guests may share names).
 */
import { nameSkeletons } from '../protocol/names.js';

export interface ExistingUser {
  id: number;
  name: string;
  guest: boolean;
}

export interface UserSkeletons {
  id: number;
  folded: string | null;
  cased: string | null;
}

export function skeletonsOfExisting(users: readonly ExistingUser[]): UserSkeletons[] {
  const held = { folded: new Set<string>(), cased: new Set<string>() };
  return [...users]
    .sort((a, b) => a.id - b.id)
    .map((user) => {
      const { folded, cased } = nameSkeletons(user.name);
      if (user.guest) return { id: user.id, folded, cased };
      // Each key held by the oldest account that has it; a younger one keeps the keys nobody holds.
      const keep = { id: user.id, folded: held.folded.has(folded) ? null : folded, cased: held.cased.has(cased) ? null : cased };
      held.folded.add(folded);
      held.cased.add(cased);
      return keep;
    });
}
