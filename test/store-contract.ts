/**
 * The behaviour every Store implementation must have. An implementation's test file calls
 * `runStoreContract('SqliteStore', open)`; `open` gives a fresh, empty store per test and a
 * cleanup that closes it (whether or not the test closed it already) and removes what it made.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  type NewMessage,
  type Store,
  type StoredMessage,
  type User,
} from '../src/store/types.js';

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
    return (await store.appendMessages(batch)).map((r) => r.message);
  };

  const ids = (messages: StoredMessage[]) => messages.map((m) => m.id);
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

        assert.deepEqual(await store.listRoomNames(owner.id), await names(owner.id));
        assert.deepEqual(await store.listRoomNames(other.id), ['alpha', 'zeta']);

        await store.addMember('middle', other.id);
        assert.deepEqual(await names(other.id), ['alpha', 'middle', 'zeta']);
        assert.deepEqual(await store.listRoomNames(other.id), ['alpha', 'middle', 'zeta']);
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
        await store.appendMessages([msg(first.name, a, 'hi')]);
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
        assert.deepEqual(await store.listRoomNames(a.id), [ab.name, ac.name].sort());
        assert.deepEqual(await store.listRoomNames(c.id), [ac.name]);
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
        const first = await store.appendMessages([msg('one', u, 'a'), msg('two', u, 'b'), msg('one', u, 'c')]);
        const second = await store.appendMessages([msg('one', u, 'd')]);
        const third = await store.appendMessages([msg('two', u, 'e'), msg('two', u, 'f'), msg('one', u, 'g')]);
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
        const all = results.flat().map((r) => r.message.id).sort((x, y) => x - y);
        assert.deepEqual(all, range(1, 100));
        assert.equal((await store.getRoom('busy'))?.lastId, 100);
      }));

      it('stores what it was given and returns it as stored', withStore(async (store) => {
        const u = await guest(store, '小明');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const input = [msg('r', u, 'plain'), msg('r', u, 'with cid', 'c-1')];
        const results = await store.appendMessages(input);
        assert.deepEqual(results, [
          { duplicate: false, message: { room: 'r', id: 1, user: { id: u.id, name: '小明' }, data: 'plain', ts: input[0]!.ts } },
          {
            duplicate: false,
            message: { room: 'r', id: 2, user: { id: u.id, name: '小明' }, data: 'with cid', ts: input[1]!.ts, cid: 'c-1' },
          },
        ]);
        assert.ok(!('cid' in results[0]!.message), 'no cid key when none was given');
        const [explicit] = await store.appendMessages([{ ...msg('r', u, 'cid: undefined'), cid: undefined }]);
        assert.ok(!('cid' in explicit!.message), 'no cid key for cid: undefined');
        assert.equal(explicit!.message.id, 3);
        assert.deepEqual(await store.history('r', { limit: 10 }), [...results, explicit!].map((r) => r.message));
      }));

      it('accepts an empty batch', withStore(async (store) => {
        assert.deepEqual(await store.appendMessages([]), []);
      }));

      it('stores a retried cid once and answers with the earlier message, across batches', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const [first] = await store.appendMessages([msg('r', u, 'hello', 'cid-1')]);
        await store.appendMessages([msg('r', u, 'other')]);
        const retried = await store.appendMessages([msg('r', u, 'hello (retry)', 'cid-1'), msg('r', u, 'next')]);
        assert.deepEqual(retried[0], { message: first!.message, duplicate: true });
        assert.equal(retried[1]!.message.id, 3);
        assert.equal(retried[1]!.duplicate, false);
        assert.equal((await store.getRoom('r'))?.lastId, 3);
        assert.deepEqual((await store.history('r', { limit: 10 })).map((m) => m.data), ['hello', 'other', 'next']);
      }));

      it('stores a cid repeated within one batch once', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        const results = await store.appendMessages([
          msg('r', u, 'one', 'same'),
          msg('r', u, 'two'),
          msg('r', u, 'one again', 'same'),
          msg('r', u, 'three', 'other'),
        ]);
        assert.deepEqual(results.map((r) => [r.message.id, r.duplicate]), [[1, false], [2, false], [1, true], [3, false]]);
        assert.equal(results[2]!.message.data, 'one');
        assert.deepEqual(ids(await store.history('r', { limit: 10 })), [1, 2, 3]);
      }));

      it('scopes a cid to its sender and its room', withStore(async (store) => {
        const a = await registered(store, 'a');
        const b = await registered(store, 'b');
        await store.createRoom({ name: 'r1', private: false, createdBy: null });
        await store.createRoom({ name: 'r2', private: false, createdBy: null });
        const results = await store.appendMessages([
          msg('r1', a, 'a in r1', 'x'),
          msg('r1', b, 'b in r1', 'x'),
          msg('r2', a, 'a in r2', 'x'),
        ]);
        assert.deepEqual(results.map((r) => [r.message.room, r.message.id, r.duplicate]), [
          ['r1', 1, false], ['r1', 2, false], ['r2', 1, false],
        ]);
      }));

      it('rejects a whole batch that names a missing room and stores nothing of it', withStore(async (store) => {
        const u = await registered(store, 'writer');
        await store.createRoom({ name: 'real', private: false, createdBy: null });
        await store.appendMessages([msg('real', u, 'before')]);
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
        assert.deepEqual((await store.history('real', { limit: 10 })).map((m) => m.data), ['before']);
        assert.equal(await store.getRoom('ghost'), undefined);
        // The rejected cid was not recorded: sending it again stores it, as id 2.
        const [again] = await store.appendMessages([msg('real', u, 'lost 1', 'c-lost')]);
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
        await store.appendMessages(texts.map((t, i) => msg('r', u, t, `cid-${i}-🎈`)));
        const back = await store.history('r', { limit: 100 });
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
        await store.appendMessages([at('one', 1000), at('two', 2000), at('three', 3000)]);
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
          const results = (await Promise.all([...batches(a, 'a'), ...batches(b, 'b')])).flat();
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
            const stored = await store.history('busy', { after: 0, limit: 1000 });
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
          const [first] = await a.appendMessages([msg('r', u, 'hello', 'c-1')]);
          await b.appendMessages([msg('r', u, 'other', 'c-2')]);
          const [retry] = await b.appendMessages([msg('r', u, 'hello', 'c-1')]);
          assert.equal(first!.duplicate, false);
          assert.equal(retry!.duplicate, true);
          assert.equal(retry!.message.id, first!.message.id);
          assert.equal(retry!.message.data, 'hello');
          // Both at once, through both handles: one of them stores it.
          const both = await Promise.all([a.appendMessages([msg('r', u, 'race', 'c-3')]), b.appendMessages([msg('r', u, 'race', 'c-3')])]);
          const outcomes = both.map(([r]) => r!);
          assert.equal(outcomes.filter((r) => !r.duplicate).length, 1, 'stored once');
          assert.equal(outcomes[0]!.message.id, outcomes[1]!.message.id);
          assert.deepEqual(ids(await a.history('r', { after: 0, limit: 10 })), [1, 2, 3]);
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
