/**
 * Calls an action by name: a built-in action (directory.*, notify, case.create, http.request) or a
 * connector operation (`<connector id>.<operation>`), through the backend's circuit breaker and
 * rate limit. The backend of a call is what its breaker guards: the connector id, the built-in's
 * family, or the host of an http.request URL.
 */
import type { Queryable } from '../../db/database.js';
import type { ActionRegistry } from '../action-registry.js';
import { ActionError } from '../action.port.js';
import type { Connector } from '../connectors/connector.port.js';
import type { BreakerRegistry } from './breakers.js';

export interface InvokeContext { idempotencyKey: string; requestId: string; requestRef: string; db: Queryable; signal: AbortSignal }

export interface RateLimiter { take(signal?: AbortSignal): Promise<void> }

export class ActionInvoker {
  constructor(
    private readonly actions: ActionRegistry,
    private readonly connectors: Map<string, Connector>,
    readonly breakers: BreakerRegistry,
    private readonly limiters: Map<string, RateLimiter> = new Map(),
  ) {}

  /** The backend a call goes to (its breaker key). */
  backendOf(action: string, input: Record<string, unknown>): string {
    if (action === 'http.request') {
      try { return `http:${new URL(String(input.url)).host}`; } catch { return 'http'; }
    }
    const [prefix] = action.split('.');
    if (this.connectors.has(prefix!)) return prefix!;
    if (action === 'notify' || action === 'case.create') return 'local';
    return prefix ?? action;
  }

  /** True when the action name can be run. */
  has(action: string): boolean {
    if (this.actions.has(action)) return true;
    const [id, op] = action.split('.');
    return Boolean(id && op && this.connectors.get(id)?.operations[op]);
  }

  async invoke(action: string, input: Record<string, unknown>, ctx: InvokeContext): Promise<Record<string, unknown>> {
    const backend = this.backendOf(action, input);
    const builtin = this.actions.get(action);
    const [id, op] = action.split('.');
    const operation = builtin ? undefined : this.connectors.get(id ?? '')?.operations[op ?? ''];
    if (!builtin && !operation) throw new ActionError(`no action or connector operation named ${action}`, false);
    const call = async () => {
      await this.limiters.get(backend)?.take(ctx.signal);
      return builtin ? builtin.run(input, ctx) : operation!(input, { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal });
    };
    if (backend === 'local') return call();
    return this.breakers.get(backend).policy.execute(call);
  }
}
