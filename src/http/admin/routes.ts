/**
 * The admin dashboard under /admin: sign-in (password or a chat link), the report pages (a shell
 * per page; the data comes from /admin/api with the session cookie), the service review as CSV,
 * logout, and static assets (CSS, page modules, Chart.js from node_modules). No build step.
 *
 *   GET  /admin                          → the first page the person may see, or the sign-in page
 *   GET  /admin/login                    sign-in forms          POST /admin/login  {email, password}
 *   POST /admin/login/link {email}       sends a sign-in link to the person's chat
 *   GET  /admin/login/link?token=…       confirmation page      POST /admin/login/link/consume {token}
 *   POST /admin/logout                   (X-CSRF-Token)
 *   GET  /admin/<page>                   overview | cycle-time | bottlenecks | failures | forecast | service-review
 *   GET  /admin/service-review.csv?from&to|period&item
 *
 * Every response has a CSP without inline scripts or styles, no-referrer (sign-in links carry a
 * token) and no framing; pages and data are not cached.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { audit } from '../../audit/audit.repository.js';
import type { Catalogue } from '../../catalogue/loader.js';
import type { Database } from '../../db/database.js';
import { ownedItems, reportAccess } from '../../reporting/access.js';
import { addDays, monthPeriod, parseInstant } from '../../reporting/period.js';
import { reviewToCsv, serviceReview } from '../../reporting/service-review.js';
import { clientIp, LINK_TTL_MINUTES, type AdminAuth, type AdminSession } from './auth.js';
import { linkConfirmPage, loginPage, messagePage, PAGES, shellPage, type PageDef } from './pages.js';

const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
const CHART_JS = path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export interface AdminDashboardDeps {
  db: Database;
  catalogue: () => Catalogue;
  auth: AdminAuth;
  /** Base URL of sign-in links (ADMIN_PUBLIC_URL); undefined = the request's own host, unless production. */
  publicUrl: string | undefined;
  production: boolean;
  now: () => Date;
}

const ROLE_LABEL: Record<string, string> = { admin: 'Admin', auditor: 'Auditor', 'catalogue-admin': 'Catalogue admin', 'service-owner': 'Service owner', fulfiller: 'Fulfiller' };

/** Only our own pages as a `next` target (no open redirect). */
function safeNext(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\/admin\/([a-z-]+)(\?[A-Za-z0-9_.~%=&+-]*)?$/.exec(v);
  return m && PAGES.some((p) => p.path === m[1]) ? v : undefined;
}

/** A form or query value as text (NUL characters dropped: PostgreSQL stores none). */
const str = (v: unknown): string => (typeof v === 'string' ? v.replace(/\u0000/g, '') : '');

export function adminDashboardRouter(d: AdminDashboardDeps): express.Router {
  const r = express.Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });

  r.use((_req: Request, res: Response, next: NextFunction) => {
    res.set({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  });

  r.get('/assets/vendor/chart.umd.min.js', (_req, res) => { res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').sendFile(CHART_JS); });
  r.use('/assets', express.static(PUBLIC, { index: false, maxAge: '5m' }));

  const html = (res: Response, status: number, body: string) => { res.status(status).set('Cache-Control', 'no-store').type('html').send(body); };
  const linkBase = (req: Request): string | undefined => d.publicUrl ?? (d.production ? undefined : `${req.protocol}://${req.get('host')}`);
  const pagesFor = (s: AdminSession): PageDef[] => { const kinds = d.auth.kindsFor(s.person); return PAGES.filter((p) => kinds.includes(p.kind)); };
  const login = (req: Request, res: Response, status: number, v: { error?: string; notice?: string; email?: string; next?: string } = {}) =>
    html(res, status, loginPage({ csrf: d.auth.loginFormToken(req, res), linkEnabled: linkBase(req) !== undefined, ...v }));

  r.get('/', async (req, res) => {
    const s = await d.auth.session(req);
    if (!s) { res.redirect(302, '/admin/login'); return; }
    const first = pagesFor(s)[0];
    if (!first) { html(res, 403, messagePage('No dashboard pages for you', 'Your directory roles do not include any dashboard page.', { link: { href: '/admin/login', label: 'Sign in as someone else' } })); return; }
    res.redirect(302, `/admin/${first.path}`);
  });

  r.get('/login', async (req, res) => {
    if (await d.auth.session(req)) { res.redirect(302, safeNext(req.query.next) ?? '/admin'); return; }
    login(req, res, 200, { next: safeNext(req.query.next) });
  });

  r.post('/login', form, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const email = str(b.email).trim(), next = safeNext(b.next);
    if (!d.auth.loginFormOk(req, b._csrf)) { login(req, res, 403, { error: 'The sign-in form expired. Please try again.', email, next }); return; }
    if (!email || !str(b.password)) { login(req, res, 400, { error: 'Enter your e-mail and password.', email, next }); return; }
    const out = await d.auth.passwordLogin(email, str(b.password), clientIp(req), req.get('user-agent'));
    if (!out.ok) {
      if (out.reason === 'throttled') res.set('Retry-After', String(out.retryAfterSeconds));
      login(req, res, out.reason === 'throttled' ? 429 : out.reason === 'no-access' ? 403 : 401, { error: out.message, email, next });
      return;
    }
    res.append('Set-Cookie', d.auth.sessionCookies(out.session));
    res.redirect(303, next ?? '/admin');
  });

  r.post('/login/link', form, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const email = str(b.email).trim();
    if (!d.auth.loginFormOk(req, b._csrf)) { login(req, res, 403, { error: 'The sign-in form expired. Please try again.', email }); return; }
    const base = linkBase(req);
    if (!base) { login(req, res, 404, { error: 'Sign-in links are not configured (ADMIN_PUBLIC_URL).', email }); return; }
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) { login(req, res, 400, { error: 'Enter your e-mail address.', email }); return; }
    const out = await d.auth.requestLink(email, clientIp(req), base);
    if (!out.ok) {
      res.set('Retry-After', String(out.retryAfterSeconds));
      login(req, res, 429, { error: `Too many sign-in links asked for. Try again in ${Math.ceil(out.retryAfterSeconds / 60)} minute(s).`, email });
      return;
    }
    // the same answer whether or not a link was sent: the page does not tell who has access
    login(req, res, 200, { notice: `If ${email} may use the dashboard, a sign-in link is now in their errand chat. It works once, for ${LINK_TTL_MINUTES} minutes.`, email });
  });

  r.get('/login/link', async (req, res) => {
    const t = str(req.query.token);
    html(res, 200, linkConfirmPage({ csrf: d.auth.loginFormToken(req, res), token: t, usable: await d.auth.linkUsable(t) }));
  });

  r.post('/login/link/consume', form, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (!d.auth.loginFormOk(req, b._csrf)) { html(res, 403, linkConfirmPage({ csrf: d.auth.loginFormToken(req, res), token: str(b.token), usable: await d.auth.linkUsable(str(b.token)) })); return; }
    const s = await d.auth.consumeLink(str(b.token), clientIp(req), req.get('user-agent'));
    if (!s) { html(res, 410, linkConfirmPage({ csrf: d.auth.loginFormToken(req, res), token: '', usable: false })); return; }
    res.append('Set-Cookie', d.auth.sessionCookies(s));
    res.redirect(303, '/admin');
  });

  r.post('/logout', async (req, res) => {
    const s = await d.auth.session(req);
    if (s && !d.auth.csrfOk(req, s)) { await d.auth.csrfRefused(req, s); res.status(403).json({ error: 'csrf', message: 'Send the "X-CSRF-Token" header with the value of the errand_csrf cookie.' }); return; }
    if (s) await d.auth.logout(req, s);
    res.append('Set-Cookie', d.auth.clearCookies());
    res.status(204).end();
  });

  r.get('/service-review.csv', async (req, res) => {
    const s = await d.auth.session(req);
    if (!s) { res.status(401).json({ error: 'unauthorized', message: 'Sign in at /admin/login.' }); return; }
    const q = req.query as Record<string, unknown>;
    const item = str(q.item) || undefined;
    let from: Date | undefined, to: Date | undefined;
    if (str(q.period)) ({ from, to } = monthPeriod(str(q.period)) ?? {});
    else { to = str(q.to) ? parseInstant(str(q.to)) : d.now(); from = str(q.from) ? parseInstant(str(q.from)) : to && addDays(to, -30); }
    if (!from || !to || from >= to || to.getTime() - from.getTime() > 731 * 86_400_000 || (item && !d.catalogue().get(item))) {
      res.status(400).json({ error: 'invalid_query', message: 'GET /admin/service-review.csv?[from=<date>&to=<date> | period=YYYY-MM][&item=<id>]' });
      return;
    }
    const access = reportAccess(s.person, d.catalogue(), 'service-review');
    const why = !access.ok ? access.message : item && access.items && !access.items.includes(item) ? `You are not the service owner of ${item}.` : undefined;
    if (why || !access.ok) {
      await audit(d.db, { actor: s.email, action: 'admin.access-refused', subject: 'report:service-review.csv', detail: { why, item: item ?? null, via: 'session', ip: clientIp(req) } });
      res.status(403).json({ error: 'forbidden', message: why });
      return;
    }
    const items = item ? [item] : access.items ?? undefined;
    const review = await serviceReview(d.db, { from, to, ...(items ? { items } : {}), titles: (id) => d.catalogue().get(id)?.title });
    const name = `service-review_${from.toISOString().slice(0, 10)}_${to.toISOString().slice(0, 10)}${item ? `_${item}` : ''}.csv`;
    res.set({ 'Cache-Control': 'no-store', 'Content-Disposition': `attachment; filename="${name}"` }).type('text/csv; charset=utf-8').send(reviewToCsv(review));
  });

  for (const page of PAGES) {
    r.get(`/${page.path}`, async (req, res) => {
      const s = await d.auth.session(req);
      if (!s) { res.redirect(302, `/admin/login?next=${encodeURIComponent(req.originalUrl)}`); return; }
      const pages = pagesFor(s);
      if (!pages.some((p) => p.kind === page.kind)) {
        await audit(d.db, { actor: s.email, action: 'admin.access-refused', subject: `page:${page.path}`, detail: { why: 'not among the roles\' dashboard pages', via: 'session', ip: clientIp(req) } });
        html(res, 403, messagePage('Not for your role', `${page.title} is not among your dashboard pages.`, pages[0] ? { link: { href: `/admin/${pages[0].path}`, label: `Go to ${pages[0].title}` } } : {}));
        return;
      }
      const access = reportAccess(s.person, d.catalogue(), 'failures');
      const role = access.ok ? access.role : 'none';
      const scope = access.ok && access.role === 'service-owner' ? ownedItems(s.person, d.catalogue()) : null;
      html(res, 200, shellPage({
        page, pages, name: s.person.name, email: s.email, roleLabel: ROLE_LABEL[role] ?? role,
        boot: {
          page: page.kind, me: { email: s.email, name: s.person.name, role }, pages: pages.map((p) => p.kind), scope,
          canRecategorise: s.person.roles.includes('fulfiller') || s.person.roles.includes('admin'),
          now: d.now().toISOString(),
        },
      }));
    });
  }

  // unknown pages under /admin (not /admin/api): 404 as HTML
  r.get(/^\/(?!api(\/|$)|assets\/).+/, (req, res) => { html(res, 404, messagePage('No such page', `There is no dashboard page at ${req.path}.`, { link: { href: '/admin', label: 'Dashboard' } })); });
  return r;
}
