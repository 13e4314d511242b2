/**
 * Retention: requests of items carrying a regulatory tag with `retentionDays` (e.g. gdpr) are purged
 * of personal data once finished for longer than that: answers become "[purged]" (keys kept, so the
 * shape of the evidence remains), the original text and stored step inputs/outputs are cleared, and
 * the messages of that request are reduced to their reference. The purge is audited; the audit trail
 * itself (masked, hash-chained) is kept.
 */
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import type { GovernancePolicy } from './policy.js';

export async function purgeExpiredPersonalData(db: Database, policy: GovernancePolicy, now: Date): Promise<number> {
  let purged = 0;
  for (const [tag, rule] of Object.entries(policy.regulatory)) {
    if (!rule.retentionDays) continue;
    const cutoff = new Date(now.getTime() - rule.retentionDays * 86_400_000);
    const due = await db.query<{ id: string; ref: string; fields: Record<string, unknown> }>(
      `SELECT id, ref, fields FROM requests WHERE completed_at IS NOT NULL AND completed_at < $1 AND item_snapshot->'regulatory' ? $2
         AND fields <> '{}'::jsonb AND COALESCE(fields->>'__purged', '') <> 'true' LIMIT 500`, [cutoff, tag]);
    for (const r of due.rows) {
      await db.transaction(async (tx) => {
        const fields = Object.fromEntries([...Object.keys(r.fields).map((k) => [k, '[purged]']), ['__purged', 'true']]);
        await tx.query(`UPDATE requests SET fields = $2, original_text = NULL WHERE id = $1`, [r.id, JSON.stringify(fields)]);
        await tx.query(`UPDATE fulfilment_steps SET input = NULL, output = NULL WHERE request_id = $1`, [r.id]);
        await tx.query(`UPDATE messages SET body = jsonb_build_object('kind', body->>'kind', 'text', $2::text) WHERE idempotency_key LIKE $1 || ':%'`, [r.id, `${r.ref}: details removed after the retention period.`]);
        await audit(tx, { actor: 'system', action: 'retention.purged', subject: r.ref, detail: { tag, retentionDays: rule.retentionDays, fields: Object.keys(r.fields) } });
      });
      purged++;
    }
  }
  return purged;
}
