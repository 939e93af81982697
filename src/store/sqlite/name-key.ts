/**
 * The form in which two account names are compared: NFC, then lower case. "Alice", "ALICE" and
 * "alice" are one name; so are a precomposed "é" and "e" + combining accent.
 * Every Store implementation must use the same key, or the same name could be taken twice.
 */
export function nameKey(name: string): string {
  // Lower-casing can unpack a character (İ -> i + dot), so normalise again after it.
  return name.normalize('NFC').toLowerCase().normalize('NFC');
}
