/**
 * Sign-in to the admin dashboard.
 *
 * - Local accounts (`errand admin add-user`): a directory person with a scrypt password hash
 *   (node:crypto; N=2^15, r=8, p=1, 16-byte salt, 32-byte key), compared in constant time.
 * - Chat sign-in links: "send me a sign-in link" posts a link to the person's chat through the
 *   outbox (whichever channel they use renders it). The token is 32 random bytes; only its SHA-256
 *   is stored; it expires after 10 minutes and is consumed once, by a conditional UPDATE.
 * - Sessions: a random id in an HttpOnly, SameSite=Lax cookie (Secure in production), only its
 *   SHA-256 stored in `admin_sessions` with an expiry (ADMIN_SESSION_TTL_HOURS); logout revokes it.
 *   The person is looked up on every request: a disabled person's session stops working at once.
 * - CSRF: every session has a token, sent in a second cookie readable by the page's script
 *   (`errand_csrf`); POST/PATCH/PUT/DELETE with a session need the `X-CSRF-Token` header equal to
 *   that cookie and to the session's token (double submit, tied to the session). The sign-in forms
 *   (no session yet) carry a form token equal to a pre-session cookie (`errand_login`).
 * - Throttling: at most 5 failed password attempts, and 5 link requests, per (e-mail, IP) in 15
 *   minutes, counted in PostgreSQL under an advisory lock; every sign-in, failure, refusal, link and
 *   logout is audited.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Request, Response } from 'express';
import { audit } from '../../audit/audit.repository.js';
import type { Catalogue } from '../../catalogue/loader.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, normEmail, type Person } from '../../directory/directory.repository.js';
import { reportAccess, type ReportKind } from '../../reporting/access.js';

export const SESSION_COOKIE = 'errand_admin';
export const CSRF_COOKIE = 'errand_csrf';
export const LOGIN_COOKIE = 'errand_login';
export const CSRF_HEADER = 'x-csrf-token';
export const LINK_TTL_MINUTES = 10;
export const THROTTLE = { max: 5, windowMinutes: 15 } as const;
export const MIN_PASSWORD = 12;

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// ---------------------------------------------------------------- passwords

function scrypt(password: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFKC'), salt, keylen, { ...o, maxmem: 256 * o.N! * o.r! }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** `scrypt$N$r$p$<salt>$<key>` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches a stored hash (false for a malformed hash). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, key] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  try {
    const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
    return got.length === expected.length && timingSafeEqual(got, expected);
  } catch {
    return false; // parameters scrypt refuses
  }
}

/** What is wrong with a new password, or undefined. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `at least ${MIN_PASSWORD} characters`;
  if (password.length > 1024) return 'at most 1024 characters';
  if (password.trim() !== password) return 'no leading or trailing spaces';
  return undefined;
}

/** A hash to verify against when the account does not exist, so both cases take as long. */
let dummyHash: Promise<string> | undefined;

// ---------------------------------------------------------------- accounts

export interface AdminAccount { email: string; name: string; active: boolean; createdBy: string; createdAt: Date; updatedAt: Date }

/** Creates the local account of a directory person, or sets a new password. Audited. */
export async function setAccountPassword(db: Database, email: string, password: string, actor: string): Promise<'created' | 'updated'> {
  const e = normEmail(email);
  const problem = passwordProblem(password);
  if (problem) throw new Error(`password: ${problem}`);
  const person = await findPerson(db, e);
  if (!person) throw new Error(`${e} is not in the directory`);
  if (!person.active) throw new Error(`${e} is disabled in the directory`);
  const hash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const r = await tx.query<{ inserted: boolean }>(
      `INSERT INTO admin_accounts (email, password_hash, created_by) VALUES ($1, $2, $3)
       ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now() RETURNING (xmax = 0) AS inserted`, [e, hash, actor]);
    const created = r.rows[0]!.inserted;
    // a new password ends the person's password sessions
    if (!created) await tx.query(`UPDATE admin_sessions SET revoked_at = now() WHERE email = $1 AND method = 'password' AND revoked_at IS NULL`, [e]);
    await audit(tx, { actor, action: created ? 'admin.account-created' : 'admin.password-changed', subject: e });
    return created ? 'created' : 'updated';
  });
}

/** Removes a local account and ends its sessions. Audited. */
export async function removeAccount(db: Database, email: string, actor: string): Promise<boolean> {
  const e = normEmail(email);
  return db.transaction(async (tx) => {
    const r = await tx.query('DELETE FROM admin_accounts WHERE email = $1', [e]);
    if (!r.rowCount) return false;
    await tx.query('UPDATE admin_sessions SET revoked_at = now() WHERE email = $1 AND revoked_at IS NULL', [e]);
    await audit(tx, { actor, action: 'admin.account-removed', subject: e });
    return true;
  });
}

export async function listAccounts(q: Queryable): Promise<AdminAccount[]> {
  const r = await q.query(`SELECT a.email, p.name, p.active, a.created_by, a.created_at, a.updated_at FROM admin_accounts a JOIN people p ON p.email = a.email ORDER BY a.email`);
  return r.rows.map((x) => ({ email: x.email, name: x.name, active: x.active, createdBy: x.created_by, createdAt: x.created_at, updatedAt: x.updated_at }));
}

// ---------------------------------------------------------------- cookies

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!(k in out)) { try { out[k] = decodeURIComponent(part.slice(i + 1).trim()); } catch { /* not ours */ } }
  }
  return out;
}

export interface CookieOptions { maxAgeSeconds?: number; httpOnly: boolean; secure: boolean; path: string; sameSite: 'Lax' | 'Strict' }

/** A Set-Cookie value. maxAgeSeconds 0 deletes it. */
export function cookie(name: string, value: string, o: CookieOptions): string {
  return [`${name}=${encodeURIComponent(value)}`, `Path=${o.path}`, ...(o.maxAgeSeconds !== undefined ? [`Max-Age=${Math.floor(o.maxAgeSeconds)}`] : []),
    ...(o.httpOnly ? ['HttpOnly'] : []), ...(o.secure ? ['Secure'] : []), `SameSite=${o.sameSite}`].join('; ');
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const token = (): string => randomBytes(32).toString('base64url');

export function safeEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export const clientIp = (req: Request): string => (req.ip ?? req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');

// ---------------------------------------------------------------- the service

export interface AdminSession { email: string; person: Person; csrf: string; method: 'password' | 'chat-link'; expiresAt: Date }
export interface NewSession { id: string; csrf: string; expiresAt: Date; email: string }

export type LoginResult = { ok: true; session: NewSession } | { ok: false; reason: 'invalid' | 'no-access'; message: string } | { ok: false; reason: 'throttled'; retryAfterSeconds: number; message: string };

export interface AdminAuthDeps {
  db: Database;
  catalogue: () => Catalogue;
  now: () => Date;
  sessionTtlHours: number;
  /** Secure cookies (production). */
  secure: boolean;
}

export const REPORT_KINDS: ReportKind[] = ['overview', 'cycle-time', 'bottlenecks', 'failures', 'forecast', 'service-review'];

export class AdminAuth {
  constructor(private readonly d: AdminAuthDeps) {}

  /** The reports a person may see (none: no dashboard for them). */
  kindsFor(person: Person | undefined): ReportKind[] {
    return REPORT_KINDS.filter((k) => reportAccess(person, this.d.catalogue(), k).ok);
  }

  /** Starts an attempt under the (e-mail, IP) throttle; the attempt id, or when to try again. */
  private async begin(email: string, ip: string, kind: 'password' | 'link'): Promise<{ id: number } | { retryAfterSeconds: number }> {
    const now = this.d.now();
    const since = new Date(now.getTime() - THROTTLE.windowMinutes * 60_000);
    return this.d.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`admin-login:${kind}:${email}:${ip}`]);
      const c = (await tx.query<{ n: number; oldest: Date | null }>(
        `SELECT count(*)::int AS n, min(at) AS oldest FROM admin_login_attempts WHERE email = $1 AND ip = $2 AND kind = $3 AND at > $4 AND ($3 = 'link' OR ok IS NOT TRUE)`,
        [email, ip, kind, since])).rows[0]!;
      if (c.n >= THROTTLE.max) {
        const free = new Date(c.oldest!).getTime() + THROTTLE.windowMinutes * 60_000;
        return { retryAfterSeconds: Math.max(1, Math.ceil((free - now.getTime()) / 1000)) };
      }
      const r = await tx.query<{ id: string }>('INSERT INTO admin_login_attempts (email, ip, kind, ok, at) VALUES ($1, $2, $3, NULL, $4) RETURNING id', [email, ip, kind, now]);
      return { id: Number(r.rows[0]!.id) };
    });
  }

  private async finish(id: number, ok: boolean): Promise<void> {
    await this.d.db.query('UPDATE admin_login_attempts SET ok = $2 WHERE id = $1', [id, ok]);
  }

  private throttled(email: string, ip: string, kind: string, retryAfterSeconds: number): Promise<void> {
    return audit(this.d.db, { actor: email, action: 'admin.login-throttled', subject: email, detail: { ip, kind, retryAfterSeconds } });
  }

  private async createSession(q: Queryable, email: string, method: 'password' | 'chat-link', ip: string, userAgent: string | undefined): Promise<NewSession> {
    const now = this.d.now();
    const id = token(), csrf = token();
    const expiresAt = new Date(now.getTime() + this.d.sessionTtlHours * 3_600_000);
    await q.query(`INSERT INTO admin_sessions (id_hash, email, csrf_token, method, ip, user_agent, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)`,
      [sha256(id), email, csrf, method, ip, (userAgent ?? '').slice(0, 300), now, expiresAt]);
    await audit(q, { actor: email, action: 'admin.login', subject: email, detail: { method, ip } });
    // housekeeping: sessions and links that ended more than a day ago
    await q.query(`DELETE FROM admin_sessions WHERE expires_at < $1::timestamptz - interval '1 day' OR revoked_at < $1::timestamptz - interval '1 day'`, [now]);
    await q.query(`DELETE FROM admin_login_links WHERE expires_at < $1::timestamptz - interval '1 day'`, [now]);
    return { id, csrf, expiresAt, email };
  }

  /** E-mail + password. */
  async passwordLogin(emailIn: string, password: string, ip: string, userAgent?: string): Promise<LoginResult> {
    const email = normEmail(emailIn).slice(0, 320);
    const invalid = { ok: false as const, reason: 'invalid' as const, message: 'Wrong e-mail or password.' };
    const attempt = await this.begin(email, ip, 'password');
    if ('retryAfterSeconds' in attempt) {
      await this.throttled(email, ip, 'password', attempt.retryAfterSeconds);
      return { ok: false, reason: 'throttled', retryAfterSeconds: attempt.retryAfterSeconds, message: `Too many failed attempts. Try again in ${Math.ceil(attempt.retryAfterSeconds / 60)} minute(s).` };
    }
    const row = (await this.d.db.query<{ password_hash: string }>('SELECT password_hash FROM admin_accounts WHERE email = $1', [email])).rows[0];
    dummyHash ??= hashPassword(token());
    const ok = await verifyPassword(password.slice(0, 1024), row?.password_hash ?? await dummyHash);
    const person = ok && row ? await findPerson(this.d.db, email) : undefined;
    if (!ok || !row || !person?.active) {
      await this.finish(attempt.id, false);
      await audit(this.d.db, { actor: email, action: 'admin.login-failed', subject: email, detail: { method: 'password', ip, why: !row ? 'no account' : !ok ? 'wrong password' : 'inactive person' } });
      return invalid;
    }
    await this.finish(attempt.id, true);
    if (!this.kindsFor(person).length) {
      await audit(this.d.db, { actor: email, action: 'admin.login-refused', subject: email, detail: { method: 'password', ip, why: 'no dashboard role' } });
      return { ok: false, reason: 'no-access', message: 'Your directory roles do not include any dashboard page (admins, auditors, catalogue admins, service owners and fulfillers have some).' };
    }
    return { ok: true, session: await this.d.db.transaction((tx) => this.createSession(tx, email, 'password', ip, userAgent)) };
  }

  /**
   * Sends a sign-in link to the person's chat, when they exist, are active and may see a dashboard
   * page; otherwise nothing is sent (the caller answers the same either way).
   */
  async requestLink(emailIn: string, ip: string, baseUrl: string): Promise<{ ok: true; sent: boolean } | { ok: false; retryAfterSeconds: number }> {
    const email = normEmail(emailIn).slice(0, 320);
    const attempt = await this.begin(email, ip, 'link');
    if ('retryAfterSeconds' in attempt) { await this.throttled(email, ip, 'link', attempt.retryAfterSeconds); return { ok: false, retryAfterSeconds: attempt.retryAfterSeconds }; }
    const person = await findPerson(this.d.db, email);
    if (!person?.active || !this.kindsFor(person).length) {
      await this.finish(attempt.id, false);
      await audit(this.d.db, { actor: email, action: 'admin.link-refused', subject: email, detail: { ip, why: !person ? 'not in the directory' : !person.active ? 'inactive person' : 'no dashboard role' } });
      return { ok: true, sent: false };
    }
    const t = token();
    const now = this.d.now();
    const url = `${baseUrl}/admin/login/link?token=${t}`;
    await this.d.db.transaction(async (tx) => {
      await tx.query('INSERT INTO admin_login_links (token_hash, email, requested_ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [sha256(t), email, ip, now, new Date(now.getTime() + LINK_TTL_MINUTES * 60_000)]);
      await postMessage(tx, email, {
        kind: 'info',
        text: `Your sign-in link for the errand dashboard (valid for ${LINK_TTL_MINUTES} minutes, once): ${url}\nDid not ask for it? Ignore this message; the link expires by itself.`,
      });
      await audit(tx, { actor: email, action: 'admin.link-sent', subject: email, detail: { ip } });
    });
    await this.finish(attempt.id, true);
    return { ok: true, sent: true };
  }

  /** Whether a link token is still usable (for the confirmation page; does not consume it). */
  async linkUsable(t: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(t)) return false;
    const r = await this.d.db.query('SELECT 1 FROM admin_login_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2', [sha256(t), this.d.now()]);
    return r.rows.length > 0;
  }

  /** Consumes a link token (once) and opens a session; undefined when it is unknown, used or expired. */
  async consumeLink(t: string, ip: string, userAgent?: string): Promise<NewSession | undefined> {
    const now = this.d.now();
    const out = /^[A-Za-z0-9_-]{43}$/.test(t) ? await this.d.db.transaction(async (tx) => {
      const r = await tx.query<{ email: string }>(
        'UPDATE admin_login_links SET used_at = $2, used_ip = $3 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING email', [sha256(t), now, ip]);
      const email = r.rows[0]?.email;
      if (!email) return undefined;
      const person = await findPerson(tx, email);
      if (!person?.active || !this.kindsFor(person).length) return undefined;
      return this.createSession(tx, email, 'chat-link', ip, userAgent);
    }) : undefined;
    if (!out) await audit(this.d.db, { actor: 'anonymous', action: 'admin.login-failed', subject: 'admin-link', detail: { method: 'chat-link', ip, why: 'unknown, used or expired link' } });
    return out;
  }

  /** The session of a request (valid, not expired, person active), or undefined. */
  async session(req: Request): Promise<AdminSession | undefined> {
    const id = parseCookies(req.get('cookie'))[SESSION_COOKIE];
    if (!id || id.length > 100) return undefined;
    const now = this.d.now();
    const r = (await this.d.db.query<{ email: string; csrf_token: string; method: 'password' | 'chat-link'; expires_at: Date; last_seen_at: Date }>(
      'SELECT email, csrf_token, method, expires_at, last_seen_at FROM admin_sessions WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2', [sha256(id), now])).rows[0];
    if (!r) return undefined;
    const person = await findPerson(this.d.db, r.email);
    if (!person?.active) return undefined;
    if (now.getTime() - new Date(r.last_seen_at).getTime() > 60_000) await this.d.db.query('UPDATE admin_sessions SET last_seen_at = $2 WHERE id_hash = $1', [sha256(id), now]);
    return { email: r.email, person, csrf: r.csrf_token, method: r.method, expiresAt: r.expires_at };
  }

  /** Ends the session of a request. */
  async logout(req: Request, s: AdminSession): Promise<void> {
    const id = parseCookies(req.get('cookie'))[SESSION_COOKIE]!;
    await this.d.db.query('UPDATE admin_sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL', [sha256(id), this.d.now()]);
    await audit(this.d.db, { actor: s.email, action: 'admin.logout', subject: s.email, detail: { ip: clientIp(req) } });
  }

  /** Audits a state-changing request with a session but without the right X-CSRF-Token (a cross-site request?). */
  async csrfRefused(req: Request, s: AdminSession): Promise<void> {
    await audit(this.d.db, { actor: s.email, action: 'admin.csrf-refused', subject: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 300), detail: { ip: clientIp(req), header: req.get(CSRF_HEADER) ? 'wrong' : 'missing', origin: req.get('origin') ?? null } });
  }

  /** The double-submit check of a state-changing request: header = CSRF cookie = the session's token. */
  csrfOk(req: Request, s: AdminSession): boolean {
    const header = req.get(CSRF_HEADER);
    return safeEqual(header, parseCookies(req.get('cookie'))[CSRF_COOKIE]) && safeEqual(header, s.csrf);
  }

  /**
   * For /admin/api: the signed-in person's e-mail; null when the request was answered here (403 for
   * a state-changing request without the CSRF header); undefined without a session.
   */
  readonly apiActor = async (req: Request, res: Response): Promise<string | null | undefined> => {
    const s = await this.session(req);
    if (!s) return undefined;
    if (!SAFE_METHODS.has(req.method) && !this.csrfOk(req, s)) {
      await this.csrfRefused(req, s);
      res.status(403).json({ error: 'csrf', message: `Send the "X-CSRF-Token" header with the value of the ${CSRF_COOKIE} cookie.` });
      return null;
    }
    return s.email;
  };

  isSafeMethod(method: string): boolean { return SAFE_METHODS.has(method); }

  /** Set-Cookie values that open a session. */
  sessionCookies(s: NewSession): string[] {
    const maxAge = Math.round((s.expiresAt.getTime() - this.d.now().getTime()) / 1000);
    return [
      cookie(SESSION_COOKIE, s.id, { path: '/admin', httpOnly: true, secure: this.d.secure, sameSite: 'Lax', maxAgeSeconds: maxAge }),
      cookie(CSRF_COOKIE, s.csrf, { path: '/admin', httpOnly: false, secure: this.d.secure, sameSite: 'Strict', maxAgeSeconds: maxAge }),
      cookie(LOGIN_COOKIE, '', { path: '/admin/login', httpOnly: true, secure: this.d.secure, sameSite: 'Lax', maxAgeSeconds: 0 }),
    ];
  }

  clearCookies(): string[] {
    return [
      cookie(SESSION_COOKIE, '', { path: '/admin', httpOnly: true, secure: this.d.secure, sameSite: 'Lax', maxAgeSeconds: 0 }),
      cookie(CSRF_COOKIE, '', { path: '/admin', httpOnly: false, secure: this.d.secure, sameSite: 'Strict', maxAgeSeconds: 0 }),
    ];
  }

  /** The sign-in forms' token (pre-session double submit): the cookie's value, set when missing. */
  loginFormToken(req: Request, res: Response): string {
    const have = parseCookies(req.get('cookie'))[LOGIN_COOKIE];
    if (have && /^[A-Za-z0-9_-]{43}$/.test(have)) return have;
    const t = token();
    res.append('Set-Cookie', cookie(LOGIN_COOKIE, t, { path: '/admin/login', httpOnly: true, secure: this.d.secure, sameSite: 'Lax', maxAgeSeconds: 3600 }));
    return t;
  }

  loginFormOk(req: Request, formToken: unknown): boolean {
    return typeof formToken === 'string' && safeEqual(formToken, parseCookies(req.get('cookie'))[LOGIN_COOKIE]);
  }
}
