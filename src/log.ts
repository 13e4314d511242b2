/**
 * pino logger. Secrets and sensitive values are redacted by path; request field values marked
 * `sensitive` in the catalogue are masked before they reach a log line (see audit/mask.ts).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password', '*.password', 'token', '*.token', 'apiKey', '*.apiKey', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'req.headers["x-api-key"]', 'secret', '*.secret',
];

/**
 * Creates the service logger (`level: 'silent'` in tests). `destination`: where the JSON lines go
 * (default stdout); the security tests capture every line through it.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'errand' } };
  return destination ? pino(options, destination) : pino(options);
}
