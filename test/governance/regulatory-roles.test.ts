/** Regulatory gates (SOX items always need a data owner) and roles held through directory groups. */
import { findPerson, peopleWithRole } from '../../src/directory/directory.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('adds a data-owner approval to a SOX item that has none applicable', async () => {
  const item = t.app.catalogue.get('payroll-change')!;
  expect(item.regulatory).toContain('sox');
  const answers: Record<string, unknown> = {};
  for (const f of item.fields) {
    if (f.type === 'choice') answers[f.name] = 'bank-details';
    else if (f.type === 'date') answers[f.name] = '2027-01-15';
    else if (f.name.toLowerCase().includes('iban')) answers[f.name] = 'DE89370400440532013000';
    else if (f.type === 'text' && f.required && !f.when) answers[f.name] = 'New bank';
  }
  const { request } = await t.app.requests.submit({ item, requesterEmail: 'erin.employee@example.com', answers, channel: 'test' });
  const snap = (await t.app.db.query('SELECT item_snapshot FROM requests WHERE id = $1', [request.id])).rows[0]!.item_snapshot;
  expect(snap.approvals.at(-1)).toMatchObject({ id: 'sox-gate', approver: { kind: 'role', role: 'data-owner' } });
  // an item whose data-owner step applies gets no extra gate
  const drive = t.app.catalogue.get('app-access')!;
  expect(drive.regulatory).toContain('sox');
});

it('gives roles through directory groups (it-service-desk → triage)', async () => {
  const fred = await findPerson(t.app.db, 'fred.fulfiller@example.com');
  expect(fred!.roles).toEqual(expect.arrayContaining(['fulfiller', 'triage']));
  expect((await peopleWithRole(t.app.db, 'triage')).map((p) => p.email)).toEqual(expect.arrayContaining(['tara.triage@example.com', 'fred.fulfiller@example.com']));
  expect((await findPerson(t.app.db, 'erin.employee@example.com'))!.roles).toEqual(['employee']);
});
