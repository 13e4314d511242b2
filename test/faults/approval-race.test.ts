/**
 * Two approvers clicking at the same moment, through the platforms' own requests: signed Slack
 * block_actions and Teams Action.Execute invokes with a Bot Framework token, fired together.
 * The approval step is "any of" the finance team (Mark and Olga; Erin, the requester, is left out),
 * so either may decide. Each race is repeated on fresh requests to meet different interleavings:
 *   - Slack: Mark and Olga both Approve → one decision; the other is told "Already decided";
 *   - Slack: Mark clicks Approve twice → one decision, the second click is "Already decided";
 *   - Teams: Mark approves while Olga denies (with a reason) → exactly one of them wins, the
 *     request follows the winner (fulfilled or denied), the loser is told who decided.
 * In every race: one approval.* event, one audit row, one decider on the approval.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { actionIds, blockAction, blockText, fakeSlackApi, sendInteraction, slackEnv, type SlackCall } from '../support/slack-fake.js';
import { execute, fakeTeams, message, post, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';

const RACES = Number(process.env.FAULTS_APPROVAL_RACES ?? 4);
const ITEM = `id: faults-any-approval
title: Finance report pack
description: Needs one approval by anyone in the finance team.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
approvals:
  - { id: finance, label: Finance team, approver: { kind: group, group: finance-team } }
workflow:
  - { id: tell, action: notify, inputs: { to: "{{requester.email}}", text: "{{request.ref}} pack ready" } }
`;

let t: TestApp;
let slack: SlackCall[];
let teams: ConnectorCall[];
let dir: string;

beforeAll(async () => {
  onlyLoopback();
  slack = fakeSlackApi();
  teams = fakeTeams();
  dir = await mkdtemp(path.join(tmpdir(), 'faults-race-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'faults-any-approval.yaml'), ITEM);
  t = await startTestApp({ env: { ...slackEnv(), ...teamsEnv(), CATALOGUE_DIR: dir } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
  await rm(dir, { recursive: true, force: true });
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const submit = async (channel: string) => (await t.app.requests.submit({ item: t.app.catalogue.get('faults-any-approval')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel })).request;
const approvalOf = async (requestId: string) => (await q(`SELECT id, approvers, status, decided_by FROM approvals WHERE request_id = $1`, [requestId]))[0]!;
const decisions = async (requestId: string) => ({
  events: (await q(`SELECT actor, kind FROM request_events WHERE request_id = $1 AND kind IN ('approval.approved', 'approval.denied') ORDER BY id`, [requestId])).map((x) => `${x.kind}:${x.actor}`),
  audit: (await q(`SELECT actor, action FROM audit_log WHERE subject = (SELECT ref FROM requests WHERE id = $1) AND action IN ('approval.approved', 'approval.denied') ORDER BY id`, [requestId])).map((x) => `${x.action}:${x.actor}`),
});
const statusOf = async (id: string) => (await q('SELECT status FROM requests WHERE id = $1', [id]))[0]!.status as string;
const outbox = async (email: string, like: string) => (await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = $1 AND body->>'text' LIKE $2 ORDER BY id`, [email, like])).map((x) => x.text as string);
const slackPosts = (channel: string) => slack.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel);

describe('Slack', () => {
  it(`two eligible approvers of an "any of" step approve at once (${RACES} races): one decision, the other is told it is already decided`, async () => {
    for (let i = 0; i < RACES; i++) {
      const r = await submit('slack');
      const a = await approvalOf(r.id);
      expect([...a.approvers].sort()).toEqual(['mark.manager@example.com', 'olga.owner@example.com']);
      const cardIn = (ch: string) => eventually(async () => slackPosts(ch).find((c) => new RegExp(r.ref).test(blockText(c)) && actionIds(c).length > 0), 15000, `approval card in ${ch}`);
      const [markCard, olgaCard] = await Promise.all([cardIn('DMARK'), cardIn('DOLGA')]);
      const approve = `approval:${a.id}:approve`;
      expect(actionIds(markCard)).toContain(approve);
      expect(actionIds(olgaCard)).toContain(approve);
      // both clicks leave together; the later one (in the database's order) must lose
      const res = await Promise.all([
        sendInteraction(t.base, blockAction('UMARK', 'DMARK', String(markCard.args.ts ?? ''), { action_id: approve, value: approve })),
        sendInteraction(t.base, blockAction('UOLGA', 'DOLGA', String(olgaCard.args.ts ?? ''), { action_id: approve, value: approve })),
      ]);
      expect(res.map((x) => x.status)).toEqual([200, 200]);
      await eventually(async () => (await statusOf(r.id)) === 'fulfilled', 20000, 'fulfilled');
      const winner = (await approvalOf(r.id)).decided_by as string;
      const loser = winner === 'mark.manager@example.com' ? 'olga.owner@example.com' : 'mark.manager@example.com';
      expect(await decisions(r.id)).toEqual({ events: [`approval.approved:${winner}`], audit: [`approval.approved:${winner}`] });
      await eventually(async () => (await outbox(loser, 'Already decided%')).some((x) => x === `Already decided: approved by ${winner}.`), 15000, `"already decided" to ${loser}`);
      expect(await outbox(winner, `You approved ${r.ref}.`)).toHaveLength(1);
      expect(await outbox(loser, `You approved ${r.ref}.`)).toHaveLength(0);
    }
  }, 120000);

  it('the same approver clicks Approve twice at once: one decision, the second click is "already decided"', async () => {
    for (let i = 0; i < RACES; i++) {
      const r = await submit('slack');
      const a = await approvalOf(r.id);
      const approve = `approval:${a.id}:approve`;
      const card = await eventually(async () => slackPosts('DMARK').find((c) => new RegExp(r.ref).test(blockText(c)) && actionIds(c).length > 0), 15000, 'approval card');
      const before = (await outbox('mark.manager@example.com', 'Already decided%')).length;
      const click = () => sendInteraction(t.base, blockAction('UMARK', 'DMARK', String(card.args.ts ?? ''), { action_id: approve, value: approve }));
      expect((await Promise.all([click(), click()])).map((x) => x.status)).toEqual([200, 200]);
      await eventually(async () => (await statusOf(r.id)) === 'fulfilled', 20000, 'fulfilled');
      expect(await decisions(r.id)).toEqual({ events: ['approval.approved:mark.manager@example.com'], audit: ['approval.approved:mark.manager@example.com'] });
      await eventually(async () => (await outbox('mark.manager@example.com', 'Already decided%')).length === before + 1, 15000, '"already decided" for the second click');
      expect(await outbox('mark.manager@example.com', `You approved ${r.ref}.`)).toHaveLength(1);
    }
  }, 120000);
});

describe('Teams', () => {
  it(`one approver approves while the other denies at the same moment (${RACES} races): exactly one wins and the request follows it`, async () => {
    // both have talked to the bot before (their personal chats are known)
    for (const u of ['29:mark', '29:olga']) expect((await post(t.base, message(u, 'hi'))).status).toBe(200);
    await eventually(async () => teams.filter((c) => c.method === 'send' && ['a:mark-personal', 'a:olga-personal'].includes(c.conversation)).length >= 2, 15000, 'greetings');
    const outcomes: string[] = [];
    for (let i = 0; i < RACES; i++) {
      const r = await submit('teams');
      const a = await approvalOf(r.id);
      const [markRes, olgaRes] = await Promise.all([
        post(t.base, execute('29:mark', 'action', { id: `approval:${a.id}:approve` })),
        post(t.base, execute('29:olga', 'action', { id: `approval:${a.id}:deny`, value: 'Not in this quarter' })),
      ]);
      expect([markRes.status, olgaRes.status]).toEqual([200, 200]);
      const decided = await approvalOf(r.id);
      expect(['approved', 'denied']).toContain(decided.status);
      const winner = decided.decided_by as string;
      const loser = winner === 'mark.manager@example.com' ? 'olga.owner@example.com' : 'mark.manager@example.com';
      expect(winner).toBe(decided.status === 'approved' ? 'mark.manager@example.com' : 'olga.owner@example.com');
      expect(await decisions(r.id)).toEqual({ events: [`approval.${decided.status}:${winner}`], audit: [`approval.${decided.status}:${winner}`] });
      await eventually(async () => (await outbox(loser, 'Already decided%')).some((x) => x === `Already decided: ${decided.status} by ${winner}.`), 15000, `"already decided" to ${loser}`);
      const final = decided.status === 'approved' ? 'fulfilled' : 'denied';
      await eventually(async () => (await statusOf(r.id)) === final, 20000, final);
      outcomes.push(decided.status as string);
    }
    expect(outcomes).toHaveLength(RACES);
  }, 120000);
});
