-- Identity service schema, version 1. Applied by coffer-identity at start-up (advisory-locked).
-- Every timestamp is written by the service from its clock (never now()), so tests can inject
-- time and replicas agree on one notion of "now" per request.

-- Timestamps cross the wire as integer microseconds since the Unix epoch: exact both ways and
-- independent of libpqxx's (absent) chrono support. Simple SQL functions are inlined by the planner.
CREATE FUNCTION id_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT timestamptz 'epoch' + us * interval '1 microsecond' $$;
CREATE FUNCTION id_us(ts timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM ts) * 1000000)::bigint $$;

-- Human accounts. `login` is stored normalized (lowercase), so the unique constraint enforces
-- case-insensitive uniqueness; concurrent registrations of one login race on it.
CREATE TABLE users (
  id            uuid        PRIMARY KEY,
  login         text        NOT NULL,
  password_hash text        NOT NULL,  -- Argon2id encoded string, parameters included
  scope         text        NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  CONSTRAINT users_login_key UNIQUE (login),
  CONSTRAINT users_login_format CHECK (login ~ '^[a-z0-9._@-]{3,64}$')
);

-- Machine clients (client-credentials grant). Only the SHA-256 of the secret is stored.
CREATE TABLE service_accounts (
  client_id   text        PRIMARY KEY,
  name        text        NOT NULL,
  scopes      text[]      NOT NULL,
  secret_hash bytea       NOT NULL,
  created_at  timestamptz NOT NULL,
  CONSTRAINT service_accounts_name_key UNIQUE (name)
);

-- Login sessions: one family per Login, extended by each Refresh.
CREATE TABLE refresh_families (
  id            uuid        PRIMARY KEY,
  subject       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scope         text        NOT NULL,
  created_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoke_reason text
);
CREATE INDEX refresh_families_subject_idx ON refresh_families (subject);

-- Refresh tokens, by SHA-256 of the token. used_at set = consumed; presenting it again is reuse.
CREATE TABLE refresh_tokens (
  token_hash bytea       PRIMARY KEY,
  family_id  uuid        NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Access tokens revoked before their expiry, kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
  jti        text        PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_idx ON revoked_access_tokens (expires_at);

-- Ed25519 signing keys. The private key is sealed under the KEK (its envelope names the KEK id).
-- `generation` is unique: replicas rotating at the same moment race on it and one wins.
CREATE TABLE signing_keys (
  kid                text        PRIMARY KEY,
  generation         bigint      NOT NULL,
  public_key         bytea       NOT NULL,
  sealed_private_key bytea       NOT NULL,
  created_at         timestamptz NOT NULL,
  CONSTRAINT signing_keys_generation_key UNIQUE (generation)
);
