/**
 * What the security tests observe: every log line the app writes (the real logger, with its
 * redaction, at trace level). Scans for secrets: ./secrets.ts.
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
