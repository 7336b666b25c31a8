// Every SQL statement of the identity repositories, as named constants (one place to review
// them). Each write is ONE statement (data-modifying CTEs), i.e. one round trip (DESIGN §9).
// Timestamps are passed and returned as bigint microseconds since the epoch through the
// id_ts()/id_us() SQL functions of V001__init.sql. Schema: migrations/V001__init.sql and later.
#pragma once

namespace coffer::identity::sql {

// ---- users ----

// $1 id, $2 login, $3 password_hash, $4 scope, $5 now, $6 display_name (V002).
inline constexpr char kInsertUser[] = R"sql(
INSERT INTO users (id, login, password_hash, scope, created_at, updated_at, display_name)
VALUES ($1::uuid, $2, $3, $4, id_ts($5), id_ts($5), $6))sql";

// Both selects return the columns UserFromRow reads, in this order.
inline constexpr char kSelectUserByLogin[] = R"sql(
SELECT id::text, login, password_hash, scope, id_us(created_at), display_name
FROM users WHERE login = $1)sql";

inline constexpr char kSelectUserById[] = R"sql(
SELECT id::text, login, password_hash, scope, id_us(created_at), display_name
FROM users WHERE id = $1::uuid)sql";

// $1 id, $2 expected hash, $3 new hash, $4 now. Compare-and-set.
inline constexpr char kUpdatePasswordHash[] = R"sql(
UPDATE users SET password_hash = $3, updated_at = id_ts($4)
WHERE id = $1::uuid AND password_hash = $2
RETURNING 1)sql";

// ---- service accounts ----

// $1 client_id, $2 name, $3 space-separated scopes, $4 secret_hash, $5 now.
inline constexpr char kInsertServiceAccount[] = R"sql(
INSERT INTO service_accounts (client_id, name, scopes, secret_hash, created_at)
VALUES ($1, $2, string_to_array($3, ' '), $4, id_ts($5)))sql";

// Same parameters; a conflict on client id or name inserts nothing and returns no row.
inline constexpr char kInsertServiceAccountIfAbsent[] = R"sql(
INSERT INTO service_accounts (client_id, name, scopes, secret_hash, created_at)
VALUES ($1, $2, string_to_array($3, ' '), $4, id_ts($5))
ON CONFLICT DO NOTHING
RETURNING client_id)sql";

inline constexpr char kSelectServiceAccount[] = R"sql(
SELECT client_id, name, array_to_string(scopes, ' '), secret_hash, id_us(created_at)
FROM service_accounts WHERE client_id = $1)sql";

// $1 after_name, $2 limit.
inline constexpr char kListServiceAccounts[] = R"sql(
SELECT client_id, name, array_to_string(scopes, ' '), secret_hash, id_us(created_at)
FROM service_accounts WHERE name > $1 ORDER BY name LIMIT $2)sql";

inline constexpr char kDeleteServiceAccount[] = R"sql(
DELETE FROM service_accounts WHERE client_id = $1 RETURNING 1)sql";

// ---- sessions ----

// $1 family id, $2 subject, $3 scope, $4 now, $5 token hash, $6 token expiry.
inline constexpr char kInsertSession[] = R"sql(
WITH family AS (
  INSERT INTO refresh_families (id, subject, scope, created_at)
  VALUES ($1::uuid, $2::uuid, $3, id_ts($4))
  RETURNING id
)
INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
SELECT $5, id, id_ts($4), id_ts($6) FROM family)sql";

// The happy path of Refresh: consumes the presented token ($1) if it is unused, unexpired and
// its family active at $2, and inserts the next token ($3, expiring at $4) in the same family.
// Returns the family (id, subject, scope, created_at) or no row when the token is not valid.
inline constexpr char kRotateRefreshToken[] = R"sql(
WITH claimed AS (
  UPDATE refresh_tokens t SET used_at = id_ts($2)
  FROM refresh_families f
  WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > id_ts($2)
    AND f.id = t.family_id AND f.revoked_at IS NULL
  RETURNING f.id, f.subject, f.scope, f.created_at
), inserted AS (
  INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
  SELECT $3, id, id_ts($2), id_ts($4) FROM claimed
  RETURNING family_id
)
SELECT c.id::text, c.subject::text, c.scope, id_us(c.created_at)
FROM claimed c JOIN inserted i ON i.family_id = c.id)sql";

// Columns shared by the two refresh-token lookups below.
#define COFFER_IDENTITY_REFRESH_COLUMNS                                                          \
  "t.family_id::text AS family_id, id_us(t.created_at) AS created_us, "                          \
  "id_us(t.expires_at) AS expires_us, id_us(t.used_at) AS used_us, f.subject::text AS subject, " \
  "f.scope AS scope, id_us(f.created_at) AS family_created_us, id_us(f.revoked_at) AS revoked_us"

// The failure path of Refresh: returns the token's state as it was ($1 hash) and, when the
// token was already used (reuse), revokes its family at $2 in the same statement.
inline constexpr char kClassifyRefreshTokenAndRevokeOnReuse[] =
    "WITH t AS (\n"
    "  SELECT " COFFER_IDENTITY_REFRESH_COLUMNS
    "\n  FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id\n"
    "  WHERE t.token_hash = $1\n"
    "), revoked AS (\n"
    "  UPDATE refresh_families SET revoked_at = id_ts($2), revoke_reason = 'refresh_token_reuse'\n"
    "  WHERE id IN (SELECT family_id::uuid FROM t WHERE used_us IS NOT NULL)\n"
    "    AND revoked_at IS NULL\n"
    "  RETURNING id\n"
    ")\n"
    "SELECT * FROM t";

inline constexpr char kSelectRefreshToken[] =
    "SELECT " COFFER_IDENTITY_REFRESH_COLUMNS
    " FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
    " WHERE t.token_hash = $1";

#undef COFFER_IDENTITY_REFRESH_COLUMNS

// $1 access jti ('' = none), $2 its expiry, $3 family id ('' = none), $4 refresh token hash
// (empty = none), $5 reason, $6 now. Returns (access rows inserted, families revoked).
inline constexpr char kRevoke[] = R"sql(
WITH access AS (
  INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at)
  SELECT $1::text, id_ts($2), id_ts($6) WHERE $1::text <> ''
  ON CONFLICT (jti) DO NOTHING
  RETURNING 1
), family AS (
  UPDATE refresh_families SET revoked_at = id_ts($6), revoke_reason = $5
  WHERE revoked_at IS NULL
    AND (id = NULLIF($3::text, '')::uuid
         OR id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $4::bytea))
  RETURNING 1
)
SELECT (SELECT count(*) FROM access), (SELECT count(*) FROM family))sql";

// $1 jti, $2 family id ('' = none).
inline constexpr char kIsAccessTokenRevoked[] = R"sql(
SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)
    OR EXISTS (SELECT 1 FROM refresh_families
               WHERE id = NULLIF($2::text, '')::uuid AND revoked_at IS NOT NULL))sql";

// $1 cut-off. Returns (access entries deleted, refresh tokens deleted).
inline constexpr char kPurgeExpired[] = R"sql(
WITH access AS (
  DELETE FROM revoked_access_tokens WHERE expires_at < id_ts($1) RETURNING 1
), refresh AS (
  DELETE FROM refresh_tokens WHERE expires_at < id_ts($1) RETURNING 1
)
SELECT (SELECT count(*) FROM access), (SELECT count(*) FROM refresh))sql";

// ---- signing keys ----

// A NULL activates_at (rows from before V003 or from older replicas) means "at creation".
inline constexpr char kListSigningKeys[] = R"sql(
SELECT kid, generation, public_key, sealed_private_key, id_us(created_at),
       id_us(COALESCE(activates_at, created_at))
FROM signing_keys ORDER BY generation)sql";

// $1 kid, $2 generation, $3 public key, $4 sealed private key, $5 now, $6 activation time.
// No row = lost the race.
inline constexpr char kInsertSigningKey[] = R"sql(
INSERT INTO signing_keys (kid, generation, public_key, sealed_private_key, created_at,
                          activates_at)
VALUES ($1, $2, $3, $4, id_ts($5), id_ts($6))
ON CONFLICT DO NOTHING
RETURNING kid)sql";

// $1 cut-off: deletes keys whose successor (any newer generation) activated before it.
inline constexpr char kDeleteSupersededSigningKeys[] = R"sql(
DELETE FROM signing_keys k
WHERE EXISTS (SELECT 1 FROM signing_keys n
              WHERE n.generation > k.generation
                AND COALESCE(n.activates_at, n.created_at) < id_ts($1)))sql";

}  // namespace coffer::identity::sql
