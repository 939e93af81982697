/** Signing in and out: the first screen, and the start and end of a chat session. */
import { z } from 'zod';
import { ParleyHttpError, logout as apiLogout, signIn } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { DEFAULT_ROOM, origin, state, type Self } from './chat-state.js';
import { connect, disconnect } from './connection.js';
import { errorText } from './notice.js';
import { loadPrefs } from './prefs.js';
import { resetRooms } from './rooms.js';

const sessionAnswer = z.object({
  user: z.object({ id: z.number().int(), name: z.string(), guest: z.boolean() }).nullable(),
  limits: z.object({ maxText: z.number().int().positive() }),
});

/**
 * Asks GET /api/session, not /api/me: it answers 200 whether signed in or not, where /api/me
 * answers 401, which the browser logs as a failed load on every first visit.
 */
async function fetchSession(): Promise<z.infer<typeof sessionAnswer>> {
  const res = await fetch(`${origin}/api/session`, { headers: { accept: 'application/json' }, credentials: 'include' });
  if (!res.ok) throw new Error(`GET /api/session answered ${res.status}`);
  return sessionAnswer.parse(await res.json());
}

/** Opens the chat when the browser has a session, else the sign-in form. */
export async function boot(): Promise<void> {
  try {
    const { user, limits } = await fetchSession();
    state.maxText = limits.maxText;
    if (user) startChat(user);
    else state.phase = 'signin';
  } catch {
    state.phase = 'signin';
    state.signInMessage = t('signin.network');
  }
}

export type SignInMode = 'guest' | 'login' | 'register';

/** Signs in; resolves to an error text for the form, or '' on success. */
export async function signInWith(mode: SignInMode, name: string, password: string): Promise<string> {
  try {
    const session =
      mode === 'guest'
        ? await signIn.guest(origin, name)
        : mode === 'login'
          ? await signIn.login(origin, name, password)
          : await signIn.register(origin, name, password);
    state.signInMessage = '';
    startChat(session.user);
    return '';
  } catch (err) {
    // The server's words name the account or the name; the page says it in the reader's language.
    if (err instanceof ParleyHttpError && err.code === 'banned') return t('accountBanned');
    if (err instanceof ParleyHttpError) return errorText(err);
    return t('signin.network');
  }
}

export async function signOut(): Promise<void> {
  try {
    await apiLogout(origin);
  } catch {
    // Signed out locally either way.
  }
  signOutLocally('');
}

function resetChat(): void {
  disconnect();
  resetRooms();
  state.current = DEFAULT_ROOM;
  state.panel = 'none';
  state.notice = '';
}

function startChat(user: Self): void {
  resetChat();
  state.me = user;
  state.names[user.id] = user.name;
  loadPrefs(user.id);
  state.phase = 'chat';
  state.connection = 'connecting';
  connect(
    () => signOutLocally(t('sessionEnded')),
    () => {
      // Banned from the server: its page says so, and nothing reconnects.
      resetChat();
      state.me = null;
      state.phase = 'banned';
    },
  );
}

/** From the banned page back to the sign-in form (someone else may sign in on this browser). */
export function backToSignIn(): void {
  state.signInMessage = '';
  state.phase = 'signin';
}

function signOutLocally(message: string): void {
  resetChat();
  state.me = null;
  state.signInMessage = message;
  state.phase = 'signin';
}
