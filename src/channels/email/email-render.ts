/**
 * Renders outbox messages as one e-mail (plain text + simple HTML, both escaped from the same
 * blocks). E-mail has no buttons, so:
 * - the dialog's own prompts, summary and re-prompts are replaced by one dialog section built from
 *   the conversation's state: every missing question as a numbered list (answered inline), or the
 *   summary numbered, with "reply CONFIRM";
 * - approval buttons become approve/deny links (a confirmation page each);
 * - other buttons become reply keywords (the label in capitals), remembered with the sent mail.
 */
import type { FieldLine, OutMessage } from '../../conversation/messages.js';
import type { LinkPair } from './approval-links.js';
import { keywordOf } from './email-text.js';

export interface ReplyAction { id: string; value?: string }

export interface DialogQuestion { field: string; label: string; prompt: string; options: string[]; multi: boolean; optional: boolean; help?: string; type: string }

export interface DialogView {
  itemId: string;
  itemTitle: string;
  mode: 'collecting' | 'confirming';
  /** Answers so far (collecting). */
  noted: FieldLine[];
  /** Still missing, in catalogue order (collecting). */
  questions: DialogQuestion[];
  /** Every visible answer (confirming). */
  summary: (FieldLine & { field: string })[];
}

export interface StoredQuestions { itemId: string; mode: 'collecting' | 'confirming'; fields: string[] }

export interface EmailDraft { text: string; html: string; actions: Record<string, ReplyAction>; questions: StoredQuestions | null }

type Block =
  | { p: string }
  | { fields: FieldLine[] }
  | { numbered: { n: number; text: string; sub: string[] }[] }
  | { links: { label: string; url: string; style: 'approve' | 'deny' }[] }
  | { note: string };

/** Messages the dialog section replaces: field prompts, re-prompts after an invalid answer, the summary, "which answer to change". */
export function isDialogUi(m: OutMessage): boolean {
  if (m.approvalId || m.triageId) return false;
  const formInput = Boolean(m.input) || Boolean(m.choices && !m.choices.actionId);
  if ((m.kind === 'prompt' || m.kind === 'error') && formInput) return true;
  if (m.kind === 'summary' && m.buttons?.some((b) => b.id === 'dialog:confirm')) return true;
  return m.kind === 'prompt' && !!m.buttons?.length && m.buttons.every((b) => b.id.startsWith('dialog:change:'));
}

const isApprovalButton = (id: string): boolean => /^approval:[0-9a-f-]{36}:(approve|deny)$/i.test(id);

function exampleAnswer(q: DialogQuestion): string {
  if (q.options.length) return q.options[0]!;
  if (q.type === 'date') return '31 March';
  if (q.type === 'number') return '2';
  if (q.type === 'boolean') return 'yes';
  if (q.type === 'person') return 'jane.doe@example.com';
  return 'your answer';
}

function dialogBlocks(v: DialogView, actions: Record<string, ReplyAction>): Block[] {
  if (v.mode === 'confirming') {
    actions.CONFIRM = { id: 'dialog:confirm' };
    actions.CANCEL = { id: 'dialog:cancel' };
    return [
      { p: `Please check your ${v.itemTitle} request:` },
      { numbered: v.summary.map((s, i) => ({ n: i + 1, text: `${s.label}: ${s.value}`, sub: [] })) },
      { p: `Reply CONFIRM to submit it, or CANCEL to drop it. To change an answer, reply with its number and the new value (e.g. "${Math.min(2, v.summary.length)}. <new value>").` },
    ];
  }
  actions.CANCEL = { id: 'dialog:cancel' };
  const blocks: Block[] = [{ p: `I understood that you need: ${v.itemTitle}.${v.noted.length ? ' So far I have:' : ''}` }];
  if (v.noted.length) blocks.push({ fields: v.noted });
  const qs = v.questions;
  blocks.push({ p: qs.length === 1
    ? `One more question. Reply with your answer (e.g. "1. ${exampleAnswer(qs[0]!)}"), or type it under the question in the quoted text:`
    : `Please answer these ${qs.length} questions in one reply: one line each with the number and your answer (e.g. "1. ${exampleAnswer(qs[0]!)}"), or type each answer under its question in the quoted text:` });
  blocks.push({ numbered: qs.map((q, i) => ({
    n: i + 1, text: q.prompt,
    sub: [
      ...(q.options.length ? [`${q.multi ? 'Choose one or more, separated by commas' : 'Options'}: ${q.options.join(', ')}`] : []),
      ...(q.help ? [q.help] : []),
      ...(q.optional ? [`Optional: answer "skip" to leave it empty.`] : []),
    ],
  })) });
  blocks.push({ p: 'Reply CANCEL to drop this request, or "that\'s not what I meant" if I misunderstood you.' });
  return blocks;
}

function messageBlocks(m: OutMessage, links: Map<string, LinkPair>, actions: Record<string, ReplyAction>): Block[] {
  const blocks: Block[] = [{ p: m.text }];
  if (m.fields?.length) blocks.push({ fields: m.fields });
  if (m.resolved) { blocks.push({ note: `Resolved: ${m.resolved}` }); return blocks; }
  const pair = m.approvalId ? links.get(m.approvalId) : undefined;
  if (pair && m.buttons?.some((b) => isApprovalButton(b.id))) {
    blocks.push({ links: [{ label: 'Approve', url: pair.approve, style: 'approve' }, { label: 'Deny', url: pair.deny, style: 'deny' }] });
    blocks.push({ note: `Each link opens a page where you confirm; nothing is decided before you press its button. The links work once, until ${pair.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. A reply to this e-mail does not decide.` });
  }
  const keywords: string[] = [];
  // Catalogue change approvals are decided in chat or with the CLI, never by an e-mail reply.
  if (m.buttons?.some((b) => b.id.startsWith('change:'))) {
    const ref = /^change:([^:]+):/.exec(m.buttons.find((b) => b.id.startsWith('change:'))!.id)?.[1] ?? '<ref>';
    blocks.push({ note: `Decide this change in the chat app, or with \`npx errand change approve|deny ${ref}\`. A reply to this e-mail does not decide.` });
  }
  for (const b of m.buttons ?? []) {
    if (isApprovalButton(b.id) || b.id.startsWith('change:')) continue;
    // a label that starts with a number ("5 (excellent)") is answered with the number
    const base = /^\s*(\d{1,3})\b/.exec(b.label)?.[1] ?? keywordOf(b.label);
    let k = base;
    if (!k) continue;
    for (let i = 2; actions[k] && (actions[k]!.id !== b.id || actions[k]!.value !== b.value); i++) k = `${base} ${i}`;
    actions[k] = { id: b.id, ...(b.value !== undefined ? { value: b.value } : {}) };
    keywords.push(k);
  }
  if (keywords.length) blocks.push({ p: `To choose, reply with one of: ${keywords.map((k) => `"${k}"`).join(', ')}.` });
  return blocks;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const htmlText = (s: string): string => esc(s).replace(/\n/g, '<br>');

function toText(blocks: Block[]): string {
  return blocks.map((b) => {
    if ('p' in b) return b.p;
    if ('note' in b) return b.note;
    if ('fields' in b) return b.fields.map((f) => `  ${f.label}: ${f.value}`).join('\n');
    if ('numbered' in b) return b.numbered.map((x) => [`${x.n}. ${x.text}`, ...x.sub.map((s) => `   ${s}`)].join('\n')).join('\n\n');
    return b.links.map((l) => `${l.label}: ${l.url}`).join('\n');
  }).join('\n\n');
}

function toHtml(blocks: Block[]): string {
  return blocks.map((b) => {
    if ('p' in b) return `<p>${htmlText(b.p)}</p>`;
    if ('note' in b) return `<p style="color:#57606a;font-size:13px">${htmlText(b.note)}</p>`;
    if ('fields' in b) return `<table style="border-collapse:collapse">${b.fields.map((f) => `<tr><td style="color:#57606a;padding:2px 12px 2px 0;vertical-align:top">${esc(f.label)}</td><td style="padding:2px 0">${htmlText(f.value)}</td></tr>`).join('')}</table>`;
    if ('numbered' in b) return b.numbered.map((x) => `<p>${x.n}. ${htmlText(x.text)}${x.sub.map((s) => `<br><span style="color:#57606a">${htmlText(s)}</span>`).join('')}</p>`).join('');
    return `<p>${b.links.map((l) => `<a href="${esc(l.url)}" style="display:inline-block;padding:8px 18px;margin-right:8px;border-radius:6px;color:#fff;text-decoration:none;background:${l.style === 'approve' ? '#1f883d' : '#cf222e'}">${esc(l.label)}</a>`).join('')}</p>`;
  }).join('\n');
}

export interface RenderInput {
  /** First name for the greeting (none: "Hello,"). */
  name?: string;
  messages: OutMessage[];
  dialog?: DialogView;
  links: Map<string, LinkPair>;
  threadRef: string;
  fromName: string;
}

/** One e-mail for a group of outbox messages of one thread. */
export function renderEmail(o: RenderInput): EmailDraft {
  const actions: Record<string, ReplyAction> = {};
  const blocks: Block[] = [{ p: o.name ? `Hi ${o.name},` : 'Hello,' }];
  for (const m of o.messages) if (!isDialogUi(m)) blocks.push(...messageBlocks(m, o.links, actions));
  let questions: StoredQuestions | null = null;
  if (o.dialog && (o.dialog.mode === 'confirming' ? o.dialog.summary.length : o.dialog.questions.length)) {
    blocks.push(...dialogBlocks(o.dialog, actions));
    questions = { itemId: o.dialog.itemId, mode: o.dialog.mode, fields: o.dialog.mode === 'confirming' ? o.dialog.summary.map((s) => s.field) : o.dialog.questions.map((q) => q.field) };
  }
  const footer = `${o.fromName}\nKeep "[errand ${o.threadRef}]" in the subject when you reply. Say "status" to see your requests.`;
  const text = `${toText(blocks)}\n\n-- \n${footer}\n`;
  const html = `<!doctype html><html><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f2328">\n${toHtml(blocks)}\n<p style="color:#57606a;font-size:12px;border-top:1px solid #d0d7de;padding-top:8px">${htmlText(footer)}</p>\n</body></html>`;
  return { text, html, actions, questions };
}
