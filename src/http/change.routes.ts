/**
 * Catalogue change requests over the admin API, mounted at /admin/api/changes (before the other
 * /admin/api routes). Authenticated like them: an API key (`Authorization: Bearer <key>` or
 * `X-API-Key`) on behalf of a directory person (`?actor=` on GET, `"actor"` in the body otherwise),
 * or the dashboard session (the signed-in person is the actor; writes need X-CSRF-Token).
 * Authorised in ChangeService (src/catalogue/change/service.ts), as for the CLI and the chat cards.
 *
 *   GET    /                      open changes (?all=true: every change) and the freeze windows
 *                                 (admins, catalogue admins, auditors, security)
 *   POST   /                      {actor, draft | rollbackTo, reason, emergency?, at?}
 *                                 → 201 waiting for approval; 422 when the dry run failed (stored, not
 *                                 submitted); 400 invalid; 403 not allowed; 404 no such version; 409 refused
 *   GET    /freezes               freeze windows (?all=true: past and removed ones too)
 *   POST   /freezes               {actor, from, to, reason} → 201 (admins, catalogue admins)
 *   DELETE /freezes/:id           {actor, reason?} (admins)
 *   GET    /:ref                  one change: diff, impact, dry run, approvals (?format=text: as
 *                                 `errand change show`); readers above, its author and its approvers
 *   POST   /:ref/decide           {actor, decision: approve|deny, reason?, step?}: only a listed approver
 *                                 who is not the author; 200, 400 reason needed, 403, 404, 409 decided/closed
 *   POST   /:ref/cancel           {actor, reason}: the author or an admin
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { ChangeError, type ChangeService, type DecideOutcome } from '../catalogue/change/service.js';
import { renderChange } from '../catalogue/change/render.js';
import { whatOf, type ChangeRequest } from '../catalogue/change/model.js';
import { adminAuth } from './admin-auth.js';

export interface ChangeRoutesDeps {
  changes: ChangeService;
  apiKeys: string[];
  /** The dashboard session's person; null = answered already (CSRF refused); undefined = no session. */
  sessionActor?: (req: Request, res: Response) => Promise<string | null | undefined>;
}


type Issue = { path: string; message: string };
const issues = (e: z.ZodError): Issue[] => e.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
const instant = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(new Date(s).getTime()), 'an ISO time like 2026-12-01T18:00:00Z').transform((s) => new Date(s));
const actor = z.string().email('the e-mail of the person acting').optional();

const createBody = z.object({
  actor, draft: z.number().int().min(1).optional(), rollbackTo: z.number().int().min(1).optional(),
  reason: z.string().trim().min(3, 'a reason of a few words').max(2000), emergency: z.boolean().optional(), at: instant.optional(),
}).strict().refine((b) => (b.draft === undefined) !== (b.rollbackTo === undefined), 'give either "draft" or "rollbackTo"');
const decideBody = z.object({ actor, decision: z.enum(['approve', 'deny']), reason: z.string().trim().max(2000).optional(), step: z.string().min(1).optional() }).strict();
const cancelBody = z.object({ actor, reason: z.string().trim().min(3).max(2000) }).strict();
const freezeBody = z.object({ actor, from: instant, to: instant, reason: z.string().trim().min(3).max(500) }).strict();
const removeBody = z.object({ actor, reason: z.string().trim().max(500).optional() }).strict();

const STATUS: Record<string, number> = { NOT_FOUND: 404, INVALID: 400, FORBIDDEN: 403, CONFLICT: 409, NO_APPROVER: 409 };
const DECIDE_STATUS: Record<DecideOutcome['outcome'], number> = {
  approved: 200, denied: 200, published: 200, scheduled: 200, failed: 409, 'already-decided': 409, closed: 409, 'not-allowed': 403, 'not-found': 404, 'reason-required': 400,
};

export const summaryOf = (c: ChangeRequest) => ({
  ref: c.ref, kind: c.kind, what: whatOf(c), status: c.status, author: c.author, reason: c.reason, emergency: c.emergency,
  scheduledAt: c.scheduledAt, createdAt: c.createdAt, baseVersion: c.baseVersion, draftVersion: c.draftVersion, targetVersion: c.targetVersion,
  publishedVersion: c.publishedVersion, risk: (c.impact as { risk?: string }).risk ?? null, dryRun: c.dryRun.summary, closedReason: c.closedReason,
});

export function changeRouter(d: ChangeRoutesDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d));

  const who = (res: Response, given: unknown): string | undefined => (res.locals.actor as string | undefined) ?? (typeof given === 'string' && given ? given : undefined);
  const noActor = (res: Response) => res.status(400).json({ error: 'invalid_query', message: 'send the actor (an e-mail): ?actor= on GET, "actor" in the body otherwise' });
  const fail = (res: Response, e: unknown) => {
    if (e instanceof ChangeError) { res.status(STATUS[e.code] ?? 409).json({ error: e.code.toLowerCase(), message: e.message }); return; }
    throw e;
  };
  const bad = (res: Response, usage: string, e: z.ZodError) => res.status(400).json({ error: 'invalid_body', message: usage, fields: issues(e) });

  r.get('/', async (req, res) => {
    const a = who(res, req.query.actor);
    if (!a) { noActor(res); return; }
    if (!(await d.changes.mayRead(a))) { res.status(403).json({ error: 'forbidden', message: 'Only admins, catalogue admins, auditors and security may list changes.' }); return; }
    const all = req.query.all === 'true';
    const list = await d.changes.list(all ? { limit: 500 } : { statuses: ['pending-approval', 'approved'] });
    res.json({ changes: list.map(summaryOf), freezes: await d.changes.listFreezes() });
  });

  r.post('/', async (req, res) => {
    const b = createBody.safeParse(req.body ?? {});
    if (!b.success) { bad(res, 'POST /admin/api/changes with {"actor", "draft" | "rollbackTo", "reason", "emergency"?, "at"?}', b.error); return; }
    const a = who(res, b.data.actor);
    if (!a) { noActor(res); return; }
    try {
      const out = await d.changes.create({
        ...(b.data.draft !== undefined ? { draft: b.data.draft } : { rollbackTo: b.data.rollbackTo! }), author: a, reason: b.data.reason,
        emergency: b.data.emergency ?? false, at: b.data.at ?? null,
      });
      const failed = out.change.status === 'dry-run-failed';
      res.status(failed ? 422 : 201).json({ ...(failed ? { error: 'dry_run_failed', message: `the dry run failed: ${out.change.dryRun.summary}` } : {}), change: out.change, approvals: out.approvals, warnings: out.warnings });
    } catch (e) { fail(res, e); }
  });

  r.get('/freezes', async (req, res) => {
    const a = who(res, req.query.actor);
    if (!a) { noActor(res); return; }
    if (!(await d.changes.mayRead(a))) { res.status(403).json({ error: 'forbidden', message: 'Only admins, catalogue admins, auditors and security may list freezes.' }); return; }
    res.json({ freezes: await d.changes.listFreezes({ all: req.query.all === 'true' }) });
  });

  r.post('/freezes', async (req, res) => {
    const b = freezeBody.safeParse(req.body ?? {});
    if (!b.success) { bad(res, 'POST /admin/api/changes/freezes with {"actor", "from", "to", "reason"}', b.error); return; }
    const a = who(res, b.data.actor);
    if (!a) { noActor(res); return; }
    try {
      const out = await d.changes.addFreeze({ from: b.data.from, to: b.data.to, reason: b.data.reason, actor: a });
      res.status(201).json({ freeze: out.freeze, affected: out.affected.map(summaryOf) });
    } catch (e) { fail(res, e); }
  });

  r.delete('/freezes/:id', async (req, res) => {
    const b = removeBody.safeParse(req.body ?? {});
    if (!b.success) { bad(res, 'DELETE /admin/api/changes/freezes/<id> with {"actor", "reason"?}', b.error); return; }
    const a = who(res, b.data.actor ?? req.query.actor);
    if (!a) { noActor(res); return; }
    const id = Number(req.params.id);
    if (!Number.isInteger(id) || id < 1) { res.status(404).json({ error: 'not_found', message: `no freeze ${req.params.id}` }); return; }
    try {
      res.json({ freeze: await d.changes.removeFreeze(id, a, b.data.reason) });
    } catch (e) { fail(res, e); }
  });

  r.get('/:ref', async (req, res) => {
    const a = who(res, req.query.actor);
    if (!a) { noActor(res); return; }
    const v = await d.changes.get(String(req.params.ref));
    if (!v || !(await d.changes.mayRead(a, v))) { res.status(404).json({ error: 'not_found', message: `no change request ${req.params.ref} for you` }); return; }
    if (req.query.format === 'text') {
      const current = (await d.changes.currentVersion())?.number;
      res.type('text/plain').send(renderChange(v.change, v.approvals, { ...(current !== undefined ? { current } : {}), freezes: await d.changes.listFreezes() }));
      return;
    }
    res.json(v);
  });

  r.post('/:ref/decide', async (req, res) => {
    const b = decideBody.safeParse(req.body ?? {});
    if (!b.success) { bad(res, 'POST /admin/api/changes/<ref>/decide with {"actor", "decision": "approve" | "deny", "reason"?, "step"?}', b.error); return; }
    const a = who(res, b.data.actor);
    if (!a) { noActor(res); return; }
    const out = await d.changes.decideChange(String(req.params.ref), a, b.data.decision, b.data.reason ?? null, b.data.step);
    const last = out[out.length - 1]!;
    const status = out.every((x) => DECIDE_STATUS[x.outcome] === 200) ? 200 : DECIDE_STATUS[out.find((x) => DECIDE_STATUS[x.outcome] !== 200)!.outcome];
    const change = 'change' in last ? last.change : undefined;
    res.status(status).json({ outcome: last.outcome, decisions: out.map((x) => ({ outcome: x.outcome, message: x.message })), ...(change ? { change: summaryOf(change) } : {}) });
  });

  r.post('/:ref/cancel', async (req, res) => {
    const b = cancelBody.safeParse(req.body ?? {});
    if (!b.success) { bad(res, 'POST /admin/api/changes/<ref>/cancel with {"actor", "reason"}', b.error); return; }
    const a = who(res, b.data.actor);
    if (!a) { noActor(res); return; }
    try {
      res.json({ change: summaryOf(await d.changes.cancel(String(req.params.ref), a, b.data.reason)) });
    } catch (e) { fail(res, e); }
  });

  return r;
}
