/**
 * The demo web chat channel: pick a directory person and talk to errand as them. It translates
 * HTTP to InboundEvents and reads the person's outbox by cursor. Acting as anyone is a demo
 * feature: it is off when NODE_ENV=production or WEB_CHAT_DEMO=false.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { z } from 'zod';
import type { Catalogue } from '../../catalogue/loader.js';
import type { ConversationService } from '../../conversation/conversation.service.js';
import { messagesAfter, messagesUpdatedSince } from '../../conversation/outbox.repository.js';
import type { Database } from '../../db/database.js';
import { findPerson, listPeople } from '../../directory/directory.repository.js';
import { pendingApprovalsFor } from '../../requests/approval.repository.js';
import type { RequestService } from '../../requests/request.service.js';
import type { TriageService } from '../../triage/triage.service.js';

const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

export interface WebChatDeps { db: Database; conversation: ConversationService; requests: RequestService; triage: TriageService; catalogue: () => Catalogue }

const postSchema = z.object({
  as: z.string().email(),
  text: z.string().max(4000).optional(),
  action: z.object({ id: z.string().min(1).max(200), value: z.string().max(2000).optional() }).strict().optional(),
}).strict().refine((b) => b.text !== undefined || b.action !== undefined, 'send "text" or "action"');

export function webChatRouter(d: WebChatDeps): express.Router {
  const r = express.Router();
  r.use(express.static(PUBLIC));

  r.get('/web/people', async (_req, res) => {
    res.json((await listPeople(d.db)).filter((p) => p.active).map((p) => ({ email: p.email, name: p.name, title: p.title, department: p.department, roles: p.roles })));
  });

  r.post('/web/messages', async (req, res) => {
    const b = postSchema.safeParse(req.body);
    if (!b.success) { res.status(400).json({ error: 'invalid_body', message: 'Expected {"as": <e-mail>, "text": ...} or {"as": ..., "action": {"id": ..., "value"?: ...}}.', fields: b.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })) }); return; }
    const person = await findPerson(d.db, b.data.as);
    if (!person) { res.status(404).json({ error: 'unknown_person', message: `${b.data.as} is not in the directory` }); return; }
    await d.conversation.handle({ channel: 'web', personEmail: person.email, conversationId: `web:${person.email}`, text: b.data.text, action: b.data.action });
    res.json({ ok: true });
  });

  r.get('/web/messages', async (req, res) => {
    const q = z.object({ as: z.string().email(), after: z.coerce.number().int().min(0).default(0), since: z.string().datetime().optional() }).safeParse(req.query);
    if (!q.success) { res.status(400).json({ error: 'invalid_query', message: 'Expected ?as=<e-mail>&after=<message id>[&since=<ISO time>]' }); return; }
    const now = new Date();
    const email = q.data.as.toLowerCase();
    const messages = await messagesAfter(d.db, email, q.data.after);
    const updates = q.data.since ? await messagesUpdatedSince(d.db, email, new Date(q.data.since)) : [];
    res.json({ now: now.toISOString(), messages: messages.map((m) => ({ id: m.id, at: m.createdAt, ...m.body })), updates: updates.map((m) => ({ id: m.id, at: m.createdAt, ...m.body })) });
  });

  r.get('/web/panel', async (req, res) => {
    const as = z.string().email().safeParse(req.query.as);
    if (!as.success) { res.status(400).json({ error: 'invalid_query', message: 'Expected ?as=<e-mail>' }); return; }
    const person = await findPerson(d.db, as.data);
    if (!person) { res.status(404).json({ error: 'unknown_person' }); return; }
    const approvals = await pendingApprovalsFor(d.db, person.email);
    const refs = approvals.length ? (await d.db.query('SELECT id, ref, item_id, requester_email FROM requests WHERE id = ANY($1)', [approvals.map((a) => a.requestId)])).rows : [];
    const triage = person.roles.includes('triage') ? await d.triage.open() : [];
    const cases = person.roles.includes('fulfiller') || person.roles.includes('triage')
      ? (await d.db.query(`SELECT ref, title, queue, priority, status, person_email, created_at FROM cases WHERE status <> 'closed' ORDER BY id DESC LIMIT 50`)).rows : [];
    res.json({
      requests: await d.requests.statusOf(person.email),
      approvals: approvals.map((a) => { const x = refs.find((y) => y.id === a.requestId); return { id: a.id, label: a.label, ref: x?.ref, item: x?.item_id, requester: x?.requester_email }; }),
      triage: triage.map((t) => ({ id: t.id, text: t.text, requester: t.requesterEmail, suggestions: t.suggestions, createdAt: t.createdAt })),
      cases,
      catalogue: d.catalogue().list().map((i) => ({ id: i.id, title: i.title, category: i.category })),
    });
  });
  return r;
}
