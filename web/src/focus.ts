/**
 * Where keyboard focus goes when what held it goes away (a person's row removed, a dialog closed, a
 * message's actions re-rendered): somewhere sensible, never <body>, where the next Tab starts over.
 */

/** Nothing on the page holds focus: it fell on <body>. */
export function focusLost(): boolean {
  return document.activeElement === null || document.activeElement === document.body;
}

/**
 * Focuses a control. A message's action bar shows only while its message holds focus (a hidden
 * button cannot take it), so the message is focused first.
 */
export function focusControl(el: HTMLElement): void {
  const message = el.closest<HTMLElement>('li.msg');
  if (message && message !== el && !message.contains(document.activeElement)) message.focus({ preventScroll: true });
  el.focus();
}

/** Focuses the first of `candidates` that takes it (one removed or hidden does not); false when none did. */
export function focusFirst(candidates: Array<Element | null | undefined>): boolean {
  for (const el of candidates) {
    if (!(el instanceof HTMLElement) || !el.isConnected) continue;
    focusControl(el);
    if (document.activeElement === el) return true;
  }
  return false;
}

/** Where focus was in the people list: the rows in order, the row's place and whether it was on its ⋯. */
export interface RowFocus {
  ids: string[];
  index: number;
  menu: boolean;
}

/** The row of the people list that `el` is in, if it is in one. */
export function rowFocus(el: Element | null): RowFocus | undefined {
  const row = el?.closest<HTMLElement>('.users li.person');
  const list = row?.parentElement;
  if (!el || !row || !list) return undefined;
  const ids = [...list.querySelectorAll<HTMLElement>(':scope > li.person')].map((li) => li.dataset.user ?? '');
  return { ids, index: ids.indexOf(row.dataset.user ?? ''), menu: el.classList.contains('person-menu') };
}

/**
 * Focus back in the people list once a row's control went (the person kicked, banned or gone): the
 * same row if it is still there, else the row that took its place, else the one before (the same
 * control, ⋯ or the name, where it has it), else the list's heading, else 👥 (the panel folded away on a phone).
 */
export function refocusRow(at: RowFocus): void {
  const order = [...at.ids.slice(at.index), ...at.ids.slice(0, at.index).reverse()];
  const controls = order.flatMap((id) => {
    const row = document.querySelector(`.users li.person[data-user="${CSS.escape(id)}"]`);
    if (!row) return [];
    const menu = row.querySelector('.person-menu');
    const name = row.querySelector('button.user-item');
    return at.menu ? [menu, name] : [name, menu];
  });
  focusFirst([...controls, document.getElementById('people-title'), document.getElementById('toggle-users')]);
}
