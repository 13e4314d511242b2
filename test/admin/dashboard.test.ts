/**
 * The admin dashboard in a real browser (Debian's chromium through playwright-core) against the
 * real app. The data is made the way people make it: requests over the REST API and the web chat,
 * approvals clicked by the manager, the job runner fulfilling (a fake identity backend fails some
 * password resets: 503s that retries do not overcome, and 422s), an unsure message in triage; then
 * timestamps are moved back with SQL to spread the history over four weeks. Each page is visited
 * and its charts are checked against the JSON endpoint they are drawn from; screenshots go to
 * test-output/screenshots/.
 *
 * Skipped (with a message) only when no chromium is found at CHROMIUM_PATH or /usr/bin/chromium.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { runAdminCommand } from '../../src/cli/admin-commands.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { upsertPerson } from '../../src/directory/directory.repository.js';
import { ActionError, type Action } from '../../src/fulfilment/action.port.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p): p is string => Boolean(p && existsSync(p)));
const SHOTS = path.join(PROJECT_ROOT, 'test-output', 'screenshots');
const PW = 'dashboard password 2026';
const KEY = { authorization: 'Bearer test-key', 'content-type': 'application/json' };
const DAY = 86_400_000;
const ymd = (d: Date) => d.toISOString().slice(0, 10);

if (!CHROMIUM) {
  // eslint-disable-next-line no-console
  console.warn(`test/admin/dashboard.test.ts skipped: no chromium at ${process.env.CHROMIUM_PATH ? `CHROMIUM_PATH (${process.env.CHROMIUM_PATH}) or ` : ''}/usr/bin/chromium. Install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
}
const suite = CHROMIUM ? describe : describe.skip;

/** The identity backend of password resets: SAP is down (503), Workday does not know the person (422). */
const fakeIdm: Action = {
  name: 'http.request',
  async run(input) {
    const system = (input.body as { system?: string } | undefined)?.system;
    if (system === 'sap') throw new ActionError(`POST ${String(input.url)} answered 503: SAP identity service in maintenance`, true);
    if (system === 'workday') throw new ActionError(`POST ${String(input.url)} answered 422: no user with this e-mail in Workday`, false);
    return { status: 202 };
  },
};

const REQUESTERS = [
  { email: 'paula.finance@example.com', name: 'Paula Finance', department: 'Finance', location: 'London' },
  { email: 'quinn.it@example.com', name: 'Quinn IT', department: 'IT', location: 'Berlin' },
  { email: 'rosa.hr@example.com', name: 'Rosa HR', department: 'HR', location: 'London' },
  { email: 'sven.sales@example.com', name: 'Sven Sales', department: 'Sales', location: 'Remote' },
  { email: 'tomas.sales@example.com', name: 'Tomas Sales', department: 'Sales', location: 'Berlin' },
  { email: 'uma.finance@example.com', name: 'Uma Finance', department: 'Finance', location: 'Remote' },
  { email: 'vera.it@example.com', name: 'Vera IT', department: 'IT', location: 'London' },
  { email: 'wim.hr@example.com', name: 'Wim HR', department: 'HR', location: 'Berlin' },
  { email: 'xena.legal@example.com', name: 'Xena Legal', department: 'Legal', location: 'London' },
  { email: 'yann.legal@example.com', name: 'Yann Legal', department: 'Legal', location: 'Remote' },
];

let t: TestApp;
let browser: Browser;

async function post(body: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${t.base}/api/requests`, { method: 'POST', headers: KEY, body: JSON.stringify(body) });
  const j = await r.json() as { ref: string };
  if (r.status !== 201) throw new Error(`POST /api/requests ${r.status}: ${JSON.stringify(j)}`);
  return j.ref;
}

/** Moves a request into the past: everything by `days`; submission (and approval start) `hours` more. */
async function backdate(ref: string, days: number, hours: number): Promise<void> {
  const id = (await t.app.db.query<{ id: string }>('SELECT id FROM requests WHERE ref = $1', [ref])).rows[0]!.id;
  const d = `${days} days`, h = `${hours} hours`;
  await t.app.db.transaction(async (tx) => {
    await tx.query('UPDATE requests SET created_at = created_at - $2::interval - $3::interval, updated_at = updated_at - $2::interval, completed_at = completed_at - $2::interval WHERE id = $1', [id, d, h]);
    await tx.query(`UPDATE request_events SET at = at - $2::interval - CASE WHEN kind = 'status' AND to_status IN ('submitted', 'awaiting-approval') THEN $3::interval ELSE interval '0' END WHERE request_id = $1`, [id, d, h]);
    await tx.query('UPDATE approvals SET created_at = created_at - $2::interval - $3::interval, decided_at = decided_at - $2::interval WHERE request_id = $1', [id, d, h]);
    await tx.query('UPDATE fulfilment_steps SET started_at = started_at - $2::interval, finished_at = finished_at - $2::interval WHERE request_id = $1', [id, d]);
    await tx.query('UPDATE fulfilment_failures SET occurred_at = occurred_at - $2::interval WHERE request_id = $1', [id, d]);
    await tx.query('UPDATE cases SET created_at = created_at - $2::interval, closed_at = closed_at - $2::interval WHERE request_id = $1', [id, d]);
    await tx.query('UPDATE satisfaction_ratings SET prompted_at = prompted_at - $2::interval WHERE request_id = $1', [id, d]);
  });
}

/** Approves every approval card waiting for the manager. */
async function approveAll(mark: WebUser, n: number): Promise<void> {
  let done = 0;
  await eventually(async () => {
    for (const card of (await mark.inbox()).filter((m) => m.kind === 'approval' && m.buttons?.length)) {
      await mark.click(card.buttons!.find((b) => b.id.endsWith(':approve'))!.id);
      done++;
    }
    return done >= n;
  }, 20000, `${n} approvals`);
}

async function seed(): Promise<void> {
  const db = t.app.db;
  for (const p of REQUESTERS) await upsertPerson(db, { ...p, roles: ['employee'], manager: 'mark.manager@example.com', groups: ['all-staff'] });
  // Nina owns vpn-access through the network team's mailbox group
  await upsertPerson(db, { email: 'nina.network@example.com', name: 'Nina Network', department: 'IT', location: 'Berlin', roles: ['employee'], groups: ['network@example.com'] });
  for (const email of ['ada.admin@example.com', 'fred.fulfiller@example.com']) {
    const { Readable, Writable } = await import('node:stream');
    const sink = new Writable({ write(_c, _e, cb) { cb(); } });
    expect(await runAdminCommand('add-user', ['--email', email, '--password-stdin'], { stdin: Readable.from([`${PW}\n`]), stdout: sink, stderr: sink, db })).toBe(0);
  }

  const mark = new WebUser(t.base, 'mark.manager@example.com');
  // Erin asks for VPN access in the web chat; the manager approves there
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  let m = await erin.say('I need VPN access to work from home');
  for (let i = 0; i < 6 && m.at(-1)?.kind !== 'summary'; i++) {
    const last = m.at(-1)!.text;
    m = /profile|networks/i.test(last) ? await erin.say('standard') : /company laptop|device/i.test(last) ? await erin.say('company laptop') : await erin.say('Working from home on Fridays');
  }
  expect(m.at(-1)!.kind).toBe('summary');
  m = await erin.click('dialog:confirm');
  const erinRef = /REQ-\d{6}/.exec(m.map((x) => x.text).join(' '))![0];

  // password resets over the REST API: 20, of which two hit SAP (503) and one Workday (422)
  const resets: string[] = [];
  for (let i = 0; i < 20; i++) {
    const account = i === 4 || i === 13 ? 'sap' : i === 9 ? 'workday' : ['network', 'email'][i % 2]!;
    resets.push(await post({ item: 'password-reset', requester: REQUESTERS[i % REQUESTERS.length]!.email, fields: { account, delivery: 'sms' } }));
  }
  // VPN for five more people; the manager approves all of them
  const vpns: string[] = [];
  for (let i = 0; i < 5; i++) vpns.push(await post({ item: 'vpn-access', requester: REQUESTERS[i * 2]!.email, fields: { profile: 'standard', device: 'company', justification: 'Remote work during the office move' } }));
  await approveAll(mark, 6);
  const all = [erinRef, ...resets, ...vpns];
  await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM requests WHERE ref = ANY($1) AND status IN ('fulfilled', 'failed')`, [all])).rows[0]!.n === all.length, 60000, 'fulfilment of every request');

  // two VPN requests stay open: one waiting 30 hours (past its 1-day target), one just in
  const late = await post({ item: 'vpn-access', requester: REQUESTERS[1]!.email, fields: { profile: 'standard', device: 'company', justification: 'Travelling to the Berlin office' } });
  await db.query(`UPDATE requests SET created_at = now() - interval '30 hours' WHERE ref = $1`, [late]);
  await post({ item: 'vpn-access', requester: REQUESTERS[3]!.email, fields: { profile: 'standard', device: 'company', justification: 'Travelling to the London office' } });
  // something errand cannot place waits in triage
  await new WebUser(t.base, 'quinn.it@example.com').say('can you set up blorp access for me');

  // spread the history over four weeks (a few stay today), with cycle times from 1 to 30 hours
  const spread = [...resets, ...vpns, erinRef];
  for (let i = 0; i < spread.length; i++) {
    const days = i >= spread.length - 3 ? 0 : 1 + ((i * 7) % 27);
    await backdate(spread[i]!, days, days === 0 ? 1 + i % 3 : 1 + ((i * 11) % 30));
  }
}

suite('admin dashboard in chromium', () => {
  beforeAll(async () => {
    t = await startTestApp({ app: { actions: [fakeIdm], maxAttempts: 2 } });
    await seed();
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const newPage = async (): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    return { ctx, page, errors };
  };
  const ready = (page: Page) => page.waitForSelector('#view[data-ready="true"]', { timeout: 15000 });
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  /** The chart on a canvas: labels and every dataset's data. */
  const chartOf = (page: Page, id: string) => page.waitForFunction((cid) => {
    const c = (window as unknown as { Chart: { getChart(x: string): { data: { labels: unknown[]; datasets: { label: string; data: unknown[] }[] } } | undefined } }).Chart.getChart(cid);
    return c ? { labels: c.data.labels, datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })) } : undefined;
  }, id, { timeout: 10000 }).then((h) => h.jsonValue() as Promise<{ labels: string[]; datasets: { label: string; data: (number | null)[] }[] }>);
  /** An /admin/api endpoint, fetched by the page with its session (the same data the page drew). */
  const json = <T = Record<string, unknown>>(page: Page, url: string) => page.evaluate(async (u) => { const r = await fetch(u); return { status: r.status, body: await r.json() }; }, url) as Promise<{ status: number; body: T }>;
  const period = () => { const today = new Date(); return `from=${ymd(new Date(today.getTime() - 29 * DAY))}&to=${ymd(new Date(today.getTime() + DAY))}`; };

  it('sends an unauthenticated visitor to the sign-in page', async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${t.base}/admin/forecast`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/admin/forecast');
    expect(await page.isVisible('#password-form')).toBe(true);
    expect(await page.isVisible('#link-form')).toBe(true);
    await shot(page, '01-login');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('an admin signs in with a local account and sees every page with charts drawn from /admin/api', async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${t.base}/admin`);
    await page.fill('#password-form input[name=email]', 'ada.admin@example.com');
    await page.fill('#password-form input[name=password]', PW);
    await Promise.all([page.waitForURL('**/admin/overview'), page.click('#password-form button[type=submit]')]);
    expect(await page.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['/admin/overview', '/admin/cycle-time', '/admin/bottlenecks', '/admin/failures', '/admin/forecast', '/admin/service-review']);

    // overview: open requests by status, SLA risk, triage
    await ready(page);
    const ov = (await json<{ open: { byStatus: Record<string, number> }; slaRisk: { ref: string; breached: boolean }[]; triage: { open: number }; today: { submitted: number } }>(page, '/admin/api/overview')).body;
    const open = await chartOf(page, 'chart-open');
    expect(open.datasets[0]!.data.length).toBeGreaterThan(0);
    expect(open.datasets[0]!.data).toEqual(Object.values(ov.open.byStatus).filter((n) => n > 0));
    expect(ov.open.byStatus['awaiting-approval']).toBe(2);
    expect(await page.$$eval('#sla-risk tbody tr', (rows) => rows.length)).toBe(ov.slaRisk.length);
    expect(ov.slaRisk.some((r) => r.breached)).toBe(true);
    expect(await page.textContent('[data-kpi="triage"] .kpi-num')).toBe(String(ov.triage.open));
    expect(ov.triage.open).toBeGreaterThanOrEqual(1);
    await shot(page, '02-overview-admin');

    // cycle time: daily p50/p90 and volume
    await page.goto(`${t.base}/admin/cycle-time`);
    await ready(page);
    const ct = (await json<{ overall: { count: number; p50Hours: number }; daily: { date: string; count: number; p50Hours: number | null; p90Hours: number | null }[]; byItem: { item: string }[] }>(page, `/admin/api/cycle-time?${period()}`)).body;
    const cyc = await chartOf(page, 'chart-cycle');
    expect(cyc.datasets[0]!.data.filter((x) => x !== null).length).toBeGreaterThan(5);
    expect(cyc.datasets[0]!.data).toEqual(ct.daily.map((d) => d.p50Hours));
    expect(cyc.datasets[1]!.data).toEqual(ct.daily.map((d) => d.p90Hours));
    expect(cyc.datasets[2]!.data).toEqual(ct.daily.map((d) => d.count));
    expect(ct.overall.count).toBeGreaterThanOrEqual(20);
    expect(await page.$$eval('#by-item tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(ct.byItem.map((i) => i.item));
    expect(await page.textContent('[data-kpi="count"] .kpi-num')).toBe(String(ct.overall.count));
    // group by location with the filter form
    await page.selectOption('#f-group', 'location');
    await Promise.all([page.waitForURL(/group=location/), page.click('#filters button[type=submit]')]);
    await ready(page);
    expect(await page.$$eval('#by-group tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')).sort())).toEqual(['Berlin', 'London', 'Remote']);
    await shot(page, '03-cycle-time');
    // a period without requests: the empty state instead of a chart
    await page.goto(`${t.base}/admin/cycle-time?from=2025-01-01&to=2025-01-31`);
    await ready(page);
    expect(await page.textContent('#card-daily .empty')).toBe('No data in this period.');
    expect(await page.$('#chart-cycle')).toBeNull();

    // bottlenecks: a stacked bar per item, one dataset per component
    await page.goto(`${t.base}/admin/bottlenecks`);
    await ready(page);
    const bn = (await json<{ items: { item: string; title: string; components: { component: string; meanHours: number }[] }[] }>(page, `/admin/api/bottlenecks?${period()}`)).body;
    const stack = await chartOf(page, 'chart-bottlenecks');
    expect(stack.labels).toEqual(bn.items.map((i) => i.title));
    expect(stack.datasets.map((d) => d.label)).toEqual(['Approval', 'Manual work', 'Retries', 'Automated steps', 'Waiting']);
    expect(stack.datasets[0]!.data).toEqual(bn.items.map((i) => i.components.find((c) => c.component === 'approval')!.meanHours));
    expect(stack.datasets[0]!.data.some((x) => (x ?? 0) > 1)).toBe(true);
    await shot(page, '04-bottlenecks');

    // failures: by category, recurring errors, and a category changed from the page
    await page.goto(`${t.base}/admin/failures`);
    await ready(page);
    const fl = (await json<{ total: number; byCategory: Record<string, number>; recurring: unknown[]; recent: { id: number; category: string; item: string }[] }>(page, `/admin/api/failures?${period()}`)).body;
    const cat = await chartOf(page, 'chart-categories');
    expect(cat.datasets[0]!.data).toEqual([fl.byCategory.process, fl.byCategory.system, fl.byCategory.user]);
    expect(fl.byCategory.system).toBeGreaterThanOrEqual(2);
    expect(fl.byCategory.user).toBeGreaterThanOrEqual(1);
    expect(await page.$$eval('#recurring tbody tr', (rows) => rows.length)).toBe(fl.recurring.length);
    await shot(page, '05-failures');
    const target = fl.recent.find((f) => f.category === 'system')!;
    const row = `#recent tr[data-key="${target.id}"]`;
    await page.selectOption(`${row} select[name=category]`, 'process');
    await page.fill(`${row} input[name=reason]`, 'SAP maintenance window was not announced');
    await page.click(`${row} button[type=submit]`);
    await page.waitForSelector('#status.ok');
    expect(await page.textContent('#status')).toMatch(new RegExp(`Failure ${target.id} .* moved from System to Process`));
    const changed = (await t.app.db.query('SELECT category, categorised_by, category_reason FROM fulfilment_failures WHERE id = $1', [target.id])).rows[0];
    expect(changed).toEqual({ category: 'process', categorised_by: 'ada.admin@example.com', category_reason: 'SAP maintenance window was not announced' });
    await page.waitForFunction(([p]) => (window as unknown as { Chart: { getChart(x: string): { data: { datasets: { data: number[] }[] } } } }).Chart.getChart('chart-categories')?.data.datasets[0]!.data[0] === p, [fl.byCategory.process! + 1]);

    // forecast: history and forecast lines, held-out error, capacity
    await page.goto(`${t.base}/admin/forecast`);
    await ready(page);
    const fc = (await json<{ weeks: number; series: { method: string; history: { count: number }[]; forecast: { count: number }[]; holdout: { mae: number } | null } }>(page, '/admin/api/forecast?weeks=2')).body;
    const line = await chartOf(page, 'chart-forecast');
    const h = fc.series.history.length;
    expect(h).toBeGreaterThanOrEqual(21);
    expect(line.datasets[0]!.data.slice(0, h)).toEqual(fc.series.history.map((x) => x.count));
    expect(line.datasets[1]!.data.slice(h)).toEqual(fc.series.forecast.map((x) => x.count));
    expect(line.labels).toHaveLength(h + 14);
    expect(fc.series.method).toBe('holt-winters');
    expect(await page.textContent('[data-kpi="mae"] .kpi-num')).toBe(`${new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 }).format(fc.series.holdout!.mae)}`);
    await shot(page, '06-forecast');

    // service review: a row per item, and the CSV download
    await page.goto(`${t.base}/admin/service-review`);
    await ready(page);
    const sr = (await json<{ items: { item: string }[] }>(page, `/admin/api/service-review?${period()}`)).body;
    expect(await page.$$eval('#review tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(sr.items.map((i) => i.item));
    await shot(page, '07-service-review');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toMatch(/^item,title,submitted,fulfilled,failed/);
    expect(csv).toMatch(/^password-reset,Password reset,/m);
    expect(csv).toMatch(/^\*,all items,/m);

    expect(errors).toEqual([]);
    await ctx.close();
  }, 120_000);

  it('a service owner signs in with a link from chat and sees only their item', async () => {
    const nina = new WebUser(t.base, 'nina.network@example.com');
    await nina.inbox();
    const { ctx, page, errors } = await newPage();
    await page.goto(`${t.base}/admin/login`);
    await page.fill('#link-form input[name=email]', 'nina.network@example.com');
    await page.click('#link-form button[type=submit]');
    await page.waitForSelector('.alert-ok');
    const msg = await eventually(async () => (await nina.inbox()).find((x) => /\/admin\/login\/link\?token=/.test(x.text)), 5000, 'the sign-in link in the web chat');
    const link = /(https?:\/\/\S+\/admin\/login\/link\?token=[\w-]+)/.exec(msg.text)![1]!;
    await page.goto(link);
    await Promise.all([page.waitForURL('**/admin/overview'), page.click('#consume-form button[type=submit]')]);
    expect(await page.textContent('#role')).toBe('Service owner');
    expect(await page.$$eval('#nav a', (as) => as.length)).toBe(6);

    await ready(page);
    const ov = (await json<{ scope: string[]; slaRisk: { item: string }[] }>(page, '/admin/api/overview')).body;
    expect(ov.scope).toEqual(['vpn-access']);
    expect(ov.slaRisk.map((r) => r.item)).toEqual(['vpn-access']);
    expect(await page.textContent('#scope')).toBe('Your items: VPN access');
    expect(await page.textContent('#view')).not.toMatch(/password/i);
    await shot(page, '08-overview-service-owner');

    await page.goto(`${t.base}/admin/cycle-time`);
    await ready(page);
    expect(await page.$$eval('#f-item option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'vpn-access']);
    expect(await page.$$eval('#by-item tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(['vpn-access']);
    const cyc = await chartOf(page, 'chart-cycle');
    const ct = (await json<{ daily: { count: number }[] }>(page, `/admin/api/cycle-time?${period()}`)).body;
    expect(cyc.datasets[2]!.data).toEqual(ct.daily.map((d) => d.count));
    expect(ct.daily.reduce((a, d) => a + d.count, 0)).toBe(6);
    await shot(page, '09-cycle-time-service-owner');

    // another item is refused by the API, and the page says so
    await page.goto(`${t.base}/admin/cycle-time?item=password-reset`);
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toMatch(/not the service owner of password-reset/);
    await page.goto(`${t.base}/admin/service-review`);
    await ready(page);
    expect(await page.$$eval('#review tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(['vpn-access']);
    const csv = await page.evaluate(async () => (await fetch((document.querySelector('#csv') as HTMLAnchorElement).href)).text());
    expect(csv.split('\n').filter(Boolean).map((l) => l.split(',')[0])).toEqual(['item', 'vpn-access', '*']);

    // sign out: back to the sign-in page, and the session is gone
    await Promise.all([page.waitForURL('**/admin/login'), page.click('#logout')]);
    await page.goto(`${t.base}/admin/overview`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await ctx.close();
  }, 60_000);

  it('a fulfiller sees only the failures page', async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${t.base}/admin/login`);
    await page.fill('#password-form input[name=email]', 'fred.fulfiller@example.com');
    await page.fill('#password-form input[name=password]', PW);
    await Promise.all([page.waitForURL('**/admin/failures'), page.click('#password-form button[type=submit]')]);
    expect(await page.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['/admin/failures']);
    await ready(page);
    const cat = await chartOf(page, 'chart-categories');
    expect(cat.datasets[0]!.data.reduce<number>((a, b) => a + (b ?? 0), 0)).toBeGreaterThanOrEqual(3);
    expect(await page.$$eval('#recent form.recat', (fs) => fs.length)).toBeGreaterThan(0);
    await shot(page, '10-failures-fulfiller');
    const res = await page.goto(`${t.base}/admin/overview`);
    expect(res!.status()).toBe(403);
    expect(await page.textContent('h1')).toBe('Not for your role');
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await ctx.close();
  });
});
