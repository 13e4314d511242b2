/**
 * A fake Slack for load runs, across processes (nock cannot reach a child process):
 *
 * - `FakeSlackApi`: a tiny Web API server on loopback (`SLACK_API_URL=http://127.0.0.1:<port>/api/`)
 *   answering the methods errand calls (auth.test, users.info, users.lookupByEmail,
 *   conversations.open, chat.postMessage, chat.update, views.*). It counts calls per method and
 *   chat.postMessage per (channel, thread_ts), with the time of the first post to each thread, so a
 *   run can check that every event got its replies exactly once and how long they took.
 * - Bench users: `U<n>` ↔ `load.user<n>@example.com`, DM channel `D<n>` (see `benchPeople`).
 * - Signed Events API bodies (`signedEvent`), signed as Slack does (v0 HMAC-SHA256 of
 *   `v0:<timestamp>:<body>` with the signing secret).
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const BENCH_SIGNING_SECRET = 'bench-signing-secret-0123456789';
export const BENCH_BOT_TOKEN = 'xoxb-bench-token';
export const BENCH_TRIAGE_CHANNEL = 'CBENCHTRIAGE';

const pad = (n: number) => String(n).padStart(6, '0');
export const userId = (i: number): string => `UL${pad(i)}`;
export const dmOf = (i: number): string => `DL${pad(i)}`;
export const emailOf = (i: number): string => `load.user${pad(i)}@example.com`;
const indexOfUser = (id: string): number | undefined => { const m = /^UL(\d{6})$/.exec(id); return m ? Number(m[1]) : undefined; };
const indexOfEmail = (e: string): number | undefined => { const m = /^load\.user(\d{6})@example\.com$/.exec(e); return m ? Number(m[1]) : undefined; };

const DEPARTMENTS = ['Finance', 'Sales', 'Engineering', 'HR', 'Marketing', 'Operations', 'Legal', 'IT'];
const LOCATIONS = ['London', 'Berlin', 'New York', 'Madrid'];

/**
 * `count` directory people for the bench users, as seed YAML entries (a mix of departments and
 * locations; every 20th is a manager, the managers of the others are the demo seed's).
 */
export function benchPeople(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    email: emailOf(i), name: `Load User ${pad(i)}`, department: DEPARTMENTS[i % DEPARTMENTS.length], title: i % 20 === 0 ? 'Team Lead' : 'Analyst',
    roles: i % 20 === 0 ? ['employee', 'manager'] : ['employee'], manager: 'mark.manager@example.com', employmentType: 'employee',
    location: LOCATIONS[i % LOCATIONS.length], groups: ['all-staff'],
  }));
}

/** Known demo people (seed/people.yaml) that errand may look up in Slack (approvers, triage agents). */
const DEMO_IDS = new Map<string, string>();

export interface ThreadPosts { count: number; firstAt: number }

export class FakeSlackApi {
  readonly calls = new Map<string, number>();
  /** chat.postMessage per `channel:thread_ts` (thread_ts empty for top-level posts); only when tracking. */
  readonly threads = new Map<string, ThreadPosts>();
  /** Called on every chat.postMessage (time = performance.now()). */
  onPost: ((channel: string, threadTs: string | undefined, at: number) => void) | undefined;
  private server: http.Server | undefined;
  private ts = 1_700_000_000;
  url = '';

  constructor(private readonly o: { track: boolean; latencyMs?: number } = { track: true }) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
        const raw = Buffer.concat(chunks).toString('utf8');
        const args = (req.headers['content-type'] ?? '').includes('json') ? (JSON.parse(raw || '{}') as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
        const answer = this.answer(method, args);
        const send = () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(answer)); };
        if (this.o.latencyMs) setTimeout(send, this.o.latencyMs); else send();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  count(method: string): number { return this.calls.get(method) ?? 0; }

  private answer(method: string, a: Record<string, string>): Record<string, unknown> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    switch (method) {
      case 'auth.test': return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'TBENCH' };
      case 'users.info': {
        const i = indexOfUser(a.user ?? '');
        return i === undefined ? { ok: false, error: 'user_not_found' } : { ok: true, user: { id: a.user, profile: { email: emailOf(i) } } };
      }
      case 'users.lookupByEmail': {
        const email = a.email ?? '';
        const i = indexOfEmail(email);
        if (i !== undefined) return { ok: true, user: { id: userId(i) } };
        // demo people (approvers, triage agents): stable made-up ids
        let id = DEMO_IDS.get(email);
        if (!id) { id = `UDEMO${DEMO_IDS.size + 1}`; DEMO_IDS.set(email, id); }
        return { ok: true, user: { id } };
      }
      case 'conversations.open': {
        const u = a.users ?? '';
        const i = indexOfUser(u);
        return { ok: true, channel: { id: i !== undefined ? dmOf(i) : `D${u.slice(1)}` } };
      }
      case 'chat.postMessage': {
        const at = performance.now();
        this.ts += 1;
        const thread = a.thread_ts || undefined;
        if (this.o.track) {
          const k = `${a.channel}:${thread ?? ''}`;
          const t = this.threads.get(k);
          if (t) t.count += 1; else this.threads.set(k, { count: 1, firstAt: at });
        }
        this.onPost?.(a.channel ?? '', thread, at);
        return { ok: true, channel: a.channel, ts: `${this.ts}.000100` };
      }
      case 'chat.update': return { ok: true, channel: a.channel, ts: a.ts };
      case 'views.open': case 'views.update': case 'views.publish': return { ok: true, view: { id: 'VBENCH', hash: 'h1' } };
      default: return { ok: true };
    }
  }
}

/** Slack's request signature headers for `body`. */
export function signSlack(body: string, secret = BENCH_SIGNING_SECRET, ts = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`, 'x-slack-request-timestamp': String(ts) };
}

/** Thread root ts of the n-th event of a run (unique in the run; `base` = run start in epoch seconds). */
export const threadTsOf = (base: number, seq: number): string => `${base + Math.floor(seq / 1_000_000)}.${String(seq % 1_000_000).padStart(6, '0')}`;

/**
 * The JSON body of a `message.im` event callback from bench user `user`: a message in a thread of
 * the bot DM whose root is `threadTs`, so each event is its own conversation in errand
 * (`slack:<dm>:<threadTs>`) and its replies go to that thread.
 */
export function dmEventBody(eventId: string, user: number, text: string, threadTs: string): string {
  const event = { type: 'message', channel_type: 'im', channel: dmOf(user), user: userId(user), text, ts: threadTs, thread_ts: threadTs, event_ts: threadTs };
  return JSON.stringify({ token: 'bench', team_id: 'TBENCH', api_app_id: 'ABENCH', type: 'event_callback', event_id: eventId, event_time: Math.floor(Date.now() / 1000), event });
}

/** The errand conversation id of a bench event. */
export const conversationOf = (user: number, threadTs: string): string => `slack:${dmOf(user)}:${threadTs}`;

/**
 * Requests as employees write them: most classify to a catalogue item (a dialog starts), some go to
 * triage, one is out of scope (answered, not queued). Checked with `errand classify`. No MFA texts:
 * mfa-reset's pre-validation check calls https://idm.example.com, a host that does not exist, so its
 * figures would depend on the machine's DNS.
 */
export const REQUEST_TEXTS: readonly string[] = [
  'I need access to the finance drive',
  'can I get write access to the HR shared folder please',
  "my password expired and I can't log in",
  'I forgot my windows password',
  'locked out of my account after too many attempts',
  'reset my SAP password please',
  'I need VPN access to work from home',
  "the vpn won't let me connect from home",
  'my laptop is really slow and old, can I get a new one',
  'can I get a second monitor',
  'my mouse stopped working, need a replacement',
  'please install Visio on my computer',
  'I need a license for Adobe Acrobat Pro',
  'can you give me access to Salesforce',
  'I need access to Jira for the new project',
  'please add me to the finance-all distribution list',
  'I need access to the shared mailbox for accounts payable',
  'new phone please, mine has a cracked screen',
  'set up a slack channel for the Q3 launch',
  'the printer on floor 3 is jammed again',
  'outlook keeps crashing when I open attachments',
  'I need admin rights on my laptop to install drivers',
  'can you set up the blorp for me',
  "the thing in the meeting room doesn't work",
  'my colleague said you can sort out the portal stuff',
  'need help with the new system',
  'what is the capital of France',
];
