-- Core tables: directory, conversations, requests and their history, approvals,
-- fulfilment steps, cases, triage, messages to people, audit.

CREATE TABLE people (
  email            text PRIMARY KEY CHECK (email = lower(email)),
  name             text NOT NULL,
  department       text,
  title            text,
  roles            text[] NOT NULL DEFAULT '{}',
  manager          text,
  employment_type  text NOT NULL DEFAULT 'employee',
  location         text,
  active           boolean NOT NULL DEFAULT true,
  created_by       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  disabled_at      timestamptz,
  disabled_reason  text
);

CREATE TABLE group_memberships (
  person_email  text NOT NULL REFERENCES people(email),
  group_name    text NOT NULL,
  until         date,
  added_by      text,
  added_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_email, group_name)
);

-- A channel's user id (Slack U123, Teams AAD id, web e-mail) mapped to a directory person.
CREATE TABLE channel_identities (
  channel       text NOT NULL,
  external_id   text NOT NULL,
  person_email  text NOT NULL REFERENCES people(email),
  PRIMARY KEY (channel, external_id)
);

CREATE TABLE conversations (
  id            text PRIMARY KEY,
  channel       text NOT NULL,
  person_email  text NOT NULL,
  state         jsonb NOT NULL DEFAULT '{"mode":"idle"}',
  version       integer NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE request_ref_seq;

CREATE TABLE requests (
  id                 uuid PRIMARY KEY,
  ref                text NOT NULL UNIQUE,
  item_id            text NOT NULL,
  item_snapshot      jsonb NOT NULL,
  requester_email    text NOT NULL REFERENCES people(email),
  channel            text NOT NULL,
  conversation_id    text,
  status             text NOT NULL CHECK (status IN ('draft','submitted','awaiting-approval','approved','denied','in-fulfilment','fulfilled','failed','cancelled')),
  fields             jsonb NOT NULL DEFAULT '{}',
  original_text      text,
  intent_confidence  real,
  submission_key     text UNIQUE,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  completed_at       timestamptz,
  lease_owner        text,
  lease_until        timestamptz
);
CREATE INDEX requests_requester_idx ON requests (requester_email, status);
CREATE INDEX requests_status_idx ON requests (status, updated_at);

-- Every lifecycle transition and notable event of a request: who, when, why.
CREATE TABLE request_events (
  id           bigserial PRIMARY KEY,
  request_id   uuid NOT NULL REFERENCES requests(id),
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  kind         text NOT NULL,
  from_status  text,
  to_status    text,
  reason       text,
  detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX request_events_request_idx ON request_events (request_id, id);

CREATE TABLE approvals (
  id           uuid PRIMARY KEY,
  request_id   uuid NOT NULL REFERENCES requests(id),
  step_index   integer NOT NULL,
  step_id      text NOT NULL,
  label        text NOT NULL,
  approvers    text[] NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending','approved','denied','cancelled')),
  decided_by   text,
  decided_at   timestamptz,
  reason       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (request_id, step_id)
);
CREATE INDEX approvals_pending_idx ON approvals (status) WHERE status = 'pending';

CREATE TABLE fulfilment_steps (
  request_id       uuid NOT NULL REFERENCES requests(id),
  step_id          text NOT NULL,
  step_index       integer NOT NULL,
  action           text NOT NULL,
  idempotency_key  text NOT NULL UNIQUE,
  status           text NOT NULL CHECK (status IN ('pending','running','done','failed','skipped')),
  attempts         integer NOT NULL DEFAULT 0,
  input            jsonb,
  output           jsonb,
  error            text,
  started_at       timestamptz,
  finished_at      timestamptz,
  PRIMARY KEY (request_id, step_id)
);

CREATE SEQUENCE case_ref_seq;

CREATE TABLE cases (
  id               bigserial PRIMARY KEY,
  ref              text NOT NULL UNIQUE,
  idempotency_key  text UNIQUE,
  request_id       uuid REFERENCES requests(id),
  title            text NOT NULL,
  description      text,
  queue            text NOT NULL DEFAULT 'service-desk',
  priority         text NOT NULL DEFAULT 'normal',
  person_email     text,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open','in-progress','closed')),
  assignee         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  closed_at        timestamptz
);

CREATE TABLE triage_items (
  id               uuid PRIMARY KEY,
  text             text NOT NULL,
  requester_email  text NOT NULL REFERENCES people(email),
  channel          text NOT NULL,
  conversation_id  text NOT NULL,
  suggestions      jsonb NOT NULL DEFAULT '[]',
  status           text NOT NULL CHECK (status IN ('open','assigned','not-a-request','case')),
  assigned_item    text,
  decided_by       text,
  decided_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_open_idx ON triage_items (created_at) WHERE status = 'open';

-- Labels from triage decisions, for retraining the classifier.
CREATE TABLE training_labels (
  id          bigserial PRIMARY KEY,
  text        text NOT NULL,
  intent      text NOT NULL,
  source      text NOT NULL,
  labelled_by text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Channel-neutral messages to people. Channels deliver them (the web chat reads them by cursor).
CREATE TABLE messages (
  id               bigserial PRIMARY KEY,
  person_email     text NOT NULL,
  conversation_id  text,
  body             jsonb NOT NULL,
  idempotency_key  text UNIQUE,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_person_idx ON messages (person_email, id);

CREATE TABLE audit_log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,
  action   text NOT NULL,
  subject  text,
  detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject_idx ON audit_log (subject, id);
