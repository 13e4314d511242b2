/**
 * Alerting: rules (alert-rules.ts) evaluated periodically against the database (alert-conditions.ts);
 * each (rule, subject) has one row in `alerts` (migration 016) that moves firing ⇄ resolved only by
 * conditional statements, so with several instances exactly one sends each notification:
 *
 * - condition holds, no row or row resolved → row firing, notified now: "Alert" is sent (and audited
 *   as alert.raised);
 * - condition holds, row firing, last notification older than the cool-down → notified again
 *   ("still firing"); younger → nothing is sent (only last_seen_at moves);
 * - condition gone, row firing → row resolved: "Resolved" is sent (audited as alert.resolved).
 *
 * Notifications go through the outbox (messages table), in the same transaction as the state change:
 * to the on-call people (their Slack DM / Teams chat / web chat), and to an on-call Slack channel
 * (`slack:<channel>`) and/or Teams channel (`teams:<conversation id>`), which the channel dispatchers
 * deliver like any other message. The optional webhook gets a JSON POST after commit (with a timeout;
 * a failure is logged and kept in the row's last_error, not retried: chat has the alert anyway).
 * A rule whose query fails is skipped in that pass (its alerts neither fire nor resolve).
 */
import { audit } from '../audit/audit.repository.js';
import type { Database, Queryable } from '../db/database.js';
import { postMessage } from '../conversation/outbox.repository.js';
import type { OutMessage } from '../conversation/messages.js';
import type { Logger } from '../log.js';
import { conditionsOf, duration, resolvedText, type Condition } from './alert-conditions.js';
import type { AlertConfig, AlertKind, AlertRule } from './alert-rules.js';

/** The outbox recipient of on-call channel messages (a channel, not a person). */
export const ON_CALL = 'on-call';
/** The pseudo-rule that reports an invalid alerts file. */
export const CONFIG_RULE = 'alerts-config';

export interface AlertServiceDeps {
  db: Database;
  log: Logger;
  now: () => Date;
  config: AlertConfig;
  /** Set when the alerts file was invalid (the defaults are in force): raised as the `alerts-config` alert. */
  configError?: string;
  configFile: string;
}

export interface AlertEvent { status: 'firing' | 'resolved'; rule: string; kind: AlertKind | 'config'; subject: string; summary: string; detail: Record<string, unknown>; since: Date; at: Date; notification: number }

export interface EvaluationResult { raised: string[]; renotified: string[]; resolved: string[]; failedRules: string[] }

interface RuleLike { id: string; kind: AlertKind | 'config'; cooldownMinutes?: number }

export class AlertService {
  constructor(private readonly d: AlertServiceDeps) {}

  get config(): AlertConfig { return this.d.config; }

  /** One evaluation pass over every enabled rule; returns what changed (as `rule:subject`). */
  async evaluate(): Promise<EvaluationResult> {
    const now = this.d.now();
    const out: EvaluationResult = { raised: [], renotified: [], resolved: [], failedRules: [] };
    const passes: { rule: RuleLike; conditions: Condition[] | undefined; resolve?: (subject: string) => string }[] = [];
    for (const rule of this.d.config.rules) {
      let conditions: Condition[] | undefined;
      try {
        conditions = await conditionsOf(this.d.db, rule, now);
      } catch (e) {
        this.d.log.error({ rule: rule.id, err: (e as Error).message }, 'alert rule could not be evaluated');
        out.failedRules.push(rule.id);
      }
      passes.push({ rule, conditions, resolve: (s) => resolvedText(rule as AlertRule, s) });
    }
    passes.push({
      rule: { id: CONFIG_RULE, kind: 'config' },
      conditions: this.d.configError ? [{ subject: this.d.configFile, summary: this.d.configError, detail: {} }] : [],
      resolve: () => `The alert configuration ${this.d.configFile} is valid again.`,
    });

    for (const p of passes) {
      if (!p.conditions) continue;
      const cooldownMs = (p.rule.cooldownMinutes ?? this.d.config.cooldownMinutes) * 60_000;
      for (const c of p.conditions) {
        const sent = await this.fire(p.rule, c, now, cooldownMs);
        if (sent === 'raised') out.raised.push(`${p.rule.id}:${c.subject}`);
        if (sent === 'renotified') out.renotified.push(`${p.rule.id}:${c.subject}`);
      }
      const holding = new Set(p.conditions.map((c) => c.subject));
      const firing = await this.d.db.query<{ subject: string }>(`SELECT subject FROM alerts WHERE rule = $1 AND status = 'firing'`, [p.rule.id]);
      for (const { subject } of firing.rows) {
        if (holding.has(subject)) continue;
        if (await this.resolve(p.rule, subject, now, p.resolve!(subject))) out.resolved.push(`${p.rule.id}:${subject}`);
      }
    }
    // alerts of rules that were removed or disabled: closed without a message
    const known = passes.map((p) => p.rule.id);
    await this.d.db.query(`UPDATE alerts SET status = 'resolved', resolved_at = $2, updated_at = now() WHERE status = 'firing' AND NOT (rule = ANY($1))`, [known, now]);
    return out;
  }

  /** Firing: sends when new, re-fired, or past the cool-down; else only notes that it is still seen. */
  private async fire(rule: RuleLike, c: Condition, now: Date, cooldownMs: number): Promise<'raised' | 'renotified' | undefined> {
    const ev = await this.d.db.transaction(async (tx) => {
      const r = await tx.query<{ notify_count: number; first_fired_at: Date }>(
        `INSERT INTO alerts (rule, subject, kind, status, summary, detail, first_fired_at, last_seen_at, notified_at, notify_count)
         VALUES ($1, $2, $3, 'firing', $4, $5, $6, $6, $6, 1)
         ON CONFLICT (rule, subject) DO UPDATE SET
           status = 'firing', summary = EXCLUDED.summary, detail = EXCLUDED.detail, last_seen_at = EXCLUDED.last_seen_at,
           notified_at = EXCLUDED.notified_at, resolved_at = NULL, last_error = NULL, updated_at = now(),
           first_fired_at = CASE WHEN alerts.status = 'resolved' THEN EXCLUDED.first_fired_at ELSE alerts.first_fired_at END,
           notify_count = CASE WHEN alerts.status = 'resolved' THEN 1 ELSE alerts.notify_count + 1 END
         WHERE alerts.status = 'resolved' OR alerts.notified_at <= $7
         RETURNING notify_count, first_fired_at`,
        [rule.id, c.subject, rule.kind, c.summary, JSON.stringify(c.detail), now, new Date(now.getTime() - cooldownMs)]);
      const row = r.rows[0];
      if (!row) {
        await tx.query(`UPDATE alerts SET last_seen_at = $3, summary = $4, detail = $5 WHERE rule = $1 AND subject = $2 AND status = 'firing'`, [rule.id, c.subject, now, c.summary, JSON.stringify(c.detail)]);
        return undefined;
      }
      const e: AlertEvent = { status: 'firing', rule: rule.id, kind: rule.kind, subject: c.subject, summary: c.summary, detail: c.detail, since: row.first_fired_at, at: now, notification: row.notify_count };
      if (e.notification === 1) await audit(tx, { actor: 'system', action: 'alert.raised', subject: `${rule.id}:${c.subject}`, detail: { rule: rule.id, kind: rule.kind, summary: c.summary, ...c.detail } });
      const again = e.notification > 1 ? ` Still firing after ${duration(now.getTime() - e.since.getTime())} (reminder ${e.notification - 1}).` : '';
      await this.tell(tx, e, { kind: 'error', text: `Alert [${rule.id}]: ${c.summary}${again}` });
      return e;
    });
    if (!ev) return undefined;
    this.d.log.warn({ rule: rule.id, subject: c.subject, notification: ev.notification }, `alert: ${c.summary}`);
    await this.webhook(ev);
    return ev.notification === 1 ? 'raised' : 'renotified';
  }

  private async resolve(rule: RuleLike, subject: string, now: Date, text: string): Promise<boolean> {
    const ev = await this.d.db.transaction(async (tx) => {
      const r = await tx.query<{ first_fired_at: Date; notify_count: number; detail: Record<string, unknown> }>(
        `UPDATE alerts SET status = 'resolved', resolved_at = $3, updated_at = now() WHERE rule = $1 AND subject = $2 AND status = 'firing'
         RETURNING first_fired_at, notify_count, detail`, [rule.id, subject, now]);
      const row = r.rows[0];
      if (!row) return undefined;
      const e: AlertEvent = { status: 'resolved', rule: rule.id, kind: rule.kind, subject, summary: text, detail: row.detail, since: row.first_fired_at, at: now, notification: row.notify_count };
      const lasted = duration(now.getTime() - row.first_fired_at.getTime());
      await audit(tx, { actor: 'system', action: 'alert.resolved', subject: `${rule.id}:${subject}`, detail: { rule: rule.id, kind: rule.kind, firedFor: lasted } });
      await this.tell(tx, e, { kind: 'info', text: `Resolved [${rule.id}]: ${text} It fired for ${lasted}.` });
      return e;
    });
    if (!ev) return false;
    this.d.log.info({ rule: rule.id, subject }, `alert resolved: ${text}`);
    await this.webhook(ev);
    return true;
  }

  /** Writes the on-call messages to the outbox (idempotent per notification). */
  private async tell(tx: Queryable, e: AlertEvent, m: OutMessage): Promise<void> {
    const n = this.d.config.notify;
    const key = `alert:${e.rule}:${e.subject}:${e.status}:${e.since.toISOString()}:${e.notification}`;
    for (const p of n.people) await postMessage(tx, p, m, { key: `${key}:${p}` });
    if (n.slackChannel) await postMessage(tx, ON_CALL, m, { conversationId: `slack:${n.slackChannel}`, key: `${key}:slack` });
    if (n.teamsChannel) await postMessage(tx, ON_CALL, m, { conversationId: `teams:${n.teamsChannel}`, key: `${key}:teams` });
    if (!n.people.length && !n.slackChannel && !n.teamsChannel && !n.webhook) this.d.log.warn({ rule: e.rule }, 'alert has nowhere to go: set ALERT_RECIPIENTS or notify: in the alerts file');
  }

  private async webhook(e: AlertEvent): Promise<void> {
    const { webhook, webhookTimeoutMs } = this.d.config.notify;
    if (!webhook) return;
    const body = { source: 'errand', status: e.status, rule: e.rule, kind: e.kind, subject: e.subject, summary: e.summary, detail: e.detail, since: e.since.toISOString(), at: e.at.toISOString(), notification: e.notification };
    let error: string | undefined;
    try {
      const res = await fetch(webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(webhookTimeoutMs) });
      if (!res.ok) error = `webhook answered ${res.status}`;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      error = `webhook failed: ${(err as Error).name === 'TimeoutError' ? `no answer within ${webhookTimeoutMs} ms` : (err as Error).message}`;
    }
    if (error) {
      this.d.log.warn({ rule: e.rule, subject: e.subject, err: error }, 'alert webhook failed');
      await this.d.db.query('UPDATE alerts SET last_error = $3 WHERE rule = $1 AND subject = $2', [e.rule, e.subject, error]).catch(() => undefined);
    }
  }

  /** Current alerts (firing first), for tools and tests. */
  async list(): Promise<{ rule: string; subject: string; status: string; summary: string; firstFiredAt: Date; notifiedAt: Date | null; notifyCount: number; resolvedAt: Date | null }[]> {
    const r = await this.d.db.query(`SELECT * FROM alerts ORDER BY status = 'firing' DESC, first_fired_at DESC`);
    return r.rows.map((x) => ({ rule: x.rule, subject: x.subject, status: x.status, summary: x.summary, firstFiredAt: x.first_fired_at, notifiedAt: x.notified_at, notifyCount: x.notify_count, resolvedAt: x.resolved_at }));
  }
}
