/**
 * What the security tests observe: every log line the app writes (the real logger, with its
 * redaction, at trace level), and scans of captured text for configured secrets.
 */
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../../../src/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every write pino made, as written (one JSON object per line). */
  raw: string[];
  /** The parsed lines. */
  lines(): Record<string, unknown>[];
  text(): string;
  clear(): void;
}

/** The service logger at `level`, writing into memory instead of stdout. */
export function captureLog(level = 'trace'): CapturedLog {
  const raw: string[] = [];
  const dest: DestinationStream = { write: (s: string) => { raw.push(s); } };
  return {
    log: createLogger(level, dest),
    raw,
    lines: () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => raw.join(''),
    clear: () => { raw.length = 0; },
  };
}

/** The ways a secret can appear: as is, URL-encoded, base64 (basic auth), JSON-escaped. */
export function secretForms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), JSON.stringify(secret).slice(1, -1)])];
}

/** Which secrets (by name) occur in `text`, in any of their forms. */
export function leakedSecrets(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets).filter(([, v]) => secretForms(v).some((f) => text.includes(f))).map(([k]) => k);
}
