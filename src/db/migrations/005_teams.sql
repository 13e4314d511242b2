-- Teams conversation references (for proactive messages), by conversation id; personal chats
-- carry the person they belong to.
CREATE TABLE teams_conversations (
  conversation_id  text PRIMARY KEY,
  person_email     text,
  kind             text NOT NULL,
  reference        jsonb NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_conversations_person_idx ON teams_conversations (person_email, kind);
