/** What a fulfilment action gets and returns. Actions are the only code doing IO to backends. */
import type { Queryable } from '../db/database.js';

export interface ActionContext {
  /** Stable per request and step: the same on every retry and after a crash. Pass it to backends. */
  idempotencyKey: string;
  requestId: string;
  requestRef: string;
  /** Storage for local actions (directory, cases, messages). */
  db: Queryable;
  /** Abort long IO when the step times out. */
  signal: AbortSignal;
}

/** A retryable failure (timeouts, 5xx, 429) vs a permanent one (4xx validation). */
export class ActionError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number) { super(message); }
}

export interface Action {
  name: string;
  run(input: Record<string, unknown>, ctx: ActionContext): Promise<Record<string, unknown>>;
}
