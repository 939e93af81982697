/** Sign-in: register, login, guest, logout, me, session. */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { hashPassword, passwordSchema, verifyPassword } from '../auth/passwords.js';
import { signSession } from '../auth/tokens.js';
import { userNameSchema } from '../protocol/names.js';
import type { User } from '../store/types.js';
import { currentUser, requireUser } from './current-user.js';
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

const WRONG_LOGIN = 'wrong name or password';

export function authRoutes(deps: HttpDeps): Router {
  const { settings, store, secret, signInLimiter } = deps;
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

  function signIn(ctx: Context, user: User, status: number): void {
    const token = signSession(secret, user, settings.sessionTtlMs);
    setSessionCookie(ctx, token, isSecureRequest(ctx, settings), settings.sessionTtlMs);
    ctx.status = status;
    ctx.body = { user: userView(user), token };
  }

  router.post('/register', async (ctx) => {
    await limitSignIn(ctx);
    const { name, password } = parseBody(ctx, registerBody);
    const passwordHash = await hashPassword(password);
    const user = await store.createUser({ name, passwordHash, guest: false });
    deps.logger.info({ user: user.id, name: user.name, ip: ctx.state.ip }, 'account registered');
    signIn(ctx, user, 201);
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
    signIn(ctx, { id: record.id, name: record.name, guest: record.guest }, 200);
  });

  router.post('/guest', async (ctx) => {
    if (!settings.guests) throw new HttpError(403, 'forbidden', 'guest sign-in is turned off on this server; register or log in');
    await limitSignIn(ctx);
    const { name } = parseBody(ctx, guestBody);
    const user = await store.createUser({ name, passwordHash: null, guest: true });
    signIn(ctx, user, 200);
  });

  router.post('/logout', (ctx) => {
    // Tokens are stateless: logging out makes the browser forget its cookie; a copied token lives until it expires.
    clearSessionCookie(ctx, isSecureRequest(ctx, settings));
    ctx.status = 204;
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
