/**
 * GET /metrics after a scripted set of requests through the real app (web chat, REST API, approvers'
 * clicks, the job runner, Slack delivery against a faked Web API): exact counter values and the
 * buckets histogram observations land in, read from the text exposition. Durations that matter
 * are crafted by moving database timestamps back (no timing thresholds).
 */
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { fakeSlackApi, rateLimits, slackEnv } from '../support/slack-fake.js';
import { WebUser } from '../support/web-client.js';
import { buckets, parseSamples, samplesOf, valueOf, type Sample } from './prom-text.js';

let t: TestApp;

beforeAll(async () => {
  onlyLoopback();
  fakeSlackApi();
  rateLimits['chat.postMessage'] = 1; // the first post is answered 429 (Retry-After: 1), then accepted
  nock('https://idm.example.com').persist()
    .post('/api/password-resets', (b: { user?: string }) => b.user === 'olga.owner@example.com').reply(400, { error: 'account locked by policy' })
    .post('/api/password-resets').reply(202, { queued: true });
  t = await startTestApp({ env: slackEnv() });
});
afterAll(async () => { await t?.close(); restoreNet(); });

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const api = (path: string, body: unknown) => fetch(`${t.base}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body) });
const statusOf = async (ref: string) => (await q('SELECT status FROM requests WHERE ref = $1', [ref]))[0]?.status as string | undefined;
async function scrape(base = t.base, headers: Record<string, string> = {}): Promise<{ res: Response; samples: Sample[] }> {
  const res = await fetch(`${base}/metrics`, { headers });
  return { res, samples: res.status === 200 ? parseSamples(await res.text()) : [] };
}

/** Answers the shared-drive dialog (read access: only the line manager approves); returns the reference. */
async function requestFinanceDriveRead(erin: WebUser): Promise<string> {
  let m = await erin.say('I need access to the finance drive');
  for (let guard = 0; guard < 8; guard++) {
    const last = m.at(-1)!;
    if (last.kind === 'summary') break;
    if (/read or write/i.test(last.text)) m = await erin.click('answer', 'read');
    else if (/until when/i.test(last.text)) m = await erin.say('skip');
    else m = await erin.say('Reviewing the quarterly budget figures');
  }
  expect(m.at(-1)!.kind).toBe('summary');
  m = await erin.click('dialog:confirm');
  return /REQ-\d{6}/.exec(m.map((x) => x.text).join(' '))![0];
}

it('counts requests by item, channel and outcome, and puts durations in the right buckets', async () => {
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const mark = new WebUser(t.base, 'mark.manager@example.com');

  // 1. web chat: classified and routed, approved by the manager, fulfilled; it "waited" 90 min, the approval 3 h
  const drive = await requestFinanceDriveRead(erin);
  const driveId = (await q('SELECT id FROM requests WHERE ref = $1', [drive]))[0]!.id;
  await q(`UPDATE requests SET created_at = created_at - interval '90 minutes' WHERE id = $1`, [driveId]);
  await q(`UPDATE approvals SET created_at = created_at - interval '3 hours' WHERE request_id = $1`, [driveId]);
  const card = (await mark.inbox()).find((x) => x.kind === 'approval' && x.text.includes(drive))!;
  await mark.click(card.buttons!.find((b) => b.id.endsWith(':approve'))!.id);

  // 2. web chat: not a recognisable request → triage
  expect((await erin.say('can you set up blorp access for me')).map((x) => x.text).join('\n')).toMatch(/passed it to the service desk/);

  // 3. REST API: a password reset that works and one the identity system refuses (4xx: no retry)
  const reset = (requester: string) => api('/requests', { item: 'password-reset', requester, fields: { account: 'email', lockedOut: false, delivery: 'sms' } });
  const ok = (await (await reset('mark.manager@example.com')).json()).ref as string;
  const bad = (await (await reset('olga.owner@example.com')).json()).ref as string;

  // 4. REST API: a VPN request the manager denies, and one the requester cancels
  const vpn = { item: 'vpn-access', requester: 'erin.employee@example.com', fields: { profile: 'standard', device: 'company', justification: 'Working from home on Fridays' } };
  const denied = (await (await api('/requests', vpn)).json()).ref as string;
  const deniedId = (await q('SELECT id FROM requests WHERE ref = $1', [denied]))[0]!.id;
  const [approval] = await q(`SELECT id FROM approvals WHERE request_id = $1`, [deniedId]);
  expect((await t.app.requests.decide(approval!.id, 'mark.manager@example.com', 'deny', 'Not needed for the role')).outcome).toBe('denied');
  const cancelled = (await (await api('/requests', { ...vpn, fields: { ...vpn.fields, justification: 'Travelling to the Berlin office' } })).json()).ref as string;
  const cancelledId = (await q('SELECT id FROM requests WHERE ref = $1', [cancelled]))[0]!.id;
  expect(await t.app.requests.cancel(cancelledId, 'erin.employee@example.com')).toBeDefined();

  await eventually(async () => (await statusOf(drive)) === 'fulfilled' && (await statusOf(ok)) === 'fulfilled' && (await statusOf(bad)) === 'failed', 30000, 'fulfilment');
  expect(await statusOf(denied)).toBe('denied');
  expect(await statusOf(cancelled)).toBe('cancelled');

  // Slack: flush what is left to deliver, with the background loop stopped. (The failed request's
  // owner notice goes to iam@example.com, who is not in the directory; the Slack dispatcher cannot
  // record "not in Slack" for an address outside the directory, so it is added here.)
  await q(`INSERT INTO people (email, name) VALUES ('iam@example.com', 'IAM team') ON CONFLICT DO NOTHING`);
  const dispatcher = t.app.slack!.dispatcher;
  await dispatcher.stop();
  while ((await dispatcher.tick()) > 0) { /* deliver everything */ }

  const { res, samples: s } = await scrape();
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');

  const requests = (item: string, channel: string, outcome: string) => valueOf(s, 'errand_requests_total', { item, channel, outcome });
  expect(requests('shared-drive-access', 'web', 'submitted')).toBe(1);
  expect(requests('shared-drive-access', 'web', 'fulfilled')).toBe(1);
  expect(requests('password-reset', 'api', 'submitted')).toBe(2);
  expect(requests('password-reset', 'api', 'fulfilled')).toBe(1);
  expect(requests('password-reset', 'api', 'failed')).toBe(1);
  expect(requests('vpn-access', 'api', 'submitted')).toBe(2);
  expect(requests('vpn-access', 'api', 'denied')).toBe(1);
  expect(requests('vpn-access', 'api', 'cancelled')).toBe(1);
  expect(samplesOf(s, 'errand_requests_total').reduce((n, x) => n + x.value, 0)).toBe(10);

  // cycle time (fulfilled only) by item, department, channel: the drive request took 90 min and a bit
  const cycle = buckets(s, 'errand_request_cycle_seconds', { item: 'shared-drive-access', department: 'Finance', channel: 'web' });
  expect(cycle).toMatchObject({ 3600: 0, 7200: 1, '+Inf': 1 });
  expect(valueOf(s, 'errand_request_cycle_seconds_count', { item: 'password-reset', department: 'Finance', channel: 'api' })).toBe(1);
  expect(samplesOf(s, 'errand_request_cycle_seconds_count').reduce((n, x) => n + x.value, 0)).toBe(2);

  // stages: approval (submitted → approved) 90 min; fulfilment of three requests
  expect(buckets(s, 'errand_request_stage_seconds', { item: 'shared-drive-access', stage: 'approval' })).toMatchObject({ 3600: 0, 7200: 1 });
  expect(valueOf(s, 'errand_request_stage_seconds_count', { item: 'shared-drive-access', stage: 'queued' })).toBe(1);
  expect(valueOf(s, 'errand_request_stage_seconds_count', { item: 'password-reset', stage: 'fulfilment' })).toBe(2);
  expect(valueOf(s, 'errand_request_stage_seconds_count', { item: 'password-reset', stage: 'approval' })).toBeUndefined(); // no approval step

  // approval wait per decision: the manager's step waited 3 h; the denial a moment
  expect(buckets(s, 'errand_approval_wait_seconds', { item: 'shared-drive-access', step: 'manager', decision: 'approved' })).toMatchObject({ 7200: 0, 14400: 1 });
  expect(valueOf(s, 'errand_approval_wait_seconds_count', { item: 'vpn-access', step: 'manager', decision: 'denied' })).toBe(1);

  // workflow steps that completed (the refused reset did not)
  expect(valueOf(s, 'errand_workflow_step_seconds_count', { item: 'password-reset', step: 'reset' })).toBe(1);
  expect(valueOf(s, 'errand_workflow_step_seconds_count', { item: 'shared-drive-access', step: 'grant' })).toBe(1);

  // failures by connector and cause
  expect(valueOf(s, 'errand_step_failures_total', { connector: 'http:idm.example.com', cause: 'client-error' })).toBe(1);
  expect(samplesOf(s, 'errand_step_failures_total').reduce((n, x) => n + x.value, 0)).toBe(1);

  // classification: one routed, one to triage; confidences in [0, 1]
  expect(valueOf(s, 'errand_classifications_total', { route: 'routed' })).toBe(1);
  expect(valueOf(s, 'errand_classifications_total', { route: 'triage' })).toBe(1);
  expect(valueOf(s, 'errand_classifier_confidence_count', { route: 'routed' })).toBe(1);
  expect(valueOf(s, 'errand_classifier_confidence_bucket', { route: 'triage', le: '1' })).toBe(1);
  const routed = buckets(s, 'errand_classifier_confidence', { route: 'routed' });
  const audited = (await q(`SELECT (detail->>'confidence')::float8 AS c FROM audit_log WHERE action = 'nlu.classified' AND detail->>'intent' = 'shared-drive-access'`))[0]!.c as number;
  const bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
  const at = bounds.findIndex((b) => audited <= b); // the first bucket holding the audited confidence
  expect(routed[String(bounds[at])]).toBe(1);
  if (at > 0) expect(routed[String(bounds[at - 1])]).toBe(0);

  // breakers of this instance, job queue gauges (from the Agenda table) and pick-up latency
  expect(valueOf(s, 'errand_breaker_state', { backend: 'http:idm.example.com', state: 'closed' })).toBe(1);
  expect(valueOf(s, 'errand_breaker_state', { backend: 'http:idm.example.com', state: 'open' })).toBe(0);
  expect(valueOf(s, 'errand_job_queue_depth', { job: 'sweep-stranded-requests', state: 'scheduled' })).toBe(1);
  expect(valueOf(s, 'errand_job_queue_depth', { job: 'evaluate-alerts', state: 'scheduled' })).toBe(1);
  expect(valueOf(s, 'errand_job_queue_oldest_due_seconds')).toBeGreaterThanOrEqual(0);
  expect(valueOf(s, 'errand_job_pickup_seconds_count', { job: 'fulfil-request' })).toBe(3);

  // Slack: every delivered post was timed; the one 429 was counted
  const posted = (await q(`SELECT count(*)::int AS n FROM channel_deliveries WHERE channel = 'slack' AND status = 'sent' AND external_id IS NOT NULL`))[0]!.n as number;
  expect(posted).toBeGreaterThan(0);
  expect(valueOf(s, 'errand_chat_send_seconds_count', { channel: 'slack', op: 'post', outcome: 'ok' })).toBe(posted);
  expect(valueOf(s, 'errand_chat_send_seconds_count', { channel: 'slack', op: 'post', outcome: 'error' })).toBeUndefined();
  expect(valueOf(s, 'errand_chat_rate_limited_total', { channel: 'slack' })).toBe(1);

  // process metrics come along
  expect(valueOf(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
});

it('keeps one registry per app, and METRICS_TOKEN requires a bearer token', async () => {
  const token = 'metrics-token-0123456789';
  const other = await startTestApp({ env: { METRICS_TOKEN: token } });
  try {
    expect((await scrape(other.base)).res.status).toBe(401);
    expect((await scrape(other.base, { authorization: 'Bearer wrong-token-0123456789' })).res.status).toBe(401);
    const { res, samples } = await scrape(other.base, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    // a second app in the same process starts from zero: nothing of the first app's traffic
    expect(samplesOf(samples, 'errand_requests_total')).toEqual([]);
    expect(samplesOf(samples, 'errand_job_pickup_seconds_count')).toEqual([]);
    expect((await scrape()).samples.find((x) => x.name === 'errand_requests_total')).toBeDefined();
  } finally {
    await other.close();
  }
});
