/**
 * Licence pools for admins, mounted at /admin/api/licences. Authenticated like the rest of /admin/api:
 * an API key (`Authorization: Bearer <key>` or `X-API-Key`) on behalf of `actor` (`?actor=` on GET,
 * `"actor"` in the body otherwise), or the dashboard session (then the signed-in person is the actor
 * and writes need X-CSRF-Token). Admins only (directory role `admin`); every change is audited.
 *
 *   GET   /                        pools: seats, cost per seat, owner, reserved, consumed, free, waiting
 *   POST  /                        {actor, product, title?, seats, costPerSeat?, owner}   → 201
 *   PATCH /:product                {actor, title?, seats?, costPerSeat?, owner?}
 *   GET   /waitlist                every waiting request, per product in order
 *   GET   /:product/waitlist
 *
 * More seats (or seats released) go to the waitlist at once: those requests continue to approval.
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { findPerson } from '../directory/directory.repository.js';
import { LicenceError, type LicenceService } from '../requests/checks/licences.js';
import { PRODUCT_PATTERN } from '../requests/checks/schema.js';
import { adminAuth } from './admin-auth.js';

export interface LicencesRouteDeps {
  db: Database;
  licences: LicenceService;
  /** Hands free seats to the waitlist and resumes those requests (CheckService.settle). */
  settle: () => Promise<unknown>;
  apiKeys: string[];
  /** The dashboard session's person; null = answered already (CSRF refused); undefined = no session. */
  sessionActor?: (req: Request, res: Response) => Promise<string | null | undefined>;
}


const actor = z.string().email('the e-mail of the admin asking');
const product = z.string().regex(PRODUCT_PATTERN, 'a product key like "visio" (lower-case letters, digits and -)');
const seats = z.number().int('a whole number of seats').min(0).max(1_000_000);
const cost = z.number().min(0, 'an amount of 0 or more');
const owner = z.string().email('the e-mail of the pool\'s owner');
const title = z.string().trim().min(1).max(200);

const addBody = z.object({ actor, product, title: title.optional(), seats, costPerSeat: cost.optional(), owner }).strict();
const patchBody = z.object({ actor, title: title.optional(), seats: seats.optional(), costPerSeat: cost.optional(), owner: owner.optional() }).strict()
  .refine((b) => b.title !== undefined || b.seats !== undefined || b.costPerSeat !== undefined || b.owner !== undefined, 'give at least one of title, seats, costPerSeat, owner');

type Issue = { path: string; message: string };
const issues = (e: z.ZodError): Issue[] => e.issues.map((i) => ({ path: i.path.join('.') || (i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys?.join(', ') ?? '(body)' : '(body)'), message: i.message }));

const poolJson = (p: Awaited<ReturnType<LicenceService['listPools']>>[number]) => ({
  product: p.product, title: p.title, seats: p.seats, costPerSeat: p.costPerSeat, owner: p.owner,
  reserved: p.reserved, consumed: p.consumed, free: p.free, waiting: p.waiting, updatedAt: p.updatedAt, updatedBy: p.updatedBy,
});

export function licencesRouter(d: LicencesRouteDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d));

  /** The admin on whose behalf the call is made, or undefined (answered with 400/403). */
  async function admin(req: Request, res: Response): Promise<string | undefined> {
    const given = res.locals.actor ?? (req.method === 'GET' ? req.query.actor : (req.body ?? {}).actor);
    const a = actor.safeParse(given);
    if (!a.success) { res.status(400).json({ error: 'invalid_actor', message: 'Say on whose behalf: ?actor=<e-mail> on GET, "actor" in the body otherwise.' }); return undefined; }
    const p = await findPerson(d.db, a.data);
    if (!p || !p.active || !p.roles.includes('admin')) { res.status(403).json({ error: 'forbidden', message: 'Licence pools are managed by admins.' }); return undefined; }
    return p.email;
  }

  const fail = (res: Response, e: unknown) => {
    if (e instanceof LicenceError) { res.status(e.status).json({ error: e.status === 404 ? 'not_found' : e.status === 409 ? 'conflict' : 'invalid_body', message: e.message }); return; }
    throw e;
  };

  r.get('/', async (req, res) => {
    if (!(await admin(req, res))) return;
    res.json({ pools: (await d.licences.listPools()).map(poolJson) });
  });

  r.post('/', async (req, res) => {
    const who = await admin(req, res);
    if (!who) return;
    const b = addBody.safeParse(res.locals.actor ? { ...(req.body ?? {}), actor: who } : req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/licences with {"actor", "product", "title"?, "seats", "costPerSeat"?, "owner"}', fields: issues(b.error) }); return; }
    try {
      const pool = await d.licences.addPool({ product: b.data.product, title: b.data.title ?? null, seats: b.data.seats, costPerSeat: b.data.costPerSeat ?? 0, owner: b.data.owner }, who);
      res.status(201).json(poolJson(pool));
    } catch (e) { fail(res, e); }
  });

  r.patch('/:product', async (req, res) => {
    const who = await admin(req, res);
    if (!who) return;
    const b = patchBody.safeParse(res.locals.actor ? { ...(req.body ?? {}), actor: who } : req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'PATCH /admin/api/licences/<product> with {"actor", "title"?, "seats"?, "costPerSeat"?, "owner"?}', fields: issues(b.error) }); return; }
    if (!PRODUCT_PATTERN.test(String(req.params.product))) { res.status(404).json({ error: 'not_found', message: 'no licence pool with that key (lower-case letters, digits and -)' }); return; }
    try {
      const { actor: _a, ...patch } = b.data;
      await d.licences.updatePool(String(req.params.product), patch, who);
      await d.settle(); // more seats: the waitlist moves at once
      res.json(poolJson((await d.licences.getPool(String(req.params.product)))!));
    } catch (e) { fail(res, e); }
  });

  r.get('/waitlist', async (req, res) => {
    if (!(await admin(req, res))) return;
    res.json({ waiting: await d.licences.waitlist() });
  });

  r.get('/:product/waitlist', async (req, res) => {
    if (!(await admin(req, res))) return;
    const p = String(req.params.product);
    if (!PRODUCT_PATTERN.test(p) || !(await d.licences.getPool(p))) { res.status(404).json({ error: 'not_found', message: `no licence pool "${p}"` }); return; }
    res.json({ product: p, waiting: await d.licences.waitlist(p) });
  });

  return r;
}
