/**
 * What survives a reload, per user, in localStorage: the public rooms joined, the private rooms
 * and DMs left, and the last message read in each room. Every change is written at once: a reload
 * right after leaving a room must not bring it back.
 */

interface Prefs {
  /** Public rooms the user joined (private rooms and DMs are joined by membership). */
  joined: string[];
  /** Private rooms the user left, hidden until a new message arrives (and DMs left with an earlier page). */
  hidden: string[];
  read: Record<string, number>;
}

let key = 'parley:0';
let prefs: Prefs = { joined: [], hidden: [], read: {} };

/** Reads the preferences of the user who just signed in. */
export function loadPrefs(userId: number): void {
  key = `parley:${userId}`;
  try {
    const raw = localStorage.getItem(key);
    const parsed = raw ? (JSON.parse(raw) as Partial<Prefs>) : {};
    prefs = { joined: parsed.joined ?? [], hidden: parsed.hidden ?? [], read: parsed.read ?? {} };
  } catch {
    prefs = { joined: [], hidden: [], read: {} };
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

/** The last message id read in `room`, if the user was ever there. */
export function readMark(room: string): number | undefined {
  return prefs.read[room];
}

export function setReadMark(room: string, id: number): void {
  prefs.read[room] = id;
  save();
}
