/**
 * The order of names in lists a user scans: the page's locale, and digits by their value, so that
 * "room-2" comes before "room-10" and "week 9" before "week 10", as a person would sort them.
 */
const collator = new Intl.Collator(undefined, { numeric: true });

export const compareNames: (a: string, b: string) => number = collator.compare;
