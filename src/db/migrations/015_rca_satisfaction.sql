-- Root-cause analysis of fulfilment failures, and requesters' satisfaction ratings.
--
-- fulfilment_failures: one row per fulfilment failure: a step that failed for good, a step handed
-- to a person because automation could not run (outcome 'manual'), or a request refused at
-- fulfilment (no step). The category is set automatically from the error class
-- (src/reporting/rca.ts) with the reason why; a fulfiller may change it (category_source becomes
-- 'fulfiller', auto_category keeps the original, the change is audited). `signature` is the error
-- message with numbers, ids, uuids, e-mails and quoted values replaced, for grouping recurring errors.
CREATE TABLE fulfilment_failures (
  id               bigserial PRIMARY KEY,
  request_id       uuid NOT NULL REFERENCES requests(id),
  item_id          text NOT NULL,
  step_id          text,
  action           text,
  outcome          text NOT NULL CHECK (outcome IN ('failed', 'manual', 'refused')),
  attempt          integer,
  error            text NOT NULL,
  error_class      text NOT NULL,
  status_code      integer,
  signature        text NOT NULL,
  category         text NOT NULL CHECK (category IN ('process', 'system', 'user')),
  category_reason  text NOT NULL,
  category_source  text NOT NULL DEFAULT 'auto' CHECK (category_source IN ('auto', 'fulfiller')),
  auto_category    text NOT NULL CHECK (auto_category IN ('process', 'system', 'user')),
  categorised_by   text,
  categorised_at   timestamptz,
  occurred_at      timestamptz NOT NULL DEFAULT now()
);
-- A step fails for good (or a request is refused) at most once; manual hand-overs can repeat.
CREATE UNIQUE INDEX fulfilment_failures_once_idx ON fulfilment_failures (request_id, (COALESCE(step_id, ''))) WHERE outcome <> 'manual';
CREATE INDEX fulfilment_failures_time_idx ON fulfilment_failures (occurred_at);
CREATE INDEX fulfilment_failures_item_idx ON fulfilment_failures (item_id, occurred_at);

-- Satisfaction: a row is created when the requester is asked (request fulfilled); the rating is
-- set once, by the requester, with a conditional UPDATE (... WHERE rating IS NULL).
CREATE TABLE satisfaction_ratings (
  request_id       uuid PRIMARY KEY REFERENCES requests(id),
  requester_email  text NOT NULL,
  item_id          text NOT NULL,
  prompted_at      timestamptz NOT NULL DEFAULT now(),
  rating           smallint CHECK (rating BETWEEN 1 AND 5),
  rated_at         timestamptz,
  channel          text,
  CHECK ((rating IS NULL) = (rated_at IS NULL))
);
CREATE INDEX satisfaction_ratings_item_idx ON satisfaction_ratings (item_id, rated_at);
