/**
 * Redelivery storms, the way the platforms produce them: every inbound event of a whole dialog is
 * delivered 4 times at once.
 *   - Slack: the original and retries 1-3 (X-Slack-Retry-Num / X-Slack-Retry-Reason, same
 *     event_id), correctly signed, all concurrent; the dialog runs from the first message to the
 *     typed "confirm" → exactly one reply per message, one request, one dedupe key per event.
 *   - Teams: the same activity id 4 times concurrently (Bot Framework JWT from teams-fake), the
 *     confirm as an Action.Execute invoke 4 times → one reply per message, one request.
 * Extends test/channels/slack.test.ts and teams.test.ts (a retried event, a doubled activity)
 * from a single message to every step of a dialog, with the full storm size.
 */
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { blockText, dmEvent, fakeSlackApi, sendEvent, slackEnv, type SlackCall } from '../support/slack-fake.js';
import { cardActions, cardOf, cardText, execute, fakeTeams, message, post, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';

let t: TestApp;
let slack: SlackCall[];
let teams: ConnectorCall[];

beforeAll(async () => {
  onlyLoopback();
  slack = fakeSlackApi();
  teams = fakeTeams();
  t = await startTestApp({ env: { ...slackEnv(), ...teamsEnv() } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
/** Lets late duplicates (if any) reach the fake APIs before counting. */
const settle = () => new Promise((r) => setTimeout(r, 700));

describe('Slack: every event of a dialog delivered 4 times at once (original + X-Slack-Retry-Num 1..3)', () => {
  it('answers each message once and creates one request', async () => {
    const posts = () => slack.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DERIN');
    const turns: [string, RegExp[]][] = [
      ['I need access to the finance drive', [/read or write/]],
      ['read', [/Until when/]],
      ['none', [/What do you need it for/]],
      ['Month-end reporting for the finance team', [/Confirm/]],
      ['confirm', [/REQ-\d+ submitted/, /is waiting for approval: Line manager/]],
    ];
    let ts = 1_700_100_000;
    for (const [i, [text, expected]] of turns.entries()) {
      const before = posts().length;
      const eventId = `EvStorm${i}`;
      const ev = dmEvent('UERIN', text, `${ts++}.000100`);
      const statuses = await Promise.all([undefined, 1, 2, 3].map((retryNum) => sendEvent(t.base, ev, { eventId, ...(retryNum ? { retryNum } : {}) })));
      expect(statuses).toEqual([200, 200, 200, 200]);
      await eventually(async () => posts().length >= before + expected.length, 15000, `reply to "${text}"`);
      await settle();
      const replies = posts().slice(before);
      expect(replies).toHaveLength(expected.length);
      expected.forEach((re, k) => expect(blockText(replies[k])).toMatch(re));
      expect(await q(`SELECT count(*)::int AS n FROM inbound_dedupe WHERE channel = 'slack' AND key = $1`, [`event:${eventId}`])).toEqual([{ n: 1 }]);
    }
    const reqs = await q(`SELECT ref, status FROM requests WHERE requester_email = 'erin.employee@example.com' AND channel = 'slack'`);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.status).toBe('awaiting-approval');
    // the approver is asked once
    await eventually(async () => slack.some((c) => c.method === 'chat.postMessage' && c.args.channel === 'DMARK' && new RegExp(reqs[0]!.ref).test(blockText(c))), 15000, 'approval card');
    await settle();
    expect(slack.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DMARK' && /Approval needed/.test(blockText(c)))).toHaveLength(1);
  }, 60000);
});

describe('Teams: every activity of a dialog delivered 4 times at once (same activity id)', () => {
  it('answers each message once; four identical confirm invokes create one request', async () => {
    const sends = () => teams.filter((c) => c.method === 'send' && c.conversation === 'a:olga-personal');
    const turns: [string, RegExp][] = [
      ['I need access to the finance drive', /read or write/],
      ['read', /Until when/],
      ['none', /What do you need it for/],
      ['Quarterly audit of the finance share', /Confirm/],
    ];
    let summary: unknown;
    for (const [text, reply] of turns) {
      const before = sends().length;
      const act = message('29:olga', text);
      const res = await Promise.all([1, 2, 3, 4].map(() => post(t.base, act)));
      expect(res.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      await eventually(async () => sends().length > before, 15000, `reply to "${text}"`);
      await settle();
      const replies = sends().slice(before);
      expect(replies).toHaveLength(1);
      expect(cardText(cardOf(replies[0])) + String(replies[0]!.body.text ?? '')).toMatch(reply);
      summary = cardOf(replies[0]);
      expect(await q(`SELECT count(*)::int AS n FROM inbound_dedupe WHERE channel = 'teams' AND key = $1`, [`activity:${act.id as string}`])).toEqual([{ n: 1 }]);
    }
    const confirm = cardActions(summary).find((a) => a.data.id === 'dialog:confirm')!;
    expect(confirm).toBeDefined();
    const before = sends().length;
    const click = execute('29:olga', confirm.verb, confirm.data);
    const res = await Promise.all([1, 2, 3, 4].map(() => post(t.base, click)));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const reqs = await eventually(async () => { const r = await q(`SELECT ref, status FROM requests WHERE requester_email = 'olga.owner@example.com' AND channel = 'teams'`); return r.length ? r : undefined; }, 15000, 'the request');
    await eventually(async () => sends().slice(before).some((c) => /submitted/.test(cardText(cardOf(c)) + String(c.body.text ?? ''))), 15000, 'submitted message');
    await settle();
    expect(await q(`SELECT count(*)::int AS n FROM requests WHERE requester_email = 'olga.owner@example.com' AND channel = 'teams'`)).toEqual([{ n: 1 }]);
    expect(reqs[0]!.status).toBe('awaiting-approval');
    const after = sends().slice(before).map((c) => cardText(cardOf(c)) + String(c.body.text ?? ''));
    expect(after).toHaveLength(2);
    expect(after[0]).toMatch(/REQ-\d+ submitted/);
    expect(after[1]).toMatch(/is waiting for approval: Line manager/);
  }, 60000);
});
