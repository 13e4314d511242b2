/**
 * JSON endpoints for the admin dashboard, mounted at /admin/api. Authenticated like /api (an API key
 * as `Authorization: Bearer <key>` or `X-API-Key`), on behalf of a directory person: `?actor=<e-mail>`
 * on GET, `"actor"` in the body of PATCH. Or by the dashboard's session cookie (src/http/admin/auth.ts):
 * the actor is then the signed-in person (`actor` is ignored) and PATCH needs the X-CSRF-Token header.
 * Authorised server-side (src/reporting/access.ts): admins,
 * auditors and catalogue admins see every item, service owners only theirs, fulfillers the failures
 * (and may change a failure's category, as may admins). Query strings are validated with zod:
 * unknown or malformed parameters get 400 with the field errors.
 *
 *   GET   /overview                                today, open requests, SLA risk, triage queue
 *   GET   /cycle-time?from&to&item&group           percentiles and SLA by item and requester group
 *   GET   /bottlenecks?from&to&item                where the time goes, per item
 *   GET   /failures?from&to&item&category          counts by category, recurring errors, latest failures
 *   PATCH /failures/:id/category {actor, category, reason?}
 *   GET   /forecast?item&weeks&holdoutWeeks&historyDays
 *   GET   /service-review?item&from&to | period=YYYY-MM
 *
 * Periods are [from, to) in UTC; from/to are dates (YYYY-MM-DD) or ISO date-times; the default is the
 * 30 days before now, the longest 731 days.
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Catalogue } from '../catalogue/loader.js';
import { ID_PATTERN } from '../catalogue/schema.js';
import type { Database } from '../db/database.js';
import { audit } from '../audit/audit.repository.js';
import { findPerson } from '../directory/directory.repository.js';
import { narrow, reportAccess, type ReportKind } from '../reporting/access.js';
import { bottleneckReport } from '../reporting/bottlenecks.js';
import { cycleTimeReport, GROUP_DIMENSIONS } from '../reporting/cycle-time.js';
import { forecastReport } from '../reporting/forecast.js';
import { overview } from '../reporting/overview.js';
import { addDays, monthPeriod, parseInstant } from '../reporting/period.js';
import { changeCategory, RCA_CATEGORIES } from '../reporting/rca.js';
import { failureReport } from '../reporting/recurring-errors.js';
import { serviceReview } from '../reporting/service-review.js';
import { adminAuth } from './admin-auth.js';

export interface AdminApiDeps {
  db: Database; catalogue: () => Catalogue; apiKeys: string[]; now: () => Date;
  /** The dashboard session's person (e-mail); null = answered already (CSRF refused); undefined = no session. */
  sessionActor?: (req: Request, res: Response) => Promise<string | null | undefined>;
}

const MAX_DAYS = 731;

const instant = z.string().refine((s) => parseInstant(s) !== undefined, 'a date (YYYY-MM-DD) or an ISO date-time');
const actor = z.string().email('the e-mail of the person asking');
const item = z.string().regex(ID_PATTERN, 'a catalogue id like "vpn-access"');
const period = { actor, from: instant.optional(), to: instant.optional() };

const QUERIES = {
  overview: z.object({ actor }).strict(),
  'cycle-time': z.object({ ...period, item: item.optional(), group: z.enum(GROUP_DIMENSIONS).default('department') }).strict(),
  bottlenecks: z.object({ ...period, item: item.optional() }).strict(),
  failures: z.object({ ...period, item: item.optional(), category: z.enum(RCA_CATEGORIES).optional() }).strict(),
  forecast: z.object({
    actor, item: item.optional(),
    weeks: z.coerce.number().int().min(1).max(12).default(2),
    holdoutWeeks: z.coerce.number().int().min(1).max(4).default(2),
    historyDays: z.coerce.number().int().min(14).max(366).default(84),
  }).strict(),
  'service-review': z.object({ ...period, item: item.optional(), period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month like 2026-10').optional() }).strict(),
} satisfies Record<ReportKind, z.ZodTypeAny>;

const USAGE: Record<ReportKind, string> = {
  overview: 'GET /admin/api/overview?actor=<e-mail>',
  'cycle-time': 'GET /admin/api/cycle-time?actor=<e-mail>[&from=<date>][&to=<date>][&item=<id>][&group=department|location|role]',
  bottlenecks: 'GET /admin/api/bottlenecks?actor=<e-mail>[&from=<date>][&to=<date>][&item=<id>]',
  failures: 'GET /admin/api/failures?actor=<e-mail>[&from=<date>][&to=<date>][&item=<id>][&category=process|system|user]',
  forecast: 'GET /admin/api/forecast?actor=<e-mail>[&item=<id>][&weeks=1..12][&holdoutWeeks=1..4][&historyDays=14..366]',
  'service-review': 'GET /admin/api/service-review?actor=<e-mail>[&item=<id>][&from=<date>&to=<date> | &period=YYYY-MM]',
};


type Issue = { path: string; message: string };

export function adminApiRouter(d: AdminApiDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d));

  /** Parses the query of a report, checks the period and the item, and authorises the actor. */
  async function prepare<K extends ReportKind>(kind: K, req: Request, res: Response): Promise<{ q: z.infer<(typeof QUERIES)[K]>; items: string[] | null; from: Date; to: Date } | undefined> {
    const parsed = QUERIES[kind].safeParse(res.locals.actor ? { ...req.query, actor: res.locals.actor } : req.query);
    const fail = (fields: Issue[]) => { res.status(400).json({ error: 'invalid_query', message: USAGE[kind], fields }); return undefined; };
    if (!parsed.success) return fail(parsed.error.issues.map((i) => ({ path: i.path.join('.') || (i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys?.join(', ') ?? '(query)' : '(query)'), message: i.message })));
    const q = parsed.data as z.infer<(typeof QUERIES)[K]> & { from?: string; to?: string; period?: string; item?: string; actor: string };
    const now = d.now();
    let to = q.to ? parseInstant(q.to)! : now;
    let from = q.from ? parseInstant(q.from)! : addDays(to, -30);
    if (q.period) {
      if (q.from || q.to) return fail([{ path: 'period', message: 'give either period or from/to' }]);
      ({ from, to } = monthPeriod(q.period)!);
    }
    if (from >= to) return fail([{ path: 'from', message: '"from" must be before "to"' }]);
    if (to.getTime() - from.getTime() > MAX_DAYS * 86_400_000) return fail([{ path: 'to', message: `at most ${MAX_DAYS} days` }]);
    if (q.item && !d.catalogue().get(q.item)) return fail([{ path: 'item', message: `no catalogue item "${q.item}"` }]);
    const access = reportAccess(await findPerson(d.db, q.actor), d.catalogue(), kind);
    const refuse = async (message: string) => {
      await audit(d.db, { actor: q.actor.toLowerCase(), action: 'admin.access-refused', subject: `report:${kind}`, detail: { why: message, item: q.item ?? null, via: res.locals.actor ? 'session' : 'api-key' } });
      res.status(403).json({ error: 'forbidden', message });
      return undefined;
    };
    if (!access.ok) return refuse(access.message);
    const items = narrow(access.items, q.item);
    if (items === undefined) return refuse(`You are not the service owner of ${q.item}.`);
    return { q, items, from, to };
  }

  r.get('/overview', async (req, res) => {
    const p = await prepare('overview', req, res);
    if (!p) return;
    const items = d.catalogue().list().filter((i) => !p.items || p.items.includes(i.id)).sort((a, b) => a.id.localeCompare(b.id))
      .map((i) => ({ id: i.id, title: i.title, category: i.category, responseTime: i.responseTime, owner: i.owner }));
    res.json({ scope: p.items ?? 'all', items, ...(await overview(d.db, { now: d.now(), items: p.items })) });
  });

  r.get('/cycle-time', async (req, res) => {
    const p = await prepare('cycle-time', req, res);
    if (p) res.json(await cycleTimeReport(d.db, { from: p.from, to: p.to, group: p.q.group, ...(p.items ? { items: p.items } : {}) }));
  });

  r.get('/bottlenecks', async (req, res) => {
    const p = await prepare('bottlenecks', req, res);
    if (p) res.json(await bottleneckReport(d.db, { from: p.from, to: p.to, ...(p.items ? { items: p.items } : {}) }));
  });

  r.get('/failures', async (req, res) => {
    const p = await prepare('failures', req, res);
    if (p) res.json(await failureReport(d.db, { from: p.from, to: p.to, ...(p.items ? { items: p.items } : {}), ...(p.q.category ? { category: p.q.category } : {}) }));
  });

  r.get('/forecast', async (req, res) => {
    const p = await prepare('forecast', req, res);
    if (p) res.json(await forecastReport(d.db, { now: d.now(), weeks: p.q.weeks, holdoutWeeks: p.q.holdoutWeeks, historyDays: p.q.historyDays, ...(p.q.item ? { item: p.q.item } : p.items ? { items: p.items } : {}) }));
  });

  r.get('/service-review', async (req, res) => {
    const p = await prepare('service-review', req, res);
    if (p) res.json(await serviceReview(d.db, { from: p.from, to: p.to, ...(p.items ? { items: p.items } : {}), titles: (id) => d.catalogue().get(id)?.title }));
  });

  const categoryBody = z.object({ actor, category: z.enum(RCA_CATEGORIES), reason: z.string().trim().min(1).max(500).optional() }).strict();
  r.patch('/failures/:id/category', async (req, res) => {
    const id = Number(req.params.id);
    const b = categoryBody.safeParse(res.locals.actor ? { ...(req.body ?? {}), actor: res.locals.actor } : req.body ?? {});
    const fields: Issue[] = [...(Number.isSafeInteger(id) && id > 0 ? [] : [{ path: 'id', message: 'a failure id (a positive whole number)' }]), ...(b.success ? [] : b.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })))];
    if (fields.length || !b.success) {
      res.status(400).json({ error: 'invalid_body', message: 'PATCH /admin/api/failures/<id>/category with {"actor": <e-mail>, "category": "process"|"system"|"user", "reason"?: <text>}', fields });
      return;
    }
    const out = await changeCategory(d.db, id, b.data.category, b.data.actor, b.data.reason);
    if (out.ok) res.json({ id: out.id, category: out.category, previous: out.previous, reason: out.reason, changedBy: out.changedBy, changedAt: out.changedAt });
    else res.status(out.status).json({ error: out.status === 403 ? 'forbidden' : 'not_found', message: out.message });
  });

  return r;
}
