/**
 * The search panel's state: a query over the current room or every room the user may read, its
 * results newest first, and the next page (`before` the oldest result's ts).
 */
import { reactive } from 'vue';
import type { ChatMessage } from '../../../src/client/index.js';
import { state } from './chat-state.js';
import { chatClient, showMessage } from './connection.js';
import { errorText } from './notice.js';

const PAGE = 20;

export const search = reactive({
  q: '',
  scope: 'room' as 'room' | 'all',
  /** The query and scope the results are for. */
  asked: '',
  askedRoom: undefined as string | undefined,
  results: [] as ChatMessage[],
  more: false,
  loading: false,
  error: '',
});

let generation = 0;

/** Runs the query typed, from the newest match. */
export async function runSearch(): Promise<void> {
  const q = search.q.trim();
  if (!q) return;
  search.asked = q;
  search.askedRoom = search.scope === 'room' ? state.current : undefined;
  search.results = [];
  search.more = false;
  await fetchPage(undefined);
}

/** The next page of the same query: the matches older than those shown. */
export async function searchMore(): Promise<void> {
  const oldest = search.results.at(-1);
  if (!oldest || search.loading) return;
  await fetchPage(oldest.ts);
}

async function fetchPage(before: number | undefined): Promise<void> {
  const client = chatClient();
  if (!client) return;
  const mine = ++generation;
  search.loading = true;
  search.error = '';
  try {
    const options: { room?: string; before?: number; limit: number } = { limit: PAGE };
    if (search.askedRoom !== undefined) options.room = search.askedRoom;
    if (before !== undefined) options.before = before;
    const page = await client.search(search.asked, options);
    if (mine !== generation) return;
    const shown = new Set(search.results.map((m) => `${m.room}#${m.id}`));
    search.results.push(...page.data.filter((m) => !shown.has(`${m.room}#${m.id}`)));
    search.more = page.more;
  } catch (err) {
    if (mine === generation) search.error = errorText(err);
  } finally {
    if (mine === generation) search.loading = false;
  }
}

/** Opens a result: its room, scrolled to the message. */
export function openResult(m: ChatMessage): void {
  state.searching = false;
  void showMessage(m.room, m.id);
}
