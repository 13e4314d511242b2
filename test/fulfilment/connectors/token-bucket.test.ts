/**
 * TokenBucket with a fake clock: a full bucket allows `burst` calls at once, then calls are spaced at
 * the rate; waiting is on timers (no busy loop), in FIFO order, and an abort rejects and leaves the queue.
 */
import { jest } from '@jest/globals';
import { TokenBucket } from '../../../src/fulfilment/connectors/token-bucket.js';

describe('tryTake with an injected clock', () => {
  it('allows the burst, then one call per 1/rate seconds, and never more than the burst after a pause', () => {
    let t = 1_000;
    const b = new TokenBucket({ ratePerSecond: 2, burst: 3 }, () => t);
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
    t += 499;
    expect(b.tryTake()).toBe(false);
    t += 1;
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
    t += 60_000; // a long pause refills only up to the burst
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
  });

  it('refuses a nonsensical rate or burst', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 })).toThrow(/ratePerSecond/);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })).toThrow(/burst/);
  });
});

describe('take with fake timers', () => {
  beforeEach(() => { jest.useFakeTimers({ now: 0 }); });
  afterEach(() => { jest.useRealTimers(); });

  it('lets the burst through at once, then spaces callers at the rate, in order', async () => {
    const b = new TokenBucket({ ratePerSecond: 4, burst: 2 }, () => Date.now());
    const done: [number, number][] = [];
    const all = [0, 1, 2, 3, 4].map((i) => b.take().then(() => { done.push([i, Date.now()]); }));
    await jest.advanceTimersByTimeAsync(0);
    expect(done).toEqual([[0, 0], [1, 0]]);
    expect(b.pending).toBe(3);
    expect(jest.getTimerCount()).toBe(1); // one timer for the queue, no polling
    await jest.advanceTimersByTimeAsync(1_000);
    await Promise.all(all);
    expect(done).toEqual([[0, 0], [1, 0], [2, 250], [3, 500], [4, 750]]);
    expect(jest.getTimerCount()).toBe(0);
    expect(b.tryTake()).toBe(true); // 250 ms after the last: one token again
    expect(b.tryTake()).toBe(false);
  });

  it('queued callers go before tryTake', async () => {
    let t = 0;
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 }, () => t);
    await b.take();
    const waiting = b.take();
    t = 1_000; // a token is due, but the queue's timer has not fired yet
    expect(b.tryTake()).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(waiting).resolves.toBeUndefined();
    expect(b.pending).toBe(0);
  });

  it('rejects on abort with the signal reason, and the next caller takes its place', async () => {
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 }, () => Date.now());
    await b.take();
    const ac = new AbortController();
    const aborted = b.take(ac.signal);
    const next = b.take();
    let nextAt = -1;
    void next.then(() => { nextAt = Date.now(); });
    await jest.advanceTimersByTimeAsync(300);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(b.pending).toBe(1);
    await jest.advanceTimersByTimeAsync(700);
    expect(nextAt).toBe(1_000);
  });

  it('rejects at once when the signal is already aborted, and clears its timer when nobody waits', async () => {
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 }, () => Date.now());
    await expect(b.take(AbortSignal.abort(new Error('step timed out')))).rejects.toThrow('step timed out');
    await b.take();
    const ac = new AbortController();
    const p = b.take(ac.signal);
    expect(jest.getTimerCount()).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(jest.getTimerCount()).toBe(0);
    expect(b.pending).toBe(0);
  });
});
