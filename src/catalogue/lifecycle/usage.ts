/**
 * Usage analysis for decommissioning: per catalogue item, requests per calendar month (UTC) over
 * the last 12 months (the current month and the 11 before it, oldest first), the total, when it
 * was last used (the newest request, any age) and how many of its requests are still open, with
 * its deprecation if any. Items of the current catalogue are always listed (with zeros); items
 * that only have requests (removed from the catalogue since) are listed with `inCatalogue: false`.
 * Draft requests do not count. `now` is the caller's clock.
 */
import type { Catalogue } from '../loader.js';
import type { Queryable } from '../../db/database.js';
import { OPEN_STATUSES } from '../../requests/request.repository.js';

export interface ItemUsage {
  id: string;
  title: string;
  inCatalogue: boolean;
  owner: { team: string; contact: string } | null;
  /** 12 entries, oldest first: `YYYY-MM` and the number of requests created in it. */
  months: { month: string; count: number }[];
  total: number;
  lastUsed: Date | null;
  open: number;
  /** No request in the 12 months: a candidate for decommissioning. */
  unused: boolean;
  deprecation: { id: number; status: string; until: Date; alternative: string | null; reason: string } | null;
}

export interface UsageReport { from: string; to: string; generatedAt: Date; items: ItemUsage[] }

const monthStart = (y: number, m: number) => new Date(Date.UTC(y, m, 1));
const label = (d: Date) => d.toISOString().slice(0, 7);

/** The 12 month starts ending with `now`'s month, and the start of the month after it. */
export function usageWindow(now: Date): { months: Date[]; end: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  return { months: Array.from({ length: 12 }, (_, i) => monthStart(y, m - 11 + i)), end: monthStart(y, m + 1) };
}

export async function usageReport(q: Queryable, o: { now: Date; catalogue: Catalogue; item?: string }): Promise<UsageReport> {
  const { months, end } = usageWindow(o.now);
  const start = months[0]!;
  const only = o.item ? [o.item] : null;
  const perMonth = (await q.query<{ item_id: string; month: string; n: number }>(
    `SELECT item_id, to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, count(*)::int AS n
     FROM requests WHERE created_at >= $1 AND created_at < $2 AND status <> 'draft' AND ($3::text[] IS NULL OR item_id = ANY($3))
     GROUP BY 1, 2`, [start, end, only])).rows;
  const totals = (await q.query<{ item_id: string; last_used: Date | null; open: number; title: string | null }>(
    `SELECT item_id, max(created_at) AS last_used, count(*) FILTER (WHERE status = ANY($2) AND completed_at IS NULL)::int AS open,
            (array_agg(item_snapshot->>'title' ORDER BY created_at DESC))[1] AS title
     FROM requests WHERE status <> 'draft' AND ($1::text[] IS NULL OR item_id = ANY($1)) GROUP BY item_id`, [only, OPEN_STATUSES])).rows;
  const deprecations = (await q.query<{ id: string; item_id: string; status: string; until: Date; alternative: string | null; reason: string; item_title: string }>(
    `SELECT DISTINCT ON (item_id) id, item_id, status, until, alternative, reason, item_title FROM catalogue_deprecations
     WHERE status IN ('active', 'removed') AND ($1::text[] IS NULL OR item_id = ANY($1)) ORDER BY item_id, (status = 'active') DESC, id DESC`, [only])).rows;

  const ids = new Set<string>([...o.catalogue.list().map((i) => i.id), ...totals.map((t) => t.item_id)]);
  if (o.item) for (const id of [...ids]) if (id !== o.item) ids.delete(id);
  const items: ItemUsage[] = [...ids].sort().map((id) => {
    const item = o.catalogue.get(id);
    const t = totals.find((x) => x.item_id === id);
    const dep = deprecations.find((x) => x.item_id === id);
    const counts = months.map((m) => ({ month: label(m), count: perMonth.find((p) => p.item_id === id && p.month === label(m))?.n ?? 0 }));
    const total = counts.reduce((s, c) => s + c.count, 0);
    return {
      id, title: item?.title ?? t?.title ?? dep?.item_title ?? id, inCatalogue: Boolean(item), owner: item ? { ...item.owner } : null,
      months: counts, total, lastUsed: t?.last_used ?? null, open: t?.open ?? 0, unused: total === 0,
      deprecation: dep ? { id: Number(dep.id), status: dep.status, until: dep.until, alternative: dep.alternative, reason: dep.reason } : null,
    };
  });
  return { from: label(start), to: label(months[11]!), generatedAt: o.now, items };
}

/** The report as a fixed-width table (CLI). */
export function renderUsage(r: UsageReport): string {
  const out = [`catalogue usage ${r.from} … ${r.to} (requests per month, oldest first)`];
  const w = Math.max(4, ...r.items.map((i) => i.id.length));
  out.push(`${'item'.padEnd(w)}  ${r.items[0]?.months.map((m) => m.month.slice(2)).join(' ') ?? ''}  total  last used   open  status`);
  for (const i of r.items) {
    const status = [
      i.inCatalogue ? '' : 'not in catalogue',
      i.deprecation ? `${i.deprecation.status === 'active' ? 'deprecated until' : 'removed'} ${i.deprecation.until.toISOString().slice(0, 10)}${i.deprecation.alternative ? ` → ${i.deprecation.alternative}` : ''}` : '',
      i.unused && !i.deprecation ? 'unused for 12 months' : '',
    ].filter(Boolean).join('; ');
    out.push(`${i.id.padEnd(w)}  ${i.months.map((m) => String(m.count).padStart(5)).join(' ')}  ${String(i.total).padStart(5)}  ${(i.lastUsed ? i.lastUsed.toISOString().slice(0, 10) : 'never').padEnd(10)} ${String(i.open).padStart(5)}  ${status}`);
  }
  return `${out.join('\n')}\n`;
}
