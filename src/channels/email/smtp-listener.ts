/**
 * errand's own SMTP listener (smtp-server), for an MTA that forwards the service desk's mail to it.
 * It accepts mail only for our addresses (never relays), up to EMAIL_MAX_MESSAGE_BYTES (552 above,
 * with a reason the sending MTA puts in its bounce), optionally with AUTH (EMAIL_LISTEN_USER/
 * PASSWORD, compared in constant time) and STARTTLS (EMAIL_LISTEN_TLS_KEY/CERT). A mail is answered
 * 250 only once it is stored (the intake processes it afterwards); a database error answers 451 so
 * the sending MTA retries.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { EmailConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { EmailIntake } from './email-intake.js';
import { formatBytes } from './email-text.js';

const smtpError = (code: number, message: string): Error => Object.assign(new Error(message), { responseCode: code });

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class SmtpListener {
  private readonly server: SMTPServer;
  private boundPort: number | undefined;

  constructor(
    private readonly cfg: NonNullable<EmailConfig['listen']>,
    ours: string[],
    maxMessageBytes: number,
    intake: Pick<EmailIntake, 'receive' | 'kick'>,
    private readonly log: Logger,
  ) {
    const tls = cfg.tlsKeyFile && cfg.tlsCertFile ? { key: readFileSync(cfg.tlsKeyFile), cert: readFileSync(cfg.tlsCertFile) } : undefined;
    const auth = cfg.user && cfg.password ? { user: cfg.user, password: cfg.password } : undefined;
    this.server = new SMTPServer({
      banner: 'errand', logger: false, size: maxMessageBytes,
      ...(tls ?? {}),
      disabledCommands: [...(tls ? [] : ['STARTTLS']), ...(auth ? [] : ['AUTH'])],
      authOptional: !auth,
      allowInsecureAuth: !tls,
      onAuth(a, _session, cb) {
        if (auth && a.username && a.password && same(a.username, auth.user) && same(a.password, auth.password)) return cb(null, { user: a.username });
        cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
      },
      onRcptTo(address, _session, cb) {
        if (ours.includes(address.address.toLowerCase())) return cb();
        cb(smtpError(550, `5.1.1 <${address.address}>: no such mailbox here (this server only takes mail for the IT service desk)`));
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => { if (!stream.sizeExceeded) chunks.push(c); });
        stream.on('error', (e) => cb(e));
        stream.on('end', () => {
          if (stream.sizeExceeded) {
            cb(smtpError(552, `5.3.4 Message too big: the IT service desk accepts at most ${formatBytes(maxMessageBytes)}; please share large files as a link`));
            return;
          }
          const from = session.envelope.mailFrom;
          intake.receive(Buffer.concat(chunks), { source: 'smtp', envelopeFrom: from ? from.address.toLowerCase() : '' })
            .then(() => { cb(null, 'Accepted'); void intake.kick(); })
            .catch((e: Error) => { this.log.error({ err: e.message }, 'storing an inbound e-mail failed'); cb(smtpError(451, '4.3.0 Temporary failure, please try again later')); });
        });
      },
    });
    this.server.on('error', (e) => this.log.warn({ err: e.message }, 'SMTP listener error'));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.cfg.port, this.cfg.host, () => {
        this.server.removeListener('error', onError);
        this.boundPort = ((this.server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
        resolve();
      });
    });
    this.log.info({ host: this.cfg.host, port: this.boundPort }, 'SMTP listener for the service desk mailbox');
  }

  /** The port listened on (useful with port 0). */
  get port(): number | undefined { return this.boundPort; }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
