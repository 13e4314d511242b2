/**
 * `errand report service-review --period 2026-10 | --from <date> --to <date> [--item <id>] [--format md|csv|json]`:
 * the service review of a period (see src/reporting/service-review.ts) from the configured database
 * (DATABASE_URL, else the embedded PGlite; with the embedded one, stop the server first). Markdown
 * by default. Exit 2 on bad arguments.
 */
import type { Database } from '../db/database.js';
import { monthPeriod, parseInstant, type Period } from '../reporting/period.js';
import { reviewToCsv, reviewToMarkdown, serviceReview } from '../reporting/service-review.js';
import { optionOf, withConfiguredDatabase } from './with-database.js';

export interface ReportIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; db?: Database }

const USAGE = 'usage: errand report service-review (--period YYYY-MM | --from <date> --to <date>) [--item <id>] [--format md|csv|json]\n';

/** Parses the period options; a string is the problem. */
export function periodOf(args: string[]): Period | string {
  const month = optionOf(args, 'period');
  const from = optionOf(args, 'from'), to = optionOf(args, 'to');
  if (month !== undefined) {
    if (from !== undefined || to !== undefined) return 'give either --period or --from/--to';
    return monthPeriod(month) ?? `--period ${month}: expected a month like 2026-10`;
  }
  if (from === undefined || to === undefined) return 'give --period YYYY-MM, or both --from and --to';
  const f = parseInstant(from), t = parseInstant(to);
  if (!f) return `--from ${from}: expected a date (YYYY-MM-DD) or an ISO date-time`;
  if (!t) return `--to ${to}: expected a date (YYYY-MM-DD) or an ISO date-time`;
  if (f >= t) return '--from must be before --to (--to is exclusive)';
  return { from: f, to: t };
}

const NLU_USAGE = 'usage: errand report nlu (--period YYYY-MM | --from <date> --to <date>) [--by day|week] [--format md|json]\n';

/** `errand report nlu`: classifier quality over time (src/nlu/quality-report.ts). */
async function nluReport(args: string[], io: ReportIo): Promise<number> {
  const period = periodOf(args);
  const format = optionOf(args, 'format') ?? 'md';
  const by = optionOf(args, 'by') ?? 'week';
  const problem = typeof period === 'string' ? period : !['md', 'json'].includes(format) ? `--format ${format}: expected md or json` : !['day', 'week'].includes(by) ? `--by ${by}: expected day or week` : undefined;
  if (problem || typeof period === 'string') { io.stderr.write(`report nlu: ${problem}\n${NLU_USAGE}`); return 2; }
  const { nluQualityReport, qualityReportMarkdown } = await import('../nlu/quality-report.js');
  const run = async (db: Database) => {
    const r = await nluQualityReport(db, period.from, period.to, by as 'day' | 'week');
    io.stdout.write(format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : qualityReportMarkdown(r));
    return 0;
  };
  try {
    return io.db ? await run(io.db) : await withConfiguredDatabase(run);
  } catch (e) {
    io.stderr.write(`report nlu: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function runReportCommand(sub: string | undefined, args: string[], io: ReportIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (sub === 'nlu') return nluReport(args, io);
  if (sub !== 'service-review') { io.stderr.write(USAGE + NLU_USAGE); return 2; }
  const period = periodOf(args);
  const format = optionOf(args, 'format') ?? 'md';
  const item = optionOf(args, 'item');
  const problem = typeof period === 'string' ? period : !['md', 'csv', 'json'].includes(format) ? `--format ${format}: expected md, csv or json` : item !== undefined && !/^[a-z][a-z0-9-]+$/.test(item) ? `--item ${item}: expected a catalogue id` : undefined;
  if (problem || typeof period === 'string') { io.stderr.write(`report service-review: ${problem}\n${USAGE}`); return 2; }
  const run = async (db: Database) => {
    const review = await serviceReview(db, { ...period, ...(item ? { items: [item] } : {}) });
    io.stdout.write(format === 'json' ? `${JSON.stringify(review, null, 2)}\n` : format === 'csv' ? reviewToCsv(review) : reviewToMarkdown(review));
    return 0;
  };
  try {
    return io.db ? await run(io.db) : await withConfiguredDatabase(run);
  } catch (e) {
    io.stderr.write(`report service-review: ${(e as Error).message}\n`);
    return 1;
  }
}
