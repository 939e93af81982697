/** What a user's avatar shows, the same in every list: a colour from the id and the name's first letter. */

/** The hue (0-359) of a user's avatar: stable per id, spread around the wheel. */
export function avatarHue(id: number): number {
  return (id * 67) % 360;
}

/** The first character of a name (a whole emoji or CJK character), upper-cased. */
export function avatarInitial(name: string): string {
  return [...name][0]?.toUpperCase() ?? '?';
}
