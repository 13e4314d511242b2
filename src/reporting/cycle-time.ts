/**
 * Cycle time: from submission (requests.created_at) to completion (completed_at) of requests that
 * completed fulfilment in [from, to), by catalogue item and by a group of requesters (department,
 * location or role, from the directory as it is now).
 *
 * - `count` and the percentiles are over fulfilled requests; `failed` counts requests that ended
 *   failed. Percentiles are exact (PostgreSQL's percentile_cont: linear interpolation between the
 *   two nearest ranks), in hours.
 * - SLA: a fulfilled request meets its item's `responseTime` (as it was when submitted: the
 *   request's item snapshot) when its cycle time is at most the target; a failed request breaches
 *   it. compliance = met / (met + breached). Requests without a target are left out of the SLA.
 * - Role: a person's roles are their own plus those held through directory groups (role_groups),
 *   so one request counts once for each role its requester holds: role segments overlap.
 * - The daily series buckets by the UTC day of completion.
 */
import type { Queryable } from '../db/database.js';
import { daysOf, hours, targetSecondsSql, type Period } from './period.js';

export const GROUP_DIMENSIONS = ['department', 'location', 'role'] as const;
export type GroupDimension = (typeof GROUP_DIMENSIONS)[number];

export interface CycleStats {
  /** Fulfilled requests. */
  count: number;
  /** Requests that ended failed. */
  failed: number;
  p50Hours: number | null;
  p90Hours: number | null;
  p99Hours: number | null;
  meanHours: number | null;
  sla: { met: number; breached: number; compliance: number | null };
}

export interface CycleTimeReport {
  from: string;
  to: string;
  group: GroupDimension;
  overall: CycleStats;
  byItem: (CycleStats & { item: string; title: string; responseTime: string | null })[];
  byGroup: (CycleStats & { group: string })[];
  byItemAndGroup: (CycleStats & { item: string; group: string })[];
  daily: { date: string; count: number; failed: number; p50Hours: number | null; p90Hours: number | null; slaCompliance: number | null }[];
}

export interface CycleTimeQuery extends Period {
  group?: GroupDimension;
  /** Only these items (a service owner's scope, or one item); undefined = all. */
  items?: string[];
}

/** Requests that completed fulfilment in the period, with cycle seconds and SLA target seconds. */
export const completedBase = `
  SELECT r.id, r.item_id, r.item_snapshot->>'title' AS title, r.item_snapshot->>'responseTime' AS response_time, r.status, r.requester_email,
         EXTRACT(EPOCH FROM (r.completed_at - r.created_at))::float8 AS secs,
         ${targetSecondsSql(`(r.item_snapshot->>'responseTime')`)} AS target,
         to_char(r.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
  FROM requests r
  WHERE r.status IN ('fulfilled', 'failed') AND r.completed_at >= $1 AND r.completed_at < $2 AND ($3::text[] IS NULL OR r.item_id = ANY($3))`;

const STATS = `
  count(*) FILTER (WHERE status = 'fulfilled')::int AS n,
  count(*) FILTER (WHERE status = 'failed')::int AS failed,
  percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY secs) FILTER (WHERE status = 'fulfilled') AS ps,
  avg(secs) FILTER (WHERE status = 'fulfilled')::float8 AS mean,
  count(*) FILTER (WHERE status = 'fulfilled' AND target IS NOT NULL AND secs <= target)::int AS met,
  count(*) FILTER (WHERE target IS NOT NULL AND (status = 'failed' OR secs > target))::int AS breached`;

interface StatsRow { n: number; failed: number; ps: number[] | null; mean: number | null; met: number; breached: number }

const toStats = (x: StatsRow): CycleStats => ({
  count: x.n, failed: x.failed,
  p50Hours: hours(x.ps?.[0]), p90Hours: hours(x.ps?.[1]), p99Hours: hours(x.ps?.[2]), meanHours: hours(x.mean),
  sla: { met: x.met, breached: x.breached, compliance: x.met + x.breached ? Math.round((x.met / (x.met + x.breached)) * 10000) / 10000 : null },
});

/** The group key of each completed request's requester (one row per role for `role`). */
function segmented(group: GroupDimension): string {
  if (group === 'role') {
    return `SELECT b.*, COALESCE(g.role, '(none)') AS grp FROM base b
      LEFT JOIN people p ON p.email = b.requester_email
      LEFT JOIN LATERAL (
        SELECT unnest(p.roles) AS role
        UNION SELECT rg.role FROM role_groups rg JOIN group_memberships gm ON gm.group_name = rg.group_name
          WHERE gm.person_email = p.email AND (gm.until IS NULL OR gm.until >= CURRENT_DATE)
      ) g ON true`;
  }
  return `SELECT b.*, COALESCE(p.${group}, '(none)') AS grp FROM base b LEFT JOIN people p ON p.email = b.requester_email`;
}

/** The cycle-time report for a period. */
export async function cycleTimeReport(q: Queryable, o: CycleTimeQuery): Promise<CycleTimeReport> {
  const group = o.group ?? 'department';
  const params = [o.from, o.to, o.items ?? null];
  const byItem = await q.query<StatsRow & { item_id: string | null; title: string | null; response_time: string | null; gi: number }>(
    `WITH base AS (${completedBase})
     SELECT item_id, max(title) AS title, max(response_time) AS response_time, GROUPING(item_id) AS gi, ${STATS}
     FROM base GROUP BY GROUPING SETS ((), (item_id)) ORDER BY item_id NULLS FIRST`, params);
  const byGroup = await q.query<StatsRow & { item_id: string | null; grp: string; gi: number }>(
    `WITH base AS (${completedBase}), seg AS (${segmented(group)})
     SELECT item_id, grp, GROUPING(item_id) AS gi, ${STATS}
     FROM seg GROUP BY GROUPING SETS ((grp), (item_id, grp)) ORDER BY item_id NULLS FIRST, grp`, params);
  const daily = await q.query<StatsRow & { day: string }>(
    `WITH base AS (${completedBase}) SELECT day, ${STATS} FROM base GROUP BY day ORDER BY day`, params);

  const overallRow = byItem.rows.find((x) => Number(x.gi) === 1);
  const empty: StatsRow = { n: 0, failed: 0, ps: null, mean: null, met: 0, breached: 0 };
  const perDay = new Map(daily.rows.map((x) => [x.day, toStats(x)]));
  return {
    from: o.from.toISOString(), to: o.to.toISOString(), group,
    overall: toStats(overallRow ?? empty),
    byItem: byItem.rows.filter((x) => Number(x.gi) === 0).map((x) => ({ item: x.item_id!, title: x.title ?? x.item_id!, responseTime: x.response_time, ...toStats(x) })),
    byGroup: byGroup.rows.filter((x) => Number(x.gi) === 1).map((x) => ({ group: x.grp, ...toStats(x) })),
    byItemAndGroup: byGroup.rows.filter((x) => Number(x.gi) === 0).map((x) => ({ item: x.item_id!, group: x.grp, ...toStats(x) })),
    daily: daysOf(o).map((date) => {
      const s = perDay.get(date) ?? toStats(empty);
      return { date, count: s.count, failed: s.failed, p50Hours: s.p50Hours, p90Hours: s.p90Hours, slaCompliance: s.sla.compliance };
    }),
  };
}
