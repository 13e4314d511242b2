-- Just-in-time grants: access given by a request for a limited time, revoked at expiry by a job.
CREATE TABLE grants (
  id             uuid PRIMARY KEY,
  request_id     uuid NOT NULL REFERENCES requests(id),
  step_id        text NOT NULL,
  person_email   text NOT NULL,
  entitlement    text NOT NULL,
  granted_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz,
  revoke_action  text NOT NULL,
  revoke_input   jsonb NOT NULL,
  status         text NOT NULL CHECK (status IN ('active', 'revoking', 'expired', 'revoked')),
  notified_at    timestamptz,
  ended_at       timestamptz,
  ended_by       text,
  end_reason     text,
  error          text,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (request_id, step_id)
);
CREATE INDEX grants_active_idx ON grants (expires_at) WHERE status IN ('active', 'revoking');
