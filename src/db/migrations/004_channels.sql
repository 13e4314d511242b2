-- Channel adapters: inbound de-duplication (Slack retries and duplicate events), outbound
-- deliveries of outbox messages (one per message and channel, with the platform's message id so
-- it can be updated in place), and per-identity data such as a Slack DM channel.

CREATE TABLE inbound_dedupe (
  channel      text NOT NULL,
  key          text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, key)
);
CREATE INDEX inbound_dedupe_age_idx ON inbound_dedupe (received_at);

CREATE TABLE channel_deliveries (
  channel         text NOT NULL,
  dedupe_key      text NOT NULL,
  message_id      bigint NOT NULL REFERENCES messages(id),
  status          text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown')),
  target          text,
  external_id     text,
  attempts        integer NOT NULL DEFAULT 1,
  error           text,
  delivered_body  timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, dedupe_key)
);
CREATE INDEX channel_deliveries_message_idx ON channel_deliveries (message_id);

ALTER TABLE channel_identities ADD COLUMN meta jsonb NOT NULL DEFAULT '{}';
ALTER TABLE channel_identities ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
