/**
 * Sensitive fields (catalogue `sensitive: true`) never reach logs, the audit log, stored step
 * inputs, or messages to anyone but the requester: a payroll bank change driven end to end with
 * every log line captured at debug level and searched.
 */
import { Writable } from 'node:stream';
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { pino } from 'pino';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

const IBAN = 'DE89370400440532013000';
const lines: string[] = [];
let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  nock(/example\.com/).persist().post(/.*/).reply(202, { ok: true });
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  t = await startTestApp({ env: { LOG_LEVEL: 'debug' }, app: { log: pino({ level: 'trace' }, sink) } });
});
afterAll(async () => { await t?.close(); restoreNet(); });

it('keeps the IBAN out of logs, audit, step inputs and other people\'s messages', async () => {
  const item = t.app.catalogue.get('payroll-change')!;
  const answers: Record<string, unknown> = {};
  for (const f of item.fields) {
    if (f.type === 'choice') answers[f.name] = 'bank-details';
    else if (f.type === 'date') answers[f.name] = '2027-01-15';
    else if (f.name.toLowerCase().includes('iban')) answers[f.name] = IBAN;
    else if (f.type === 'text' && f.required && !f.when) answers[f.name] = 'Moved to a new bank';
  }
  const { request } = await t.app.requests.submit({ item, requesterEmail: 'erin.employee@example.com', answers, channel: 'test' });
  for (let i = 0; i < 4; i++) {
    const [a] = (await t.app.db.query(`SELECT id, approvers FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id])).rows;
    if (!a) break;
    await t.app.requests.decide(a.id, a.approvers[0], 'approve');
  }
  await eventually(async () => ['fulfilled', 'failed'].includes((await t.app.db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status), 20000, 'done');
  expect(lines.join('\n')).toContain('step started'); // the capture works and step inputs are logged (masked)
  expect(lines.join('\n')).not.toContain(IBAN);
  const dump = async (sql: string) => JSON.stringify((await t.app.db.query(sql)).rows);
  expect(await dump('SELECT * FROM audit_log')).not.toContain(IBAN);
  expect(await dump('SELECT input, output FROM fulfilment_steps')).not.toContain(IBAN);
  expect(await dump(`SELECT body FROM messages WHERE person_email <> 'erin.employee@example.com'`)).not.toContain(IBAN);
  // approvers still see that a bank detail was given, masked to its last 4 digits
  expect(await dump(`SELECT body FROM messages WHERE body->>'kind' = 'approval'`)).toContain('••••3000');
  // the stored request keeps the value for fulfilment (the system of record), shown masked by the API
  const api = await (await fetch(`${t.base}/api/requests/${request.ref}`, { headers: { authorization: 'Bearer test-key' } })).json();
  expect(JSON.stringify(api)).not.toContain(IBAN);
});
