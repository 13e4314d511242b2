/** End-to-end over HTTP on the configured database (PostgreSQL in CI; PGlite without a server). */
import { startTestApp, type TestApp } from '../support/test-app.js';
import { financeDriveScenario, triageScenario } from './web-chat-flow.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('runs "I need access to the finance drive" through dialog, two approvals and fulfilment', async () => {
  await financeDriveScenario(t);
});

it('sends a low-confidence message to triage; the assigned item continues the dialog', async () => {
  await triageScenario(t);
});
