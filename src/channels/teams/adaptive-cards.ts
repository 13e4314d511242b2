/**
 * Renders the core's neutral messages as Adaptive Cards (1.5, Universal Actions), and builds the
 * request form cards. Pure functions. Every button is an Action.Execute with verb `action` and
 * data `{ id: <neutral action id>, value? }`; inputs arrive merged into that data.
 */
import { optionsOf, type CatalogueItem, type FieldDef } from '../../catalogue/schema.js';
import type { OutMessage } from '../../conversation/messages.js';

export type Card = Record<string, unknown>;
type El = Record<string, unknown>;

const card = (body: El[], actions: El[] = [], extra: Record<string, unknown> = {}): Card => ({
  type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.5', body, ...(actions.length ? { actions } : {}), ...extra,
});
const text = (t: string, o: El = {}): El => ({ type: 'TextBlock', text: t, wrap: true, ...o });
const exec = (title: string, data: Record<string, unknown>, o: El = {}): El => ({ type: 'Action.Execute', title, verb: 'action', data, ...o });
const bar = (step: number, of: number) => `${'▰'.repeat(Math.min(step, of))}${'▱'.repeat(Math.max(0, of - step))}`;

/** The card for one neutral message. `refreshUserIds` adds a Universal Actions refresh (approval cards). */
export function renderCard(m: OutMessage, o: { refreshUserIds?: string[] } = {}): Card {
  const body: El[] = [text(m.text, m.kind === 'error' ? { color: 'attention' } : m.kind === 'approval' || m.kind === 'triage' ? { weight: 'bolder' } : {})];
  if (m.fields?.length) body.push({ type: 'FactSet', facts: m.fields.map((f) => ({ title: f.label, value: f.value || '—' })) });
  for (const p of m.progress ?? []) body.push(text(`**${p.ref}** ${p.title}\n\n${bar(p.step, p.of)} ${p.step}/${p.of} · ${p.stage}`));
  if (m.resolved) {
    body.push(text(`✅ ${m.resolved}`, { color: 'good', weight: 'bolder' }));
    return card(body);
  }
  const actions: El[] = [];
  if (m.choices) {
    const id = m.choices.actionId ?? 'answer';
    if (!m.choices.multi && m.choices.options.length <= 5 && id === 'answer') {
      for (const c of m.choices.options) actions.push(exec(c.label, { id, value: c.value }));
    } else {
      body.push({ type: 'Input.ChoiceSet', id: 'choice', style: 'compact', isMultiSelect: m.choices.multi, choices: m.choices.options.map((c) => ({ title: c.label, value: c.value })) });
      actions.push(exec('OK', { id, fromInput: 'choice' }));
    }
  } else if (m.input?.type === 'date') {
    body.push({ type: 'Input.Date', id: 'answerText', label: 'Date' });
    actions.push(exec('Send', { id: 'answer', fromInput: 'answerText' }));
  }
  const denies = (m.buttons ?? []).some((b) => b.id.endsWith(':deny'));
  if (denies) body.push({ type: 'Input.Text', id: 'reason', placeholder: 'Reason (needed to deny)', isMultiline: true, maxLength: 500 });
  for (const b of m.buttons ?? []) {
    actions.push(exec(b.label, { id: b.id, ...(b.value !== undefined ? { value: b.value } : {}), ...(b.id.endsWith(':deny') ? { fromInput: 'reason' } : {}) }, b.style === 'danger' ? { style: 'destructive' } : b.style === 'primary' ? { style: 'positive' } : {}));
  }
  const extra = o.refreshUserIds && m.approvalId
    ? { refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: 'refresh', data: { approvalId: m.approvalId } }, userIds: o.refreshUserIds } }
    : {};
  return card(body, actions, extra);
}

/** The same card as seen by someone who may not act on it: no inputs, no buttons. */
export function readOnly(c: Card): Card {
  const body = ((c.body as El[]) ?? []).filter((b) => !String(b.type).startsWith('Input.'));
  return card(body, [], c.refresh ? { refresh: c.refresh } : {});
}

/** The neutral action an Action.Execute carries (inputs named in `fromInput` become the value). */
export function neutralFromData(data: Record<string, unknown>): { id: string; value?: string } | undefined {
  const id = typeof data.id === 'string' ? data.id : undefined;
  if (!id) return undefined;
  const from = typeof data.fromInput === 'string' ? data[data.fromInput] : undefined;
  const value = from ?? data.value;
  return { id, ...(value !== undefined && value !== null && String(value) !== '' ? { value: String(value) } : {}) };
}

/** Step 1 of the request form: pick an item. */
export function pickCard(items: CatalogueItem[]): Card {
  return card(
    [text('Request something', { size: 'large', weight: 'bolder' }), { type: 'Input.ChoiceSet', id: 'itemId', label: 'What do you need?', style: 'compact', isRequired: true, errorMessage: 'Choose an item', choices: items.map((i) => ({ title: i.title, value: i.id })) }],
    [{ type: 'Action.Execute', title: 'Next', verb: 'form', data: { id: 'form:pick' } }],
  );
}

function input(f: FieldDef, value: unknown, error?: string): El {
  const common = { id: `f_${f.name}`, label: f.label ?? f.name, isRequired: f.required, ...(error ? { errorMessage: error } : {}) };
  const v = value === undefined || value === null ? undefined : Array.isArray(value) ? value.join(',') : String(value);
  switch (f.type) {
    case 'choice': case 'multichoice':
      return { ...common, type: 'Input.ChoiceSet', style: 'compact', isMultiSelect: f.type === 'multichoice', choices: optionsOf(f).map((o) => ({ title: o.label, value: o.value })), ...(v ? { value: v } : {}) };
    case 'date': return { ...common, type: 'Input.Date', ...(v ? { value: v } : {}) };
    case 'number': return { ...common, type: 'Input.Number', ...(v ? { value: Number(v) } : {}) };
    case 'boolean': return { ...common, type: 'Input.Toggle', title: f.prompt, valueOn: 'true', valueOff: 'false', value: v === 'true' ? 'true' : 'false' };
    default: return { ...common, type: 'Input.Text', placeholder: f.validation?.patternHint ?? f.prompt, isMultiline: (f.validation?.maxLength ?? 0) > 200, ...(v ? { value: v } : {}) };
  }
}

/** Step 2: the item's form, showing only the fields whose `when` holds for the current answers. */
export function formCard(item: CatalogueItem, visible: FieldDef[], values: Record<string, unknown>, errors: Record<string, string> = {}): Card {
  const body: El[] = [text(item.title, { size: 'large', weight: 'bolder' }), text(item.description, { isSubtle: true })];
  if (Object.keys(errors).length) body.push(text(`Please fix: ${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ')}`, { color: 'attention' }));
  for (const f of visible) body.push(input(f, values[f.name], errors[f.name]));
  return card(body, [
    { type: 'Action.Execute', title: 'Update form', verb: 'form', data: { id: 'form:refresh', itemId: item.id } },
    { type: 'Action.Execute', title: 'Submit', verb: 'form', data: { id: 'form:submit', itemId: item.id }, style: 'positive' },
  ]);
}

/** Reads `f_<name>` inputs out of Action.Execute data as raw answers. */
export function formValues(item: CatalogueItem, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of item.fields) {
    const raw = data[`f_${f.name}`];
    if (raw === undefined || raw === null || raw === '') continue;
    const s = String(raw);
    out[f.name] = f.type === 'multichoice' ? s.split(',').filter(Boolean) : f.type === 'boolean' ? s === 'true' : f.type === 'number' && /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s;
  }
  return out;
}

/** A plain result card (e.g. after a form is submitted). */
export const noticeCard = (t: string, good = true): Card => card([text(t, { color: good ? 'good' : 'attention' })]);
