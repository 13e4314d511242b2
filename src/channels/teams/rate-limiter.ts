/**
 * Teams' per-conversation limits for bots: at most 7 messages a second and 60 in 30 seconds.
 * `take(key)` waits until sending one more to that conversation stays within both windows.
 */
export class ConversationRateLimiter {
  private readonly sent = new Map<string, number[]>();
  constructor(private readonly windows: { ms: number; max: number }[] = [{ ms: 1000, max: 7 }, { ms: 30_000, max: 60 }], private readonly now = () => Date.now()) {}

  /** Milliseconds to wait before the next send to `key` (0 = now). */
  delayFor(key: string): number {
    const t = this.now();
    const longest = Math.max(...this.windows.map((w) => w.ms));
    const list = (this.sent.get(key) ?? []).filter((x) => x > t - longest);
    this.sent.set(key, list);
    let wait = 0;
    for (const w of this.windows) {
      const inWindow = list.filter((x) => x > t - w.ms);
      if (inWindow.length >= w.max) wait = Math.max(wait, inWindow[inWindow.length - w.max]! + w.ms - t + 1);
    }
    return wait;
  }

  async take(key: string): Promise<void> {
    for (let d = this.delayFor(key); d > 0; d = this.delayFor(key)) await new Promise((r) => setTimeout(r, d));
    this.sent.get(key)!.push(this.now());
  }
}
