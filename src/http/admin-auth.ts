/**
 * Authentication shared by the admin routers (/admin/api/*): an API key (`Authorization: Bearer <key>`
 * or `X-API-Key`, compared in constant time), or — with no key — the dashboard session, whose person
 * becomes `res.locals.actor` (the session check answers the request itself when it refuses, e.g. a
 * state change without the CSRF token). Authorisation (who may do what) stays with each router.
 */
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The dashboard session's person: an e-mail, undefined (no session) or null (refused and answered). */
export type SessionActor = (req: Request, res: Response) => Promise<string | null | undefined>;

/** Constant-time comparison of a presented key with each configured key. */
export function keyMatches(given: string, keys: readonly string[]): boolean {
  const g = Buffer.from(given);
  return keys.some((k) => { const b = Buffer.from(k); return b.length === g.length && timingSafeEqual(b, g); });
}

/** The API key of a request, from `Authorization: Bearer` or `X-API-Key`. */
export function presentedKey(req: Request): string | undefined {
  const auth = req.get('authorization');
  return auth?.startsWith('Bearer ') ? auth.slice(7) : req.get('x-api-key');
}

/** Middleware: API key or dashboard session, else 401. */
export function adminAuth(d: { apiKeys: readonly string[]; sessionActor?: SessionActor }): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = presentedKey(req);
    if (!key && d.sessionActor) {
      const a = await d.sessionActor(req, res);
      if (a === null) return;
      if (a) { res.locals.actor = a; next(); return; }
    }
    if (!key || !keyMatches(key, d.apiKeys)) {
      res.status(401).json({ error: 'unauthorized', message: 'Send a valid API key as "Authorization: Bearer <key>" or "X-API-Key".' });
      return;
    }
    next();
  };
}
