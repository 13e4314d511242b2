/**
 * A token bucket: the per-connector outbound rate limit (the engine holds one per connector id).
 * It holds up to `burst` tokens and refills at `ratePerSecond`; every call takes one. Callers of
 * `take()` wait in FIFO order on one timer set for when the next token is due (no busy loop), and
 * leave the queue when their signal aborts. The clock is injectable, so it is deterministic in tests.
 */

/** Rate and burst of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (> 0; fractions allowed, e.g. 0.5 = one call every 2 s). */
  ratePerSecond: number;
  /** Bucket size: how many calls may go at once after a quiet period (>= 1). */
  burst: number;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Float slack so 0.1 + 0.2-style rounding never withholds a due token. */
const EPSILON = 1e-9;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** A token bucket rate limiter; see the module comment. */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options rate and burst; the bucket starts full.
   * @param now milliseconds clock (default `Date.now`); inject one for deterministic tests.
   */
  constructor(options: TokenBucketOptions, private readonly now: () => number = Date.now) {
    if (!(Number.isFinite(options.ratePerSecond) && options.ratePerSecond > 0)) throw new RangeError(`TokenBucket: ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    if (!(Number.isFinite(options.burst) && options.burst >= 1)) throw new RangeError(`TokenBucket: burst must be a number >= 1, got ${options.burst}`);
    this.rate = options.ratePerSecond;
    this.burst = Math.floor(options.burst);
    this.tokens = this.burst;
    this.last = now();
  }

  /** Takes a token if one is available now and nobody is queued ahead; never waits. */
  tryTake(): boolean {
    if (this.waiters.length > 0) return false;
    this.refill();
    if (this.tokens < 1 - EPSILON) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Resolves once a token is taken, waiting in FIFO order for the refill. Rejects with the signal's
   * reason (an `AbortError`/`TimeoutError` DOMException by default) if `signal` aborts first.
   */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.tryTake()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          if (this.waiters.length === 0) this.cancelTimer();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.schedule();
    });
  }

  /** How many callers are waiting in `take()`. */
  get pending(): number {
    return this.waiters.length;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.last;
    this.last = t;
    if (elapsed > 0) this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }

  /** Sets the single timer for when the next token is due, if anyone waits and none is set. */
  private schedule(): void {
    if (this.timer !== undefined || this.waiters.length === 0) return;
    this.refill();
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
    this.timer = setTimeout(() => { this.timer = undefined; this.drain(); }, waitMs);
  }

  /** Hands due tokens to the queue in order, then waits for the next one. */
  private drain(): void {
    this.refill();
    while (this.waiters.length > 0 && this.tokens >= 1 - EPSILON) {
      this.tokens -= 1;
      const w = this.waiters.shift()!;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    this.schedule();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
