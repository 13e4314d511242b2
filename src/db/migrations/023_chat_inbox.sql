-- The durable chat inbox (src/channels/chat-inbox.ts).
--
-- chat_inbound: every chat event errand must act on (a Slack DM or @mention, a Teams message), stored
-- after its signature/token was verified and BEFORE the platform is answered 2xx: an event acknowledged
-- while the database is down, or just before the process dies, is no longer lost (Slack and Teams do
-- not redeliver what was acknowledged). Keyed by (channel, delivery_key): Slack's event_id, Teams'
-- activity id. The conditional insert is the duplicate guard (a redelivery or a replay finds the row
-- and is answered 2xx without a second row). The row is also the queue between receipt and
-- processing: claimed with FOR UPDATE SKIP LOCKED under a lease (claimed_until), retried after a
-- failure, marked failed after three failed attempts; done rows are pruned after some days.
CREATE TABLE chat_inbound (
  id             bigserial PRIMARY KEY,
  channel        text NOT NULL,
  delivery_key   text NOT NULL,
  payload        jsonb NOT NULL,
  status         text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processing', 'done', 'failed')),
  attempts       integer NOT NULL DEFAULT 0,
  -- 'processing': the lease of the instance working on it; 'received': not to be retried before then
  claimed_until  timestamptz,
  -- what a half-done attempt already did outside the database (e.g. the DM thread of an @mention)
  progress       jsonb NOT NULL DEFAULT '{}',
  last_error     text,
  received_at    timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  UNIQUE (channel, delivery_key)
);
CREATE INDEX chat_inbound_pending_idx ON chat_inbound (id) WHERE status IN ('received', 'processing');
CREATE INDEX chat_inbound_processed_idx ON chat_inbound (processed_at) WHERE status = 'done';

-- Delivery keys (inbound_dedupe) written by a turn of the inbox belong to its row: a retry of the same
-- row passes its own keys, another delivery of the same message is still dropped.
ALTER TABLE inbound_dedupe ADD COLUMN owner text;

-- A triage item queued by a turn of the inbox carries the turn's key: a retry after a partial failure
-- finds it instead of queueing a second one.
ALTER TABLE triage_items ADD COLUMN source_key text UNIQUE;
