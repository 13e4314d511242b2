-- Sign-in to the admin dashboard (src/http/admin/auth.ts).
--
-- admin_accounts: local accounts (`errand admin add-user`), one per directory person, with a scrypt
-- password hash (`scrypt$N$r$p$<salt>$<hash>`, base64url). Roles stay in the directory: an account
-- only proves who someone is; what they may see is decided per request (src/reporting/access.ts).
CREATE TABLE admin_accounts (
  email          text PRIMARY KEY REFERENCES people(email),
  password_hash  text NOT NULL,
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Sessions: the cookie carries a random id; only its SHA-256 is stored. `csrf_token` is the
-- double-submit token of the session (cookie + X-CSRF-Token header on POST/PATCH).
CREATE TABLE admin_sessions (
  id_hash       text PRIMARY KEY,
  email         text NOT NULL REFERENCES people(email),
  csrf_token    text NOT NULL,
  method        text NOT NULL CHECK (method IN ('password', 'chat-link')),
  ip            text,
  user_agent    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
CREATE INDEX admin_sessions_email_idx ON admin_sessions (email);
CREATE INDEX admin_sessions_expiry_idx ON admin_sessions (expires_at);

-- Single-use sign-in links sent to the person's chat: only the token's SHA-256 is stored; the link
-- is consumed with a conditional UPDATE (... WHERE used_at IS NULL AND expires_at > now()).
CREATE TABLE admin_login_links (
  token_hash    text PRIMARY KEY,
  email         text NOT NULL REFERENCES people(email),
  requested_ip  text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz,
  used_ip       text
);
CREATE INDEX admin_login_links_email_idx ON admin_login_links (email, created_at);

-- Sign-in attempts, for throttling per (e-mail, IP): `ok` is NULL while a password is checked.
CREATE TABLE admin_login_attempts (
  id      bigserial PRIMARY KEY,
  email   text NOT NULL,
  ip      text NOT NULL,
  kind    text NOT NULL CHECK (kind IN ('password', 'link')),
  ok      boolean,
  at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_login_attempts_key_idx ON admin_login_attempts (email, ip, kind, at);
