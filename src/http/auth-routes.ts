/** Sign-in: register, login, guest, logout, password, me, session. */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { hashPassword, passwordSchema, verifyPassword } from '../auth/passwords.js';
import { signSession } from '../auth/tokens.js';
import { userNameSchema } from '../protocol/names.js';
import type { Session, User } from '../store/types.js';
import { currentSession, currentUser, requireSession, requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { HttpError } from './errors.js';
import { rateLimitKey } from './rate-limit.js';
import { clearSessionCookie, isSecureRequest, setSessionCookie } from './session-cookie.js';
import { parseBody } from './validate.js';
import { userView } from './views.js';

const registerBody = z.object({ name: userNameSchema, password: passwordSchema });
// Login checks types only: a name or password that breaks the rules simply matches no account.
const loginBody = z.object({ name: z.string(), password: z.string() });
const guestBody = z.object({ name: userNameSchema });
// The current password is checked for types only, as at login: a wrong one is simply wrong.
const passwordBody = z.object({ password: z.string(), newPassword: passwordSchema });

const WRONG_LOGIN = 'wrong name or password';
const BANNED = 'this account is banned from this server';

export function authRoutes(deps: HttpDeps): Router {
  const { settings, store, secret, signInLimiter, chat } = deps;
  const router = new Router({ prefix: '/api' });

  // Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= hashPassword('decoy password that matches nothing'));

  async function limitSignIn(ctx: Context): Promise<void> {
    const waitMs = await signInLimiter.take(rateLimitKey(ctx.state.ip as string));
    if (waitMs > 0) {
      const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
      throw new HttpError(429, 'rate_limited', 'too many sign-in attempts; try again later', { 'Retry-After': retryAfter });
    }
  }

  const expiry = () => Date.now() + settings.sessionTtlMs;

  /** Starts a session of the user and answers with its token. */
  async function signIn(ctx: Context, user: User, status: number): Promise<void> {
    answerSession(ctx, await store.createSession(user.id, expiry()), status);
  }

  /** Answers with the token of a session just started, in the body and as the cookie. */
  function answerSession(ctx: Context, session: Session, status: number): void {
    const token = signSession(secret, session);
    setSessionCookie(ctx, token, isSecureRequest(ctx, settings), settings.sessionTtlMs);
    ctx.status = status;
    ctx.body = { user: userView(session.user), token };
  }

  router.post('/register', async (ctx) => {
    await limitSignIn(ctx);
    const { name, password } = parseBody(ctx, registerBody);
    const passwordHash = await hashPassword(password);
    const session = await store.createUserSession({ name, passwordHash, guest: false }, expiry());
    deps.logger.info({ user: session.user.id, name: session.user.name, ip: ctx.state.ip }, 'account registered');
    answerSession(ctx, session, 201);
  });

  router.post('/login', async (ctx) => {
    await limitSignIn(ctx);
    const body = parseBody(ctx, loginBody);
    const name = userNameSchema.safeParse(body.name);
    const passwordOk = passwordSchema.safeParse(body.password).success;
    const record = name.success && passwordOk ? await store.findRegisteredUser(name.data) : undefined;
    let matches = false;
    if (record?.passwordHash) matches = await verifyPassword(body.password, record.passwordHash);
    else await verifyPassword(body.password, await decoy());
    if (!record || !matches) throw new HttpError(401, 'unauthorized', WRONG_LOGIN);
    // Told only to whoever knows the password.
    if (record.banned) throw new HttpError(403, 'banned', BANNED);
    await signIn(ctx, { id: record.id, name: record.name, guest: record.guest }, 200);
  });

  router.post('/guest', async (ctx) => {
    if (!settings.guests) throw new HttpError(403, 'forbidden', 'guest sign-in is turned off on this server; register or log in');
    await limitSignIn(ctx);
    const { name } = parseBody(ctx, guestBody);
    answerSession(ctx, await store.createUserSession({ name, passwordHash: null, guest: true }, expiry()), 200);
  });

  // Ends this session only (the user's other devices stay signed in), everywhere at once: its token
  // is refused from now on and its WebSocket connections on every node are closed with 4001.
  router.post('/logout', async (ctx) => {
    const session = await currentSession(ctx, store, secret);
    if (session) {
      await store.endSession(session.id);
      await chat.endSessions(session.user.id, session.id);
    }
    clearSessionCookie(ctx, isSecureRequest(ctx, settings));
    ctx.status = 204;
  });

  // Ends every session of the account (a password that leaked must not leave one behind) and
  // starts a new one for this request, so that whoever changed it stays signed in here.
  router.post('/password', async (ctx) => {
    const { user } = await requireSession(ctx, store, secret);
    if (user.guest) throw new HttpError(403, 'forbidden', 'a guest has no password; register an account');
    // Each try costs an scrypt: with a stolen token, guesses of the password count as sign-ins.
    await limitSignIn(ctx);
    const { password, newPassword } = parseBody(ctx, passwordBody);
    const record = await store.findRegisteredUser(user.name);
    const matches = record?.id === user.id && record.passwordHash !== null && (await verifyPassword(password, record.passwordHash));
    if (!matches) throw new HttpError(403, 'forbidden', 'the current password is wrong');
    await store.setPassword(user.id, await hashPassword(newPassword));
    await chat.endSessions(user.id);
    deps.logger.info({ user: user.id, name: user.name, ip: ctx.state.ip }, 'password changed: every session ended');
    await signIn(ctx, user, 200);
  });

  router.get('/me', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    ctx.body = { user: userView(user) };
  });

  // A page's first question: 200 whether signed in or not, because a visitor without a session is
  // not an error (a browser logs every 401 as a failed load). The limits tell a client what will fit.
  router.get('/session', async (ctx) => {
    const user = await currentUser(ctx, store, secret);
    ctx.body = { user: user ? userView(user) : null, limits: { maxText: settings.maxText } };
  });

  return router;
}
