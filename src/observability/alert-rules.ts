/**
 * Alert rules and where alerts go: built-in defaults, adjusted by the optional YAML file
 * `dialogs/_alerts.yaml` (ALERTS_FILE). A rule in the file with the id of a default changes only
 * the keys it gives (`enabled: false` turns it off); a rule with a new id adds one (it needs
 * `kind`). Validated with zod: an invalid file does NOT stop the service; the defaults stay in force,
 * the problems are logged, and the `alerts-config` alert tells on-call (see alerts.ts).
 *
 *   everyMinutes: 1                 # how often rules are evaluated
 *   cooldownMinutes: 60             # a firing alert is repeated at most this often
 *   notify:
 *     people: [oncall@example.com]  # default: ALERT_RECIPIENTS (Slack DM / Teams chat / web chat)
 *     slackChannel: C0123ONCALL
 *     teamsChannel: "19:abc@thread.tacv2"
 *     webhook: https://hooks.example.com/errand   # ALERT_WEBHOOK_URL overrides
 *   rules:
 *     - { id: item-failure-rate, thresholdPercent: 10 }
 *     - { id: job-backlog, enabled: false }
 *     - { id: payroll-failures, kind: failure-rate, scope: item, subjects: [payroll-change], thresholdPercent: 0, windowMinutes: 1440, minCount: 1 }
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';

const common = {
  id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'an id of lower-case letters, digits and -'),
  enabled: z.boolean().default(true),
  /** Overrides the file's cooldownMinutes for this rule. */
  cooldownMinutes: z.number().positive().optional(),
};

const failureRate = z.object({
  ...common,
  kind: z.literal('failure-rate'),
  /** item: finished requests of a catalogue item (failed / (fulfilled + failed)); connector: step attempts against a backend. */
  scope: z.enum(['item', 'connector']),
  /** Only these items / connectors (default: each one separately). */
  subjects: z.array(z.string().min(1)).min(1).optional(),
  thresholdPercent: z.number().min(0).max(100),
  windowMinutes: z.number().int().min(1),
  /** Fewer finished requests / attempts than this in the window never alert. */
  minCount: z.number().int().min(1).default(5),
}).strict();

const sla = z.object({
  ...common,
  kind: z.literal('sla'),
  /** An open request alerts once this share of its item's responseTime has elapsed since submission. */
  atPercent: z.number().gt(0).max(1000).default(80),
  items: z.array(z.string().min(1)).min(1).optional(),
}).strict();

const triageAge = z.object({ ...common, kind: z.literal('triage-age'), olderThanMinutes: z.number().positive() }).strict();

const breakerOpen = z.object({
  ...common,
  kind: z.literal('breaker-open'),
  /** Alert only once the breaker has been open (or half-open) this long. */
  forMinutes: z.number().min(0).default(0),
}).strict();

const jobBacklog = z.object({
  ...common,
  kind: z.literal('job-backlog'),
  /** Alert when more than this many jobs are due and not picked up... */
  max: z.number().int().min(0),
  /** ...counting only jobs due for at least this long. */
  olderThanSeconds: z.number().min(0).default(60),
}).strict();

export const ruleSchema = z.discriminatedUnion('kind', [failureRate, sla, triageAge, breakerOpen, jobBacklog]);
export type AlertRule = z.infer<typeof ruleSchema>;
export type AlertKind = AlertRule['kind'];

export const DEFAULT_RULES: AlertRule[] = [
  { id: 'item-failure-rate', enabled: true, kind: 'failure-rate', scope: 'item', thresholdPercent: 20, windowMinutes: 60, minCount: 5 },
  { id: 'connector-failure-rate', enabled: true, kind: 'failure-rate', scope: 'connector', thresholdPercent: 25, windowMinutes: 15, minCount: 10 },
  { id: 'sla-at-risk', enabled: true, kind: 'sla', atPercent: 80 },
  { id: 'triage-waiting', enabled: true, kind: 'triage-age', olderThanMinutes: 30 },
  { id: 'breaker-open', enabled: true, kind: 'breaker-open', forMinutes: 0 },
  { id: 'job-backlog', enabled: true, kind: 'job-backlog', max: 100, olderThanSeconds: 60 },
];

const fileSchema = z.object({
  everyMinutes: z.number().int().min(1).max(60).default(1),
  cooldownMinutes: z.number().positive().default(60),
  notify: z.object({
    people: z.array(z.string().email()).optional(),
    slackChannel: z.string().regex(/^[CG][A-Z0-9]+$/, 'a Slack channel id like C0123ABCD').optional(),
    teamsChannel: z.string().min(3, 'a Teams conversation id like 19:…@thread.tacv2').optional(),
    webhook: z.string().url('an http(s) URL').optional(),
    webhookTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
  }).strict().default({ webhookTimeoutMs: 5000 }),
  rules: z.array(z.looseObject({ id: common.id })).default([]),
}).strict();

export interface AlertNotify {
  people: string[];
  slackChannel: string | undefined;
  teamsChannel: string | undefined;
  webhook: string | undefined;
  webhookTimeoutMs: number;
}

export interface AlertConfig {
  everyMinutes: number;
  cooldownMinutes: number;
  notify: AlertNotify;
  /** Enabled rules only. */
  rules: AlertRule[];
}

export interface AlertDefaults {
  /** ALERT_RECIPIENTS: on-call people when the file names none. */
  people: string[];
  /** ALERT_WEBHOOK_URL: wins over notify.webhook. */
  webhook?: string;
}

export function defaultAlertConfig(d: AlertDefaults): AlertConfig {
  return {
    everyMinutes: 1, cooldownMinutes: 60, rules: DEFAULT_RULES.filter((r) => r.enabled),
    notify: { people: d.people, slackChannel: undefined, teamsChannel: undefined, webhook: d.webhook, webhookTimeoutMs: 5000 },
  };
}

const issueLines = (issues: z.core.$ZodIssue[], prefix: (string | number)[] = []) =>
  issues.map((i) => `  ${[...prefix, ...i.path].map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k ? '.' : ''}${String(p)}`)).join('') || '(root)'}: ${i.message}`);

/** Validates the text of an alerts file; returns the config, or every problem as `path: message` lines. */
export function parseAlertConfig(text: string, d: AlertDefaults): { config: AlertConfig } | { problems: string[] } {
  let raw: unknown;
  try { raw = parse(text) ?? {}; } catch (e) { return { problems: [`  (yaml): ${(e as Error).message.split('\n')[0]}`] }; }
  const file = fileSchema.safeParse(raw);
  if (!file.success) return { problems: issueLines(file.error.issues) };
  const problems: string[] = [];
  const rules = new Map(DEFAULT_RULES.map((r) => [r.id, r as Record<string, unknown>]));
  const seen = new Set<string>();
  file.data.rules.forEach((given, i) => {
    if (seen.has(given.id)) { problems.push(`  rules[${i}].id: "${given.id}" appears twice`); return; }
    seen.add(given.id);
    const base = rules.get(given.id);
    const merged = base && (given.kind === undefined || given.kind === base.kind) ? { ...base, ...given } : given;
    if (merged.kind === undefined) { problems.push(`  rules[${i}].kind: required for a new rule "${given.id}" (one of ${ruleSchema.options.map((o) => o.shape.kind.value).join(', ')})`); return; }
    const r = ruleSchema.safeParse(merged);
    if (!r.success) problems.push(...issueLines(r.error.issues, ['rules', i]));
    else rules.set(r.data.id, r.data);
  });
  if (problems.length) return { problems };
  const n = file.data.notify;
  return {
    config: {
      everyMinutes: file.data.everyMinutes,
      cooldownMinutes: file.data.cooldownMinutes,
      notify: { people: (n.people ?? d.people).map((p) => p.toLowerCase()), slackChannel: n.slackChannel, teamsChannel: n.teamsChannel, webhook: d.webhook ?? n.webhook, webhookTimeoutMs: n.webhookTimeoutMs },
      rules: [...rules.values()].map((r) => r as AlertRule).filter((r) => r.enabled),
    },
  };
}

/**
 * Reads the alerts file. Missing = defaults. Invalid = defaults plus `error` (the file name and each
 * problem on its own line); never throws for the file's content.
 */
export async function loadAlertConfig(file: string, d: AlertDefaults): Promise<{ config: AlertConfig; error?: string }> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { config: defaultAlertConfig(d) };
    return { config: defaultAlertConfig(d), error: `${file} could not be read: ${(e as Error).message}` };
  }
  const r = parseAlertConfig(text, d);
  if ('problems' in r) return { config: defaultAlertConfig(d), error: `${file} is invalid (the default alert rules are used until it is fixed):\n${r.problems.join('\n')}` };
  return r;
}
