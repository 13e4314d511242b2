/**
 * Slack delivery in parallel lanes, in order within a channel, and a pending query that costs O(pending).
 * The Web API is a real HTTP server on loopback (a hanging channel and a 429 are easy to hold there);
 * the database is the test database (real PostgreSQL when TEST_DATABASE_URL is set).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebClient } from '@slack/web-api';
import { SlackDispatcher, SLACK_PENDING_SQL } from '../../src/channels/slack/slack-dispatcher.js';
import { SlackIdentities } from '../../src/channels/slack/slack-identity.js';
import { DeliveryWatermark } from '../../src/channels/delivery-watermark.js';
import { postMessage } from '../../src/conversation/outbox.repository.js';
import { createLogger } from '../../src/log.js';
import { createTestDb, serverUrl, type TestDb } from '../support/test-db.js';
import { eventually } from '../support/test-app.js';

interface Post { channel: string; text: string; status: number }

/** A fake Web API: chat.postMessage to a held channel hangs until released; 429s are answered per channel. */
class FakeSlack {
  readonly posts: Post[] = [];
  readonly held = new Map<string, (() => void)[]>();
  readonly holding = new Set<string>();
  readonly limit = new Map<string, { times: number; retryAfter: number }>();
  private server!: Server;
  private ts = 1_700_000_000;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => { void this.handle(req).then(([status, body, headers]) => { res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(JSON.stringify(body)); }); });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
    return this;
  }

  close(): Promise<void> {
    for (const list of this.held.values()) for (const go of list) go();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  release(channel: string): void {
    this.holding.delete(channel);
    for (const go of this.held.get(channel) ?? []) go();
    this.held.delete(channel);
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown, Record<string, string>?]> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const args = (req.headers['content-type'] ?? '').includes('json') ? JSON.parse(raw) as Record<string, string> : Object.fromEntries(new URLSearchParams(raw));
    const method = (req.url ?? '').replace('/api/', '');
    if (method !== 'chat.postMessage') return [200, { ok: true }];
    const channel = String(args.channel);
    if (this.holding.has(channel)) {
      this.posts.push({ channel, text: String(args.text), status: 0 });
      await new Promise<void>((go) => this.held.set(channel, [...(this.held.get(channel) ?? []), go]));
      this.posts.push({ channel, text: String(args.text), status: -1 }); // answered after release
      this.ts += 1;
      return [200, { ok: true, channel, ts: `${this.ts}.000100` }];
    }
    const l = this.limit.get(channel);
    if (l && l.times > 0) {
      l.times -= 1;
      this.posts.push({ channel, text: String(args.text), status: 429 });
      return [429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(l.retryAfter) }];
    }
    this.posts.push({ channel, text: String(args.text), status: 200 });
    this.ts += 1;
    return [200, { ok: true, channel, ts: `${this.ts}.000100` }];
  }
}

let tdb: TestDb;
let slack: FakeSlack;
let dispatcher: SlackDispatcher | undefined;
const log = createLogger('silent');
const person = 'erin.employee@example.com';

beforeAll(async () => {
  tdb = await createTestDb();
  await tdb.db.query(`INSERT INTO people (email, name) VALUES ($1, 'Erin') ON CONFLICT DO NOTHING`, [person]);
});
afterAll(async () => { await tdb.drop(); });
beforeEach(async () => { slack = await new FakeSlack().start(); });
afterEach(async () => {
  await slack.close();
  await dispatcher?.stop();
  dispatcher = undefined;
});

function makeDispatcher(parallel = 8): SlackDispatcher {
  const client = new WebClient('xoxb-test', { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
  dispatcher = new SlackDispatcher(tdb.db, client, new SlackIdentities(tdb.db, client), undefined, log, undefined, { parallel });
  return dispatcher;
}

const okPosts = (channel: string) => slack.posts.filter((p) => p.channel === channel && (p.status === 200 || p.status === -1)).map((p) => p.text);

it('a channel whose posts hang holds only its own lane: every other channel is delivered, each in order', async () => {
  const texts: Record<string, string[]> = {};
  for (let i = 1; i <= 3; i++) {
    for (const ch of ['CSLOW', 'CFASTA', 'CFASTB', 'CFASTC', 'CFASTD']) {
      const text = `${ch} #${i}`;
      await postMessage(tdb.db, person, { kind: 'info', text }, { conversationId: `slack:${ch}` });
      (texts[ch] ??= []).push(text);
    }
  }
  slack.holding.add('CSLOW');
  const d = makeDispatcher();
  void d.kick();
  await eventually(async () => ['CFASTA', 'CFASTB', 'CFASTC', 'CFASTD'].every((ch) => okPosts(ch).length === 3), 30000, 'the other channels');
  for (const ch of ['CFASTA', 'CFASTB', 'CFASTC', 'CFASTD']) expect(okPosts(ch)).toEqual(texts[ch]);
  // the held channel: its first message is in flight, the later ones wait behind it
  expect(slack.posts.filter((p) => p.channel === 'CSLOW').map((p) => p.text)).toEqual(['CSLOW #1']);
  // a pass while it hangs changes nothing for it
  const more = await postMessage(tdb.db, person, { kind: 'info', text: 'CFASTA #4' }, { conversationId: 'slack:CFASTA' });
  void d.kick(); // (a kick waits for the busy lane too, so it is not awaited here)
  await eventually(async () => okPosts('CFASTA').length === 4, 30000, 'a later message of another channel');
  expect(okPosts('CFASTA')).toEqual([...texts.CFASTA!, 'CFASTA #4']);
  expect(slack.posts.filter((p) => p.channel === 'CSLOW')).toHaveLength(1);

  slack.release('CSLOW');
  await eventually(async () => okPosts('CSLOW').length === 3, 30000, 'the held channel');
  expect(okPosts('CSLOW')).toEqual(texts.CSLOW);
  const sent = async () => (await tdb.db.query<{ status: string; n: number }>(
    `SELECT d.status, count(*)::int AS n FROM channel_deliveries d WHERE d.channel = 'slack' AND d.message_id <= $1 GROUP BY d.status`, [more])).rows;
  await eventually(async () => (await sent()).length === 1, 30000, 'every delivery recorded');
  expect(await sent()).toEqual([{ status: 'sent', n: 16 }]);
  expect(slack.posts.filter((p) => p.status === 200 || p.status === -1)).toHaveLength(16); // each exactly once
}, 60000);

it('a 429 holds that channel for Retry-After (not an attempt), keeps its order, and holds no other channel', async () => {
  const ids: number[] = [];
  for (let i = 1; i <= 3; i++) {
    ids.push((await postMessage(tdb.db, person, { kind: 'info', text: `CLIMIT #${i}` }, { conversationId: 'slack:CLIMIT' }))!);
    await postMessage(tdb.db, person, { kind: 'info', text: `COTHER #${i}` }, { conversationId: 'slack:COTHER' });
  }
  slack.limit.set('CLIMIT', { times: 1, retryAfter: 4 });
  const d = makeDispatcher();
  d.start(200);
  await eventually(async () => okPosts('CLIMIT').length === 3 && okPosts('COTHER').length === 3, 40000, 'both channels');
  expect(okPosts('CLIMIT')).toEqual(['CLIMIT #1', 'CLIMIT #2', 'CLIMIT #3']);
  expect(okPosts('COTHER')).toEqual(['COTHER #1', 'COTHER #2', 'COTHER #3']);
  // the other channel did not wait for the back-off: it was done before the rate-limited one was retried
  const seq = slack.posts.map((p) => `${p.channel}:${p.status}`);
  expect(seq.indexOf('CLIMIT:429')).toBeGreaterThanOrEqual(0);
  expect(seq.lastIndexOf('COTHER:200')).toBeLessThan(seq.indexOf('CLIMIT:200'));
  expect(slack.posts.filter((p) => p.channel === 'CLIMIT')).toHaveLength(4); // the 429, then each message once
  const [row] = (await tdb.db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM channel_deliveries WHERE channel = 'slack' AND message_id = $1`, [ids[0]])).rows;
  expect(row).toEqual({ status: 'sent', attempts: 1 });
}, 60000);

const onServer = serverUrl() ? describe : describe.skip;

onServer('on PostgreSQL', () => {
  it('the pending query reads only the rows above the watermark, not the delivered history', async () => {
    const { db } = tdb;
    await db.query(`INSERT INTO messages (person_email, conversation_id, body) SELECT $1, 'slack:CHIST' || (g % 500), '{"kind":"info","text":"old"}' FROM generate_series(1, 20000) g`, [person]);
    await db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status, target, external_id, delivered_body)
                    SELECT 'slack', 'm:' || id, id, 'sent', 'CHIST', '1.1', updated_at FROM messages m
                    WHERE NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.message_id = m.id)`);
    const w = new DeliveryWatermark(db, 'slack-explain', 0);
    const unfinished = async (floor: string, upTo: string) => (await db.query<{ id: string | null }>(
      `SELECT min(m.id)::text AS id FROM messages m WHERE m.id > $1 AND m.id <= $2 AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.message_id = m.id AND d.status = 'sent')`, [floor, upTo])).rows[0]?.id ?? null;
    await w.advance(unfinished);
    const floor = await w.advance(unfinished);
    const top = (await db.query<{ id: string }>('SELECT max(id)::text AS id FROM messages')).rows[0]!.id;
    expect(floor).toBe(top);
    for (let i = 0; i < 5; i++) await postMessage(db, person, { kind: 'info', text: `new ${i}` }, { conversationId: `slack:CNEW${i}` });
    await db.query('ANALYZE messages; ANALYZE channel_deliveries');
    const [plan] = (await db.query<{ 'QUERY PLAN': unknown[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${SLACK_PENDING_SQL}`, [floor])).rows[0]!['QUERY PLAN'] as { Plan: PlanNode }[];
    const scans = nodes(plan!.Plan).filter((n) => n['Relation Name'] === 'messages');
    expect(scans.length).toBeGreaterThan(0);
    for (const s of scans) {
      expect(s['Node Type']).not.toBe('Seq Scan');
      expect(s['Actual Rows']).toBeLessThanOrEqual(5);
    }
    expect((await db.query(SLACK_PENDING_SQL, [floor])).rows.map((r) => r.body.text)).toEqual(['new 0', 'new 1', 'new 2', 'new 3', 'new 4']);
  }, 120000);

  it('the watermark never passes a message whose transaction is still open', async () => {
    const { db } = tdb;
    await db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) SELECT 'slack', 'm:' || id, id, 'sent' FROM messages m
                    WHERE NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.message_id = m.id)`);
    const w = new DeliveryWatermark(db, 'slack-open-tx', 0);
    const other = new pg.Client({ connectionString: tdb.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      const held = (await other.query<{ id: string }>(`INSERT INTO messages (person_email, conversation_id, body) VALUES ($1, 'slack:CLATE', '{"kind":"info","text":"late"}') RETURNING id`, [person])).rows[0]!.id;
      const after = await postMessage(db, person, { kind: 'info', text: 'committed after' }, { conversationId: 'slack:CEARLY' });
      await db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('slack', $1, $2, 'sent')`, [`m:${after}`, after]);
      // everything visible is delivered; the open transaction's id is invisible
      const unfinished = async (floor: string, upTo: string) => (await db.query<{ id: string | null }>(
        `SELECT min(m.id)::text AS id FROM messages m WHERE m.id > $1 AND m.id <= $2 AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.message_id = m.id AND d.status = 'sent')`, [floor, upTo])).rows[0]?.id ?? null;
      for (let i = 0; i < 3; i++) await w.advance(unfinished);
      expect(BigInt(await w.floor())).toBeLessThan(BigInt(held));
      await other.query('COMMIT');
      const floor = await w.floor();
      expect((await db.query(SLACK_PENDING_SQL, [floor])).rows.map((r) => r.id)).toContain(held);
    } finally {
      await other.end();
    }
  });
});

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; 'Actual Rows'?: number; Plans?: PlanNode[] }
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
