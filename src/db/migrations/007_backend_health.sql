-- Results of each backend's synthetic check (latest per backend).
CREATE TABLE backend_health (
  backend     text PRIMARY KEY,
  ok          boolean NOT NULL,
  checked_at  timestamptz NOT NULL,
  since       timestamptz NOT NULL,
  latency_ms  integer,
  error       text
);
