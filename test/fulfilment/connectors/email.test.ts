/**
 * E-mail connector against a real SMTP server (the `smtp-server` package on 127.0.0.1, a free
 * port): recipients, subject, body, the deterministic Message-ID, SMTP authentication with a
 * password from a secret reference, and the retry classification of rejections and closed ports.
 */
import { createServer, type AddressInfo } from 'node:net';
import smtp from 'smtp-server';
import type { Connector, ConnectorCallContext } from '../../../src/fulfilment/connectors/connector.port.js';
import { ConnectorError } from '../../../src/fulfilment/connectors/connector.port.js';
import { createSecretResolver } from '../../../src/fulfilment/connectors/secrets.js';
import { classifySmtpError, emailConnectorType, messageIdFor } from '../../../src/fulfilment/connectors/email/email.connector.js';

const PASSWORD = 'smtp-pa55word';

interface Received { from: string; to: string[]; user?: string; raw: string }
interface TestSmtp { port: number; received: Received[]; close(): Promise<void> }

/** Starts an SMTP server; `rcptCode` may reject a recipient with a given reply code. */
async function startSmtp(opts: { rcptCode?: (address: string) => number | undefined } = {}): Promise<TestSmtp> {
  const received: Received[] = [];
  const server = new smtp.SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'errand' && auth.password === PASSWORD) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, cb) {
      const code = opts.rcptCode?.(address.address);
      if (code) return cb(Object.assign(new Error(`Mailbox ${address.address} unavailable`), { responseCode: code }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb(null);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function connector(port: number, extra: Record<string, unknown> = {}): Connector {
  const config = emailConnectorType.configSchema.parse({
    host: '127.0.0.1', port, secure: false, from: '"Errand" <errand@example.com>', timeoutMs: 3_000, ...extra,
  });
  return emailConnectorType.create('mail', config, createSecretResolver({ env: { SMTP_PASSWORD: PASSWORD, WRONG: 'nope-wrong' } })) as Connector;
}
const ctx = (key: string): ConnectorCallContext => ({ idempotencyKey: key, signal: new AbortController().signal });
/** One header of a raw message, unfolded (RFC 5322 §2.2.3: long lines continue with whitespace). */
function header(raw: string, name: string): string | undefined {
  const head = raw.split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
  return head.match(new RegExp(`^${name}: (.*)$`, 'mi'))?.[1]?.trim();
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(ConnectorError); return e as ConnectorError; }
  throw new Error('expected a ConnectorError');
}

let srv: TestSmtp;
beforeAll(async () => { srv = await startSmtp({ rcptCode: (a) => (a.startsWith('ghost') ? 550 : a.startsWith('busy') ? 450 : undefined) }); });
beforeEach(() => { srv.received.length = 0; });
afterAll(async () => { await srv?.close(); });

describe('config', () => {
  it('takes the password only as a secret reference, and only with a user', () => {
    const s = emailConnectorType.configSchema;
    const base = { host: 'smtp.example.com', port: 587, from: 'errand@example.com' };
    expect(s.safeParse({ ...base, user: 'errand', password: PASSWORD }).success).toBe(false);
    expect(s.safeParse({ ...base, password: 'env:SMTP_PASSWORD' }).success).toBe(false);
    expect(s.safeParse({ ...base, bogus: true }).success).toBe(false);
    expect(s.parse({ ...base, user: 'errand', password: 'env:SMTP_PASSWORD' })).toMatchObject({ secure: false, timeoutMs: 15_000 });
  });
});

describe('send', () => {
  it('delivers to the recipient with subject, body and the Message-ID derived from the key', async () => {
    const out = await connector(srv.port).operations.send!(
      { to: 'alice@example.com', subject: 'Your VPN access is ready', text: 'Hello Alice,\r\nyour access was granted.' }, ctx('req-7:notify'));
    const id = messageIdFor('req-7:notify');
    expect(id).toMatch(/^<[0-9a-f]{64}@errand>$/);
    expect(out).toEqual({ messageId: id, accepted: ['alice@example.com'], rejected: [] });
    expect(srv.received).toHaveLength(1);
    const m = srv.received[0]!;
    expect(m.from).toBe('errand@example.com');
    expect(m.to).toEqual(['alice@example.com']);
    expect(header(m.raw, 'Message-ID')).toBe(id);
    expect(header(m.raw, 'Subject')).toBe('Your VPN access is ready');
    expect(header(m.raw, 'From')).toBe('Errand <errand@example.com>');
    expect(m.raw).toContain('Hello Alice,\r\nyour access was granted.');
  });

  it('gives a resend with the same key the same Message-ID, and another key another one', async () => {
    const c = connector(srv.port);
    const msg = { to: 'alice@example.com', subject: 'Ticket update', text: 'Done.' };
    const a = await c.operations.send!(msg, ctx('req-8:step-2'));
    const b = await c.operations.send!(msg, ctx('req-8:step-2'));
    const other = await c.operations.send!(msg, ctx('req-8:step-3'));
    expect(a.messageId).toBe(b.messageId);
    expect(other.messageId).not.toBe(a.messageId);
    expect(srv.received.map((m) => header(m.raw, 'Message-ID'))).toEqual([a.messageId, a.messageId, other.messageId]);
  });

  it('sends to a list with an HTML alternative', async () => {
    await connector(srv.port).operations.send!(
      { to: ['alice@example.com', 'bob@example.com'], subject: 'Hi', text: 'plain part', html: '<p>html part</p>' }, ctx('k-list'));
    const m = srv.received[0]!;
    expect(m.to).toEqual(['alice@example.com', 'bob@example.com']);
    expect(header(m.raw, 'To')).toBe('alice@example.com, bob@example.com');
    expect(header(m.raw, 'Content-Type')).toMatch(/^multipart\/alternative/);
    expect(m.raw).toContain('plain part');
    expect(m.raw).toContain('<p>html part</p>');
  });

  it('authenticates with the password from the secret reference', async () => {
    await connector(srv.port, { user: 'errand', password: 'env:SMTP_PASSWORD' }).operations.send!(
      { to: 'alice@example.com', subject: 'auth', text: 'x' }, ctx('k-auth'));
    expect(srv.received[0]!.user).toBe('errand');
  });

  it('a wrong password (535) is permanent and the password is not in the message', async () => {
    const e = await failure(connector(srv.port, { user: 'errand', password: 'env:WRONG' }).operations.send!(
      { to: 'alice@example.com', subject: 'auth', text: 'x' }, ctx('k-auth2')));
    expect(e).toMatchObject({ retryable: false, status: 535 });
    expect(e.message).not.toContain('nope-wrong');
  });

  it('a recipient rejected with 550 is not retryable', async () => {
    const e = await failure(connector(srv.port).operations.send!({ to: 'ghost@example.com', subject: 's', text: 't' }, ctx('k-550')));
    expect(e).toMatchObject({ retryable: false, status: 550 });
    expect(e.message).toMatch(/mail: send failed: .*550/);
    expect(srv.received).toHaveLength(0);
  });

  it('a recipient rejected with 450 (temporary) is retryable', async () => {
    const e = await failure(connector(srv.port).operations.send!({ to: 'busy@example.com', subject: 's', text: 't' }, ctx('k-450')));
    expect(e).toMatchObject({ retryable: true, status: 450 });
  });

  it('a partly rejected list is delivered to the others and reports the rejected', async () => {
    const out = await connector(srv.port).operations.send!(
      { to: ['alice@example.com', 'ghost@example.com'], subject: 's', text: 't' }, ctx('k-partial'));
    expect(out).toMatchObject({ accepted: ['alice@example.com'], rejected: ['ghost@example.com'] });
    expect(srv.received[0]!.to).toEqual(['alice@example.com']);
  });

  it('a closed port is retryable', async () => {
    const e = await failure(connector(await closedPort()).operations.send!({ to: 'alice@example.com', subject: 's', text: 't' }, ctx('k-closed')));
    expect(e.retryable).toBe(true);
    expect(e.status).toBeUndefined();
  });

  it('an aborted step signal is retryable and sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await failure(connector(srv.port).operations.send!(
      { to: 'alice@example.com', subject: 's', text: 't' }, { idempotencyKey: 'k-abort', signal: ac.signal }));
    expect(e.retryable).toBe(true);
    expect(srv.received).toHaveLength(0);
  });

  it('invalid input is not retryable', async () => {
    const e = await failure(connector(srv.port).operations.send!({ to: 'not-an-address', subject: 's', text: 't' }, ctx('k-bad')));
    expect(e.retryable).toBe(false);
  });
});

describe('check', () => {
  it('passes against a live server and fails (retryably) against a closed port', async () => {
    await expect(connector(srv.port).check!(new AbortController().signal)).resolves.toBeUndefined();
    await expect(connector(srv.port, { user: 'errand', password: 'env:SMTP_PASSWORD' }).check!(new AbortController().signal)).resolves.toBeUndefined();
    const e = await failure(connector(await closedPort()).check!(new AbortController().signal));
    expect(e.retryable).toBe(true);
    const e2 = await failure(connector(srv.port).check!(AbortSignal.abort()));
    expect(e2.retryable).toBe(true);
  });
});

describe('classifySmtpError', () => {
  it('maps reply codes and connection errors', () => {
    expect(classifySmtpError({ code: 'ECONNECTION' })).toEqual({ retryable: true });
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 552 })).toEqual({ retryable: false, status: 552 });
    expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 451 })).toEqual({ retryable: true, status: 451 });
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550, rejectedErrors: [{ responseCode: 550 }, { responseCode: 452 }] }))
      .toEqual({ retryable: true, status: 550 });
  });
});
