/**
 * Where the time of a request goes, per catalogue item, for requests that completed fulfilment
 * (fulfilled or failed) in [from, to). Each request's cycle time (created → completed) is split into:
 *
 *   approval         created → approved (request_events), i.e. waiting for approvers (reminders,
 *                    escalations and parallel steps included, as wall-clock time)
 *   manual-work      manual tasks of steps that fell back to a person: the task's case open → closed
 *                    (or the request's completion if it was never closed)
 *   retries          integration timeouts and retries: the back-off delays scheduled before each retry
 *                    (request_events `step.retry`)
 *   automated-steps  run time of steps done by automation (started → finished of the successful run)
 *   waiting          the rest: approved → picked up by a worker, breaker deferrals, polling, hand-offs
 *
 * Components are sums of step time, so with parallel steps manual + retries + automated can exceed
 * the wall-clock fulfilment time; `waiting` is then 0. Items are listed by mean cycle time, their
 * components by total hours; `ranking` lists every (item, component) by total hours, the biggest
 * bottlenecks of the catalogue first. Approval and workflow steps are broken down too.
 */
import type { Queryable } from '../db/database.js';
import { hours, type Period } from './period.js';

export const COMPONENTS = ['approval', 'manual-work', 'retries', 'automated-steps', 'waiting'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ComponentShare { component: Component; totalHours: number; meanHours: number; share: number }

export interface ItemBottlenecks {
  item: string;
  title: string;
  requests: number;
  meanCycleHours: number;
  /** Largest first. */
  components: ComponentShare[];
  top: Component | null;
  retries: number;
  timeouts: number;
  manualTasks: number;
  approvalSteps: { step: string; decided: number; meanHours: number | null; maxHours: number | null }[];
  workflowSteps: { step: string; runs: number; meanHours: number | null; retries: number; manual: number }[];
}

export interface BottleneckReport {
  from: string;
  to: string;
  items: ItemBottlenecks[];
  ranking: { item: string; title: string; component: Component; totalHours: number; meanHours: number; share: number }[];
}

const BASE = `SELECT r.id, r.item_id, r.item_snapshot->>'title' AS title, r.created_at, r.completed_at FROM requests r
  WHERE r.status IN ('fulfilled', 'failed') AND r.completed_at >= $1 AND r.completed_at < $2 AND ($3::text[] IS NULL OR r.item_id = ANY($3))`;

interface Row { item_id: string; title: string | null; total: number; approval: number; queue: number; fulfil: number; manual: number; retry_wait: number; steps: number; retries: number; timeouts: number; manual_tasks: number }

/** The bottleneck report for a period (optionally only some items). */
export async function bottleneckReport(q: Queryable, o: Period & { items?: string[] }): Promise<BottleneckReport> {
  const params = [o.from, o.to, o.items ?? null];
  const rows = (await q.query<Row>(
    `WITH base AS (${BASE}),
     t AS (
       SELECT b.*,
         (SELECT min(e.at) FROM request_events e WHERE e.request_id = b.id AND e.to_status = 'approved') AS approved_at,
         (SELECT min(e.at) FROM request_events e WHERE e.request_id = b.id AND e.to_status = 'in-fulfilment') AS started_at,
         COALESCE((SELECT sum(GREATEST(0, EXTRACT(EPOCH FROM (LEAST(COALESCE(c.closed_at, b.completed_at), b.completed_at) - c.created_at))))
                   FROM fulfilment_steps s JOIN cases c ON c.ref = s.manual_case WHERE s.request_id = b.id), 0)::float8 AS manual,
         (SELECT count(*) FROM fulfilment_steps s WHERE s.request_id = b.id AND s.manual_case IS NOT NULL)::int AS manual_tasks,
         COALESCE((SELECT sum((e.detail->>'delayMs')::float8) / 1000 FROM request_events e WHERE e.request_id = b.id AND e.kind = 'step.retry'), 0)::float8 AS retry_wait,
         (SELECT count(*) FROM request_events e WHERE e.request_id = b.id AND e.kind = 'step.retry')::int AS retries,
         ((SELECT count(*) FROM request_events e WHERE e.request_id = b.id AND e.kind = 'step.retry' AND e.reason ~* 'timed? ?out')
          + (SELECT count(*) FROM fulfilment_failures f WHERE f.request_id = b.id AND f.error ~* 'timed? ?out'))::int AS timeouts,
         COALESCE((SELECT sum(EXTRACT(EPOCH FROM (s.finished_at - s.started_at))) FROM fulfilment_steps s
                   WHERE s.request_id = b.id AND s.status = 'done' AND s.manual_case IS NULL AND s.started_at IS NOT NULL AND s.finished_at >= s.started_at), 0)::float8 AS steps
       FROM base b)
     SELECT item_id, title,
       EXTRACT(EPOCH FROM (completed_at - created_at))::float8 AS total,
       EXTRACT(EPOCH FROM (COALESCE(approved_at, started_at, completed_at) - created_at))::float8 AS approval,
       EXTRACT(EPOCH FROM (COALESCE(started_at, completed_at) - COALESCE(approved_at, started_at, completed_at)))::float8 AS queue,
       EXTRACT(EPOCH FROM (completed_at - COALESCE(started_at, completed_at)))::float8 AS fulfil,
       manual, retry_wait, steps, retries, timeouts, manual_tasks
     FROM t`, params)).rows;

  const approvalSteps = (await q.query<{ item_id: string; step_id: string; n: number; mean: number | null; max: number | null }>(
    `WITH base AS (${BASE})
     SELECT b.item_id, a.step_id, count(*)::int AS n, avg(EXTRACT(EPOCH FROM (a.decided_at - a.created_at)))::float8 AS mean, max(EXTRACT(EPOCH FROM (a.decided_at - a.created_at)))::float8 AS max
     FROM base b JOIN approvals a ON a.request_id = b.id WHERE a.decided_at IS NOT NULL GROUP BY b.item_id, a.step_id ORDER BY mean DESC NULLS LAST`, params)).rows;
  const workflowSteps = (await q.query<{ item_id: string; step_id: string; runs: number; mean: number | null; retries: number; manual: number }>(
    `WITH base AS (${BASE})
     SELECT b.item_id, s.step_id, count(*) FILTER (WHERE s.status = 'done')::int AS runs,
       avg(EXTRACT(EPOCH FROM (s.finished_at - s.started_at))) FILTER (WHERE s.status = 'done' AND s.manual_case IS NULL AND s.finished_at >= s.started_at)::float8 AS mean,
       COALESCE(sum((SELECT count(*) FROM request_events e WHERE e.request_id = b.id AND e.kind = 'step.retry' AND e.detail->>'step' = s.step_id)), 0)::int AS retries,
       count(*) FILTER (WHERE s.manual_case IS NOT NULL)::int AS manual
     FROM base b JOIN fulfilment_steps s ON s.request_id = b.id GROUP BY b.item_id, s.step_id ORDER BY mean DESC NULLS LAST`, params)).rows;

  const byItem = new Map<string, Row[]>();
  for (const r of rows) byItem.set(r.item_id, [...(byItem.get(r.item_id) ?? []), r]);
  const items: ItemBottlenecks[] = [];
  for (const [item, list] of byItem) {
    const sums: Record<Component, number> = { approval: 0, 'manual-work': 0, retries: 0, 'automated-steps': 0, waiting: 0 };
    let total = 0;
    for (const r of list) {
      total += r.total;
      sums.approval += r.approval;
      sums['manual-work'] += r.manual;
      sums.retries += r.retry_wait;
      sums['automated-steps'] += r.steps;
      sums.waiting += r.queue + Math.max(0, r.fulfil - r.manual - r.retry_wait - r.steps);
    }
    const all = Object.values(sums).reduce((a, b) => a + b, 0);
    const components = COMPONENTS.map((component) => ({
      component, totalHours: hours(sums[component])!, meanHours: hours(sums[component] / list.length)!, share: all ? Math.round((sums[component] / all) * 10000) / 10000 : 0,
    })).sort((a, b) => b.totalHours - a.totalHours || COMPONENTS.indexOf(a.component) - COMPONENTS.indexOf(b.component));
    items.push({
      item, title: list[0]!.title ?? item, requests: list.length, meanCycleHours: hours(total / list.length)!,
      components, top: components[0]!.totalHours > 0 ? components[0]!.component : null,
      retries: list.reduce((a, r) => a + r.retries, 0), timeouts: list.reduce((a, r) => a + r.timeouts, 0), manualTasks: list.reduce((a, r) => a + r.manual_tasks, 0),
      approvalSteps: approvalSteps.filter((a) => a.item_id === item).map((a) => ({ step: a.step_id, decided: a.n, meanHours: hours(a.mean), maxHours: hours(a.max) })),
      workflowSteps: workflowSteps.filter((s) => s.item_id === item).map((s) => ({ step: s.step_id, runs: s.runs, meanHours: hours(s.mean), retries: s.retries, manual: s.manual })),
    });
  }
  items.sort((a, b) => b.meanCycleHours - a.meanCycleHours || a.item.localeCompare(b.item));
  const ranking = items.flatMap((i) => i.components.filter((c) => c.totalHours > 0).map((c) => ({ item: i.item, title: i.title, ...c })))
    .sort((a, b) => b.totalHours - a.totalHours || a.item.localeCompare(b.item));
  return { from: o.from.toISOString(), to: o.to.toISOString(), items, ranking };
}
