/** The users `parley chat` has seen, by id: the names in DM labels, and the targets of `/dm NAME`. */
import type { WireUser } from '../client/index.js';

export class KnownUsers {
  readonly #names = new Map<number, string>();

  learn(users: Iterable<Pick<WireUser, 'id' | 'name'>>): void {
    for (const u of users) this.#names.set(u.id, u.name);
  }

  /** `dm ann` for a DM room (the other user, `#id` while unknown); any other room as its name. */
  label(room: string, selfId: number | undefined): string {
    const ids = room.startsWith('dm:') ? room.slice(3).split(':').map(Number) : undefined;
    if (!ids) return room;
    const other = ids.find((id) => id !== selfId) ?? ids[0]!;
    return `dm ${this.#names.get(other) ?? `#${other}`}`;
  }

  /**
   * The user id `target` names: a number is an id; a name is looked up among `members` (the current
   * room) and everyone seen, exactly first, then ignoring case.
   */
  resolve(target: string, members: WireUser[]): number | undefined {
    if (/^[1-9][0-9]*$/.test(target)) return Number(target);
    const candidates = [...members, ...[...this.#names].map(([id, name]) => ({ id, name }))];
    return (
      candidates.find((u) => u.name === target)?.id ??
      candidates.find((u) => u.name.toLowerCase() === target.toLowerCase())?.id
    );
  }
}
