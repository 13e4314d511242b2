/**
 * Synthetic transactions: each connector with a `check()` (a read, a dry run) is exercised on its
 * interval; the result is kept in backend_health (shown by /healthz), and a change between healthy
 * and failing is audited and told to the configured on-call people.
 */
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { postMessage } from '../conversation/outbox.repository.js';
import type { Logger } from '../log.js';
import type { Connector } from './connectors/connector.port.js';

export interface BackendHealth { ok: boolean; checkedAt: Date; since: Date; latencyMs: number | null; error: string | null }

export class SyntheticChecks {
  constructor(
    private readonly db: Database,
    private readonly connectors: Connector[],
    private readonly everyMs: (id: string) => number,
    private readonly alertTo: string[],
    private readonly log: Logger,
  ) {}

  /** Runs every check that is due (or all with `force`); returns the ids checked. */
  async runDue(force = false): Promise<string[]> {
    const last = await this.health();
    const checked: string[] = [];
    for (const c of this.connectors) {
      if (!c.check) continue;
      const prev = last[c.id];
      if (!force && prev && Date.now() - prev.checkedAt.getTime() < this.everyMs(c.id)) continue;
      const t0 = Date.now();
      let error: string | null = null;
      try { await c.check(AbortSignal.timeout(10_000)); } catch (e) { error = (e as Error).message.slice(0, 500); }
      const ok = error === null;
      await this.db.query(
        `INSERT INTO backend_health (backend, ok, checked_at, since, latency_ms, error) VALUES ($1, $2, now(), now(), $3, $4)
         ON CONFLICT (backend) DO UPDATE SET ok = EXCLUDED.ok, checked_at = now(), latency_ms = EXCLUDED.latency_ms, error = EXCLUDED.error,
           since = CASE WHEN backend_health.ok = EXCLUDED.ok THEN backend_health.since ELSE now() END`,
        [c.id, ok, Date.now() - t0, error]);
      checked.push(c.id);
      if (!prev || prev.ok !== ok) await this.changed(c.id, ok, error, Boolean(prev));
    }
    return checked;
  }

  private async changed(id: string, ok: boolean, error: string | null, hadPrevious: boolean): Promise<void> {
    await audit(this.db, { actor: 'system', action: ok ? 'backend.healthy' : 'backend.failing', subject: id, detail: { error } });
    if (ok && !hadPrevious) return; // first check and healthy: nothing to tell
    this.log[ok ? 'info' : 'warn']({ backend: id, error }, ok ? 'backend recovered' : 'backend synthetic check failing');
    const text = ok ? `Resolved: backend "${id}" passes its synthetic check again.` : `Alert: backend "${id}" fails its synthetic check: ${error}`;
    for (const to of this.alertTo) {
      await postMessage(this.db, to, { kind: ok ? 'info' : 'error', text }, { key: `synthetic:${id}:${ok ? 'ok' : 'fail'}:${Date.now()}:${to}` });
    }
  }

  async health(): Promise<Record<string, BackendHealth>> {
    const r = await this.db.query('SELECT * FROM backend_health');
    return Object.fromEntries(r.rows.map((x) => [x.backend, { ok: x.ok, checkedAt: x.checked_at, since: x.since, latencyMs: x.latency_ms, error: x.error }]));
  }
}
