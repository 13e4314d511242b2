/**
 * One HTTP exchange for the `http` connector, and how its failures are classified for the engine:
 * network errors and timeouts, 5xx and 408 are retryable; 429 (and 503) honour Retry-After; other
 * statuses are not retryable and quote a short excerpt of the body. Secret values are masked out of
 * every message by {@link SecretMasker} at the connector's boundary.
 */
import { ConnectorError } from '../connector.port.js';

/** A response, read completely. `body` is parsed JSON when the text is JSON, else the text (null when empty). */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

/** What to send. `body` is already serialised. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Headers;
  body?: string;
}

/** The signals a call listens to: the step's (`ctx.signal`) and the connector's own `timeoutMs`. */
export interface CallSignals {
  step: AbortSignal;
  timeoutMs: number;
}

/** Replaces every known secret value (and its URL- and form-encoded forms) by `***`. */
export class SecretMasker {
  private readonly values = new Set<string>();

  /** Registers a secret value; empty values are ignored. */
  add(value: string | undefined): void {
    if (!value) return;
    this.values.add(value);
    // As sent in a URL or a form body (spaces as %20 or +), should a backend echo it back.
    for (const enc of [encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)]) this.values.add(enc);
  }

  /** `text` with every registered value replaced, longest first. */
  mask(text: string): string {
    let out = text;
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(v).join('***');
    return out;
  }
}

/** A short, single-line excerpt of a response body for error messages. */
export function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Milliseconds to wait from a Retry-After value (delay-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The error code of a failed fetch: undici puts it on `cause`, interceptors on the error itself. */
function networkDetail(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const code = err?.cause?.code ?? err?.code;
  const msg = err?.cause?.message ?? err?.message ?? String(e);
  return typeof code === 'string' && !String(msg).includes(code) ? `${code} ${String(msg)}` : String(msg);
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try { return JSON.parse(text) as unknown; } catch { return text; }
}

/**
 * Sends one request and reads the whole response. Does not judge the status; throws a retryable
 * {@link ConnectorError} on network errors, timeouts and aborts. Redirects are not followed (a
 * redirect to another host would carry our credentials), so a 3xx comes back as a response.
 */
export async function send(req: HttpRequest, signals: CallSignals, label: string): Promise<HttpResponse> {
  const signal = AbortSignal.any([signals.step, AbortSignal.timeout(signals.timeoutMs)]);
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, headers: Object.fromEntries(res.headers), text, body: parseBody(text) };
  } catch (e) {
    if (signals.step.aborted) throw new ConnectorError(`${label}: aborted (step timeout or cancellation)`, true);
    if (signal.aborted) throw new ConnectorError(`${label}: timed out after ${signals.timeoutMs} ms`, true);
    throw new ConnectorError(`${label}: network error: ${networkDetail(e)}`, true);
  }
}

/** Whether a status is retryable on its own: 5xx, 408 and 429. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * The error for an unexpected status (Retry-After honoured on 429 and 503). `mask` is applied to the
 * whole body before it is cut to an excerpt: masking the excerpt afterwards would miss a secret the
 * cut splits (a backend echoing the credential around the 200th character left its first half).
 */
export function statusError(label: string, res: HttpResponse, now: number, mask: (text: string) => string = (t) => t): ConnectorError {
  const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers['retry-after'], now) : undefined;
  const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
  const body = excerpt(mask(res.text));
  return new ConnectorError(`${label} answered ${res.status}${redirect}${body ? `: ${body}` : ''}`, isRetryableStatus(res.status), retryAfterMs, res.status);
}
