/** The same end-to-end scenario always on the embedded PGlite (the default with no DATABASE_URL). */
import { startTestApp, type TestApp } from '../support/test-app.js';
import { financeDriveScenario } from './web-chat-flow.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ kind: 'pglite' }); });
afterAll(async () => { await t?.close(); });

it('runs the finance drive request end to end on PGlite', async () => {
  expect(t.app.db.kind).toBe('pglite');
  await financeDriveScenario(t);
});
