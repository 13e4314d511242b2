/** The text rendering of a catalogue diff (diff.ts): one block per item, weakenings marked `[WEAKER]`. */
import { short, type CatalogueDiff, type ConfigDiff } from './diff.js';

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** The diff as readable text, one block per item; weakenings marked `[WEAKER]`. */
export function renderDiff(d: CatalogueDiff): string {
  const out: string[] = [];
  const i = d.items;
  out.push(`catalogue ${d.from} → ${d.to}: ${d.identical ? 'identical' : `${i.added.length} added, ${i.removed.length} removed, ${i.changed.length} changed, ${i.unchanged} unchanged item(s)`}`);
  for (const x of i.added) out.push(`+ ${x.id} (${x.title}): new item`);
  for (const x of i.removed) out.push(`- ${x.id} (${x.title}): removed`);
  for (const it of i.changed) {
    out.push(`~ ${it.id} (${it.title})${it.weakened ? '  [WEAKER]' : ''}`);
    const line = (label: string, parts: string[]) => { if (parts.length) out.push(`    ${label}: ${parts.join('; ')}`); };
    line('fields', [
      ...it.fields.added.map((f) => `+${f.name} (${f.type}${f.required ? ', required' : ''})`),
      ...it.fields.removed.map((f) => `-${f.name}`),
      ...it.fields.changed.map((f) => `${f.name}: ${f.changes.map((c) => `${c.text}${c.weakens ? ' [WEAKER]' : ''}`).join(', ')}`),
    ]);
    const a = it.approvals;
    line('approvals', [
      ...a.added.map((s) => `+${s.id} (${s.approver}${s.when ? ` when ${s.when}` : ''})`),
      ...a.removed.map((s) => `-${s.id} (${s.approver}${s.when ? ` when ${s.when}` : ''}) [WEAKER]`),
      ...a.renamed.map((r) => `${r.from} renamed ${r.to}`),
      ...a.changed.map((s) => `${s.id}: ${s.changes.map((c) => `${c.text}${c.weakens ? ' [WEAKER]' : ''}`).join(', ')}`),
      ...(a.reordered ? ['order changed'] : []),
      ...(a.count.from !== a.count.to ? [`${a.count.from} → ${a.count.to} steps`] : []),
    ]);
    const w = it.workflow;
    line('workflow', [
      ...w.added.map((s) => `+${s.id} (${s.action})`),
      ...w.removed.map((s) => `-${s.id} (${s.action})`),
      ...w.changed.map((s) => `${s.id}: ${s.changes.map((c) => c.text).join(', ')}`),
      ...(w.reordered ? ['order changed'] : []),
    ]);
    if (it.risk) line('risk', [`${it.risk.from} → ${it.risk.to}${it.risk.lowered ? ' [WEAKER]' : ''}`]);
    if (it.owner) line('owner', [`${it.owner.from.team} <${it.owner.from.contact}> → ${it.owner.to.team} <${it.owner.to.contact}>`]);
    if (it.eligibility) line('eligibility', [...it.eligibility.broadened.map((x) => `${x} [broader]`), ...it.eligibility.narrowed.map((x) => `${x} [narrower]`)]);
    if (it.exceptions) line('runbooks', [...it.exceptions.added.map((t) => `+"${t}"`), ...it.exceptions.removed.map((t) => `-"${t}"`), ...it.exceptions.changed.map((t) => `~"${t}"`)]);
    if (it.regulatory) line('regulatory', [...it.regulatory.added.map((t) => `+${t}`), ...it.regulatory.removed.map((t) => `-${t} [WEAKER]`)]);
    line('also', it.other.map((o) => `${o.key} ${short(o.from, 40)} → ${short(o.to, 40)}`));
  }
  const c = d.config;
  const cfg = (name: string, x: ConfigDiff) => (x.changed ? `${name} changed${[...x.added.map((k) => ` +${k}`), ...x.removed.map((k) => ` -${k}`), ...x.modified.map((k) => ` ~${k}`)].join('') || ' (text only)'}` : `${name} unchanged`);
  out.push(`configuration: ${[cfg('connectors', c.connectors), cfg('governance', c.governance), cfg('alerts', c.alerts), c.model.changed ? `model changed (${c.model.from?.slice(0, 12) ?? 'none'} → ${c.model.to?.slice(0, 12) ?? 'none'})` : 'model unchanged'].join('; ')}`);
  const intentLine = [`${plural(d.intents.added.length, 'intent')} added${d.intents.added.length ? ` (${d.intents.added.join(', ')})` : ''}`, `${d.intents.removed.length} removed${d.intents.removed.length ? ` (${d.intents.removed.join(', ')})` : ''}`];
  if (d.intents.changed.length) intentLine.push(`examples changed in ${plural(d.intents.changed.length, 'intent')} (${d.intents.changed.map((x) => `${x.intent} +${x.added}/-${x.removed}`).join(', ')})`);
  out.push(`intents: ${intentLine.join(', ')}`);
  if (d.weakened) {
    out.push(`WARNING: controls got weaker in ${d.weakenedItems.join(', ')}:`);
    for (const it of i.changed.filter((x) => x.weakened)) for (const w of it.weakenings) out.push(`  ${it.id}: ${w}`);
  }
  return `${out.join('\n')}\n`;
}
