-- Approval reminders, escalation and out-of-office delegation.
ALTER TABLE approvals ADD COLUMN reminded_at timestamptz;
ALTER TABLE approvals ADD COLUMN escalated_at timestamptz;
CREATE TABLE delegations (
  id          bigserial PRIMARY KEY,
  person      text NOT NULL,
  delegate    text NOT NULL,
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  CHECK (person <> delegate)
);
CREATE INDEX delegations_person_idx ON delegations (person, ends_at);
