-- Alerting (src/observability/alerts.ts): one row per (rule, subject). State changes are conditional
-- (INSERT ... ON CONFLICT ... WHERE, UPDATE ... WHERE status = 'firing'), so with several instances
-- exactly one sends each notification; notified_at drives the re-notification cool-down.
CREATE TABLE alerts (
  rule            text NOT NULL,
  subject         text NOT NULL,
  kind            text NOT NULL,
  status          text NOT NULL CHECK (status IN ('firing', 'resolved')),
  summary         text NOT NULL,
  detail          jsonb NOT NULL DEFAULT '{}',
  first_fired_at  timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL,
  notified_at     timestamptz,
  notify_count    integer NOT NULL DEFAULT 0,
  resolved_at     timestamptz,
  last_error      text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule, subject)
);
CREATE INDEX alerts_firing_idx ON alerts (rule) WHERE status = 'firing';

-- The connector failure-rate and breaker rules read recent audit entries by action and time.
CREATE INDEX audit_action_at_idx ON audit_log (action, at);
