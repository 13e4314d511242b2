-- Delivery passes cost O(pending), not O(history).
--
-- Each channel dispatcher (Slack, Teams) keeps a watermark: every message with id <= floor is finished for
-- that channel (delivered, given up on, or not for it), so a pass only looks at messages above it
-- (a range scan of messages_pkey) instead of anti-joining the whole outbox against every delivery.
-- The floor only moves past ids whose inserting transactions have all ended (see delivery-watermark.ts).
CREATE TABLE delivery_watermarks (
  channel     text PRIMARY KEY,
  floor       bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Messages changed in place (an approval or triage card resolved: updated_at moves past created_at),
-- by time: the "update delivered cards" query reads the recent ones instead of every sent delivery.
CREATE INDEX messages_changed_idx ON messages (updated_at) WHERE updated_at > created_at;

