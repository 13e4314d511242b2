/**
 * Renders the core's neutral messages as Slack Block Kit, and builds the modals and the App Home
 * view. Pure functions: no Slack client, no IO. Action ids are the neutral ids, except choice
 * buttons (`answer:<n>`, unique per block as Slack requires) and selects (`answer`, `answer-multi`).
 */
import type { CatalogueItem, FieldDef } from '../../catalogue/schema.js';
import { optionsOf } from '../../catalogue/schema.js';
import type { OutMessage } from '../../conversation/messages.js';

type Block = Record<string, unknown>;

/** Escapes text for mrkdwn (Slack's three control characters). */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const plain = (text: string, max = 75) => ({ type: 'plain_text', text: text.length > max ? `${text.slice(0, max - 1)}…` : text, emoji: true });
const option = (value: string, label: string) => ({ text: plain(label), value: value.slice(0, 150) });
const bar = (step: number, of: number) => `${'▰'.repeat(Math.min(step, of))}${'▱'.repeat(Math.max(0, of - step))}`;

/** Block Kit blocks (and a plain-text fallback) for one neutral message. */
export function renderMessage(m: OutMessage): { text: string; blocks: Block[] } {
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: esc(m.text).slice(0, 3000) } }];
  if (m.fields?.length) {
    for (let i = 0; i < m.fields.length; i += 10) {
      blocks.push({ type: 'section', fields: m.fields.slice(i, i + 10).map((f) => ({ type: 'mrkdwn', text: `*${esc(f.label)}*\n${esc(f.value || '—')}`.slice(0, 2000) })) });
    }
  }
  if (m.progress?.length) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: m.progress.map((p) => `*${p.ref}* ${esc(p.title)}\n${bar(p.step, p.of)} ${p.step}/${p.of} · ${esc(p.stage)}`).join('\n\n').slice(0, 3000) } });
  }
  if (m.resolved) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `:white_check_mark: ${esc(m.resolved)}` }] });
    return { text: esc(`${m.text} (${m.resolved})`), blocks };
  }
  if (m.choices) {
    const opts = m.choices.options;
    const actionId = m.choices.actionId ?? 'answer';
    if (m.choices.multi) {
      blocks.push({ type: 'actions', elements: [{ type: 'multi_static_select', action_id: `${actionId}-multi`, placeholder: plain('Choose one or more'), options: opts.slice(0, 100).map((o) => option(o.value, o.label)) }] });
    } else if (opts.length <= 5 && actionId === 'answer') {
      blocks.push({ type: 'actions', elements: opts.map((o, i) => ({ type: 'button', action_id: `answer:${i}`, text: plain(o.label), value: o.value })) });
    } else {
      blocks.push({ type: 'actions', elements: [{ type: 'static_select', action_id: actionId, placeholder: plain('Choose…'), options: opts.slice(0, 100).map((o) => option(o.value, o.label)) }] });
    }
  }
  if (m.buttons?.length) {
    for (let i = 0; i < m.buttons.length; i += 25) {
      blocks.push({
        type: 'actions',
        elements: m.buttons.slice(i, i + 25).map((b) => ({
          type: 'button', action_id: b.id, text: plain(b.label), value: (b.value ?? b.id).slice(0, 2000), ...(b.style ? { style: b.style } : {}),
        })),
      });
    }
  }
  // the fallback text (notifications) is mrkdwn too: a "<!channel>" in it would notify the channel
  return { text: esc(m.text), blocks };
}

/** Maps a Slack block action back to a neutral action (or undefined when it is not ours). */
export function neutralAction(a: { action_id: string; value?: string; selected_option?: { value: string }; selected_options?: { value: string }[]; selected_date?: string }): { id: string; value?: string } {
  const selected = a.selected_option?.value ?? a.selected_options?.map((o) => o.value).join(',') ?? a.selected_date;
  if (/^answer:\d+$/.test(a.action_id)) return { id: 'answer', value: a.value };
  if (a.action_id.endsWith('-multi')) return { id: a.action_id.slice(0, -'-multi'.length), value: selected };
  if (selected !== undefined) return { id: a.action_id, value: selected };
  return { id: a.action_id, value: a.value === a.action_id ? undefined : a.value };
}

/** The /request modal, step 1: pick a catalogue item (only those the person may request). */
export function catalogueModal(items: CatalogueItem[]): Block {
  return {
    type: 'modal', callback_id: 'request-pick', title: plain('Request something', 24), close: plain('Cancel'),
    blocks: [{
      type: 'input', block_id: 'item', dispatch_action: true, label: plain('What do you need?'),
      element: { type: 'static_select', action_id: 'catalogue:pick', placeholder: plain('Choose a catalogue item'), options: items.slice(0, 100).map((i) => option(i.id, i.title)) },
    }],
  };
}

function fieldElement(f: FieldDef, value: unknown): Block {
  const base = { action_id: `field:${f.name}` };
  const opts = optionsOf(f).map((o) => option(o.value, o.label));
  switch (f.type) {
    case 'choice': {
      const init = opts.find((o) => o.value === value);
      return { ...base, type: 'static_select', options: opts, ...(init ? { initial_option: init } : {}) };
    }
    case 'multichoice': {
      const init = opts.filter((o) => Array.isArray(value) && value.includes(o.value));
      return { ...base, type: 'multi_static_select', options: opts, ...(init.length ? { initial_options: init } : {}) };
    }
    case 'date': return { ...base, type: 'datepicker', ...(typeof value === 'string' ? { initial_date: value } : {}) };
    case 'number': return { ...base, type: 'number_input', is_decimal_allowed: true, ...(value !== undefined && value !== null ? { initial_value: String(value) } : {}) };
    case 'boolean': {
      const yn = [option('yes', 'Yes'), option('no', 'No')];
      const init = value === true ? yn[0] : value === false ? yn[1] : undefined;
      return { ...base, type: 'radio_buttons', options: yn, ...(init ? { initial_option: init } : {}) };
    }
    default: return { ...base, type: 'plain_text_input', multiline: f.type === 'text' && (f.validation?.maxLength ?? 0) > 200, ...(typeof value === 'string' ? { initial_value: value } : {}) };
  }
}

/** Field types whose change can reveal or hide other fields: they dispatch an action on change. */
const DISPATCHING = new Set(['choice', 'multichoice', 'boolean', 'date', 'number']);

/** The /request modal, step 2: the item's form with only the fields whose `when` holds. */
export function itemFormModal(item: CatalogueItem, visible: FieldDef[], values: Record<string, unknown>): Block {
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*${esc(item.title)}*\n${esc(item.description)}` } }];
  for (const f of visible) {
    const hint = f.help ?? f.validation?.patternHint;
    blocks.push({
      type: 'input', block_id: f.name, optional: !f.required, label: plain(f.label ?? f.name, 2000),
      dispatch_action: DISPATCHING.has(f.type), element: fieldElement(f, values[f.name]),
      ...(hint ? { hint: plain(hint, 2000) } : {}),
    });
  }
  return {
    type: 'modal', callback_id: 'request-form', title: plain(item.title, 24), submit: plain('Submit'), close: plain('Cancel'),
    private_metadata: JSON.stringify({ itemId: item.id }), blocks,
  };
}

/** Reads a modal's state values as raw answers (strings, lists, booleans) by field name. */
export function formValues(state: Record<string, Record<string, { type: string; value?: string | null; selected_option?: { value: string } | null; selected_options?: { value: string }[]; selected_date?: string | null }>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [block, actions] of Object.entries(state ?? {})) {
    for (const a of Object.values(actions)) {
      let v: unknown;
      if (a.type === 'static_select') v = a.selected_option?.value;
      else if (a.type === 'multi_static_select') v = a.selected_options?.map((o) => o.value);
      else if (a.type === 'datepicker') v = a.selected_date ?? undefined;
      else if (a.type === 'radio_buttons') v = a.selected_option ? a.selected_option.value === 'yes' : undefined;
      else v = a.value ?? undefined;
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) out[block] = v;
    }
  }
  return out;
}

/** The modal asking an approver why they deny. */
export function denyModal(approvalId: string, ref: string): Block {
  return {
    type: 'modal', callback_id: 'deny-reason', title: plain('Deny request'), submit: plain('Deny'), close: plain('Cancel'),
    private_metadata: approvalId,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Why are you denying *${esc(ref)}*? The requester will see your reason.` } },
      { type: 'input', block_id: 'reason', label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'reason', multiline: true, min_length: 3, max_length: 500 } },
    ],
  };
}

/** The App Home tab: my requests with progress, and approvals waiting for me. */
export function homeView(o: { name: string; requests: { ref: string; title: string; stage: string; step: number; of: number }[]; approvals: { id: string; label: string; ref: string; title: string; requester: string }[] }): Block {
  const blocks: Block[] = [
    { type: 'header', text: plain(`errand · ${o.name}`, 150) },
    { type: 'section', text: { type: 'mrkdwn', text: 'Tell me what you need in a DM, or use `/request`. `/requests` lists your open requests.' } },
    { type: 'header', text: plain('My requests') },
  ];
  if (!o.requests.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: '_No open requests._' } });
  for (const r of o.requests) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${r.ref}* ${esc(r.title)}\n${bar(r.step, r.of)} ${r.step}/${r.of} · ${esc(r.stage)}` } });
  if (o.approvals.length) {
    blocks.push({ type: 'header', text: plain('Waiting for my approval') });
    for (const a of o.approvals) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${a.ref}* ${esc(a.title)} for ${esc(a.requester)} · ${esc(a.label)}` } });
      blocks.push({ type: 'actions', elements: [
        { type: 'button', action_id: `approval:${a.id}:approve`, text: plain('Approve'), style: 'primary', value: `approval:${a.id}:approve` },
        { type: 'button', action_id: `approval:${a.id}:deny`, text: plain('Deny'), style: 'danger', value: `approval:${a.id}:deny` },
      ] });
    }
  }
  return { type: 'home', blocks };
}
