/**
 * Catalogue lifecycle over the admin API, mounted at /admin/api/lifecycle (before the other
 * /admin/api routes). Authenticated like them: an API key (`Authorization: Bearer <key>` or
 * `X-API-Key`) on behalf of a directory person (`?actor=` on GET, `"actor"` in the body of POST),
 * or the dashboard session (the actor is the signed-in person; POST needs the X-CSRF-Token header).
 * Reads: admins, catalogue admins and auditors; changes: admins and catalogue admins. Every change
 * and every refusal is audited.
 *
 *   GET  /usage[?item=<id>][&format=text]     requests per month (12 months), last used, open, deprecation
 *   GET  /deprecations[?status=active|removed|cancelled]
 *   POST /deprecations {actor, item, until, alternative?, reason}          → 201 (deprecation + who was told)
 *   POST /deprecations/:id/cancel {actor, reason}                          → 200
 *   POST /remove-due {actor, retry?}           runs the removal pass now (what the hourly job does); retry:
 *                                              also removals whose change request was denied or cancelled
 *   POST /org/reassign {actor, fromTeam?, toTeam?, ownerContact?, fromGroup?, toGroup?, fromRole?, toRole?,
 *                       fromPerson?, toPerson?, fromDepartment?, toDepartment?, items?, reason?, dryRun?, expectedCurrent?}
 *                                              dryRun: 200 with the diff (text and structured); else 201 with the new
 *                                              version, 202 with the change request (change control), or 409
 *                                              when publishing was refused (the draft is kept; `message` says why)
 *   POST /org/reroute-approvals {actor, dryRun?}   pending approvals of leavers re-routed (or planned)
 *
 * `until` is a date (`2026-12-31`, i.e. 00:00 UTC that day) or an ISO date-time.
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { ID_PATTERN } from '../catalogue/schema.js';
import { actorWithRole, CHANGERS, HTTP_STATUS, LifecycleError, READERS, renderUsage, type Lifecycle } from '../catalogue/lifecycle/index.js';
import { describeReroute } from '../catalogue/lifecycle/org.js';
import { parseInstant } from '../reporting/period.js';
import { adminAuth } from './admin-auth.js';

export interface LifecycleRouteDeps {
  db: Database;
  lifecycle: Lifecycle;
  apiKeys: string[];
  /** The dashboard session's person; null = answered already (CSRF refused); undefined = no session. */
  sessionActor?: (req: Request, res: Response) => Promise<string | null | undefined>;
}


const actor = z.string().email('the e-mail of the person acting');
const item = z.string().regex(ID_PATTERN, 'a catalogue id like "vpn-access"');
const when = z.string().refine((s) => parseInstant(s) !== undefined, 'a date (YYYY-MM-DD) or an ISO date-time');
const text = (what: string) => z.string().trim().min(1, what).max(200);

const deprecateBody = z.object({ actor: actor.optional(), item, until: when, alternative: item.optional(), reason: z.string().trim().min(3, 'a reason of a few words').max(1000) }).strict();
const cancelBody = z.object({ actor: actor.optional(), reason: z.string().trim().min(3, 'a reason of a few words').max(1000) }).strict();
const reassignBody = z.object({
  actor: actor.optional(),
  fromTeam: text('a team').optional(), toTeam: text('a team').optional(), ownerContact: z.string().email().optional(),
  fromGroup: text('a group').optional(), toGroup: text('a group').optional(),
  fromRole: text('a role').optional(), toRole: text('a role').optional(),
  fromPerson: z.string().email().optional(), toPerson: z.string().email().optional(),
  fromDepartment: text('a department').optional(), toDepartment: text('a department').optional(),
  items: z.array(item).min(1).optional(),
  reason: z.string().trim().min(3).max(1000).optional(),
  dryRun: z.boolean().default(false),
  expectedCurrent: z.number().int().min(1).optional(),
}).strict();
const rerouteBody = z.object({ actor: actor.optional(), dryRun: z.boolean().default(false) }).strict();
const removeBody = z.object({ actor: actor.optional(), retry: z.boolean().default(false) }).strict();

type Issue = { path: string; message: string };
const issues = (e: z.ZodError): Issue[] => e.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));

export function lifecycleRouter(d: LifecycleRouteDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d));

  const actorOf = (res: Response, given: unknown): string | undefined => (res.locals.actor as string | undefined) ?? (typeof given === 'string' ? given : undefined);

  /** The person acting with one of `roles`; answers 403 (audited for changes) otherwise. */
  const authorise = async (req: Request, res: Response, given: unknown, roles: string[]) => {
    const email = actorOf(res, given);
    try {
      return await actorWithRole(d.db, email, roles);
    } catch (e) {
      if (!(e instanceof LifecycleError)) throw e;
      if (email && req.method === 'POST') await audit(d.db, { actor: email, action: 'lifecycle.refused', subject: 'catalogue-lifecycle', detail: { path: req.path, why: 'role' } });
      res.status(403).json({ error: 'forbidden', message: e.message });
      return undefined;
    }
  };

  const fail = async (res: Response, e: unknown, who: string, path: string): Promise<void> => {
    if (!(e instanceof LifecycleError)) throw e;
    await audit(d.db, { actor: who, action: 'lifecycle.refused', subject: 'catalogue-lifecycle', detail: { path, code: e.code, message: e.message.slice(0, 2000) } });
    res.status(HTTP_STATUS[e.code]).json({ error: e.code.toLowerCase(), message: e.message, ...(e.details.errors ? { errors: e.details.errors } : {}) });
  };

  r.get('/usage', async (req, res) => {
    if (!(await authorise(req, res, req.query.actor, READERS))) return;
    const q = z.object({ actor: z.string().optional(), item: item.optional(), format: z.enum(['json', 'text']).default('json') }).strict().safeParse(req.query);
    if (!q.success) { res.status(400).json({ error: 'invalid_query', message: 'GET /admin/api/lifecycle/usage?actor=<e-mail>[&item=<id>][&format=json|text]', fields: issues(q.error) }); return; }
    const report = await d.lifecycle.usage(q.data.item ? { item: q.data.item } : {});
    if (q.data.item && !report.items.length) { res.status(404).json({ error: 'not_found', message: `no catalogue item or requests "${q.data.item}"` }); return; }
    if (q.data.format === 'text') res.type('text/plain').send(renderUsage(report));
    else res.json(report);
  });

  r.get('/deprecations', async (req, res) => {
    if (!(await authorise(req, res, req.query.actor, READERS))) return;
    const q = z.object({ actor: z.string().optional(), status: z.enum(['active', 'removed', 'cancelled']).optional() }).strict().safeParse(req.query);
    if (!q.success) { res.status(400).json({ error: 'invalid_query', message: 'GET /admin/api/lifecycle/deprecations?actor=<e-mail>[&status=active|removed|cancelled]', fields: issues(q.error) }); return; }
    res.json({ deprecations: await d.lifecycle.deprecations.list(q.data.status ? { statuses: [q.data.status] } : {}) });
  });

  r.post('/deprecations', async (req, res) => {
    const b = deprecateBody.safeParse(req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/lifecycle/deprecations with {"actor": <e-mail>, "item": <id>, "until": <date>, "alternative"?: <id>, "reason": <text>}', fields: issues(b.error) }); return; }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    try {
      const out = await d.lifecycle.deprecations.deprecate({ item: b.data.item, until: parseInstant(b.data.until)!, alternative: b.data.alternative ?? null, reason: b.data.reason, actor: person.email });
      res.status(201).json(out);
    } catch (e) { await fail(res, e, person.email, req.path); }
  });

  r.post('/deprecations/:id/cancel', async (req, res) => {
    const id = Number(req.params.id);
    const b = cancelBody.safeParse(req.body ?? {});
    if (!b.success || !Number.isSafeInteger(id) || id < 1) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/lifecycle/deprecations/<id>/cancel with {"actor": <e-mail>, "reason": <text>}', fields: b.success ? [{ path: 'id', message: 'a deprecation id' }] : issues(b.error) }); return; }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    try {
      res.json({ deprecation: await d.lifecycle.deprecations.cancel({ id, actor: person.email, reason: b.data.reason }) });
    } catch (e) { await fail(res, e, person.email, req.path); }
  });

  r.post('/remove-due', async (req, res) => {
    const b = removeBody.safeParse(req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/lifecycle/remove-due with {"actor": <e-mail>, "retry"?: true}', fields: issues(b.error) }); return; }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    const outcomes = await d.lifecycle.removeDue({ retry: b.data.retry });
    await audit(d.db, { actor: person.email, action: 'catalogue.remove-due-run', subject: 'catalogue-lifecycle', detail: { outcomes } });
    res.json({ outcomes });
  });

  r.post('/org/reassign', async (req, res) => {
    const b = reassignBody.safeParse(req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/lifecycle/org/reassign with {"actor", "fromTeam"/"toTeam" (+ "ownerContact"), "fromGroup"/"toGroup", "fromRole"/"toRole", "fromPerson"/"toPerson", "fromDepartment"/"toDepartment", "items"?, "reason"?, "dryRun"?, "expectedCurrent"?}', fields: issues(b.error) }); return; }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    const { actor: _a, dryRun, reason, expectedCurrent, ...change } = b.data;
    try {
      const out = await d.lifecycle.org.reassign(change, { actor: person.email, dryRun, ...(reason ? { reason } : {}), ...(expectedCurrent !== undefined ? { expectedCurrent } : {}) });
      if (dryRun) await audit(d.db, { actor: person.email, action: 'catalogue.org-reassign-previewed', subject: 'catalogue-lifecycle', detail: { change, base: out.base, edits: out.changes.length } });
      const outcome = 'outcome' in out ? out.outcome : undefined;
      res.status(!outcome ? 200 : outcome === 'published' ? 201 : outcome === 'change-request' ? 202 : 409).json(out);
    } catch (e) { await fail(res, e, person.email, req.path); }
  });

  r.post('/org/reroute-approvals', async (req, res) => {
    const b = rerouteBody.safeParse(req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /admin/api/lifecycle/org/reroute-approvals with {"actor": <e-mail>, "dryRun"?: true}', fields: issues(b.error) }); return; }
    const person = await authorise(req, res, b.data.actor, CHANGERS);
    if (!person) return;
    const out = await d.lifecycle.rerouteApprovals({ dryRun: b.data.dryRun, actor: person.email });
    await audit(d.db, { actor: person.email, action: b.data.dryRun ? 'approval.reroute-previewed' : 'approval.reroute-run', subject: 'catalogue-lifecycle', detail: { count: out.length, outcomes: out.map((o) => ({ ref: o.plan.ref, outcome: o.outcome })) } });
    res.json({ dryRun: b.data.dryRun, results: out.map((o) => ({ ...o, text: describeReroute(o) })) });
  });

  return r;
}
