-- Access review campaigns over administrative roles and privileged access.
CREATE TABLE access_reviews (
  id          uuid PRIMARY KEY,
  started_at  timestamptz NOT NULL DEFAULT now(),
  started_by  text NOT NULL,
  due_at      timestamptz NOT NULL,
  status      text NOT NULL CHECK (status IN ('open', 'closed'))
);
CREATE TABLE access_review_items (
  id            uuid PRIMARY KEY,
  review_id     uuid NOT NULL REFERENCES access_reviews(id),
  person_email  text NOT NULL,
  entitlement   text NOT NULL,
  reviewer      text NOT NULL,
  decision      text CHECK (decision IN ('keep', 'revoke')),
  decided_by    text,
  decided_at    timestamptz,
  note          text,
  reminded_at   timestamptz,
  UNIQUE (review_id, person_email, entitlement)
);
