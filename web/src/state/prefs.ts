/**
 * What survives a reload, per user, in localStorage: the public rooms joined, and the private rooms
 * and DMs left. Every change is written at once: a reload right after leaving a room must not bring
 * it back. (What was read is the server's: read markers agree across tabs and devices.)
 */

interface Prefs {
  /** Public rooms the user joined (private rooms and DMs are joined by membership). */
  joined: string[];
  /** Private rooms the user left, hidden until a new message arrives (and DMs left with an earlier page). */
  hidden: string[];
}

let key = 'parley:0';
let prefs: Prefs = { joined: [], hidden: [] };

/** Reads the preferences of the user who just signed in. */
export function loadPrefs(userId: number): void {
  key = `parley:${userId}`;
  try {
    const raw = localStorage.getItem(key);
    const parsed = raw ? (JSON.parse(raw) as Partial<Prefs>) : {};
    prefs = { joined: parsed.joined ?? [], hidden: parsed.hidden ?? [] };
  } catch {
    prefs = { joined: [], hidden: [] };
  }
}

function save(): void {
  try {
    localStorage.setItem(key, JSON.stringify(prefs));
  } catch {
    // Private mode or a full quota: preferences just do not survive a reload.
  }
}

export function isJoined(room: string): boolean {
  return prefs.joined.includes(room);
}

export function isHidden(room: string): boolean {
  return prefs.hidden.includes(room);
}

export function markJoined(room: string): void {
  prefs.joined = [...new Set([...prefs.joined, room])];
  save();
}

/** Forgets a public room joined and, for a private room (`hide`), keeps it out of the list. */
export function markLeft(room: string, hide: boolean): void {
  prefs.joined = prefs.joined.filter((r) => r !== room);
  if (hide) prefs.hidden = [...new Set([...prefs.hidden, room])];
  save();
}

export function unhide(room: string): void {
  prefs.hidden = prefs.hidden.filter((r) => r !== room);
  save();
}
