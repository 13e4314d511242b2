/**
 * One circuit breaker per backend (cockatiel): opens after a failure ratio over the last calls,
 * half-opens after a pause to let one probe through, closes on success. Only retryable failures
 * (timeouts, 5xx, 429, network) count: a 4xx says the request was wrong, not the backend.
 * State changes are reported (audited by the caller) and readable for health and metrics.
 */
import { CircuitState, CountBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { classify } from './step-policy.js';

export interface BreakerConfig { failureRatio: number; windowSize: number; minCalls: number; halfOpenAfterMs: number }
export const DEFAULT_BREAKER: BreakerConfig = { failureRatio: 0.5, windowSize: 20, minCalls: 5, halfOpenAfterMs: 30_000 };

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';
const NAMES: Record<number, BreakerState> = { [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half-open', [CircuitState.Isolated]: 'isolated' };

export class BreakerRegistry {
  private readonly breakers = new Map<string, { policy: CircuitBreakerPolicy; config: BreakerConfig }>();
  private readonly openedAt = new Map<string, number>();

  constructor(
    private readonly configFor: (backend: string) => BreakerConfig,
    private readonly onChange: (backend: string, state: BreakerState) => void,
  ) {}

  get(backend: string): { policy: CircuitBreakerPolicy; config: BreakerConfig } {
    let b = this.breakers.get(backend);
    if (!b) {
      const config = this.configFor(backend);
      const policy = circuitBreaker(handleWhen((e) => classify(e).retryable && !classify(e).circuitOpen), {
        halfOpenAfter: config.halfOpenAfterMs,
        breaker: new CountBreaker({ threshold: config.failureRatio, size: config.windowSize, minimumNumberOfCalls: config.minCalls }),
      });
      policy.onBreak(() => { this.openedAt.set(backend, Date.now()); this.onChange(backend, 'open'); });
      policy.onHalfOpen(() => this.onChange(backend, 'half-open'));
      policy.onReset(() => this.onChange(backend, 'closed'));
      b = { policy, config };
      this.breakers.set(backend, b);
    }
    return b;
  }

  state(backend: string): BreakerState {
    const b = this.breakers.get(backend);
    return b ? NAMES[b.policy.state] ?? 'closed' : 'closed';
  }

  /**
   * True while the breaker refuses calls: open and its half-open pause not over yet (or isolated).
   * cockatiel stays `open` until the next call after the pause, which becomes the half-open probe, so
   * callers that skip the backend while it is open must ask this, not `state() === 'open'`, or the
   * probe never happens and the breaker never closes.
   */
  refuses(backend: string): boolean {
    const b = this.breakers.get(backend);
    if (!b) return false;
    if (b.policy.state === CircuitState.Isolated) return true;
    return b.policy.state === CircuitState.Open && Date.now() - (this.openedAt.get(backend) ?? 0) < b.config.halfOpenAfterMs;
  }

  /** Every backend seen so far and its breaker state. */
  states(): Record<string, BreakerState> {
    return Object.fromEntries([...this.breakers.keys()].map((k) => [k, this.state(k)]));
  }
}
