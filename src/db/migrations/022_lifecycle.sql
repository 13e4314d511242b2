-- Catalogue lifecycle (src/catalogue/lifecycle/): deprecations of catalogue items.
--
-- A deprecation hides its item from intake at once (classification goes to `alternative` or to
-- triage; start buttons and API submissions are refused naming `until` and the alternative);
-- requests already submitted finish on their pinned version. After `until` the lifecycle job
-- removes the item (and its intents) in a NEW catalogue version made through the version store
-- (author "system"), or leaves a draft for change control (`removal_draft`).
--
-- Status: active → removed (the item is not in the current version any more; removed_version)
--         active → cancelled (withdrawn before removal; the item is offered again)
-- At most one active deprecation per item. `removed` rows stay: they keep mapping the intent of a
-- removed item (which the trained model still knows until `errand train` runs) to its alternative.
CREATE TABLE catalogue_deprecations (
  id               bigserial PRIMARY KEY,
  item_id          text NOT NULL,
  item_title       text NOT NULL,
  until            timestamptz NOT NULL,
  alternative      text,
  reason           text NOT NULL CHECK (length(btrim(reason)) > 0),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed', 'cancelled')),
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- the catalogue version that was current when the item was deprecated
  deprecated_in    integer REFERENCES catalogue_versions(number),
  notified         text[] NOT NULL DEFAULT '{}',
  -- a draft without the item, waiting for change control (publish through a change request)
  removal_draft    integer REFERENCES catalogue_versions(number),
  removed_version  integer REFERENCES catalogue_versions(number),
  removed_at       timestamptz,
  ended_by         text,
  ended_reason     text,
  ended_at         timestamptz,
  -- the last removal attempt that failed (validation errors, refused publish), for the operator
  last_error       text,
  CHECK (alternative IS NULL OR alternative <> item_id)
);
CREATE UNIQUE INDEX catalogue_deprecations_one_active ON catalogue_deprecations (item_id) WHERE status = 'active';
CREATE INDEX catalogue_deprecations_due_idx ON catalogue_deprecations (until) WHERE status = 'active';
CREATE INDEX catalogue_deprecations_item_idx ON catalogue_deprecations (item_id, id);

-- usage analysis per item and month
CREATE INDEX IF NOT EXISTS requests_item_created_idx ON requests (item_id, created_at);
