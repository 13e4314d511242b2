-- Messages can be updated in place (an approval card loses its buttons once decided).
ALTER TABLE messages ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX messages_updated_idx ON messages (person_email, updated_at);
