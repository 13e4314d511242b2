/**
 * The durable chat inbox for Teams (src/channels/chat-inbox.ts): a verified message activity is stored
 * before botbuilder's HTTP answer (503 when it cannot be), duplicates by activity id are one row, and
 * the stored activity is processed in a proactive turn (replies through the faked connector). Real JWT
 * validation and real storage; the refusal is a real database error raised by a trigger.
 */
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { cardOf, cardText, fakeTeams, message, post, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';

let t: TestApp;
let calls: ConnectorCall[];

beforeAll(async () => {
  onlyLoopback();
  calls = fakeTeams();
  t = await startTestApp({ env: teamsEnv() });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const sends = (conv: string) => calls.filter((c) => c.method === 'send' && c.conversation === conv);
const text = (c: ConnectorCall) => String(c.body.text ?? '') + cardText(cardOf(c));
const triageItems = () => q(`SELECT text FROM triage_items WHERE requester_email = 'erin.employee@example.com' AND channel = 'teams'`);

/** Everything stored has been processed and delivered. */
async function settled(): Promise<void> {
  await eventually(async () => (await q(`SELECT 1 FROM chat_inbound WHERE status IN ('received', 'processing')`)).length === 0, 20000, 'inbox drained');
  await t.app.teams!.inbox.kick();
  await t.app.teams!.dispatcher.kick();
}

it('answers 503 when a message cannot be stored; its redelivery, and three duplicates, become one triage item and one reply', async () => {
  const act = message('29:erin', 'please set up blorp access on my account qxteams');
  await q(`CREATE FUNCTION refuse_inbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test' USING ERRCODE = '57P03'; END $$`);
  await q(`CREATE TRIGGER refuse_inbox BEFORE INSERT ON chat_inbound FOR EACH ROW EXECUTE FUNCTION refuse_inbox()`);
  expect((await post(t.base, act)).status).toBe(503);
  expect(await q(`SELECT 1 FROM chat_inbound WHERE channel = 'teams'`)).toEqual([]);
  await q(`DROP TRIGGER refuse_inbox ON chat_inbound`);

  const statuses = await Promise.all([0, 1, 2, 3].map(async () => (await post(t.base, act)).status));
  expect(statuses).toEqual([200, 200, 200, 200]);
  // stored when answered
  expect(await q(`SELECT delivery_key, payload->>'text' AS text FROM chat_inbound WHERE channel = 'teams'`)).toEqual([{ delivery_key: act.id, text: act.text }]);
  await eventually(async () => sends('a:erin-personal').some((c) => /service desk/.test(text(c))), 15000, 'reply');
  await settled();
  expect(await triageItems()).toEqual([{ text: 'please set up blorp access on my account qxteams' }]);
  expect(sends('a:erin-personal').filter((c) => /service desk/.test(text(c)))).toHaveLength(1);
  expect(await q(`SELECT status, attempts FROM chat_inbound WHERE channel = 'teams'`)).toEqual([{ status: 'done', attempts: 1 }]);
}, 60000);
