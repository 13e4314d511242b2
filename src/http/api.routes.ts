/**
 * The REST intake API: POST /api/requests (catalogue id + field values, or free text) and
 * GET /api/requests/:ref. Authenticated with an API key (`Authorization: Bearer <key>` or
 * `X-API-Key`). Bodies are validated with zod; an invalid body gets 400 with the field errors and
 * nothing is stored.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Catalogue } from '../catalogue/loader.js';
import type { ConversationService } from '../conversation/conversation.service.js';
import type { Database } from '../db/database.js';
import { audit } from '../audit/audit.repository.js';
import { findPerson } from '../directory/directory.repository.js';
import { isAppError } from '../errors.js';
import { approvalsOf } from '../requests/approval.repository.js';
import { getRequestByRef, requestEvents } from '../requests/request.repository.js';
import { maskedSummary, type RequestService } from '../requests/request.service.js';
import type { OverrideOp, OverrideService } from '../fulfilment/overrides.service.js';
import type { GrantService } from '../governance/grants.service.js';
import type { ApprovalTimers } from '../requests/approval-timers.js';
import type { AccessReviewService } from '../governance/access-reviews.js';
import { complianceReport, toCsv } from '../governance/compliance-report.js';
import { canViewRequest } from '../governance/visibility.js';
import { versionOf } from '../catalogue/versions/live.js';
import { runbooksFor, runbooksJson } from '../catalogue/versions/runbooks.js';
import { keyMatches } from './admin-auth.js';

export interface ApiDeps { db: Database; catalogue: () => Catalogue; requests: RequestService; conversation: ConversationService; overrides: OverrideService; grants: GrantService; approvalTimers: ApprovalTimers; reviews: AccessReviewService; apiKeys: string[] }

const bodySchema = z.union([
  z.object({
    item: z.string().regex(/^[a-z][a-z0-9-]+$/, 'a catalogue id like "vpn-access"'),
    requester: z.string().email(),
    fields: z.record(z.string(), z.unknown()).default({}),
    idempotencyKey: z.string().min(8).max(200).optional(),
  }).strict(),
  z.object({
    text: z.string().min(1).max(2000),
    requester: z.string().email(),
  }).strict(),
]);


export function apiRouter(d: ApiDeps): express.Router {
  const r = express.Router();
  r.use((req: Request, res: Response, next: NextFunction) => {
    const auth = req.get('authorization');
    const key = auth?.startsWith('Bearer ') ? auth.slice(7) : req.get('x-api-key');
    if (!key || !keyMatches(key, d.apiKeys)) {
      res.status(401).json({ error: 'unauthorized', message: 'Send a valid API key as "Authorization: Bearer <key>" or "X-API-Key".' });
      return;
    }
    next();
  });

  r.post('/requests', async (req, res) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({
        error: 'invalid_body',
        message: 'Expected {"item": <catalogue id>, "requester": <e-mail>, "fields": {...}} or {"text": <free text>, "requester": <e-mail>}.',
        fields: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
      });
      return;
    }
    const b = parsed.data;
    const person = await findPerson(d.db, b.requester);
    if (!person) { res.status(400).json({ error: 'unknown_requester', message: `${b.requester} is not in the directory`, fields: [{ path: 'requester', message: 'unknown person' }] }); return; }
    if ('text' in b) {
      await d.conversation.handle({ channel: 'api', personEmail: person.email, conversationId: `api:${person.email}`, text: b.text });
      res.status(202).json({ accepted: true, message: 'The message was taken into the requester\'s API conversation; replies go to the requester.' });
      return;
    }
    const catalogue = d.catalogue();
    const item = catalogue.get(b.item);
    if (!item) { res.status(400).json({ error: 'unknown_item', message: `no catalogue item "${b.item}"`, fields: [{ path: 'item', message: `expected one of ${catalogue.list().map((i) => i.id).join(', ')}` }] }); return; }
    try {
      const version = versionOf(catalogue);
      const { request, created } = await d.requests.submit({ item, requesterEmail: person.email, answers: b.fields, channel: 'api', submissionKey: b.idempotencyKey ? `api:${b.idempotencyKey}` : null, ...(version !== undefined ? { catalogueVersion: version } : {}) });
      res.status(created ? 201 : 200).json({ ref: request.ref, status: request.status, created });
    } catch (e) {
      if (isAppError(e) && e.code === 'INVALID_FIELDS') {
        // Refused by pre-validation checks: 409 when every failure is about another open request
        // (duplicate / conflict), else 400; the check results go along either way.
        const checks = e.details.checks as { kind: string; outcome: string }[] | undefined;
        const failed = checks?.filter((c) => c.outcome === 'fail') ?? [];
        const clash = failed.length > 0 && failed.every((c) => c.kind === 'duplicate' || c.kind === 'conflict');
        res.status(clash ? 409 : 400).json({
          error: clash ? 'conflict' : 'invalid_fields',
          message: e.message,
          fields: (e.details.errors as { field: string; message: string }[]).map((x) => ({ path: `fields.${x.field}`, message: x.message })),
          ...(checks ? { checks } : {}),
        });
        return;
      }
      if (isAppError(e) && e.code === 'INELIGIBLE') { res.status(403).json({ error: 'ineligible', message: e.message }); return; }
      if (isAppError(e) && e.code === 'SOD_CONFLICT') { res.status(403).json({ error: 'sod_conflict', message: e.message }); return; }
      if (isAppError(e) && e.code === 'THROTTLED') {
        const retryAt = Date.parse(String(e.details.retryAt));
        res.set('Retry-After', String(Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)))).status(429).json({ error: 'throttled', message: e.message, retryAt: e.details.retryAt });
        return;
      }
      throw e;
    }
  });

  const overrideBody = z.object({ actor: z.string().email(), outcome: z.enum(['done', 'failed']).optional(), note: z.string().max(2000).optional() }).strict();
  r.post('/requests/:ref/steps/:step/:op', async (req, res) => {
    const op = String(req.params.op);
    const b = overrideBody.safeParse(req.body ?? {});
    if (!['complete', 'retry', 'skip', 'cancel'].includes(op) || !b.success || (op === 'complete' && !b.data.outcome)) {
      res.status(400).json({ error: 'invalid_override', message: 'POST /api/requests/<ref>/steps/<step>/(complete|retry|skip|cancel) with {"actor": <e-mail>, "note"?: ..., "outcome": "done"|"failed" (complete only)}', fields: b.success ? [] : b.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
      return;
    }
    const kind = (op === 'complete' ? `complete-${b.data.outcome}` : op) as OverrideOp;
    const out = await d.overrides.apply(String(req.params.ref), String(req.params.step), kind, b.data.actor, b.data.note);
    if (out.ok) res.json({ ok: true, message: out.message });
    else res.status(out.status).json({ error: 'override_refused', message: out.message });
  });

  r.get('/reports/compliance', async (req, res) => {
    const qs = z.object({ actor: z.string().email(), from: z.string().datetime(), to: z.string().datetime(), item: z.string().optional(), format: z.enum(['json', 'csv']).default('json') }).safeParse(req.query);
    if (!qs.success) { res.status(400).json({ error: 'invalid_query', message: 'GET /api/reports/compliance?actor=<e-mail>&from=<ISO>&to=<ISO>[&item=<id>][&format=json|csv]' }); return; }
    const actor = await findPerson(d.db, qs.data.actor);
    if (!actor || !actor.roles.some((x) => x === 'auditor' || x === 'admin')) {
      await audit(d.db, { actor: qs.data.actor.toLowerCase(), action: 'report.access-refused', subject: 'report:compliance', detail: { why: actor ? 'not an auditor or admin' : 'not in the directory', via: 'api-key' } });
      res.status(403).json({ error: 'forbidden', message: 'Compliance reports are for auditors and admins.' });
      return;
    }
    const rows = await complianceReport(d.db, { from: new Date(qs.data.from), to: new Date(qs.data.to), ...(qs.data.item ? { item: qs.data.item } : {}) });
    if (qs.data.format === 'csv') res.type('text/csv').send(toCsv(rows));
    else res.json({ from: qs.data.from, to: qs.data.to, count: rows.length, requests: rows });
  });

  /** The person when they hold one of `roles`; else undefined, and the refusal is audited. */
  const adminActor = async (email: unknown, what: string, roles = ['admin']) => {
    const p = typeof email === 'string' ? await findPerson(d.db, email) : undefined;
    if (p && p.roles.some((x) => roles.includes(x))) return p;
    await audit(d.db, { actor: typeof email === 'string' ? email.toLowerCase().slice(0, 320) : 'anonymous', action: 'api.access-refused', subject: what, detail: { why: p ? `not ${roles.join(' or ')}` : 'unknown person', via: 'api-key' } });
    return undefined;
  };
  r.post('/access-reviews', async (req, res) => {
    const actor = await adminActor((req.body ?? {}).actor, 'access-reviews:start');
    if (!actor) { res.status(403).json({ error: 'forbidden', message: 'Only admins start access reviews: send {"actor": <admin e-mail>}.' }); return; }
    res.status(201).json(await d.reviews.start(actor.email));
  });
  r.get('/access-reviews/:id', async (req, res) => {
    if (!(await adminActor(req.query.actor, `access-review:${String(req.params.id).slice(0, 40)}`, ['admin', 'auditor']))) { res.status(403).json({ error: 'forbidden', message: 'Admins and auditors only (?actor=<e-mail>).' }); return; }
    const rep = /^[0-9a-f-]{36}$/i.test(String(req.params.id)) ? await d.reviews.report(String(req.params.id)) : undefined;
    if (!rep) { res.status(404).json({ error: 'not_found', message: 'No such access review.' }); return; }
    res.json(rep);
  });

  r.post('/delegations', async (req, res) => {
    const b = z.object({ actor: z.string().email(), delegate: z.string().email(), from: z.string().datetime().optional(), until: z.string().datetime() }).strict().safeParse(req.body ?? {});
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'POST /api/delegations with {"actor", "delegate", "from"?, "until"} (ISO times)', fields: b.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) }); return; }
    const [actor, delegate] = [await findPerson(d.db, b.data.actor), await findPerson(d.db, b.data.delegate)];
    if (!actor || !delegate) { res.status(400).json({ error: 'unknown_person', message: `${!actor ? b.data.actor : b.data.delegate} is not in the directory` }); return; }
    if (actor.email === delegate.email) { res.status(400).json({ error: 'invalid_delegate', message: 'You cannot delegate to yourself.' }); return; }
    const from = b.data.from ? new Date(b.data.from) : new Date();
    if (new Date(b.data.until) <= from) { res.status(400).json({ error: 'invalid_period', message: '"until" must be after "from".' }); return; }
    await d.approvalTimers.delegate(actor.email, delegate.email, from, new Date(b.data.until));
    res.status(201).json({ ok: true, message: `Approvals for ${actor.email} go to ${delegate.email} until ${b.data.until}.` });
  });

  r.post('/grants/:id/revoke', async (req, res) => {
    const b = z.object({ actor: z.string().email(), reason: z.string().max(500).optional() }).strict().safeParse(req.body ?? {});
    if (!b.success || !/^[0-9a-f-]{36}$/i.test(String(req.params.id))) { res.status(400).json({ error: 'invalid_body', message: 'POST /api/grants/<grant id>/revoke with {"actor": <e-mail>, "reason"?: ...}' }); return; }
    const out = await d.grants.revokeEarly(String(req.params.id), b.data.actor, b.data.reason ?? 'revoked early');
    res.status(out.status).json(out.ok ? { ok: true, message: out.message } : { error: 'revoke_refused', message: out.message });
  });

  r.get('/requests/:ref', async (req, res) => {
    const ref = String(req.params.ref);
    if (!/^REQ-\d{6,}$/i.test(ref)) { res.status(400).json({ error: 'invalid_ref', message: 'expected a reference like REQ-000123' }); return; }
    const request = await getRequestByRef(d.db, ref);
    if (!request) { res.status(404).json({ error: 'not_found', message: `no request ${ref}` }); return; }
    // On behalf of a person (?actor=<e-mail>), only what that person may see; the same answer for
    // "not yours" and "not there", so references cannot be probed.
    // runbooks (the item's `exceptions` in the request's own catalogue version) are for the people who handle it
    let handler = true;
    if (req.query.actor !== undefined) {
      const viewer = typeof req.query.actor === 'string' ? await findPerson(d.db, req.query.actor) : undefined;
      if (!viewer || !(await canViewRequest(d.db, viewer, request))) { res.status(404).json({ error: 'not_found', message: `no request ${ref}` }); return; }
      handler = viewer.roles.some((x) => x === 'fulfiller' || x === 'admin' || x === 'triage');
    }
    const pinned = (await d.db.query<{ v: number | null }>('SELECT catalogue_version AS v FROM requests WHERE id = $1', [request.id])).rows[0]?.v ?? null;
    const progress = await d.requests.progress(request);
    const steps = (await d.db.query('SELECT step_id, status, attempts FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [request.id])).rows;
    res.json({
      ref: request.ref, item: request.itemId, title: request.item.title, status: request.status, requester: request.requesterEmail,
      stage: progress.stage, progress: { step: progress.step, of: progress.of },
      fields: Object.fromEntries(maskedSummary(request).map((l) => [l.label, l.value])),
      approvals: (await approvalsOf(d.db, request.id)).map((a) => ({ step: a.stepId, label: a.label, status: a.status, decidedBy: a.decidedBy, decidedAt: a.decidedAt, reason: a.reason })),
      steps: steps.map((s) => ({ step: s.step_id, status: s.status, attempts: s.attempts })),
      history: (await requestEvents(d.db, request.id)).map((e) => ({ at: e.at, actor: e.actor, kind: e.kind, from: e.from, to: e.to, reason: e.reason })),
      createdAt: request.createdAt, completedAt: request.completedAt, catalogueVersion: pinned,
      ...(handler ? { exceptions: runbooksJson(runbooksFor(request.item)) } : {}),
    });
  });
  return r;
}
