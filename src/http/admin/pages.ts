/**
 * Server-rendered HTML of the admin dashboard: the sign-in pages and the shell of each report page
 * (navigation for the person's role, a filter form, empty containers). Every value is escaped; no
 * inline script or style (the CSP forbids them): the page's module under /admin/assets/js/ fetches
 * the data from /admin/api and draws it. The boot data (who, which items, which pages) is a JSON
 * data block, which is never executed.
 */
import type { ReportKind } from '../../reporting/access.js';
import { LINK_TTL_MINUTES } from './auth.js';

export interface PageDef { kind: ReportKind; path: string; title: string; icon: string; blurb: string }

export const PAGES: PageDef[] = [
  { kind: 'overview', path: 'overview', title: 'Overview', icon: '◎', blurb: "Today's volume, open requests, requests at risk of missing their target, and the queues." },
  { kind: 'cycle-time', path: 'cycle-time', title: 'Cycle time', icon: '◔', blurb: 'Submission to completion of fulfilled requests: percentiles and SLA compliance, by item and requester group.' },
  { kind: 'bottlenecks', path: 'bottlenecks', title: 'Bottlenecks', icon: '▤', blurb: 'Where the time of a request goes: approval, manual work, retries, automated steps and waiting.' },
  { kind: 'failures', path: 'failures', title: 'Failures & RCA', icon: '⚠', blurb: 'Fulfilment failures by root-cause category, recurring errors, and the latest failures.' },
  { kind: 'forecast', path: 'forecast', title: 'Forecast', icon: '↗', blurb: 'Requests per day: history, a Holt-Winters forecast with its held-out error, and the capacity it needs.' },
  { kind: 'service-review', path: 'service-review', title: 'Service review', icon: '☰', blurb: 'Per item: volume, automation, SLA, satisfaction, classification and failures, with a CSV download.' },
];

export const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const ICON = `<svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true"><rect width="32" height="32" rx="8" fill="currentColor"/><path d="M9 17l5 5 9-11" stroke="#fff" stroke-width="3.2" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

function doc(title: string, body: string, o: { bodyClass?: string; scripts?: string[] } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)} · errand dashboard</title>
<link rel="icon" href="/admin/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/assets/admin.css">
${(o.scripts ?? []).join('\n')}
</head>
<body class="${esc(o.bodyClass ?? '')}">
${body}
</body>
</html>
`;
}

export interface LoginView {
  csrf: string;
  next?: string;
  email?: string;
  error?: string;
  notice?: string;
  /** Chat sign-in links are offered (a public URL is known). */
  linkEnabled: boolean;
}

export function loginPage(v: LoginView): string {
  const next = v.next ? `<input type="hidden" name="next" value="${esc(v.next)}">` : '';
  return doc('Sign in', `
<main class="auth">
  <div class="auth-card">
    <div class="auth-brand">${ICON}<span>errand</span><small>Performance dashboard</small></div>
    <h1>Sign in</h1>
    ${v.error ? `<p class="alert alert-error" role="alert">${esc(v.error)}</p>` : ''}
    ${v.notice ? `<p class="alert alert-ok" role="status">${esc(v.notice)}</p>` : ''}
    <form method="post" action="/admin/login" class="stack" id="password-form">
      <input type="hidden" name="_csrf" value="${esc(v.csrf)}">${next}
      <label>E-mail <input type="email" name="email" autocomplete="username" required maxlength="320" value="${esc(v.email ?? '')}"></label>
      <label>Password <input type="password" name="password" autocomplete="current-password" required maxlength="1024"></label>
      <button type="submit" class="btn btn-primary">Sign in</button>
    </form>
    ${v.linkEnabled ? `
    <div class="auth-or"><span>or</span></div>
    <form method="post" action="/admin/login/link" class="stack" id="link-form">
      <input type="hidden" name="_csrf" value="${esc(v.csrf)}">
      <label>E-mail <input type="email" name="email" autocomplete="username" required maxlength="320" value="${esc(v.email ?? '')}"></label>
      <button type="submit" class="btn">Send me a sign-in link in chat</button>
      <p class="hint">errand posts a link to your chat with it (Slack, Teams or the web chat). It works once, for ${LINK_TTL_MINUTES} minutes.</p>
    </form>` : ''}
  </div>
</main>`, { bodyClass: 'auth-body' });
}

export function linkConfirmPage(v: { csrf: string; token: string; usable: boolean }): string {
  return doc('Sign in with your link', `
<main class="auth">
  <div class="auth-card">
    <div class="auth-brand">${ICON}<span>errand</span><small>Performance dashboard</small></div>
    <h1>Sign in with your link</h1>
    ${v.usable ? `
    <p>This link signs you in to the errand dashboard once. Continue?</p>
    <form method="post" action="/admin/login/link/consume" class="stack" id="consume-form">
      <input type="hidden" name="_csrf" value="${esc(v.csrf)}">
      <input type="hidden" name="token" value="${esc(v.token)}">
      <button type="submit" class="btn btn-primary">Sign in</button>
    </form>` : `<p class="alert alert-error" role="alert">This sign-in link was used already or has expired.</p>`}
    <p class="hint"><a href="/admin/login">Back to sign-in</a></p>
  </div>
</main>`, { bodyClass: 'auth-body' });
}

export interface ShellView {
  page: PageDef;
  name: string;
  email: string;
  roleLabel: string;
  pages: PageDef[];
  boot: Record<string, unknown>;
}

/** Filters per page: which controls its form has. */
const FILTERS: Record<ReportKind, ('item' | 'group' | 'period' | 'category' | 'weeks')[]> = {
  overview: [],
  'cycle-time': ['item', 'group', 'period'],
  bottlenecks: ['item', 'period'],
  failures: ['item', 'category', 'period'],
  forecast: ['item', 'weeks'],
  'service-review': ['item', 'period'],
};

function filterForm(kind: ReportKind): string {
  const f = FILTERS[kind];
  if (!f.length) return '';
  const ctl: string[] = [];
  if (f.includes('item')) ctl.push(`<label>Item <select name="item" id="f-item"><option value="">All items in scope</option></select></label>`);
  if (f.includes('group')) ctl.push(`<label>Requester group <select name="group" id="f-group"><option value="department">Department</option><option value="location">Location</option><option value="role">Role</option></select></label>`);
  if (f.includes('category')) ctl.push(`<label>Category <select name="category" id="f-category"><option value="">All categories</option><option value="process">Process</option><option value="system">System</option><option value="user">User</option></select></label>`);
  if (f.includes('period')) ctl.push(`<label>From <input type="date" name="from" id="f-from"></label>`, `<label>To <input type="date" name="to" id="f-to"></label>`);
  if (f.includes('weeks')) ctl.push(`<label>Weeks ahead <select name="weeks" id="f-weeks">${[1, 2, 3, 4, 6, 8, 12].map((w) => `<option value="${w}"${w === 2 ? ' selected' : ''}>${w}</option>`).join('')}</select></label>`);
  return `<form class="filters" id="filters" method="get" action="/admin/${kind}">${ctl.join('')}<button type="submit" class="btn btn-primary">Apply</button></form>`;
}

export function shellPage(v: ShellView): string {
  const nav = v.pages.map((p) => `<a href="/admin/${p.path}" data-page="${p.kind}"${p.kind === v.page.kind ? ' aria-current="page" class="active"' : ''}><span class="nav-icon" aria-hidden="true">${esc(p.icon)}</span>${esc(p.title)}</a>`).join('\n');
  // `<` is escaped so the data block cannot end early
  const boot = JSON.stringify(v.boot).replace(/</g, '\\u003c');
  return doc(v.page.title, `
<a class="skip-link" href="#content">Skip to the content</a>
<div class="app">
  <aside class="sidebar"><div class="sidebar-inner">
    <div class="brand">${ICON}<span>errand</span></div>
    <nav aria-label="Dashboard pages" id="nav">
${nav}
    </nav>
    <div class="who">
      <div class="who-name">${esc(v.name)}</div>
      <div class="who-mail">${esc(v.email)}</div>
      <span class="badge badge-role" id="role">${esc(v.roleLabel)}</span>
      <button type="button" class="btn btn-ghost" id="logout">Sign out</button>
    </div>
  </div></aside>
  <main class="content" id="content" data-page="${v.page.kind}">
    <header class="page-head">
      <div>
        <h1>${esc(v.page.title)}</h1>
        <p class="blurb">${esc(v.page.blurb)}</p>
      </div>
      <p class="scope" id="scope"></p>
    </header>
    ${filterForm(v.page.kind)}
    <p id="status" class="status" role="status" aria-live="polite"></p>
    <div id="view" class="view" aria-busy="true"><p class="loading">Loading…</p></div>
  </main>
</div>
<script type="application/json" id="boot">${boot}</script>`, {
    scripts: [
      '<script src="/admin/assets/vendor/chart.umd.min.js" defer></script>',
      `<script type="module" src="/admin/assets/js/${v.page.kind}.js"></script>`,
    ],
  });
}

export function messagePage(title: string, text: string, o: { link?: { href: string; label: string } } = {}): string {
  return doc(title, `
<main class="auth">
  <div class="auth-card">
    <div class="auth-brand">${ICON}<span>errand</span><small>Performance dashboard</small></div>
    <h1>${esc(title)}</h1>
    <p>${esc(text)}</p>
    ${o.link ? `<p><a class="btn" href="${esc(o.link.href)}">${esc(o.link.label)}</a></p>` : ''}
  </div>
</main>`, { bodyClass: 'auth-body' });
}
