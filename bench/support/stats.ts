/**
 * Small statistics and formatting helpers shared by the load benchmarks (bench/load/*).
 */
import { mulberry32 } from '../../test/support/rng.js';

/** Nearest-rank percentile of an ascending array (q in 0..1); NaN for an empty array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary { n: number; p50: number; p90: number; p99: number; max: number; mean: number }

/** p50/p90/p99/max/mean of `values` (not modified). */
export function summarise(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
  return { n: s.length, p50: percentile(s, 0.5), p90: percentile(s, 0.9), p99: percentile(s, 0.99), max: s.length ? s[s.length - 1]! : Number.NaN, mean };
}

/** Least-squares line y = a + b·x; `r2` is the coefficient of determination. */
export function leastSquares(points: readonly { x: number; y: number }[]): { slope: number; intercept: number; r2: number } {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN };
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (const p of points) { sxy += (p.x - mx) * (p.y - my); sxx += (p.x - mx) ** 2; syy += (p.y - my) ** 2; }
  const slope = sxx === 0 ? Number.NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** A number for a table cell: fixed decimals, `—` for NaN/undefined. */
export function num(v: number | undefined | null, digits = 1): string {
  return v === undefined || v === null || Number.isNaN(v) ? '—' : v.toFixed(digits);
}

export const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** A plain-text table: right-aligned cells, a header rule. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** JSON with NaN/Infinity as null (JSON.stringify would write null anyway, but silently). */
export function jsonLine(o: unknown): string {
  return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG (mulberry32): the same run picks the same users and texts. */
export const rng = mulberry32;
