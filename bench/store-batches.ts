/**
 * The batches of new messages that bench/store-append.ts and bench/store-wal.ts feed the store:
 * the shape the hub's AppendBatcher produces under scenario 4, from a seeded sequence so that every
 * run and every version of the store sees the same ones.
 */
import type { NewMessage } from '../src/store/types.js';

/** A deterministic pseudo-random sequence in [0, 1) (a linear congruential generator). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `roomsPerBatch` distinct rooms of `rooms`, picked at random, and `perRoom` consecutive messages of each from `next`. */
export function randomBatch(
  random: () => number,
  shape: { rooms: number; roomsPerBatch: number; perRoom: number },
  next: (room: number) => NewMessage,
): NewMessage[] {
  const picked = new Set<number>();
  while (picked.size < shape.roomsPerBatch) picked.add(Math.floor(random() * shape.rooms));
  const batch: NewMessage[] = [];
  for (const r of picked) for (let i = 0; i < shape.perRoom; i++) batch.push(next(r));
  return batch;
}
