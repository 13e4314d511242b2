/**
 * IMAP polling (imapflow): every EMAIL_IMAP_POLL_MS, unseen mails of the mailbox are stored with the
 * intake (once per Message-ID) and then marked \Seen, or moved to EMAIL_IMAP_PROCESSED_MAILBOX. A mail
 * over EMAIL_MAX_MESSAGE_BYTES is not downloaded: its header is stored, and the sender told. A
 * connection per poll: nothing to keep alive, a changed password works at the next poll. Passes never
 * overlap; errors are logged (without credentials) and the next poll tries again.
 */
import { ImapFlow } from 'imapflow';
import type { EmailConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { EmailIntake } from './email-intake.js';

/** At most this many mails are taken per poll (the rest at the next one). */
const PER_POLL = 50;

export class ImapPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly cfg: NonNullable<EmailConfig['imap']>,
    private readonly maxMessageBytes: number,
    private readonly intake: Pick<EmailIntake, 'receive' | 'kick'>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => { void this.poll().catch(() => undefined); }, this.cfg.pollMs);
    this.timer.unref();
    void this.poll().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One poll (or waits for the one running); returns how many mails were taken. */
  poll(): Promise<number> {
    this.running ??= this.pollOnce().catch((e: Error) => {
      this.log.warn({ err: e.message, host: this.cfg.host, mailbox: this.cfg.mailbox }, 'IMAP poll failed');
      throw e;
    }).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pollOnce(): Promise<number> {
    const client = new ImapFlow({
      host: this.cfg.host, port: this.cfg.port, secure: this.cfg.secure, auth: { user: this.cfg.user, pass: this.cfg.password },
      logger: false, disableAutoIdle: true, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000,
    });
    client.on('error', (e: Error) => this.log.warn({ err: e.message }, 'IMAP connection error'));
    await client.connect();
    let taken = 0;
    try {
      const lock = await client.getMailboxLock(this.cfg.mailbox);
      try {
        const uids = (await client.search({ seen: false }, { uid: true })) || [];
        for (const uid of uids.slice(0, PER_POLL)) {
          const meta = await client.fetchOne(String(uid), { size: true }, { uid: true });
          if (!meta) continue;
          const size = meta.size ?? 0;
          if (size > this.maxMessageBytes) {
            const h = await client.fetchOne(String(uid), { headers: true }, { uid: true });
            if (!h || !h.headers) continue;
            await this.intake.receive(h.headers, { source: 'imap', tooLarge: true, size });
          } else {
            const m = await client.fetchOne(String(uid), { source: true }, { uid: true });
            if (!m || !m.source) continue;
            await this.intake.receive(m.source, { source: 'imap', size });
          }
          // stored (or known already): only now is it marked, so a crash before this re-reads it (and the duplicate guard drops it)
          if (this.cfg.processedMailbox) await client.messageMove(String(uid), this.cfg.processedMailbox, { uid: true });
          else await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
          taken++;
        }
      } finally {
        lock.release();
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
    if (taken) void this.intake.kick();
    return taken;
  }
}
