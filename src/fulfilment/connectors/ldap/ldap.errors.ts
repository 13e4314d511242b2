/**
 * Classifies what ldapts (or the socket under it) throws into `ConnectorError(message, retryable)`.
 * Retryable: the server could not be reached or answered "later" (refused, reset, timeouts, busy,
 * unavailable, time limit). Not retryable: everything the directory said "no" to (bad credentials,
 * missing entries, schema/constraint violations, access denied) and TLS certificate failures.
 */
import { ResultCodeError } from 'ldapts';
import { ConnectorError } from '../connector.port.js';

/** LDAP result codes that mean "try again later" (RFC 4511 §A.2). */
const RETRYABLE_RESULT_CODES = new Set([
  3, // timeLimitExceeded
  51, // busy
  52, // unavailable
  80, // other: slapd uses it for transient backend failures
]);

/** LDAP result code names for readable messages. */
const RESULT_NAMES: Record<number, string> = {
  3: 'time limit exceeded', 16: 'no such attribute', 19: 'constraint violation', 20: 'value already exists',
  21: 'invalid attribute syntax', 32: 'no such object', 34: 'invalid DN syntax', 48: 'inappropriate authentication',
  49: 'invalid credentials', 50: 'insufficient access rights', 51: 'server busy', 52: 'server unavailable',
  53: 'server unwilling to perform', 64: 'naming violation', 65: 'object class violation', 80: 'other',
};

/** Socket-level error codes of a server that is down, far away or overloaded. */
const RETRYABLE_ERRNO = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH',
  'ENETDOWN', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND',
]);

/** ldapts' own messages for a lost or slow connection. */
const RETRYABLE_MESSAGE = /Connection timeout|Operation timed out|Connection closed before|Socket error|socket hang up|Socket connection not established/i;

/** LDAP result codes the operations treat as "nothing to do". */
export const LDAP_TYPE_OR_VALUE_EXISTS = 20;
export const LDAP_NO_SUCH_ATTRIBUTE = 16;

/** The LDAP result code of an error, if the server sent one. */
export function resultCode(err: unknown): number | undefined {
  return err instanceof ResultCodeError ? err.code : undefined;
}

/** Replaces every occurrence of the secret in a message (defence in depth: ldapts never echoes it). */
export function redact(message: string, secret: string | undefined): string {
  return secret && secret.length >= 3 ? message.split(secret).join('***') : message;
}

/**
 * Maps any thrown value to a ConnectorError. `what` says what was being done (e.g. `adding
 * a@b.c to group x`); `secret` is removed from the message if it ever appears.
 */
export function toConnectorError(err: unknown, connectorId: string, what: string, secret?: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const prefix = `ldap connector "${connectorId}": ${what} failed`;
  const code = resultCode(err);
  if (code !== undefined) {
    const name = RESULT_NAMES[code] ?? `result code ${code}`;
    const detail = (err as Error).message && !(err as Error).message.startsWith('The ') ? ` (${(err as Error).message})` : '';
    const hint = code === 49 ? ' — check bindDn and the bindPassword secret' : '';
    return new ConnectorError(redact(`${prefix}: ${name}${detail}${hint}`, secret), RETRYABLE_RESULT_CODES.has(code), undefined, code);
  }
  // Duck-typed, not `instanceof Error`: socket errors may come from another realm (e.g. jest's vm).
  const e = (typeof err === 'object' && err !== null && typeof (err as Error).message === 'string'
    ? err : new Error(String(err))) as Error & { code?: unknown };
  const errno = typeof e.code === 'string' ? e.code : undefined;
  if ((errno && RETRYABLE_ERRNO.has(errno)) || RETRYABLE_MESSAGE.test(e.message)) {
    const reason = errno ? `${errno} ${e.message}` : e.message.split('\n')[0];
    return new ConnectorError(redact(`${prefix}: server unreachable or too slow: ${reason}`, secret), true);
  }
  // TLS certificate problems, bad URLs, programming errors: retrying will not help.
  return new ConnectorError(redact(`${prefix}: ${errno ? `${errno} ` : ''}${e.message}`, secret), false);
}
