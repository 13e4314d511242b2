/**
 * Sign-in to the admin dashboard over plain HTTP against the real app: local accounts made with the
 * CLI, chat sign-in links taken from the web chat outbox, sessions (cookie flags, expiry, logout,
 * a disabled person), the session on /admin/api (actor = the signed-in person), CSRF on PATCH and
 * logout, throttling per e-mail + IP, and the audit trail of it all.
 */
import { Readable, Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import { runAdminCommand } from '../../src/cli/admin-commands.js';
import { upsertPerson } from '../../src/directory/directory.repository.js';
import { AdminAuth, cookie, hashPassword, verifyPassword } from '../../src/http/admin/auth.js';
import { recordFailure } from '../../src/reporting/rca.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';
import { Client } from './http-client.js';

let t: TestApp;
const PW = 'correct horse battery staple';

function io(stdin = '') {
  let out = '', err = '';
  return {
    io: {
      stdin: Readable.from([stdin]),
      stdout: new Writable({ write(c, _e, cb) { out += String(c); cb(); } }),
      stderr: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }),
      db: t.app.db,
    },
    out: () => out,
    err: () => err,
  };
}

const audits = async (action: string) => (await t.app.db.query<{ actor: string; subject: string; detail: Record<string, unknown> }>('SELECT actor, subject, detail FROM audit_log WHERE action = $1 ORDER BY id', [action])).rows;

beforeAll(async () => {
  t = await startTestApp();
  await upsertPerson(t.app.db, { email: 'nina.network@example.com', name: 'Nina Network', department: 'IT', roles: ['employee'], groups: ['network@example.com'] });
  for (const email of ['ada.admin@example.com', 'fred.fulfiller@example.com', 'nina.network@example.com', 'erin.employee@example.com']) {
    const x = io(`${PW}\n`);
    expect(await runAdminCommand('add-user', ['--email', email, '--password-stdin'], x.io)).toBe(0);
  }
});
afterAll(async () => { await t?.close(); });

describe('errand admin (CLI)', () => {
  it('creates accounts for directory people only, with a scrypt hash, and audits it', async () => {
    const row = (await t.app.db.query('SELECT password_hash, created_by FROM admin_accounts WHERE email = $1', ['ada.admin@example.com'])).rows[0]!;
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(row.password_hash).not.toContain(PW);
    expect(await verifyPassword(PW, row.password_hash)).toBe(true);
    expect(await verifyPassword(`${PW}!`, row.password_hash)).toBe(false);
    expect((await audits('admin.account-created')).map((a) => a.subject)).toEqual(expect.arrayContaining(['ada.admin@example.com', 'nina.network@example.com']));

    const unknown = io(`${PW}\n`);
    expect(await runAdminCommand('add-user', ['--email', 'nobody@example.com', '--password-stdin'], unknown.io)).toBe(1);
    expect(unknown.err()).toMatch(/not in the directory/);
    const short = io('short\n');
    expect(await runAdminCommand('add-user', ['--email', 'ada.admin@example.com', '--password-stdin'], short.io)).toBe(2);
    expect(short.err()).toMatch(/at least 12 characters/);
    expect(await runAdminCommand('add-user', [], io().io)).toBe(2);

    // without --password-stdin a password is generated and shown once
    const gen = io();
    expect(await runAdminCommand('add-user', ['--email', 'tara.triage@example.com'], gen.io)).toBe(0);
    const pw = /password: (\S+)/.exec(gen.out())![1]!;
    expect(pw.length).toBeGreaterThanOrEqual(20);
    const list = io();
    expect(await runAdminCommand('list-users', [], list.io)).toBe(0);
    expect(list.out()).toMatch(/tara\.triage@example\.com\s+Tara Triage/);
    const rm = io();
    expect(await runAdminCommand('remove-user', ['--email', 'tara.triage@example.com'], rm.io)).toBe(0);
    expect(await runAdminCommand('remove-user', ['--email', 'tara.triage@example.com'], io().io)).toBe(1);

    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try { expect(await runCli(['admin', 'nonsense'])).toBe(2); } finally { process.stderr.write = write; }
  });
});

describe('sessions', () => {
  it('sends people without a session to the sign-in page, and /admin/api answers 401', async () => {
    const c = new Client(t.base);
    const root = await c.req('/admin');
    expect([root.status, root.headers.get('location')]).toEqual([302, '/admin/login']);
    const page = await c.req('/admin/cycle-time?from=2026-01-01');
    expect([page.status, page.headers.get('location')]).toEqual([302, '/admin/login?next=%2Fadmin%2Fcycle-time%3Ffrom%3D2026-01-01']);
    expect((await c.req('/admin/api/overview')).status).toBe(401);
    expect((await c.req('/admin/service-review.csv')).status).toBe(401);
    expect((await c.req('/admin/no-such-page')).status).toBe(404);
    expect((await c.req('/admin/assets/nothing.js')).status).toBe(404);

    const login = await c.req('/admin/login');
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(login.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    expect(login.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await login.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    expect(html).not.toMatch(/\sstyle=/); // no inline style
  });

  it('signs in with e-mail and password: HttpOnly SameSite=Lax session cookie, CSRF cookie, redirect to the first page', async () => {
    const c = new Client(t.base);
    const bad = await c.login('ada.admin@example.com', 'wrong password!!');
    expect(bad.status).toBe(401);
    expect(await bad.text()).toMatch(/Wrong e-mail or password/);
    expect(c.cookies.has('errand_admin')).toBe(false);
    // the form token must match the pre-session cookie
    const forged = await new Client(t.base).req('/admin/login', { form: { _csrf: 'x'.repeat(43), email: 'ada.admin@example.com', password: PW } });
    expect(forged.status).toBe(403);

    const tok = await c.formToken();
    const ok = await c.req('/admin/login', { form: { _csrf: tok, email: 'Ada.Admin@example.com', password: PW, next: '/admin/forecast?weeks=3' } });
    expect([ok.status, ok.headers.get('location')]).toEqual([303, '/admin/forecast?weeks=3']);
    const set = ok.headers.getSetCookie();
    const session = set.find((x) => x.startsWith('errand_admin='))!;
    expect(session).toMatch(/; Path=\/admin; Max-Age=28800; HttpOnly; SameSite=Lax$/);
    expect(session).not.toMatch(/Secure/);
    const csrf = set.find((x) => x.startsWith('errand_csrf='))!;
    expect(csrf).not.toMatch(/HttpOnly/);
    // only hashes are stored
    const id = c.cookies.get('errand_admin')!;
    const rows = (await t.app.db.query('SELECT id_hash, email, method, csrf_token FROM admin_sessions')).rows;
    expect(rows.some((r) => r.id_hash === id)).toBe(false);
    expect(rows.find((r) => r.csrf_token === c.csrf)).toMatchObject({ email: 'ada.admin@example.com', method: 'password' });
    // an open redirect is not followed
    const c2 = new Client(t.base);
    const evil = await c2.req('/admin/login', { form: { _csrf: await c2.formToken(), email: 'ada.admin@example.com', password: PW, next: '//evil.example.com/admin/overview' } });
    expect(evil.headers.get('location')).toBe('/admin');

    const home = await c.req('/admin');
    expect([home.status, home.headers.get('location')]).toEqual([302, '/admin/overview']);
    const page = await c.req('/admin/overview');
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const p of ['overview', 'cycle-time', 'bottlenecks', 'failures', 'forecast', 'service-review']) expect(html).toContain(`href="/admin/${p}"`);
    expect(html).toContain('<script src="/admin/assets/vendor/chart.umd.min.js" defer></script>');
    expect((await c.req('/admin/assets/vendor/chart.umd.min.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await c.req('/admin/assets/js/common.js')).status).toBe(200);
    expect((await audits('admin.login')).map((a) => [a.actor, a.detail.method])).toContainEqual(['ada.admin@example.com', 'password']);
    expect((await audits('admin.login-failed')).map((a) => [a.actor, a.detail.why])).toContainEqual(['ada.admin@example.com', 'wrong password']);
  });

  it('lets /admin/api take the session: the actor is the signed-in person, ?actor is ignored', async () => {
    const ada = new Client(t.base);
    await ada.login('ada.admin@example.com', PW);
    const r = await ada.req('/admin/api/overview?actor=erin.employee@example.com');
    expect(r.status).toBe(200);
    expect((await r.json()).scope).toBe('all');
    expect((await ada.req('/admin/api/cycle-time?group=team')).status).toBe(400); // still validated

    const nina = new Client(t.base);
    await nina.login('nina.network@example.com', PW);
    const own = await (await nina.req('/admin/api/overview?actor=ada.admin@example.com')).json();
    expect(own.scope).toEqual(['vpn-access']);
    expect((await nina.req('/admin/api/cycle-time?item=password-reset')).status).toBe(403);
    const navHtml = await (await nina.req('/admin/cycle-time')).text();
    expect(navHtml).toContain('href="/admin/service-review"');

    const fred = new Client(t.base);
    await fred.login('fred.fulfiller@example.com', PW);
    expect((await fred.req('/admin/api/overview')).status).toBe(403);
    expect((await fred.req('/admin/api/failures')).status).toBe(200);
    expect((await fred.req('/admin')).headers.get('location')).toBe('/admin/failures');
    const refused = await fred.req('/admin/overview');
    expect(refused.status).toBe(403);
    const fredHtml = await (await fred.req('/admin/failures')).text();
    expect(fredHtml).toContain('href="/admin/failures"');
    expect(fredHtml).not.toContain('href="/admin/overview"');

    // a person whose roles give no page can't sign in
    const erin = new Client(t.base);
    const no = await erin.login('erin.employee@example.com', PW);
    expect(no.status).toBe(403);
    expect(erin.cookies.has('errand_admin')).toBe(false);
  });

  it('needs the CSRF header (= cookie = the session token) on PATCH; the API key path needs none', async () => {
    const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('vpn-access')!, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: { profile: 'standard', device: 'company', justification: 'Working from home on Fridays' } });
    await recordFailure(t.app.db, { requestId: request.id, itemId: 'vpn-access', stepId: 'add-vpn-users', outcome: 'failed', error: new Error('directory timed out') });
    const id = Number((await t.app.db.query('SELECT id FROM fulfilment_failures WHERE request_id = $1', [request.id])).rows[0]!.id);

    const fred = new Client(t.base);
    await fred.login('fred.fulfiller@example.com', PW);
    const none = await fred.req(`/admin/api/failures/${id}/category`, { method: 'PATCH', json: { category: 'user' } });
    expect([none.status, (await none.json()).error]).toEqual([403, 'csrf']);
    const wrong = await fred.req(`/admin/api/failures/${id}/category`, { method: 'PATCH', json: { category: 'user' }, headers: { 'x-csrf-token': 'A'.repeat(43) } });
    expect(wrong.status).toBe(403);
    // another session's token does not fit this session
    const ada = new Client(t.base);
    await ada.login('ada.admin@example.com', PW);
    const crossed = await fred.req(`/admin/api/failures/${id}/category`, { method: 'PATCH', json: { category: 'user' }, headers: { 'x-csrf-token': ada.csrf } });
    expect(crossed.status).toBe(403);
    expect((await t.app.db.query('SELECT category FROM fulfilment_failures WHERE id = $1', [id])).rows[0]!.category).toBe('system');

    const ok = await fred.req(`/admin/api/failures/${id}/category`, { method: 'PATCH', json: { actor: 'ada.admin@example.com', category: 'user', reason: 'the person had left' }, headers: { 'x-csrf-token': fred.csrf } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id, category: 'user', previous: 'system', changedBy: 'fred.fulfiller@example.com' });
    expect((await audits('failure.categorised')).at(-1)).toMatchObject({ actor: 'fred.fulfiller@example.com' });

    const key = await fetch(`${t.base}/admin/api/failures/${id}/category`, { method: 'PATCH', headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' }, body: JSON.stringify({ actor: 'fred.fulfiller@example.com', category: 'system' }) });
    expect(key.status).toBe(200);
  });

  it('logs out (CSRF header needed), expires, and ends when the person is disabled', async () => {
    const c = new Client(t.base);
    await c.login('ada.admin@example.com', PW);
    expect((await c.req('/admin/logout', { method: 'POST' })).status).toBe(403);
    expect((await c.req('/admin/overview')).status).toBe(200);
    const out = await c.req('/admin/logout', { method: 'POST', headers: { 'x-csrf-token': c.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().find((x) => x.startsWith('errand_admin=;'))).toMatch(/Max-Age=0/);
    expect((await audits('admin.logout')).at(-1)).toMatchObject({ actor: 'ada.admin@example.com' });

    // the old cookie is dead server-side, even if a client kept it
    const again = new Client(t.base);
    await again.login('ada.admin@example.com', PW);
    const kept = again.cookies.get('errand_admin')!;
    await again.req('/admin/logout', { method: 'POST', headers: { 'x-csrf-token': again.csrf } });
    const replay = await fetch(`${t.base}/admin/overview`, { headers: { cookie: `errand_admin=${kept}` }, redirect: 'manual' });
    expect(replay.status).toBe(302);

    const exp = new Client(t.base);
    await exp.login('nina.network@example.com', PW);
    expect((await exp.req('/admin/api/overview')).status).toBe(200);
    await t.app.db.query(`UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE email = 'nina.network@example.com'`);
    expect((await exp.req('/admin/api/overview')).status).toBe(401);
    expect((await exp.req('/admin/overview')).status).toBe(302);

    const dis = new Client(t.base);
    await dis.login('nina.network@example.com', PW);
    expect((await dis.req('/admin/api/overview')).status).toBe(200);
    await t.app.db.query(`UPDATE people SET active = false WHERE email = 'nina.network@example.com'`);
    try {
      expect((await dis.req('/admin/api/overview')).status).toBe(401);
    } finally {
      await t.app.db.query(`UPDATE people SET active = true WHERE email = 'nina.network@example.com'`);
    }
  });

  it('throttles failed sign-ins per e-mail and IP (5 per 15 minutes) and audits it', async () => {
    const c = new Client(t.base);
    for (let i = 0; i < 5; i++) expect((await c.login('fred.fulfiller@example.com', `wrong password ${i}`)).status).toBe(401);
    const sixth = await c.login('fred.fulfiller@example.com', PW); // even the right password
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await sixth.text()).toMatch(/Too many failed attempts/);
    expect(c.cookies.has('errand_admin')).toBe(false);
    expect((await audits('admin.login-throttled')).at(-1)).toMatchObject({ actor: 'fred.fulfiller@example.com', detail: { kind: 'password', ip: '127.0.0.1' } });
    // another e-mail from the same address is not affected
    expect((await new Client(t.base).login('ada.admin@example.com', PW)).status).toBe(303);
    // the window passes
    await t.app.db.query(`UPDATE admin_login_attempts SET at = at - interval '16 minutes' WHERE email = 'fred.fulfiller@example.com'`);
    expect((await new Client(t.base).login('fred.fulfiller@example.com', PW)).status).toBe(303);
  });
});

describe('chat sign-in links', () => {
  const linkOf = (text: string) => /(http:\/\/\S+\/admin\/login\/link\?token=[\w-]+)/.exec(text)?.[1];

  it('posts a single-use, 10-minute link to the person\'s chat; the token is stored hashed', async () => {
    const ada = new WebUser(t.base, 'ada.admin@example.com');
    await ada.inbox();
    const c = new Client(t.base);
    const asked = await c.req('/admin/login/link', { form: { _csrf: await c.formToken(), email: 'ada.admin@example.com' } });
    expect(asked.status).toBe(200);
    expect(await asked.text()).toMatch(/If ada\.admin@example\.com may use the dashboard, a sign-in link is now in their errand chat/);
    const msg = (await ada.inbox()).find((m) => linkOf(m.text))!;
    expect(msg.text).toMatch(/valid for 10 minutes, once/);
    const url = linkOf(msg.text)!;
    expect(url.startsWith(`${t.base}/admin/login/link?token=`)).toBe(true);
    const token = new URL(url).searchParams.get('token')!;
    const stored = (await t.app.db.query('SELECT token_hash, expires_at, created_at FROM admin_login_links WHERE email = $1', ['ada.admin@example.com'])).rows;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toContain(token);
    expect(new Date(stored[0]!.expires_at).getTime() - new Date(stored[0]!.created_at).getTime()).toBe(600_000);

    // opening the link (or a chat client's link preview) does not use it up
    const b = new Client(t.base);
    const confirm = await b.req(url.slice(t.base.length));
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toMatch(/signs you in to the errand dashboard once/);
    const tok = await b.formToken(url.slice(t.base.length));
    const used = await b.req('/admin/login/link/consume', { form: { _csrf: tok, token } });
    expect([used.status, used.headers.get('location')]).toEqual([303, '/admin']);
    expect((await b.req('/admin/api/overview')).status).toBe(200);
    expect((await t.app.db.query(`SELECT method FROM admin_sessions WHERE email = 'ada.admin@example.com' ORDER BY created_at DESC LIMIT 1`)).rows[0]!.method).toBe('chat-link');

    // once only
    const c2 = new Client(t.base);
    const second = await c2.req('/admin/login/link/consume', { form: { _csrf: await c2.formToken(), token } });
    expect(second.status).toBe(410);
    expect(c2.cookies.has('errand_admin')).toBe(false);
    expect(await (await c2.req(url.slice(t.base.length))).text()).toMatch(/used already or has expired/);
    expect((await audits('admin.link-sent')).map((a) => a.actor)).toContain('ada.admin@example.com');
  });

  it('refuses expired links, and sends nothing to people without dashboard access (same answer)', async () => {
    const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
    await fred.inbox();
    const c = new Client(t.base);
    await c.req('/admin/login/link', { form: { _csrf: await c.formToken(), email: 'fred.fulfiller@example.com' } });
    const token = new URL(linkOf((await fred.inbox()).find((m) => linkOf(m.text))!.text)!).searchParams.get('token')!;
    await t.app.db.query(`UPDATE admin_login_links SET expires_at = now() - interval '1 second' WHERE email = 'fred.fulfiller@example.com'`);
    const late = await c.req('/admin/login/link/consume', { form: { _csrf: await c.formToken(), token } });
    expect(late.status).toBe(410);

    const erin = new WebUser(t.base, 'erin.employee@example.com');
    await erin.inbox();
    for (const email of ['erin.employee@example.com', 'nobody@example.com']) {
      const r = await c.req('/admin/login/link', { form: { _csrf: await c.formToken(), email } });
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/may use the dashboard, a sign-in link is now in their errand chat/);
    }
    expect((await erin.inbox()).filter((m) => linkOf(m.text))).toHaveLength(0);
    expect((await audits('admin.link-refused')).map((a) => [a.actor, a.detail.why])).toEqual(expect.arrayContaining([['erin.employee@example.com', 'no dashboard role'], ['nobody@example.com', 'not in the directory']]));
  });

  it('throttles link requests per e-mail and IP', async () => {
    const c = new Client(t.base);
    await t.app.db.query(`DELETE FROM admin_login_attempts WHERE email = 'nina.network@example.com'`);
    for (let i = 0; i < 5; i++) expect((await c.req('/admin/login/link', { form: { _csrf: await c.formToken(), email: 'nina.network@example.com' } })).status).toBe(200);
    const r = await c.req('/admin/login/link', { form: { _csrf: await c.formToken(), email: 'nina.network@example.com' } });
    expect(r.status).toBe(429);
    expect((await t.app.db.query(`SELECT count(*)::int AS n FROM admin_login_links WHERE email = 'nina.network@example.com'`)).rows[0]!.n).toBe(5);
  });
});

describe('pieces', () => {
  it('sets Secure on the cookies in production', () => {
    const auth = new AdminAuth({ db: t.app.db, catalogue: () => t.app.catalogue, now: () => new Date(), sessionTtlHours: 1, secure: true });
    for (const c of auth.sessionCookies({ id: 'a'.repeat(43), csrf: 'b'.repeat(43), email: 'x@example.com', expiresAt: new Date(Date.now() + 3_600_000) })) expect(c).toMatch(/; Secure; /);
    expect(cookie('n', 'v', { path: '/admin', httpOnly: true, secure: false, sameSite: 'Lax' })).toBe('n=v; Path=/admin; HttpOnly; SameSite=Lax');
  });

  it('hashes with a fresh salt each time', async () => {
    const [a, b] = [await hashPassword(PW), await hashPassword(PW)];
    expect(a).not.toBe(b);
    expect(await verifyPassword(PW, b)).toBe(true);
    expect(await verifyPassword(PW, 'bcrypt$whatever')).toBe(false);
    expect(await verifyPassword(PW, 'scrypt$3$8$1$AAAA$AAAA')).toBe(false); // N not a power of two
  });
});
