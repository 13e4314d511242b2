/**
 * Alerting against crafted database rows, with an injected clock: raised once (on-call chat message
 * once, webhook once), deduplicated on re-evaluation and across two evaluators, repeated only after
 * the cool-down, "Resolved" when the condition clears; failure-rate, SLA, triage, breaker and
 * backlog rules; an invalid _alerts.yaml keeps the defaults, does not stop the app, and is itself alerted.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { pino } from 'pino';
import { AlertService, ON_CALL } from '../../src/observability/alerts.js';
import { DEFAULT_RULES, loadAlertConfig } from '../../src/observability/alert-rules.js';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { parseSamples, valueOf } from './prom-text.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const HOOK = 'https://hooks.oncall.test';
let dir: string;
let t: TestApp;
let clock = Date.now();
const hooks: { status: string; rule: string; subject: string; summary: string; notification: number }[] = [];

const ALERTS_YAML = `
everyMinutes: 60             # the tests evaluate by hand
cooldownMinutes: 30
notify:
  people: [sam.security@example.com]
  slackChannel: CONCALL01
  webhook: ${HOOK}/errand
rules:
  - { id: item-failure-rate, thresholdPercent: 50, windowMinutes: 600, minCount: 4 }
  - { id: connector-failure-rate, enabled: false }
  - { id: triage-waiting, olderThanMinutes: 30 }
  - { id: job-backlog, max: 2 }
`;

beforeAll(async () => {
  onlyLoopback();
  nock(HOOK).persist().post('/errand').reply(function (_uri, body) {
    hooks.push(body as never);
    return [200, { ok: true }];
  });
  dir = await mkdtemp(path.join(tmpdir(), 'errand-alerts-'));
  await writeFile(path.join(dir, 'alerts.yaml'), ALERTS_YAML);
  t = await startTestApp({ env: { ALERTS_FILE: path.join(dir, 'alerts.yaml') }, app: { now: () => new Date(clock) } });
});
afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const minutes = (m: number) => new Date(clock - m * 60_000);
/** On-call messages in the outbox whose text starts with `prefix`, per target. */
async function told(prefix: string): Promise<{ person: string[]; slack: number }> {
  const rows = await q(`SELECT person_email, conversation_id FROM messages WHERE body->>'text' LIKE $1 ORDER BY id`, [`${prefix}%`]);
  return { person: rows.filter((r) => r.person_email !== ON_CALL).map((r) => r.person_email), slack: rows.filter((r) => r.conversation_id === 'slack:CONCALL01').length };
}
const hooksFor = (rule: string) => hooks.filter((h) => h.rule === rule);

let seq = 0;
async function craftRequest(o: { item: string; status: string; created: Date; completed?: Date; snapshot?: Record<string, unknown> }): Promise<string> {
  const ref = `REQ-9${String(++seq).padStart(5, '0')}`;
  await q(`INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status, created_at, updated_at, completed_at)
           VALUES ($1, $2, $3, $4, 'erin.employee@example.com', 'test', $5, $6, $6, $7)`,
  [randomUUID(), ref, o.item, JSON.stringify(o.snapshot ?? { title: o.item }), o.status, o.created, o.completed ?? null]);
  return ref;
}

it('raises a failure-rate alert once, repeats it only after the cool-down, and says when it is resolved', async () => {
  for (const status of ['failed', 'failed', 'failed', 'fulfilled']) await craftRequest({ item: 'vpn-access', status, created: minutes(40), completed: minutes(30) });
  // another item below its minimum count never alerts
  await craftRequest({ item: 'mfa-reset', status: 'failed', created: minutes(40), completed: minutes(30) });

  const first = await t.app.alerts.evaluate();
  expect(first.raised).toEqual(['item-failure-rate:vpn-access']);
  expect(await told('Alert [item-failure-rate]')).toEqual({ person: ['sam.security@example.com'], slack: 1 });
  const [text] = await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'sam.security@example.com' AND body->>'text' LIKE 'Alert [item-failure-rate]%'`);
  expect(text!.text).toBe('Alert [item-failure-rate]: item "vpn-access": 3 of 4 requests failed in the last 10 h (75%, above 50%).');
  expect(hooksFor('item-failure-rate')).toEqual([expect.objectContaining({ status: 'firing', subject: 'vpn-access', notification: 1, summary: expect.stringContaining('3 of 4 requests failed') })]);
  expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.raised' AND subject = 'item-failure-rate:vpn-access'`))[0]!.n).toBe(1);
  expect(valueOf(parseSamples(await t.app.metrics.render()), 'errand_alerts_firing', { rule: 'item-failure-rate' })).toBe(1);

  // still failing a minute later, and 29 minutes later: nothing new is sent
  clock += 60_000;
  expect((await t.app.alerts.evaluate()).raised).toEqual([]);
  clock += 28 * 60_000;
  const quiet = await t.app.alerts.evaluate();
  expect([...quiet.raised, ...quiet.renotified]).toEqual([]);
  expect(await told('Alert [item-failure-rate]')).toEqual({ person: ['sam.security@example.com'], slack: 1 });
  expect(hooksFor('item-failure-rate')).toHaveLength(1);

  // past the 30-minute cool-down: one reminder
  clock += 2 * 60_000;
  expect((await t.app.alerts.evaluate()).renotified).toEqual(['item-failure-rate:vpn-access']);
  expect((await told('Alert [item-failure-rate]')).person).toHaveLength(2);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'sam.security@example.com' AND body->>'text' LIKE 'Alert [item-failure-rate]%' ORDER BY id DESC LIMIT 1`))[0]!.text)
    .toMatch(/above 50%\)\. Still firing after 31 min \(reminder 1\)\.$/);
  expect(hooksFor('item-failure-rate').map((h) => h.notification)).toEqual([1, 2]);
  expect((await t.app.alerts.evaluate()).renotified).toEqual([]);

  // four successes bring it to 3 of 8 (37.5 %): resolved, told once
  for (let i = 0; i < 4; i++) await craftRequest({ item: 'vpn-access', status: 'fulfilled', created: minutes(20), completed: minutes(10) });
  expect((await t.app.alerts.evaluate()).resolved).toEqual(['item-failure-rate:vpn-access']);
  expect(await told('Resolved [item-failure-rate]')).toEqual({ person: ['sam.security@example.com'], slack: 1 });
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE conversation_id = 'slack:CONCALL01' AND body->>'text' LIKE 'Resolved%'`))[0]!.text)
    .toBe('Resolved [item-failure-rate]: item "vpn-access": the failure rate is back at or under 50% (or below 4 requests in 10 h). It fired for 31 min.');
  expect(hooksFor('item-failure-rate').map((h) => h.status)).toEqual(['firing', 'firing', 'resolved']);
  expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.resolved' AND subject = 'item-failure-rate:vpn-access'`))[0]!.n).toBe(1);
  const again = await t.app.alerts.evaluate();
  expect([...again.raised, ...again.renotified, ...again.resolved]).toEqual([]);
  expect(await q(`SELECT status, notify_count FROM alerts WHERE rule = 'item-failure-rate'`)).toEqual([{ status: 'resolved', notify_count: 2 }]);
  expect(valueOf(parseSamples(await t.app.metrics.render()), 'errand_alerts_firing', { rule: 'item-failure-rate' })).toBeUndefined();
});

it('warns about open requests near their SLA (80 % of responseTime) and resolves when they close', async () => {
  const snapshot = { title: 'Password reset', responseTime: '1h' };
  const near = await craftRequest({ item: 'password-reset', status: 'awaiting-approval', created: minutes(50), snapshot });
  await craftRequest({ item: 'password-reset', status: 'awaiting-approval', created: minutes(10), snapshot }); // 17 %, then 50 %: fine
  await craftRequest({ item: 'password-reset', status: 'fulfilled', created: minutes(120), completed: minutes(5), snapshot }); // closed
  await craftRequest({ item: 'laptop-request', status: 'submitted', created: minutes(3 * 24 * 60), snapshot: { title: 'Laptop', responseTime: '5d' } }); // 60 %

  const r = await t.app.alerts.evaluate();
  expect(r.raised).toEqual([`sla-at-risk:${near}`]);
  expect((await told('Alert [sla-at-risk]')).person).toEqual(['sam.security@example.com']);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'sam.security@example.com' AND body->>'text' LIKE 'Alert [sla-at-risk]%'`))[0]!.text)
    .toBe(`Alert [sla-at-risk]: ${near} (Password reset) has used 83% of its 1h response time (due in 10 min); it is awaiting-approval.`);
  expect(hooksFor('sla-at-risk')).toEqual([expect.objectContaining({ status: 'firing', subject: near })]);

  // 20 minutes on it has breached: the summary follows, no new message inside the cool-down
  clock += 20 * 60_000;
  expect((await t.app.alerts.evaluate()).raised).toEqual([]);
  expect((await q(`SELECT summary FROM alerts WHERE rule = 'sla-at-risk' AND subject = $1`, [near]))[0]!.summary).toMatch(/has breached its 1h response time by 10 min/);
  expect((await told('Alert [sla-at-risk]')).person).toHaveLength(1);

  await q(`UPDATE requests SET status = 'fulfilled', completed_at = $2 WHERE ref = $1`, [near, new Date(clock)]);
  expect((await t.app.alerts.evaluate()).resolved).toEqual([`sla-at-risk:${near}`]);
  expect((await told('Resolved [sla-at-risk]')).person).toEqual(['sam.security@example.com']);
  expect(hooksFor('sla-at-risk').map((h) => h.status)).toEqual(['firing', 'resolved']);
});

it('alerts on an old triage queue, an open breaker and a job backlog; two evaluators send each alert once', async () => {
  await q(`INSERT INTO triage_items (id, text, requester_email, channel, conversation_id, status, created_at) VALUES ($1, 'blorp', 'erin.employee@example.com', 'test', 'test:erin', 'open', $2)`, [randomUUID(), minutes(45)]);
  await q(`INSERT INTO triage_items (id, text, requester_email, channel, conversation_id, status, created_at) VALUES ($1, 'fresh', 'erin.employee@example.com', 'test', 'test:erin', 'open', $2)`, [randomUUID(), minutes(5)]);
  await q(`INSERT INTO audit_log (actor, action, subject, at) VALUES ('system', 'breaker.open', 'http:idm.example.com', $1)`, [minutes(3)]);
  for (let i = 0; i < 3; i++) await q(`INSERT INTO agenda_jobs (name, next_run_at, data) VALUES ('no-worker-defines-this', now() - interval '5 minutes', '{}')`);

  const twin = new AlertService({ db: t.app.db, log: t.app.log, now: () => new Date(clock), config: t.app.alerts.config, configFile: 'same' });
  const [a, b] = await Promise.all([t.app.alerts.evaluate(), twin.evaluate()]);
  expect([...a.raised, ...b.raised].sort()).toEqual(['breaker-open:http:idm.example.com', 'job-backlog:jobs', 'triage-waiting:queue']);
  expect((await told('Alert [triage-waiting]')).person).toHaveLength(1);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'sam.security@example.com' AND body->>'text' LIKE 'Alert [triage-waiting]%'`))[0]!.text)
    .toBe('Alert [triage-waiting]: 1 triage item has waited more than 30 min for the service desk (the oldest 45 min).');
  expect((await told('Alert [breaker-open]')).person).toHaveLength(1);
  expect((await told('Alert [job-backlog]')).person).toHaveLength(1);
  expect(hooks.filter((h) => h.status === 'firing' && ['triage-waiting', 'breaker-open', 'job-backlog'].includes(h.rule))).toHaveLength(3);

  await q(`UPDATE triage_items SET status = 'case' WHERE text = 'blorp'`);
  await q(`INSERT INTO audit_log (actor, action, subject, at) VALUES ('system', 'breaker.closed', 'http:idm.example.com', $1)`, [minutes(0)]);
  await q(`DELETE FROM agenda_jobs WHERE name = 'no-worker-defines-this'`);
  const [c, d] = await Promise.all([t.app.alerts.evaluate(), twin.evaluate()]);
  expect([...c.resolved, ...d.resolved].sort()).toEqual(['breaker-open:http:idm.example.com', 'job-backlog:jobs', 'triage-waiting:queue']);
  expect((await told('Resolved [breaker-open]')).person).toHaveLength(1);
  expect((await told('Resolved [triage-waiting]')).person).toHaveLength(1);
});

it('computes a connector failure rate from the audited step attempts in the window', async () => {
  const attempt = (action: string, backend: string, m: number) => q(`INSERT INTO audit_log (actor, action, subject, detail, at) VALUES ('system', $1, 'REQ-X', $2, $3)`, [action, JSON.stringify({ step: 's', backend }), minutes(m)]);
  for (let i = 0; i < 4; i++) await attempt('step.started', 'http:idm.example.com', 5);
  for (let i = 0; i < 2; i++) await attempt('step.failed', 'http:idm.example.com', 5);
  for (let i = 0; i < 6; i++) { await attempt('step.started', 'http:old.example.com', 60); await attempt('step.failed', 'http:old.example.com', 60); } // outside the window
  for (let i = 0; i < 10; i++) await attempt('step.started', 'directory', 5);
  const rule = { id: 'backend-failures', enabled: true, kind: 'failure-rate' as const, scope: 'connector' as const, thresholdPercent: 25, windowMinutes: 15, minCount: 4 };
  const only = new AlertService({ db: t.app.db, log: t.app.log, now: () => new Date(clock), config: { ...t.app.alerts.config, rules: [rule] }, configFile: 'test' });
  expect((await only.evaluate()).raised).toEqual(['backend-failures:http:idm.example.com']);
  expect((await q(`SELECT summary FROM alerts WHERE rule = 'backend-failures'`))[0]!.summary)
    .toBe('connector "http:idm.example.com": 2 of 4 attempts failed in the last 15 min (50%, above 25%).');
});

describe('an invalid alerts file', () => {
  it('is reported with each problem and its path, and the defaults stay in force', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'cooldownMinutes: soon\nrules:\n  - { id: item-failure-rate, thresholdPercent: 150 }\n  - { id: paging }\n  - { id: payroll, kind: failure-rate, scope: department, thresholdPercent: 5, windowMinutes: 60 }\n');
    const r = await loadAlertConfig(file, { people: ['x@example.com'] });
    expect(r.config.rules).toEqual(DEFAULT_RULES);
    expect(r.error).toBe(`${file} is invalid (the default alert rules are used until it is fixed):\n  cooldownMinutes: Invalid input: expected number, received string`);
    await writeFile(file, 'rules:\n  - { id: item-failure-rate, thresholdPercent: 150 }\n  - { id: paging }\n  - { id: payroll, kind: failure-rate, scope: department, thresholdPercent: 5, windowMinutes: 60 }\n');
    expect((await loadAlertConfig(file, { people: [] })).error!.split('\n').slice(1)).toEqual([
      '  rules[0].thresholdPercent: Too big: expected number to be <=100',
      '  rules[1].kind: required for a new rule "paging" (one of failure-rate, sla, triage-age, breaker-open, job-backlog)',
      '  rules[2].scope: Invalid option: expected one of "item"|"connector"',
    ]);
    await writeFile(file, 'rules: [ { id: x\n');
    expect((await loadAlertConfig(file, { people: [] })).error).toMatch(/is invalid .*\n {2}\(yaml\): /);
    expect(await loadAlertConfig(path.join(dir, 'missing.yaml'), { people: [] })).toEqual({ config: expect.objectContaining({ rules: DEFAULT_RULES }) });
  });

  it('does not stop the app: the problem is logged and raised as the alerts-config alert', async () => {
    const file = path.join(dir, 'bad-app.yaml');
    await writeFile(file, 'rules:\n  - { id: sla-at-risk, atPercent: -5 }\n');
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (s: string) => { lines.push(s); } });
    const other = await startTestApp({ env: { ALERTS_FILE: file, ALERT_RECIPIENTS: 'ivan.itlead@example.com' }, app: { log } });
    try {
      expect(other.app.alerts.config.rules).toEqual(DEFAULT_RULES);
      expect(lines.map((l) => JSON.parse(l).msg).join('\n')).toContain('rules[0].atPercent: Too small: expected number to be >0');
      expect((await other.app.alerts.evaluate()).raised).toEqual([`alerts-config:${file}`]);
      const [m] = (await other.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'ivan.itlead@example.com'`)).rows;
      expect(m!.text).toBe(`Alert [alerts-config]: ${file} is invalid (the default alert rules are used until it is fixed):\n  rules[0].atPercent: Too small: expected number to be >0`);
      expect((await other.app.alerts.evaluate()).raised).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
