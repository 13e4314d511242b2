/**
 * Change requests for people: the approval card (a channel-neutral message: web chat, Slack, Teams
 * render it like a request's approval card) and the text of `errand change show`.
 */
import type { OutMessage } from '../../conversation/messages.js';
import type { DryRunResult } from './dry-run.js';
import { impactLines, type ImpactAssessment } from './impact.js';
import { whatOf, type ChangeApproval, type ChangeRequest, type Freeze } from './model.js';

export const fmtTime = (d: Date | null | undefined): string => (d ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '');

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The dry run in a few lines. */
export function dryRunLines(d: DryRunResult): string {
  const lines = [d.summary];
  for (const p of d.problems) lines.push(`- ${p}`);
  for (const it of d.items) {
    for (const p of it.problems) lines.push(`- ${it.id}: ${p}`);
  }
  const notes = d.items.flatMap((it) => it.notes.map((n) => `${it.id}: ${n}`));
  if (notes.length) lines.push(`notes: ${notes.length > 3 ? `${notes.slice(0, 3).join('; ')}; …` : notes.join('; ')}`);
  return lines.join('\n');
}

/** The approval card of one step of a change, for one approver. */
export function approvalCard(c: ChangeRequest, a: ChangeApproval, authorName: string): OutMessage {
  const impact = c.impact as ImpactAssessment;
  return {
    kind: 'approval',
    text: `Change approval needed (${a.label}): ${c.ref}, ${whatOf(c)}, by ${authorName}${c.emergency ? '. EMERGENCY change' : ''}.`,
    fields: [
      { label: 'Why', value: c.reason },
      { label: 'You are asked as', value: a.why },
      ...impactLines(impact),
      { label: 'Dry run', value: dryRunLines(c.dryRun) },
      ...(c.scheduledAt ? [{ label: 'Publishes at', value: fmtTime(c.scheduledAt) }] : [{ label: 'Publishes', value: 'as soon as every approval is in' }]),
      { label: 'Changes', value: clip(c.diffText.trim(), 1500) },
    ],
    buttons: [
      { id: `change:${a.id}:approve`, label: 'Approve', style: 'primary' },
      { id: `change:${a.id}:deny`, label: 'Deny', style: 'danger' },
    ],
    approvalId: a.id,
  };
}

/** `errand change show`. */
export function renderChange(c: ChangeRequest, approvals: ChangeApproval[], o: { current?: number; freezes?: Freeze[] } = {}): string {
  const out: string[] = [];
  out.push(`${c.ref}  ${whatOf(c)}  [${c.status}${c.emergency ? ', EMERGENCY' : ''}]`);
  out.push(`author: ${c.author}   created: ${fmtTime(c.createdAt)}${c.scheduledAt ? `   scheduled: ${fmtTime(c.scheduledAt)}` : ''}`);
  out.push(`reason: ${c.reason}`);
  if (c.autoApproved) out.push(`auto-approved: ${c.autoApproved}`);
  if (c.publishedAt) out.push(`published: v${c.publishedVersion} at ${fmtTime(c.publishedAt)} by ${c.publishedBy}`);
  if (c.closedAt) out.push(`closed: ${c.status} at ${fmtTime(c.closedAt)}${c.closedBy ? ` by ${c.closedBy}` : ''}${c.closedReason ? `: ${c.closedReason}` : ''}`);
  if ((c.status === 'pending-approval' || c.status === 'approved') && o.current !== undefined && c.baseVersion !== null && o.current !== c.baseVersion) {
    out.push(`WARNING: stale: assessed against v${c.baseVersion}, the current version is v${o.current}; it will be refused`);
  }
  if (c.kind !== 'folder') {
    out.push('', 'impact:');
    for (const l of impactLines(c.impact)) out.push(`  ${l.label}: ${l.value.split('\n').join('\n    ')}`);
  }
  out.push('', `dry run: ${dryRunLines(c.dryRun).split('\n').join('\n  ')}`);
  if (approvals.length) {
    out.push('', 'approvals:');
    for (const a of approvals) {
      const who = a.status === 'pending' ? `waiting for ${a.approvers.join(', ')}` : `${a.status}${a.decidedBy ? ` by ${a.decidedBy}` : ''}${a.decidedAt ? ` at ${fmtTime(a.decidedAt)}` : ''}${a.reason ? `: ${a.reason}` : ''}`;
      out.push(`  ${a.label}: ${who}`);
      out.push(`    (${a.why}${a.fallback ? `; ${a.fallback}` : ''})`);
    }
  }
  if (o.freezes?.length) {
    out.push('', 'freeze windows:');
    for (const f of o.freezes) out.push(`  #${f.id} ${fmtTime(f.startsAt)} – ${fmtTime(f.endsAt)}: ${f.reason}`);
  }
  out.push('', c.diffText.trimEnd());
  return `${out.join('\n')}\n`;
}
