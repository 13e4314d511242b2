import { ConversationRateLimiter } from '../../src/channels/teams/rate-limiter.js';

describe('Teams per-conversation rate limits', () => {
  it('allows 7 a second, then makes the 8th wait for the window', () => {
    let now = 1_000_000;
    const l = new ConversationRateLimiter(undefined, () => now);
    const sent = (key: string) => { expect(l.delayFor(key)).toBe(0); (l as unknown as { sent: Map<string, number[]> }).sent.get(key)!.push(now); };
    for (let i = 0; i < 7; i++) { sent('a'); now += 10; }
    expect(l.delayFor('a')).toBeGreaterThan(900);
    expect(l.delayFor('b')).toBe(0); // other conversations are not held up
    now += 1000;
    expect(l.delayFor('a')).toBe(0);
  });

  it('allows 60 in 30 seconds even when spread out', () => {
    let now = 0;
    const l = new ConversationRateLimiter(undefined, () => now);
    for (let i = 0; i < 60; i++) { expect(l.delayFor('c')).toBe(0); (l as unknown as { sent: Map<string, number[]> }).sent.get('c')!.push(now); now += 200; }
    const wait = l.delayFor('c');
    expect(wait).toBeGreaterThan(17_000);
    now += wait;
    expect(l.delayFor('c')).toBe(0);
  });

  it('take() waits out the window', async () => {
    const l = new ConversationRateLimiter([{ ms: 200, max: 2 }]);
    const t0 = Date.now();
    await l.take('x'); await l.take('x'); await l.take('x');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});
