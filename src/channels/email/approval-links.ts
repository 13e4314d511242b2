/**
 * Approve / deny links in approval e-mails, done like the dashboard's chat sign-in links
 * (src/http/admin/auth.ts): the link carries 32 random bytes; only their SHA-256 is stored, bound to
 * one approval, one approver and one decision, with an expiry; it is consumed once by a conditional
 * UPDATE. Nobody can make a valid link without the database row, and a copy of the table holds no
 * usable link.
 *
 *   GET  /email/approval/<token>   a confirmation page with the request and one button (deny: a
 *                                  reason). Decides nothing: mail scanners that open links are harmless.
 *   POST /email/approval/<token>   consumes the token, then decides through RequestService.decide,
 *                                  which checks again that the person is an approver of the still
 *                                  pending step and not the requester. Every use and refusal is audited.
 */
import { createHash, randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { audit } from '../../audit/audit.repository.js';
import type { Database } from '../../db/database.js';
import { findPerson } from '../../directory/directory.repository.js';
import { clientIp } from '../../http/admin/auth.js';
import type { Logger } from '../../log.js';
import { getApproval } from '../../requests/approval.repository.js';
import { getRequest } from '../../requests/request.repository.js';
import { maskedSummary, type RequestService } from '../../requests/request.service.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface LinkPair { approve: string; deny: string; expiresAt: Date }

export interface ApprovalLinksDeps { db: Database; requests: Pick<RequestService, 'decide'>; now: () => Date; ttlHours: number; publicUrl: string; log: Logger }

interface LinkRow { approval_id: string; approver_email: string; decision: 'approve' | 'deny'; expires_at: Date; used_at: Date | null; outcome: string | null }

export interface Page { status: number; title: string; text: string; form?: { decision: 'approve' | 'deny'; label: string; details: { label: string; value: string }[]; error?: string } }

export class ApprovalLinks {
  constructor(private readonly d: ApprovalLinksDeps) {}

  /** Issues an approve and a deny link for one approver of one approval. */
  async issue(approvalId: string, approverEmail: string): Promise<LinkPair> {
    const now = this.d.now();
    const expiresAt = new Date(now.getTime() + this.d.ttlHours * 3_600_000);
    const out: Partial<Record<'approve' | 'deny', string>> = {};
    for (const decision of ['approve', 'deny'] as const) {
      const t = randomBytes(32).toString('base64url');
      await this.d.db.query(`INSERT INTO email_approval_links (token_hash, approval_id, approver_email, decision, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [sha256(t), approvalId, approverEmail.toLowerCase(), decision, now, expiresAt]);
      out[decision] = `${this.d.publicUrl}/email/approval/${t}`;
    }
    return { approve: out.approve!, deny: out.deny!, expiresAt };
  }

  private async row(t: string): Promise<LinkRow | undefined> {
    if (!TOKEN.test(t)) return undefined;
    return (await this.d.db.query<LinkRow>('SELECT approval_id, approver_email, decision, expires_at, used_at, outcome FROM email_approval_links WHERE token_hash = $1', [sha256(t)])).rows[0];
  }

  private static gone(): Page {
    return { status: 410, title: 'This link no longer works', text: 'Approval links work once and expire. If the request still waits for you, use the links in your latest approval e-mail, or decide in chat.' };
  }

  /** The confirmation page of a link (GET): changes nothing. */
  async page(t: string): Promise<Page> {
    const link = await this.row(t);
    if (!link || link.used_at || new Date(link.expires_at) <= this.d.now()) return ApprovalLinks.gone();
    const approval = await getApproval(this.d.db, link.approval_id);
    const request = approval && await getRequest(this.d.db, approval.requestId);
    if (!approval || !request) return ApprovalLinks.gone();
    const requester = await findPerson(this.d.db, request.requesterEmail);
    const approver = await findPerson(this.d.db, link.approver_email);
    if (approval.status !== 'pending') return { status: 409, title: `${request.ref} was decided already`, text: `${approval.label}: ${approval.status}${approval.decidedBy ? ` by ${approval.decidedBy}` : ''}.` };
    const verb = link.decision === 'approve' ? 'Approve' : 'Deny';
    return {
      status: 200, title: `${verb} ${request.ref}?`,
      text: `${approval.label} for ${request.item.title}, requested by ${requester?.name ?? request.requesterEmail}. This link acts for ${approver?.name ?? link.approver_email} (${link.approver_email}); nothing is decided until you press the button.`,
      form: {
        decision: link.decision, label: `${verb} ${request.ref}`,
        details: [{ label: 'Requested by', value: `${requester?.name ?? request.requesterEmail} (${requester?.department ?? 'no department'})` }, { label: 'Risk', value: request.item.risk }, ...maskedSummary(request)],
      },
    };
  }

  /** Uses a link (POST): consumes it once, then decides as its approver, authorised by RequestService. */
  async use(t: string, ip: string, reasonIn: unknown): Promise<Page> {
    const reason = typeof reasonIn === 'string' ? reasonIn.replace(/\u0000/g, '').trim().slice(0, 1000) : '';
    const link = await this.row(t);
    const refuse = async (why: string, page: Page, l?: LinkRow) => {
      await audit(this.d.db, { actor: l?.approver_email ?? 'anonymous', action: 'email.approval-link-refused', subject: l?.approval_id ?? 'email-approval-link', detail: { why, ip } });
      return page;
    };
    if (!link) return refuse('unknown link', ApprovalLinks.gone());
    if (link.decision === 'deny' && reason.length < 3) {
      const p = await this.page(t);
      return p.form ? { ...p, status: 400, form: { ...p.form, error: 'Please give a reason for the denial (at least 3 characters); the requester is told.' } } : p;
    }
    const now = this.d.now();
    const used = await this.d.db.query<LinkRow>(
      `UPDATE email_approval_links SET used_at = $2, used_ip = $3 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING approval_id, approver_email, decision`,
      [sha256(t), now, ip]);
    if (!used.rows[0]) return refuse(link.used_at ? 'link used already' : 'link expired', ApprovalLinks.gone(), link);
    const setOutcome = (o: string) => this.d.db.query('UPDATE email_approval_links SET outcome = $2 WHERE token_hash = $1', [sha256(t), o]);
    const person = await findPerson(this.d.db, link.approver_email);
    if (!person?.active) {
      await setOutcome('refused: approver not active');
      return refuse('approver not in the directory or disabled', { status: 403, title: 'Not allowed', text: 'This link belongs to an account that is no longer active.' }, link);
    }
    let r: Awaited<ReturnType<RequestService['decide']>>;
    try {
      r = await this.d.requests.decide(link.approval_id, person.email, link.decision, link.decision === 'deny' ? reason : null);
    } catch (e) {
      // nothing was decided (the decision is one transaction): the link works again
      await this.d.db.query('UPDATE email_approval_links SET used_at = NULL, used_ip = NULL WHERE token_hash = $1 AND outcome IS NULL', [sha256(t)]);
      throw e;
    }
    await setOutcome(r.outcome);
    await audit(this.d.db, { actor: person.email, action: 'email.approval-link-used', subject: link.approval_id, detail: { decision: link.decision, outcome: r.outcome, ip } });
    if (r.outcome === 'approved' || r.outcome === 'denied') {
      // the approver's other link for this step (approve ↔ deny) is spent too
      await this.d.db.query(`UPDATE email_approval_links SET used_at = $3, outcome = 'superseded' WHERE approval_id = $1 AND approver_email = $2 AND used_at IS NULL`, [link.approval_id, person.email, now]);
      return { status: 200, title: r.outcome === 'approved' ? `You approved ${r.request.ref}` : `You denied ${r.request.ref}`, text: r.outcome === 'approved' ? 'Thank you. The requester has been told; errand continues with the request.' : 'The requester has been told, with your reason.' };
    }
    if (r.outcome === 'already-decided') return { status: 409, title: 'Already decided', text: `This approval was ${r.approval.status}${r.approval.decidedBy ? ` by ${r.approval.decidedBy}` : ''}.` };
    return { status: r.outcome === 'not-found' ? 404 : 403, title: 'Not allowed', text: 'message' in r ? r.message : 'Not allowed.' };
  }
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderPage(p: Page): string {
  const form = p.form ? `
  <table>${p.form.details.map((f) => `<tr><th>${esc(f.label)}</th><td>${esc(f.value)}</td></tr>`).join('')}</table>
  ${p.form.error ? `<p class="error" role="alert">${esc(p.form.error)}</p>` : ''}
  <form method="post">
    ${p.form.decision === 'deny' ? '<label for="reason">Reason (the requester sees it)</label><textarea id="reason" name="reason" required minlength="3" maxlength="1000" rows="3"></textarea>' : ''}
    <button type="submit" class="${p.form.decision}">${esc(p.form.label)}</button>
  </form>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(p.title)} · errand</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f2328;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0}th,td{text-align:left;padding:.25rem .75rem .25rem 0;vertical-align:top}th{color:#57606a;font-weight:600}
textarea{display:block;width:100%;margin:.25rem 0 1rem;font:inherit}button{font:inherit;padding:.5rem 1.25rem;border:0;border-radius:6px;color:#fff;cursor:pointer}
.approve{background:#1f883d}.deny{background:#cf222e}.error{color:#cf222e}</style></head>
<body><h1>${esc(p.title)}</h1><p>${esc(p.text)}</p>${form}</body></html>`;
}

/** The link pages, mounted at the root of the HTTP app. */
export function emailApprovalRouter(links: ApprovalLinks, log: Logger): express.Router {
  const r = express.Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 5 });
  const send = (res: Response, p: Page) => {
    res.status(p.status).set({
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store',
      'X-Robots-Tag': 'noindex',
    }).type('html').send(renderPage(p));
  };
  const token = (req: Request) => String(req.params.token ?? '');
  r.get('/email/approval/:token', async (req, res) => { send(res, await links.page(token(req))); });
  r.post('/email/approval/:token', form, async (req, res) => {
    try {
      send(res, await links.use(token(req), clientIp(req), (req.body as Record<string, unknown> | undefined)?.reason));
    } catch (e) {
      log.error({ err: (e as Error).message }, 'approval link failed');
      send(res, { status: 500, title: 'Something went wrong', text: 'Nothing was decided. Please try again in a moment.' });
    }
  });
  return r;
}
