/**
 * E-mail connector: sends mail over SMTP with nodemailer.
 *
 * SMTP has no idempotency, so the connector makes a resend recognisable instead: the
 * `Message-ID` is derived from the step's idempotency key (`<sha256(key)@errand>`), so a retry
 * after a crash carries the same id as the first attempt and mail clients / archives can fold
 * the duplicates.
 *
 * Classification: connection errors, timeouts and 4xx SMTP replies (temporary, RFC 5321 §4.2.1)
 * are retryable; 5xx replies (permanent: 550 unknown mailbox, 535 bad credentials, ...) are not.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorCallContext, type ConnectorType, type SecretResolver } from '../connector.port.js';
import { isSecretRef, maskSecrets, SecretError } from '../secrets.js';

/** Connector config (one entry of `_connectors.yaml`). */
export const emailConfigSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  /** true: implicit TLS (port 465); false: plain, upgraded with STARTTLS when the server offers it. */
  secure: z.boolean().default(false),
  user: z.string().min(1).optional(),
  /** Secret reference for the SMTP password (`env:`, `file:` or `vault:`). */
  password: z.string().refine(isSecretRef, 'must be a secret reference (env:NAME, file:/path or vault:path#key)').optional(),
  /** Sender, e.g. `"Errand" <errand@example.com>`. */
  from: z.string().min(3),
  /** Connection, greeting and socket timeout in ms. */
  timeoutMs: z.number().int().positive().default(15_000),
  /** Domain part of the generated Message-ID. */
  messageIdDomain: z.string().regex(/^[A-Za-z0-9.-]+$/).default('errand'),
}).refine((c) => !c.password || c.user, { message: 'password needs user', path: ['password'] });
export type EmailConfig = z.infer<typeof emailConfigSchema>;

const sendInput = z.object({
  to: z.union([z.email(), z.array(z.email()).min(1)]),
  subject: z.string().min(1),
  text: z.string(),
  html: z.string().optional(),
});

/** The deterministic Message-ID for an idempotency key: `<sha256hex(key)@domain>`. */
export function messageIdFor(idempotencyKey: string, domain = 'errand'): string {
  return `<${createHash('sha256').update(idempotencyKey).digest('hex')}@${domain}>`;
}

interface SmtpError { code?: string; responseCode?: number; response?: string; message?: string; rejectedErrors?: SmtpError[] }

/**
 * Classifies a nodemailer error: a 5xx reply is permanent, a 4xx reply or no reply at all
 * (refused, reset, timeout, TLS) is worth retrying. When every recipient was rejected, the
 * send is retried only if at least one of the rejections was temporary.
 */
export function classifySmtpError(e: unknown): { retryable: boolean; status?: number } {
  const err = (e ?? {}) as SmtpError;
  if (err.code === 'EABORT') return { retryable: true };
  const perRcpt = err.rejectedErrors?.map((r) => r.responseCode).filter((c): c is number => typeof c === 'number') ?? [];
  if (perRcpt.length > 0) {
    return { retryable: perRcpt.some((c) => c >= 400 && c < 500), status: err.responseCode ?? perRcpt[0] };
  }
  if (typeof err.responseCode === 'number') return { retryable: err.responseCode < 500, status: err.responseCode };
  // Errors of our own making (bad address, bad message) are not fixed by retrying.
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE' || err.code === 'ECONFIG') return { retryable: false };
  return { retryable: true };
}

/** The e-mail connector type: `email` in `_connectors.yaml`. */
export const emailConnectorType: ConnectorType<typeof emailConfigSchema> = {
  type: 'email',
  configSchema: emailConfigSchema,
  create(id: string, config: EmailConfig, secrets: SecretResolver): Connector {
    let knownPassword: string | undefined;

    async function password(): Promise<string | undefined> {
      if (!config.password) return undefined;
      try {
        knownPassword = await secrets(config.password);
        return knownPassword;
      } catch (e) {
        throw new ConnectorError(`${id}: ${(e as Error).message}`, e instanceof SecretError && e.retryable);
      }
    }

    /** A fresh transporter per call (no pool): picks up a rotated password and holds no idle socket. */
    async function transporter() {
      const pass = await password();
      return nodemailer.createTransport({
        host: config.host,
        port: config.port,
        secure: config.secure,
        auth: config.user ? { user: config.user, pass: pass ?? '' } : undefined,
        connectionTimeout: config.timeoutMs,
        greetingTimeout: config.timeoutMs,
        socketTimeout: config.timeoutMs,
      });
    }

    function fail(what: string, e: unknown): ConnectorError {
      const { retryable, status } = classifySmtpError(e);
      const err = e as SmtpError;
      const reason = err.message ?? String(e);
      return new ConnectorError(maskSecrets(`${id}: ${what}: ${reason}`, [knownPassword]), retryable, undefined, status);
    }

    return {
      id,
      type: 'email',
      operations: {
        /**
         * Sends one message: `{ messageId, accepted, rejected }`. A partly rejected recipient list
         * still succeeds (the others already got the mail; a retry would duplicate it): see `rejected`.
         */
        async send(raw: Record<string, unknown>, ctx: ConnectorCallContext) {
          const r = sendInput.safeParse(raw);
          if (!r.success) throw new ConnectorError(`${id}.send: invalid input: ${z.prettifyError(r.error)}`, false);
          const i = r.data;
          const t = await transporter();
          const messageId = messageIdFor(ctx.idempotencyKey, config.messageIdDomain);
          try {
            const info = await t.sendMail({
              from: config.from,
              to: i.to,
              subject: i.subject,
              text: i.text,
              ...(i.html === undefined ? {} : { html: i.html }),
              messageId,
              signal: ctx.signal,
            });
            const addr = (a: unknown) => (typeof a === 'string' ? a : (a as { address?: string }).address ?? String(a));
            return {
              messageId: info.messageId || messageId,
              accepted: (info.accepted ?? []).map(addr),
              rejected: (info.rejected ?? []).map(addr),
            };
          } catch (e) {
            throw fail('send failed', e);
          } finally {
            t.close();
          }
        },
      },
      /** Connects, greets and authenticates (nodemailer's `verify()`), sending nothing. */
      async check(signal: AbortSignal) {
        const t = await transporter();
        let onAbort = () => {};
        const aborted = new Promise<never>((_, reject) => {
          onAbort = () => reject(Object.assign(new Error('check aborted'), { code: 'EABORT' }));
          if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true });
        });
        try {
          await Promise.race([t.verify(), aborted]);
        } catch (e) {
          throw fail('check failed', e);
        } finally {
          signal.removeEventListener('abort', onAbort);
          t.close();
        }
      },
    };
  },
};
