import type { z } from 'zod';
import { ActionError } from '../action.port.js';

/** Validates an action's rendered inputs; a mismatch is a permanent (not retryable) failure. */
export function parseInput<T extends z.ZodTypeAny>(action: string, input: unknown, schema: T): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ActionError(`${action}: invalid input: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, false);
  return r.data;
}
