-- The e-mail channel (src/channels/email).
--
-- email_inbound: every mail that reached errand (SMTP listener or IMAP poll), keyed by its Message-ID
-- (or the SHA-256 of the raw message when it has none). The conditional insert on message_key is the
-- duplicate guard: a redelivered or re-polled mail creates nothing twice. The row is also the
-- durable queue between receipt and processing: `raw` is kept until the mail is processed.
CREATE TABLE email_inbound (
  id             bigserial PRIMARY KEY,
  message_key    text NOT NULL UNIQUE,
  source         text NOT NULL CHECK (source IN ('smtp', 'imap')),
  envelope_from  text,
  raw            bytea,
  size_bytes     integer NOT NULL,
  too_large      boolean NOT NULL DEFAULT false,
  status         text NOT NULL CHECK (status IN ('received', 'processing', 'done', 'ignored', 'rejected', 'triaged', 'failed')),
  reason         text,
  from_address   text,
  person_email   text,
  thread_id      bigint,
  attempts       integer NOT NULL DEFAULT 0,
  claimed_until  timestamptz,
  received_at    timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz
);
CREATE INDEX email_inbound_pending_idx ON email_inbound (id) WHERE status IN ('received', 'processing');
CREATE INDEX email_inbound_from_idx ON email_inbound (from_address, processed_at);

-- A thread: one e-mail conversation with one address. Its conversation in the core is
-- `email:<ref>`; the ref travels in the subject as "[errand E-12]".
CREATE SEQUENCE email_thread_seq;
CREATE TABLE email_threads (
  id               bigint PRIMARY KEY,
  ref              text NOT NULL UNIQUE,
  conversation_id  text NOT NULL UNIQUE,
  person_email     text NOT NULL,
  address          text NOT NULL,
  subject          text NOT NULL,
  -- Message-IDs of the thread, oldest first (References of our next mail), and the last one in.
  refs             text[] NOT NULL DEFAULT '{}',
  last_inbound_id  text,
  -- While an inbound mail of the thread is being processed, the dispatcher holds its replies, so the
  -- person gets one answer per mail; expires by itself if the processing instance dies.
  hold_until       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_threads_person_idx ON email_threads (person_email);

-- Every Message-ID known in a thread, both directions: matches In-Reply-To/References of a reply
-- to its thread. Outbound rows remember what the mail offered: the numbered questions and the
-- reply keywords (CONFIRM, ...) with their actions.
CREATE TABLE email_messages (
  message_id  text PRIMARY KEY,
  thread_id   bigint NOT NULL REFERENCES email_threads(id),
  direction   text NOT NULL CHECK (direction IN ('in', 'out')),
  questions   jsonb,
  actions     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_messages_thread_idx ON email_messages (thread_id, created_at);

-- Attachments of mails from directory people, stored with the request of their thread (request_id is
-- set when the thread's request is submitted; NULL while the dialog is still going).
CREATE TABLE email_attachments (
  id            bigserial PRIMARY KEY,
  inbound_id    bigint NOT NULL REFERENCES email_inbound(id),
  thread_id     bigint NOT NULL REFERENCES email_threads(id),
  request_id    uuid REFERENCES requests(id),
  filename      text NOT NULL,
  content_type  text NOT NULL,
  size_bytes    integer NOT NULL,
  sha256        text NOT NULL,
  content       bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_attachments_request_idx ON email_attachments (request_id);
CREATE INDEX email_attachments_thread_idx ON email_attachments (thread_id) WHERE request_id IS NULL;

-- Approve/deny links in approval e-mails: 32 random bytes in the link, only their SHA-256 here; bound
-- to one approval, one approver and one decision; consumed once by a conditional UPDATE
-- (... WHERE used_at IS NULL AND expires_at > now()); the decision itself goes through
-- RequestService.decide, which checks again that the person is an approver of the pending step.
CREATE TABLE email_approval_links (
  token_hash      text PRIMARY KEY,
  approval_id     uuid NOT NULL REFERENCES approvals(id),
  approver_email  text NOT NULL,
  decision        text NOT NULL CHECK (decision IN ('approve', 'deny')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz,
  used_ip         text,
  outcome         text
);
CREATE INDEX email_approval_links_approval_idx ON email_approval_links (approval_id, approver_email);
