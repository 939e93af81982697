/** The messages between WorkerStore and its thread, and how a store error crosses between them. */
import { NameBannedError, NameTakenError, NoSuchRoomError, RoomExistsError, type NewMessage, type Store } from '../types.js';

export type StoreMethod = keyof Store;

export interface StoreCall {
  id: number;
  method: StoreMethod;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method's own arguments
  args: any[];
}

/**
 * A batch of new messages, packed so the structured clone has little to walk: the text fields
 * (room, user name, data, cid) of every message joined into one string, their lengths, and the
 * numbers (user id, ts). Cloning one long string and two transferred buffers costs a fraction of
 * cloning thousands of small strings, on the posting side and on the receiving side; this is the
 * per-message hot path of the store.
 */
export interface PackedBatch {
  text: string;
  /** four per message: room, user name, data, cid (-1 for none), in UTF-16 code units */
  lengths: Int32Array;
  /** two per message: user id, ts */
  numbers: Float64Array;
}

const NO_CID = -1;

/** The second argument of an appendMessages call whose batch crosses unpacked (it has events or replies). */
export const ENTRIES = 'entries';

export function packBatch(batch: readonly NewMessage[]): PackedBatch {
  const parts: string[] = [];
  const lengths = new Int32Array(batch.length * 4);
  const numbers = new Float64Array(batch.length * 2);
  let l = 0;
  let n = 0;
  for (const m of batch) {
    parts.push(m.room, m.user.name, m.data);
    lengths[l++] = m.room.length;
    lengths[l++] = m.user.name.length;
    lengths[l++] = m.data.length;
    if (m.cid === undefined) lengths[l++] = NO_CID;
    else {
      parts.push(m.cid);
      lengths[l++] = m.cid.length;
    }
    // A guest's id goes negative: user ids are positive, so the sign carries the guest flag for free.
    numbers[n++] = m.user.guest ? -m.user.id : m.user.id;
    numbers[n++] = m.ts;
  }
  return { text: parts.join(''), lengths, numbers };
}

/** The buffers to transfer with a packed batch instead of copying them. */
export function batchTransfer(packed: PackedBatch): ArrayBuffer[] {
  return [packed.lengths.buffer as ArrayBuffer, packed.numbers.buffer as ArrayBuffer];
}

/**
 * The messages of a packed batch. Their strings are slices of the batch's text (V8 does not copy
 * them), so whatever keeps one keeps that text; the store keeps none past its staging tables.
 */
export function unpackBatch(packed: PackedBatch): NewMessage[] {
  const { text, lengths, numbers } = packed;
  const batch: NewMessage[] = new Array(numbers.length / 2);
  let at = 0;
  const next = (length: number) => text.slice(at, (at += length));
  for (let i = 0, l = 0; i < batch.length; i++, l += 4) {
    const id = numbers[2 * i]!;
    const m: NewMessage = {
      room: next(lengths[l]!),
      user: id < 0 ? { id: -id, name: next(lengths[l + 1]!), guest: true } : { id, name: next(lengths[l + 1]!) },
      data: next(lengths[l + 2]!),
      ts: numbers[2 * i + 1]!,
    };
    if (lengths[l + 3] !== NO_CID) m.cid = next(lengths[l + 3]!);
    batch[i] = m;
  }
  return batch;
}

export interface PackedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** id 0 answers the open. */
export type StoreReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: PackedError };

export interface WorkerStoreData {
  file: string;
  options: Record<string, unknown>;
}

export function packError(err: unknown): PackedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const { code } = err as { code?: unknown };
  return { name: err.name, message: err.message, code: typeof code === 'string' ? code : undefined, stack: err.stack };
}

/** The store's own errors come back as their classes, so callers can still tell them apart. */
const KNOWN: Record<string, () => Error> = {
  name_banned: () => new NameBannedError(''),
  name_taken: () => new NameTakenError(''),
  room_exists: () => new RoomExistsError(''),
  no_such_room: () => new NoSuchRoomError(''),
};

export function unpackError(packed: PackedError): Error {
  const make = packed.code === undefined ? undefined : KNOWN[packed.code];
  const err = make ? make() : new Error(packed.message);
  err.message = packed.message;
  if (!make) {
    err.name = packed.name;
    if (packed.code !== undefined) (err as NodeJS.ErrnoException).code = packed.code;
  }
  if (packed.stack !== undefined) err.stack = packed.stack;
  return err;
}
