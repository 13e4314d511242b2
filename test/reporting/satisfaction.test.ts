/**
 * Satisfaction: a fulfilled request brings its requester a 1–5 rating prompt with buttons; a click
 * in the web chat or in Slack (signed interaction, Web API faked) stores the rating; only the
 * requester may rate, only once; the prompt then shows the rating instead of the buttons.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { actionIds, blockAction, blockText, fakeSlackApi, sendInteraction, slackEnv, type SlackCall } from '../support/slack-fake.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

const ITEM = `id: sat-item
title: Satisfaction probe
description: Fulfilled at once.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} done" }
`;

let t: TestApp;
let calls: SlackCall[];
beforeAll(async () => {
  onlyLoopback();
  calls = fakeSlackApi();
  const dir = await mkdtemp(path.join(tmpdir(), 'sat-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'sat-item.yaml'), ITEM);
  t = await startTestApp({ env: { ...slackEnv(), CATALOGUE_DIR: dir } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const fulfilled = async (conversationId: string) => {
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('sat-item')!, requesterEmail: 'erin.employee@example.com', channel: conversationId.split(':')[0]!, conversationId, answers: {} });
  await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status === 'fulfilled', 20000, 'fulfilled');
  return request;
};

it('web chat: the requester rates once with a button; others and second clicks are refused', async () => {
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const mark = new WebUser(t.base, 'mark.manager@example.com');
  const request = await fulfilled('web:erin.employee@example.com');
  const prompt = await eventually(async () => (await erin.all()).find((m) => m.buttons?.some((b) => b.id.startsWith(`rating:${request.id}:`))), 15000, 'rating prompt');
  expect(prompt.text).toMatch(new RegExp(`How did ${request.ref} \\(Satisfaction probe\\) go\\?`));
  expect(prompt.buttons!.map((b) => b.id)).toEqual([1, 2, 3, 4, 5].map((n) => `rating:${request.id}:${n}`));

  const other = await mark.click(`rating:${request.id}:1`);
  expect(other.at(-1)).toMatchObject({ kind: 'error', text: `Only the person who requested ${request.ref} can rate it.` });
  expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'satisfaction.refused' AND actor = 'mark.manager@example.com'`))[0]!.n).toBe(1);

  const rated = await erin.click(`rating:${request.id}:4`);
  expect(rated.at(-1)).toMatchObject({ kind: 'info', text: `Thank you! You rated ${request.ref} 4 of 5.` });
  const again = await erin.click(`rating:${request.id}:5`);
  expect(again.at(-1)).toMatchObject({ kind: 'error', text: `You already rated ${request.ref} (4 of 5).` });
  expect(await q('SELECT rating, channel, requester_email FROM satisfaction_ratings WHERE request_id = $1', [request.id])).toEqual([{ rating: 4, channel: 'web', requester_email: 'erin.employee@example.com' }]);

  const after = (await erin.all()).find((m) => m.id === prompt.id)!;
  expect(after.buttons).toBeUndefined();
  expect(after.resolved).toBe('You rated it 4 of 5. Thank you!');
});

it('Slack: a signed button click from the requester is stored; another person\'s click is refused; the message is updated', async () => {
  const request = await fulfilled('slack:DERIN');
  const card = await eventually(async () => calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'DERIN' && actionIds(c).includes(`rating:${request.id}:5`)), 15000, 'rating prompt in Slack');
  expect(actionIds(card)).toEqual([1, 2, 3, 4, 5].map((n) => `rating:${request.id}:${n}`));

  const click = (user: string, channel: string, n: number) => sendInteraction(t.base, blockAction(user, channel, String(card.args.ts), { action_id: `rating:${request.id}:${n}`, value: `rating:${request.id}:${n}` }));
  expect((await click('UMARK', 'DMARK', 1)).status).toBe(200);
  await eventually(async () => calls.some((c) => c.method === 'chat.postMessage' && c.args.channel === 'DMARK' && blockText(c).includes(`Only the person who requested ${request.ref} can rate it.`)), 15000, 'refusal to Mark');
  expect(await q('SELECT rating FROM satisfaction_ratings WHERE request_id = $1', [request.id])).toEqual([{ rating: null }]);

  expect((await click('UERIN', 'DERIN', 5)).status).toBe(200);
  await eventually(async () => (await q('SELECT rating FROM satisfaction_ratings WHERE request_id = $1', [request.id]))[0]!.rating === 5, 15000, 'rated');
  expect(await q('SELECT rating, channel FROM satisfaction_ratings WHERE request_id = $1', [request.id])).toEqual([{ rating: 5, channel: 'slack' }]);
  const update = await eventually(async () => calls.find((c) => c.method === 'chat.update' && c.args.channel === 'DERIN' && blockText(c).includes(`How did ${request.ref}`)), 15000, 'prompt updated');
  expect(blockText(update)).toMatch(/You rated it 5 of 5/);
  const delivered = await q(`SELECT d.external_id FROM channel_deliveries d JOIN messages m ON m.id = d.message_id WHERE d.channel = 'slack' AND m.idempotency_key = $1`, [`${request.id}:rating-prompt`]);
  expect(update.args.ts).toBe(delivered[0]!.external_id);
  expect(actionIds(update)).toEqual([]);
  await click('UERIN', 'DERIN', 2);
  await eventually(async () => calls.some((c) => c.method === 'chat.postMessage' && c.args.channel === 'DERIN' && blockText(c).includes(`You already rated ${request.ref} (5 of 5).`)), 15000, 'second click answered');
  expect((await q('SELECT rating FROM satisfaction_ratings WHERE request_id = $1', [request.id]))[0]!.rating).toBe(5);
});
