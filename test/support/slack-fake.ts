/**
 * Slack at the HTTP boundary: correctly signed inbound requests (Events API JSON, form-encoded
 * interactions and slash commands, as Slack documents them), and the Web API faked with nock,
 * recording every call with its decoded arguments.
 */
import { createHmac } from 'node:crypto';
import nock from 'nock';

export const SLACK_SECRET = 'test-signing-secret-0123456789';
export const SLACK_API = 'https://slack.test/api/';
export const TRIAGE_CHANNEL = 'CTRIAGE01';

export const USERS: Record<string, { email: string; dm: string }> = {
  UERIN: { email: 'erin.employee@example.com', dm: 'DERIN' },
  UMARK: { email: 'mark.manager@example.com', dm: 'DMARK' },
  UOLGA: { email: 'olga.owner@example.com', dm: 'DOLGA' },
  UTARA: { email: 'tara.triage@example.com', dm: 'DTARA' },
  USTRANGER: { email: 'stranger@elsewhere.example', dm: 'DSTRANGER' },
};

export interface SlackCall { method: string; args: Record<string, unknown> }

export const slackEnv = (): Record<string, string> => ({
  SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_SIGNING_SECRET: SLACK_SECRET, SLACK_API_URL: SLACK_API, SLACK_TRIAGE_CHANNEL: TRIAGE_CHANNEL,
});

/** Calls of a method to answer with 429 (Retry-After: 1) before answering normally. */
export const rateLimits: Record<string, number> = {};

/** Fakes the Slack Web API; returns the list every call is appended to. */
export function fakeSlackApi(): SlackCall[] {
  const calls: SlackCall[] = [];
  let ts = 1_700_000_000;
  const decode = (body: unknown): Record<string, unknown> => {
    const raw = typeof body === 'string' ? Object.fromEntries(new URLSearchParams(body)) : (body as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === 'string' && /^[[{]/.test(v)) { try { out[k] = JSON.parse(v); continue; } catch { /* keep */ } }
      out[k] = v;
    }
    return out;
  };
  nock('https://slack.test').persist().post(/\/api\/.*/).reply(function (uri, body) {
    const method = uri.replace('/api/', '');
    const args = decode(body);
    calls.push({ method, args });
    if (rateLimits[method]) {
      rateLimits[method] -= 1;
      return [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }];
    }
    const user = Object.entries(USERS).find(([id]) => id === args.user)?.[1];
    switch (method) {
      case 'auth.test': return [200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' }];
      case 'users.info': return user ? [200, { ok: true, user: { id: args.user, profile: { email: user.email } } }] : [200, { ok: false, error: 'user_not_found' }];
      case 'users.lookupByEmail': {
        const hit = Object.entries(USERS).find(([, u]) => u.email === args.email);
        return hit ? [200, { ok: true, user: { id: hit[0] } }] : [200, { ok: false, error: 'users_not_found' }];
      }
      case 'conversations.open': return [200, { ok: true, channel: { id: USERS[String(args.users)]?.dm ?? 'DUNKNOWN' } }];
      case 'chat.postMessage': ts += 1; return [200, { ok: true, channel: args.channel, ts: `${ts}.000100` }];
      case 'chat.update': return [200, { ok: true, channel: args.channel, ts: args.ts }];
      case 'views.open': case 'views.update': case 'views.publish': return [200, { ok: true, view: { id: 'V1', hash: 'h1' } }];
      default: return [200, { ok: true }];
    }
  });
  return calls;
}

export function sign(body: string, ts = Math.floor(Date.now() / 1000)): Record<string, string> {
  const sig = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
  return { 'x-slack-signature': sig, 'x-slack-request-timestamp': String(ts) };
}

let seq = 0;
/** POSTs an Events API callback; returns the HTTP status. */
export async function sendEvent(base: string, event: Record<string, unknown>, o: { eventId?: string; retryNum?: number; ts?: number } = {}): Promise<number> {
  const body = JSON.stringify({ token: 'x', team_id: 'T1', api_app_id: 'A1', type: 'event_callback', event_id: o.eventId ?? `Ev${Date.now()}${seq++}`, event_time: Math.floor(Date.now() / 1000), event });
  const headers: Record<string, string> = { 'content-type': 'application/json', ...sign(body, o.ts) };
  if (o.retryNum) { headers['x-slack-retry-num'] = String(o.retryNum); headers['x-slack-retry-reason'] = 'http_timeout'; }
  return (await fetch(`${base}/slack/events`, { method: 'POST', headers, body })).status;
}

/** A DM from a user, as a `message.im` event. */
export function dmEvent(user: string, text: string, ts = `${Date.now() / 1000}`): Record<string, unknown> {
  return { type: 'message', channel_type: 'im', channel: USERS[user]!.dm, user, text, ts, event_ts: ts };
}

/** POSTs a form-encoded interaction payload (block_actions, view_submission). */
export async function sendInteraction(base: string, payload: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const r = await fetch(`${base}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...sign(body) }, body });
  return { status: r.status, body: await r.text() };
}

/** A click on a message button as Slack sends it. */
export function blockAction(user: string, channel: string, messageTs: string, action: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'block_actions', user: { id: user, team_id: 'T1' }, api_app_id: 'A1', token: 'x', trigger_id: `trig${seq++}`, team: { id: 'T1' },
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false }, channel: { id: channel },
    message: { ts: messageTs, type: 'message', text: '' }, actions: [{ block_id: 'b', action_ts: `${Date.now() / 1000}`, type: 'button', ...action }],
  };
}

/** A slash command as Slack sends it (form-encoded). */
export async function sendCommand(base: string, command: string, user: string, channel: string): Promise<number> {
  const body = new URLSearchParams({ token: 'x', team_id: 'T1', channel_id: channel, user_id: user, command, text: '', trigger_id: `trig${seq++}`, response_url: 'https://hooks.slack.test/cmd' }).toString();
  return (await fetch(`${base}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...sign(body) }, body })).status;
}

/** Text of every block of a recorded call, for assertions. */
export const blockText = (c: SlackCall | undefined): string => JSON.stringify(c?.args.blocks ?? '') + String(c?.args.text ?? '');
/** Action ids of the buttons/selects in a recorded call's blocks. */
export function actionIds(c: SlackCall | undefined): string[] {
  const blocks = (c?.args.blocks ?? []) as { type: string; elements?: { action_id?: string }[] }[];
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => e.action_id!).filter(Boolean));
}
