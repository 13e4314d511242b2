/**
 * The run loop shared by channel dispatchers: a pass every `everyMs`, and `kick()` for an
 * immediate pass after new messages; passes never overlap (a kick during a pass runs one more).
 */
import type { Logger } from '../log.js';
import type { ChatMetrics } from '../observability/metrics.js';

export abstract class DeliveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  protected constructor(protected readonly log: Logger, private readonly channelName: string, private readonly metrics?: ChatMetrics) {}

  /**
   * One send (or update) to the platform, timed for /metrics. An error for which `uncounted` is true
   * (a 429, counted by rateLimited() instead) records no sample.
   */
  protected async timed<T>(op: 'post' | 'update', send: () => Promise<T>, uncounted?: (e: unknown) => boolean): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await send();
      this.metrics?.chatSent(this.channelName, op, (performance.now() - t0) / 1000, true);
      return r;
    } catch (e) {
      if (!uncounted?.(e)) this.metrics?.chatSent(this.channelName, op, (performance.now() - t0) / 1000, false);
      throw e;
    }
  }

  /** The platform answered 429 (counted for /metrics). */
  protected rateLimited(): void { this.metrics?.chatRateLimited(this.channelName); }

  /** One delivery pass. */
  abstract tick(): Promise<unknown>;

  start(everyMs = 1000): void {
    this.timer = setInterval(() => { void this.kick(); }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass now (or right after the current one). */
  kick(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      try {
        do { this.again = false; await this.tick(); } while (this.again);
      } catch (e) {
        this.log.error({ err: (e as Error).message }, `${this.channelName} delivery pass failed`);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
