/**
 * Marks the words of a search in a message's text, case-insensitively, for the search results
 * (rendered with text interpolation, never as HTML).
 */
export interface HighlightPart {
  text: string;
  match: boolean;
}

export function highlightTerms(text: string, query: string): HighlightPart[] {
  const terms = [...new Set(query.normalize('NFKC').split(/\s+/u).filter((t) => t.length > 0))].sort((a, b) => b.length - a.length);
  if (terms.length === 0) return text ? [{ text, match: false }] : [];
  const pattern = new RegExp(terms.map(escapeRegExp).join('|'), 'giu');
  const parts: HighlightPart[] = [];
  let last = 0;
  for (const found of text.matchAll(pattern)) {
    const start = found.index ?? 0;
    if (found[0].length === 0) continue;
    if (start > last) parts.push({ text: text.slice(last, start), match: false });
    parts.push({ text: found[0], match: true });
    last = start + found[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), match: false });
  return parts;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
