/** End-to-end over HTTP on the configured database (PostgreSQL in CI; PGlite without a server). */
import { createApp } from '../../src/app.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { financeDriveScenario, outOfScopeScenario, restartAndDenyScenario, triageEligibilityScenario, triageScenario } from './web-chat-flow.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('runs "I need access to the finance drive" through dialog, two approvals and fulfilment', async () => {
  await financeDriveScenario(t);
});

it('sends a low-confidence message to triage; the assigned item continues the dialog', async () => {
  await triageScenario(t);
});

it('refuses a triage assignment the requester is not eligible for', async () => {
  await triageEligibilityScenario(t);
});

it('resumes a dialog in a restarted instance, and a denial asks for and passes on the reason', async () => {
  await restartAndDenyScenario(t, async () => {
    const app2 = await createApp({ config: t.app.config, db: t.app.db, workerName: 'second-instance' });
    return {
      handle: (text) => app2.conversation.handle({ channel: 'web', personEmail: 'erin.employee@example.com', conversationId: 'web:erin.employee@example.com', text }),
      close: () => app2.stop(),
    };
  });
});

it('answers out-of-scope chat without queueing it, and queues it when asked', async () => {
  await outOfScopeScenario(t);
});

it('lets triage handle a message as a case, telling the requester the case reference', async () => {
  const { WebUser } = await import('../support/web-client.js');
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  await erin.say('cancel');
  await erin.say('my zorble thingy needs sorting');
  const card = (await tara.all()).filter((m) => m.kind === 'triage' && m.text.includes('zorble thingy') && !m.resolved).at(-1)!;
  await tara.click(`triage:${card.triageId}:case`);
  const [c] = (await t.app.db.query(`SELECT ref, queue, person_email, status FROM cases WHERE idempotency_key = $1`, [`triage:${card.triageId}`])).rows;
  expect(c).toMatchObject({ queue: 'service-desk', person_email: 'erin.employee@example.com', status: 'open' });
  expect((await erin.inbox()).map((m) => m.text).join('\n')).toContain(`as case ${c!.ref}`);
});

it('"that\'s not what I meant" sends the original words to triage without the wrong suggestion; the triage decision is the label', async () => {
  const { WebUser } = await import('../support/web-client.js');
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  await erin.say('cancel');
  const m = await erin.say('I need access to the finance drive');
  expect(m.map((x) => x.text).join(' ')).toMatch(/Shared drive access/);
  const back = await erin.say("that's not what I meant");
  expect(back.at(-1)!.text).toMatch(/passed "I need access to the finance drive" to the service desk/);
  const [item] = (await t.app.db.query(`SELECT id, text, suggestions FROM triage_items WHERE text = 'I need access to the finance drive' ORDER BY created_at DESC LIMIT 1`)).rows;
  expect(item!.suggestions.map((s: { intent: string }) => s.intent)).not.toContain('shared-drive-access');
  await tara.click(`triage:${item!.id}:assign:app-access`);
  expect((await t.app.db.query(`SELECT intent FROM training_labels WHERE text = 'I need access to the finance drive'`)).rows).toEqual([{ intent: 'app-access' }]);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'nlu.corrected'`)).rows[0]!.n).toBe(1);
});
