/**
 * http.request: a REST call with a templated body. Sends `Idempotency-Key` so the backend can
 * drop a repeat after a crash; 5xx, 429 and network errors are retryable, other 4xx are not.
 */
import { z } from 'zod';
import { ActionError, type Action } from '../action.port.js';
import { parseInput } from './parse-input.js';

/** Catalogue headers first, then ours: the step's idempotency key always wins. */
function withKey(custom: Record<string, string> | undefined, key: string): Headers {
  const h = new Headers({ 'content-type': 'application/json', ...(custom ?? {}) });
  h.set('idempotency-key', key);
  return h;
}

/** Retry-After as milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

export const httpRequestAction: Action = {
  name: 'http.request',
  async run(input, ctx) {
    const i = parseInput(this.name, input, z.object({
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
      expectStatus: z.union([z.number(), z.array(z.number())]).optional(),
    }));
    let res: Response;
    try {
      res = await fetch(i.url, {
        method: i.method,
        headers: withKey(i.headers, ctx.idempotencyKey),
        body: i.body === undefined || i.method === 'GET' ? undefined : JSON.stringify(i.body),
        signal: ctx.signal,
      });
    } catch (e) {
      throw new ActionError(`${i.method} ${i.url}: ${(e as Error).message}`, true);
    }
    const text = await res.text();
    const expected = i.expectStatus === undefined ? null : ([] as number[]).concat(i.expectStatus);
    const ok = expected ? expected.includes(res.status) : res.ok;
    if (!ok) {
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw new ActionError(`${i.method} ${i.url} answered ${res.status}: ${text.slice(0, 200)}`, retryable, retryAfterMs(res.headers.get('retry-after')));
    }
    let body: unknown = text;
    try { body = text ? JSON.parse(text) : null; } catch { /* keep text */ }
    return { status: res.status, body };
  },
};
