/**
 * Runs an item's `checks:` (see schema.ts) so a request that would fail is stopped early:
 *
 * - in the dialog, right after an answer is accepted, every check whose fields are now all given runs
 *   (checks that need no field run when the dialog starts): a failure sends the question back with the
 *   reason and what the person can do instead; a warning is shown and the dialog goes on;
 * - at submission (RequestService.submit: every channel and the REST API), all of them again: a failure
 *   refuses the request (AppError INVALID_FIELDS, with each failed check as a field error) and stores
 *   nothing but the audit of the attempt; otherwise, inside the submission transaction, licence seats
 *   are reserved (or the request joins the waitlist and waits as `waitlisted`), duplicates are checked
 *   once more under a lock, and every result goes into the request's history and the audit log.
 *
 * Seats are consumed, released and handed to the waitlist by `settle()` (after a request ends, and
 * every minute by the licence job); waitlisted requests that got their seat continue to approval.
 */
import { randomUUID } from 'node:crypto';
import jsonata from 'jsonata';
import { holds } from '../../catalogue/condition.js';
import { optionsOf, type CatalogueItem } from '../../catalogue/schema.js';
import { renderTemplate } from '../../catalogue/template.js';
import { audit } from '../../audit/audit.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, requesterAttributes, type Person } from '../../directory/directory.repository.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import { visibleFields, type AnswerChecker, type CheckFeedback } from '../../conversation/dialog-engine.js';
import type { Choice } from '../../conversation/messages.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { recordEvent, transition, type RequestRow } from '../request.repository.js';
import { devicesOf } from './assets.js';
import { describeDevice, judgeCompatibility, type CompatibilityTables } from './compatibility.js';
import { LicenceService } from './licences.js';
import type { CheckDef, CheckKind, ConflictCheck, DuplicateCheck, HttpCheck, LicenceCheck } from './schema.js';
import { OPEN_OR_WAITING, stageOf, WAITLISTED } from './status.js';
import { checkDependencies } from './validate.js';

export type CheckOutcome = 'pass' | 'warn' | 'fail' | 'waitlist';
/** The history / audit name of an outcome: check.passed, check.warned, check.failed, check.waitlisted. */
const EVENT: Record<CheckOutcome, string> = { pass: 'check.passed', warn: 'check.warned', fail: 'check.failed', waitlist: 'check.waitlisted' };

/** One check's verdict. Messages are for the requester, in plain words. */
export interface CheckResult {
  check: string;
  label: string;
  kind: CheckKind;
  outcome: CheckOutcome;
  message?: string;
  /** The answer the verdict is about (asked again on failure). */
  field?: string;
  /** Other answers to `field` that would pass. */
  alternatives?: Choice[];
  /** Licence checks: the pool. */
  product?: string;
  /** For the audit log (never sensitive answers). */
  detail?: Record<string, unknown>;
}

/** How a backend check calls its action (the app's ActionInvoker: breakers, rate limits). */
export type InvokeFn = (action: string, input: Record<string, unknown>, ctx: { idempotencyKey: string; requestId: string; requestRef: string; db: Queryable; signal: AbortSignal }) => Promise<Record<string, unknown>>;

export interface CheckServiceDeps {
  db: Database;
  tables: CompatibilityTables;
  invoke: InvokeFn;
  /** Moves a waitlisted request that got its seat on to approval (RequestService.resumeWaitlisted). */
  resume: (requestId: string) => Promise<unknown>;
  log?: Logger;
}

/** A submission refused by its checks. Code INVALID_FIELDS, so every channel and the API answer it as field errors. */
export class CheckFailedError extends AppError {
  constructor(readonly item: CatalogueItem, readonly requesterEmail: string, readonly channel: string, readonly results: CheckResult[]) {
    const failed = results.filter((r) => r.outcome === 'fail');
    super('INVALID_FIELDS', `This request can't go ahead: ${failed.map((f) => f.message).join(' ')}`, {
      errors: failed.map((f) => ({ field: f.field ?? `checks.${f.check}`, message: f.message ?? `${f.label} failed` })),
      checks: results.map(publicResult),
    });
  }

  /** The failed checks. */
  get failures(): CheckResult[] { return this.results.filter((r) => r.outcome === 'fail'); }
}

export const isCheckFailure = (e: unknown): e is CheckFailedError => e instanceof CheckFailedError;

const publicResult = (r: CheckResult) => ({ check: r.check, kind: r.kind, outcome: r.outcome, ...(r.message ? { message: r.message } : {}), ...(r.field ? { field: r.field } : {}), ...(r.alternatives?.length ? { alternatives: r.alternatives.map((a) => a.value) } : {}) });

/** What a submission's checks decided, handed to the submission transaction. */
export interface SubmissionCheckPlan { item: CatalogueItem; person: Person; results: CheckResult[] }

const EMPTY = (item: CatalogueItem, person: Person): SubmissionCheckPlan => ({ item, person, results: [] });

const norm = (v: unknown): string => {
  if (v === undefined || v === null || v === '') return '';
  if (Array.isArray(v)) return JSON.stringify(v.map((x) => String(x).trim().toLowerCase()).sort());
  return String(v).trim().toLowerCase();
};

const orList = (xs: string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);

const compiled = new Map<string, jsonata.Expression>();
const expr = (src: string): jsonata.Expression => {
  let e = compiled.get(src);
  if (!e) { e = jsonata(src); compiled.set(src, e); }
  return e;
};

interface RunContext {
  item: CatalogueItem;
  person: Person;
  answers: Record<string, unknown>;
  stage: 'dialog' | 'submission';
  /** Dialog: run the checks these answers complete (`start`: every ready check). */
  answered?: string[] | 'start';
  /** Submission: the request being stored (excluded from duplicate lookups). */
  excludeRequestId?: string;
  q?: Queryable;
}

export class CheckService {
  readonly licences: LicenceService;

  constructor(private readonly deps: CheckServiceDeps) {
    this.licences = new LicenceService(deps.db);
  }

  /** Runs the checks that apply (all at submission; those just completed in the dialog). */
  async run(ctx: RunContext): Promise<CheckResult[]> {
    const checks = ctx.item.checks ?? [];
    if (!checks.length) return [];
    const requester = requesterAttributes(ctx.person);
    const visible = new Set(visibleFields(ctx.item, ctx.answers, requester).map((f) => f.name));
    const out: CheckResult[] = [];
    for (const c of checks) {
      if (ctx.stage === 'dialog') {
        const deps = checkDependencies(c);
        if (!deps.every((f) => f in ctx.answers || !visible.has(f))) continue; // still waiting for an answer
        if (ctx.answered !== 'start' && !deps.some((f) => ctx.answered?.includes(f))) continue; // ran already (or runs at start)
      }
      if (!holds(c.when, { fields: ctx.answers, requester })) continue;
      let r: CheckResult;
      try {
        r = await this.evaluateOne(c, ctx);
      } catch (e) {
        // a bug or the database: the check cannot say yes, so the request waits for a person to look
        this.deps.log?.error({ err: (e as Error).message, item: ctx.item.id, check: c.id }, 'check failed to run');
        r = { check: c.id, label: c.label ?? c.id, kind: c.kind, outcome: 'fail', message: `I couldn't complete the ${c.label ?? c.id} check because of a problem on my side. Please try again in a moment.`, detail: { error: (e as Error).message } };
      }
      out.push(r);
    }
    return out;
  }

  private result(c: CheckDef, outcome: CheckOutcome, message?: string, extra: Partial<CheckResult> = {}): CheckResult {
    return { check: c.id, label: c.label ?? c.id, kind: c.kind, outcome, ...(message ? { message } : {}), ...extra };
  }

  private evaluateOne(c: CheckDef, ctx: RunContext): Promise<CheckResult> {
    switch (c.kind) {
      case 'licence': return this.licence(c, ctx);
      case 'compatibility': return this.compatibility(c, ctx);
      case 'duplicate': return this.duplicate(c, ctx);
      case 'conflict': return this.conflict(c, ctx);
      case 'http': return this.http(c, ctx);
    }
  }

  /** The pool an answer needs (undefined: no licence needed). */
  private productOf(c: LicenceCheck, answers: Record<string, unknown>): string | undefined {
    return c.product ?? (c.field ? c.products?.[String(answers[c.field] ?? '')] : undefined);
  }

  private alternativesOf(item: CatalogueItem, fieldName: string | undefined, values: string[]): Choice[] {
    const f = item.fields.find((x) => x.name === fieldName);
    if (!f) return [];
    const opts = optionsOf(f);
    return values.map((v) => opts.find((o) => o.value === v)).filter((o): o is NonNullable<typeof o> => Boolean(o)).map((o) => ({ value: o.value, label: o.label }));
  }

  private async licence(c: LicenceCheck, ctx: RunContext): Promise<CheckResult> {
    const product = this.productOf(c, ctx.answers);
    if (!product) return this.result(c, 'pass', undefined, { detail: { product: null, reason: 'no licence needed' } });
    const pool = await this.licences.availability(product, ctx.q);
    const name = pool?.title ?? product;
    if (!pool) return this.result(c, 'warn', `Seats of ${name} are not tracked here yet, so IT will check that a licence is available before going ahead.`, { product, field: c.field, detail: { product, pool: null } });
    if (pool.free > 0) return this.result(c, 'pass', undefined, { product, field: c.field, detail: { product, free: pool.free, seats: pool.seats } });
    const alternatives = this.alternativesOf(ctx.item, c.field, c.alternatives?.[String(ctx.answers[c.field ?? ''] ?? '')] ?? []);
    const alt = alternatives.length ? ` You could choose ${orList(alternatives.map((a) => a.label))} instead.` : '';
    const inUse = pool.seats === 0 ? 'no seats are bought yet' : `all ${pool.seats} seat${pool.seats === 1 ? ' is' : 's are'} in use`;
    const full = `There is no free ${name} licence right now (${inUse}${pool.waiting ? `, ${pool.waiting} request${pool.waiting === 1 ? '' : 's'} waiting` : ''}).`;
    const detail = { product, seats: pool.seats, used: pool.used, waiting: pool.waiting };
    if (c.whenFull === 'refuse') return this.result(c, 'fail', `${full}${alt || ' Please try again later or ask the service desk.'}`, { product, field: c.field, alternatives, detail });
    return this.result(c, 'waitlist', `${full} If you go ahead, your request joins the waitlist and continues to approval by itself as soon as a seat frees.${alt ? ` Or choose an alternative: ${orList(alternatives.map((a) => a.label))}.` : ''}`, { product, field: c.field, alternatives, detail });
  }

  private async compatibility(c: Extract<CheckDef, { kind: 'compatibility' }>, ctx: RunContext): Promise<CheckResult> {
    const field = ctx.item.fields.find((f) => f.name === c.field)!;
    const table = this.deps.tables[c.table];
    const chosen = ctx.answers[c.field];
    if (!table || chosen === undefined || chosen === null || (Array.isArray(chosen) && !chosen.length)) return this.result(c, 'pass', undefined, { field: c.field });
    const v = judgeCompatibility(table, field, chosen, await devicesOf(ctx.q ?? this.deps.db, ctx.person.email));
    if (v.noDevices) return this.result(c, 'warn', `I couldn't find a device registered to you in the asset list, so I couldn't check that your choice works with it; IT will check before going ahead.`, { field: c.field, detail: { devices: 0 } });
    if (!v.incompatible.length) return this.result(c, 'pass', undefined, { field: c.field, detail: { devices: v.devices.map((d) => d.tag) } });
    const yours = `your ${v.devices.length === 1 ? 'device is' : 'devices are'} ${v.devices.map(describeDevice).join(', ')}`;
    const why = v.incompatible.map((x) => `${x.label} needs ${x.needs}${x.note ? ` (${x.note})` : ''}`).join('; ');
    const alt = v.alternatives.length ? ` What works with your ${v.devices.length === 1 ? 'device' : 'devices'}: ${v.alternatives.map((a) => a.label).join(', ')}.` : ' Ask the service desk about a device that fits.';
    return this.result(c, 'fail', `${why}, and ${yours}, so it would not work for you.${alt}`, {
      field: c.field, alternatives: v.alternatives, detail: { incompatible: v.incompatible.map((x) => x.value), devices: v.devices.map((d) => d.tag) },
    });
  }

  private async duplicate(c: DuplicateCheck, ctx: RunContext): Promise<CheckResult> {
    const q = ctx.q ?? this.deps.db;
    const rows = (await q.query<{ id: string; ref: string; status: string; fields: Record<string, unknown> }>(
      `SELECT id, ref, status, fields FROM requests WHERE requester_email = $1 AND item_id = $2 AND status = ANY($3) AND ($4::uuid IS NULL OR id <> $4) ORDER BY created_at`,
      [ctx.person.email, ctx.item.id, OPEN_OR_WAITING, ctx.excludeRequestId ?? null])).rows;
    const same = rows.find((r) => c.keyFields.every((k) => norm(r.fields[k]) === norm(ctx.answers[k])));
    const last = c.keyFields.at(-1);
    if (!same) return this.result(c, 'pass', undefined, last ? { field: last } : {});
    const stage = await stageOf(q, same);
    const cancellable = ['submitted', 'awaiting-approval', 'approved', 'waitlisted'].includes(same.status);
    return this.result(c, 'fail', `You already have ${same.ref} for this (${ctx.item.title}), ${stage}. I won't open a second one: say "status" to follow it${cancellable ? `, or "cancel ${same.ref}" first if you want to start again` : ''}.`, {
      ...(last ? { field: last } : {}), detail: { existing: same.ref, status: same.status },
    });
  }

  private async conflict(c: ConflictCheck, ctx: RunContext): Promise<CheckResult> {
    const q = ctx.q ?? this.deps.db;
    const subject = (c.subjectField ? String(ctx.answers[c.subjectField] ?? '') : ctx.person.email).toLowerCase();
    if (!subject) return this.result(c, 'pass');
    const other = (await q.query<{ id: string; ref: string; status: string; title: string }>(
      `SELECT id, ref, status, item_snapshot->>'title' AS title FROM requests
       WHERE item_id = $1 AND status = ANY($2) AND (CASE WHEN $3::text IS NULL THEN requester_email ELSE lower(fields->>$3) END) = $4 ORDER BY created_at LIMIT 1`,
      [c.item, OPEN_OR_WAITING, c.personField ?? null, subject])).rows[0];
    if (!other) return this.result(c, 'pass', undefined, c.subjectField ? { field: c.subjectField } : {});
    const whom = subject === ctx.person.email ? 'you' : (await findPerson(q, subject))?.name ?? subject;
    const stage = await stageOf(q, other);
    const text = c.message ?? `There is an open ${other.title} for ${whom}, so this request can't go ahead while it is open. If that's a mistake, ask your manager or the service desk.`;
    return this.result(c, 'fail', `${text} (${other.ref}: ${stage})`, { ...(c.subjectField ? { field: c.subjectField } : {}), detail: { conflictsWith: other.ref, item: c.item } });
  }

  private async http(c: HttpCheck, ctx: RunContext): Promise<CheckResult> {
    const requester = requesterAttributes(ctx.person);
    const input = renderTemplate(c.inputs, { requester, fields: ctx.answers, request: { itemId: ctx.item.id, title: ctx.item.title }, steps: {} }) as Record<string, unknown>;
    const label = c.label ?? c.id;
    const deps = checkDependencies(c);
    const field = deps.at(-1);
    let timer: NodeJS.Timeout | undefined;
    try {
      const signal = AbortSignal.timeout(c.timeoutMs);
      const call = this.deps.invoke(c.action, input, { idempotencyKey: `check:${ctx.item.id}:${c.id}:${randomUUID()}`, requestId: '', requestRef: '', db: this.deps.db, signal });
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${c.timeoutMs} ms`)), c.timeoutMs); });
      const output = await Promise.race([call, timeout]);
      const verdict = await expr(c.result).evaluate(output) as unknown;
      const v = typeof verdict === 'boolean' ? { outcome: verdict ? 'pass' : 'fail' }
        : typeof verdict === 'string' ? { outcome: verdict }
          : verdict && typeof verdict === 'object' ? verdict as { outcome?: unknown; message?: unknown } : { outcome: undefined };
      const outcome = String(v.outcome ?? '');
      if (!['pass', 'fail', 'warn'].includes(outcome)) throw new Error(`the result mapping gave ${JSON.stringify(verdict) ?? 'nothing'}; expected {"outcome": "pass"|"fail"|"warn", "message": ...}`);
      const message = typeof (v as { message?: unknown }).message === 'string' && (v as { message: string }).message ? (v as { message: string }).message
        : outcome === 'fail' ? `The ${label} check says this request can't go ahead.` : outcome === 'warn' ? `Please note: the ${label} check raised a warning.` : undefined;
      return this.result(c, outcome as CheckOutcome, outcome === 'pass' ? undefined : message, { ...(field ? { field } : {}), detail: { action: c.action } });
    } catch (e) {
      const error = (e as Error).message;
      this.deps.log?.warn({ check: c.id, item: ctx.item.id, action: c.action, err: error }, 'backend check could not answer');
      if (c.onError === 'fail-open') {
        return this.result(c, 'warn', c.errorMessage ?? `I couldn't run the ${label} check right now (the system did not answer), so your request continues and IT will check it.`, { detail: { action: c.action, error, onError: c.onError } });
      }
      return this.result(c, 'fail', c.errorMessage ?? `I couldn't run the ${label} check right now (the system did not answer), so the request can't be submitted yet. Please try again in a few minutes.`, { detail: { action: c.action, error, onError: c.onError } });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // ---- the dialog ------------------------------------------------------------------------------

  /** The dialog hook for one person's conversation: runs, audits and translates the checks an answer completes. */
  checker(person: Person, conversationId: string | null): AnswerChecker {
    return async (item, answers, answered) => {
      const results = await this.run({ item, person, answers, stage: 'dialog', answered });
      for (const r of results) {
        await audit(this.deps.db, { actor: person.email, action: EVENT[r.outcome], subject: item.id, detail: { stage: 'dialog', conversation: conversationId, check: r.check, kind: r.kind, ...(r.message ? { message: r.message } : {}), ...(r.detail ?? {}) } });
      }
      return results.filter((r) => r.outcome !== 'pass').map((r): CheckFeedback => {
        const deps = checkDependencies(item.checks.find((c) => c.id === r.check)!);
        const justAnswered = answered === 'start' ? undefined : answered.find((a) => deps.includes(a));
        // alternatives are answers to r.field: keep it; otherwise the verdict is about the answer just given
        const field = r.alternatives?.length || (r.field && (answered === 'start' || answered.includes(r.field))) ? r.field : justAnswered ?? r.field;
        return { outcome: r.outcome === 'fail' ? 'fail' : 'warn', message: r.message ?? `${r.label}: ${r.outcome}`, ...(field ? { field } : {}), ...(r.alternatives?.length ? { alternatives: r.alternatives } : {}) };
      });
    };
  }

  // ---- submission ------------------------------------------------------------------------------

  /**
   * Runs every check on a complete, validated submission. Throws CheckFailedError (audited) when one
   * fails; otherwise returns the plan for {@link apply}. A retried submission (its key already stored) skips them.
   */
  async evaluate(input: { item: CatalogueItem; person: Person; answers: Record<string, unknown>; channel: string; submissionKey?: string | null }): Promise<SubmissionCheckPlan> {
    if (!(input.item.checks ?? []).length) return EMPTY(input.item, input.person);
    if (input.submissionKey && (await this.deps.db.query('SELECT 1 FROM requests WHERE submission_key = $1', [input.submissionKey])).rowCount) return EMPTY(input.item, input.person);
    const results = await this.run({ item: input.item, person: input.person, answers: input.answers, stage: 'submission' });
    if (results.some((r) => r.outcome === 'fail')) {
      const e = new CheckFailedError(input.item, input.person.email, input.channel, results);
      await this.refused(e);
      throw e;
    }
    return { item: input.item, person: input.person, results };
  }

  /** Audits a refused submission (the only thing it leaves behind). */
  async refused(e: CheckFailedError): Promise<void> {
    await audit(this.deps.db, { actor: e.requesterEmail, action: 'request.refused', subject: e.item.id, detail: {
      rule: 'checks', stage: 'submission', channel: e.channel, failed: e.failures.map((f) => f.check),
      results: e.results.map((r) => ({ ...publicResult(r), ...(r.detail ? { detail: r.detail } : {}) })),
    } });
  }

  /**
   * Inside the submission transaction, right after the request row is inserted: reserves licence
   * seats (or joins the waitlist and moves the request to `waitlisted`), re-checks duplicates under a
   * lock (two identical submissions at once: one wins), records every result in the request's history
   * and the audit log, and tells the requester about warnings. Throws CheckFailedError to roll back.
   */
  async apply(tx: Queryable, r: RequestRow, plan: SubmissionCheckPlan): Promise<{ waitlisted: boolean; request: RequestRow }> {
    if (!plan.results.length) return { waitlisted: false, request: r };
    const final: CheckResult[] = [];
    let waitlisted = false;
    for (const res of plan.results) {
      const def = (r.item.checks ?? []).find((c) => c.id === res.check);
      let out = res;
      if (def?.kind === 'duplicate') {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`check:duplicate:${r.itemId}:${r.requesterEmail}`]);
        out = await this.duplicate(def, { item: r.item, person: plan.person, answers: r.fields, stage: 'submission', excludeRequestId: r.id, q: tx });
      }
      if (def?.kind === 'licence' && res.product && (res.outcome === 'pass' || res.outcome === 'waitlist')) {
        const got = await this.licences.reserve(tx, res.product, r, r.requesterEmail);
        if (got.kind === 'reserved') out = { ...res, outcome: 'pass', message: undefined, detail: { ...res.detail, reserved: true, used: got.used, seats: got.seats } };
        else if (got.kind === 'full' && def.whenFull === 'refuse') {
          const name = (await this.licences.getPool(res.product, tx))?.title ?? res.product;
          out = { ...res, outcome: 'fail', message: `The last ${name} licence was just taken (all ${got.seats} seats are in use). Please try again later or ask the service desk.` };
        } else if (got.kind === 'full') {
          const position = await this.licences.joinWaitlist(tx, res.product, r, r.requesterEmail);
          waitlisted = true;
          const name = (await this.licences.getPool(res.product, tx))?.title ?? res.product;
          out = { ...res, outcome: 'waitlist', message: res.outcome === 'waitlist' ? res.message : `The last ${name} licence was just taken: your request joins the waitlist and continues to approval by itself as soon as a seat frees.`, detail: { ...res.detail, position } };
        }
      }
      final.push(out);
      if (out.outcome === 'fail') continue; // thrown below: the transaction is rolled back
      await this.record(tx, r, out);
    }
    if (final.some((x) => x.outcome === 'fail')) throw new CheckFailedError(r.item, r.requesterEmail, r.channel, final);
    if (!waitlisted) return { waitlisted: false, request: r };
    const moved = (await transition(tx, r.id, ['submitted'], WAITLISTED, 'system', 'waiting for a licence seat')) ?? r;
    const why = final.find((x) => x.outcome === 'waitlist');
    await postMessage(tx, r.requesterEmail, { kind: 'status', text: `${r.ref} is on the waitlist: ${why?.message ?? 'no licence seat is free right now.'} Say "cancel ${r.ref}" if you no longer need it.` }, { conversationId: r.conversationId, key: `${r.id}:waitlisted` });
    return { waitlisted: true, request: moved };
  }

  /** One result into the request's history and the audit log (warnings are told to the requester). */
  private async record(tx: Queryable, r: RequestRow, x: CheckResult): Promise<void> {
    const detail = { check: x.check, kind: x.kind, ...(x.field ? { field: x.field } : {}), ...(x.detail ?? {}) };
    await recordEvent(tx, r.id, { actor: 'system', kind: EVENT[x.outcome], reason: x.message ?? `${x.label}: passed`, detail });
    await audit(tx, { actor: 'system', action: EVENT[x.outcome], subject: r.ref, detail: { stage: 'submission', ...detail, ...(x.message ? { message: x.message } : {}) } });
    if (x.outcome === 'warn') await postMessage(tx, r.requesterEmail, { kind: 'status', text: `${r.ref}: please note: ${x.message}` }, { conversationId: r.conversationId, key: `${r.id}:check:${x.check}` });
  }

  // ---- seats after submission ------------------------------------------------------------------

  /** A request ended or changed (denied, cancelled, failed, fulfilled): settle its seats at once. */
  async requestEnded(requestId: string): Promise<void> {
    const held = await this.deps.db.query(`SELECT 1 FROM licence_reservations WHERE request_id = $1 UNION ALL SELECT 1 FROM licence_waitlist WHERE request_id = $1 LIMIT 1`, [requestId]);
    if (held.rowCount) await this.settle();
  }

  /** Consumes and releases seats per the requests' states, hands free seats to the waitlist, resumes who got one. */
  async settle(): Promise<{ released: number; consumed: number; resumed: number }> {
    const s = await this.licences.settle();
    let resumed = 0;
    for (const id of s.resumable) {
      try {
        if (await this.deps.resume(id)) resumed++;
      } catch (e) {
        this.deps.log?.error({ err: (e as Error).message, requestId: id }, 'could not resume a waitlisted request (retried by the licence job)');
      }
    }
    return { released: s.released, consumed: s.consumed, resumed };
  }

}
