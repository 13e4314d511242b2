-- Pre-validation at submission (catalogue `checks:`, src/requests/checks): licence pools with seat
-- reservations and a waitlist, the asset list for compatibility checks, and the `waitlisted` request
-- status (stored, waiting for a licence seat; it continues to approval by itself when one frees).

ALTER TABLE requests DROP CONSTRAINT IF EXISTS requests_status_check;
ALTER TABLE requests ADD CONSTRAINT requests_status_check
  CHECK (status IN ('draft','submitted','awaiting-approval','approved','denied','in-fulfilment','fulfilled','failed','cancelled','waitlisted'));

-- Managed by admins (errand licence ..., /admin/api/licences); every change audited.
CREATE TABLE licence_pools (
  product        text PRIMARY KEY CHECK (product ~ '^[a-z0-9][a-z0-9-]*$'),
  title          text,
  seats          integer NOT NULL CHECK (seats >= 0),
  cost_per_seat  numeric(12, 2) NOT NULL DEFAULT 0 CHECK (cost_per_seat >= 0),
  owner          text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  updated_by     text
);

-- A seat held for a request: reserved at submission (under the pool's row lock, so concurrent
-- submissions never over-allocate), consumed when the request is fulfilled, released when it is
-- denied, cancelled or fails, or when its just-in-time access ends. Used = reserved + consumed.
CREATE TABLE licence_reservations (
  id              bigserial PRIMARY KEY,
  product         text NOT NULL REFERENCES licence_pools(product),
  request_id      uuid NOT NULL REFERENCES requests(id),
  person_email    text NOT NULL,
  status          text NOT NULL CHECK (status IN ('reserved', 'consumed', 'released')),
  reserved_at     timestamptz NOT NULL DEFAULT now(),
  consumed_at     timestamptz,
  released_at     timestamptz,
  release_reason  text,
  UNIQUE (product, request_id)
);
CREATE INDEX licence_reservations_used_idx ON licence_reservations (product) WHERE status IN ('reserved', 'consumed');

-- Requests waiting for a seat, first come first served.
CREATE TABLE licence_waitlist (
  id            bigserial PRIMARY KEY,
  product       text NOT NULL REFERENCES licence_pools(product),
  request_id    uuid NOT NULL REFERENCES requests(id),
  person_email  text NOT NULL,
  status        text NOT NULL CHECK (status IN ('waiting', 'promoted', 'left')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (product, request_id)
);
CREATE INDEX licence_waitlist_waiting_idx ON licence_waitlist (product, id) WHERE status = 'waiting';

-- The devices people use (seed/assets.yaml or a CMDB export), for compatibility checks.
CREATE TABLE assets (
  tag           text PRIMARY KEY,
  person_email  text NOT NULL CHECK (person_email = lower(person_email)),
  kind          text NOT NULL,
  model         text NOT NULL,
  os            text,
  ports         text[] NOT NULL DEFAULT '{}',
  active        boolean NOT NULL DEFAULT true,
  source        text NOT NULL DEFAULT 'seed',
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_person_idx ON assets (person_email) WHERE active;
