/**
 * The conversation core: every channel hands it neutral InboundEvents. Button actions on
 * approvals and triage are routed to their services (authorised there); everything else runs
 * under the conversation's lock: idle → commands or classification (fulfil → dialog, unsure →
 * triage); active dialog → the dialog engine; its effects submit requests or hand over.
 * Replies are written to the outbox in the requester's conversation.
 */
import type { Catalogue } from '../catalogue/loader.js';
import type { CatalogueItem } from '../catalogue/schema.js';
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { findPerson, requesterAttributes, searchPeople, type Person } from '../directory/directory.repository.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { RequestService } from '../requests/request.service.js';
import { getRequestByRef } from '../requests/request.repository.js';
import { checkEligibility } from '../requests/eligibility.js';
import type { TriageService } from '../triage/triage.service.js';
import type { OverrideService } from '../fulfilment/overrides.service.js';
import type { AccessReviewService } from '../governance/access-reviews.js';
import { SatisfactionService } from '../reporting/satisfaction.js';
import { withConversation, latestConversationOf } from './conversation.repository.js';
import { checkDialogStart, continueDialog, startDialog, type DialogData, type DialogResult, type DialogState } from './dialog-engine.js';
import { isCheckFailure, type CheckService } from '../requests/checks/check-service.js';
import { cleanInbound, type InboundEvent, type OutMessage } from './messages.js';
import { postMessage } from './outbox.repository.js';
import { directoryPersonResolver } from './person-resolver.js';
import type { ClassifierMetrics } from '../observability/metrics.js';
import { versionOf } from '../catalogue/versions/live.js';
import { alternativeFor, isOffered, refusalOf, retiredPhrase, retirementOf, type IntakeGate, type Retirement } from '../catalogue/lifecycle/intake.js';

/** What the core needs from the intent classifier (the lexical one answers at once, the embedding ensemble asynchronously). */
export interface IntentClassifier {
  classify(text: string): IntentResult | Promise<IntentResult>;
}
type IntentResult = { intent: string | null; confidence: number; alternatives: { intent: string; confidence: number }[]; reason?: string };

export interface ConversationDeps {
  db: Database;
  catalogue: () => Catalogue;
  /** A catalogue version by number (dialogs continue on the version they started on). */
  catalogueAt?: (version: number) => Promise<Catalogue | undefined>;
  classifier: () => IntentClassifier;
  requests: RequestService;
  triage: TriageService;
  now: () => Date;
  log: Logger;
  /** Requesters' rating buttons after fulfilment (`rating:<requestId>:<1-5>`); default: stored in `db`. */
  ratings?: Pick<SatisfactionService, 'rate'>;
  /** Fulfillers' manual-task buttons (`task:<requestId>:<stepId>:done|failed`). */
  overrides?: OverrideService;
  /** Reviewers' Keep / Revoke buttons (`review:<itemId>:keep|revoke`). */
  reviews?: AccessReviewService;
  /** Catalogue change approvals (`change:<approvalId>:approve|deny`, src/catalogue/change), authorised there. */
  changes?: { decide(approvalId: string, actor: string, decision: 'approve' | 'deny', reason?: string | null): Promise<{ outcome: string; message: string }> };
  metrics?: ClassifierMetrics;
  /** Pre-validation (catalogue `checks:`): run in the dialog as soon as the answers they need are given. */
  checks?: Pick<CheckService, 'checker'>;
  /** Deprecated and removed items (src/catalogue/lifecycle/intake.ts): hidden from intake. */
  lifecycle?: IntakeGate;
}

/**
 * An out-of-scope message whose best catalogue item is below this confidence is answered as
 * chit-chat (with a button to reach a person); above it, it is plausible enough to queue for triage.
 */
export const OUT_OF_SCOPE_FLOOR = 0.15;

const STATUS = /^(status|my requests|requests|what'?s the status.*|show my requests)$/i;
const HELP = /^(help|\?|what can you do\??|menu)$/i;
const GREETING = /^(hi|hello|hey|good (morning|afternoon|evening)|thanks|thank you|ta|cheers)[!. ]*$/i;

/** Dialog data with the catalogue version it started on (stored in the conversation state). */
type PinnedDialog = DialogData & { catalogueVersion?: number };
const pinOf = (d: DialogData): { catalogueVersion?: number } => {
  const v = (d as PinnedDialog).catalogueVersion;
  return v === undefined ? {} : { catalogueVersion: v };
};

export class ConversationService {
  constructor(private readonly deps: ConversationDeps) {}

  private send(to: string, conversationId: string | null, m: OutMessage): Promise<number | undefined> {
    return postMessage(this.deps.db, to, m, { conversationId });
  }

  /** The triage item key of an inbox turn (a retry finds the item instead of queueing another). */
  private turnKey(ev: InboundEvent): { sourceKey?: string } {
    return ev.deliveryKey ? { sourceKey: `turn:${ev.deliveryKey}` } : {};
  }

  /** Handles one inbound event; never throws for bad user input (it answers instead). */
  async handle(inbound: InboundEvent): Promise<void> {
    const ev = cleanInbound(inbound);
    const person = await findPerson(this.deps.db, ev.personEmail);
    if (!person) {
      await postMessage(this.deps.db, ev.personEmail.toLowerCase(), { kind: 'error', text: 'I could not find you in the company directory, so I cannot take requests from this account. Please contact the service desk.' },
        { conversationId: ev.conversationId, ...(ev.deliveryKey ? { key: `turn:${ev.deliveryKey}:unknown` } : {}) });
      return;
    }
    const act = ev.action?.id ?? '';
    try {
      if (act.startsWith('change:')) return await this.onChangeAction(person, ev);
      if (act.startsWith('approval:')) return await this.onApprovalAction(person, ev);
      if (act.startsWith('triage:')) return await this.onTriageAction(person, ev);
      const review = /^review:([0-9a-f-]{36}):(keep|revoke)$/.exec(act);
      if (review && this.deps.reviews) {
        const out = await this.deps.reviews.decide(review[1]!, person.email, review[2] as 'keep' | 'revoke', ev.action?.value);
        await this.send(person.email, ev.conversationId, { kind: out.ok ? 'info' : 'error', text: out.message });
        return;
      }
      const rating = /^rating:([0-9a-f-]{36}):([1-5])$/.exec(act);
      if (rating) {
        const out = await (this.deps.ratings ?? new SatisfactionService(this.deps.db)).rate(rating[1]!, person.email, Number(rating[2]), ev.channel);
        await this.send(person.email, ev.conversationId, { kind: out.ok ? 'info' : 'error', text: out.message });
        return;
      }
      const task = /^task:([0-9a-f-]{36}):([a-z][a-z0-9-]+):(done|failed)$/.exec(act);
      if (task && this.deps.overrides) {
        const note = ev.action?.value?.trim() || (task[3] === 'failed' ? `marked failed in chat by ${person.email}` : undefined);
        const out = await this.deps.overrides.apply(task[1]!, task[2]!, task[3] === 'done' ? 'complete-done' : 'complete-failed', person.email, note);
        await this.send(person.email, ev.conversationId, { kind: out.ok ? 'info' : 'error', text: out.message });
        return;
      }
      const turn = ev.deliveryKey;
      await withConversation(this.deps.db, ev.conversationId, ev.channel, person.email, async (lock) => {
        if (lock.turnDone) return { state: lock.state, result: undefined }; // a retry of a turn that completed
        const version = versionOf(this.deps.catalogue());
        const res = await this.step(lock.state, person, ev);
        // a retry after a partial failure writes none of these twice
        for (const [i, m] of res.messages.entries()) await postMessage(this.deps.db, person.email, m, { conversationId: ev.conversationId, ...(turn ? { key: `turn:${turn}:${i}` } : {}) });
        return { state: this.pin(res.state, version), result: undefined };
      }, turn ? { turn } : {});
    } catch (e) {
      if (ev.deliveryKey) throw e; // the inbox retries the turn (and answers when it gives up)
      this.deps.log.error({ err: (e as Error).message, conversation: ev.conversationId }, 'conversation error');
      await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Sorry, something went wrong on my side; nothing was lost. Please try again in a moment.' });
    }
  }

  /** One step of the conversation state machine. */
  private async step(state: DialogState, person: Person, ev: InboundEvent): Promise<{ state: DialogState; messages: OutMessage[] }> {
    const text = (ev.text ?? '').trim();
    const act = ev.action?.id ?? '';
    const requester = requesterAttributes(person);

    if (state.mode === 'awaiting-deny-reason') {
      if (state.approvalId.startsWith('change:') && this.deps.changes) {
        if (!text || /^cancel$/i.test(text)) return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: 'OK, the change was not denied.' }] };
        const r = await this.deps.changes.decide(state.approvalId.slice('change:'.length), person.email, 'deny', text);
        return { state: { mode: 'idle' }, messages: [{ kind: r.outcome === 'denied' ? 'info' : 'error', text: r.message }] };
      }
      if (!text || /^cancel$/i.test(text)) return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: 'OK, the request was not denied.' }] };
      const msgs = await this.decide(person, state.approvalId, 'deny', text);
      return { state: { mode: 'idle' }, messages: msgs };
    }

    if (act.startsWith('start:')) {
      const item = this.deps.catalogue().get(act.slice('start:'.length));
      const retired = await this.retiredItem(act.slice('start:'.length));
      if (retired) return { state, messages: [retired] };
      if (!item) return { state, messages: [{ kind: 'error', text: 'That catalogue item does not exist (any more).' }] };
      const prefix: OutMessage[] = state.mode === 'idle' ? [] : [{ kind: 'info', text: 'I have set aside the request you were filling in.' }];
      const r = await this.begin(item, person, { triageId: ev.action?.value, conversationId: ev.conversationId });
      return { state: r.state, messages: [...prefix, ...r.messages] };
    }

    if (state.mode === 'collecting' || state.mode === 'confirming' || state.mode === 'handover-offer') {
      if (STATUS.test(text)) return { state, messages: [await this.statusMessage(person)] };
      const item = await this.itemOf(state.d);
      if (!item) return { state: { mode: 'idle' }, messages: [{ kind: 'error', text: 'The catalogue item of this dialog was removed; please start again.' }] };
      const checkAnswers = this.deps.checks?.checker(person, ev.conversationId);
      const res = await continueDialog(state, item, requester, { text, action: ev.action }, { today: this.deps.now(), findPeople: (t) => searchPeople(this.deps.db, t), ...(checkAnswers ? { checkAnswers } : {}) });
      return this.applyEffect(res, item, person, ev);
    }

    // idle
    if (!text && !act) return { state, messages: [] };
    if (act === 'desk:ask' && ev.action?.value?.trim()) {
      await this.deps.triage.create({ text: ev.action.value.trim().slice(0, 2000), requesterEmail: person.email, channel: ev.channel, conversationId: ev.conversationId, suggestions: [], reason: 'asked for a person', ...this.turnKey(ev) });
      return { state, messages: [{ kind: 'info', text: "I've passed it to the service desk; someone will pick it up and I'll continue with you here." }] };
    }
    if (act) return { state, messages: [{ kind: 'info', text: 'That button belongs to a conversation that has ended. Tell me what you need.' }] };
    if (STATUS.test(text)) return { state, messages: [await this.statusMessage(person)] };
    if (HELP.test(text) || GREETING.test(text)) return { state, messages: [this.helpMessage(person, await this.retirements())] };
    if (/^(cancel|stop|never ?mind)$/i.test(text)) return { state, messages: [{ kind: 'info', text: 'There is nothing in progress to cancel. To cancel a submitted request, say "cancel REQ-000123".' }] };
    const cancelRef = /^cancel\s+(REQ-\d+)$/i.exec(text);
    if (cancelRef) return { state, messages: [await this.cancelRequest(person, cancelRef[1]!)] };
    return this.classify(text, person, ev);
  }

  private async begin(item: CatalogueItem, person: Person, o: { text?: string; confidence?: number; triageId?: string; conversationId?: string }): Promise<DialogResult> {
    const retired = await this.retiredItem(item.id);
    if (retired) return { state: { mode: 'idle' }, messages: [retired] };
    const elig = checkEligibility(item, person);
    if (!elig.ok) return { state: { mode: 'idle' }, messages: [{ kind: 'error', text: `You can't request ${item.title}: ${elig.reason}. If you think that's wrong, ask the service desk.` }] };
    const resolvePerson = o.text ? await directoryPersonResolver(this.deps.db, o.text) : undefined;
    const { conversationId, ...start } = o;
    const r = startDialog(item, requesterAttributes(person), { ...start, today: this.deps.now(), ...(resolvePerson ? { resolvePerson } : {}) });
    return this.deps.checks ? checkDialogStart(item, r, requesterAttributes(person), this.deps.checks.checker(person, conversationId ?? null)) : r;
  }


  private async classify(text: string, person: Person, ev: InboundEvent): Promise<{ state: DialogState; messages: OutMessage[] }> {
    if (text.length > 2000) return { state: { mode: 'idle' }, messages: [{ kind: 'error', text: 'That message is too long for me (2000 characters at most). Please describe what you need in a sentence or two.' }] };
    const c = await this.deps.classifier().classify(text);
    await audit(this.deps.db, { actor: person.email, action: 'nlu.classified', subject: ev.conversationId, detail: { intent: c.intent, confidence: c.confidence, reason: c.reason ?? null, alternatives: c.alternatives.slice(0, 3) } });
    // A deprecated or removed item is not offered: its alternative is, or triage (the model may
    // still know a removed intent until `errand train` runs).
    const retirements = await this.retirements();
    const retired = c.intent ? retirementOf(retirements, this.deps.catalogue(), c.intent) : undefined;
    const redirect = retired ? alternativeFor(retirements, this.deps.catalogue(), retired.itemId) : undefined;
    const item = retired ? redirect : c.intent ? this.deps.catalogue().get(c.intent) : undefined;
    this.deps.metrics?.classified(c.confidence, item ? 'routed' : c.reason === 'out-of-scope' && c.confidence < OUT_OF_SCOPE_FLOOR ? 'out-of-scope' : 'triage');
    if (retired) await audit(this.deps.db, { actor: person.email, action: 'nlu.retired-intent', subject: ev.conversationId, detail: { intent: retired.itemId, deprecation: retired.deprecationId, routedTo: redirect?.id ?? 'triage' } });
    if (item) {
      const r = await this.begin(item, person, { text, confidence: c.confidence, conversationId: ev.conversationId });
      const note: OutMessage[] = retired ? [{ kind: 'info', text: `${retiredPhrase(retired)}, so I've started "${item.title}" instead.` }] : [];
      return { state: r.state, messages: [...note, ...r.messages] };
    }
    if (retired) {
      const suggestions = c.alternatives.filter((s) => isOffered(retirements, this.deps.catalogue(), s.intent)).slice(0, 3);
      await this.deps.triage.create({ text, requesterEmail: person.email, channel: ev.channel, conversationId: ev.conversationId, suggestions, reason: `classified as ${retired.itemId}, which is retired (deprecation #${retired.deprecationId}, ${retired.status === 'removed' ? 'removed' : 'until'} ${retired.until.toISOString().slice(0, 10)}) and has no alternative`, ...this.turnKey(ev) });
      return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: `${retiredPhrase(retired)}, so I've passed your message to the service desk. Someone will pick it up shortly and I'll continue with you here.` }] };
    }
    if (c.reason === 'out-of-scope' && c.confidence < OUT_OF_SCOPE_FLOOR) {
      // Chit-chat and non-IT questions are not queued for triage, but one click sends them to a person.
      return { state: { mode: 'idle' }, messages: [{
        kind: 'info',
        text: "That doesn't sound like an IT request I can handle. I can help with access, accounts, software and hardware, or reporting a fault. If it is an IT request, I can pass it to the service desk.",
        buttons: [{ id: 'desk:ask', label: 'Pass it to the service desk', value: text.slice(0, 2000) }],
      }] };
    }
    const suggestions = [...(c.intent ? [{ intent: c.intent, confidence: c.confidence }] : []), ...c.alternatives].filter((s) => isOffered(retirements, this.deps.catalogue(), s.intent)).slice(0, 3);
    await this.deps.triage.create({ text, requesterEmail: person.email, channel: ev.channel, conversationId: ev.conversationId, suggestions, reason: c.reason, ...this.turnKey(ev) });
    return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: "I'm not sure which request that is, so I've passed it to the service desk. Someone will pick it up shortly and I'll continue with you here." }] };
  }

  private async applyEffect(res: DialogResult, item: CatalogueItem, person: Person, ev: InboundEvent): Promise<{ state: DialogState; messages: OutMessage[] }> {
    const eff = res.effect;
    if (!eff || eff.type === 'cancelled') return res;
    if (eff.type === 'handover' && eff.reason === 'misclassified') {
      // keep the person's own words (they become the training label's text) and drop the wrong suggestion
      const text = eff.d.originalText ?? item.title;
      const retirements = await this.retirements();
      const alternatives = (await this.deps.classifier().classify(text)).alternatives.filter((a) => a.intent !== item.id && isOffered(retirements, this.deps.catalogue(), a.intent)).slice(0, 3);
      await this.deps.triage.create({ text, requesterEmail: person.email, channel: ev.channel, conversationId: ev.conversationId, suggestions: alternatives, reason: `misclassified as ${item.id}`, ...this.turnKey(ev) });
      await audit(this.deps.db, { actor: person.email, action: 'nlu.corrected', subject: ev.conversationId, detail: { text, wrongIntent: item.id } });
      return res;
    }
    if (eff.type === 'handover') {
      await this.deps.triage.create({ text: `${eff.d.originalText ?? item.title} (handed over during the ${item.title} dialog: ${eff.reason})`, requesterEmail: person.email, channel: ev.channel, conversationId: ev.conversationId, suggestions: [{ intent: item.id, confidence: eff.d.confidence ?? 0 }], reason: 'handover', ...this.turnKey(ev) });
      return res;
    }
    const out = await this.submit(eff.d, item, person, ev);
    if (out.keep) return { state: { mode: 'confirming', d: eff.d }, messages: [...res.messages, ...out] };
    return { state: res.state, messages: [...res.messages, ...out] };
  }

  private async submit(d: DialogData, item: CatalogueItem, person: Person, ev: InboundEvent): Promise<OutMessage[] & { keep?: boolean }> {
    try {
      const { created } = await this.deps.requests.submit({
        item, requesterEmail: person.email, answers: d.answers, channel: ev.channel, conversationId: ev.conversationId,
        originalText: d.originalText, confidence: d.confidence, submissionKey: `dialog:${d.id}`, ...pinOf(d),
      });
      return created ? [] : [{ kind: 'info', text: 'That request was already submitted.' }];
    } catch (e) {
      if (isCheckFailure(e)) {
        // a check failed at submission (e.g. the last seat went meanwhile): keep the answers, say why, offer what works
        const msgs: OutMessage[] & { keep?: boolean } = e.failures.map((f) => ({
          kind: 'error' as const, text: f.message ?? `${f.label} failed`,
          ...(f.field && f.alternatives?.length ? { choices: { options: f.alternatives, multi: false, actionId: `dialog:set:${f.field}` } } : {}),
        }));
        msgs.push({ kind: 'prompt', text: 'Nothing was submitted. Change an answer, try again, or cancel.', buttons: [{ id: 'dialog:confirm', label: 'Try again', style: 'primary' }, { id: 'dialog:edit', label: 'Edit' }, { id: 'dialog:cancel', label: 'Cancel', style: 'danger' }] });
        msgs.keep = true;
        return msgs;
      }
      if (isAppError(e)) {
        const details = Array.isArray(e.details.errors) ? `\n${(e.details.errors as { field: string; message: string }[]).map((x) => `- ${x.field}: ${x.message}`).join('\n')}` : '';
        return [{ kind: 'error', text: `${e.message}${details}` }];
      }
      throw e;
    }
  }

  private async decide(person: Person, approvalId: string, decision: 'approve' | 'deny', reason?: string): Promise<OutMessage[]> {
    const r = await this.deps.requests.decide(approvalId, person.email, decision, reason);
    switch (r.outcome) {
      case 'approved': return [{ kind: 'info', text: `You approved ${r.request.ref}.` }];
      case 'denied': return [{ kind: 'info', text: `You denied ${r.request.ref}. The requester has been told.` }];
      case 'already-decided': return [{ kind: 'info', text: `Already decided: ${r.approval.status} by ${r.approval.decidedBy ?? 'someone else'}.` }];
      default: return [{ kind: 'error', text: r.message }];
    }
  }

  private async onApprovalAction(person: Person, ev: InboundEvent): Promise<void> {
    const m = /^approval:([0-9a-f-]{36}):(approve|deny)$/i.exec(ev.action!.id);
    if (!m) { await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Unknown approval action.' }); return; }
    const [, id, decision] = m as unknown as [string, string, 'approve' | 'deny'];
    const reason = ev.action!.value?.trim();
    if (decision === 'deny' && !reason) {
      // Ask for the reason in this conversation (channels with forms send it with the click).
      const r = await this.deps.requests.decide(id, person.email, 'deny', null);
      if (r.outcome !== 'reason-required') { for (const msg of await this.describe(r)) await this.send(person.email, ev.conversationId, msg); return; }
      await withConversation(this.deps.db, ev.conversationId, ev.channel, person.email, async () => ({
        state: { mode: 'awaiting-deny-reason', approvalId: id }, result: undefined,
      }));
      await this.send(person.email, ev.conversationId, { kind: 'prompt', text: `${r.message} (or "cancel")`, input: { type: 'text' } });
      return;
    }
    for (const msg of await this.decide(person, id, decision, reason)) await this.send(person.email, ev.conversationId, msg);
  }

  /**
   * A catalogue change approval card's button. Decided by ChangeService (only a listed approver who
   * is not the author; the first decision wins); Deny without a reason asks for one here. Not by
   * e-mail reply: e-mail has no approve/deny links for changes.
   */
  private async onChangeAction(person: Person, ev: InboundEvent): Promise<void> {
    const m = /^change:([0-9a-f-]{36}):(approve|deny)$/i.exec(ev.action!.id);
    if (!m || !this.deps.changes) { await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Unknown change approval action.' }); return; }
    if (ev.channel === 'email') { await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Catalogue changes are approved in chat (or with errand change approve), not by e-mail reply.' }); return; }
    const [, id, decision] = m as unknown as [string, string, 'approve' | 'deny'];
    const reason = ev.action!.value?.trim();
    const r = await this.deps.changes.decide(id, person.email, decision, reason || null);
    if (r.outcome === 'reason-required') {
      await withConversation(this.deps.db, ev.conversationId, ev.channel, person.email, async () => ({
        state: { mode: 'awaiting-deny-reason', approvalId: `change:${id}` }, result: undefined,
      }));
      await this.send(person.email, ev.conversationId, { kind: 'prompt', text: `${r.message} (or "cancel")`, input: { type: 'text' } });
      return;
    }
    const ok = ['approved', 'denied', 'published', 'scheduled', 'already-decided'].includes(r.outcome);
    await this.send(person.email, ev.conversationId, { kind: ok ? 'info' : 'error', text: r.message });
  }

  private async describe(r: Awaited<ReturnType<RequestService['decide']>>): Promise<OutMessage[]> {
    if (r.outcome === 'already-decided') return [{ kind: 'info', text: `Already decided: ${r.approval.status} by ${r.approval.decidedBy ?? 'someone else'}.` }];
    if ('message' in r) return [{ kind: 'error', text: r.message }];
    return [];
  }

  private async onTriageAction(person: Person, ev: InboundEvent): Promise<void> {
    const m = /^triage:([0-9a-f-]{36}):(assign(?::([a-z][a-z0-9-]+))?|not-a-request|case)$/i.exec(ev.action!.id);
    if (!m) { await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Unknown triage action.' }); return; }
    const id = m[1]!;
    const itemId = m[3] ?? ev.action!.value;
    const kind = m[2]!.startsWith('assign') ? 'assign' : (m[2] as 'not-a-request' | 'case');
    if (kind === 'assign' && !itemId) { await this.send(person.email, ev.conversationId, { kind: 'error', text: 'Choose a catalogue item to assign.' }); return; }
    const r = await this.deps.triage.decide(id, person.email, kind === 'assign' ? { kind, itemId: itemId! } : { kind });
    if (!r.ok) { await this.send(person.email, ev.conversationId, { kind: 'error', text: r.message }); return; }
    await this.send(person.email, ev.conversationId, { kind: 'info', text: `Done: "${r.item.text}" → ${kind === 'assign' ? itemId : kind}${r.caseRef ? ` (${r.caseRef})` : ''}.` });
    if (kind === 'assign') await this.resumeAfterTriage(r.item.requesterEmail, r.item.conversationId, itemId!, r.item.text, r.item.id);
  }

  /** Starts the dialog for the assigned item in the requester's conversation. */
  private async resumeAfterTriage(email: string, conversationId: string, itemId: string, text: string, triageId: string): Promise<void> {
    const item = this.deps.catalogue().get(itemId)!;
    const requester = (await findPerson(this.deps.db, email))!;
    const conv = conversationId ?? (await latestConversationOf(this.deps.db, email))?.id;
    await withConversation(this.deps.db, conv, conv.split(':')[0] ?? 'web', email, async (lock) => {
      if (lock.state.mode !== 'idle') {
        await this.send(email, conv, { kind: 'prompt', text: `The service desk says "${text}" is a ${item.title} request. Start it when you're ready.`, buttons: [{ id: `start:${item.id}`, label: `Start ${item.title}`, value: triageId }] });
        return { state: lock.state, result: undefined };
      }
      const r = await this.begin(item, requester, { text, triageId, conversationId: conv });
      await this.send(email, conv, { kind: 'info', text: `The service desk looked at "${text}": it's a ${item.title} request. Let's continue.` });
      for (const m of r.messages) await this.send(email, conv, m);
      return { state: this.pin(r.state, versionOf(this.deps.catalogue())), result: undefined };
    });
  }

  private async cancelRequest(person: Person, ref: string): Promise<OutMessage> {
    const r = await getRequestByRef(this.deps.db, ref);
    if (!r || r.requesterEmail !== person.email) return { kind: 'error', text: `You have no request ${ref.toUpperCase()}.` };
    const done = await this.deps.requests.cancel(r.id, person.email);
    return done ? { kind: 'info', text: `${r.ref} cancelled.` } : { kind: 'error', text: `${r.ref} can no longer be cancelled (it is ${r.status}).` };
  }

  private async statusMessage(person: Person): Promise<OutMessage> {
    const list = await this.deps.requests.statusOf(person.email);
    if (list.length === 0) return { kind: 'status', text: 'You have no open requests.' };
    return { kind: 'status', text: `Your open requests (${list.length}):`, progress: list, fields: list.map((p) => ({ label: `${p.ref} ${p.title}`, value: `${p.stage} (step ${p.step} of ${p.of})` })) };
  }

  /**
   * Version pin: a dialog records the catalogue version it started on (when its state is first
   * saved) and keeps it to submission, so a publish meanwhile changes neither its questions nor
   * the request's item.
   */
  private pin(state: DialogState, version: number | undefined): DialogState {
    if (version === undefined || !('d' in state) || (state.d as PinnedDialog).catalogueVersion !== undefined) return state;
    return { ...state, d: { ...state.d, catalogueVersion: version } as PinnedDialog };
  }

  /** The dialog's item in its pinned version (the current catalogue for dialogs without a pin). */
  private async itemOf(d: DialogData): Promise<CatalogueItem | undefined> {
    const v = (d as PinnedDialog).catalogueVersion;
    const pinned = v !== undefined && this.deps.catalogueAt ? await this.deps.catalogueAt(v) : undefined;
    return (pinned ?? this.deps.catalogue()).get(d.itemId);
  }

  /** Deprecated and removed items by id (empty without a lifecycle gate). */
  private async retirements(): Promise<Map<string, Retirement>> {
    return this.deps.lifecycle ? this.deps.lifecycle.retirements() : new Map();
  }

  /** The refusal for a deprecated or removed item (with a button for its alternative), if it is one. */
  private async retiredItem(itemId: string): Promise<OutMessage | undefined> {
    const map = await this.retirements();
    const r = retirementOf(map, this.deps.catalogue(), itemId);
    if (!r) return undefined;
    const f = refusalOf(map, this.deps.catalogue(), r);
    return { kind: 'error', text: f.text, ...(f.buttons.length ? { buttons: f.buttons } : {}) };
  }

  private helpMessage(person: Person, retired: Map<string, Retirement>): OutMessage {
    const items = this.deps.catalogue().list().filter((i) => checkEligibility(i, person).ok && isOffered(retired, this.deps.catalogue(), i.id));
    return {
      kind: 'info',
      text: `Hi ${person.name.split(' ')[0]}! Tell me what you need in your own words (e.g. "I need access to the finance drive"), or pick one below. Say "status" to see your requests.`,
      buttons: items.slice(0, 20).map((i) => ({ id: `start:${i.id}`, label: i.title })),
    };
  }
}
