/**
 * What the fuzz tests share: a seeded random source (the same seed gives the same inputs, so a
 * failure can be replayed), the run's size and seed from the environment, and the building blocks of
 * hostile input: odd strings, odd numbers, deep nesting, prototype keys.
 */

/** FUZZ_COUNT inputs per suite (default `fallback`) and FUZZ_SEED (default 1): `FUZZ_COUNT=50000 npm run test:integration`. */
export function fuzzSettings(fallback: number): { count: number; seed: number } {
  const count = Number(process.env.FUZZ_COUNT ?? fallback);
  const seed = Number(process.env.FUZZ_SEED ?? 1);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`FUZZ_COUNT=${process.env.FUZZ_COUNT}: must be a whole number of 1 or more`);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED=${process.env.FUZZ_SEED}: must be a whole number`);
  return { count, seed };
}

export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1): mulberry32, small and good enough to pick test input. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }

  /** A short string of characters that parsers and normalisers treat specially. */
  oddString(): string {
    const length = this.int(12);
    let s = '';
    for (let i = 0; i < length; i++) s += this.pick(ODD_CHARS);
    return s;
  }
}

/**
 * Characters that break naive code: controls, quotes and escapes, lone and paired surrogates,
 * invisible and direction-changing marks, non-characters, combining marks, full-width and
 * look-alike letters, emoji sequences, and a few keys of Object.prototype.
 */
export const ODD_CHARS: readonly string[] = [
  '\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\n', '\r', '\t', ' ', '"', "'", '\\', '/', '%', '%00', '%zz', '&', '=', '?', '#',
  '<', '>', '{', '}', '[', ']', ':', ',', '.', '..', '$', '`',
  '\ud800', '\udfff', '\udc00\ud800', '\ud83d\ude00', '\u200b', '\u200d', '\u202e', '\u2066', '\ufeff', '\ufffe', '\uffff', '\ufffd',
  '\u0301', 'e\u0301', 'é', 'ａ', 'а', 'ı', 'İ', 'ß', '小明', '👨‍👩‍👧', '🇯🇵', '\u{10ffff}', '\u{e0001}',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf',
];

/** Numbers at and past the edges: negative, fractional, unsafe, huge, and what JSON turns into Infinity. */
export const ODD_NUMBERS: readonly string[] = [
  '0', '-0', '-1', '0.5', '1e-7', '2147483648', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993',
  '1e21', '1e308', '1e400', '-1e400', '123456789012345678901234567890', '0x10', '1_000', 'NaN', 'Infinity',
];

/** A JSON text nested `depth` deep: arrays or objects. */
export function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Whether a text the server sent carries a stack trace or a source path: it never should. */
export function leaksInternals(text: string): boolean {
  return /\n\s+at |node:internal|node_modules|\/src\/\w+\/\w+\.[jt]s|\.ts:\d+/.test(text);
}
