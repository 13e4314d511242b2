/**
 * Catalogue versions over the admin API, mounted at /admin/api/catalogue (before the other
 * /admin/api routes). Authenticated like them (src/http/admin-api.routes.ts): an API key
 * (`Authorization: Bearer <key>` or `X-API-Key`) on behalf of a directory person (`?actor=` on GET,
 * `"actor"` in the body of POST), or the dashboard session (the actor is the signed-in person; POST
 * needs the X-CSRF-Token header).
 *
 *   GET  /versions                          admins, catalogue admins, auditors
 *   GET  /diff?from=<n>&to=<n>[&format=text] admins, catalogue admins, auditors (structured diff, or text)
 *   POST /rollback {actor, version, reason, expectedCurrent?}
 *                                           admins and catalogue admins: republishes `version` as a new
 *                                           version; 201 with the new version, 409 when refused
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { audit } from '../../audit/audit.repository.js';
import type { Database } from '../../db/database.js';
import { findPerson } from '../../directory/directory.repository.js';
import { diffCatalogues, renderDiff } from './diff.js';
import { CatalogueVersionError, type CatalogueVersionStore } from './store.js';
import { adminAuth } from '../../http/admin-auth.js';

export interface CatalogueAdminDeps {
  db: Database;
  store: CatalogueVersionStore;
  apiKeys: string[];
  /** The dashboard session's person; null = answered already (CSRF refused); undefined = no session. */
  sessionActor?: (req: Request, res: Response) => Promise<string | null | undefined>;
}

const READERS = ['admin', 'catalogue-admin', 'auditor'];
const CHANGERS = ['admin', 'catalogue-admin'];


const STATUS: Record<string, number> = { NOT_FOUND: 404, INVALID: 400, NOT_DRAFT: 409, NEVER_PUBLISHED: 409, ALREADY_CURRENT: 409, CONFLICT: 409, NO_CURRENT: 409 };

export function catalogueAdminRouter(d: CatalogueAdminDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d));

  /** The person acting, if they hold one of `roles`; answers 403 otherwise. */
  const authorise = async (req: Request, res: Response, given: unknown, roles: string[]) => {
    const email = (res.locals.actor as string | undefined) ?? (typeof given === 'string' ? given : undefined);
    const person = email ? await findPerson(d.db, email) : undefined;
    if (!person?.active || !person.roles.some((x) => roles.includes(x))) {
      if (person && req.method === 'POST') await audit(d.db, { actor: person.email, action: 'catalogue.refused', subject: 'catalogue', detail: { path: req.path, why: 'role' } });
      res.status(403).json({ error: 'forbidden', message: `Only ${roles.join(', ')} may do this${email ? '' : ': send the actor (an e-mail)'}.` });
      return undefined;
    }
    return person;
  };

  r.get('/versions', async (req, res) => {
    if (!(await authorise(req, res, req.query.actor, READERS))) return;
    res.json({ versions: await d.store.list({ limit: 200 }) });
  });

  r.get('/diff', async (req, res) => {
    if (!(await authorise(req, res, req.query.actor, READERS))) return;
    const q = z.object({ actor: z.string().optional(), from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1), format: z.enum(['json', 'text']).default('json') }).strict().safeParse(req.query);
    if (!q.success) { res.status(400).json({ error: 'invalid_query', message: 'GET /admin/api/catalogue/diff?from=<version>&to=<version>[&format=json|text]', fields: q.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) }); return; }
    const [a, b] = [await d.store.get(q.data.from), await d.store.get(q.data.to)];
    if (!a || !b) { res.status(404).json({ error: 'not_found', message: `no catalogue version ${!a ? q.data.from : q.data.to}` }); return; }
    const diff = diffCatalogues({ label: `v${a.number}`, documents: a.documents, files: a.files, model: a.model }, { label: `v${b.number}`, documents: b.documents, files: b.files, model: b.model });
    if (q.data.format === 'text') res.type('text/plain').send(renderDiff(diff));
    else res.json(diff);
  });

  const rollbackBody = z.object({
    actor: z.string().email().optional(),
    version: z.number().int().min(1),
    reason: z.string().trim().min(3, 'a reason of a few words').max(1000),
    expectedCurrent: z.number().int().min(1).optional(),
  }).strict();
  r.post('/rollback', async (req, res) => {
    const b = rollbackBody.safeParse(req.body ?? {});
    if (!b.success) {
      res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/catalogue/rollback with {"actor": <e-mail>, "version": <n>, "reason": <text>, "expectedCurrent"?: <n>}', fields: b.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })) });
      return;
    }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    try {
      const out = await d.store.rollback(b.data.version, { author: person.email, reason: b.data.reason, ...(b.data.expectedCurrent !== undefined ? { expectedCurrent: b.data.expectedCurrent } : {}) });
      res.status(201).json({ version: out.version, previous: out.previous, restartNeeded: out.restartNeeded, diff: out.diff ? renderDiff(out.diff) : null });
    } catch (e) {
      if (e instanceof CatalogueVersionError) {
        await audit(d.db, { actor: person.email, action: 'catalogue.rollback-refused', subject: `catalogue:v${b.data.version}`, detail: { code: e.code, message: e.message } });
        res.status(STATUS[e.code] ?? 409).json({ error: e.code.toLowerCase(), message: e.message });
        return;
      }
      throw e;
    }
  });

  return r;
}
