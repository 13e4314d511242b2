/**
 * The e-mail channel: inbound mail through IMAP polling and/or errand's own SMTP listener, into the
 * intake (stored once per Message-ID, then processed); answers, notifications and approval e-mails by
 * the dispatcher over the SMTP relay; approval links at /email/approval/<token>. Like the chat
 * adapters it only translates: dialog, approvals and fulfilment stay in the core.
 */
import nodemailer from 'nodemailer';
import type express from 'express';
import type { EmailConfig } from '../../config.js';
import type { ChatMetrics } from '../../observability/metrics.js';
import type { ChannelAdapterDeps } from '../channel-adapter.js';
import { ApprovalLinks, emailApprovalRouter } from './approval-links.js';
import { EmailDispatcher } from './email-dispatcher.js';
import { EmailIntake } from './email-intake.js';
import { ImapPoller } from './imap-poller.js';
import { SmtpListener } from './smtp-listener.js';

export type EmailAdapterDeps = ChannelAdapterDeps<EmailConfig> & { metrics?: ChatMetrics; dispatchEveryMs?: number };

export interface EmailAdapter {
  /** The approval link pages. */
  router: express.Router;
  intake: EmailIntake;
  dispatcher: EmailDispatcher;
  links: ApprovalLinks;
  poller: ImapPoller | undefined;
  listener: SmtpListener | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createEmailAdapter(d: EmailAdapterDeps): EmailAdapter {
  const c = d.config;
  const transport = nodemailer.createTransport({
    host: c.smtp.host, port: c.smtp.port, secure: c.smtp.secure,
    ...(c.smtp.user ? { auth: { user: c.smtp.user, pass: c.smtp.password ?? '' } } : {}),
    connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000, logger: false,
  });
  const links = new ApprovalLinks({ db: d.db, requests: d.requests, now: d.now, ttlHours: c.linkTtlHours, publicUrl: c.publicUrl, log: d.log });
  const dispatcher = new EmailDispatcher({ db: d.db, config: c, transport, links, catalogue: d.catalogue, log: d.log, ...(d.metrics ? { metrics: d.metrics } : {}) });
  const intake = new EmailIntake({ db: d.db, config: c, conversation: d.conversation, catalogue: d.catalogue, log: d.log, onProcessed: () => { void dispatcher.kick(); } });
  const poller = c.imap ? new ImapPoller(c.imap, c.maxMessageBytes, intake, d.log) : undefined;
  const listener = c.listen ? new SmtpListener(c.listen, [c.address, ...c.aliases], c.maxMessageBytes, intake, d.log) : undefined;
  if (!c.trustedAuthservIds.length) d.log.warn('EMAIL_TRUSTED_AUTHSERV_IDS is not set: the From address of inbound mail is believed without checking Authentication-Results');
  return {
    router: emailApprovalRouter(links, d.log), intake, dispatcher, links, poller, listener,
    async start() {
      await listener?.start();
      intake.start(5_000); // recovery pass: mails stored but not processed (a crash, a redelivery)
      void intake.kick();
      dispatcher.start(d.dispatchEveryMs ?? 1_000);
      poller?.start();
    },
    async stop() {
      await poller?.stop();
      await listener?.stop();
      await intake.stop();
      await dispatcher.stop();
      transport.close();
    },
  };
}
