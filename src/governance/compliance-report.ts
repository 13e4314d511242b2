/**
 * The evidence an internal audit asks for: every request in a period (optionally one item) with
 * its approvals (who, when, which rule/step, how long it waited), the provisioning actions done,
 * grants and revocations, and the lifecycle. Sensitive answers are masked. JSON or CSV.
 */
import { maskedSummary } from '../requests/request.service.js';
import type { Queryable } from '../db/database.js';
import type { CatalogueItem } from '../catalogue/schema.js';
import { csvCell } from '../reporting/csv.js';

export interface ComplianceRow {
  ref: string; item: string; title: string; risk: string; regulatory: string[]; requester: string; status: string;
  createdAt: string; completedAt: string | null; answers: Record<string, string>;
  approvals: { step: string; rule: string; status: string; decidedBy: string | null; decidedAt: string | null; waitedMinutes: number | null; reason: string | null }[];
  actions: { step: string; action: string; status: string; attempts: number; finishedAt: string | null; undone: boolean }[];
  grants: { entitlement: string; grantedAt: string; expiresAt: string | null; status: string; endedAt: string | null; endedBy: string | null }[];
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export async function complianceReport(q: Queryable, o: { from: Date; to: Date; item?: string }): Promise<ComplianceRow[]> {
  const reqs = (await q.query(
    `SELECT * FROM requests WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR item_id = $3) ORDER BY created_at`, [o.from, o.to, o.item ?? null])).rows;
  const out: ComplianceRow[] = [];
  for (const r of reqs) {
    const item = r.item_snapshot as CatalogueItem;
    const approvals = (await q.query('SELECT * FROM approvals WHERE request_id = $1 ORDER BY step_index', [r.id])).rows;
    const steps = (await q.query('SELECT * FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [r.id])).rows;
    const grants = (await q.query('SELECT * FROM grants WHERE request_id = $1 ORDER BY granted_at', [r.id])).rows;
    out.push({
      ref: r.ref, item: r.item_id, title: item.title, risk: item.risk, regulatory: item.regulatory ?? [], requester: r.requester_email, status: r.status,
      createdAt: iso(r.created_at)!, completedAt: iso(r.completed_at),
      answers: Object.fromEntries(maskedSummary({ item, fields: r.fields }).map((l) => [l.label, l.value])),
      approvals: approvals.map((a) => {
        const def = item.approvals.find((s) => s.id === a.step_id);
        const rule = def ? `${def.approver.kind}${'role' in def.approver ? `:${def.approver.role}` : ''}${def.when ? ` when ${def.when}` : ''}` : a.step_id;
        return { step: a.label, rule, status: a.status, decidedBy: a.decided_by, decidedAt: iso(a.decided_at), waitedMinutes: a.decided_at ? Math.round((a.decided_at.getTime() - a.created_at.getTime()) / 60_000) : null, reason: a.reason };
      }),
      actions: steps.map((s) => ({ step: s.step_id, action: s.action, status: s.status, attempts: s.attempts, finishedAt: iso(s.finished_at), undone: s.undo_status === 'done' })),
      grants: grants.map((g) => ({ entitlement: g.entitlement, grantedAt: iso(g.granted_at)!, expiresAt: iso(g.expires_at), status: g.status, endedAt: iso(g.ended_at), endedBy: g.ended_by })),
    });
  }
  return out;
}

const cell = csvCell;

/** One CSV line per request; lists joined with "; ". */
export function toCsv(rows: ComplianceRow[]): string {
  const head = ['ref', 'item', 'risk', 'regulatory', 'requester', 'status', 'created_at', 'completed_at', 'approvals', 'actions', 'grants'];
  const lines = rows.map((r) => [
    r.ref, r.item, r.risk, r.regulatory.join(' '), r.requester, r.status, r.createdAt, r.completedAt ?? '',
    r.approvals.map((a) => `${a.step} [${a.rule}]: ${a.status} by ${a.decidedBy ?? '-'} at ${a.decidedAt ?? '-'}${a.waitedMinutes !== null ? ` after ${a.waitedMinutes} min` : ''}`).join('; '),
    r.actions.map((a) => `${a.step} ${a.action}: ${a.status}${a.undone ? ' (undone)' : ''}`).join('; '),
    r.grants.map((g) => `${g.entitlement} ${g.grantedAt}..${g.expiresAt ?? '?'} ${g.status}${g.endedBy ? ` by ${g.endedBy}` : ''}`).join('; '),
  ].map(cell).join(','));
  return [head.join(','), ...lines].join('\n') + '\n';
}
