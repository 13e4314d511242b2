-- Catalogue versions (src/catalogue/versions/): the whole catalogue (dialogs/*.yaml items,
-- _connectors.yaml, _governance.yaml, _alerts.yaml, intents/*.yaml and the trained model's
-- reference) as immutable, numbered versions. The database is the system of record: the service
-- serves the one `published` version; requests keep the version they started on.
--
--   files       every file's raw text, keyed by its path in the folder layout
--               ({"dialogs/vpn-access.yaml": "...", "intents/vpn-access.yaml": "..."}), for lossless export
--   documents   the parsed and validated documents: {items, intents, connectors, governance, alerts}
--   model       {path, sha256, bytes, classes}: the intent model the version was made with (not its bytes)
--   content_hash  SHA-256 over files and model.sha256 (src/catalogue/versions/snapshot.ts: contentHash)
--
-- Lifecycle (status): draft → published → superseded (a newer version was published)
--                                       → rolled-back (replaced by a rollback)
--                     draft → discarded
-- A rollback never rewrites history: it inserts a NEW version with the content of an earlier one
-- (rollback_of) and status published.
--
-- Content columns never change after the INSERT, and rows are never deleted (the trigger below);
-- only the status moves along the arrows above, with its who/when/why stamps written once.
-- At most one row is `published` (unique partial index): the current version. Publishing takes
-- pg_advisory_xact_lock(7316222) and moves the pointer with conditional UPDATEs in one transaction.
-- To add statuses later (change requests: e.g. in-review, approved, scheduled), a migration replaces
-- the CHECK constraint and catalogue_versions_guard()'s transition table.
CREATE TABLE catalogue_versions (
  number          integer PRIMARY KEY CHECK (number > 0),
  status          text NOT NULL CHECK (status IN ('draft', 'published', 'superseded', 'rolled-back', 'discarded')),
  content_hash    text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  files           jsonb NOT NULL,
  documents       jsonb NOT NULL,
  model           jsonb,
  item_count      integer NOT NULL,
  author          text NOT NULL CHECK (length(btrim(author)) > 0),
  reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  based_on        integer REFERENCES catalogue_versions(number),
  rollback_of     integer REFERENCES catalogue_versions(number),
  published_at    timestamptz,
  published_by    text,
  publish_reason  text,
  ended_at        timestamptz,
  ended_by        text,
  ended_reason    text,
  successor       integer
);
CREATE UNIQUE INDEX catalogue_versions_one_current ON catalogue_versions (status) WHERE status = 'published';
CREATE INDEX catalogue_versions_status_idx ON catalogue_versions (status, number);

CREATE FUNCTION catalogue_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'catalogue versions are immutable: they cannot be deleted (discard a draft instead)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.number IS DISTINCT FROM OLD.number OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
     OR NEW.files IS DISTINCT FROM OLD.files OR NEW.documents IS DISTINCT FROM OLD.documents
     OR NEW.model IS DISTINCT FROM OLD.model OR NEW.item_count IS DISTINCT FROM OLD.item_count
     OR NEW.author IS DISTINCT FROM OLD.author OR NEW.reason IS DISTINCT FROM OLD.reason
     OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.based_on IS DISTINCT FROM OLD.based_on
     OR NEW.rollback_of IS DISTINCT FROM OLD.rollback_of THEN
    RAISE EXCEPTION 'catalogue version % is immutable: only its status may change (publish, supersede, roll back, discard)', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'draft' AND NEW.status IN ('published', 'discarded'))
    OR (OLD.status = 'published' AND NEW.status IN ('superseded', 'rolled-back'))) THEN
    RAISE EXCEPTION 'catalogue version %: status % cannot become %', OLD.number, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  IF (OLD.published_at IS NOT NULL AND (NEW.published_at IS DISTINCT FROM OLD.published_at
        OR NEW.published_by IS DISTINCT FROM OLD.published_by OR NEW.publish_reason IS DISTINCT FROM OLD.publish_reason))
     OR (OLD.ended_at IS NOT NULL AND (NEW.ended_at IS DISTINCT FROM OLD.ended_at
        OR NEW.ended_by IS DISTINCT FROM OLD.ended_by OR NEW.ended_reason IS DISTINCT FROM OLD.ended_reason
        OR NEW.successor IS DISTINCT FROM OLD.successor)) THEN
    RAISE EXCEPTION 'catalogue version %: who published or replaced it, when and why are written once', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER catalogue_versions_immutable BEFORE UPDATE OR DELETE ON catalogue_versions
  FOR EACH ROW EXECUTE FUNCTION catalogue_versions_guard();
CREATE TRIGGER catalogue_versions_no_truncate BEFORE TRUNCATE ON catalogue_versions
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_versions_guard();

-- The catalogue version a request was started on (its dialog's version, or the current one for API
-- submissions). item_snapshot holds that version's item (plus per-request gates such as the SoD
-- security step), which everything after submission reads. NULL for requests older than versions.
ALTER TABLE requests ADD COLUMN catalogue_version integer REFERENCES catalogue_versions(number);
CREATE INDEX requests_catalogue_version_idx ON requests (catalogue_version, status) WHERE catalogue_version IS NOT NULL;
