/**
 * How the classifier is doing in production, over time — from the audit trail, not from a test set:
 *   - every chat classification is audited as 'nlu.classified' (detail.intent: the item, or null when
 *     it went to triage);
 *   - "that's not what I meant" is audited as 'nlu.corrected' (detail.wrongIntent);
 *   - triage staff decide what a message really was (triage_items.assigned_item).
 * Per period bucket (day or week, UTC) and item: messages routed to the item, how many of those the
 * requester corrected (accuracy = 1 − corrected / routed), and how many messages triage assigned to the
 * item after the classifier had not routed them (missed). Overall: the share routed to triage.
 */
import type { Queryable } from '../db/database.js';

export type Bucket = 'day' | 'week';

export interface ItemQuality { routed: number; corrected: number; missed: number; accuracy: number | null }

export interface PeriodQuality {
  /** Start of the bucket, ISO date (UTC). */
  period: string;
  classified: number;
  routed: number;
  triaged: number;
  /** triaged / classified (null when nothing was classified). */
  triageShare: number | null;
  items: Record<string, ItemQuality>;
}

export interface QualityReport { from: string; to: string; bucket: Bucket; periods: PeriodQuality[]; total: PeriodQuality }

const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 1e4) / 1e4 : null);

/** The report for [from, to). */
export async function nluQualityReport(q: Queryable, from: Date, to: Date, bucket: Bucket = 'week'): Promise<QualityReport> {
  if (!(from < to)) throw new RangeError(`the period is empty: from ${from.toISOString()} must be before to ${to.toISOString()}`);
  const period = `to_char(date_trunc('${bucket}', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`;
  const classified = await q.query<{ period: string; intent: string | null; n: number }>(
    `SELECT ${period} AS period, detail->>'intent' AS intent, count(*)::int AS n FROM audit_log
      WHERE action = 'nlu.classified' AND at >= $1 AND at < $2 GROUP BY 1, 2`, [from, to]);
  const corrected = await q.query<{ period: string; intent: string; n: number }>(
    `SELECT ${period} AS period, detail->>'wrongIntent' AS intent, count(*)::int AS n FROM audit_log
      WHERE action = 'nlu.corrected' AND at >= $1 AND at < $2 GROUP BY 1, 2`, [from, to]);
  const missed = await q.query<{ period: string; intent: string; n: number }>(
    `SELECT to_char(date_trunc('${bucket}', decided_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS period, assigned_item AS intent, count(*)::int AS n
       FROM triage_items WHERE status = 'assigned' AND assigned_item IS NOT NULL AND decided_at >= $1 AND decided_at < $2 GROUP BY 1, 2`, [from, to]);

  const periods = new Map<string, PeriodQuality>();
  const total: PeriodQuality = { period: from.toISOString().slice(0, 10), classified: 0, routed: 0, triaged: 0, triageShare: null, items: {} };
  const get = (p: string): PeriodQuality => {
    let x = periods.get(p);
    if (!x) periods.set(p, (x = { period: p, classified: 0, routed: 0, triaged: 0, triageShare: null, items: {} }));
    return x;
  };
  const item = (pq: PeriodQuality, id: string): ItemQuality => (pq.items[id] ??= { routed: 0, corrected: 0, missed: 0, accuracy: null });
  for (const r of classified.rows) {
    for (const pq of [get(r.period), total]) {
      pq.classified += r.n;
      if (r.intent === null) pq.triaged += r.n;
      else { pq.routed += r.n; item(pq, r.intent).routed += r.n; }
    }
  }
  for (const r of corrected.rows) for (const pq of [get(r.period), total]) item(pq, r.intent).corrected += r.n;
  for (const r of missed.rows) for (const pq of [get(r.period), total]) item(pq, r.intent).missed += r.n;
  const finish = (pq: PeriodQuality): PeriodQuality => {
    pq.triageShare = ratio(pq.triaged, pq.classified);
    for (const it of Object.values(pq.items)) it.accuracy = it.routed > 0 ? ratio(Math.max(0, it.routed - it.corrected), it.routed) : null;
    pq.items = Object.fromEntries(Object.entries(pq.items).sort(([a], [b]) => a.localeCompare(b)));
    return pq;
  };
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    bucket,
    periods: [...periods.values()].sort((a, b) => a.period.localeCompare(b.period)).map(finish),
    total: finish(total),
  };
}

/** The report as Markdown: one row per period, then the per-item totals. */
export function qualityReportMarkdown(r: QualityReport): string {
  const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
  const lines = [
    `# Classifier quality ${r.from.slice(0, 10)} – ${r.to.slice(0, 10)} (by ${r.bucket})`,
    '',
    '| period | classified | routed | to triage | triage share |',
    '|---|---:|---:|---:|---:|',
    ...r.periods.map((p) => `| ${p.period} | ${p.classified} | ${p.routed} | ${p.triaged} | ${pct(p.triageShare)} |`),
    `| **total** | ${r.total.classified} | ${r.total.routed} | ${r.total.triaged} | ${pct(r.total.triageShare)} |`,
    '',
    '| item | routed | corrected by requester | accuracy | missed (assigned by triage) |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(r.total.items).map(([id, i]) => `| ${id} | ${i.routed} | ${i.corrected} | ${pct(i.accuracy)} | ${i.missed} |`),
  ];
  return `${lines.join('\n')}\n`;
}
