-- Change control of the catalogue (src/catalogue/change/): every publish of a draft and every
-- rollback is a change request — who, what (the diff against the current version), why, the
-- system's impact assessment and the dry run of every changed item — approved in chat by the
-- owners of the touched items (plus security for high-risk items or weaker controls, plus an admin
-- for an emergency change) before the version store lets the current version move.
--
-- Status: dry-run-failed                 (the dry run failed: never submitted for approval)
--         pending-approval → approved → published
--                          → denied      (one approver said no: the draft is discarded)
--         pending-approval | approved → failed    (refused when publishing: freeze, the current
--                                                  version moved, ...; or stale when decided)
--                                   → cancelled   (withdrawn by the author or an admin)
-- Every move is a conditional UPDATE (... WHERE status = 'pending-approval' RETURNING).
-- kind `folder`: CATALOGUE_SOURCE=folder (development only) publishes a changed dialogs/ at
-- start-up; that publish is recorded here as an auto-approved change (auto_approved says why).

CREATE SEQUENCE change_request_ref_seq;

CREATE TABLE change_requests (
  id                 uuid PRIMARY KEY,
  ref                text NOT NULL UNIQUE,
  kind               text NOT NULL CHECK (kind IN ('publish', 'rollback', 'folder')),
  -- publish: the draft to make current; rollback: the version whose content is republished
  draft_version      integer REFERENCES catalogue_versions(number),
  target_version     integer REFERENCES catalogue_versions(number),
  -- the current version the change was assessed (diffed, dry-run, approved) against
  base_version       integer REFERENCES catalogue_versions(number),
  author             text NOT NULL CHECK (length(btrim(author)) > 0),
  reason             text NOT NULL CHECK (length(btrim(reason)) > 0),
  emergency          boolean NOT NULL DEFAULT false,
  -- publish at this time (an Agenda job), not as soon as it is approved
  scheduled_at       timestamptz,
  status             text NOT NULL CHECK (status IN ('dry-run-failed', 'pending-approval', 'approved', 'published', 'denied', 'failed', 'cancelled')),
  diff               jsonb NOT NULL,
  diff_text          text NOT NULL,
  impact             jsonb NOT NULL,
  dry_run            jsonb NOT NULL,
  auto_approved      text,
  created_at         timestamptz NOT NULL,
  approved_at        timestamptz,
  -- the version that became current (for a rollback: the new number); inserted in the same
  -- transaction after the change row, hence deferred
  published_version  integer REFERENCES catalogue_versions(number) DEFERRABLE INITIALLY DEFERRED,
  published_at       timestamptz,
  published_by       text,
  closed_at          timestamptz,
  closed_by          text,
  closed_reason      text,
  CHECK ((kind = 'publish') = (draft_version IS NOT NULL)),
  CHECK ((kind = 'rollback') = (target_version IS NOT NULL))
);
-- one open change per draft
CREATE UNIQUE INDEX change_requests_open_draft ON change_requests (draft_version) WHERE status IN ('pending-approval', 'approved');
CREATE INDEX change_requests_status_idx ON change_requests (status, scheduled_at);

-- One row per required approval step; approvers resolved when the change is created (the author
-- never among them). A decision is one conditional UPDATE: only the first click wins.
CREATE TABLE change_approvals (
  id           uuid PRIMARY KEY,
  change_id    uuid NOT NULL REFERENCES change_requests(id),
  step_index   integer NOT NULL,
  step_id      text NOT NULL,
  label        text NOT NULL,
  why          text NOT NULL,
  approvers    text[] NOT NULL,
  fallback     text,
  status       text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
  decided_by   text,
  decided_at   timestamptz,
  reason       text,
  created_at   timestamptz NOT NULL,
  UNIQUE (change_id, step_id)
);
CREATE INDEX change_approvals_pending_idx ON change_approvals (status) WHERE status = 'pending';

-- Freeze windows: no publish or rollback inside [starts_at, ends_at) unless the change is an
-- emergency change approved by an admin. Removing one keeps the row (removed_*), for the audit.
CREATE TABLE change_freezes (
  id              bigserial PRIMARY KEY,
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  removed_at      timestamptz,
  removed_by      text,
  removed_reason  text,
  CHECK (ends_at > starts_at)
);
CREATE INDEX change_freezes_window_idx ON change_freezes (starts_at, ends_at) WHERE removed_at IS NULL;

-- Change control is enforced on a database from the moment errand's service starts on it (it
-- inserts this row at start-up); from then on every publish and rollback on this database — the
-- service, `errand catalogue publish|rollback`, another instance — needs an approved change
-- request. A bare database that no service has started on (a store test) is not armed.
CREATE TABLE change_control (
  id              integer PRIMARY KEY CHECK (id = 1),
  enforced_since  timestamptz NOT NULL DEFAULT now(),
  enforced_by     text NOT NULL
);
