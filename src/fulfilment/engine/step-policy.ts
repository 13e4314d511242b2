/**
 * Retry policy of a step (step `retry` > connector defaults > engine defaults), exponential backoff
 * with jitter honouring a backend's Retry-After, and which errors are retryable.
 */
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import type { WorkflowStepDef } from '../../catalogue/schema.js';
import { ActionError } from '../action.port.js';
import { ConnectorError } from '../connectors/connector.port.js';

export interface RetryPolicy { maxAttempts: number; backoffMs: number; maxDelayMs: number }

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffMs: 2000, maxDelayMs: 5 * 60_000 };

export function retryPolicyOf(step: WorkflowStepDef, connectorDefault: Partial<RetryPolicy> | undefined, engineDefault: RetryPolicy): RetryPolicy {
  return { ...engineDefault, ...(connectorDefault ?? {}), ...(step.retry ?? {}) } as RetryPolicy;
}

/** Delay before attempt `attempt + 1`: backoff·2^(attempt-1) ± 20 % jitter, at least Retry-After, at most maxDelay. */
export function retryDelayMs(p: RetryPolicy, attempt: number, retryAfterMs?: number, random = Math.random): number {
  const base = p.backoffMs * 2 ** Math.max(0, attempt - 1);
  const jittered = base * (0.8 + 0.4 * random());
  return Math.min(p.maxDelayMs, Math.max(retryAfterMs ?? 0, Math.round(jittered)));
}

export interface Classified { message: string; retryable: boolean; retryAfterMs?: number; circuitOpen: boolean }

/** Sorts a failure into retryable / not, and whether it came from an open breaker. */
export function classify(e: unknown): Classified {
  if (e instanceof BrokenCircuitError) return { message: 'backend unavailable (circuit open)', retryable: true, circuitOpen: true };
  if (e instanceof ConnectorError) return { message: e.message, retryable: e.retryable, retryAfterMs: e.retryAfterMs, circuitOpen: false };
  if (e instanceof ActionError) return { message: e.message, retryable: e.retryable, retryAfterMs: e.retryAfterMs, circuitOpen: false };
  if (e instanceof TaskCancelledError || (e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError') return { message: 'step timed out', retryable: true, circuitOpen: false };
  return { message: (e as Error)?.message ?? String(e), retryable: false, circuitOpen: false };
}
