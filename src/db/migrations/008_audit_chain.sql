-- Tamper-evident audit log: every audit_log row carries the SHA-256 of its own content plus the
-- previous row's hash (a hash chain in id order), and the table refuses UPDATE, DELETE and TRUNCATE.
-- `errand audit verify` (src/audit/audit-chain.ts) recomputes the chain: an edited row no longer
-- matches its hash, a deleted row leaves the next row pointing at a hash that is not there.
--
-- Only built-ins (sha256, encode, convert_to, to_char, pg_advisory_xact_lock), so this runs the
-- same on PostgreSQL 15+ and on PGlite.
--
-- Canonical text of a row (version-tagged; every field length-prefixed, so no two rows share a text):
--   'errand-audit-v1' || F(prev_hash) || F(id) || F(at as YYYY-MM-DDTHH:MI:SS.ffffffZ in UTC)
--                     || F(actor) || F(action) || F(subject) || F(detail::text)
--   where F(NULL) = '|-' and F(x) = '|' || length(x) || ':' || x   (length in characters)
-- hash = lower-case hex SHA-256 of that text's UTF-8 bytes. The first row's prev_hash is NULL.
-- src/audit/audit-chain.ts repeats this expression verbatim (the verifier does not trust the
-- function stored in the database); the tests prove the two agree.

ALTER TABLE audit_log ADD COLUMN prev_hash text, ADD COLUMN hash text;

CREATE FUNCTION audit_log_hash(p_prev_hash text, p_id bigint, p_at timestamptz, p_actor text, p_action text, p_subject text, p_detail jsonb)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT encode(sha256(convert_to(
    'errand-audit-v1'
    || CASE WHEN p_prev_hash IS NULL THEN '|-' ELSE '|' || length(p_prev_hash)::text || ':' || p_prev_hash END
    || CASE WHEN p_id IS NULL THEN '|-' ELSE '|' || length(p_id::text)::text || ':' || p_id::text END
    || CASE WHEN p_at IS NULL THEN '|-' ELSE '|' || length(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text || ':' || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END
    || CASE WHEN p_actor IS NULL THEN '|-' ELSE '|' || length(p_actor)::text || ':' || p_actor END
    || CASE WHEN p_action IS NULL THEN '|-' ELSE '|' || length(p_action)::text || ':' || p_action END
    || CASE WHEN p_subject IS NULL THEN '|-' ELSE '|' || length(p_subject)::text || ':' || p_subject END
    || CASE WHEN p_detail IS NULL THEN '|-' ELSE '|' || length(p_detail::text)::text || ':' || p_detail::text END,
    'UTF8')), 'hex')
$fn$;

-- Rows written before this migration join the chain in id order. (ALTER TABLE above holds an
-- ACCESS EXCLUSIVE lock until this migration commits, so no row can be appended meanwhile.)
DO $backfill$
DECLARE
  r record;
  head text := NULL;
BEGIN
  FOR r IN SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY id LOOP
    UPDATE audit_log SET prev_hash = head, hash = audit_log_hash(head, r.id, r.at, r.actor, r.action, r.subject, r.detail)
     WHERE id = r.id RETURNING hash INTO head;
  END LOOP;
END
$backfill$;

-- Appends one row to the chain. The advisory lock (transaction-scoped: held until the inserting
-- transaction commits or rolls back) serialises appends; the row's id is drawn from the sequence
-- only under that lock, so id order = chain order = commit order, and the latest row read here
-- (a fresh READ COMMITTED snapshot, taken after the lock) is always the committed chain head.
-- REPEATABLE READ / SERIALIZABLE transactions would read the head from an older snapshot and fork
-- the chain, so they are refused with an error rather than silently corrupting it.
-- Any prev_hash / hash / id given by the caller is overwritten.
CREATE FUNCTION audit_log_chain_append() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  head text;
BEGIN
  IF current_setting('transaction_isolation') NOT IN ('read committed', 'read uncommitted') THEN
    RAISE EXCEPTION 'audit_log appends need READ COMMITTED isolation (this transaction is %)', current_setting('transaction_isolation')
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'write audit entries from a READ COMMITTED transaction, or outside the transaction';
  END IF;
  PERFORM pg_advisory_xact_lock(7316221008); -- constant key for "the audit chain" (outside hashtext()'s int4 range)
  NEW.id := nextval('audit_log_id_seq'::regclass);
  SELECT a.hash INTO head FROM audit_log a ORDER BY a.id DESC LIMIT 1;
  NEW.prev_hash := head;
  NEW.hash := audit_log_hash(NEW.prev_hash, NEW.id, NEW.at, NEW.actor, NEW.action, NEW.subject, NEW.detail);
  RETURN NEW;
END
$fn$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_chain_append();

-- The log is append-only. This is a guard against mistakes, not against the table's owner or a
-- superuser, who can `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only` (the tests do,
-- to simulate tampering); that is what the hash chain is for: such edits are detected afterwards.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING HINT = 'audit entries cannot be changed or removed; `errand audit verify` checks that none were';
END
$fn$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
