/**
 * Parallel delivery with order kept per conversation.
 *
 * A lane is one ordered list of sends for one key (a chat channel, a person's DM): its steps run one
 * after another, in the order given (outbox order: a message, then its updates). Lanes run in parallel,
 * at most `max` at once. A lane still running from an earlier pass is not started again: its new steps
 * wait for a later pass, so a slow or rate-limited conversation holds only itself, never the others,
 * and never two sends of one conversation race each other in this process.
 *
 * A step answers 'next' (go on) or 'stop' (leave the rest of the lane for a later pass: it failed or
 * is backed off, and a later message must not overtake it).
 */
export type LaneStep = () => Promise<'next' | 'stop'>;

export class LanePool {
  private readonly busy = new Set<string>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  isBusy(key: string): boolean { return this.busy.has(key); }

  /** Lanes running or waiting for a slot. */
  get size(): number { return this.busy.size; }

  /** Starts a lane unless one with this key is running; resolves when it has finished (never rejects). */
  run(key: string, steps: LaneStep[], onError: (e: Error) => void): Promise<void> | undefined {
    if (this.busy.has(key) || !steps.length) return undefined;
    this.busy.add(key);
    return (async () => {
      await this.slot();
      try {
        for (const step of steps) if ((await step()) === 'stop') break;
      } catch (e) {
        onError(e as Error);
      } finally {
        this.busy.delete(key);
        const next = this.waiting.shift();
        if (next) next(); else this.active -= 1; // a waiting lane takes this slot over
      }
    })();
  }

  private async slot(): Promise<void> {
    if (this.active < this.max) { this.active += 1; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve)); // a finishing lane hands its slot over
  }
}

/**
 * Back-off per key (e.g. `chat.postMessage C123`) after a 429 with Retry-After: only that key waits.
 * `onExpire` runs when a back-off ends (the dispatcher kicks a pass then).
 */
export class BackOff {
  private readonly until = new Map<string, number>();

  constructor(private readonly onExpire: () => void, private readonly now: () => number = Date.now) {}

  blocked(key: string): boolean {
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t <= this.now()) { this.until.delete(key); return false; }
    return true;
  }

  hold(key: string, ms: number): void {
    const t = this.now() + ms;
    if ((this.until.get(key) ?? 0) >= t) return;
    this.until.set(key, t);
    setTimeout(() => this.onExpire(), ms + 20).unref();
  }
}
