/** notify and case.create: messages and cases in our own database, idempotent by key. */
import { z } from 'zod';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Action } from '../action.port.js';
import { parseInput } from './parse-input.js';

export const notifyAction: Action = {
  name: 'notify',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({ to: z.string().trim().toLowerCase().email(), text: z.string().min(1) }));
    const id = await postMessage(ctx.db, i.to, { kind: 'status', text: i.text }, { key: ctx.idempotencyKey });
    return { to: i.to, sent: id !== undefined };
  },
};

export const createCaseAction: Action = {
  name: 'case.create',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({
      title: z.string().min(1), description: z.string().optional(), queue: z.string().optional(), priority: z.string().optional(), person: z.string().optional(),
    }));
    const ins = await ctx.db.query<{ ref: string }>(
      `INSERT INTO cases (ref, idempotency_key, request_id, title, description, queue, priority, person_email)
       VALUES ('CASE-' || lpad(nextval('case_ref_seq')::text, 6, '0'), $1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING ref`,
      [ctx.idempotencyKey, ctx.requestId, i.title, i.description ?? null, i.queue || 'service-desk', i.priority || 'normal', i.person || null],
    );
    const ref = ins.rows[0]?.ref ?? (await ctx.db.query<{ ref: string }>('SELECT ref FROM cases WHERE idempotency_key = $1', [ctx.idempotencyKey])).rows[0]!.ref;
    return { ref, created: ins.rows.length > 0 };
  },
};
