/**
 * The dry run of a change: every item the change adds or modifies (and every item running on a
 * connector it modifies) is run end to end with sample answers, without touching a backend:
 *
 *  1. a sample requester who satisfies the item's eligibility answers the dialog: sample answers
 *     (samples.ts) are checked by the same server-side validation as a real submission
 *     (validateAnswers: visibility, required, types, options, min/max, pattern, dates, people);
 *  2. the workflow runs in dependency order, `when` conditions evaluated, inputs rendered from the
 *     answers and earlier steps' outputs exactly as the fulfilment runner renders them; then every
 *     `undo` in reverse order, as compensation would. Per action:
 *       - directory.*, notify: executed for real inside a database transaction that is rolled back
 *         (they only touch errand's own tables), so their input validation and lookups run;
 *       - case.create, http.request: inputs validated like the action does, nothing sent or stored;
 *       - http connector operations (`<connector>.<operation>` of the version's _connectors.yaml):
 *         the connector's own mapping code renders the path and query templates and evaluates the
 *         JSONata body mapping; with a recorded response (`dialogs/_samples.yaml` `responses:`),
 *         its status is judged and the JSONata response mapping runs on it, giving the output later
 *         steps read. Without one the output is a placeholder (noted, not failed);
 *       - other connector operations (scim, ldap, email, slack, ...): no dry-run mode, so it is
 *         checked that the operation exists and its inputs render (noted);
 *     unknown actions, empty required inputs (with the reason: a field that was not asked in this
 *     scenario, a skipped step, a missing output key), mapping errors and invalid inputs fail it;
 *  3. that in several scenarios (samples.ts: every option of choice fields, yes/no, optional fields
 *     left empty, a contractor requester when a condition reads it).
 *
 * A failing dry run blocks the change from being submitted for approval; the result is stored with
 * the change request and shown on the approval cards and by `errand change show`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { holds } from '../condition.js';
import type { CatalogueItem } from '../schema.js';
import { renderTemplate, templatePaths, type TemplateContext } from '../template.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, requesterAttributes, searchPeople, upsertPerson, type NewPerson } from '../../directory/directory.repository.js';
import { ACTION_INPUTS } from '../../fulfilment/action-specs.js';
import type { Action } from '../../fulfilment/action.port.js';
import { addToGroupAction, createAccount, disableAccountAction, removeFromGroupAction } from '../../fulfilment/actions/directory-actions.js';
import { notifyAction } from '../../fulfilment/actions/local-actions.js';
import { CONNECTOR_TYPES } from '../../fulfilment/connectors/registry.js';
import { GENERIC_OPERATION, HTTP_METHODS, parseHttpConnectorConfig, relativePath, type HttpConnectorConfig, type HttpOperationConfig } from '../../fulfilment/connectors/http/http.config.js';
import { compileMapping, evaluate, evaluateOutput, renderPath, renderQuery, type Mapping } from '../../fulfilment/connectors/http/http.mapping.js';
import { dependencies } from '../../fulfilment/engine/workflow-graph.js';
import { checkEligibility } from '../../requests/eligibility.js';
import { validateAnswers } from '../../requests/validate-answers.js';
import { samplesOf, scenariosOf, type RecordedResponse, type Samples } from './samples.js';

export interface DryRunItem {
  id: string;
  title: string;
  ok: boolean;
  /** The scenarios run, in words. */
  scenarios: string[];
  /** Step runs (forward and undo) over all scenarios. */
  stepRuns: number;
  problems: string[];
  /** What could not be checked, and why (no dry-run mode, no recorded response). */
  notes: string[];
}

export interface DryRunResult {
  ok: boolean;
  ranAt: string;
  items: DryRunItem[];
  /** Problems not tied to one item (the connectors file, the samples file). */
  problems: string[];
  summary: string;
}

export interface DryRunOptions {
  db: Database;
  now: Date;
  /** Connector operations that exist besides the version's _connectors.yaml (Slack, test connectors). */
  extraOperations?: Iterable<string>;
}

/** The part of a version a dry run reads. */
export interface DryRunTarget {
  documents: { items: CatalogueItem[]; connectors: Record<string, unknown> | null };
  files: Record<string, string>;
}

const REQUESTER = 'dry-run.requester@example.invalid';
const COLLEAGUE = 'dry-run.colleague@example.invalid';
const PLACEHOLDER = /«steps\.[^»]+»/;

/** Local actions executed inside the rolled-back transaction. */
const EXECUTED: Record<string, Action> = Object.fromEntries([createAccount, addToGroupAction, removeFromGroupAction, disableAccountAction, notifyAction].map((a) => [a.name, a]));

/** Actions whose inputs are validated as the action does, without running them. */
const VALIDATED: Record<string, z.ZodTypeAny> = {
  'case.create': z.object({ title: z.string().min(1), description: z.string().optional(), queue: z.string().optional(), priority: z.string().optional(), person: z.string().optional() }),
  'http.request': z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']), url: z.string().url(), headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(), expectStatus: z.union([z.number(), z.array(z.number())]).optional(),
  }),
};

const genericHttpInput = z.strictObject({
  method: z.enum(HTTP_METHODS), path: relativePath(), query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(), body: z.unknown().optional(),
});

interface HttpOp { connector: string; name: string; cfg: HttpConnectorConfig; op?: HttpOperationConfig; body?: Mapping; response?: Mapping }

interface Operations {
  http: Map<string, HttpOp>;
  /** Operations that exist but have no dry-run mode, with their connector type. */
  opaque: Map<string, string>;
  problems: string[];
}

const placeholderSecrets = async () => 'dry-run-placeholder';

/** The operations of a version's connectors: http ones compiled for mapping checks, others by name. */
async function operationsOf(connectors: Record<string, unknown> | null, extra: Iterable<string>): Promise<Operations> {
  const out: Operations = { http: new Map(), opaque: new Map(), problems: [] };
  for (const op of extra) out.opaque.set(op, 'built-in connector');
  const entries = (connectors?.connectors ?? {}) as Record<string, { type?: string; config?: unknown }>;
  for (const [id, e] of Object.entries(entries)) {
    try {
      if (e.type === 'http') {
        const cfg = parseHttpConnectorConfig(id, e.config ?? {});
        for (const [name, op] of Object.entries(cfg.operations)) {
          out.http.set(`${id}.${name}`, {
            connector: id, name, cfg, op,
            ...(op.body !== undefined ? { body: compileMapping(id, name, 'body', op.body) } : {}),
            ...(op.response !== undefined ? { response: compileMapping(id, name, 'response', op.response) } : {}),
          });
        }
        out.http.set(`${id}.${GENERIC_OPERATION}`, { connector: id, name: GENERIC_OPERATION, cfg });
        continue;
      }
      const type = CONNECTOR_TYPES.find((t) => t.type === e.type);
      if (!type) { out.problems.push(`connector ${id}: unknown type "${String(e.type)}"`); continue; }
      const cfg = type.configSchema.safeParse(e.config ?? {});
      if (!cfg.success) { out.problems.push(`connector ${id}: invalid config: ${cfg.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`); continue; }
      const c = await type.create(id, cfg.data, placeholderSecrets);
      for (const op of Object.keys(c.operations)) out.opaque.set(`${id}.${op}`, e.type!);
      await c.close?.().catch(() => undefined);
    } catch (err) {
      out.problems.push(`connector ${id}: ${(err as Error).message}`);
    }
  }
  return out;
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

/** Why a templated input came out empty, in words. */
function whyEmpty(raw: unknown, tctx: TemplateContext, item: CatalogueItem, skipped: Map<string, string | undefined>): string {
  const reasons: string[] = [];
  for (const p of templatePaths(raw)) {
    const [scope, name, ...rest] = p.split('.');
    if (scope === 'fields' && name) {
      const f = item.fields.find((x) => x.name === name);
      if (!(name in tctx.fields)) reasons.push(`{{${p}}}: field ${name} was not asked in this scenario${f?.when ? ` (when: ${f.when})` : ''}`);
      else if (isEmpty(tctx.fields[name])) reasons.push(`{{${p}}}: field ${name} is optional and was left empty`);
    } else if (scope === 'steps' && name) {
      if (skipped.has(name)) reasons.push(`{{${p}}}: step ${name} was skipped (when: ${skipped.get(name)})`);
      else if (!(name in tctx.steps)) reasons.push(`{{${p}}}: step ${name} has not run`);
      else if (rest.length && isEmpty(renderTemplate(`{{${p}}}`, tctx))) reasons.push(`{{${p}}}: the output of step ${name} has no ${rest.join('.')} (it has: ${Object.keys(tctx.steps[name] ?? {}).join(', ') || 'nothing'})`);
    } else if (scope === 'requester' && name && isEmpty(tctx.requester[name])) reasons.push(`{{${p}}}: the requester has no ${name}`);
  }
  return reasons.length ? reasons.join('; ') : `the value ${JSON.stringify(raw)} renders empty`;
}

/** Placeholder outputs for steps that are not executed: every key later templates read. */
function placeholderOutput(item: CatalogueItem, stepId: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const all = item.workflow.flatMap((s) => [...templatePaths(s.inputs), ...templatePaths(s.undo?.inputs ?? {})]);
  for (const p of all) {
    const [scope, id, ...rest] = p.split('.');
    if (scope !== 'steps' || id !== stepId || !rest.length) continue;
    let cur = out;
    rest.forEach((k, i) => {
      if (i === rest.length - 1) { if (!(k in cur)) cur[k] = `«steps.${id}.${rest.join('.')}»`; return; }
      if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    });
  }
  return out;
}

/** The URL an http operation would call (the connector refuses a path that leaves its baseUrl). */
function urlOf(cfg: HttpConnectorConfig, path: string, query: [string, string][]): string {
  const base = new URL(cfg.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${prefix}${path}`);
  for (const [k, v] of query) url.searchParams.append(k, v);
  if (url.origin !== base.origin || !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`))) throw new Error(`path ${path} leaves the connector's baseUrl`);
  return `${url.pathname}${url.search}`;
}

interface StepOutcome { output: Record<string, unknown>; problem?: string; note?: string }

async function runAction(tx: Queryable, action: string, input: Record<string, unknown>, ops: Operations, samples: Samples, item: CatalogueItem, stepId: string): Promise<StepOutcome> {
  const local = EXECUTED[action];
  if (local) {
    try {
      return { output: await local.run(input, { idempotencyKey: `dry-run:${randomUUID()}`, requestId: randomUUID(), requestRef: 'REQ-DRYRUN', db: tx, signal: AbortSignal.timeout(10_000) }) };
    } catch (e) {
      return { output: {}, problem: (e as Error).message };
    }
  }
  const schema = VALIDATED[action];
  if (schema) {
    const r = schema.safeParse(input);
    if (!r.success) return { output: {}, problem: `${action}: invalid input: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
    return { output: placeholderOutput(item, stepId), note: `${action} not sent (dry run): inputs valid` };
  }
  const http = ops.http.get(action);
  if (http) {
    try {
      let call: string;
      if (!http.op) {
        const r = genericHttpInput.safeParse(input);
        if (!r.success) return { output: {}, problem: `${action}: invalid input: ${r.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}` };
        call = `${r.data.method} ${urlOf(http.cfg, r.data.path.split('?')[0]!, [])}`;
      } else {
        const path = renderPath(http.op.path, input);
        const query = renderQuery(http.op.query, input);
        if (http.body) await evaluate(http.body, { input });
        call = `${http.op.method} ${urlOf(http.cfg, path, query)}`;
      }
      const recorded: RecordedResponse | undefined = samples.responses[action];
      if (!recorded) return { output: placeholderOutput(item, stepId), note: `${action}: request mapped (${call}), not sent; no recorded response in dialogs/_samples.yaml, so later steps read placeholders` };
      const expect = http.op?.expectStatus === undefined ? undefined : ([] as number[]).concat(http.op.expectStatus);
      if (recorded.status === 404 && http.op?.notFoundIsSuccess) return { output: { status: 404, notFound: true } };
      const ok = expect ? expect.includes(recorded.status) : recorded.status >= 200 && recorded.status <= 299;
      if (!ok) return { output: {}, problem: `${action}: the recorded response's status ${recorded.status} is not a success (expected ${expect?.join(', ') ?? '2xx'})` };
      const data = { status: recorded.status, body: recorded.body ?? null, headers: recorded.headers ?? {} };
      return { output: http.response ? await evaluateOutput(http.response, data) : { status: data.status, body: data.body } };
    } catch (e) {
      return { output: {}, problem: `${action}: ${(e as Error).message}` };
    }
  }
  const opaque = ops.opaque.get(action);
  if (opaque) return { output: placeholderOutput(item, stepId), note: `${action}: ${opaque} has no dry-run mode; the operation exists and its inputs render` };
  const known = [...Object.keys(ACTION_INPUTS), ...ops.http.keys(), ...ops.opaque.keys()];
  return { output: {}, problem: `unknown action "${action}"; expected one of ${known.join(', ')}` };
}

/** A sample requester who may request `item` (plus the overrides of a scenario or the samples file). */
function sampleRequester(item: CatalogueItem, overrides: Record<string, unknown>): NewPerson {
  const e = item.eligibility ?? {};
  const str = (k: string) => (typeof overrides[k] === 'string' ? (overrides[k] as string) : undefined);
  const list = (k: string) => (Array.isArray(overrides[k]) ? (overrides[k] as string[]) : undefined);
  return {
    email: REQUESTER, name: 'Dry Run Requester', title: str('title') ?? 'Tester',
    department: str('department') ?? e.departments?.[0] ?? 'IT',
    roles: list('roles') ?? ['employee', ...(e.roles?.[0] && e.roles[0] !== 'employee' ? [e.roles[0]] : [])],
    manager: COLLEAGUE, employmentType: str('employmentType') ?? e.employmentTypes?.[0] ?? 'employee',
    location: str('location') ?? e.locations?.[0] ?? 'London', groups: list('groups') ?? (e.groups?.[0] ? [e.groups[0]] : []),
  };
}

class Rollback extends Error {}

/** Runs the dry run of `itemIds` of `target`. */
export async function dryRun(target: DryRunTarget, itemIds: string[], o: DryRunOptions): Promise<DryRunResult> {
  const { samples, problem } = samplesOf(target.files);
  const ops = await operationsOf(target.documents.connectors, o.extraOperations ?? []);
  const problems = [...(problem ? [problem] : []), ...ops.problems];
  const items: DryRunItem[] = [];
  for (const id of [...new Set(itemIds)].sort()) {
    const item = target.documents.items.find((x) => x.id === id);
    if (!item) continue;
    items.push(await dryRunItem(item, samples, ops, o));
  }
  const bad = items.filter((x) => !x.ok);
  const ok = !bad.length && !problems.length;
  const runs = items.reduce((s, x) => s + x.stepRuns, 0);
  const scenarios = items.reduce((s, x) => s + x.scenarios.length, 0);
  const summary = ok
    ? `passed: ${items.length} item(s), ${scenarios} scenario(s), ${runs} step run(s)${items.some((x) => x.notes.length) ? `, ${items.reduce((s, x) => s + x.notes.length, 0)} note(s)` : ''}`
    : `FAILED: ${[...problems, ...bad.flatMap((x) => x.problems)].length} problem(s)${bad.length ? ` in ${bad.map((x) => x.id).join(', ')}` : ''}`;
  return { ok, ranAt: o.now.toISOString(), items, problems, summary };
}

async function dryRunItem(item: CatalogueItem, samples: Samples, ops: Operations, o: DryRunOptions): Promise<DryRunItem> {
  const given = samples.items[item.id] ?? {};
  const base = sampleRequester(item, given.requester ?? {});
  const baseAttrs = requesterAttributes({ ...base, department: base.department ?? null, title: base.title ?? null, roles: base.roles ?? [], manager: base.manager ?? null, employmentType: base.employmentType ?? 'employee', location: base.location ?? null, groups: base.groups ?? [], active: true });
  const scenarios = scenariosOf(item, baseAttrs, { today: o.now, person: COLLEAGUE }, given.answers ?? {});
  const result: DryRunItem = { id: item.id, title: item.title, ok: true, scenarios: scenarios.map((s) => s.name), stepRuns: 0, problems: [], notes: [] };
  const seen = new Set<string>(); // a problem is reported once, for the first scenario that shows it
  const problem = (scenario: string, text: string) => {
    if (seen.has(text)) return;
    seen.add(text);
    result.problems.push(`${scenario === 'base' ? '' : `[${scenario}] `}${text}`);
  };
  const note = (text: string) => { if (!result.notes.includes(text)) result.notes.push(text); };

  for (const sc of scenarios) {
    for (const p of sc.problems) problem(sc.name, `dialog: ${p}`);
    if (sc.problems.length) continue; // no valid answers: the workflow cannot run in this scenario
    try {
      await o.db.transaction(async (tx) => {
        await upsertPerson(tx, { email: COLLEAGUE, name: 'Dry Run Colleague', department: 'IT', roles: ['employee'], employmentType: 'employee' }, 'change-dry-run');
        await upsertPerson(tx, sampleRequester(item, { ...(given.requester ?? {}), ...sc.requester }), 'change-dry-run');
        const person = (await findPerson(tx, REQUESTER))!;
        const elig = checkEligibility(item, person);
        if (!elig.ok) { problem(sc.name, `eligibility: no sample requester can request it (${elig.reason})`); throw new Rollback(); }
        const requester = requesterAttributes(person);
        const checked = await validateAnswers(item, requester, sc.answers, { today: o.now, findPeople: (t) => searchPeople(tx, t) });
        if (!checked.ok) {
          for (const e of checked.errors) problem(sc.name, `dialog: field ${e.field}: ${e.message} (sample answer ${JSON.stringify(sc.answers[e.field])})`);
          throw new Rollback();
        }
        await runWorkflow(tx, item, requester, checked.answers, sc.name, ops, samples, { problem, note, count: () => { result.stepRuns++; } });
        throw new Rollback();
      });
    } catch (e) {
      if (!(e instanceof Rollback)) problem(sc.name, `dry run error: ${(e as Error).message}`);
    }
  }
  result.ok = result.problems.length === 0;
  return result;
}

async function runWorkflow(
  tx: Queryable, item: CatalogueItem, requester: Record<string, unknown>, fields: Record<string, unknown>, scenario: string, ops: Operations, samples: Samples,
  report: { problem(s: string, t: string): void; note(t: string): void; count(): void },
): Promise<void> {
  const tctx: TemplateContext = { requester, fields, request: { ref: 'REQ-DRYRUN', id: randomUUID(), itemId: item.id, title: item.title }, steps: {} };
  const deps = dependencies(item.workflow);
  const skipped = new Map<string, string | undefined>();
  const done: string[] = [];
  const pending = [...item.workflow];
  const check = async (label: string, action: string, raw: Record<string, unknown>, stepId: string): Promise<StepOutcome> => {
    report.count();
    const input = renderTemplate(raw, tctx) as Record<string, unknown>;
    const spec = ACTION_INPUTS[action];
    const required = spec?.required ?? [];
    const empty = required.filter((k) => isEmpty(input[k]));
    if (empty.length) {
      for (const k of empty) report.problem(scenario, `${label} (${action}): input ${k} is empty: ${whyEmpty(raw[k], tctx, item, skipped)}`);
      return { output: {} };
    }
    const out = await runAction(tx, action, input, ops, samples, item, stepId);
    if (out.problem) {
      const msg = out.problem.startsWith(`${action}: `) ? out.problem.slice(action.length + 2) : out.problem;
      if (PLACEHOLDER.test(JSON.stringify(input))) report.note(`${label} (${action}): not fully checked: an input comes from a step that was not executed (${msg})`);
      else report.problem(scenario, `${label} (${action}): ${msg}`);
    }
    if (out.note) report.note(out.note);
    return out;
  };
  while (pending.length) {
    const next = pending.find((s) => (deps.get(s.id) ?? []).every((d) => done.includes(d) || skipped.has(d)));
    if (!next) { report.problem(scenario, `workflow: steps ${pending.map((s) => s.id).join(', ')} wait for each other`); return; }
    pending.splice(pending.indexOf(next), 1);
    if (!holds(next.when, { fields, requester })) { skipped.set(next.id, next.when); continue; }
    const out = await check(`step ${next.id}`, next.action, next.inputs, next.id);
    tctx.steps[next.id] = out.output;
    done.push(next.id);
  }
  for (const id of [...done].reverse()) {
    const s = item.workflow.find((x) => x.id === id)!;
    if (s.undo) await check(`undo of step ${s.id}`, s.undo.action, s.undo.inputs, `${s.id}:undo`);
  }
}
