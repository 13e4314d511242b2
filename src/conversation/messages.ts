/**
 * Channel-neutral messages and inbound events. Channels translate to and from these; the core
 * never sees Slack blocks or Adaptive Cards. Button ids are deterministic:
 *   answer                          (value = the chosen option value(s), comma-joined)
 *   dialog:confirm | dialog:edit | dialog:cancel | dialog:handover | dialog:retry | dialog:change:<field> | dialog:set:<field> (value: an alternative offered by a failed check)
 *   start:<itemId>                  start the dialog for a catalogue item
 *   desk:ask                        send the text (value) to the triage queue
 *   approval:<approvalId>:approve | approval:<approvalId>:deny   (value = the reason, if the channel asked)
 *   triage:<triageId>:assign:<itemId> | triage:<triageId>:not-a-request | triage:<triageId>:case
 *   rating:<requestId>:<1-5>        the requester rates a fulfilled request (src/reporting/satisfaction.ts)
 */

export interface Button { id: string; label: string; value?: string; style?: 'primary' | 'danger' }
export interface FieldLine { label: string; value: string }
export interface Choice { value: string; label: string }

export type MessageKind = 'prompt' | 'summary' | 'approval' | 'status' | 'triage' | 'info' | 'error' | 'outcome';

export interface OutMessage {
  kind: MessageKind;
  text: string;
  fields?: FieldLine[];
  buttons?: Button[];
  /** Options for a choice question (channels render buttons or a select; multi = checkboxes). */
  choices?: { options: Choice[]; multi: boolean; /** Action id sent with the chosen value (default `answer`). */ actionId?: string };
  /** What a form-capable channel should offer as input for the current question. */
  input?: { type: 'text' | 'date' | 'number' | 'boolean' | 'person'; placeholder?: string };
  /** For status lists: one entry per request. */
  progress?: { ref: string; title: string; stage: string; step: number; of: number }[];
  /** Links the message to an approval / triage item, so a channel can update it in place. */
  approvalId?: string;
  triageId?: string;
  /** Set when the approval/triage item has been decided: channels drop the buttons and show this. */
  resolved?: string;
}

export interface InboundEvent {
  channel: string;
  /** The directory person (e-mail) the channel identity maps to. */
  personEmail: string;
  /** Channel-qualified conversation id, e.g. `web:erin@example.com`, `slack:D123`. */
  conversationId: string;
  text?: string;
  action?: { id: string; value?: string };
  /**
   * Set by the durable chat inbox (src/channels/chat-inbox.ts): the stored event's key. The turn is
   * then safe to run again after a partial failure: replies and a triage item are keyed by it, a
   * completed turn is not repeated, and an error is thrown (the inbox retries) instead of answered.
   */
  deliveryKey?: string;
}

/**
 * The event with NUL characters removed from its text and action (PostgreSQL stores none, in text or
 * jsonb; a NUL would fail the conversation). Everything else — markup, template syntax, other control
 * characters — stays literally as sent: channels escape on output, logs JSON-escape.
 */
export function cleanInbound(ev: InboundEvent): InboundEvent {
  const clean = (s: string | undefined) => (s !== undefined && s.includes('\u0000') ? s.replace(/\u0000/g, '') : s);
  return {
    ...ev,
    conversationId: clean(ev.conversationId)!,
    personEmail: clean(ev.personEmail)!,
    ...(ev.text !== undefined ? { text: clean(ev.text) } : {}),
    ...(ev.action ? { action: { id: clean(ev.action.id)!, ...(ev.action.value !== undefined ? { value: clean(ev.action.value) } : {}) } } : {}),
  };
}
