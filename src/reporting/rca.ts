/**
 * Root-cause categories of fulfilment failures.
 *
 *   process  the workflow or connector definition is wrong: a template, JSONata mapping or path that
 *            cannot work, an unknown action, a missing secret or config, a bug (TypeError ...)
 *   system   a backend or the way to it: down, timed out, 5xx, 408/429, an open circuit breaker,
 *            refused credentials (HTTP 401/403, LDAP 48-50)
 *   user     the request's data: inputs that fail an action's validation, a 4xx the backend gives
 *            for the data (400/404/409/422 ...), a person or group that does not exist, the
 *            requester no longer eligible
 *
 * `categorise` decides from the error's class first (BrokenCircuitError, TaskCancelledError,
 * MappingError, AppError codes), then the status a ConnectorError carries (HTTP or LDAP result
 * code), then its message (connectors wrap mapping errors in a ConnectorError without a status),
 * and last its `retryable` flag. Each answer carries the reason in words. A fulfiller can change the
 * category of any failure (`changeCategory`: fulfiller or admin role, audited).
 */
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { audit } from '../audit/audit.repository.js';
import { ConditionSyntaxError } from '../catalogue/condition.js';
import type { Database, Queryable } from '../db/database.js';
import { findPerson } from '../directory/directory.repository.js';
import { AppError } from '../errors.js';
import { ActionError } from '../fulfilment/action.port.js';
import { ConnectorError } from '../fulfilment/connectors/connector.port.js';
import { MappingError } from '../fulfilment/connectors/http/http.mapping.js';

export const RCA_CATEGORIES = ['process', 'system', 'user'] as const;
export type RcaCategory = (typeof RCA_CATEGORIES)[number];

export interface Categorised {
  category: RcaCategory;
  reason: string;
  /** The error's class name (`ConnectorError`, `BrokenCircuitError`, ...), or `message` for plain text. */
  errorClass: string;
  /** HTTP status or LDAP result code, when the error carries one. */
  status?: number;
  message: string;
}

/** LDAP result codes (RFC 4511) about the entry or values asked for, i.e. the request's data. */
const LDAP_DATA_CODES = new Set([16, 19, 20, 21, 32, 34, 64, 65, 68]);
/** LDAP result codes about errand's own bind: credentials or rights. */
const LDAP_AUTH_CODES = new Set([48, 49, 50]);

const PROCESS_TEXT = /mapping failed|mapping produced|needs input|JSONata|leaves the connector's baseUrl|not a valid|invalid config|no action or connector operation|template|secret|bindPassword|is not a function|cannot read propert|undefined is not/i;
const USER_TEXT = /invalid input|no directory account|no such|not found|no user with|no group with|has no slack account|is taken|already exists|ambiguous|match .* "|ineligible|no longer eligible/i;
const SYSTEM_TEXT = /circuit open|timed out|timeout|unavailable|unreachable|network error|ECONN|ETIMEDOUT|EAI_AGAIN|socket|aborted|rate limit/i;

const statusFromText = (m: string): number | undefined => {
  const x = /\b(?:answered|status|HTTP)\s+(\d{3})\b/i.exec(m);
  return x ? Number(x[1]) : undefined;
};

function byStatus(status: number): { category: RcaCategory; reason: string } | undefined {
  if (status >= 100) {
    if (status >= 500) return { category: 'system', reason: `the backend answered ${status} (server error)` };
    if (status === 408 || status === 429) return { category: 'system', reason: `the backend answered ${status} (${status === 429 ? 'rate limited' : 'request timeout'})` };
    if (status === 401 || status === 403) return { category: 'system', reason: `the backend refused errand's credentials or rights (${status})` };
    if (status >= 400) return { category: 'user', reason: `the backend refused the request's data (${status})` };
    return undefined;
  }
  if (LDAP_AUTH_CODES.has(status)) return { category: 'system', reason: `the directory refused errand's bind or rights (LDAP result ${status})` };
  if (LDAP_DATA_CODES.has(status)) return { category: 'user', reason: `the directory refused the request's data (LDAP result ${status})` };
  return undefined;
}

function byText(message: string, retryable: boolean | undefined): { category: RcaCategory; reason: string } {
  if (/^(complete-failed|cancel) by /.test(message)) return { category: 'process', reason: 'ended by a person (manual task marked failed, or step cancelled): review the category' };
  if (PROCESS_TEXT.test(message)) return { category: 'process', reason: 'the workflow or connector definition cannot handle this (mapping, template, configuration)' };
  if (SYSTEM_TEXT.test(message)) return { category: 'system', reason: 'the backend was unavailable, slow or refused the call' };
  if (USER_TEXT.test(message)) return { category: 'user', reason: "the request's data was not accepted (invalid input, or it names something that does not exist)" };
  if (retryable) return { category: 'system', reason: 'a transient backend error that retries did not overcome' };
  return { category: 'process', reason: 'a permanent error that is not about the request data: check the workflow definition' };
}

/** The root-cause category of a failure: an error thrown by an action/connector, or a message. */
export function categorise(e: unknown): Categorised {
  if (typeof e === 'string') return { ...byText(e, undefined), errorClass: 'message', message: e };
  const err = e as Error | undefined;
  const message = err?.message ?? String(e);
  const errorClass = err?.constructor?.name && err.constructor.name !== 'Object' ? err.constructor.name : 'unknown';
  const out = (c: { category: RcaCategory; reason: string }, status?: number): Categorised => ({ ...c, errorClass, message, ...(status !== undefined ? { status } : {}) });

  if (e instanceof BrokenCircuitError) return out({ category: 'system', reason: 'the backend is unavailable: its circuit breaker is open' });
  if (e instanceof TaskCancelledError || err?.name === 'TimeoutError' || err?.name === 'AbortError') return out({ category: 'system', reason: 'the step timed out' });
  if (e instanceof MappingError) return out({ category: 'process', reason: "the connector's data mapping cannot handle this input (JSONata/template)" });
  if (e instanceof ConditionSyntaxError) return out({ category: 'process', reason: 'a condition in the workflow definition is invalid' });
  if (e instanceof AppError) {
    if (['INELIGIBLE', 'INVALID_FIELDS', 'ACTION_INPUT_INVALID', 'THROTTLED', 'SOD_CONFLICT', 'UNKNOWN_PERSON'].includes(e.code)) return out({ category: 'user', reason: `the request was refused: ${e.code.toLowerCase().replace(/_/g, ' ')}` });
    return out({ category: 'process', reason: `errand refused the step: ${e.code.toLowerCase().replace(/_/g, ' ')}` });
  }
  if (e instanceof ConnectorError || e instanceof ActionError) {
    const status = (e instanceof ConnectorError ? e.status : undefined) ?? statusFromText(message);
    const s = status !== undefined ? byStatus(status) : undefined;
    if (s) return out(s, status);
    return out(byText(message, e.retryable), status);
  }
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause !== undefined && cause !== e) {
    const c = categorise(cause);
    return { ...c, errorClass, message };
  }
  if (e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError || e instanceof SyntaxError) return out({ category: 'process', reason: 'a programming or definition error in the action' });
  return out(byText(message, undefined));
}

/**
 * The error's signature, for grouping the same error across requests: uuids, request and case
 * references, e-mails, URLs' query strings, long hex ids, numbers and quoted values are replaced by
 * placeholders; whitespace collapsed; at most 300 characters.
 */
export function errorSignature(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\b(REQ|CASE)-\d+\b/g, '<$1>')
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '<email>')
    .replace(/\?[^\s"']*/g, '?<query>')
    .replace(/"[^"]*"|'[^']*'/g, '"<v>"')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<id>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

export interface FailureInput {
  requestId: string;
  itemId: string;
  stepId?: string | null;
  action?: string | null;
  outcome: 'failed' | 'manual' | 'refused';
  attempt?: number | null;
  /** What was thrown (categorised by class), or a message. */
  error: unknown;
  /** The message to store when it differs from the error's (e.g. "... (after 3 attempts)"). */
  message?: string;
}

/**
 * Stores one failure with its category. A step's (or request's) terminal failure is stored once:
 * a second record of the same is ignored. Never throws: reporting must not break fulfilment.
 */
export async function recordFailure(q: Queryable, f: FailureInput): Promise<void> {
  const c = categorise(f.error);
  const message = (f.message ?? c.message).slice(0, 4000);
  try {
    await q.query(
      `INSERT INTO fulfilment_failures (request_id, item_id, step_id, action, outcome, attempt, error, error_class, status_code, signature, category, category_reason, auto_category)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) ON CONFLICT DO NOTHING`,
      [f.requestId, f.itemId, f.stepId ?? null, f.action ?? null, f.outcome, f.attempt ?? null, message, c.errorClass, c.status ?? null, errorSignature(message), c.category, c.reason]);
  } catch {
    // a reporting row must never fail the workflow (e.g. during a rolling upgrade before migration 015)
  }
}

export type CategoryChange =
  | { ok: true; id: number; category: RcaCategory; previous: RcaCategory; reason: string; changedBy: string; changedAt: Date }
  | { ok: false; status: 403 | 404; message: string };

/**
 * A fulfiller (or admin) sets the category of a failure, with a reason. Authorised here against the
 * directory; every change and every refusal is audited.
 */
export async function changeCategory(db: Database, id: number, category: RcaCategory, actorEmail: string, reason: string | undefined): Promise<CategoryChange> {
  const actor = await findPerson(db, actorEmail);
  if (!actor || !actor.active || !actor.roles.some((r) => r === 'fulfiller' || r === 'admin')) {
    await audit(db, { actor: actorEmail.toLowerCase(), action: 'failure.category-refused', subject: `failure:${id}`, detail: { category, why: 'not a fulfiller or admin' } });
    return { ok: false, status: 403, message: 'Only fulfillers and admins can change the category of a failure.' };
  }
  return db.transaction(async (tx) => {
    const cur = await tx.query<{ category: RcaCategory; request_id: string }>('SELECT category, request_id FROM fulfilment_failures WHERE id = $1 FOR UPDATE', [id]);
    if (!cur.rows[0]) return { ok: false as const, status: 404 as const, message: `No failure ${id}.` };
    const why = reason?.trim() || `set by ${actor.email}`;
    const u = await tx.query<{ categorised_at: Date }>(
      `UPDATE fulfilment_failures SET category = $2, category_reason = $3, category_source = 'fulfiller', categorised_by = $4, categorised_at = now() WHERE id = $1 RETURNING categorised_at`,
      [id, category, why, actor.email]);
    const ref = (await tx.query<{ ref: string }>('SELECT ref FROM requests WHERE id = $1', [cur.rows[0].request_id])).rows[0]?.ref;
    await audit(tx, { actor: actor.email, action: 'failure.categorised', subject: ref ?? `failure:${id}`, detail: { failure: id, from: cur.rows[0].category, to: category, reason: why } });
    return { ok: true as const, id, category, previous: cur.rows[0].category, reason: why, changedBy: actor.email, changedAt: u.rows[0]!.categorised_at };
  });
}
