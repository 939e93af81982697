/**
 * The behaviour every Store implementation must have. An implementation's test file calls
 * `runStoreContract('SqliteStore', open)`; `open` gives a fresh, empty store per test and a
 * cleanup that closes it (whether or not the test closed it already) and removes what it made.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NameBannedError,
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  type AppendResult,
  type NewEntry,
  type NewMessage,
  type Store,
  type StoredMessage,
  type TimelineEntry,
  type User,
} from '../src/store/types.js';
import { chats } from './helpers/appended.js';

export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;
/**
 * Two handles on one fresh, empty database (two connections, as two nodes would have), and a
 * cleanup that closes both and removes what was made.
 */
export type OpenStorePair = () => Promise<{ stores: [Store, Store]; cleanup: () => Promise<void> }>;

export function runStoreContract(name: string, open: OpenStore, openPair?: OpenStorePair): void {
  /** Runs `fn` against a fresh store and always cleans up. */
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const { store, cleanup } = await open();
    try {
      await fn(store);
    } finally {
      await cleanup();
    }
  };

  const registered = (store: Store, name: string, passwordHash = 'scrypt$hash') =>
    store.createUser({ name, passwordHash, guest: false });
  const guest = (store: Store, name: string) => store.createUser({ name, passwordHash: null, guest: true });
  const readMarkers = async (store: Store, userId: number) => (await store.welcomeRooms(userId, Date.now())).read;
  const userModeration = async (store: Store, userId: number, now: number) => (await store.welcomeRooms(userId, now)).moderation;

  let ts = 1_700_000_000_000;
  const msg = (room: string, user: User, data: string, cid?: string): NewMessage => ({
    room,
    user: { id: user.id, name: user.name },
    data,
    ts: ts++,
    ...(cid === undefined ? {} : { cid }),
  });

  /** Appends `count` messages to `room` one batch at a time and returns what was stored. */
  const fill = async (store: Store, room: string, user: User, count: number): Promise<StoredMessage[]> => {
    const batch = Array.from({ length: count }, (_, i) => msg(room, user, `message ${i + 1}`));
    return (chats(await store.appendMessages(batch))).map((r) => r.message);
  };

  const ids = (entries: Array<{ id: number }>) => entries.map((m) => m.id);
  /** Entries of a timeline that holds messages only, as messages. */
  const messagesOf = (entries: TimelineEntry[]): StoredMessage[] =>
    entries.map((e) => {
      assert.equal(e.kind, undefined, `a message, not ${e.kind}`);
      return e as StoredMessage;
    });
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  describe(`Store contract: ${name}`, () => {
    describe('accounts', () => {
      it('creates users with distinct positive integer ids and finds them by id', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const bob = await guest(store, 'bob');
        for (const u of [alice, bob]) assert.ok(Number.isSafeInteger(u.id) && u.id > 0, `id ${u.id}`);
        assert.notEqual(alice.id, bob.id);
        assert.deepEqual(alice, { id: alice.id, name: 'alice', guest: false });
        assert.deepEqual(bob, { id: bob.id, name: 'bob', guest: true });
        assert.deepEqual(await store.getUser(alice.id), alice);
        assert.deepEqual(await store.getUser(bob.id), bob);
        assert.equal(await store.getUser(Math.max(alice.id, bob.id) + 1000), undefined);
      }));

      it('rejects a registered name that differs only in case', withStore(async (store) => {
        await registered(store, 'Alice');
        for (const taken of ['alice', 'ALICE', 'Alice', 'aLiCe']) {
          await assert.rejects(registered(store, taken), (err: unknown) => {
            assert.ok(err instanceof NameTakenError);
            assert.equal(err.code, 'name_taken');
            return true;
          });
        }
        assert.equal((await registered(store, 'Alicia')).name, 'Alicia');
      }));

      it('treats composed and decomposed accents as the same registered name', withStore(async (store) => {
        await registered(store, 'Ren\u00e9e');
        await assert.rejects(registered(store, 'Rene\u0301e'), NameTakenError);
        await assert.rejects(registered(store, 'RENE\u0301E'), NameTakenError);
      }));

      it('does not let a guest take a registered name, in any case', withStore(async (store) => {
        await registered(store, 'Carol');
        await assert.rejects(guest(store, 'Carol'), NameTakenError);
        await assert.rejects(guest(store, 'carol'), NameTakenError);
      }));

      it('lets two guests share a name as different users', withStore(async (store) => {
        const one = await guest(store, 'dave');
        const two = await guest(store, 'dave');
        const three = await guest(store, 'DAVE');
        assert.equal(new Set([one.id, two.id, three.id]).size, 3);
        assert.equal((await store.getUser(two.id))?.name, 'dave');
        assert.equal((await store.getUser(three.id))?.name, 'DAVE');
      }));

      it('lets an account register a name that only guests used', withStore(async (store) => {
        const g = await guest(store, 'erin');
        const r = await registered(store, 'Erin');
        assert.notEqual(g.id, r.id);
        assert.equal((await store.findRegisteredUser('erin'))?.id, r.id);
        assert.deepEqual(await store.getUser(g.id), { id: g.id, name: 'erin', guest: true });
      }));

      it('finds a registered user by name, case-insensitively, with the password hash', withStore(async (store) => {
        const before = Date.now();
        const frank = await registered(store, 'Frank', 'scrypt$abc$def');
        const after = Date.now();
        for (const query of ['Frank', 'frank', 'FRANK']) {
          const found = await store.findRegisteredUser(query);
          assert.ok(found, query);
          assert.equal(found.id, frank.id);
          assert.equal(found.name, 'Frank');
          assert.equal(found.guest, false);
          assert.equal(found.passwordHash, 'scrypt$abc$def');
          assert.ok(found.createdAt >= before && found.createdAt <= after, `createdAt ${found.createdAt}`);
        }
        assert.equal(await store.findRegisteredUser('nobody'), undefined);
      }));

      it('finds users by the start of their name, accounts first, case and composition aside', withStore(async (store) => {
        const made = [
          await registered(store, 'Mallory'),
          await guest(store, 'mal'),
          await registered(store, 'Malte'),
          await guest(store, 'MALLORY-2'),
          await registered(store, 'Bob'),
          await registered(store, 'Ma\u0301rton'),
          await registered(store, '小明'),
          await guest(store, '小明明'),
        ];
        const names = async (prefix: string, limit = 10) => (await store.findUsers(prefix, limit)).map((u) => u.name);
        assert.deepEqual(await names('mal'), ['Mallory', 'Malte', 'mal', 'MALLORY-2']);
        assert.deepEqual(await names('MALL'), ['Mallory', 'MALLORY-2']);
        assert.deepEqual(await names('mal', 2), ['Mallory', 'Malte'], 'at most limit, accounts first');
        assert.deepEqual(await names('m\u00e1'), ['Ma\u0301rton'], 'a precomposed á finds a decomposed one');
        assert.deepEqual(await names('小明'), ['小明', '小明明']);
        assert.deepEqual(await names('zed'), []);
        const found = await store.findUsers('bob', 5);
        assert.deepEqual(found, [{ id: made[4]!.id, name: 'Bob', guest: false }]);
        assert.deepEqual((await store.findUsers('mal', 10)).find((u) => u.name === 'mal'), { id: made[1]!.id, name: 'mal', guest: true });
      }));

      it('does not find guests as registered users', withStore(async (store) => {
        await guest(store, 'grace');
        assert.equal(await store.findRegisteredUser('grace'), undefined);
      }));

      it('refuses registered names and guests that look like a registered name', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        await registered(store, 'Alice2');
        for (const lookalike of ['ａｌｉｃｅ', '\u0430lice', 'al\u0131ce', 'AL\u0130CE', 'al\u200dice', 'ALIC\u0415']) {
          await assert.rejects(registered(store, lookalike), NameTakenError, `registered ${lookalike}`);
          await assert.rejects(guest(store, lookalike), NameTakenError, `guest ${lookalike}`);
        }
        // A capital I passes for a small l: "AIice2" looks like "Alice2", though "aiice2" is no "alice2".
        await assert.rejects(registered(store, 'AIice2'), NameTakenError);
        await assert.rejects(guest(store, 'AIice2'), NameTakenError);
        // Whatever the case of the rest, and with an I for the l and another for the i.
        for (const lookalike of ['AIice', 'AIICE', 'aIice']) {
          await assert.rejects(registered(store, lookalike), NameTakenError, `registered ${lookalike}`);
          await assert.rejects(guest(store, lookalike), NameTakenError, `guest ${lookalike}`);
        }
        assert.equal((await store.findRegisteredUser('ALICE'))?.id, alice.id);
        assert.equal(await store.findRegisteredUser('\u0430lice'), undefined, 'a look-alike is no login name');
        // Names that only look alike to a skeleton of their own are someone else.
        for (const name of ['Ann', 'Anna', '小明', '小朋', 'alicia']) assert.equal((await registered(store, name)).name, name);
      }));

      it('lets guests share a look-alike name while no account has it', withStore(async (store) => {
        const one = await guest(store, 'zoe');
        const two = await guest(store, 'ｚｏｅ');
        assert.notEqual(one.id, two.id);
        // An account may still take it; from then on no guest may.
        await registered(store, 'Zoe');
        await assert.rejects(guest(store, 'zoe'), NameTakenError);
        assert.deepEqual(await store.getUser(two.id), two);
      }));

      it('registers one of two look-alike names at the same moment, never both', withStore(async (store) => {
        for (const [a, b] of [['mallory', 'mall\u043Ery'], ['trent', 'TRENT'], ['Iris', 'lris']]) {
          const results = await Promise.allSettled([registered(store, a!), registered(store, b!)]);
          assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `${a} and ${b}`);
        }
      }));

      it('keeps Chinese, emoji and accented names exactly as given', withStore(async (store) => {
        for (const name of ['小明', '🎉 party', 'Zoë', 'Ольга', 'مريم', '👩‍💻']) {
          const u = await registered(store, name);
          assert.equal((await store.getUser(u.id))?.name, name);
          assert.equal((await store.findRegisteredUser(name))?.name, name);
        }
        await assert.rejects(registered(store, '小明'), NameTakenError);
        await assert.rejects(registered(store, 'ZOË'), NameTakenError);
        await assert.rejects(registered(store, 'ОЛЬГА'), NameTakenError);
      }));
    });

    describe('sessions', () => {
      const HOUR = 3_600_000;

      it('starts a session that names its user until it expires', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const now = Date.now();
        const session = await store.createSession(alice.id, now + HOUR);
        assert.match(session.id, /^[A-Za-z0-9_-]{22}$/);
        assert.deepEqual(session, { id: session.id, user: alice, expiresAt: now + HOUR });
        assert.deepEqual(await store.getSession(session.id, now), session);
        assert.deepEqual(await store.getSession(session.id, now + HOUR - 1), session);
        assert.equal(await store.getSession(session.id, now + HOUR), undefined, 'expired at expiresAt');
        assert.equal(await store.getSession('no-such-session-here', now), undefined);
        const other = await store.createSession(alice.id, now + HOUR);
        assert.notEqual(other.id, session.id);
        const g = await guest(store, 'visitor');
        assert.deepEqual((await store.getSession((await store.createSession(g.id, now + HOUR)).id, now))?.user, g);
        await assert.rejects(store.createSession(Math.max(alice.id, g.id) + 1000, now + HOUR));
      }));

      it('creates a user and its first session at once, or neither when the name is taken', withStore(async (store) => {
        const now = Date.now();
        const session = await store.createUserSession({ name: 'Alice', passwordHash: 'scrypt$x', guest: false }, now + HOUR);
        assert.match(session.id, /^[A-Za-z0-9_-]{22}$/);
        assert.deepEqual(await store.getSession(session.id, now), session);
        assert.deepEqual(await store.getUser(session.user.id), { id: session.user.id, name: 'Alice', guest: false });
        assert.equal((await store.findRegisteredUser('alice'))?.id, session.user.id);
        const visitor = await store.createUserSession({ name: 'visitor', passwordHash: null, guest: true }, now + HOUR);
        assert.deepEqual(visitor.user, { id: visitor.user.id, name: 'visitor', guest: true });
        assert.deepEqual(await store.getSession(visitor.id, now), visitor);
        await assert.rejects(store.createUserSession({ name: 'ALICE', passwordHash: null, guest: true }, now + HOUR), NameTakenError);
        await assert.rejects(store.createUserSession({ name: 'alice', passwordHash: 'scrypt$y', guest: false }, now + HOUR), NameTakenError);
        assert.deepEqual((await store.findUsers('alice', 10)).map((u) => u.id), [session.user.id], 'nobody else was created');
      }));

      it('forgets expired sessions when it starts a new one', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const now = Date.now();
        const old = await store.createSession(alice.id, now - 1);
        await store.createSession(alice.id, now + HOUR);
        // Found even by a clock that is behind: the row itself is gone.
        assert.equal(await store.getSession(old.id, now - 1000), undefined);
      }));

      it('ends one session and leaves the user\'s others', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const now = Date.now();
        const laptop = await store.createSession(alice.id, now + HOUR);
        const phone = await store.createSession(alice.id, now + HOUR);
        await store.endSession(laptop.id);
        assert.equal(await store.getSession(laptop.id, now), undefined);
        assert.deepEqual(await store.getSession(phone.id, now), phone);
        await store.endSession(laptop.id);
        await store.endSession('never-was-a-session-x');
      }));

      it('ends every session of a user, and only theirs', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const bob = await registered(store, 'bob');
        const now = Date.now();
        const mine = [await store.createSession(alice.id, now + HOUR), await store.createSession(alice.id, now + HOUR)];
        const bobs = await store.createSession(bob.id, now + HOUR);
        await store.endUserSessions(alice.id);
        for (const s of mine) assert.equal(await store.getSession(s.id, now), undefined);
        assert.deepEqual(await store.getSession(bobs.id, now), bobs);
        // A session started after that works.
        const again = await store.createSession(alice.id, now + HOUR);
        assert.deepEqual(await store.getSession(again.id, now), again);
      }));

      it('changes a password and ends every session of the account', withStore(async (store) => {
        const alice = await registered(store, 'alice', 'scrypt$old');
        const bob = await registered(store, 'bob');
        const now = Date.now();
        const sessions = [await store.createSession(alice.id, now + HOUR), await store.createSession(alice.id, now + HOUR)];
        const bobs = await store.createSession(bob.id, now + HOUR);
        await store.setPassword(alice.id, 'scrypt$new');
        assert.equal((await store.findRegisteredUser('alice'))?.passwordHash, 'scrypt$new');
        assert.equal((await store.findRegisteredUser('bob'))?.passwordHash, 'scrypt$hash');
        for (const s of sessions) assert.equal(await store.getSession(s.id, now), undefined);
        assert.deepEqual(await store.getSession(bobs.id, now), bobs);
      }));
    });

    describe('rooms', () => {
      it('creates a room that starts empty and can be read back', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const before = Date.now();
        const room = await store.createRoom({ name: 'general', private: false, createdBy: owner.id });
        const after = Date.now();
        assert.equal(room.name, 'general');
        assert.equal(room.private, false);
        assert.equal(room.direct, false);
        assert.equal(room.createdBy, owner.id);
        assert.equal(room.lastId, 0);
        assert.ok(room.createdAt >= before && room.createdAt <= after);
        assert.deepEqual(await store.getRoom('general'), room);
        assert.equal(await store.getRoom('nowhere'), undefined);
      }));

      it('creates a room without a creator (the default lobby)', withStore(async (store) => {
        const lobby = await store.createRoom({ name: 'lobby', private: false, createdBy: null });
        assert.equal(lobby.createdBy, null);
        assert.deepEqual(await store.getRoom('lobby'), lobby);
      }));

      it('refuses to create a room that exists', withStore(async (store) => {
        await store.createRoom({ name: 'dup', private: false, createdBy: null });
        await assert.rejects(store.createRoom({ name: 'dup', private: true, createdBy: null }), (err: unknown) => {
          assert.ok(err instanceof RoomExistsError);
          assert.equal(err.code, 'room_exists');
          return true;
        });
        assert.equal((await store.getRoom('dup'))?.private, false);
      }));

      it('makes the creator of a private room its only member', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const other = await registered(store, 'other');
        const room = await store.createRoom({ name: 'secret', private: true, createdBy: owner.id });
        assert.equal(room.private, true);
        assert.equal(await store.isMember('secret', owner.id), true);
        assert.equal(await store.isMember('secret', other.id), false);
        assert.equal(await store.isMember('nowhere', owner.id), false);
      }));

      it('lists public rooms to everyone and private rooms to members only, by name', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const other = await guest(store, 'other');
        await store.createRoom({ name: 'zeta', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'alpha', private: false, createdBy: null });
        await store.createRoom({ name: 'middle', private: true, createdBy: owner.id });
        await store.createRoom({ name: 'beta', private: true, createdBy: owner.id });

        const names = async (userId: number) => (await store.listRooms(userId)).map((r) => r.name);
        assert.deepEqual(await names(owner.id), ['alpha', 'beta', 'middle', 'zeta']);
        assert.deepEqual(await names(other.id), ['alpha', 'zeta']);

        assert.deepEqual((await store.welcomeRooms(owner.id, Date.now())).rooms, await names(owner.id));
        assert.deepEqual((await store.welcomeRooms(other.id, Date.now())).rooms, ['alpha', 'zeta']);

        await store.addMember('middle', other.id);
        assert.deepEqual(await names(other.id), ['alpha', 'middle', 'zeta']);
        assert.deepEqual((await store.welcomeRooms(other.id, Date.now())).rooms, ['alpha', 'middle', 'zeta']);
        assert.equal(await store.isMember('middle', other.id), true);

        const listed = (await store.listRooms(owner.id)).find((r) => r.name === 'beta');
        assert.deepEqual(listed, await store.getRoom('beta'));
      }));

      it('adds a member idempotently', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const other = await registered(store, 'other');
        await store.createRoom({ name: 'club', private: true, createdBy: owner.id });
        await store.addMember('club', other.id);
        await store.addMember('club', other.id);
        await store.addMember('club', owner.id);
        assert.equal(await store.isMember('club', other.id), true);
        assert.equal((await store.listRooms(other.id)).filter((r) => r.name === 'club').length, 1);
      }));

      it('refuses to add a member to a room that does not exist', withStore(async (store) => {
        const u = await registered(store, 'someone');
        await assert.rejects(store.addMember('nowhere', u.id), NoSuchRoomError);
      }));

      it('refuses to add an unknown user as a member', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        await store.createRoom({ name: 'club', private: true, createdBy: owner.id });
        await assert.rejects(store.addMember('club', owner.id + 1000));
        assert.equal(await store.isMember('club', owner.id + 1000), false);
      }));

      it('keeps a room name in any script', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        await store.createRoom({ name: '聊天室', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'café', private: false, createdBy: owner.id });
        assert.equal((await store.getRoom('聊天室'))?.name, '聊天室');
        assert.deepEqual(
          (await store.listRooms(owner.id)).map((r) => r.name).sort(),
          ['café', '聊天室'].sort(),
        );
      }));
    });

    describe('direct rooms', () => {
      it('creates dm:<low>:<high> as a private direct room with both users as members', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await registered(store, 'b');
        const c = await registered(store, 'c');
        const room = await store.ensureDirectRoom(b.id, a.id);
        const [low, high] = a.id < b.id ? [a.id, b.id] : [b.id, a.id];
        assert.equal(room.name, `dm:${low}:${high}`);
        assert.equal(room.private, true);
        assert.equal(room.direct, true);
        assert.equal(room.lastId, 0);
        assert.equal(await store.isMember(room.name, a.id), true);
        assert.equal(await store.isMember(room.name, b.id), true);
        assert.equal(await store.isMember(room.name, c.id), false);
        assert.ok((await store.listRooms(a.id)).some((r) => r.name === room.name));
        assert.ok((await store.listRooms(b.id)).some((r) => r.name === room.name));
        assert.ok(!(await store.listRooms(c.id)).some((r) => r.name === room.name));
      }));

      it('returns the same room on every call, in either order', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await guest(store, 'b');
        const first = await store.ensureDirectRoom(a.id, b.id);
        chats(await store.appendMessages([msg(first.name, a, 'hi')]));
        const again = await store.ensureDirectRoom(b.id, a.id);
        assert.equal(again.name, first.name);
        assert.equal(again.createdAt, first.createdAt);
        assert.equal(again.lastId, 1);
      }));

      it('agrees on one room when called concurrently', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await registered(store, 'b');
        const rooms = await Promise.all([
          store.ensureDirectRoom(a.id, b.id),
          store.ensureDirectRoom(b.id, a.id),
          store.ensureDirectRoom(a.id, b.id),
          store.ensureDirectRoom(b.id, a.id),
        ]);
        assert.equal(new Set(rooms.map((r) => r.name)).size, 1);
        assert.equal(new Set(rooms.map((r) => r.createdAt)).size, 1);
        const listed = (await store.listRooms(a.id)).filter((r) => r.direct);
        assert.equal(listed.length, 1);
      }));

      it('refuses a conversation with an unknown user and creates no room', withStore(async (store) => {
        const a = await registered(store, 'a');
        const ghost = a.id + 1000;
        await assert.rejects(store.ensureDirectRoom(a.id, ghost));
        assert.equal(await store.getRoom(`dm:${a.id}:${ghost}`), undefined);
        assert.deepEqual(await store.listRooms(a.id), []);
      }));

      it('keeps separate rooms for separate pairs', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await registered(store, 'b');
        const c = await registered(store, 'c');
        const ab = await store.ensureDirectRoom(a.id, b.id);
        const ac = await store.ensureDirectRoom(a.id, c.id);
        assert.notEqual(ab.name, ac.name);
        assert.equal(await store.isMember(ab.name, c.id), false);
        assert.deepEqual((await store.welcomeRooms(a.id, Date.now())).rooms, [ab.name, ac.name].sort());
        assert.deepEqual((await store.welcomeRooms(c.id, Date.now())).rooms, [ac.name]);
        assert.deepEqual(
          (await store.listRooms(a.id)).filter((r) => r.direct).map((r) => r.name),
          [ab.name, ac.name].sort(),
        );
      }));
    });

    describe('messages', () => {
      it('numbers messages 1, 2, 3… per room without gaps across batches', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'one', private: false, createdBy: u.id });
        await store.createRoom({ name: 'two', private: false, createdBy: u.id });
        const first = chats(await store.appendMessages([msg('one', u, 'a'), msg('two', u, 'b'), msg('one', u, 'c')]));
        const second = chats(await store.appendMessages([msg('one', u, 'd')]));
        const third = chats(await store.appendMessages([msg('two', u, 'e'), msg('two', u, 'f'), msg('one', u, 'g')]));
        const got = [...first, ...second, ...third].map((r) => [r.message.room, r.message.id, r.message.data]);
        assert.deepEqual(got, [
          ['one', 1, 'a'], ['two', 1, 'b'], ['one', 2, 'c'],
          ['one', 3, 'd'],
          ['two', 2, 'e'], ['two', 3, 'f'], ['one', 4, 'g'],
        ]);
        assert.equal((await store.getRoom('one'))?.lastId, 4);
        assert.equal((await store.getRoom('two'))?.lastId, 3);
        assert.deepEqual(ids(await store.history('one', { limit: 100 })), [1, 2, 3, 4]);
        assert.deepEqual(ids(await store.history('two', { limit: 100 })), [1, 2, 3]);
      }));

      it('keeps ids gapless under many concurrent appends', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'busy', private: false, createdBy: null });
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.appendMessages([msg('busy', u, `x${i}`), msg('busy', u, `y${i}`)])),
        );
        const all = chats(results.flat()).map((r) => r.message.id).sort((x, y) => x - y);
        assert.deepEqual(all, range(1, 100));
        assert.equal((await store.getRoom('busy'))?.lastId, 100);
      }));

      it('keeps whether the sender was a guest, on the hot path and with events, for every read', withStore(async (store) => {
        // A guest took the name first; an account of the same name came later: both wrote.
        const visitor = await guest(store, 'Sam');
        const account = await registered(store, 'Sam');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const asGuest = { id: visitor.id, name: 'Sam', guest: true as const };
        const asAccount = { id: account.id, name: 'Sam' };
        const [g, a] = chats(await store.appendMessages([{ ...msg('r', visitor, 'sam the guest'), user: asGuest }, msg('r', account, 'sam the account')]));
        assert.deepEqual([g!.message.user, a!.message.user], [asGuest, asAccount]);
        const [reply] = chats(await store.appendMessages([{ ...msg('r', visitor, 'a reply from the guest'), user: asGuest, reply: 2 }]));
        assert.deepEqual(reply!.message.user, asGuest);
        const [edit] = await store.appendMessages([{ kind: 'edit', room: 'r', user: asGuest, target: 1, data: 'sam the guest, edited', ts: ts++ }]);
        assert.deepEqual(edit!.message?.user, asGuest);
        const expected = [asGuest, asAccount, asGuest, asGuest];
        assert.deepEqual((await store.history('r', { limit: 10 })).map((e) => e.user), expected);
        assert.deepEqual((await store.history('r', { after: 0, limit: 10 })).map((e) => e.user), expected);
        assert.deepEqual((await store.messages('r', { limit: 10 })).data.map((m) => m.user), [asGuest, asAccount, asGuest]);
        const found = await store.search({ userId: account.id, q: 'sam', limit: 10 });
        assert.deepEqual(found.data.map((m) => [m.data, m.user]), [['sam the account', asAccount], ['sam the guest, edited', asGuest]]);
        assert.ok(!('guest' in a!.message.user), 'an account has no guest key');
      }));

      it('stores what it was given and returns it as stored', withStore(async (store) => {
        const u = await guest(store, '小明');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const input = [msg('r', u, 'plain'), msg('r', u, 'with cid', 'c-1')];
        const results = chats(await store.appendMessages(input));
        assert.deepEqual(results, [
          { duplicate: false, message: { room: 'r', id: 1, user: { id: u.id, name: '小明' }, data: 'plain', ts: input[0]!.ts } },
          {
            duplicate: false,
            message: { room: 'r', id: 2, user: { id: u.id, name: '小明' }, data: 'with cid', ts: input[1]!.ts, cid: 'c-1' },
          },
        ]);
        assert.ok(!('cid' in results[0]!.message), 'no cid key when none was given');
        const [explicit] = chats(await store.appendMessages([{ ...msg('r', u, 'cid: undefined'), cid: undefined }]));
        assert.ok(!('cid' in explicit!.message), 'no cid key for cid: undefined');
        assert.equal(explicit!.message.id, 3);
        assert.deepEqual(await store.history('r', { limit: 10 }), [...results, explicit!].map((r) => r.message));
      }));

      it('accepts an empty batch', withStore(async (store) => {
        assert.deepEqual(chats(await store.appendMessages([])), []);
      }));

      it('stores a retried cid once and answers with the earlier message, across batches', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const [first] = chats(await store.appendMessages([msg('r', u, 'hello', 'cid-1')]));
        chats(await store.appendMessages([msg('r', u, 'other')]));
        const retried = chats(await store.appendMessages([msg('r', u, 'hello (retry)', 'cid-1'), msg('r', u, 'next')]));
        assert.deepEqual(retried[0], { message: first!.message, duplicate: true });
        assert.equal(retried[1]!.message.id, 3);
        assert.equal(retried[1]!.duplicate, false);
        assert.equal((await store.getRoom('r'))?.lastId, 3);
        assert.deepEqual(messagesOf(await store.history('r', { limit: 10 })).map((m) => m.data), ['hello', 'other', 'next']);
      }));

      it('stores a cid repeated within one batch once', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const results = chats(await store.appendMessages([
          msg('r', u, 'one', 'same'),
          msg('r', u, 'two'),
          msg('r', u, 'one again', 'same'),
          msg('r', u, 'three', 'other'),
        ]));
        assert.deepEqual(results.map((r) => [r.message.id, r.duplicate]), [[1, false], [2, false], [1, true], [3, false]]);
        assert.equal(results[2]!.message.data, 'one');
        assert.deepEqual(ids(await store.history('r', { limit: 10 })), [1, 2, 3]);
      }));

      it('scopes a cid to its sender and its room', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await registered(store, 'b');
        await store.createRoom({ name: 'r1', private: false, createdBy: null });
        await store.createRoom({ name: 'r2', private: false, createdBy: null });
        const results = chats(await store.appendMessages([
          msg('r1', a, 'a in r1', 'x'),
          msg('r1', b, 'b in r1', 'x'),
          msg('r2', a, 'a in r2', 'x'),
        ]));
        assert.deepEqual(results.map((r) => [r.message.room, r.message.id, r.duplicate]), [
          ['r1', 1, false], ['r1', 2, false], ['r2', 1, false],
        ]);
      }));

      it('rejects a whole batch that names a missing room and stores nothing of it', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'real', private: false, createdBy: null });
        chats(await store.appendMessages([msg('real', u, 'before')]));
        await assert.rejects(
          store.appendMessages([msg('real', u, 'lost 1', 'c-lost'), msg('ghost', u, 'boo'), msg('real', u, 'lost 2')]),
          (err: unknown) => {
            assert.ok(err instanceof NoSuchRoomError);
            assert.equal(err.code, 'no_such_room');
            assert.match(err.message, /ghost/);
            return true;
          },
        );
        assert.equal((await store.getRoom('real'))?.lastId, 1);
        assert.deepEqual(messagesOf(await store.history('real', { limit: 10 })).map((m) => m.data), ['before']);
        assert.equal(await store.getRoom('ghost'), undefined);
        // The rejected cid was not recorded: sending it again stores it, as id 2.
        const [again] = chats(await store.appendMessages([msg('real', u, 'lost 1', 'c-lost')]));
        assert.deepEqual([again!.message.id, again!.duplicate], [2, false]);
      }));

      it('keeps any text exactly: scripts, emoji, newlines, quotes, a long message', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const texts = [
          '你好，世界',
          '🎉👩‍👩‍👧‍👦🏳️‍🌈',
          'e\u0301 and \u00e9 stay as they are',
          'line 1\nline 2\r\n\ttabbed',
          `quotes ' " \` and ; DROP TABLE messages; --`,
          '\u0000 nul inside',
          'x'.repeat(100_000),
          '',
        ];
        chats(await store.appendMessages(texts.map((t, i) => msg('r', u, t, `cid-${i}-🎈`))));
        const back = messagesOf(await store.history('r', { limit: 100 }));
        assert.deepEqual(back.map((m) => m.data), texts);
        assert.deepEqual(back.map((m) => m.cid), texts.map((_, i) => `cid-${i}-🎈`));
      }));
    });

    describe('history', () => {
      const setup = async (store: Store, count: number) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'h', private: false, createdBy: null });
        return fill(store, 'h', u, count);
      };

      it('returns the newest page, oldest first, without before or after', withStore(async (store) => {
        const stored = await setup(store, 10);
        assert.deepEqual(ids(await store.history('h', { limit: 3 })), [8, 9, 10]);
        assert.deepEqual(await store.history('h', { limit: 100 }), stored);
      }));

      it('pages backwards with before', withStore(async (store) => {
        await setup(store, 10);
        assert.deepEqual(ids(await store.history('h', { before: 8, limit: 3 })), [5, 6, 7]);
        assert.deepEqual(ids(await store.history('h', { before: 5, limit: 3 })), [2, 3, 4]);
        assert.deepEqual(ids(await store.history('h', { before: 2, limit: 3 })), [1]);
        assert.deepEqual(ids(await store.history('h', { before: 1, limit: 3 })), []);
        assert.deepEqual(ids(await store.history('h', { before: 1000, limit: 2 })), [9, 10]);
      }));

      it('reads forwards with after', withStore(async (store) => {
        await setup(store, 10);
        assert.deepEqual(ids(await store.history('h', { after: 0, limit: 3 })), [1, 2, 3]);
        assert.deepEqual(ids(await store.history('h', { after: 3, limit: 3 })), [4, 5, 6]);
        assert.deepEqual(ids(await store.history('h', { after: 8, limit: 5 })), [9, 10]);
        assert.deepEqual(ids(await store.history('h', { after: 10, limit: 5 })), []);
      }));

      it('with before and after together, returns the newest page between them', withStore(async (store) => {
        await setup(store, 10);
        assert.deepEqual(ids(await store.history('h', { after: 2, before: 7, limit: 100 })), [3, 4, 5, 6]);
        assert.deepEqual(ids(await store.history('h', { after: 2, before: 7, limit: 2 })), [5, 6]);
        assert.deepEqual(ids(await store.history('h', { after: 5, before: 6, limit: 10 })), []);
      }));

      it('returns nothing for an unknown or empty room, or a limit of 0', withStore(async (store) => {
        await setup(store, 3);
        await store.createRoom({ name: 'empty', private: false, createdBy: null });
        assert.deepEqual(await store.history('nowhere', { limit: 10 }), []);
        assert.deepEqual(await store.history('empty', { limit: 10 }), []);
        assert.deepEqual(await store.history('h', { limit: 0 }), []);
      }));

      it('caps a page at 1000 messages', withStore(async (store) => {
        await setup(store, 1005);
        const newest = await store.history('h', { limit: 5000 });
        assert.equal(newest.length, 1000);
        assert.deepEqual(ids(newest), range(6, 1005));
        const oldest = await store.history('h', { after: 0, limit: 1_000_000 });
        assert.deepEqual(ids(oldest), range(1, 1000));
      }));
    });

    describe('pruning', () => {
      it('reports no oldest id for a room without messages', withStore(async (store) => {
        await store.createRoom({ name: 'p', private: false, createdBy: null });
        assert.equal(await store.oldestKeptId('p'), undefined);
        assert.equal(await store.oldestKeptId('nowhere'), undefined);
      }));

      it('deletes the oldest messages so that at most `keep` remain', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'p', private: false, createdBy: null });
        await store.createRoom({ name: 'q', private: false, createdBy: null });
        await fill(store, 'p', u, 10);
        await fill(store, 'q', u, 4);
        assert.equal(await store.oldestKeptId('p'), 1);

        assert.equal(await store.prune('p', 3), 7);
        assert.equal(await store.oldestKeptId('p'), 8);
        assert.deepEqual(ids(await store.history('p', { limit: 100 })), [8, 9, 10]);
        assert.deepEqual(ids(await store.history('p', { after: 0, limit: 100 })), [8, 9, 10]);
        assert.equal(await store.prune('p', 3), 0);
        assert.equal(await store.prune('p', 50), 0);
        // Other rooms are untouched.
        assert.deepEqual(ids(await store.history('q', { limit: 100 })), [1, 2, 3, 4]);
      }));

      it('never reuses the ids of pruned messages', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'p', private: false, createdBy: null });
        await fill(store, 'p', u, 5);
        assert.equal(await store.prune('p', 0), 5);
        assert.equal(await store.oldestKeptId('p'), undefined);
        assert.equal((await store.getRoom('p'))?.lastId, 5);
        const [next] = await fill(store, 'p', u, 1);
        assert.equal(next!.id, 6);
        assert.equal(await store.oldestKeptId('p'), 6);
      }));
    });

    describe('timeline: events, folded messages, replies', () => {
      const who = (u: User) => ({ id: u.id, name: u.name });
      const edit = (room: string, u: User, target: number, data: string, cid?: string): NewEntry => ({
        kind: 'edit', room, user: who(u), target, data, ts: ts++, ...(cid === undefined ? {} : { cid }),
      });
      const del = (room: string, u: User, target: number, cid?: string): NewEntry => ({
        kind: 'delete', room, user: who(u), target, ts: ts++, ...(cid === undefined ? {} : { cid }),
      });
      const react = (room: string, u: User, target: number, emoji: string, on = true, cid?: string): NewEntry => ({
        kind: 'react', room, user: who(u), target, emoji, on, ts: ts++, ...(cid === undefined ? {} : { cid }),
      });
      const stored = (r: AppendResult | undefined) => {
        assert.ok(r && !r.refused, `stored, not ${JSON.stringify(r?.refused)}`);
        return r.message;
      };
      const refusal = (r: AppendResult | undefined) => r?.refused?.code;
      const setUp = async (store: Store) => {
        const ann = await registered(store, 'ann');
        const bob = await guest(store, 'bob');
        await store.createRoom({ name: 't', private: false, createdBy: null });
        await store.appendMessages([msg('t', ann, 'one'), msg('t', bob, 'two'), msg('t', ann, 'three')]);
        return { ann, bob };
      };

      it('gives events the room\'s next ids and lists them in the timeline, in id order', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const results = await store.appendMessages([edit('t', ann, 1, 'one, fixed', 'e-1'), react('t', bob, 1, '👍'), msg('t', bob, 'four'), del('t', ann, 3)]);
        assert.deepEqual(results.map((r) => stored(r).id), [4, 5, 6, 7]);
        assert.equal((await store.getRoom('t'))?.lastId, 7);
        const timeline = await store.history('t', { after: 0, limit: 100 });
        assert.deepEqual(timeline.map((e) => [e.id, e.kind ?? 'chat']), [[1, 'chat'], [2, 'chat'], [3, 'chat'], [4, 'edit'], [5, 'react'], [6, 'chat'], [7, 'delete']]);
        assert.deepEqual(timeline[3], { kind: 'edit', room: 't', id: 4, user: who(ann), target: 1, data: 'one, fixed', ts: timeline[3]!.ts, cid: 'e-1' });
        assert.deepEqual(timeline[4], { kind: 'react', room: 't', id: 5, user: who(bob), target: 1, emoji: '👍', on: true, ts: timeline[4]!.ts });
        assert.deepEqual(timeline[6], { kind: 'delete', room: 't', id: 7, user: who(ann), target: 3, ts: timeline[6]!.ts });
        // The timeline carries a message as it reads now, without its reactions (the events carry those).
        assert.deepEqual(timeline[0], { room: 't', id: 1, user: who(ann), data: 'one, fixed', ts: timeline[0]!.ts, edited: timeline[3]!.ts });
        assert.deepEqual(timeline[2], { room: 't', id: 3, user: who(ann), data: '', ts: timeline[2]!.ts, deleted: true });
        assert.deepEqual(results.map((r) => stored(r)), [timeline[3], timeline[4], timeline[5], timeline[6]]);
      }));

      it('folds events into the messages a page lists, and lists no event', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const [e] = await store.appendMessages([edit('t', ann, 1, 'one, fixed')]);
        await store.appendMessages([react('t', bob, 1, '👍'), react('t', ann, 1, '🎉'), react('t', ann, 1, '👍'), react('t', bob, 2, '❤️')]);
        await store.appendMessages([react('t', bob, 2, '❤️', false), del('t', ann, 3)]);
        const page = (await store.messages('t', { limit: 50 })).data;
        assert.deepEqual(page, [
          { room: 't', id: 1, user: who(ann), data: 'one, fixed', ts: page[0]!.ts, edited: stored(e).ts, reactions: { '👍': [bob.id, ann.id], '🎉': [ann.id] } },
          { room: 't', id: 2, user: who(bob), data: 'two', ts: page[1]!.ts },
          { room: 't', id: 3, user: who(ann), data: '', ts: page[2]!.ts, deleted: true },
        ]);
      }));

      it('tells the room\'s newest id with a page: the events up to it are folded in', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        assert.equal((await store.messages('t', { limit: 10 })).lastId, 3);
        await store.appendMessages([react('t', bob, 1, '👍'), edit('t', ann, 1, 'one!')]);
        const page = await store.messages('t', { before: 2, limit: 1 });
        assert.equal(page.lastId, 5);
        assert.deepEqual([page.data[0]!.data, page.data[0]!.reactions], ['one!', { '👍': [bob.id] }]);
        assert.deepEqual(await store.messages('nowhere', { limit: 10 }), { data: [], lastId: 0 });
      }));

      it('pages messages by id with before, after and limit, counting messages only', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        await store.appendMessages([react('t', bob, 3, '👍'), react('t', ann, 3, '👍'), msg('t', bob, 'four'), edit('t', ann, 3, 'three!'), msg('t', ann, 'five')]);
        // ids: 1 2 3 (messages), 4 5 (reacts), 6 (message), 7 (edit), 8 (message)
        assert.deepEqual(ids((await store.messages('t', { limit: 2 })).data), [6, 8]);
        assert.deepEqual(ids((await store.messages('t', { before: 6, limit: 2 })).data), [2, 3]);
        assert.deepEqual(ids((await store.messages('t', { after: 3, limit: 10 })).data), [6, 8]);
        assert.deepEqual(ids((await store.messages('t', { after: 1, before: 8, limit: 10 })).data), [2, 3, 6]);
        assert.deepEqual(((await store.messages('t', { before: 6, limit: 1 })).data)[0]!.reactions, { '👍': [bob.id, ann.id] });
        assert.deepEqual(ids(await store.history('t', { after: 3, limit: 3 })), [4, 5, 6]);
      }));

      it('refuses an edit or a delete of another\'s message, of a missing message or of an event, alone in its batch', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const [r] = await store.appendMessages([react('t', bob, 1, '👍')]);
        const results = await store.appendMessages([
          edit('t', bob, 1, 'not mine'),
          del('t', bob, 1),
          msg('t', bob, 'still stored'),
          edit('t', ann, 99, 'nothing there'),
          del('t', ann, stored(r).id),
          react('t', ann, 0 + 99, '👍'),
          edit('t', ann, 1, 'mine'),
        ]);
        assert.deepEqual(results.map(refusal), ['forbidden', 'forbidden', undefined, 'not_found', 'not_found', 'not_found', undefined]);
        assert.deepEqual([stored(results[2]).id, stored(results[6]).id], [5, 6], 'refused entries take no id');
        assert.match(results[0]!.refused!.message, /author/);
        assert.deepEqual(((await store.messages('t', { limit: 10 })).data).map((m) => m.data), ['mine', 'two', 'three', 'still stored']);
        // A delete that the hub allows for others' messages (a moderator) is not refused.
        const [mod] = await store.appendMessages([{ kind: 'delete', room: 't', user: who(bob), target: 3, ts: ts++, anyAuthor: true }]);
        assert.equal(stored(mod).id, 7);
      }));

      it('erases a deleted message\'s text and every edit\'s, drops its reactions, and refuses changes after', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        await store.appendMessages([edit('t', ann, 1, 'second text'), react('t', bob, 1, '👍'), edit('t', ann, 1, 'third text')]);
        const [d] = await store.appendMessages([del('t', ann, 1, 'd-1')]);
        assert.equal(stored(d).kind, 'delete');
        const after = await store.appendMessages([edit('t', ann, 1, 'again'), react('t', bob, 1, '🎉'), del('t', ann, 1), react('t', bob, 1, '👍', false)]);
        assert.deepEqual(after.map(refusal), ['not_found', 'not_found', 'not_found', 'not_found']);
        const timeline = await store.history('t', { after: 0, limit: 100 });
        const texts = timeline.map((e) => (e.kind === undefined || e.kind === 'edit' ? e.data : e.kind));
        assert.deepEqual(texts, ['', 'two', 'three', '', 'react', '', 'delete']);
        assert.ok(!JSON.stringify(timeline).includes('text'), 'no text of it is left anywhere in the timeline');
        assert.deepEqual(((await store.messages('t', { limit: 1, before: 2 })).data)[0], { room: 't', id: 1, user: who(ann), data: '', ts: timeline[0]!.ts, deleted: true });
        // A retry of the delete (same cid) is answered with it, not refused.
        const [retry] = await store.appendMessages([del('t', ann, 1, 'd-1')]);
        assert.deepEqual(retry, { message: stored(d), duplicate: true });
      }));

      it('keeps one reaction per user and emoji, takes one back, and refuses what changes nothing', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const [on] = await store.appendMessages([react('t', bob, 2, '👍🏽')]);
        const [again, off, offAgain] = await store.appendMessages([react('t', bob, 2, '👍🏽'), react('t', bob, 2, '👍🏽', false), react('t', bob, 2, '👍🏽', false)]);
        assert.deepEqual(again, { message: stored(on), duplicate: true }, 'a reaction on already is answered with the event that put it on');
        assert.deepEqual(stored(off), { kind: 'react', room: 't', id: 5, user: who(bob), target: 2, emoji: '👍🏽', on: false, ts: stored(off).ts });
        assert.equal(refusal(offAgain), 'not_found');
        const [onAgain] = await store.appendMessages([react('t', ann, 2, '👍🏽'), react('t', bob, 2, '👍🏽')]);
        assert.equal(stored(onAgain).id, 6);
        assert.deepEqual(((await store.messages('t', { after: 1, before: 3, limit: 1 })).data)[0]!.reactions, { '👍🏽': [ann.id, bob.id] });
      }));

      it('holds a message to 20 different emoji, and lets more people add the ones it has', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'];
        assert.equal(emoji.length, 20);
        const all = await store.appendMessages(emoji.map((e) => react('t', ann, 1, e)));
        assert.ok(all.every((r) => !r.refused));
        const [extra, same] = await store.appendMessages([react('t', ann, 1, '🤩'), react('t', bob, 1, '😀')]);
        assert.equal(refusal(extra), 'forbidden');
        assert.match(extra!.refused!.message, /20/);
        assert.equal(stored(same).kind, 'react');
        await store.appendMessages([react('t', ann, 1, '🤗', false)]);
        const [room] = await store.appendMessages([react('t', bob, 1, '🤩')]);
        assert.equal(stored(room).kind, 'react', 'a slot freed by the last user taking theirs back');
        const [m] = (await store.messages('t', { before: 2, limit: 1 })).data;
        assert.equal(Object.keys(m!.reactions!).length, 20);
      }));

      it('stores a reply to a message of the room, deleted or not, and refuses one to anything else', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        await store.createRoom({ name: 'other', private: false, createdBy: null });
        const [d] = await store.appendMessages([del('t', ann, 3)]);
        const results = await store.appendMessages([
          { ...msg('t', bob, 'yes!'), reply: 1 },
          { ...msg('t', bob, 'to a deleted one'), reply: 3 },
          { ...msg('t', bob, 'to nothing'), reply: 42 },
          { ...msg('t', bob, 'to an event'), reply: stored(d).id },
          { ...msg('other', bob, 'across rooms'), reply: 1 },
          { ...msg('t', bob, 'to one of this batch'), reply: 5 },
        ]);
        assert.deepEqual(results.map(refusal), [undefined, undefined, 'not_found', 'not_found', 'not_found', undefined]);
        assert.deepEqual(stored(results[0]), { room: 't', id: 5, user: who(bob), data: 'yes!', ts: stored(results[0]).ts, reply: 1 });
        assert.deepEqual(((await store.messages('t', { after: 4, limit: 10 })).data).map((m) => [m.id, m.reply]), [[5, 1], [6, 3], [7, 5]]);
        assert.deepEqual(ids((await store.messages('other', { limit: 10 })).data), []);
      }));

      it('keeps the users a message mentions', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        const [m] = await store.appendMessages([{ ...msg('t', ann, '@bob @ann hi'), mentions: [bob.id, ann.id] }]);
        assert.deepEqual(stored(m), { room: 't', id: 4, user: who(ann), data: '@bob @ann hi', ts: stored(m).ts, mentions: [bob.id, ann.id] });
        assert.deepEqual((await store.history('t', { after: 3, limit: 1 }))[0], stored(m));
        await store.appendMessages([del('t', ann, 4)]);
        assert.equal(((await store.messages('t', { after: 3, limit: 1 })).data)[0]!.mentions, undefined, 'a deleted message names nobody');
      }));

      it('stores a retried event once and answers with it; events and messages share the cid space', withStore(async (store) => {
        const { ann } = await setUp(store);
        const [first] = await store.appendMessages([edit('t', ann, 2, 'x', 'same')]);
        assert.equal(refusal(first), 'forbidden', 'a refused entry is not stored…');
        const [ok] = await store.appendMessages([edit('t', ann, 1, 'one!', 'same')]);
        const [retry, copy] = await store.appendMessages([edit('t', ann, 1, 'one?', 'same'), msg('t', ann, 'a message', 'same')]);
        assert.deepEqual(retry, { message: stored(ok), duplicate: true }, '…so its cid is free for the next try');
        assert.deepEqual(copy, { message: stored(ok), duplicate: true });
        const inBatch = await store.appendMessages([react('t', ann, 2, '👍', true, 'r'), react('t', ann, 2, '👍', true, 'r')]);
        assert.deepEqual(inBatch[1], { message: stored(inBatch[0]), duplicate: true });
        assert.equal((await store.getRoom('t'))?.lastId, 5);
        assert.deepEqual(((await store.messages('t', { limit: 1, before: 2 })).data)[0]!.data, 'one!');
      }));

      it('prunes events with the messages and the reactions of pruned messages', withStore(async (store) => {
        const { ann, bob } = await setUp(store);
        await store.appendMessages([react('t', bob, 1, '👍'), react('t', bob, 3, '👍'), msg('t', ann, 'four')]);
        assert.equal(await store.prune('t', 3), 3);
        assert.deepEqual(ids(await store.history('t', { after: 0, limit: 10 })), [4, 5, 6]);
        assert.deepEqual((await store.messages('t', { limit: 10 })).data, [{ room: 't', id: 6, user: who(ann), data: 'four', ts: (await store.history('t', { after: 5, limit: 1 }))[0]!.ts }]);
      }));
    });

    describe('search', () => {
      const who = (u: User) => ({ id: u.id, name: u.name });
      const at = (room: string, u: User, data: string, when: number): NewMessage => ({ room, user: who(u), data, ts: when });
      const texts = (page: { data: StoredMessage[] }) => page.data.map((m) => m.data);
      const find = (store: Store, userId: number, q: string, more: Partial<{ room: string; before: number; limit: number }> = {}) =>
        store.search({ userId, q, limit: 20, ...more });

      it('finds messages by words in the rooms the user can read, newest first, and nowhere else', withStore(async (store) => {
        const ann = await registered(store, 'ann');
        const bob = await registered(store, 'bob');
        const eve = await registered(store, 'eve');
        await store.createRoom({ name: 'lobby', private: false, createdBy: null });
        await store.createRoom({ name: 'club', private: true, createdBy: ann.id });
        const dm = await store.ensureDirectRoom(ann.id, bob.id);
        await store.appendMessages([
          at('lobby', ann, 'Deploy the build on Friday', 1000),
          at('club', ann, 'secret deploy plans', 2000),
          at(dm.name, bob, 'our deploy, just us', 3000),
          at('lobby', bob, 'no match here', 4000),
          at('lobby', eve, 'DEPLOYED!', 5000),
        ]);
        assert.deepEqual(texts(await find(store, ann.id, 'deploy')), ['DEPLOYED!', 'our deploy, just us', 'secret deploy plans', 'Deploy the build on Friday']);
        assert.deepEqual(texts(await find(store, eve.id, 'deploy')), ['DEPLOYED!', 'Deploy the build on Friday'], 'never another\'s DM or a private room');
        assert.deepEqual(texts(await find(store, bob.id, 'deploy')), ['DEPLOYED!', 'our deploy, just us', 'Deploy the build on Friday']);
        assert.deepEqual(texts(await find(store, ann.id, 'deploy friday')), ['Deploy the build on Friday'], 'every term');
        assert.deepEqual(texts(await find(store, ann.id, 'deploy', { room: 'club' })), ['secret deploy plans']);
        const [first] = (await find(store, ann.id, 'friday')).data;
        assert.deepEqual(first, { room: 'lobby', id: 1, user: who(ann), data: 'Deploy the build on Friday', ts: 1000 });
        assert.deepEqual(await find(store, ann.id, '   '), { data: [], more: false });
      }));

      it('finds Chinese by its characters, one or two of them too, and emoji, case and width aside', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        await store.appendMessages([
          at('r', u, '你好，大家好', 1000),
          at('r', u, '今天天气很好 🎉', 2000),
          at('r', u, 'ＦＵＬＬ ｗｉｄｔｈ Hello', 3000),
          at('r', u, 'party time🎉🎉', 4000),
          at('r', u, 'ok! that book is fine', 5000),
          at('r', u, 'a bookish okay', 6000),
          at('r', u, '👩🏽‍💻 at work, 👍🏽', 7000),
        ]);
        const q = async (query: string) => texts(await find(store, u.id, query));
        assert.deepEqual(await q('你好'), ['你好，大家好']);
        assert.deepEqual(await q('好'), ['今天天气很好 🎉', '你好，大家好']);
        assert.deepEqual(await q('大家好'), ['你好，大家好']);
        assert.deepEqual(await q('天气 🎉'), ['今天天气很好 🎉']);
        assert.deepEqual(await q('🎉'), ['party time🎉🎉', '今天天气很好 🎉']);
        assert.deepEqual(await q('full WIDTH hello'), ['ＦＵＬＬ ｗｉｄｔｈ Hello']);
        assert.deepEqual(await q('ok'), ['ok! that book is fine'], 'one or two letters: a whole word');
        assert.deepEqual(await q('book'), ['a bookish okay', 'ok! that book is fine'], 'three or more: anywhere');
        assert.deepEqual(await q('👍🏽'), ['👩🏽‍💻 at work, 👍🏽']);
        assert.deepEqual(await q('👩🏽‍💻'), ['👩🏽‍💻 at work, 👍🏽']);
        assert.deepEqual(await q('你好吗'), []);
      }));

      it('finds an edited message by its new text only, a deleted one not at all', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        await store.appendMessages([at('r', u, 'apple pie', 1000), at('r', u, 'apple tart', 2000), at('r', u, 'banana', 3000)]);
        await store.appendMessages([
          { kind: 'edit', room: 'r', user: who(u), target: 1, data: 'cherry pie', ts: 4000 },
          { kind: 'delete', room: 'r', user: who(u), target: 2, ts: 4001 },
        ]);
        assert.deepEqual(texts(await find(store, u.id, 'apple')), []);
        assert.deepEqual(texts(await find(store, u.id, 'cherry')), ['cherry pie']);
        const [edited] = (await find(store, u.id, 'pie')).data;
        assert.equal(edited!.edited, 4000);
      }));

      it('pages with before = the ts of the oldest message, losing and repeating none where times are equal', withStore(async (store) => {
        const u = await registered(store, 'writer');
        for (const room of ['a', 'b', 'c']) await store.createRoom({ name: room, private: false, createdBy: null });
        // 60 matches over three rooms, many sharing a ts, mixed with messages that do not match.
        const batch: NewMessage[] = [];
        for (let i = 0; i < 60; i++) {
          batch.push(at(['a', 'b', 'c'][i % 3]!, u, `match ${i}`, 1000 + Math.floor(i / 7)));
          batch.push(at(['a', 'b', 'c'][(i + 1) % 3]!, u, `other ${i}`, 1000 + Math.floor(i / 7)));
        }
        await store.appendMessages(batch);
        const seen: string[] = [];
        let before: number | undefined;
        let pages = 0;
        for (;;) {
          const page = await find(store, u.id, 'match', { limit: 5, ...(before === undefined ? {} : { before }) });
          pages++;
          assert.ok(page.data.length >= Math.min(5, 60 - seen.length), `a full page (${page.data.length})`);
          assert.ok(page.data.every((m, i) => i === 0 || m.ts <= page.data[i - 1]!.ts), 'newest first');
          seen.push(...texts(page));
          if (!page.more) break;
          before = page.data.at(-1)!.ts;
          assert.ok(page.data.every((m) => m.ts >= before!), 'the page ends at whole times');
        }
        assert.equal(new Set(seen).size, seen.length, 'none twice');
        assert.deepEqual([...seen].sort(), Array.from({ length: 60 }, (_, i) => `match ${i}`).sort(), 'none missing');
        assert.ok(pages >= 8 && pages <= 12, `${pages} pages`);
      }));
    });

    describe('read markers and names', () => {
      it('keeps the highest read marker per user and room, up to the room\'s last id', withStore(async (store) => {
        const ann = await registered(store, 'ann');
        const bob = await registered(store, 'bob');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        await fill(store, 'r', ann, 5);
        assert.equal(await store.setReadMarker(ann.id, 'r', 3), 3);
        assert.equal(await store.setReadMarker(ann.id, 'r', 2), undefined, 'a lower marker changes nothing');
        assert.equal(await store.setReadMarker(ann.id, 'r', 3), undefined);
        assert.equal(await store.setReadMarker(ann.id, 'r', 99), 5, 'no further than the room goes');
        assert.equal(await store.setReadMarker(ann.id, 'nowhere', 1), undefined);
        assert.deepEqual(await readMarkers(store, ann.id), { r: 5 });
        assert.deepEqual(await readMarkers(store, bob.id), {});
      }));

      it('gives the read markers of the rooms the user can see only', withStore(async (store) => {
        const ann = await registered(store, 'ann');
        const bob = await registered(store, 'bob');
        await store.createRoom({ name: 'club', private: true, createdBy: ann.id });
        await store.createRoom({ name: 'open', private: false, createdBy: null });
        await fill(store, 'club', ann, 2);
        await fill(store, 'open', ann, 2);
        await store.setReadMarker(bob.id, 'club', 2);
        await store.setReadMarker(bob.id, 'open', 1);
        await store.setReadMarker(ann.id, 'club', 1);
        assert.deepEqual(await readMarkers(store, bob.id), { open: 1 });
        assert.deepEqual(await readMarkers(store, ann.id), { club: 1 });
        await store.addMember('club', bob.id);
        assert.deepEqual(await readMarkers(store, bob.id), { club: 2, open: 1 });
      }));

      it('finds registered users by name key, and a room\'s members (guests too)', withStore(async (store) => {
        const ann = await registered(store, 'Ann');
        const zoe = await registered(store, 'Zoë');
        const g = await guest(store, 'ann b');
        await store.createRoom({ name: 'club', private: true, createdBy: zoe.id });
        await store.addMember('club', g.id);
        const names = (users: User[]) => users.map((u) => u.name).sort();
        assert.deepEqual(names(await store.usersByNameKeys(['ann', 'zoë', 'ann b', 'nobody'])), ['Ann', 'Zoë']);
        assert.deepEqual(names(await store.usersByNameKeys(['ann', 'zoë', 'ann b'], { membersOf: 'club' })), ['Zoë', 'ann b']);
        assert.deepEqual(await store.usersByNameKeys([]), []);
        assert.deepEqual((await store.usersByNameKeys(['ann']))[0], ann);
      }));
    });

    describe('moderation', () => {
      const MINUTE = 60_000;
      const APPLIED = { kind: 'applied' };
      const UNCHANGED = { kind: 'unchanged' };

      it('makes and unmakes moderators, and says where a user owns and moderates', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const mod = await registered(store, 'mod');
        const now = Date.now();
        await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'club', private: true, createdBy: owner.id });
        await store.ensureDirectRoom(owner.id, mod.id);
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'role', user: mod.id, by: owner.id, ts: now, role: 'moderator' }), APPLIED);
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'role', user: mod.id, by: owner.id, ts: now, role: 'moderator' }), UNCHANGED, 'a moderator already');
        assert.deepEqual(await store.roomModeration('hall', now), { moderators: [mod.id], restrictions: [] });
        assert.deepEqual(await userModeration(store, mod.id, now), { owns: [], moderates: ['hall'], restrictions: [] });
        assert.deepEqual(await userModeration(store, owner.id, now), { owns: ['club', 'hall'], moderates: [], restrictions: [] }, 'a DM has no owner');
        await store.moderate({ room: 'hall', action: 'role', user: mod.id, by: owner.id, ts: now + 1, role: 'member' });
        assert.deepEqual(await store.roomModeration('hall', now), { moderators: [], restrictions: [] });
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'role', user: mod.id, by: owner.id, ts: now + 2, role: 'member' }), UNCHANGED, 'a member already');
        assert.equal((await store.auditLog('hall', 10)).length, 2, 'what changed nothing is not logged');
        await assert.rejects(store.moderate({ room: 'nowhere', action: 'kick', user: mod.id, by: owner.id, ts: now }), NoSuchRoomError);
      }));

      it('bans and mutes, for a while or until lifted, and lifts only what is in force', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const u = await guest(store, 'spammer');
        const now = 1_800_000_000_000;
        await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
        await store.moderate({ room: 'hall', action: 'ban', user: u.id, by: owner.id, ts: now, until: now + MINUTE });
        await store.moderate({ room: 'hall', action: 'mute', user: u.id, by: owner.id, ts: now });
        const s = { id: u.id, name: 'spammer', guest: true };
        assert.deepEqual((await store.roomModeration('hall', now)).restrictions, [
          { user: s, kind: 'ban', until: now + MINUTE },
          { user: s, kind: 'mute' },
        ]);
        // Each says who put it in force (an account: no guest key), for the user's welcome.
        const o = { id: owner.id, name: 'owner' };
        assert.deepEqual((await userModeration(store, u.id, now)).restrictions, [
          { room: 'hall', kind: 'ban', until: now + MINUTE, by: o },
          { room: 'hall', kind: 'mute', by: o },
        ]);
        // The timed ban ends by itself.
        assert.deepEqual((await store.roomModeration('hall', now + MINUTE)).restrictions, [{ user: s, kind: 'mute' }]);
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'unban', user: u.id, by: owner.id, ts: now + MINUTE }), UNCHANGED, 'ended already');
        // Banned again: the new until replaces the old.
        await store.moderate({ room: 'hall', action: 'ban', user: u.id, by: owner.id, ts: now + 2, until: now + 10 * MINUTE });
        assert.deepEqual((await userModeration(store, u.id, now + 5 * MINUTE)).restrictions.map((r) => r.until), [now + 10 * MINUTE, undefined]);
        // Muted again by someone else: the welcome names the latest.
        const mod = await guest(store, 'mod');
        await store.moderate({ room: 'hall', action: 'mute', user: u.id, by: mod.id, ts: now + 2 });
        assert.deepEqual((await userModeration(store, u.id, now + 5 * MINUTE)).restrictions.find((r) => r.kind === 'mute')?.by, { id: mod.id, name: 'mod', guest: true });
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'unban', user: u.id, by: owner.id, ts: now + 3 }), APPLIED);
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'unmute', user: u.id, by: owner.id, ts: now + 4 }), APPLIED);
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'unmute', user: u.id, by: owner.id, ts: now + 5 }), UNCHANGED);
        assert.deepEqual(await store.roomModeration('hall', now), { moderators: [], restrictions: [] });
      }));

      it('names who is banned from a room now, however long its audit log has grown since', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const ann = await registered(store, 'ann');
        const u = await guest(store, 'spammer');
        const tom = await guest(store, 'tom');
        const now = 1_800_000_000_000;
        await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'other', private: false, createdBy: owner.id });
        await store.moderate({ room: 'hall', action: 'ban', user: u.id, by: owner.id, ts: now });
        await store.moderate({ room: 'hall', action: 'ban', user: ann.id, by: owner.id, ts: now + 1, until: now + MINUTE });
        await store.moderate({ room: 'other', action: 'ban', user: tom.id, by: owner.id, ts: now + 2 });
        // A busy room: 150 more actions push the bans out of the audit log's first pages.
        for (let i = 0; i < 75; i++) {
          await store.moderate({ room: 'hall', action: 'mute', user: tom.id, by: owner.id, ts: now + 3 + 2 * i });
          await store.moderate({ room: 'hall', action: 'unmute', user: tom.id, by: owner.id, ts: now + 4 + 2 * i });
        }
        const bans = async (at: number) => (await store.roomModeration('hall', at)).restrictions.filter((r) => r.kind === 'ban');
        assert.deepEqual(await bans(now + 200), [
          { user: { id: ann.id, name: 'ann' }, kind: 'ban', until: now + MINUTE },
          { user: { id: u.id, name: 'spammer', guest: true }, kind: 'ban' },
        ].sort((a, b) => a.user.id - b.user.id));
        // The timed ban ends by itself; the other is lifted.
        assert.deepEqual(await bans(now + MINUTE), [{ user: { id: u.id, name: 'spammer', guest: true }, kind: 'ban' }]);
        await store.moderate({ room: 'hall', action: 'unban', user: u.id, by: owner.id, ts: now + 300 });
        assert.deepEqual(await bans(now + 300), [{ user: { id: ann.id, name: 'ann' }, kind: 'ban', until: now + MINUTE }]);
      }));

      it('keeps an audit log of every action, newest first, and not of what changed nothing', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const u = await guest(store, 'spammer');
        const now = 1_800_000_000_000;
        await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'other', private: false, createdBy: owner.id });
        await store.moderate({ room: 'hall', action: 'mute', user: u.id, by: owner.id, ts: now, until: now + MINUTE });
        await store.moderate({ room: 'hall', action: 'unban', user: u.id, by: owner.id, ts: now + 1 });
        await store.moderate({ room: 'hall', action: 'delete', user: u.id, by: owner.id, ts: now + 2 });
        await store.moderate({ room: 'other', action: 'kick', user: u.id, by: owner.id, ts: now + 3 });
        await store.moderate({ room: 'hall', action: 'role', user: u.id, by: owner.id, ts: now + 4, role: 'moderator' });
        const o = { id: owner.id, name: 'owner' }; // an account: no guest key
        const s = { id: u.id, name: 'spammer', guest: true };
        assert.deepEqual(await store.auditLog('hall', 10), [
          { action: 'role', user: s, by: o, ts: now + 4, role: 'moderator' },
          { action: 'delete', user: s, by: o, ts: now + 2 },
          { action: 'mute', user: s, by: o, ts: now, until: now + MINUTE },
        ]);
        assert.equal((await store.auditLog('hall', 1)).length, 1);
        assert.deepEqual(await store.auditLog('nowhere', 10), []);
      }));

      it('applies a retried action (same room, actor and cid) once, and answers it with the first', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const mod = await registered(store, 'mod');
        const u = await guest(store, 'spammer');
        const now = 1_800_000_000_000;
        await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
        await store.createRoom({ name: 'yard', private: false, createdBy: owner.id });
        const ban = { room: 'hall', action: 'ban' as const, user: u.id, by: owner.id, ts: now, until: now + MINUTE, cid: 'b-1' };
        assert.deepEqual(await store.moderate(ban), APPLIED);
        // The retry comes later: it does not move the ban's end, and is not logged again.
        assert.deepEqual(await store.moderate({ ...ban, ts: now + 5, until: now + 5 + MINUTE }), { kind: 'duplicate', ts: now, until: now + MINUTE });
        assert.deepEqual((await store.roomModeration('hall', now)).restrictions, [{ user: { id: u.id, name: 'spammer', guest: true }, kind: 'ban', until: now + MINUTE }]);
        // An unban retried after the first lifted the ban is answered as the first, not "not banned".
        const unban = { room: 'hall', action: 'unban' as const, user: u.id, by: owner.id, ts: now + 6, cid: 'b-2' };
        assert.deepEqual(await store.moderate(unban), APPLIED);
        assert.deepEqual(await store.moderate({ ...unban, ts: now + 7 }), { kind: 'duplicate', ts: now + 6 });
        const role = { room: 'hall', action: 'role' as const, user: mod.id, by: owner.id, ts: now + 8, role: 'moderator' as const, cid: 'b-3' };
        assert.deepEqual(await store.moderate(role), APPLIED);
        assert.deepEqual(await store.moderate({ ...role, ts: now + 9 }), { kind: 'duplicate', ts: now + 8, role: 'moderator' });
        assert.equal((await store.auditLog('hall', 10)).length, 3);
        // The same cid from someone else, or in another room, is another action.
        assert.deepEqual(await store.moderate({ room: 'hall', action: 'mute', user: u.id, by: mod.id, ts: now + 10, cid: 'b-1' }), APPLIED);
        assert.deepEqual(await store.moderate({ room: 'yard', action: 'ban', user: u.id, by: owner.id, ts: now + 11, cid: 'b-1' }), APPLIED);
        assert.equal((await store.auditLog('hall', 10)).length, 4);
        assert.equal((await store.auditLog('yard', 10)).length, 1);
      }));

      it('withdraws a private room\'s membership on a kick', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const u = await registered(store, 'member');
        await store.createRoom({ name: 'club', private: true, createdBy: owner.id });
        await store.addMember('club', u.id);
        await store.moderate({ room: 'club', action: 'kick', user: u.id, by: owner.id, ts: Date.now() });
        assert.equal(await store.isMember('club', u.id), false);
        assert.deepEqual((await store.welcomeRooms(u.id, Date.now())).rooms, []);
        assert.equal(await store.isMember('club', owner.id), true);
      }));

      it('leaves a room the user is banned from out of their search, and in after the ban', withStore(async (store) => {
        const owner = await registered(store, 'owner');
        const u = await registered(store, 'reader');
        for (const name of ['hall', 'yard']) {
          await store.createRoom({ name, private: false, createdBy: owner.id });
          await store.appendMessages([msg(name, owner, `hello from ${name}`)]);
        }
        const now = Date.now();
        await store.moderate({ room: 'hall', action: 'ban', user: u.id, by: owner.id, ts: now, until: now + MINUTE });
        const rooms = async (at: number, room?: string) =>
          (await store.search({ userId: u.id, q: 'hello', limit: 10, now: at, ...(room ? { room } : {}) })).data.map((m) => m.room);
        assert.deepEqual(await rooms(now), ['yard']);
        assert.deepEqual(await rooms(now, 'hall'), []);
        assert.deepEqual((await rooms(now + MINUTE)).sort(), ['hall', 'yard'], 'the ban ended');
        assert.deepEqual((await store.search({ userId: owner.id, q: 'hello', limit: 10, now })).data.length, 2);
      }));

      it('bans a user everywhere: their sessions end, none starts, their name is kept from guests', withStore(async (store) => {
        const alice = await registered(store, 'alice');
        const g = await guest(store, 'Rascal');
        const now = Date.now();
        const session = await store.createSession(alice.id, now + MINUTE);
        assert.equal((await store.findRegisteredUser('alice'))?.banned, false);
        assert.equal(await store.setUserBanned(alice.id, true), true);
        assert.equal(await store.setUserBanned(g.id, true), true);
        assert.equal(await store.setUserBanned(Math.max(alice.id, g.id) + 1000, true), false);
        assert.equal((await store.findRegisteredUser('alice'))?.banned, true);
        assert.equal(await store.getSession(session.id, now), undefined);
        await assert.rejects(store.createSession(alice.id, now + MINUTE));
        // Nobody takes a banned user's name, as a guest or an account, in any case, and no session starts.
        await assert.rejects(guest(store, 'ALICE'), NameBannedError);
        await assert.rejects(guest(store, 'rascal'), NameBannedError);
        await assert.rejects(store.createUserSession({ name: 'Rascal', passwordHash: 'scrypt$hash', guest: false }, now + MINUTE), NameBannedError);
        assert.equal((await store.findRegisteredUser('rascal')), undefined);
        assert.equal((await guest(store, 'bob')).name, 'bob');
        assert.equal(await store.setUserBanned(alice.id, false), true);
        await assert.rejects(guest(store, 'alice'), NameTakenError, 'an account\'s name again, no longer banned');
        assert.equal((await store.createUserSession({ name: 'alicia', passwordHash: null, guest: true }, now + MINUTE)).user.name, 'alicia');
        const again = await store.createSession(alice.id, now + MINUTE);
        assert.deepEqual(await store.getSession(again.id, now), again);
      }));
    });

    describe('where rooms are', () => {
      it('gives the newest id of each room asked for, and leaves out rooms that do not exist', withStore(async (store) => {
        const u = await registered(store, 'writer');
        for (const room of ['a', 'b', 'empty']) await store.createRoom({ name: room, private: false, createdBy: null });
        await fill(store, 'a', u, 3);
        await fill(store, 'b', u, 7);
        await store.prune('b', 2);
        const last = await store.lastIds(['a', 'b', 'empty', 'nowhere']);
        assert.deepEqual([...last].sort(), [['a', 3], ['b', 7], ['empty', 0]]);
        assert.equal((await store.lastIds([])).size, 0);
      }));

      it('finds the newest kept message stored before a time', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 't', private: false, createdBy: null });
        const at = (data: string, when: number): NewMessage => ({ room: 't', user: { id: u.id, name: u.name }, data, ts: when });
        chats(await store.appendMessages([at('one', 1000), at('two', 2000), at('three', 3000)]));
        assert.equal(await store.lastIdBefore('t', 2500), 2);
        assert.equal(await store.lastIdBefore('t', 2000), 1, 'strictly before');
        assert.equal(await store.lastIdBefore('t', 999), 0);
        assert.equal(await store.lastIdBefore('t', 10_000), 3);
        assert.equal(await store.lastIdBefore('nowhere', 10_000), 0);
      }));
    });

    if (openPair) {
      /** Runs `fn` against two handles on one fresh database and always cleans up. */
      const withPair = (fn: (a: Store, b: Store) => Promise<void>) => async () => {
        const { stores, cleanup } = await openPair();
        try {
          await fn(...stores);
        } finally {
          await cleanup();
        }
      };

      describe('two handles on one database (two nodes)', () => {
        it('keeps a room gapless and unique when both append to it at the same time', withPair(async (a, b) => {
          const u = await registered(a, 'writer');
          await a.createRoom({ name: 'busy', private: false, createdBy: null });
          const batches = (store: Store, tag: string) =>
            Array.from({ length: 20 }, (_, n) =>
              store.appendMessages(Array.from({ length: 25 }, (_, i) => msg('busy', u, `${tag} ${n}.${i}`, `${tag}-${n}-${i}`))),
            );
          const results = chats((await Promise.all([...batches(a, 'a'), ...batches(b, 'b')])).flat());
          assert.equal(results.length, 1000);
          assert.ok(results.every((r) => !r.duplicate));
          assert.deepEqual(results.map((r) => r.message.id).sort((x, y) => x - y), range(1, 1000), 'ids 1..1000, each once');
          // Each batch got consecutive ids in its own order.
          for (let i = 0; i < results.length; i += 25) {
            const batchIds = results.slice(i, i + 25).map((r) => r.message.id);
            assert.deepEqual(batchIds, range(batchIds[0]!, batchIds[0]! + 24));
          }
          for (const store of [a, b]) {
            assert.equal((await store.getRoom('busy'))?.lastId, 1000);
            const stored = messagesOf(await store.history('busy', { after: 0, limit: 1000 }));
            assert.deepEqual(ids(stored), range(1, 1000));
            const byId = new Map(results.map((r) => [r.message.id, r.message.data]));
            assert.ok(stored.every((m) => byId.get(m.id) === m.data), 'each id holds the message it was acked for');
          }
        }));

        it('never lets a guest and an account take look-alike names through the two handles at once', withPair(async (a, b) => {
          for (let round = 0; round < 10; round++) {
            const name = `Walter${round}`;
            // A Cyrillic а, or a capital I for the l.
            const disguise = round % 2 === 0 ? `W\u0430lter${round}` : `WaIter${round}`;
            const [account, visitor] = await Promise.allSettled([registered(a, name), guest(b, disguise)]);
            if (account.status === 'rejected') throw account.reason;
            // The guest came first (and the account may have its name), or it was refused.
            if (visitor.status === 'fulfilled') assert.ok(visitor.value.id < account.value.id, `${disguise} after ${name}`);
            else assert.ok(visitor.reason instanceof NameTakenError);
          }
        }));

        it('ends on one handle a session started on the other, at once', withPair(async (a, b) => {
          const alice = await registered(a, 'alice');
          const now = Date.now();
          const session = await a.createSession(alice.id, now + 3_600_000);
          assert.deepEqual(await b.getSession(session.id, now), session);
          await b.endSession(session.id);
          assert.equal(await a.getSession(session.id, now), undefined);
          const next = await b.createSession(alice.id, now + 3_600_000);
          await a.setPassword(alice.id, 'scrypt$new');
          assert.equal(await b.getSession(next.id, now), undefined);
        }));

        it('stores a cid retried through the other handle once, with the same id', withPair(async (a, b) => {
          const u = await registered(a, 'writer');
          await a.createRoom({ name: 'r', private: false, createdBy: null });
          const [first] = chats(await a.appendMessages([msg('r', u, 'hello', 'c-1')]));
          chats(await b.appendMessages([msg('r', u, 'other', 'c-2')]));
          const [retry] = chats(await b.appendMessages([msg('r', u, 'hello', 'c-1')]));
          assert.equal(first!.duplicate, false);
          assert.equal(retry!.duplicate, true);
          assert.equal(retry!.message.id, first!.message.id);
          assert.equal(retry!.message.data, 'hello');
          // Both at once, through both handles: one of them stores it.
          const both = await Promise.all([a.appendMessages([msg('r', u, 'race', 'c-3')]), b.appendMessages([msg('r', u, 'race', 'c-3')])]);
          const outcomes = chats(both.map(([r]) => r!));
          assert.equal(outcomes.filter((r) => !r.duplicate).length, 1, 'stored once');
          assert.equal(outcomes[0]!.message.id, outcomes[1]!.message.id);
          assert.deepEqual(ids(await a.history('r', { after: 0, limit: 10 })), [1, 2, 3]);
        }));

        it('agrees on one outcome when an edit and a delete of one message come through both handles at once', withPair(async (a, b) => {
          const u = await registered(a, 'writer');
          await a.createRoom({ name: 'r', private: false, createdBy: null });
          const targets = chats(await a.appendMessages(Array.from({ length: 20 }, (_, i) => msg('r', u, `original ${i}`)))).map((r) => r.message.id);
          const who = { id: u.id, name: u.name };
          const outcomes = await Promise.all(
            targets.flatMap((target) => [
              a.appendMessages([{ kind: 'edit', room: 'r', user: who, target, data: `edited ${target}`, ts: ts++ }]),
              b.appendMessages([{ kind: 'delete', room: 'r', user: who, target, ts: ts++ }]),
            ]),
          );
          for (let i = 0; i < targets.length; i++) {
            const [edited] = outcomes[2 * i]!;
            const [deleted] = outcomes[2 * i + 1]!;
            assert.ok(!deleted!.refused, 'the delete always goes through');
            // The edit is stored before the delete, or refused after it: never stored after it.
            if (!edited!.refused) assert.ok(edited!.message.id < deleted!.message!.id);
            else assert.equal(edited!.refused.code, 'not_found');
          }
          for (const store of [a, b]) {
            const timeline = await store.history('r', { after: 0, limit: 1000 });
            assert.ok(!JSON.stringify(timeline).includes('original') && !JSON.stringify(timeline).includes('edited'), 'every text is erased');
            assert.ok(((await store.messages('r', { limit: 100 })).data).every((m) => m.deleted === true && m.data === ''));
          }
        }));

        it('holds a message to 20 different emoji when reactions race through both handles', withPair(async (a, b) => {
          const u = await registered(a, 'writer');
          await a.createRoom({ name: 'r', private: false, createdBy: null });
          await a.appendMessages([msg('r', u, 'react to me')]);
          const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩🤔🤨😐😑😶🙄😏😣😥'];
          const who = { id: u.id, name: u.name };
          const results = (
            await Promise.all(
              emoji.map((e, i) => (i % 2 === 0 ? a : b).appendMessages([{ kind: 'react', room: 'r', user: who, target: 1, emoji: e, on: true, ts: ts++ }])),
            )
          ).flat();
          assert.equal(results.filter((r) => !r.refused).length, 20);
          assert.ok(results.filter((r) => r.refused).every((r) => r.refused!.code === 'forbidden'));
          const [m] = (await b.messages('r', { limit: 1 })).data;
          assert.equal(Object.keys(m!.reactions!).length, 20);
          // The same reaction from both handles at once is stored once.
          await a.appendMessages([{ ...msg('r', u, 'again') }]);
          const twice = (await Promise.all([a, b].map((s) => s.appendMessages([{ kind: 'react', room: 'r', user: who, target: 22, emoji: '👍', on: true, ts: ts++ }])))).flat();
          assert.equal(twice.filter((r) => !r.duplicate && !r.refused).length, 1);
          assert.equal(twice[0]!.message!.id, twice[1]!.message!.id);
        }));

        it('sees the other handle\'s users, rooms and members, and agrees on one DM room', withPair(async (a, b) => {
          const ann = await registered(a, 'ann');
          const bob = await guest(b, 'bob');
          assert.deepEqual(await b.getUser(ann.id), ann);
          await assert.rejects(registered(b, 'ANN'), NameTakenError);
          const rooms = await Promise.all([a.ensureDirectRoom(ann.id, bob.id), b.ensureDirectRoom(bob.id, ann.id)]);
          assert.equal(rooms[0].name, rooms[1].name);
          assert.ok(await a.isMember(rooms[0].name, bob.id));
          await a.createRoom({ name: 'shared', private: true, createdBy: ann.id });
          await assert.rejects(b.createRoom({ name: 'shared', private: false, createdBy: bob.id }), RoomExistsError);
          await b.addMember('shared', bob.id);
          assert.ok(await a.isMember('shared', bob.id));
        }));
      });
    }

    describe('lifecycle', () => {
      it('answers ping while open and not after close; close twice is fine', withStore(async (store) => {
        assert.equal(await store.ping(), true);
        await store.close();
        await store.close();
        assert.equal(await store.ping(), false);
      }));
    });
  });
}
