/**
 * The service review of a period [from, to), per catalogue item and overall:
 *
 * - volume: requests submitted in the period; outcomes of requests completed in the period
 * - automation rate: fulfilled requests (completed in the period) that needed neither triage nor
 *   manual work, over all fulfilled. Triage: the request is the requester's first of that item
 *   within 7 days after triage assigned them that item. Manual work: a case for the request or a
 *   manual task.
 * - classification, with the counts of the NLU quality report (src/nlu/quality-report.ts, from the
 *   audit trail): `routed` = messages the classifier sent to this item, `corrected` = of those, "that's
 *   not what I meant", `missed` = messages triage assigned to this item (the classifier was unsure),
 *   `missedTopSuggestionRight` = of those, how many had this item as the classifier's top suggestion.
 *   precision = (routed − corrected) / routed (the quality report's "accuracy"); recall =
 *   (routed − corrected) / (routed − corrected + missed); accuracy = (routed − corrected) /
 *   (routed + missed): right decisions over every decision that involved this item.
 * - timeliness: cycle time and SLA compliance (see cycle-time.ts)
 * - satisfaction: ratings of requests whose prompt went out in the period (see satisfaction.ts)
 * - failures: counts by root-cause category and the most frequent error signatures
 */
import type { Queryable } from '../db/database.js';
import { nluQualityReport } from '../nlu/quality-report.js';
import { cycleTimeReport, type CycleStats } from './cycle-time.js';
import { csvCell } from './csv.js';
import type { Period } from './period.js';
import type { RcaCategory } from './rca.js';
import { recurringErrors } from './recurring-errors.js';
import { mergeStats, satisfactionByItem, type SatisfactionStats } from './satisfaction.js';

export interface Classification {
  routed: number;
  corrected: number;
  missed: number;
  missedTopSuggestionRight: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
}

export interface ItemReview {
  item: string;
  title: string;
  volume: { submitted: number; fulfilled: number; failed: number; denied: number; cancelled: number };
  automation: { fulfilled: number; automated: number; viaTriage: number; withManualWork: number; rate: number | null };
  classification: Classification;
  timeliness: { responseTime: string | null; p50Hours: number | null; p90Hours: number | null; meanHours: number | null; sla: CycleStats['sla'] };
  satisfaction: SatisfactionStats;
  failures: { total: number; byCategory: Record<RcaCategory, number>; top: { category: RcaCategory; step: string | null; signature: string; count: number; example: string }[] };
}

export interface ServiceReview {
  from: string;
  to: string;
  overall: Omit<ItemReview, 'item' | 'title' | 'timeliness'> & { timeliness: Omit<ItemReview['timeliness'], 'responseTime'> };
  items: ItemReview[];
}

const ratio = (a: number, b: number): number | null => (b ? Math.round((a / b) * 10000) / 10000 : null);

function classification(c: { routed: number; corrected: number; missed: number; missedTopSuggestionRight: number }): Classification {
  const right = Math.max(0, c.routed - c.corrected);
  return { ...c, accuracy: ratio(right, c.routed + c.missed), precision: ratio(right, c.routed), recall: ratio(right, right + c.missed) };
}

/** The service review of a period, for every item with activity (or only `items`). */
export async function serviceReview(q: Queryable, o: Period & { items?: string[]; titles?: (id: string) => string | undefined }): Promise<ServiceReview> {
  const params = [o.from, o.to, o.items ?? null];
  const vol = (await q.query<{ item_id: string; title: string | null; submitted: number; fulfilled: number; failed: number; denied: number; cancelled: number }>(
    `SELECT item_id, max(item_snapshot->>'title') AS title,
       count(*) FILTER (WHERE created_at >= $1 AND created_at < $2)::int AS submitted,
       count(*) FILTER (WHERE status = 'fulfilled' AND completed_at >= $1 AND completed_at < $2)::int AS fulfilled,
       count(*) FILTER (WHERE status = 'failed' AND completed_at >= $1 AND completed_at < $2)::int AS failed,
       count(*) FILTER (WHERE status = 'denied' AND completed_at >= $1 AND completed_at < $2)::int AS denied,
       count(*) FILTER (WHERE status = 'cancelled' AND completed_at >= $1 AND completed_at < $2)::int AS cancelled
     FROM requests WHERE ((created_at >= $1 AND created_at < $2) OR (completed_at >= $1 AND completed_at < $2)) AND ($3::text[] IS NULL OR item_id = ANY($3))
     GROUP BY item_id`, params)).rows;
  const auto = (await q.query<{ item_id: string; fulfilled: number; automated: number; via_triage: number; with_manual: number }>(
    `SELECT item_id, count(*)::int AS fulfilled, count(*) FILTER (WHERE NOT triaged AND NOT manual)::int AS automated,
       count(*) FILTER (WHERE triaged)::int AS via_triage, count(*) FILTER (WHERE manual)::int AS with_manual
     FROM (SELECT r.item_id,
             EXISTS (SELECT 1 FROM triage_items t WHERE t.status = 'assigned' AND t.assigned_item = r.item_id AND t.requester_email = r.requester_email
                     AND t.decided_at <= r.created_at AND t.decided_at > r.created_at - interval '7 days'
                     AND NOT EXISTS (SELECT 1 FROM requests p WHERE p.item_id = r.item_id AND p.requester_email = r.requester_email AND p.created_at >= t.decided_at AND p.created_at < r.created_at)) AS triaged,
             (EXISTS (SELECT 1 FROM cases c WHERE c.request_id = r.id)
              OR EXISTS (SELECT 1 FROM fulfilment_steps s WHERE s.request_id = r.id AND (s.manual_case IS NOT NULL OR s.output->>'manual' = 'true'))) AS manual
           FROM requests r WHERE r.status = 'fulfilled' AND r.completed_at >= $1 AND r.completed_at < $2 AND ($3::text[] IS NULL OR r.item_id = ANY($3))) x
     GROUP BY item_id`, params)).rows;
  const quality = (await nluQualityReport(q, o.from, o.to)).total.items;
  const topRight = (await q.query<{ item_id: string; n: number }>(
    `SELECT assigned_item AS item_id, count(*)::int AS n FROM triage_items
     WHERE status = 'assigned' AND decided_at >= $1 AND decided_at < $2 AND suggestions->0->>'intent' = assigned_item GROUP BY 1`, [o.from, o.to])).rows;
  const inScope = (id: string) => !o.items || o.items.includes(id);
  const fails = (await q.query<{ item_id: string; category: RcaCategory; n: number }>(
    `SELECT item_id, category, count(*)::int AS n FROM fulfilment_failures WHERE occurred_at >= $1 AND occurred_at < $2 AND ($3::text[] IS NULL OR item_id = ANY($3)) GROUP BY 1, 2`, params)).rows;
  const cycle = await cycleTimeReport(q, { from: o.from, to: o.to, ...(o.items ? { items: o.items } : {}) });
  const sat = await satisfactionByItem(q, { from: o.from, to: o.to, ...(o.items ? { items: o.items } : {}) });
  const recurring = await recurringErrors(q, { from: o.from, to: o.to, ...(o.items ? { items: o.items } : {}), limit: 1000 });

  const ids = new Set<string>([...(o.items ?? []), ...vol.map((x) => x.item_id), ...auto.map((x) => x.item_id), ...Object.keys(quality).filter(inScope), ...fails.map((x) => x.item_id), ...sat.keys()]);
  const noSat = mergeStats([]);
  const items: ItemReview[] = [...ids].sort().map((id) => {
    const v = vol.find((x) => x.item_id === id);
    const a = auto.find((x) => x.item_id === id);
    const c = quality[id];
    const t = cycle.byItem.find((x) => x.item === id);
    const byCategory: Record<RcaCategory, number> = { process: 0, system: 0, user: 0 };
    for (const f of fails.filter((x) => x.item_id === id)) byCategory[f.category] += f.n;
    return {
      item: id, title: o.titles?.(id) ?? v?.title ?? t?.title ?? id,
      volume: { submitted: v?.submitted ?? 0, fulfilled: v?.fulfilled ?? 0, failed: v?.failed ?? 0, denied: v?.denied ?? 0, cancelled: v?.cancelled ?? 0 },
      automation: { fulfilled: a?.fulfilled ?? 0, automated: a?.automated ?? 0, viaTriage: a?.via_triage ?? 0, withManualWork: a?.with_manual ?? 0, rate: ratio(a?.automated ?? 0, a?.fulfilled ?? 0) },
      classification: classification({ routed: c?.routed ?? 0, corrected: c?.corrected ?? 0, missed: c?.missed ?? 0, missedTopSuggestionRight: topRight.find((x) => x.item_id === id)?.n ?? 0 }),
      timeliness: { responseTime: t?.responseTime ?? null, p50Hours: t?.p50Hours ?? null, p90Hours: t?.p90Hours ?? null, meanHours: t?.meanHours ?? null, sla: t?.sla ?? { met: 0, breached: 0, compliance: null } },
      satisfaction: sat.get(id) ?? noSat,
      failures: {
        total: byCategory.process + byCategory.system + byCategory.user, byCategory,
        top: recurring.filter((r) => r.item === id).slice(0, 3).map((r) => ({ category: r.category, step: r.step, signature: r.signature, count: r.count, example: r.example })),
      },
    };
  });

  const sum = (f: (i: ItemReview) => number) => items.reduce((acc, i) => acc + f(i), 0);
  const automated = sum((i) => i.automation.automated), fulfilledAll = sum((i) => i.automation.fulfilled);
  const byCategory: Record<RcaCategory, number> = { process: sum((i) => i.failures.byCategory.process), system: sum((i) => i.failures.byCategory.system), user: sum((i) => i.failures.byCategory.user) };
  return {
    from: o.from.toISOString(), to: o.to.toISOString(),
    overall: {
      volume: { submitted: sum((i) => i.volume.submitted), fulfilled: sum((i) => i.volume.fulfilled), failed: sum((i) => i.volume.failed), denied: sum((i) => i.volume.denied), cancelled: sum((i) => i.volume.cancelled) },
      automation: { fulfilled: fulfilledAll, automated, viaTriage: sum((i) => i.automation.viaTriage), withManualWork: sum((i) => i.automation.withManualWork), rate: ratio(automated, fulfilledAll) },
      classification: classification({ routed: sum((i) => i.classification.routed), corrected: sum((i) => i.classification.corrected), missed: sum((i) => i.classification.missed), missedTopSuggestionRight: sum((i) => i.classification.missedTopSuggestionRight) }),
      timeliness: { p50Hours: cycle.overall.p50Hours, p90Hours: cycle.overall.p90Hours, meanHours: cycle.overall.meanHours, sla: cycle.overall.sla },
      satisfaction: mergeStats(items.map((i) => i.satisfaction)),
      failures: {
        total: byCategory.process + byCategory.system + byCategory.user, byCategory,
        top: recurring.slice(0, 5).map((r) => ({ category: r.category, step: r.step ? `${r.item}/${r.step}` : r.item, signature: r.signature, count: r.count, example: r.example })),
      },
    },
    items,
  };
}

const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x * 1000) / 10}%`);
const num = (x: number | null, unit = ''): string => (x === null ? '–' : `${Math.round(x * 10) / 10}${unit}`);
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown: a summary table, then the top failure causes and rating distributions per item. */
export function reviewToMarkdown(r: ServiceReview): string {
  const lines = [`# Service review ${r.from.slice(0, 10)} – ${r.to.slice(0, 10)} (to exclusive)`, ''];
  const o = r.overall;
  lines.push(`Overall: ${o.volume.submitted} submitted, ${o.volume.fulfilled} fulfilled, ${o.volume.failed} failed; automation ${pct(o.automation.rate)}; SLA ${pct(o.timeliness.sla.compliance)}; p50 ${num(o.timeliness.p50Hours, ' h')}, p90 ${num(o.timeliness.p90Hours, ' h')}; satisfaction ${num(o.satisfaction.mean)} (${o.satisfaction.count} ratings); classification accuracy ${pct(o.classification.accuracy)}; failures ${o.failures.total} (process ${o.failures.byCategory.process}, system ${o.failures.byCategory.system}, user ${o.failures.byCategory.user}).`, '');
  lines.push('| item | submitted | fulfilled | failed | automation | SLA met | p50 h | p90 h | satisfaction | classification | failures | top failure cause |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const i of r.items) {
    const top = i.failures.top[0];
    lines.push(`| ${cell(i.item)} | ${i.volume.submitted} | ${i.volume.fulfilled} | ${i.volume.failed} | ${pct(i.automation.rate)} | ${pct(i.timeliness.sla.compliance)} | ${num(i.timeliness.p50Hours)} | ${num(i.timeliness.p90Hours)} | ${num(i.satisfaction.mean)} (${i.satisfaction.count}) | ${pct(i.classification.accuracy)} | ${i.failures.total} | ${top ? cell(`${top.category}: ${top.signature} (${top.count}×)`) : '–'} |`);
  }
  for (const i of r.items.filter((x) => x.failures.total || x.satisfaction.count)) {
    lines.push('', `## ${cell(i.title)} (${i.item})`, '');
    if (i.satisfaction.count) lines.push(`- Ratings: ${[1, 2, 3, 4, 5].map((k) => `${k}★ ${i.satisfaction.distribution[String(k) as '1']}`).join(', ')} (response rate ${pct(i.satisfaction.responseRate)})`);
    for (const f of i.failures.top) lines.push(`- ${f.count}× ${f.category}${f.step ? ` at ${f.step}` : ''}: ${cell(f.signature)}`);
  }
  return `${lines.join('\n')}\n`;
}


export const REVIEW_CSV_HEADER = ['item', 'title', 'submitted', 'fulfilled', 'failed', 'denied', 'cancelled', 'automation_rate', 'automated', 'via_triage', 'with_manual_work',
  'sla_compliance', 'sla_met', 'sla_breached', 'p50_hours', 'p90_hours', 'satisfaction_mean', 'satisfaction_count', 'rating_1', 'rating_2', 'rating_3', 'rating_4', 'rating_5',
  'classification_accuracy', 'classification_precision', 'classification_recall', 'failures', 'failures_process', 'failures_system', 'failures_user', 'top_failure'];

/** CSV: one line per item, then `*` for all items together. */
export function reviewToCsv(r: ServiceReview): string {
  const line = (item: string, title: string, x: ServiceReview['overall']): string => [
    item, title, x.volume.submitted, x.volume.fulfilled, x.volume.failed, x.volume.denied, x.volume.cancelled, x.automation.rate, x.automation.automated, x.automation.viaTriage, x.automation.withManualWork,
    x.timeliness.sla.compliance, x.timeliness.sla.met, x.timeliness.sla.breached, x.timeliness.p50Hours, x.timeliness.p90Hours, x.satisfaction.mean, x.satisfaction.count,
    ...(['1', '2', '3', '4', '5'] as const).map((k) => x.satisfaction.distribution[k]),
    x.classification.accuracy, x.classification.precision, x.classification.recall, x.failures.total, x.failures.byCategory.process, x.failures.byCategory.system, x.failures.byCategory.user,
    x.failures.top[0] ? `${x.failures.top[0].category}: ${x.failures.top[0].signature}` : '',
  ].map(csvCell).join(',');
  return `${[REVIEW_CSV_HEADER.join(','), ...r.items.map((i) => line(i.item, i.title, i)), line('*', 'all items', r.overall)].join('\n')}\n`;
}
