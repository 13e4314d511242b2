/**
 * Periods and targets shared by the reports. Every period is half-open, [from, to), in UTC; days are
 * UTC calendar days. A response-time target ("8h", "2d") is elapsed time: a day is 24 hours (no
 * business calendar).
 */

export interface Period { from: Date; to: Date }

const DAY_MS = 86_400_000;

/** `2026-10` → [2026-10-01, 2026-11-01); undefined when not a YYYY-MM month. */
export function monthPeriod(s: string): Period | undefined {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(s.trim());
  if (!m) return undefined;
  const y = Number(m[1]), mo = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(y, mo, 1)), to: new Date(Date.UTC(y, mo + 1, 1)) };
}

/** A date (`2026-10-01`, midnight UTC) or an ISO date-time; undefined when it is neither. */
export function parseInstant(s: string): Date | undefined {
  const t = s.trim();
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) return undefined;
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Seconds of a response-time target ("8h" = 28800, "2d" = 172800), or null. */
export function targetSeconds(responseTime: string | null | undefined): number | null {
  const m = /^(\d+)([hd])$/.exec(responseTime ?? '');
  return m ? Number(m[1]) * (m[2] === 'h' ? 3600 : 86400) : null;
}

/** The same in SQL, over a text expression (e.g. `r.item_snapshot->>'responseTime'`). */
export const targetSecondsSql = (expr: string): string =>
  `(CASE WHEN ${expr} ~ '^[0-9]+h$' THEN left(${expr}, -1)::int * 3600 WHEN ${expr} ~ '^[0-9]+d$' THEN left(${expr}, -1)::int * 86400 END)`;

/** The UTC day of an instant, `YYYY-MM-DD`. */
export const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

/** Every UTC day that [from, to) touches, in order. */
export function daysOf(p: Period): string[] {
  const out: string[] = [];
  const start = Date.UTC(p.from.getUTCFullYear(), p.from.getUTCMonth(), p.from.getUTCDate());
  for (let t = start; t < p.to.getTime(); t += DAY_MS) out.push(dayOf(new Date(t)));
  return out;
}

/** The start of the UTC day of `d`. */
export const startOfDay = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

export const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * DAY_MS);

export const hours = (seconds: number | null | undefined): number | null => (seconds === null || seconds === undefined ? null : Math.round((seconds / 3600) * 1000) / 1000);
