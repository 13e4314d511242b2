/**
 * The triage queue: messages the classifier could not place with confidence. Triage staff
 * (role `triage`) assign an item, close as "not a request", or handle as a case. A decision is a
 * conditional update (first wins), is stored as a training label, and the requester is told.
 */
import { randomUUID } from 'node:crypto';
import type { Catalogue } from '../catalogue/loader.js';
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { findPerson, peopleWithRole } from '../directory/directory.repository.js';
import type { OutMessage } from '../conversation/messages.js';
import { checkEligibility } from '../requests/eligibility.js';
import { openCase } from '../cases/case.repository.js';
import { postMessage, resolveMessages } from '../conversation/outbox.repository.js';
import { runbookFields, runbooksFor } from '../catalogue/versions/runbooks.js';

export interface TriageItem {
  id: string; text: string; requesterEmail: string; channel: string; conversationId: string;
  suggestions: { intent: string; confidence: number }[]; status: string; assignedItem: string | null; createdAt: Date;
}

const toItem = (r: Record<string, unknown>): TriageItem => ({
  id: r.id as string, text: r.text as string, requesterEmail: r.requester_email as string, channel: r.channel as string,
  conversationId: r.conversation_id as string, suggestions: r.suggestions as TriageItem['suggestions'], status: r.status as string,
  assignedItem: r.assigned_item as string | null, createdAt: r.created_at as Date,
});

export type TriageDecision = { kind: 'assign'; itemId: string } | { kind: 'not-a-request' } | { kind: 'case' };

export class TriageService {
  constructor(private readonly db: Database, private readonly catalogue: () => Catalogue) {}

  private card(t: TriageItem, requesterName: string): OutMessage {
    const items = this.catalogue().list();
    const title = (id: string) => items.find((i) => i.id === id)?.title ?? id;
    // the runbook of the top suggestion, so triage can tell at once how such a request is handled
    const top = t.suggestions[0] ? items.find((i) => i.id === t.suggestions[0]!.intent) : undefined;
    const runbooks = top ? runbookFields(runbooksFor(top)).map((f) => ({ ...f, label: `${f.label} (${top.title})` })) : [];
    return {
      kind: 'triage',
      text: `Triage: ${requesterName} wrote "${t.text}"`,
      fields: [...(t.suggestions.length ? [{ label: 'Suggestions', value: t.suggestions.map((s) => `${title(s.intent)} (${Math.round(s.confidence * 100)}%)`).join(', ') }] : []), ...runbooks],
      buttons: [
        ...t.suggestions.slice(0, 3).map((s) => ({ id: `triage:${t.id}:assign:${s.intent}`, label: title(s.intent) })),
        { id: `triage:${t.id}:case`, label: 'Handle as case' },
        { id: `triage:${t.id}:not-a-request`, label: 'Not a request', style: 'danger' as const },
      ],
      choices: { options: items.map((i) => ({ value: i.id, label: i.title })), multi: false, actionId: `triage:${t.id}:assign` },
      triageId: t.id,
    };
  }

  /**
   * Queues a message for triage and shows it to every triage agent. With `sourceKey` (a turn of the
   * chat inbox), an item queued under that key before is returned as it is (a retried turn queues none twice).
   */
  async create(input: { text: string; requesterEmail: string; channel: string; conversationId: string; suggestions: { intent: string; confidence: number }[]; reason?: string; sourceKey?: string }): Promise<TriageItem> {
    return this.db.transaction(async (tx) => {
      const r = await tx.query(
        `INSERT INTO triage_items (id, text, requester_email, channel, conversation_id, suggestions, status, source_key) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
         ON CONFLICT (source_key) DO NOTHING RETURNING *`,
        [randomUUID(), input.text, input.requesterEmail, input.channel, input.conversationId, JSON.stringify(input.suggestions), input.sourceKey ?? null],
      );
      if (!r.rows[0]) return toItem((await tx.query('SELECT * FROM triage_items WHERE source_key = $1', [input.sourceKey])).rows[0]!);
      const t = toItem(r.rows[0]!);
      const requester = await findPerson(tx, input.requesterEmail);
      for (const agent of await peopleWithRole(tx, 'triage')) {
        if (agent.email !== input.requesterEmail) await postMessage(tx, agent.email, this.card(t, requester?.name ?? input.requesterEmail), { key: `${t.id}:card:${agent.email}` });
      }
      await audit(tx, { actor: 'system', action: 'triage.queued', subject: t.id, detail: { suggestions: input.suggestions, reason: input.reason ?? null } });
      return t;
    });
  }

  async open(): Promise<TriageItem[]> {
    return (await this.db.query(`SELECT * FROM triage_items WHERE status = 'open' ORDER BY created_at`)).rows.map(toItem);
  }

  async get(id: string): Promise<TriageItem | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const r = await this.db.query('SELECT * FROM triage_items WHERE id = $1', [id]);
    return r.rows[0] ? toItem(r.rows[0]) : undefined;
  }

  /**
   * A triage agent's decision. Returns the decided item, or an error message (not allowed,
   * unknown item, already decided).
   */
  async decide(id: string, actorEmail: string, d: TriageDecision): Promise<{ ok: true; item: TriageItem; caseRef?: string } | { ok: false; message: string }> {
    const actor = await findPerson(this.db, actorEmail);
    if (!actor?.roles.includes('triage')) {
      // e.g. a colleague in the triage channel who can see the card's buttons
      await audit(this.db, { actor: actorEmail.toLowerCase(), action: 'triage.refused', subject: id, detail: { decision: d.kind, why: actor ? 'not triage staff' : 'not in the directory' } });
      return { ok: false, message: 'Only triage staff can route requests from the triage queue.' };
    }
    if (d.kind === 'assign') {
      const item = this.catalogue().get(d.itemId);
      if (!item) return { ok: false, message: `There is no catalogue item "${d.itemId}".` };
      const t = await this.get(id);
      const requester = t && (await findPerson(this.db, t.requesterEmail));
      const elig = requester ? checkEligibility(item, requester) : { ok: true as const };
      if (!elig.ok) return { ok: false, message: `${requester!.name} may not request ${item.title}: ${elig.reason}. Choose another item, or handle it as a case.` };
    }
    return this.db.transaction(async (tx) => {
      const status = d.kind === 'assign' ? 'assigned' : d.kind;
      const r = await tx.query(
        `UPDATE triage_items SET status = $2, assigned_item = $3, decided_by = $4, decided_at = now() WHERE id = $1 AND status = 'open' RETURNING *`,
        [id, status, d.kind === 'assign' ? d.itemId : null, actor.email],
      );
      if (!r.rows[0]) {
        const cur = await tx.query('SELECT status, decided_by FROM triage_items WHERE id = $1', [id]);
        return { ok: false as const, message: cur.rows[0] ? `Already handled by ${cur.rows[0].decided_by} (${cur.rows[0].status}).` : 'No such triage item.' };
      }
      const t = toItem(r.rows[0]);
      if (d.kind !== 'case') {
        await tx.query('INSERT INTO training_labels (text, intent, source, labelled_by) VALUES ($1, $2, $3, $4)', [t.text, d.kind === 'assign' ? d.itemId : '_out_of_scope', 'triage', actor.email]);
      }
      let caseRef: string | undefined;
      if (d.kind === 'case') {
        caseRef = (await openCase(tx, { key: `triage:${t.id}`, title: `From triage: ${t.text.slice(0, 80)}`, description: t.text, queue: 'service-desk', person: t.requesterEmail })).ref;
        await postMessage(tx, t.requesterEmail, { kind: 'status', text: `The service desk is handling "${t.text}" as case ${caseRef}; a fulfiller will contact you.` }, { conversationId: t.conversationId, key: `${t.id}:case` });
      }
      if (d.kind === 'not-a-request') {
        await postMessage(tx, t.requesterEmail, { kind: 'info', text: `The service desk looked at "${t.text}" and it isn't something I can request for you. If you need IT help, tell me what you need, e.g. "I need VPN access".` }, { conversationId: t.conversationId, key: `${t.id}:closed` });
      }
      const outcome = d.kind === 'assign' ? `Assigned to ${this.catalogue().get(d.itemId)!.title}` : d.kind === 'case' ? `Handled as case ${caseRef}` : 'Closed: not a request';
      await resolveMessages(tx, { triageId: t.id }, `${outcome} by ${actor.name}`);
      await audit(tx, { actor: actor.email, action: `triage.${status}`, subject: t.id, detail: { item: t.assignedItem, case: caseRef ?? null } });
      return { ok: true as const, item: t, ...(caseRef ? { caseRef } : {}) };
    });
  }
}
