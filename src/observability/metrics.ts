/**
 * Prometheus metrics: one prom-client Registry per app instance (never the global default
 * registry, so several apps in one process, as in tests, do not collide). Services get the narrow
 * interfaces below through their deps; nothing imports a metrics global.
 *
 * Where the numbers come from:
 * - Events counted in this process where they happen: submissions, decisions, classifications,
 *   failed step attempts, breaker transitions, job pick-ups, chat sends and 429s.
 * - Durations are computed from the database's own timestamps (requests.created_at/completed_at,
 *   request_events, approvals, fulfilment_steps, cases) when a request ends or an approval is
 *   decided, so they are exact whatever instance did each part of the work. Each is observed once,
 *   by the instance whose conditional update ended the request.
 * - Gauges read at scrape time (collect callbacks): job queue depth and oldest due job from the
 *   Agenda table, the chat inbox backlog, and firing alerts (cluster-wide: aggregate with max(), not sum()), breaker states
 *   of this instance.
 * Recording never throws into the caller: a failed lookup is logged at debug level and skipped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/database.js';
import { AGENDA_TABLE } from '../db/migrate.js';
import { classify } from '../fulfilment/engine/step-policy.js';
import type { Logger } from '../log.js';

/** Minutes to days: 1m 5m 15m 30m 1h 2h 4h 8h 1d 2d 5d 10d. */
export const LONG_BUCKETS = [60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800, 432_000, 864_000];
/** Sub-second to minutes, for backend calls, job pick-up and chat sends. */
export const SHORT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export type ClassificationRoute = 'routed' | 'triage' | 'out-of-scope';

/** What the request and approval services record. */
export interface RequestMetrics {
  requestSubmitted(r: { itemId: string; channel: string }): void;
  /** A request reached a final status (fulfilled, failed, denied, cancelled): counts it and records its durations. */
  requestEnded(requestId: string): Promise<void>;
  /** An approval step was approved or denied: how long it waited. */
  approvalDecided(approvalId: string): Promise<void>;
}

/** What the fulfilment runner records. */
export interface FulfilmentMetrics extends Pick<RequestMetrics, 'requestEnded'> {
  /** One failed attempt of a step against a backend (connector id or host). */
  stepFailed(backend: string, error: unknown): void;
}

export interface ClassifierMetrics {
  classified(confidence: number, route: ClassificationRoute): void;
}

/** What chat delivery loops record (Slack, Teams). */
export interface ChatMetrics {
  chatSent(channel: string, op: 'post' | 'update', seconds: number, ok: boolean): void;
  chatRateLimited(channel: string): void;
}

export interface MetricsOptions {
  db: Database;
  log?: Logger;
  /** Node.js process metrics (CPU, memory, event loop); default on. */
  processMetrics?: boolean;
}

const TERMINAL = new Set(['fulfilled', 'failed', 'denied', 'cancelled']);

/** Sorts a failed step attempt into a small fixed set of causes (a label must not carry messages). */
export function failureCause(e: unknown): string {
  const c = classify(e);
  if (c.circuitOpen) return 'circuit-open';
  const status = (e as { status?: number } | null)?.status ?? Number(/answered (\d{3})\b/.exec(c.message)?.[1] ?? NaN);
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server-error';
  if (status >= 400) return 'client-error';
  if (/timed out|timeout|aborted/i.test(c.message)) return 'timeout';
  if (c.retryable) return 'unavailable';
  return 'error';
}

const seconds = (from: Date | null | undefined, to: Date | null | undefined): number | undefined =>
  from && to ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : undefined;

export class Metrics implements RequestMetrics, FulfilmentMetrics, ClassifierMetrics, ChatMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'item' | 'channel' | 'outcome'>;
  private readonly cycleTime: Histogram<'item' | 'department' | 'channel'>;
  private readonly stageTime: Histogram<'item' | 'stage'>;
  private readonly stepTime: Histogram<'item' | 'step'>;
  private readonly approvalWait: Histogram<'item' | 'step' | 'decision'>;
  private readonly confidence: Histogram<'route'>;
  private readonly classifications: Counter<'route'>;
  private readonly stepFailures: Counter<'connector' | 'cause'>;
  private readonly breakerTransitions: Counter<'backend' | 'state'>;
  private readonly jobPickup: Histogram<'job'>;
  private readonly chatSend: Histogram<'channel' | 'op' | 'outcome'>;
  private readonly chat429: Counter<'channel'>;
  private breakerStates: () => Record<string, string> = () => ({});

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    const db = o.db;
    if (o.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'errand_requests_total', help: 'Requests by catalogue item, channel and outcome (submitted when created; fulfilled, failed, denied or cancelled when they end).', labelNames: ['item', 'channel', 'outcome'], registers });
    this.cycleTime = new Histogram({ name: 'errand_request_cycle_seconds', help: 'Submission to completion of fulfilled requests.', labelNames: ['item', 'department', 'channel'], buckets: LONG_BUCKETS, registers });
    this.stageTime = new Histogram({ name: 'errand_request_stage_seconds', help: 'Time a request spent in a stage: approval (submitted to approved), queued (approved to fulfilment start), fulfilment (start to end), manual-task (a manual task opened to done).', labelNames: ['item', 'stage'], buckets: LONG_BUCKETS, registers });
    this.stepTime = new Histogram({ name: 'errand_workflow_step_seconds', help: 'Duration of the successful run of each automated workflow step.', labelNames: ['item', 'step'], buckets: SHORT_BUCKETS, registers });
    this.approvalWait = new Histogram({ name: 'errand_approval_wait_seconds', help: 'How long an approval step waited for its decision.', labelNames: ['item', 'step', 'decision'], buckets: LONG_BUCKETS, registers });
    this.confidence = new Histogram({ name: 'errand_classifier_confidence', help: 'Confidence of the intent classifier for free-text messages, by where the message went.', labelNames: ['route'], buckets: CONFIDENCE_BUCKETS, registers });
    this.classifications = new Counter({ name: 'errand_classifications_total', help: 'Free-text messages classified: routed to a catalogue item, sent to triage, or answered as out of scope.', labelNames: ['route'], registers });
    this.stepFailures = new Counter({ name: 'errand_step_failures_total', help: 'Failed workflow step attempts by connector (backend) and cause.', labelNames: ['connector', 'cause'], registers });
    this.breakerTransitions = new Counter({ name: 'errand_breaker_transitions_total', help: 'Circuit breaker state changes in this instance.', labelNames: ['backend', 'state'], registers });
    const states = () => this.breakerStates();
    new Gauge({
      name: 'errand_breaker_state', help: 'Circuit breaker per backend in this instance: 1 for its current state (closed, open, half-open, isolated), else 0.', labelNames: ['backend', 'state'], registers,
      collect() {
        this.reset();
        for (const [backend, state] of Object.entries(states())) for (const s of ['closed', 'open', 'half-open', 'isolated']) this.set({ backend, state: s }, s === state ? 1 : 0);
      },
    });
    const log = o.log;
    new Gauge({
      name: 'errand_job_queue_depth', help: 'Jobs in the Agenda table by name and state (due = waiting to be picked up, running, scheduled = later); cluster-wide.', labelNames: ['job', 'state'], registers,
      async collect() {
        this.reset();
        try {
          const r = await db.query<{ name: string; due: number; running: number; scheduled: number }>(
            `SELECT name, count(*) FILTER (WHERE locked_at IS NULL AND next_run_at <= now() AND NOT disabled)::int AS due,
                    count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS running,
                    count(*) FILTER (WHERE locked_at IS NULL AND next_run_at > now() AND NOT disabled)::int AS scheduled
             FROM ${AGENDA_TABLE} GROUP BY name`);
          for (const x of r.rows) for (const state of ['due', 'running', 'scheduled'] as const) this.set({ job: x.name, state }, x[state]);
        } catch (e) { log?.debug({ err: (e as Error).message }, 'metrics: job queue depth unavailable'); }
      },
    });
    new Gauge({
      name: 'errand_job_queue_oldest_due_seconds', help: 'Age of the oldest job that is due and not picked up (0 when none); cluster-wide.', registers,
      async collect() {
        try {
          const r = await db.query<{ s: number | null }>(`SELECT extract(epoch FROM now() - min(next_run_at))::float8 AS s FROM ${AGENDA_TABLE} WHERE locked_at IS NULL AND next_run_at <= now() AND NOT disabled`);
          this.set(Math.max(0, r.rows[0]?.s ?? 0));
        } catch (e) { log?.debug({ err: (e as Error).message }, 'metrics: job queue age unavailable'); }
      },
    });
    new Gauge({
      name: 'errand_alerts_firing', help: 'Alerts currently firing, by rule (from the alerts table; cluster-wide).', labelNames: ['rule'], registers,
      async collect() {
        this.reset();
        try {
          const r = await db.query<{ rule: string; n: number }>(`SELECT rule, count(*)::int AS n FROM alerts WHERE status = 'firing' GROUP BY rule`);
          for (const x of r.rows) this.set({ rule: x.rule }, x.n);
        } catch (e) { log?.debug({ err: (e as Error).message }, 'metrics: alerts unavailable'); }
      },
    });
    new Gauge({
      name: 'errand_chat_inbox', help: 'Stored chat events (src/channels/chat-inbox.ts) waiting (received), being processed, or given up (failed), by channel; cluster-wide.', labelNames: ['channel', 'status'], registers,
      async collect() {
        this.reset();
        try {
          const r = await db.query<{ channel: string; status: string; n: number }>(`SELECT channel, status, count(*)::int AS n FROM chat_inbound WHERE status <> 'done' GROUP BY channel, status`);
          for (const x of r.rows) this.set({ channel: x.channel, status: x.status }, x.n);
        } catch (e) { log?.debug({ err: (e as Error).message }, 'metrics: chat inbox unavailable'); }
      },
    });
    new Gauge({
      name: 'errand_chat_inbox_oldest_seconds', help: 'Age of the oldest chat event waiting to be processed (0 when none); cluster-wide.', registers,
      async collect() {
        try {
          const r = await db.query<{ s: number | null }>(`SELECT extract(epoch FROM now() - min(received_at))::float8 AS s FROM chat_inbound WHERE status IN ('received', 'processing')`);
          this.set(Math.max(0, r.rows[0]?.s ?? 0));
        } catch (e) { log?.debug({ err: (e as Error).message }, 'metrics: chat inbox age unavailable'); }
      },
    });
    this.jobPickup = new Histogram({ name: 'errand_job_pickup_seconds', help: 'From when a job was due to when this instance started it (one-off jobs; first run).', labelNames: ['job'], buckets: SHORT_BUCKETS, registers });
    this.chatSend = new Histogram({ name: 'errand_chat_send_seconds', help: 'Sending (post) or updating a message on Slack or Teams, including the client\'s retries.', labelNames: ['channel', 'op', 'outcome'], buckets: SHORT_BUCKETS, registers });
    this.chat429 = new Counter({ name: 'errand_chat_rate_limited_total', help: 'HTTP 429 answers from Slack or Teams.', labelNames: ['channel'], registers });
  }

  get contentType(): string { return this.registry.contentType; }

  /** The text exposition of every metric. */
  render(): Promise<string> { return this.registry.metrics(); }

  private async safely(what: string, fn: () => Promise<void>): Promise<void> {
    try { await fn(); } catch (e) { this.o.log?.debug({ err: (e as Error).message, what }, 'metrics: not recorded'); }
  }

  requestSubmitted(r: { itemId: string; channel: string }): void {
    this.requests.inc({ item: r.itemId, channel: r.channel, outcome: 'submitted' });
  }

  requestEnded(requestId: string): Promise<void> {
    return this.safely('request ended', async () => {
      const r = (await this.o.db.query<{ item_id: string; channel: string; status: string; created_at: Date; completed_at: Date | null; department: string | null; approved_at: Date | null; started_at: Date | null; had_approvals: boolean }>(
        `SELECT r.item_id, r.channel, r.status, r.created_at, r.completed_at, p.department,
           (SELECT min(e.at) FROM request_events e WHERE e.request_id = r.id AND e.to_status = 'approved') AS approved_at,
           (SELECT min(e.at) FROM request_events e WHERE e.request_id = r.id AND e.to_status = 'in-fulfilment') AS started_at,
           EXISTS (SELECT 1 FROM approvals a WHERE a.request_id = r.id) AS had_approvals
         FROM requests r LEFT JOIN people p ON p.email = r.requester_email WHERE r.id = $1`, [requestId])).rows[0];
      if (!r || !TERMINAL.has(r.status)) return;
      const item = r.item_id;
      this.requests.inc({ item, channel: r.channel, outcome: r.status });
      const cycle = seconds(r.created_at, r.completed_at);
      if (r.status === 'fulfilled' && cycle !== undefined) this.cycleTime.observe({ item, department: r.department ?? 'unknown', channel: r.channel }, cycle);
      const stage = (name: string, s: number | undefined) => { if (s !== undefined) this.stageTime.observe({ item, stage: name }, s); };
      if (r.had_approvals) stage('approval', seconds(r.created_at, r.approved_at));
      stage('queued', seconds(r.approved_at, r.started_at));
      stage('fulfilment', seconds(r.started_at, r.completed_at));
      const steps = await this.o.db.query<{ step_id: string; status: string; started_at: Date | null; finished_at: Date | null; manual_case: string | null; opened: Date | null }>(
        `SELECT s.step_id, s.status, s.started_at, s.finished_at, s.manual_case, c.created_at AS opened
         FROM fulfilment_steps s LEFT JOIN cases c ON c.ref = s.manual_case WHERE s.request_id = $1`, [requestId]);
      for (const s of steps.rows) {
        if (s.manual_case) { if (s.status === 'done' || s.status === 'failed') stage('manual-task', seconds(s.opened, s.finished_at)); continue; }
        const d = s.status === 'done' ? seconds(s.started_at, s.finished_at) : undefined;
        if (d !== undefined) this.stepTime.observe({ item, step: s.step_id }, d);
      }
    });
  }

  approvalDecided(approvalId: string): Promise<void> {
    return this.safely('approval decided', async () => {
      const a = (await this.o.db.query<{ step_id: string; status: string; created_at: Date; decided_at: Date | null; item_id: string }>(
        'SELECT a.step_id, a.status, a.created_at, a.decided_at, r.item_id FROM approvals a JOIN requests r ON r.id = a.request_id WHERE a.id = $1', [approvalId])).rows[0];
      const waited = seconds(a?.created_at, a?.decided_at);
      if (!a || (a.status !== 'approved' && a.status !== 'denied') || waited === undefined) return;
      this.approvalWait.observe({ item: a.item_id, step: a.step_id, decision: a.status }, waited);
    });
  }

  stepFailed(backend: string, error: unknown): void {
    this.stepFailures.inc({ connector: backend, cause: failureCause(error) });
  }

  classified(confidence: number, route: ClassificationRoute): void {
    this.classifications.inc({ route });
    if (Number.isFinite(confidence)) this.confidence.observe({ route }, Math.min(1, Math.max(0, confidence)));
  }

  /** Where the breaker gauge reads this instance's breaker states at scrape time. */
  watchBreakers(states: () => Record<string, string>): void { this.breakerStates = states; }

  breakerChanged(backend: string, state: string): void {
    this.breakerTransitions.inc({ backend, state });
  }

  jobPickedUp(job: string, seconds: number): void {
    this.jobPickup.observe({ job }, Math.max(0, seconds));
  }

  chatSent(channel: string, op: 'post' | 'update', s: number, ok: boolean): void {
    this.chatSend.observe({ channel, op, outcome: ok ? 'ok' : 'error' }, s);
  }

  chatRateLimited(channel: string): void {
    this.chat429.inc({ channel });
  }
}
