/**
 * The HTTP edge of the Slack adapter (Events API mode): timestamp skew, body size, signature and shape
 * checks before Bolt, and which signed event bodies go to the durable chat inbox.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';

const MAX_SKEW_S = 300;
/** Slack's payloads are far smaller (a modal of 100 blocks is a few hundred kB at most). */
export const SLACK_BODY_LIMIT = '1mb';

/** Bolt accepts future timestamps; replayed or forged requests dated ahead are refused here. */
export function rejectSkewedTimestamps(req: express.Request, res: express.Response, next: express.NextFunction): void {
  const ts = Number(req.get('x-slack-request-timestamp'));
  if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > MAX_SKEW_S) {
    res.status(401).send('invalid request timestamp');
    return;
  }
  next();
}

/** Whether `signature` is Slack's v0 HMAC of `v0:<timestamp>:<body>` under the signing secret. */
export function signedBySlack(secret: string, timestamp: string | undefined, body: Buffer, signature: string | undefined): boolean {
  if (!timestamp || !signature) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** False when the body parses (as Bolt parses it) to something other than an object: Bolt would answer 500. */
export function slackShaped(body: string, contentType: string | undefined): boolean {
  try {
    let v: unknown = contentType === 'application/x-www-form-urlencoded' ? Object.fromEntries(new URLSearchParams(body)) : JSON.parse(body);
    if (contentType === 'application/x-www-form-urlencoded' && typeof (v as { payload?: unknown }).payload === 'string') v = JSON.parse((v as { payload: string }).payload);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return true; // not parseable at all: Bolt answers 400
  }
}

/**
 * Reads the raw body, at most SLACK_BODY_LIMIT (413 beyond; Bolt verifies and parses `req.rawBody`).
 * A correctly signed body that is JSON but not an object (`null`, a list) gets 400 here.
 */
export function readRawBody(signingSecret: string): express.RequestHandler[] {
  return [
    express.raw({ type: () => true, limit: SLACK_BODY_LIMIT, inflate: false }),
    (req, res, next) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      (req as unknown as { rawBody: Buffer }).rawBody = raw;
      if (!slackShaped(raw.toString(), req.get('content-type')) && signedBySlack(signingSecret, req.get('x-slack-request-timestamp'), raw, req.get('x-slack-signature'))) {
        res.status(400).send('not a Slack payload');
        return;
      }
      next();
    },
  ];
}

/** An Events API body errand acts on: a DM from a person, or an @mention. */
export interface InboxBody { event_id: string; event: SlackMessageEvent }
export interface SlackMessageEvent { type: 'message' | 'app_mention'; subtype?: string; bot_id?: string; channel_type?: string; channel: string; user?: string; text?: string; ts: string; thread_ts?: string }

/**
 * What the durable inbox does with a signed Events API body: `store` (a DM from a user or an @mention:
 * stored before the 200), `ignore` (a message event errand never acts on: bot messages, edits, other
 * channels; answered 200 at once) or `bolt` (anything else: url_verification, App Home, ... as before).
 */
export function inboxDecision(body: unknown): 'store' | 'ignore' | 'bolt' {
  const b = body as { type?: unknown; event_id?: unknown; event?: Record<string, unknown> } | null;
  if (!b || typeof b !== 'object' || b.type !== 'event_callback' || !b.event || typeof b.event !== 'object') return 'bolt';
  const e = b.event;
  if (e.type !== 'message' && e.type !== 'app_mention') return 'bolt';
  if (typeof b.event_id !== 'string' || !/^[A-Za-z0-9._:-]{1,200}$/.test(b.event_id)) return 'ignore';
  if (typeof e.channel !== 'string' || typeof e.ts !== 'string' || typeof e.user !== 'string' || !e.user) return 'ignore';
  if (e.type === 'message' && (e.subtype || e.bot_id || e.channel_type !== 'im')) return 'ignore';
  return 'store';
}
