/** Classifier quality over time, from what people did in chat (classifications, corrections, triage). */
import { Writable } from 'node:stream';
import { runReportCommand } from '../../src/cli/report-commands.js';
import { nluQualityReport, qualityReportMarkdown } from '../../src/nlu/quality-report.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('reports routed, corrected, missed and the triage share per item and period', async () => {
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const ivan = new WebUser(t.base, 'ivan.itlead@example.com');
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  const start = new Date(Date.now() - 60_000);

  // 1: routed to shared-drive-access, then corrected by the requester; triage assigns it to app-access
  await erin.say('I need access to the finance drive');
  await erin.say("that's not what I meant");
  const [corr] = (await t.app.db.query(`SELECT id FROM triage_items WHERE text = 'I need access to the finance drive'`)).rows;
  await tara.click(`triage:${corr!.id}:assign:app-access`);
  // 2: routed to vpn-access and kept
  await ivan.say('I need vpn access to work from home');
  await ivan.say('cancel');
  // 3: not understood (not routed); the person passes it to the service desk, triage assigns it to vpn-access
  const m = await ivan.say('the zorble from the train keeps blinking');
  const desk = m.at(-1)!.buttons?.find((b) => b.id === 'desk:ask');
  if (desk) await ivan.click(desk.id, desk.value);
  const [miss] = (await t.app.db.query(`SELECT id FROM triage_items WHERE requester_email = 'ivan.itlead@example.com' ORDER BY created_at DESC LIMIT 1`)).rows;
  const classified = (await t.app.db.query(`SELECT detail->>'intent' AS intent FROM audit_log WHERE action = 'nlu.classified' ORDER BY id`)).rows.map((r) => r.intent);
  expect(classified).toEqual(['shared-drive-access', 'vpn-access', null]);
  await tara.click(`triage:${miss!.id}:assign:vpn-access`);

  const r = await nluQualityReport(t.app.db, start, new Date(Date.now() + 60_000), 'day');
  expect(r.total).toMatchObject({ classified: 3, routed: 2, triaged: 1, triageShare: 0.3333 });
  expect(r.total.items['shared-drive-access']).toEqual({ routed: 1, corrected: 1, missed: 0, accuracy: 0 });
  expect(r.total.items['vpn-access']).toEqual({ routed: 1, corrected: 0, missed: 1, accuracy: 1 });
  expect(r.total.items['app-access']).toEqual({ routed: 0, corrected: 0, missed: 1, accuracy: null });
  expect(r.periods.map((p) => p.classified).reduce((a, b) => a + b, 0)).toBe(3);
  const md = qualityReportMarkdown(r);
  expect(md).toContain('| shared-drive-access | 1 | 1 | 0.0 % | 0 |');
  expect(md).toContain('33.3 %');
  // a period with nothing in it
  const empty = await nluQualityReport(t.app.db, new Date('2020-01-01'), new Date('2020-02-01'));
  expect(empty.periods).toEqual([]);
  expect(empty.total.triageShare).toBeNull();
  await expect(nluQualityReport(t.app.db, new Date('2020-02-01'), new Date('2020-01-01'))).rejects.toThrow(/period is empty/);

  // the CLI: errand report nlu
  const cli = async (args: string[]) => {
    let out = '', err = '';
    const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
    const code = await runReportCommand('nlu', args, { stdout: sink((s) => { out += s; }), stderr: sink((s) => { err += s; }), db: t.app.db });
    return { code, out, err };
  };
  const day = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const cliMd = await cli(['--from', day, '--to', tomorrow, '--by', 'day']);
  expect(cliMd.code).toBe(0);
  expect(cliMd.out).toContain('| shared-drive-access | 1 | 1 | 0.0 % | 0 |');
  const json = await cli(['--from', day, '--to', tomorrow, '--format', 'json']);
  expect(JSON.parse(json.out).total.classified).toBe(3);
  const bad = await cli(['--from', day, '--to', tomorrow, '--by', 'month']);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--by month: expected day or week/);
});
