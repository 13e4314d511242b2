/**
 * The Microsoft Teams channel adapter (botbuilder CloudAdapter + ActivityHandler) at
 * POST /api/messages. It only translates: messages and Action.Execute invokes become the core's
 * InboundEvents or service calls; outbox messages go out proactively through TeamsDispatcher.
 * Uses only ActivityHandler / CloudAdapter / TurnContext / CardFactory (and TeamsInfo for the
 * roster e-mail), the surface @microsoft/agents-hosting shares.
 *
 * - Auth: real Bot Framework JWT validation when MICROSOFT_APP_ID is set; in development without
 *   it, unauthenticated activities are accepted (Bot Framework Emulator). Any failure before the
 *   bot logic runs is answered 401 (botbuilder answers some, e.g. an unknown signing key, with 500).
 * - Message activities are stored in the durable chat inbox (src/channels/chat-inbox.ts) before the
 *   HTTP answer: 200 once stored (or stored before: a duplicate activity id), 503 when they cannot be
 *   (the sender may deliver again); they are processed from there, in a proactive turn that carries
 *   the stored activity (replies, roster look-up), safe to run again after a partial failure.
 * - Duplicate invokes are dropped by activity id (inbound_dedupe in Postgres).
 * - Approval and triage clicks are decided by the services (who may act), inline, so the invoke
 *   response can carry the updated card.
 */
import botbuilder from 'botbuilder';
import type { Activity, TurnContext as TurnContextT, AdaptiveCardInvokeValue, AdaptiveCardInvokeResponse } from 'botbuilder';
import express from 'express';
import { audit } from '../../audit/audit.repository.js';
import type { ChannelAdapterDeps } from '../channel-adapter.js';
import type { TeamsConfig } from '../../config.js';
import { visibleFields } from '../../conversation/dialog-engine.js';
import type { OutMessage } from '../../conversation/messages.js';
import { requesterAttributes, searchPeople, type Person } from '../../directory/directory.repository.js';
import { isAppError } from '../../errors.js';
import { getApproval } from '../../requests/approval.repository.js';
import { checkEligibility } from '../../requests/eligibility.js';
import { validateAnswers } from '../../requests/validate-answers.js';
import { firstDelivery } from '../slack/slack-identity.js';
import { ChatInbox, claimDelivery, noteProgress, type ChatInboundRow } from '../chat-inbox.js';
import { formCard, formValues, neutralFromData, noticeCard, pickCard, readOnly, renderCard, type Card } from './adaptive-cards.js';
import { TeamsDispatcher } from './teams-dispatcher.js';
import { TeamsStore } from './teams-store.js';
import type { ChatMetrics } from '../../observability/metrics.js';

const { ActivityHandler, CloudAdapter, ConfigurationBotFrameworkAuthentication, TeamsInfo, TurnContext } = botbuilder;

export type TeamsAdapterDeps = ChannelAdapterDeps<TeamsConfig> & { metrics?: ChatMetrics };

export interface TeamsAdapter {
  router: express.Router; dispatcher: TeamsDispatcher;
  /** The durable inbox of message activities (src/channels/chat-inbox.ts); processing runs between start() and stop(). */
  inbox: ChatInbox;
  start(): Promise<void>; stop(): Promise<void>;
}

/** Turn state flag: the message activity could not be stored (answered 503). */
const STORE_FAILED = Symbol('errand.storeFailed');

const cardResponse = (value: Card): AdaptiveCardInvokeResponse => ({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value } as AdaptiveCardInvokeResponse);

export function createTeamsAdapter(d: TeamsAdapterDeps): TeamsAdapter {
  const c = d.config;
  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: c.appId, MicrosoftAppPassword: c.appPassword, MicrosoftAppType: c.appType, MicrosoftAppTenantId: c.tenantId,
    CertificateThumbprint: c.certThumbprint, CertificatePrivateKey: c.certKey,
  });
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (_ctx, err) => { d.log.error({ err: err.message }, 'teams turn error'); };
  const store = new TeamsStore(d.db);
  const dispatcher = new TeamsDispatcher(d.db, adapter, c.appId, store, c.triageChannel, d.log, d.metrics);
  const background = new Set<Promise<void>>();
  const later = (what: string, fn: () => Promise<void>) => {
    const p = fn().catch((e: Error) => d.log.error({ err: e.message, what }, 'teams background work failed')).finally(() => background.delete(p));
    background.add(p);
  };

  /** The directory person of the activity's sender (roster e-mail, or the Emulator's user name). */
  async function who(ctx: TurnContextT): Promise<Person | undefined> {
    const from = ctx.activity.from;
    if (typeof from?.id !== 'string' || !from.id) return undefined; // the Bot Framework always sends one; nobody to act for without it
    return store.personOf(from.aadObjectId, from.id, async () => {
      if (ctx.activity.channelId !== 'msteams') return from.name?.includes('@') ? from.name : from.id.includes('@') ? from.id : undefined;
      try {
        const m = await TeamsInfo.getMember(ctx, from.id);
        return m.email ?? m.userPrincipalName;
      } catch (e) {
        // not a member of this conversation (the roster does not know them): nobody we can act for
        if ((e as { statusCode?: number }).statusCode === 404) return undefined;
        throw e;
      }
    });
  }

  async function remember(ctx: TurnContextT, person: Person | undefined): Promise<void> {
    await store.saveReference(TurnContext.getConversationReference(ctx.activity), person?.email ?? null);
  }

  class ErrandBot extends ActivityHandler {
    constructor() {
      super();
      this.onMessage(async (ctx, next) => { await onMessage(ctx); await next(); });
      this.onConversationUpdate(async (ctx, next) => { await remember(ctx, ctx.activity.conversation.conversationType === 'personal' ? await who(ctx).catch(() => undefined) : undefined); await next(); });
    }

    protected override async onAdaptiveCardInvoke(ctx: TurnContextT, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
      return onCardAction(ctx, invokeValue);
    }

    // botbuilder reads value.action.type without checking: an invoke without an action object threw a
    // TypeError, answered 501 after the turn failed. It is the sender's mistake: 400.
    protected override async onInvokeActivity(ctx: TurnContextT): Promise<botbuilder.InvokeResponse> {
      const v = ctx.activity.value as { action?: unknown } | undefined;
      if (ctx.activity.name === 'adaptiveCard/action' && v && (typeof v !== 'object' || typeof v.action !== 'object' || v.action === null)) {
        return { status: 400, body: { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'An adaptiveCard/action invoke needs value.action (an Action.Execute).' } } };
      }
      return super.onInvokeActivity(ctx);
    }
  }
  const bot = new ErrandBot();

  /** A verified message activity: stored (the HTTP answer waits for it), processed by processStored. */
  async function onMessage(ctx: TurnContextT): Promise<void> {
    const a = ctx.activity;
    if (typeof a.id !== 'string' || !a.id || a.id.length > 500) {
      d.log.warn('teams: message activity without a usable id ignored');
      return;
    }
    try {
      if (await inbox.receive(a.id, a) === 'stored') void inbox.kick();
    } catch (e) {
      d.log.warn({ err: (e as Error).message }, 'teams: message not stored, answered 503');
      ctx.turnState.set(STORE_FAILED, true);
    }
  }

  const inbox = new ChatInbox({ db: d.db, log: d.log, channel: 'teams', handle: (row) => processStored(row), onFailed: (row) => tellFailed(row) });

  /** Runs `fn` in a proactive turn whose activity is the stored one (sendActivity replies to it, the roster is its conversation's). */
  async function inStoredTurn(a: Activity, fn: (ctx: TurnContextT) => Promise<void>): Promise<void> {
    // the adapter hands a turn's error to onTurnError and returns normally: it is rethrown here, so the inbox retries
    let failure: unknown;
    let ran = false;
    await adapter.continueConversationAsync(c.appId, TurnContext.getConversationReference(a), async (ctx) => {
      Object.assign(ctx.activity, a);
      try { await fn(ctx); ran = true; } catch (e) { failure = e ?? new Error('teams turn failed'); }
    });
    if (failure) throw failure;
    if (!ran) throw new Error('teams: the turn for a stored message did not run');
  }

  async function processStored(row: ChatInboundRow): Promise<void> {
    const stored = row.payload as Activity;
    if (!(await claimDelivery(d.db, 'teams', `activity:${stored.id}`, `inbox:${row.id}`))) return;
    await inStoredTurn(stored, (ctx) => handleMessage(ctx, row));
  }

  async function tellFailed(row: ChatInboundRow): Promise<void> {
    await inStoredTurn(row.payload as Activity, async (ctx) => {
      await ctx.sendActivity('Sorry, something went wrong on my side and I could not process your message. Please send it again in a moment.');
    });
  }

  /** One stored message (see the module comment): keyed so that a retry after a partial failure repeats nothing. */
  async function handleMessage(ctx: TurnContextT, row: ChatInboundRow): Promise<void> {
    const a = ctx.activity;
    const person = await who(ctx);
    await remember(ctx, person);
    if (!person) {
      await audit(d.db, { actor: `teams:${String(a.from.id).slice(0, 80)}`, action: 'channel.unknown-user', subject: 'teams', detail: { what: 'message' } });
      await ctx.sendActivity('I could not find your e-mail address in the company directory, so I cannot take requests from you. Please contact the service desk.');
      return;
    }
    const text = (a.conversation.conversationType === 'channel' ? TurnContext.removeRecipientMention(a) : a.text ?? '').trim();
    if (/^\/?request$/i.test(text)) {
      await ctx.sendActivity({ attachments: [botbuilder.CardFactory.adaptiveCard(pickCard(d.catalogue().list().filter((i) => checkEligibility(i, person).ok)))] });
      return;
    }
    const value = a.value as Record<string, unknown> | undefined;
    const action = value ? neutralFromData(value) : undefined;
    let conversationId = `teams:${a.conversation.id}`;
    if (a.conversation.conversationType === 'channel') {
      const personal = await personalChat(ctx, person);
      if (!row.progress.noticed) {
        await ctx.sendActivity("I've sent you a personal message to continue, so the details stay out of this channel.");
        await noteProgress(d.db, row.id, { noticed: true });
      }
      conversationId = `teams:${personal}`;
    }
    await d.conversation.handle({ channel: 'teams', personEmail: person.email, conversationId, ...(action ? { action } : { text }), deliveryKey: `teams:${a.id}` });
    later('kick', () => dispatcher.kick());
  }

  /** The person's personal chat with the bot (created when they have none yet). */
  async function personalChat(ctx: TurnContextT, person: Person): Promise<string> {
    const known = await store.personalConversationOf(person.email);
    if (known) return known;
    let id = '';
    const a = ctx.activity;
    await adapter.createConversationAsync(c.appId, a.channelId, a.serviceUrl, '', {
      isGroup: false, bot: a.recipient, members: [a.from], tenantId: a.conversation.tenantId, channelData: { tenant: { id: a.conversation.tenantId } },
    } as never, async (turn) => {
      id = turn.activity.conversation.id;
      await store.saveReference(TurnContext.getConversationReference(turn.activity), person.email);
    });
    return id;
  }

  /** The current card of an approval or triage item from the outbox (resolved once decided). */
  async function storedCard(link: { approvalId?: string; triageId?: string }, forEmail: string): Promise<OutMessage | undefined> {
    const [k, v] = link.approvalId ? ['approvalId', link.approvalId] : ['triageId', link.triageId];
    const r = await d.db.query<{ body: OutMessage }>(`SELECT body FROM messages WHERE body->>'${k}' = $1 ORDER BY (person_email = $2) DESC, id LIMIT 1`, [v, forEmail]);
    return r.rows[0]?.body;
  }

  async function approvalCardFor(approvalId: string, person: Person): Promise<Card> {
    const body = await storedCard({ approvalId }, person.email);
    const approval = await getApproval(d.db, approvalId);
    if (!body || !approval) return noticeCard('This approval no longer exists.', false);
    const mayAct = approval.status === 'pending' && approval.approvers.includes(person.email);
    const full = renderCard(body);
    return mayAct ? full : readOnly(full);
  }

  async function onCardAction(ctx: TurnContextT, v: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const a = ctx.activity;
    const data = (v.action?.data ?? {}) as Record<string, unknown>;
    const person = await who(ctx);
    await remember(ctx, person);
    if (!person) {
      await audit(d.db, { actor: `teams:${String(a.from.id).slice(0, 80)}`, action: 'channel.unknown-user', subject: 'teams', detail: { what: `card action ${String(data.id ?? v.action?.verb ?? '').slice(0, 120)}` } });
      return cardResponse(noticeCard('I could not find your e-mail address in the company directory.', false));
    }
    // Form steps are idempotent (a submit carries a submission key), so a repeated invoke gets the same answer.
    if (v.action?.verb === 'form') return cardResponse(await onForm(ctx, person, data));
    const fresh = await firstDelivery(d.db, 'teams', `activity:${a.id}`);

    if (v.action?.verb === 'refresh' || !fresh) {
      const id = typeof data.approvalId === 'string' ? data.approvalId : /^approval:([0-9a-f-]{36}):/.exec(String(data.id ?? ''))?.[1];
      if (id) return cardResponse(await approvalCardFor(id, person));
      return cardResponse(noticeCard('Already handled.'));
    }
    const act = neutralFromData(data);
    if (!act) return cardResponse(noticeCard('That button is not known.', false));
    // replies to a click in a channel (e.g. the triage channel) go to the clicker's personal chat
    const personal = a.conversation.conversationType === 'channel' ? await store.personalConversationOf(person.email) : undefined;
    const conversationId = `teams:${personal ?? a.conversation.id}`;
    const approval = /^approval:([0-9a-f-]{36}):(approve|deny)$/.exec(act.id);
    if (approval) {
      if (approval[2] === 'deny' && !act.value) {
        const card = await approvalCardFor(approval[1]!, person);
        const body = (card.body as Record<string, unknown>[]).map((b) => (b.id === 'reason' ? { ...b, isRequired: true, errorMessage: 'Please give a reason for denying.' } : b));
        return cardResponse({ ...card, body });
      }
      await d.conversation.handle({ channel: 'teams', personEmail: person.email, conversationId, action: act });
      later('kick', () => dispatcher.kick());
      return cardResponse(await approvalCardFor(approval[1]!, person));
    }
    const triage = /^triage:([0-9a-f-]{36}):/.exec(act.id);
    if (triage) {
      await d.conversation.handle({ channel: 'teams', personEmail: person.email, conversationId, action: act });
      later('kick', () => dispatcher.kick());
      const body = await storedCard({ triageId: triage[1] }, person.email);
      return cardResponse(body ? renderCard(body) : noticeCard('Done.'));
    }
    later('action', async () => {
      await d.conversation.handle({ channel: 'teams', personEmail: person.email, conversationId, action: act });
      await dispatcher.kick();
    });
    return cardResponse(noticeCard(`✔ ${act.value ?? 'Got it'}`));
  }

  async function onForm(ctx: TurnContextT, person: Person, data: Record<string, unknown>): Promise<Card> {
    const item = d.catalogue().get(String(data.itemId ?? ''));
    if (!item) return pickCard(d.catalogue().list().filter((i) => checkEligibility(i, person).ok));
    const elig = checkEligibility(item, person);
    if (!elig.ok) return noticeCard(`You can't request ${item.title}: ${elig.reason}.`, false);
    const values = data.id === 'form:pick' ? {} : formValues(item, data);
    const visible = visibleFields(item, values, requesterAttributes(person));
    if (data.id !== 'form:submit') return formCard(item, visible, values);
    const checked = await validateAnswers(item, requesterAttributes(person), values, { today: d.now(), findPeople: (t) => searchPeople(d.db, t) });
    if (!checked.ok) return formCard(item, visible, values, Object.fromEntries(checked.errors.map((e) => [e.field, e.message])));
    try {
      const { request } = await d.requests.submit({
        item, requesterEmail: person.email, answers: values, channel: 'teams', conversationId: `teams:${ctx.activity.conversation.id}`,
        submissionKey: `teams-form:${ctx.activity.replyToId ?? ctx.activity.id}`,
      });
      later('kick', () => dispatcher.kick());
      return noticeCard(`${request.ref} submitted: ${item.title}. I'll keep you posted here.`);
    } catch (e) {
      if (isAppError(e)) return noticeCard(e.message, false);
      throw e;
    }
  }

  const router = express.Router();
  router.post('/api/messages', async (req, res) => {
    let logicStarted = false;
    let storeFailed = false;
    // botbuilder answers some authentication failures (e.g. an unknown signing key) with 500:
    // anything that fails before our logic runs is an authentication problem → 401.
    const wrapped = {
      socket: res.socket,
      status(code: number) { res.status(code === 500 && !logicStarted ? 401 : storeFailed && code < 300 ? 503 : code); return wrapped; },
      header(name: string, value: unknown) { res.header(name, String(value)); return wrapped; },
      send(...args: unknown[]) { res.send(...(args as [unknown])); return wrapped; },
      end(...args: unknown[]) { res.end(...(args as [])); return wrapped; },
    };
    await adapter.process(req, wrapped as never, async (ctx) => {
      logicStarted = true;
      await bot.run(ctx);
      // a message that could not be stored is not acknowledged: 503 instead of botbuilder's 200
      if (ctx.turnState.get(STORE_FAILED)) storeFailed = true;
    });
  });

  return {
    router, dispatcher, inbox,
    async start() {
      dispatcher.start();
      inbox.start();
      void inbox.kick();
    },
    async stop() {
      await inbox.stop();
      await Promise.allSettled([...background]);
      await dispatcher.stop();
    },
  };
}
