/** The messages between WorkerStore and its thread, and how a store error crosses between them. */
import { NameTakenError, NoSuchRoomError, RoomExistsError, type NewMessage, type Store } from '../types.js';

export type StoreMethod = keyof Store;

export interface StoreCall {
  id: number;
  method: StoreMethod;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method's own arguments
  args: any[];
}

/**
 * A batch of new messages as one flat array, six slots per message: room, user id, user name, data,
 * ts, and cid or null. The structured clone writes every property name of every object it copies;
 * this array clones in half the time of the objects, on the posting side and on the receiving side.
 */
export type PackedBatch = Array<string | number | null>;

export function packBatch(batch: readonly NewMessage[]): PackedBatch {
  const packed: PackedBatch = new Array(batch.length * 6);
  let k = 0;
  for (const m of batch) {
    packed[k++] = m.room;
    packed[k++] = m.user.id;
    packed[k++] = m.user.name;
    packed[k++] = m.data;
    packed[k++] = m.ts;
    packed[k++] = m.cid ?? null;
  }
  return packed;
}

export function unpackBatch(packed: PackedBatch): NewMessage[] {
  const batch: NewMessage[] = [];
  for (let k = 0; k < packed.length; k += 6) {
    const m: NewMessage = {
      room: packed[k] as string,
      user: { id: packed[k + 1] as number, name: packed[k + 2] as string },
      data: packed[k + 3] as string,
      ts: packed[k + 4] as number,
    };
    const cid = packed[k + 5];
    if (cid !== null) m.cid = cid as string;
    batch.push(m);
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
