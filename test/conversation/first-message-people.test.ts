/** People named in the first message fill the item's person fields (looked up in the directory). */
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ kind: 'pglite' }); });
afterAll(async () => { await t?.close(); });

it('a manager naming the leaver by full name is not asked who is leaving', async () => {
  const mark = new WebUser(t.base, 'mark.manager@example.com');
  const m = await mark.say('Erin Employee is leaving us, please start the offboarding');
  const text = m.map((x) => x.text).join('\n');
  expect(text).toMatch(/Offboarding/i);
  expect(text).toMatch(/noted.*Leaver: erin.employee@example.com/s);
  expect(m.at(-1)!.text).not.toMatch(/Who is leaving/);
  const state = (await t.app.db.query(`SELECT state FROM conversations WHERE state::text LIKE '%offboarding%' ORDER BY updated_at DESC LIMIT 1`)).rows[0]!.state;
  expect(JSON.stringify(state)).toContain('erin.employee@example.com');
});

it('an e-mail address works too, and an unknown name is left to the dialog', async () => {
  const dana = new WebUser(t.base, 'dana.director@example.com');
  let m = await dana.say('offboard carl.contractor@example.com please, his contract ends');
  expect(m.map((x) => x.text).join('\n')).toMatch(/Leaver: carl.contractor@example.com/);
  await dana.say('cancel');
  m = await dana.say('Zebedee Nobody is leaving, please offboard them');
  expect(m.map((x) => x.text).join('\n')).not.toMatch(/Leaver:/);
  expect(m.at(-1)!.text).toMatch(/Who is leaving/);
});
