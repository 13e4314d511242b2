/**
 * Connectors: the only code that does IO to backends. A connector instance is configured from
 * `dialogs/_connectors.yaml` (one entry per backend) and offers named operations; a workflow step
 * names `<connector id>.<operation>` as its action. The orchestration engine wraps every call with
 * the connector's retry policy, circuit breaker, rate limit and the step's timeout.
 */
import type { z } from 'zod';

export interface ConnectorCallContext {
  /** Stable per request and step (and per undo): the same on every retry and after a crash. */
  idempotencyKey: string;
  /** Aborted when the step times out. */
  signal: AbortSignal;
}

/** A failure the engine can classify. `retryAfterMs` honours a backend's Retry-After. */
export class ConnectorError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number, readonly status?: number) { super(message); }
}

export type Operation = (input: Record<string, unknown>, ctx: ConnectorCallContext) => Promise<Record<string, unknown>>;

export interface Connector {
  /** The connector's id from the config (its breaker and rate limit are per id, i.e. per backend). */
  id: string;
  type: string;
  operations: Record<string, Operation>;
  /** A harmless check for synthetic transactions (a read, a dry run); throws when unhealthy. */
  check?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** Resolves a secret reference (`env:NAME`, `file:/path`, `vault:path#key`) to its value. */
export type SecretResolver = (ref: string) => Promise<string>;

/** How a connector type is built: its config schema and a factory. */
export interface ConnectorType<C extends z.ZodTypeAny = z.ZodTypeAny> {
  type: string;
  configSchema: C;
  create(id: string, config: z.infer<C>, secrets: SecretResolver): Promise<Connector> | Connector;
}
