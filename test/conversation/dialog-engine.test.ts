import path from 'node:path';
import { loadCatalogue, type Catalogue } from '../../src/catalogue/loader.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { continueDialog, startDialog, type DialogResult, type DialogState } from '../../src/conversation/dialog-engine.js';

const today = new Date('2026-11-27T10:00:00Z');
const deps = { today, findPeople: async (t: string) => (t.includes('mark') ? [{ email: 'mark.manager@example.com', name: 'Mark Manager' }] : []) };
const erin = { email: 'erin.employee@example.com', department: 'Finance', roles: ['employee'], employmentType: 'employee' };
let cat: Catalogue;
beforeAll(async () => { cat = await loadCatalogue(path.join(PROJECT_ROOT, 'dialogs')); });

async function say(r: DialogResult, text: string, action?: { id: string; value?: string }): Promise<DialogResult> {
  const st = r.state as Extract<DialogState, { d: unknown }>;
  return continueDialog(st, cat.get(st.d.itemId)!, erin, { text, action }, deps);
}
const asking = (r: DialogResult) => (r.state as { d: { asking: string | null } }).d.asking;

describe('guided dialog', () => {
  it('takes values from the first message and asks only for what is missing', () => {
    const r = startDialog(cat.get('shared-drive-access')!, erin, { text: 'I need write access to the finance drive', today });
    expect(r.state.mode).toBe('collecting');
    expect((r.state as { d: { answers: Record<string, unknown> } }).d.answers).toEqual({ drive: 'finance', access: 'write' });
    expect(asking(r)).toBe('until');
    expect(r.messages.at(-1)!.text).toMatch(/Until when/);
  });

  it('re-prompts invalid answers with what is expected, and offers a person after 3 failures', async () => {
    let r = startDialog(cat.get('shared-drive-access')!, erin, { text: 'I need access to the finance drive', today });
    expect(asking(r)).toBe('access');
    r = await say(r, 'purple');
    expect(r.messages[0]!.kind).toBe('error');
    expect(r.messages[0]!.text).toMatch(/Please choose one of: Read only, Read and write/);
    r = await say(r, 'blue');
    r = await say(r, 'green');
    expect(r.state.mode).toBe('handover-offer');
    expect(r.messages.at(-1)!.buttons!.map((b) => b.id)).toEqual(['dialog:handover', 'dialog:retry']);
    const h = await say(r, '', { id: 'dialog:handover' });
    expect(h.effect?.type).toBe('handover');
    expect(h.state.mode).toBe('idle');
  });

  it('validates dates (future, within limits) and lets optional fields be skipped', async () => {
    let r = startDialog(cat.get('shared-drive-access')!, erin, { text: 'read access to the hr drive', today });
    r = await say(r, '2020-01-01');
    expect(r.messages[0]!.text).toMatch(/after today \(2026-11-27\)/);
    r = await say(r, 'skip');
    expect(asking(r)).toBe('justification');
    r = await say(r, 'To prepare the quarterly close');
    expect(r.state.mode).toBe('confirming');
    const summary = r.messages.at(-1)!;
    expect(summary.kind).toBe('summary');
    expect(summary.fields).toEqual(expect.arrayContaining([{ label: 'Drive', value: 'HR' }, { label: 'Access until', value: '—' }]));
    expect(summary.buttons!.map((b) => b.id)).toEqual(['dialog:confirm', 'dialog:edit', 'dialog:cancel']);
  });

  it('supports back, change <field>, help and cancel at any point', async () => {
    let r = startDialog(cat.get('shared-drive-access')!, erin, { text: 'finance drive please', today });
    r = await say(r, 'read');
    expect(asking(r)).toBe('until');
    r = await say(r, 'back');
    expect(asking(r)).toBe('access');
    r = await say(r, 'write');
    r = await say(r, '2027-01-31');
    r = await say(r, 'month end reporting');
    expect(r.state.mode).toBe('confirming');
    r = await say(r, 'change drive');
    expect(asking(r)).toBe('drive');
    r = await say(r, '', { id: 'answer', value: 'engineering' });
    expect(r.state.mode).toBe('confirming');
    expect(r.messages.at(-1)!.fields).toEqual(expect.arrayContaining([{ label: 'Drive', value: 'Engineering' }]));
    const help = await say(r, 'help');
    expect(help.messages[0]!.text).toMatch(/Commands: "cancel"/);
    const c = await say(r, 'cancel');
    expect(c.state.mode).toBe('idle');
    expect(c.effect?.type).toBe('cancelled');
    const ok = await say(r, '', { id: 'dialog:confirm' });
    expect(ok.effect).toMatchObject({ type: 'submit', d: { answers: { drive: 'engineering', access: 'write', until: '2027-01-31' } } });
  });

  it('reveals fields by their when conditions', async () => {
    const item = cat.get('payroll-change')!;
    const bank = item.fields.find((f) => f.when?.includes('bank'))!;
    let r = startDialog(item, erin, { today });
    // answer until the condition's field is asked
    for (let i = 0; i < 6 && asking(r) !== bank.name && r.state.mode === 'collecting'; i++) {
      const f = item.fields.find((x) => x.name === asking(r))!;
      const v = f.type === 'choice' ? 'bank-details' : f.type === 'date' ? '2027-01-15' : f.type === 'number' ? '10' : 'because';
      r = await say(r, v);
    }
    expect(asking(r)).toBe(bank.name);
    r = await say(r, 'not an iban');
    expect(r.messages[0]!.kind).toBe('error');
  });
});
