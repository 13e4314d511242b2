/**
 * The durable chat inbox for Slack (src/channels/chat-inbox.ts, migration 023), over HTTP against the
 * running server: signed Events API deliveries in, the Web API faked with nock. Storage is real
 * (PostgreSQL with TEST_DATABASE_URL, else PGlite); database refusals are real errors raised by
 * triggers on the real tables.
 *
 * - an event is in chat_inbound when Slack gets its 200; one that cannot be stored gets 503 and its
 *   redelivery is processed once;
 * - the same event delivered four times at once: one row, one triage item, one reply;
 * - an instance that stored an event and stopped before processing it: the next instance processes it;
 * - a turn that fails half-way (triage item written, reply not) is retried without a second item or reply;
 * - an event whose processing fails three times is marked failed, audited and the person told, and
 *   the service carries on.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createPersonIfAbsent } from '../../src/directory/directory.repository.js';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { dmEvent, fakeSlackApi, sendEvent, slackEnv, USERS, type SlackCall } from '../support/slack-fake.js';
import { parseSamples, valueOf } from '../observability/prom-text.js';

let t: TestApp;
let calls: SlackCall[];
const UNPLACEABLE = 'I need the blorp configured on my account';

beforeAll(async () => {
  onlyLoopback();
  calls = fakeSlackApi();
  t = await startTestApp({ env: slackEnv() });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const posts = (channel: string) => calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel);

/** A Slack user (and directory person) of its own, so each test has its own DM to count replies in. */
async function person(app: App, tag: string): Promise<{ user: string; email: string; dm: string }> {
  const user = `UINBOX${tag.toUpperCase()}`;
  const email = `inbox.${tag}@example.com`;
  USERS[user] = { email, dm: `DINBOX${tag.toUpperCase()}` };
  await createPersonIfAbsent(app.db, { email, name: `Inbox ${tag}`, department: 'Finance', manager: 'mark.manager@example.com' }, 'inbox-test');
  return { user, email, dm: USERS[user]!.dm };
}

/** Everything stored has been processed and delivered (both loops ran a whole pass after the last change). */
async function settled(app: App): Promise<void> {
  await eventually(async () => (await app.db.query(`SELECT 1 FROM chat_inbound WHERE status IN ('received', 'processing')`)).rows.length === 0, 20000, 'inbox drained');
  await app.slack!.inbox.kick();
  await app.slack!.dispatcher.kick();
}

const triageItems = (email: string) => q(`SELECT text FROM triage_items WHERE requester_email = $1`, [email]);
/** A real database refusal: inserts into `table` matching `when` raise an error (SQLSTATE `code`). */
async function refuse(db: { query: App['db']['query'] }, name: string, table: string, when: string, code: string, onlyFirst = false): Promise<void> {
  if (onlyFirst) await db.query(`CREATE SEQUENCE ${name}_seq`);
  await db.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    IF ${onlyFirst ? `nextval('${name}_seq') = 1` : 'true'} THEN RAISE EXCEPTION 'refused by test' USING ERRCODE = '${code}'; END IF; RETURN NEW; END $$`);
  await db.query(`CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`);
}
const allow = (db: { query: App['db']['query'] }, name: string, table: string) => db.query(`DROP TRIGGER ${name} ON ${table}`);

describe('stored before the acknowledgement', () => {
  it('has the event in chat_inbound when Slack gets its 200', async () => {
    const p = await person(t.app, 'stored');
    expect(await sendEvent(t.base, dmEvent(p.user, `${UNPLACEABLE} qxstored`), { eventId: 'EvInboxStored' })).toBe(200);
    // no waiting: the row is there the moment the answer is
    expect(await q(`SELECT channel, payload->'event'->>'user' AS "user" FROM chat_inbound WHERE delivery_key = 'EvInboxStored'`)).toEqual([{ channel: 'slack', user: p.user }]);
    await eventually(async () => posts(p.dm).length === 1, 15000, 'reply');
  });

  it('answers 503 when the event cannot be stored; the redelivery is processed once', async () => {
    const p = await person(t.app, 'refused');
    await refuse(t.app.db, 'refuse_inbox', 'chat_inbound', `NEW.delivery_key = 'EvInboxRefused'`, '57P03'); // "cannot connect now"
    const event = dmEvent(p.user, `${UNPLACEABLE} qxrefused`);
    expect(await sendEvent(t.base, event, { eventId: 'EvInboxRefused' })).toBe(503);
    expect(await q(`SELECT 1 FROM chat_inbound WHERE delivery_key = 'EvInboxRefused'`)).toEqual([]);
    await allow(t.app.db, 'refuse_inbox', 'chat_inbound');

    expect(await sendEvent(t.base, event, { eventId: 'EvInboxRefused', retryNum: 1 })).toBe(200);
    await settled(t.app);
    expect(await triageItems(p.email)).toEqual([{ text: `${UNPLACEABLE} qxrefused` }]);
    expect(posts(p.dm).map((c) => c.args.text)).toEqual([expect.stringMatching(/passed it to the service desk/)]);
    // a late redelivery (Slack's third try) of the processed event is a duplicate
    expect(await sendEvent(t.base, event, { eventId: 'EvInboxRefused', retryNum: 2 })).toBe(200);
    await settled(t.app);
    expect(await triageItems(p.email)).toHaveLength(1);
    expect(posts(p.dm)).toHaveLength(1);
  });
});

describe('duplicate deliveries', () => {
  it('the same event four times at once: one row, one triage item, one reply', async () => {
    const p = await person(t.app, 'dup');
    const event = dmEvent(p.user, `${UNPLACEABLE} qxdup`);
    const statuses = await Promise.all([0, 1, 2, 3].map((retryNum) => sendEvent(t.base, event, { eventId: 'EvInboxDup', retryNum })));
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(await q(`SELECT count(*)::int AS n FROM chat_inbound WHERE delivery_key = 'EvInboxDup'`)).toEqual([{ n: 1 }]);
    await eventually(async () => posts(p.dm).length >= 1, 15000, 'reply');
    await settled(t.app);
    expect(await triageItems(p.email)).toEqual([{ text: `${UNPLACEABLE} qxdup` }]);
    expect(posts(p.dm)).toHaveLength(1);
    expect(await q(`SELECT key FROM inbound_dedupe WHERE channel = 'slack' AND key = 'event:EvInboxDup'`)).toHaveLength(1);
  });
});

describe('a turn that fails half-way', () => {
  it('is retried without a second triage item or reply', async () => {
    const p = await person(t.app, 'half');
    // the first reply to this person cannot be written (after the triage item was): the turn fails there once
    await refuse(t.app.db, 'refuse_reply', 'messages', `NEW.person_email = '${p.email}'`, 'XX000', true);
    expect(await sendEvent(t.base, dmEvent(p.user, `${UNPLACEABLE} qxhalf`), { eventId: 'EvInboxHalf' })).toBe(200);
    await eventually(async () => posts(p.dm).length === 1, 20000, 'reply after the retry');
    await settled(t.app);
    expect(await q(`SELECT status, attempts, last_error FROM chat_inbound WHERE delivery_key = 'EvInboxHalf'`)).toEqual([{ status: 'done', attempts: 2, last_error: 'refused by test' }]);
    expect(await triageItems(p.email)).toEqual([{ text: `${UNPLACEABLE} qxhalf` }]);
    expect(posts(p.dm).map((c) => c.args.text)).toEqual([expect.stringMatching(/passed it to the service desk/)]);
    await allow(t.app.db, 'refuse_reply', 'messages');
  });
});

describe('processing that keeps failing', () => {
  it('is marked failed after three attempts, audited, the person told; the service carries on', async () => {
    const p = await person(t.app, 'poison');
    await refuse(t.app.db, 'refuse_triage', 'triage_items', `NEW.requester_email = '${p.email}'`, 'XX000');
    expect(await sendEvent(t.base, dmEvent(p.user, `${UNPLACEABLE} qxpoison`), { eventId: 'EvInboxPoison' })).toBe(200);
    // the retries wait 1 s, then 5 s: let them be due at once instead
    await eventually(async () => {
      await q(`UPDATE chat_inbound SET claimed_until = NULL WHERE delivery_key = 'EvInboxPoison' AND status = 'received'`);
      await t.app.slack!.inbox.kick();
      return (await q(`SELECT status FROM chat_inbound WHERE delivery_key = 'EvInboxPoison'`))[0]?.status === 'failed';
    }, 20000, 'marked failed');
    const [row] = await q(`SELECT attempts, last_error FROM chat_inbound WHERE delivery_key = 'EvInboxPoison'`);
    expect(row).toEqual({ attempts: 3, last_error: 'refused by test' });
    expect(await q(`SELECT subject, detail->>'attempts' AS attempts FROM audit_log WHERE action = 'chat.inbound-failed' AND subject = 'slack:EvInboxPoison'`)).toEqual([{ subject: 'slack:EvInboxPoison', attempts: '3' }]);
    expect(await triageItems(p.email)).toEqual([]);
    expect(posts(p.dm).map((c) => c.args.text)).toEqual([expect.stringMatching(/could not process your message\. Please send it again/)]);
    expect(valueOf(parseSamples(await t.app.metrics.render()), 'errand_chat_inbox', { channel: 'slack', status: 'failed' })).toBe(1);
    await allow(t.app.db, 'refuse_triage', 'triage_items');

    // nothing else is held up
    const other = await person(t.app, 'afterpoison');
    expect(await sendEvent(t.base, dmEvent(other.user, `${UNPLACEABLE} qxafter`), { eventId: 'EvInboxAfterPoison' })).toBe(200);
    await eventually(async () => posts(other.dm).length === 1, 15000, 'reply after the failed event');
    expect(await triageItems(other.email)).toHaveLength(1);
  });
});

describe('an instance that stops after storing an event', () => {
  let tdb: TestDb | undefined;
  const servers: Server[] = [];
  const apps: App[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const a of apps) await a.stop().catch(() => undefined);
    await tdb?.drop();
  });

  it('leaves it to the next instance, which processes it once', async () => {
    tdb = await createTestDb({ migrate: false });
    const config = loadConfig({ ...slackEnv(), LOG_LEVEL: 'silent', JOB_PROCESS_EVERY_MS: '300', JOB_LOCK_LIFETIME_MS: '10000', API_KEYS: 'test-key', TEAMS_ENABLED: 'false' });
    const listen = async (a: App) => {
      const s = await new Promise<Server>((resolve) => { const x = a.http.listen(0, '127.0.0.1', () => resolve(x)); });
      servers.push(s);
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    };
    // the first instance answers HTTP but its processing never runs (as if it died right after the 200)
    const first = await createApp({ config, db: tdb.db });
    apps.push(first);
    const p = await person(first, 'crash');
    expect(await sendEvent(await listen(first), dmEvent(p.user, `${UNPLACEABLE} qxcrash`), { eventId: 'EvInboxCrash' })).toBe(200);
    expect(await tdb.db.query(`SELECT status, attempts FROM chat_inbound WHERE delivery_key = 'EvInboxCrash'`).then((r) => r.rows)).toEqual([{ status: 'received', attempts: 0 }]);
    servers.pop()!.close();
    await first.stop();
    expect(posts(p.dm)).toEqual([]);

    const second = await createApp({ config, db: tdb.db });
    apps.push(second);
    await second.start();
    await eventually(async () => posts(p.dm).length === 1, 20000, 'reply from the second instance');
    await settled(second);
    expect(await tdb.db.query(`SELECT text FROM triage_items WHERE requester_email = $1`, [p.email]).then((r) => r.rows)).toEqual([{ text: `${UNPLACEABLE} qxcrash` }]);
    expect(posts(p.dm)).toHaveLength(1);
    expect(await tdb.db.query(`SELECT status, attempts FROM chat_inbound WHERE delivery_key = 'EvInboxCrash'`).then((r) => r.rows)).toEqual([{ status: 'done', attempts: 1 }]);
  });
});
