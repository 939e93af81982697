/** The messages between WorkerStore and its thread, and how a store error crosses between them. */
import { NameTakenError, NoSuchRoomError, RoomExistsError, type Store } from '../types.js';

export type StoreMethod = keyof Store;

export interface StoreCall {
  id: number;
  method: StoreMethod;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method's own arguments
  args: any[];
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
