/** notify and case.create: messages and cases in our own database, idempotent by key. */
import { z } from 'zod';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Action } from '../action.port.js';
import { openCase } from '../../cases/case.repository.js';
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
    return openCase(ctx.db, { key: ctx.idempotencyKey, requestId: ctx.requestId, title: i.title, description: i.description, queue: i.queue, priority: i.priority, person: i.person });
  },
};
