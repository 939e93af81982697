/**
 * Search on the SQLite store (see migration 10). Messages are indexed in the background rather than
 * as they are stored: the FTS5 insert of a message costs several times what storing it does, and
 * the plain message is the store's hot path. Each room's `indexed_id` says how far it is indexed;
 * a search looks up the index, and reads the rest (the newest messages, not indexed yet) itself,
 * so every message is found from the moment it is stored.
 *
 * The index is one contentless FTS5 trigram table over each message's searchDocument (its folded
 * text and the keys of its short terms, search-text.ts), with detail=none (a key, not where it is:
 * matchesSearch checks each candidate), and `secure-delete` on, so a deleted message's keys are
 * taken out of the index rather than marked. Its rowid is a `doc` ordered by ts (search_docs maps
 * it to the message), so the newest matches come first and a page stops early.
 */
import type Database from 'better-sqlite3';
import { SearchPageBuilder } from '../search-page.js';
import { matchesSearch, searchDocument, searchKeys, searchTerms } from '../search-text.js';
import type { SearchPage, SearchQuery, StoredMessage } from '../types.js';

/** Docs are (ts - DOC_EPOCH) × DOCS_PER_MS + n: ordered by ts, unique, and below 2^53 for ts in 1970-2093. */
const DOC_EPOCH = 1_700_000_000_000;
const DOCS_PER_MS = 4096;
/** Candidates read from the index per round of a search. */
const CHUNK = 200;

/** A message row as the store reads it (the columns search needs). */
export interface SearchRow {
  room: string;
  id: number;
  user_id: number;
  user_name: string;
  user_guest: number | null;
  data: string;
  ts: number;
  cid: string | null;
  kind: number | null;
  ref: number | null;
  mentions: string | null;
  edited: number | null;
  deleted: number | null;
}

/** What the index needs of the store: where messages are (any of its tables), and how a row reads. */
export interface SearchStoreAccess {
  /** The rows of the room with id > after, oldest first, up to limit (every table). */
  rowsAfter(room: string, after: number, limit: number): SearchRow[];
  /**
   * The messages not indexed yet (id > their room's indexed_id) of the rooms the user may read (or
   * of `room`), not deleted, with ts < before, that contain each of `likes` (LIKE patterns) unless
   * their text has a character outside ASCII. The same message may come twice (a staged copy).
   */
  unindexed(scope: { userId: number; room: string | null; now: number }, before: number, likes: string[]): SearchRow[];
  /** The row at (room, id), wherever it is. */
  rowAt(room: string, id: number): SearchRow | undefined;
  toMessage(row: SearchRow): StoredMessage;
}

const docBase = (ts: number) => (Math.trunc(ts) - DOC_EPOCH) * DOCS_PER_MS;
/** The ts of a doc (at most: a doc past its millisecond's range belongs to an earlier one). */
const docTs = (doc: number) => Math.floor(doc / DOCS_PER_MS) + DOC_EPOCH;

export class SearchIndex {
  readonly #db: Database.Database;
  readonly #store: SearchStoreAccess;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(db: Database.Database, store: SearchStoreAccess) {
    this.#db = db;
    this.#store = store;
    this.#stmt = prepare(db);
  }

  /** The rooms with messages not indexed yet. */
  roomsBehind(): string[] {
    return this.#stmt.roomsBehind.all() as string[];
  }

  /**
   * In the caller's write transaction: indexes the messages after each room's indexed_id, up to
   * `budget` rows in all. Returns how many rows it read and the rooms it finished (or found done).
   */
  step(rooms: Iterable<string>, budget: number): { read: number; finished: string[] } {
    const s = this.#stmt;
    const next = new Map<number, number>();
    const finished: string[] = [];
    let read = 0;
    for (const room of rooms) {
      const at = s.roomState.get(room) as { indexed_id: number; last_id: number } | undefined;
      if (at === undefined || at.indexed_id >= at.last_id) {
        finished.push(room);
        continue;
      }
      if (read >= budget) break;
      const rows = this.#store.rowsAfter(room, at.indexed_id, budget - read);
      read += rows.length;
      for (const row of rows) if (row.kind === null && row.deleted === null) this.#insert(row, next);
      // Pruned ids (a hole before the rows) and events are done too: the room is indexed up to its last row read.
      const upTo = rows.length > 0 ? rows.at(-1)!.id : at.last_id;
      s.setIndexed.run(upTo, room);
      if (upTo >= at.last_id) finished.push(room);
    }
    return { read, finished };
  }

  #insert(row: SearchRow, next: Map<number, number>): void {
    const s = this.#stmt;
    const base = docBase(row.ts);
    let doc = next.get(base);
    if (doc === undefined) {
      const max = s.maxDocIn.get(base, base + DOCS_PER_MS) as number | null;
      doc = max === null ? base : max + 1;
    }
    // More than DOCS_PER_MS messages in one millisecond: past every doc there is (still unique).
    if (doc >= base + DOCS_PER_MS) doc = (s.maxDoc.get() as number) + 1;
    next.set(base, doc + 1);
    s.insertDoc.run(doc, row.room, row.id);
    s.insertText.run(doc, searchDocument(row.data));
  }

  /** In the caller's write transaction: message (room, id) now reads `text`; re-indexes it if it was indexed. */
  update(room: string, id: number, text: string): void {
    const doc = this.#stmt.docOf.get(room, id) as number | undefined;
    if (doc === undefined) return;
    this.#stmt.deleteText.run(doc);
    this.#stmt.insertText.run(doc, searchDocument(text));
  }

  /** In the caller's write transaction: message (room, id) is deleted; its keys leave the index. */
  remove(room: string, id: number): void {
    const doc = this.#stmt.docOf.get(room, id) as number | undefined;
    if (doc === undefined) return;
    this.#stmt.deleteText.run(doc);
    this.#stmt.deleteDoc.run(doc);
  }

  /** In the caller's write transaction: the room's messages up to `upTo` were pruned. */
  removeUpTo(room: string, upTo: number): void {
    for (const doc of this.#stmt.docsUpTo.all(room, upTo) as number[]) this.#stmt.deleteText.run(doc);
    this.#stmt.deleteDocsUpTo.run(room, upTo);
  }

  /** A page of search results (see Store.search), read in one snapshot. */
  search(query: SearchQuery): SearchPage {
    const terms = searchTerms(query.q);
    if (terms.length === 0) return { data: [], more: false };
    const keys = searchKeys(terms);
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const scope = { userId: query.userId, room: query.room ?? null, now: query.now ?? Date.now() };
    return this.#db
      .transaction(() => {
        const matches = (row: SearchRow | undefined): row is SearchRow =>
          row !== undefined && row.kind === null && row.deleted === null && row.ts < before && matchesSearch(row.data, terms);
        // The messages not indexed yet are read here: every one of them, so the page can be cut exactly.
        // A text of ASCII alone folds to itself in lower case, so SQL's LIKE (ASCII case aside) weeds those out.
        const tail: StoredMessage[] = [];
        const seen = new Set<string>();
        const likes = terms.map((t) => `%${t.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
        for (const row of this.#store.unindexed(scope, before, likes)) {
          const key = `${row.room}\n${row.id}`;
          if (seen.has(key) || !matches(row)) continue;
          seen.add(key);
          tail.push(this.#store.toMessage(row));
        }
        const page = new SearchPageBuilder(query.limit, tail);
        if (keys.length === 0) {
          page.end();
          return page.page();
        }
        const match = keys.map((k) => `"${k.replaceAll('"', '""')}"`).join(' AND ');
        let cursor = before >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : docBase(before);
        while (!page.complete) {
          const candidates = this.#stmt.candidates.all({ ...scope, match, cursor, limit: CHUNK }) as Array<{ doc: number; room: string; id: number }>;
          if (candidates.length === 0) {
            page.end();
            break;
          }
          const found: StoredMessage[] = [];
          for (const c of candidates) {
            const row = this.#store.rowAt(c.room, c.id);
            if (matches(row)) found.push(this.#store.toMessage(row));
          }
          cursor = candidates.at(-1)!.doc;
          page.add(found, docTs(cursor));
        }
        return page.page();
      })
      .deferred();
  }
}

/**
 * Who may read a room: public, or the user is a member (the same rule as listRooms); and the user
 * is not banned from it at @now.
 */
export const READABLE = `(r.private = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = @userId))
  AND NOT EXISTS (SELECT 1 FROM room_restrictions b WHERE b.room = r.name AND b.user_id = @userId AND b.kind = 'ban' AND (b.until IS NULL OR b.until > @now))`;

function prepare(db: Database.Database) {
  return {
    roomsBehind: db.prepare('SELECT name FROM rooms WHERE last_id > indexed_id').pluck(),
    roomState: db.prepare('SELECT indexed_id, last_id FROM rooms WHERE name = ?'),
    setIndexed: db.prepare('UPDATE rooms SET indexed_id = ? WHERE name = ?'),
    maxDocIn: db.prepare('SELECT max(doc) FROM search_docs WHERE doc >= ? AND doc < ?').pluck(),
    maxDoc: db.prepare('SELECT coalesce(max(doc), 0) FROM search_docs').pluck(),
    insertDoc: db.prepare('INSERT INTO search_docs (doc, room, id) VALUES (?, ?, ?)'),
    // FTS5 takes a rowid bound as a float (how JavaScript numbers are bound) for no rowid at all: cast.
    insertText: db.prepare('INSERT INTO search (rowid, text) VALUES (CAST(? AS INTEGER), ?)'),
    deleteText: db.prepare('DELETE FROM search WHERE rowid = CAST(? AS INTEGER)'),
    docOf: db.prepare('SELECT doc FROM search_docs WHERE room = ? AND id = ?').pluck(),
    deleteDoc: db.prepare('DELETE FROM search_docs WHERE doc = ?'),
    docsUpTo: db.prepare('SELECT doc FROM search_docs WHERE room = ? AND id <= ?').pluck(),
    deleteDocsUpTo: db.prepare('DELETE FROM search_docs WHERE room = ? AND id <= ?'),
    candidates: db.prepare(
      `SELECT d.doc, d.room, d.id FROM search s
       JOIN search_docs d ON d.doc = s.rowid
       JOIN rooms r ON r.name = d.room
       WHERE search MATCH @match AND s.rowid < CAST(@cursor AS INTEGER) AND (@room IS NULL OR d.room = @room) AND ${READABLE}
       ORDER BY s.rowid DESC LIMIT @limit`,
    ),
  };
}
