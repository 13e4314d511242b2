/**
 * What each alert rule looks at, read from the database (the system of record), at the injected
 * time `now`: every subject for which the rule's condition holds right now, with a plain-words
 * summary. Nothing here changes anything.
 *
 * - failure-rate / item: requests of an item that finished in the window: failed / (fulfilled + failed).
 * - failure-rate / connector: step attempts in the window (audit `step.started`) against a backend and
 *   the failed ones (audit `step.failed`); an open breaker's deferrals are not attempts.
 * - sla: open requests whose time since submission has reached atPercent of the item's responseTime.
 * - triage-age: open triage items older than olderThanMinutes (one subject: the queue).
 * - breaker-open: the latest breaker state change audited per backend is open or half-open.
 * - job-backlog: Agenda jobs due (on the database clock) for olderThanSeconds and not picked up.
 */
import type { Queryable } from '../db/database.js';
import { AGENDA_TABLE } from '../db/migrate.js';
import type { AlertRule } from './alert-rules.js';

export interface Condition { subject: string; summary: string; detail: Record<string, unknown> }

const OPEN = ['submitted', 'awaiting-approval', 'approved', 'in-fulfilment'];
const minutesAgo = (now: Date, m: number) => new Date(now.getTime() - m * 60_000);

/** "45 min", "3 h 10 min", "2 d 4 h". */
export function duration(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

const pct = (n: number) => `${Math.round(n * 10) / 10}%`;

export async function conditionsOf(q: Queryable, rule: AlertRule, now: Date): Promise<Condition[]> {
  switch (rule.kind) {
    case 'failure-rate': {
      const since = minutesAgo(now, rule.windowMinutes);
      const rows = rule.scope === 'item'
        ? (await q.query<{ subject: string; failed: number; total: number }>(
          `SELECT item_id AS subject, count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS total
           FROM requests WHERE status IN ('fulfilled', 'failed') AND completed_at > $1 AND completed_at <= $2 GROUP BY item_id`, [since, now])).rows
        : (await q.query<{ subject: string; failed: number; total: number }>(
          `SELECT detail->>'backend' AS subject, count(*) FILTER (WHERE action = 'step.failed')::int AS failed, count(*) FILTER (WHERE action = 'step.started')::int AS total
           FROM audit_log WHERE action IN ('step.started', 'step.failed') AND at > $1 AND at <= $2 AND detail ? 'backend' GROUP BY 1`, [since, now])).rows;
      const what = rule.scope === 'item' ? 'requests' : 'attempts';
      return rows
        .filter((r) => !rule.subjects || rule.subjects.includes(r.subject))
        .filter((r) => r.total >= rule.minCount && (r.failed * 100) / r.total > rule.thresholdPercent)
        .map((r) => ({
          subject: r.subject,
          summary: `${rule.scope} "${r.subject}": ${r.failed} of ${r.total} ${what} failed in the last ${duration(rule.windowMinutes * 60_000)} (${pct((r.failed * 100) / r.total)}, above ${rule.thresholdPercent}%).`,
          detail: { scope: rule.scope, failed: r.failed, total: r.total, percent: Math.round((r.failed * 1000) / r.total) / 10, windowMinutes: rule.windowMinutes, thresholdPercent: rule.thresholdPercent },
        }));
    }
    case 'sla': {
      const rows = (await q.query<{ ref: string; item_id: string; title: string; status: string; created_at: Date; response_time: string; sla_s: number }>(
        `SELECT * FROM (
           SELECT ref, item_id, item_snapshot->>'title' AS title, status, created_at, item_snapshot->>'responseTime' AS response_time,
             (CASE right(item_snapshot->>'responseTime', 1) WHEN 'h' THEN 3600 WHEN 'd' THEN 86400 END) * (substring(item_snapshot->>'responseTime' FROM '^[0-9]+'))::int AS sla_s
           FROM requests WHERE status = ANY($1) AND item_snapshot->>'responseTime' ~ '^[0-9]+[hd]$') x
         WHERE extract(epoch FROM $2::timestamptz - created_at) >= sla_s * $3::float8 / 100 ORDER BY created_at`, [OPEN, now, rule.atPercent])).rows;
      return rows
        .filter((r) => !rule.items || rule.items.includes(r.item_id))
        .map((r) => {
          const elapsed = now.getTime() - r.created_at.getTime();
          const share = elapsed / (r.sla_s * 1000);
          const state = share >= 1 ? `has breached its ${r.response_time} response time by ${duration(elapsed - r.sla_s * 1000)}` : `has used ${Math.floor(share * 100)}% of its ${r.response_time} response time (due in ${duration(r.sla_s * 1000 - elapsed)})`;
          return {
            subject: r.ref,
            summary: `${r.ref} (${r.title}) ${state}; it is ${r.status}.`,
            detail: { item: r.item_id, status: r.status, submittedAt: r.created_at.toISOString(), responseTime: r.response_time, elapsedPercent: Math.floor(share * 100), breached: share >= 1 },
          };
        });
    }
    case 'triage-age': {
      const r = (await q.query<{ n: number; oldest: Date | null }>(
        `SELECT count(*)::int AS n, min(created_at) AS oldest FROM triage_items WHERE status = 'open' AND created_at <= $1`, [minutesAgo(now, rule.olderThanMinutes)])).rows[0]!;
      if (!r.n || !r.oldest) return [];
      return [{
        subject: 'queue',
        summary: `${r.n} triage item${r.n === 1 ? ' has' : 's have'} waited more than ${duration(rule.olderThanMinutes * 60_000)} for the service desk (the oldest ${duration(now.getTime() - r.oldest.getTime())}).`,
        detail: { waiting: r.n, oldestSince: r.oldest.toISOString(), olderThanMinutes: rule.olderThanMinutes },
      }];
    }
    case 'breaker-open': {
      const rows = (await q.query<{ backend: string; state: string; at: Date }>(
        `SELECT DISTINCT ON (subject) subject AS backend, substring(action FROM 9) AS state, at FROM audit_log
         WHERE action IN ('breaker.open', 'breaker.half-open', 'breaker.closed') AND subject IS NOT NULL ORDER BY subject, id DESC`)).rows;
      return rows
        .filter((r) => r.state !== 'closed' && r.at <= minutesAgo(now, rule.forMinutes))
        .map((r) => ({
          subject: r.backend,
          summary: `The circuit breaker for backend "${r.backend}" is ${r.state} (since ${r.at.toISOString().slice(0, 16).replace('T', ' ')} UTC): its steps wait or go to the manual queue.`,
          detail: { state: r.state, since: r.at.toISOString() },
        }));
    }
    case 'job-backlog': {
      const r = (await q.query<{ n: number; oldest_s: number | null }>(
        `SELECT count(*)::int AS n, extract(epoch FROM now() - min(next_run_at))::float8 AS oldest_s FROM ${AGENDA_TABLE}
         WHERE locked_at IS NULL AND NOT disabled AND next_run_at <= now() - make_interval(secs => $1)`, [rule.olderThanSeconds])).rows[0]!;
      if (r.n <= rule.max) return [];
      return [{
        subject: 'jobs',
        summary: `${r.n} jobs are due and not picked up (more than ${rule.max}); the oldest for ${duration((r.oldest_s ?? 0) * 1000)}. Are the workers running?`,
        detail: { due: r.n, max: rule.max, oldestSeconds: Math.round(r.oldest_s ?? 0) },
      }];
    }
  }
}

/** The line told when a rule's condition no longer holds for a subject. */
export function resolvedText(rule: AlertRule, subject: string): string {
  switch (rule.kind) {
    case 'failure-rate': return `${rule.scope} "${subject}": the failure rate is back at or under ${rule.thresholdPercent}% (or below ${rule.minCount} ${rule.scope === 'item' ? 'requests' : 'attempts'} in ${duration(rule.windowMinutes * 60_000)}).`;
    case 'sla': return `${subject} is no longer at risk of missing its response time (closed, or its item changed).`;
    case 'triage-age': return `No triage item has waited more than ${duration(rule.olderThanMinutes * 60_000)} any more.`;
    case 'breaker-open': return `The circuit breaker for backend "${subject}" is closed again.`;
    case 'job-backlog': return `The job backlog is back at or under ${rule.max}.`;
  }
}
