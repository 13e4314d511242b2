/** directory.* actions on the local directory. Each is idempotent by construction (upserts). */
import { z } from 'zod';
import { addToGroup, createPersonIfAbsent, disableAccount, findPerson, removeFromGroup } from '../../directory/directory.repository.js';
import { ActionError, type Action } from '../action.port.js';
import { parseInput } from './parse-input.js';

const email = z.string().trim().toLowerCase().email();
const optDate = z.string().trim().transform((s) => (s === '' ? null : s)).pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').nullable()).optional();

export const createAccount: Action = {
  name: 'directory.createAccount',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({
      email, name: z.string().min(1), department: z.string().optional(), manager: z.string().optional(), role: z.string().optional(), title: z.string().optional(),
    }));
    const created = await createPersonIfAbsent(ctx.db, {
      email: i.email, name: i.name, department: i.department || null, manager: i.manager || null, title: i.title || null, roles: [i.role || 'employee'],
    }, `fulfilment:${ctx.requestRef}`);
    return { email: i.email, created };
  },
};

export const addToGroupAction: Action = {
  name: 'directory.addToGroup',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({ person: email, group: z.string().min(1), until: optDate }));
    if (!(await findPerson(ctx.db, i.person))) throw new ActionError(`no directory account ${i.person}`, false);
    const added = await addToGroup(ctx.db, i.person, i.group, i.until ?? null, `fulfilment:${ctx.requestRef}`);
    return { person: i.person, group: i.group, added, until: i.until ?? null };
  },
};

export const removeFromGroupAction: Action = {
  name: 'directory.removeFromGroup',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({ person: email, group: z.string().min(1) }));
    return { person: i.person, group: i.group, removed: await removeFromGroup(ctx.db, i.person, i.group) };
  },
};

export const disableAccountAction: Action = {
  name: 'directory.disableAccount',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({ person: email, reason: z.string().optional() }));
    if (!(await findPerson(ctx.db, i.person))) throw new ActionError(`no directory account ${i.person}`, false);
    return { person: i.person, disabled: await disableAccount(ctx.db, i.person, i.reason ?? `request ${ctx.requestRef}`) };
  },
};
