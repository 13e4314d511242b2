/**
 * The Slack channel adapter (Bolt 5). It only translates: Slack events, clicks, slash commands and
 * modal submissions become the core's InboundEvents or service calls; the core's outbox messages
 * are delivered by SlackDispatcher as Block Kit. Mounted at /slack/events on our express app
 * (HTTP mode), or connected through Socket Mode when SLACK_APP_TOKEN is set.
 *
 * Rules it keeps: requests are signature-checked by Bolt, and we also refuse timestamps more than
 * 5 minutes in the future; an exact replay of a correctly signed request (same timestamp, body and
 * signature, e.g. a captured button click sent again inside the 5-minute window) is acknowledged but
 * not processed (its signature is a key in inbound_dedupe); bodies over 1 MB get 413, signed bodies
 * that are not Slack payloads 400. DMs and @mentions (Events API) are stored in the durable chat inbox
 * (src/channels/chat-inbox.ts) before Slack gets its 200 — 503 when they cannot be stored, so Slack
 * delivers them again — and processed from there; a redelivery or replay of a stored event is a
 * duplicate of its row (event_id), another event for the same message is dropped by its (channel, ts)
 * key. In Socket Mode Bolt acknowledges before any listener runs: the event is stored right after (the
 * store retried while the database is down; an instance dying in between loses it). Interactive
 * payloads (buttons, modals, slash commands) stay on Bolt: acked first, worked afterwards (Slack does
 * not redeliver them; the person clicks again). Every decision is authorised by the services, never by
 * who could see a button. Text of people (an @mention) is escaped before it is posted back as mrkdwn.
 */
import bolt from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import express from 'express';
import { audit } from '../../audit/audit.repository.js';
import type { ChannelAdapterDeps } from '../channel-adapter.js';
import type { CatalogueItem } from '../../catalogue/schema.js';
import { visibleFields } from '../../conversation/dialog-engine.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { SlackConfig } from '../../config.js';
import { requesterAttributes, searchPeople, type Person } from '../../directory/directory.repository.js';
import { isAppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { getApproval, pendingApprovalsFor } from '../../requests/approval.repository.js';
import { checkEligibility } from '../../requests/eligibility.js';
import { getRequest } from '../../requests/request.repository.js';
import { validateAnswers } from '../../requests/validate-answers.js';
import { catalogueModal, denyModal, esc, formValues, homeView, itemFormModal, neutralAction } from './block-kit.js';
import { slackClientOptions } from './slack-connector.js';
import { inboxDecision, readRawBody, rejectSkewedTimestamps, signedBySlack, type InboxBody } from './slack-http.js';

export { inboxDecision, SLACK_BODY_LIMIT } from './slack-http.js';
import { SlackDispatcher } from './slack-dispatcher.js';
import { firstDelivery, pruneDedupe, SlackIdentities } from './slack-identity.js';
import { ChatInbox, claimDelivery, noteProgress, type ChatInboundRow } from '../chat-inbox.js';
import type { ChatMetrics } from '../../observability/metrics.js';

const { App, ExpressReceiver, LogLevel } = bolt;

export type SlackAdapterDeps = ChannelAdapterDeps<SlackConfig> & { metrics?: ChatMetrics };

export interface SlackAdapter {
  /** Mount before any body parser: Bolt verifies the raw body. Empty in Socket Mode. */
  router: express.Router;
  client: WebClient;
  dispatcher: SlackDispatcher;
  /** The durable inbox of DMs and @mentions (src/channels/chat-inbox.ts); processing runs between start() and stop(). */
  inbox: ChatInbox;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Slack waits 3 s for the answer; a store that takes longer is answered 503 (the redelivery finds the row if it did commit). */
const STORE_TIMEOUT_MS = 2500;

function boltLogger(log: Logger) {
  let level = LogLevel.WARN;
  return {
    debug: (...m: unknown[]) => log.debug({ slack: m }, 'bolt'),
    info: (...m: unknown[]) => log.debug({ slack: m }, 'bolt'),
    warn: (...m: unknown[]) => log.warn({ slack: m.map(String) }, 'bolt'),
    error: (...m: unknown[]) => log.error({ slack: m.map(String) }, 'bolt'),
    setLevel: (l: typeof level) => { level = l; },
    getLevel: () => level,
    setName: () => undefined,
  };
}

type ModalState = Parameters<typeof formValues>[0];

export function createSlackAdapter(d: SlackAdapterDeps): SlackAdapter {
  const router = express.Router();
  const socketMode = Boolean(d.config.appToken);
  const logger = boltLogger(d.log);
  // Honour 429 Retry-After a few times, then fail the call (the dispatcher retries later):
  // the client's default would keep retrying for ~30 minutes and stall a job.
  const clientOptions = slackClientOptions(d.config);
  let receiver: InstanceType<typeof ExpressReceiver> | undefined;
  if (!socketMode) {
    router.use('/slack/events', rejectSkewedTimestamps, ...readRawBody(d.config.signingSecret), (req, res, next) => { void storeEvent(req, res, next); });
    receiver = new ExpressReceiver({
      signingSecret: d.config.signingSecret, router, endpoints: '/slack/events', processBeforeResponse: false, logger,
      // Bolt has verified the signature when this runs: it becomes the replay key (below)
      customPropertiesExtractor: (req) => ({ slackSignature: req.headers['x-slack-signature'] }),
    });
  }
  const app = new App({
    token: d.config.botToken, logger, clientOptions,
    ...(socketMode ? { socketMode: true, appToken: d.config.appToken } : { receiver }),
  });
  const client = app.client;
  const ids = new SlackIdentities(d.db, client);
  const dispatcher = new SlackDispatcher(d.db, client, ids, d.config.triageChannel, d.log, d.metrics);
  const findPeople = (t: string) => searchPeople(d.db, t);

  /** Resolves the Slack user; tells them plainly when they are not in the directory (audited: nothing is done for them). */
  async function who(userId: string, replyChannel?: string, what = 'message'): Promise<Person | undefined> {
    const p = await ids.personOf(userId);
    if (!p) await audit(d.db, { actor: `slack:${String(userId ?? '').slice(0, 40)}`, action: 'channel.unknown-user', subject: 'slack', detail: { what } });
    if (!p && replyChannel) {
      await client.chat.postMessage({ channel: replyChannel, text: 'I could not find your Slack e-mail address in the company directory, so I cannot take requests from you. Please contact the service desk.' });
    }
    return p;
  }

  // An exact replay of a correctly signed request (same timestamp, body and signature: a captured click
  // or command sent again inside the 5-minute window) is acknowledged but not processed. Slack itself
  // never sends the same signature twice (its retries are signed anew and caught by event_id below).
  app.use(async ({ context, ack, next }) => {
    const signature = (context as { slackSignature?: unknown }).slackSignature;
    if (typeof signature === 'string' && !(await firstDelivery(d.db, 'slack', `sig:${signature}`))) {
      d.log.warn('slack: replayed request dropped (same signature seen before)');
      if (ack) await (ack as () => Promise<void>)();
      return;
    }
    await next();
  });

  const dm = async (p: Person, userId: string) => `slack:${await ids.dmChannel(userId)}`;
  const safely = (what: string, fn: () => Promise<void>) => fn().catch((e: Error) => d.log.error({ err: e.message, what }, 'slack handler failed'));

  // --- messages: DMs, and @mentions in channels (the dialog continues in a DM thread) ---
  // Stored in the durable inbox first (HTTP: before the 200, in storeEvent; Socket Mode: here, after
  // Bolt's ack), then processed from there by processEvent.
  const inbox = new ChatInbox({ db: d.db, log: d.log, channel: 'slack', handle: (row) => processEvent(row), onFailed: (row) => tellFailed(row) });

  /**
   * HTTP mode: a signed Events API body carrying a DM or an @mention is stored before it is answered:
   * 200 once the insert committed (or the event was stored before: a redelivery, a replay), 503 when it
   * could not be stored (Slack delivers again: after ~1 s, 1 min and 5 min). Everything else goes on to Bolt.
   */
  async function storeEvent(req: express.Request, res: express.Response, next: express.NextFunction): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (req.get('content-type')?.startsWith('application/x-www-form-urlencoded')
      || !signedBySlack(d.config.signingSecret, req.get('x-slack-request-timestamp'), raw, req.get('x-slack-signature'))) { next(); return; }
    let body: unknown;
    try { body = JSON.parse(raw.toString()); } catch { next(); return; }
    const decision = inboxDecision(body);
    if (decision === 'bolt') { next(); return; }
    if (decision === 'store') {
      const b = body as InboxBody;
      let timer: NodeJS.Timeout | undefined;
      try {
        const stored = inbox.receive(b.event_id, b);
        stored.catch(() => undefined); // a late failure after the timeout: answered 503 already
        await Promise.race([stored, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('storing the event took too long')), STORE_TIMEOUT_MS); })]);
      } catch (e) {
        d.log.warn({ err: (e as Error).message, event: b.event_id }, 'slack: event not stored, answered 503 (Slack delivers it again)');
        res.status(503).set('retry-after', '1').send('temporarily unavailable');
        return;
      } finally {
        clearTimeout(timer);
      }
    }
    res.status(200).end();
    if (decision === 'store') void inbox.kick();
  }

  /** Socket Mode: Bolt has acknowledged the event already; it is stored (retried while the database is down) and processed. */
  const storing = new Set<Promise<void>>();
  async function storeAcknowledged(body: unknown): Promise<void> {
    if (inboxDecision(body) !== 'store') return;
    const b = body as InboxBody;
    for (let attempt = 0, delay = 500; ; attempt++, delay = Math.min(delay * 2, 30_000)) {
      try {
        await inbox.receive(b.event_id, b);
        void inbox.kick();
        return;
      } catch (e) {
        if (stopping || attempt >= 20) { d.log.error({ err: (e as Error).message, event: b.event_id }, 'slack: acknowledged event could not be stored (lost)'); return; }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
  const acknowledged = ({ body }: { body: unknown }) => {
    const p = storeAcknowledged(body).finally(() => storing.delete(p));
    storing.add(p);
    return Promise.resolve();
  };
  app.event('message', acknowledged);
  app.event('app_mention', acknowledged);

  /**
   * One stored event. Safe to run again after a partial failure: its delivery keys belong to its row,
   * the conversation turn is keyed by the event (InboundEvent.deliveryKey), and an @mention's DM thread
   * is noted in the row once posted. Throws to have it retried.
   */
  async function processEvent(row: ChatInboundRow): Promise<void> {
    const { event_id: eventId, event: e } = row.payload as InboxBody;
    const owner = `inbox:${row.id}`;
    if (!(await claimDelivery(d.db, 'slack', `event:${eventId}`, owner))) return;
    if (!(await claimDelivery(d.db, 'slack', `msg:${e.channel}:${e.ts}`, owner))) return;
    const turn = `slack:${eventId}`;
    if (e.type === 'message') {
      const person = await who(e.user!, e.channel);
      if (!person) return;
      await d.conversation.handle({ channel: 'slack', personEmail: person.email, conversationId: `slack:${e.channel}${e.thread_ts ? `:${e.thread_ts}` : ''}`, text: e.text ?? '', deliveryKey: turn });
      void dispatcher.kick();
      return;
    }
    const person = await who(e.user!);
    if (!person) {
      await client.chat.postEphemeral({ channel: e.channel, user: e.user!, text: 'I could not find your Slack e-mail address in the company directory, so I cannot take requests from you.' });
      return;
    }
    const text = (e.text ?? '').replace(/<@[A-Z0-9]+>/g, '').trim();
    const dmChannel = await ids.dmChannel(e.user!);
    // details stay out of the channel: a DM thread carries the dialog
    let root = typeof row.progress.root === 'string' ? row.progress.root : undefined;
    if (!root) {
      root = (await client.chat.postMessage({ channel: dmChannel, text: `You asked in <#${e.channel}>: "${esc(text.slice(0, 500))}"` })).ts;
      if (!root) throw new Error('chat.postMessage gave no ts');
      await noteProgress(d.db, row.id, { root });
    }
    if (!row.progress.noticed) {
      await client.chat.postMessage({ channel: e.channel, thread_ts: e.ts, text: "I've sent you a direct message to continue." });
      await noteProgress(d.db, row.id, { noticed: true });
    }
    await d.conversation.handle({ channel: 'slack', personEmail: person.email, conversationId: `slack:${dmChannel}:${root}`, text, deliveryKey: turn });
    void dispatcher.kick();
  }

  /** The event was given up after repeated failures (logged and audited by the inbox): the person is told, directly. */
  async function tellFailed(row: ChatInboundRow): Promise<void> {
    const { event: e } = row.payload as InboxBody;
    const text = 'Sorry, something went wrong on my side and I could not process your message. Please send it again in a moment.';
    if (e.type === 'message') await client.chat.postMessage({ channel: e.channel, ...(e.thread_ts ? { thread_ts: e.thread_ts } : {}), text });
    else await client.chat.postEphemeral({ channel: e.channel, user: e.user!, text });
  }

  // --- buttons and selects: in messages, in the App Home, in modals ---
  app.action(/.*/, async ({ ack, body, action }) => {
    await ack();
    await safely('action', async () => {
      const b = body as unknown as {
        user: { id: string }; trigger_id: string; channel?: { id: string };
        message?: { ts: string; thread_ts?: string }; view?: { id: string; hash: string; type: string; callback_id?: string; private_metadata?: string; state: { values: ModalState } };
      };
      const a = action as unknown as Parameters<typeof neutralAction>[0];
      const person = await who(b.user.id, b.channel?.id, `action ${String((action as { action_id?: string }).action_id ?? '').slice(0, 120)}`);
      if (!person) return;

      if (b.view && b.view.type === 'modal') return onModalAction(person, b.view, a.action_id, a);

      const act = neutralAction(a);
      const deny = /^approval:([0-9a-f-]{36}):deny$/.exec(act.id);
      if (deny) {
        // authorise before showing the form: not an approver / already decided is answered at once
        const check = await d.requests.decide(deny[1]!, person.email, 'deny', null);
        if (check.outcome === 'reason-required') {
          const approval = await getApproval(d.db, deny[1]!);
          const request = approval && (await getRequest(d.db, approval.requestId));
          await client.views.open({ trigger_id: b.trigger_id, view: denyModal(deny[1]!, request?.ref ?? '') as never });
          return;
        }
        const text = check.outcome === 'already-decided' ? `Already decided: ${check.approval.status} by ${check.approval.decidedBy ?? 'someone else'}.` : 'message' in check ? check.message : 'Done.';
        await postMessage(d.db, person.email, { kind: 'error', text }, { conversationId: await dm(person, b.user.id) });
        await dispatcher.kick();
        return;
      }
      let conversationId: string;
      if (b.channel && b.channel.id === d.config.triageChannel && b.message) conversationId = `slack:${b.channel.id}:${b.message.thread_ts ?? b.message.ts}`;
      else if (b.channel?.id.startsWith('D')) conversationId = `slack:${b.channel.id}${b.message?.thread_ts ? `:${b.message.thread_ts}` : ''}`;
      else conversationId = await dm(person, b.user.id);
      await d.conversation.handle({ channel: 'slack', personEmail: person.email, conversationId, action: act });
      await dispatcher.kick();
      if (b.view?.type === 'home') await publishHome(b.user.id, person);
    });
  });

  async function onModalAction(person: Person, view: NonNullable<{ id: string; hash: string; private_metadata?: string; state: { values: ModalState } }>, actionId: string, a: { selected_option?: { value: string } }): Promise<void> {
    let item: CatalogueItem | undefined;
    if (actionId === 'catalogue:pick') item = d.catalogue().get(a.selected_option?.value ?? '');
    else item = d.catalogue().get(modalItemId(view.private_metadata));
    if (!item) return;
    const values = actionId === 'catalogue:pick' ? {} : formValues(view.state.values);
    const visible = visibleFields(item, normaliseForConditions(values), requesterAttributes(person));
    await client.views.update({ view_id: view.id, hash: view.hash, view: itemFormModal(item, visible, values) as never });
  }

  // --- modal submissions ---
  app.view('request-form', async ({ ack, body, view }) => {
    const state = (view.state?.values ?? {}) as ModalState;
    const person = body.user?.id ? await ids.personOf(body.user.id) : undefined;
    const item = d.catalogue().get(modalItemId(view.private_metadata));
    if (!person || !item) { await ack({ response_action: 'errors', errors: { [Object.keys(state)[0] ?? 'item']: 'This request can no longer be submitted.' } } as never); return; }
    const values = formValues(state);
    const checked = await validateAnswers(item, requesterAttributes(person), values, { today: d.now(), findPeople });
    if (!checked.ok) {
      const visible = new Set(Object.keys(state));
      const errors = Object.fromEntries(checked.errors.map((e) => [visible.has(e.field) ? e.field : [...visible][0] ?? e.field, e.message.slice(0, 150)]));
      await ack({ response_action: 'errors', errors } as never);
      return;
    }
    await ack();
    await safely('request-form', async () => {
      const conv = await dm(person, body.user.id);
      try {
        await d.requests.submit({ item, requesterEmail: person.email, answers: values, channel: 'slack', conversationId: conv, submissionKey: `slack-view:${view.id}` });
      } catch (e) {
        if (!isAppError(e)) throw e;
        await postMessage(d.db, person.email, { kind: 'error', text: e.message }, { conversationId: conv });
      }
      await dispatcher.kick();
    });
  });

  app.view('deny-reason', async ({ ack, body, view }) => {
    const reason = (view.state?.values as ModalState | undefined)?.reason?.reason?.value?.trim();
    if (!reason || reason.length < 3) { await ack({ response_action: 'errors', errors: { reason: 'Please give a reason (at least 3 characters).' } } as never); return; }
    await ack();
    await safely('deny-reason', async () => {
      const person = await ids.personOf(body.user.id);
      if (!person) return;
      await d.conversation.handle({ channel: 'slack', personEmail: person.email, conversationId: await dm(person, body.user.id), action: { id: `approval:${view.private_metadata}:deny`, value: reason } });
      await dispatcher.kick();
    });
  });

  // --- slash commands ---
  app.command('/request', async ({ ack, command }) => {
    await ack();
    await safely('/request', async () => {
      const person = await who(command.user_id);
      if (!person) { await client.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text: 'I could not find your Slack e-mail address in the company directory.' }); return; }
      const items = d.catalogue().list().filter((i) => checkEligibility(i, person).ok);
      await client.views.open({ trigger_id: command.trigger_id, view: catalogueModal(items) as never });
    });
  });

  app.command('/requests', async ({ ack, command }) => {
    await ack();
    await safely('/requests', async () => {
      const person = await who(command.user_id);
      if (!person) { await client.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text: 'I could not find your Slack e-mail address in the company directory.' }); return; }
      await d.conversation.handle({ channel: 'slack', personEmail: person.email, conversationId: await dm(person, command.user_id), text: 'status' });
      await dispatcher.kick();
    });
  });

  // --- App Home ---
  async function publishHome(userId: string, person: Person): Promise<void> {
    const approvals = await pendingApprovalsFor(d.db, person.email);
    const rows = [];
    for (const a of approvals) {
      const r = await getRequest(d.db, a.requestId);
      if (r) rows.push({ id: a.id, label: a.label, ref: r.ref, title: r.item.title, requester: r.requesterEmail });
    }
    await client.views.publish({ user_id: userId, view: homeView({ name: person.name, requests: await d.requests.statusOf(person.email), approvals: rows }) as never });
  }

  app.event('app_home_opened', async ({ event }) => safely('app_home_opened', async () => {
    const e = event as unknown as { user: string; tab?: string };
    if (e.tab && e.tab !== 'home') return;
    const person = await who(e.user);
    if (person) await publishHome(e.user, person);
  }));

  let pruneTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  return {
    router, client, dispatcher, inbox,
    async start() {
      stopping = false;
      if (socketMode) await app.start();
      dispatcher.start();
      // events stored before (by this instance before start, or by one that stopped) are picked up now
      inbox.start();
      void inbox.kick();
      pruneTimer = setInterval(() => { void pruneDedupe(d.db).catch(() => undefined); }, 60 * 60_000);
      pruneTimer.unref();
    },
    async stop() {
      stopping = true;
      if (pruneTimer) clearInterval(pruneTimer);
      if (socketMode) await app.stop();
      await Promise.allSettled([...storing]);
      await inbox.stop();
      await dispatcher.stop();
    },
  };
}

/** The catalogue item of a request-form modal (its private_metadata is ours: `{"itemId"}`); '' when unreadable. */
function modalItemId(meta: string | undefined): string {
  try {
    const v = JSON.parse(meta || '{}') as { itemId?: unknown } | null;
    return typeof v?.itemId === 'string' ? v.itemId : '';
  } catch {
    return '';
  }
}

/** Modal values as conditions see them (booleans stay booleans, numbers as numbers). */
function normaliseForConditions(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x) ? Number(x) : x]));
}
