/**
 * Splits message text into plain parts and http(s) links, so that the template renders every part
 * with text interpolation (never as HTML) and only http(s) URLs become anchors.
 */
export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/giu;
/** Punctuation that ends a sentence rather than a URL ("see https://x.org/a." or "(https://x.org)"). */
const TRAILING = /[.,;:!?'")\]}>。，；：！？、）】」』]+$/u;

export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    let url = match[0];
    const trailing = TRAILING.exec(url);
    // Keep a closing parenthesis that balances one inside the URL (wiki links).
    if (trailing) url = url.slice(0, url.length - trailing[0].length);
    if (url.endsWith('(') || !isHttpUrl(url)) continue;
    if (start > last) parts.push({ kind: 'text', text: text.slice(last, start) });
    parts.push({ kind: 'link', text: url, href: url });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  return parts;
}

function isHttpUrl(candidate: string): boolean {
  try {
    const url = new URL(candidate);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}
