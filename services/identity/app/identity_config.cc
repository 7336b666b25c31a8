#include "services/identity/app/identity_config.h"

#include <fstream>
#include <sstream>

namespace coffer::identity {

void DeclareIdentityOptions(config::ConfigParser& p, IdentityConfig* c) {
  using config::InRange;
  p.Add("grpc-addr", &c->grpc_addr, "gRPC listen address (host:port; port 0 = any free port)");
  p.Add("admin-addr", &c->admin_addr, "Admin HTTP listen address for /metrics /healthz /readyz");
  p.Add("rest-addr", &c->rest_addr,
        "REST/JSON gateway host:port for the gRPC API (routes in swagger/); empty = off");
  p.Add("http-addr", &c->http_addr,
        "Public HTTP listen address for /.well-known/jwks.json, "
        "/.well-known/openid-configuration and POST /oauth2/introspect");
  p.Add("public-base-url", &c->public_base_url,
        "Base URL of the public HTTP endpoints in the discovery document (default: from the "
        "request's Host header)");
  p.Add("tls-cert-file", &c->tls_cert_file, "PEM certificate for gRPC TLS");
  p.Add("tls-key-file", &c->tls_key_file, "PEM private key for gRPC TLS").Secret();
  p.Add("tls-client-ca-file", &c->tls_client_ca_file,
        "PEM CA bundle; when set, gRPC clients must present a certificate it signed (mTLS)");
  p.Add("shutdown-grace", &c->shutdown_grace,
        "How long shutdown lets in-flight calls finish before cancelling them");
  p.Add("db-dsn", &c->db_dsn, "PostgreSQL connection string (libpq DSN or URI)")
      .Required()
      .Secret();
  p.Add("db-pool-size", &c->db_pool_size, "Maximum PostgreSQL connections of this replica")
      .Validate(InRange(1, 1000));
  p.Add("migrate", &c->migrate,
        "Schema migrations: auto = apply pending ones at start (replicas may start together), "
        "off = apply none and refuse to start while the schema is behind this binary (a "
        "separate step migrates, e.g. the chart's Job), only = apply them, print a one-line "
        "summary and exit")
      .Validate(config::OneOf({"auto", "off", "only"}));
  p.Add("migrate-only", &c->migrate_only,
        "Short for --migrate=only: connect, apply the migrations, print \"applied N, now at "
        "version V\" and exit 0 (non-zero on failure)");
  p.Add("migration-db-dsn", &c->migration_db_dsn,
        "libpq connection string used only to apply migrations, e.g. of a role that owns the "
        "schema while --db-dsn's role has only the GRANTs in helm/README.md (empty = --db-dsn)")
      .Secret();
  p.Add("kek", &c->kek,
        "Key-encryption keys sealing the signing keys: \"k1:<base64 32 bytes>,...\" "
        "(or use --kek-file)")
      .Secret();
  p.Add("kek-file", &c->kek_file, "File holding the key-encryption keys (same syntax as --kek)");
  p.Add("log-level", &c->log_level, "Log level: trace, debug, info, warn, error, off")
      .Validate(config::OneOf({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  p.Add("issuer", &c->issuer, "Token issuer (JWT iss claim)").Validate(config::NonEmpty());
  p.Add("audience", &c->audience, "Token audience (JWT aud claim)").Validate(config::NonEmpty());
  p.Add("access-token-ttl", &c->access_token_ttl, "Access token lifetime")
      .Validate(InRange<std::chrono::seconds>(std::chrono::seconds(1), std::chrono::hours(24)));
  p.Add("refresh-token-ttl", &c->refresh_token_ttl, "Refresh token lifetime (each rotation)")
      .Validate(
          InRange<std::chrono::seconds>(std::chrono::seconds(1), std::chrono::hours(24 * 365)));
  p.Add("clock-leeway", &c->clock_leeway,
        "Tolerance for exp/nbf when this service verifies tokens (clock skew)")
      .Validate(InRange<std::chrono::seconds>(std::chrono::seconds(0), std::chrono::minutes(5)));
  p.Add("user-scopes", &c->user_scopes, "Scopes granted to user tokens (comma separated)");
  p.Add("key-rotation-interval", &c->key_rotation_interval,
        "Age at which the signing key is replaced (0 = only on demand)");
  p.Add("key-reload-interval", &c->key_reload_interval,
        "How often a replica reloads signing keys made by other replicas")
      .Validate(InRange<std::chrono::seconds>(std::chrono::seconds(1), std::chrono::hours(1)));
  p.Add("key-prepublication", &c->key_prepublication,
        "How long a rotated signing key is published in the JWKS before it signs (0 = at once); "
        "keep it above --key-reload-interval plus the maintenance period (up to 10s), so every "
        "replica serves the key before its first token")
      .Validate(InRange<std::chrono::seconds>(std::chrono::seconds(0), std::chrono::hours(24)));
  p.Add("password-min-length", &c->password_min_length, "Minimum password length (characters)")
      .Validate(InRange(1, 1024));
  p.Add("password-max-bytes", &c->password_max_bytes, "Maximum password length (bytes)")
      .Validate(InRange(1, 1024));
  p.Add("argon2-ops-limit", &c->argon2_ops_limit, "Argon2id passes (libsodium opslimit)")
      .Validate(InRange<std::uint64_t>(1, 100));
  p.Add("argon2-memory-kib", &c->argon2_memory_kib, "Argon2id memory in KiB (libsodium memlimit)")
      .Validate(InRange<std::uint64_t>(8, 4 * 1024 * 1024));
  p.Add("max-concurrent-password-hashes", &c->max_concurrent_password_hashes,
        "Argon2id hashes/verifications run at once (each takes --argon2-memory-kib); more "
        "logins wait for a slot")
      .Validate(InRange(1, 1024));
  p.Add("password-hash-queue-timeout", &c->password_hash_queue_timeout,
        "How long a login or registration waits for an Argon2id slot before RESOURCE_EXHAUSTED "
        "(0 = no wait)")
      .Validate(InRange<std::chrono::milliseconds>(std::chrono::milliseconds(0),
                                                   std::chrono::seconds(60)));
  p.Add("login-limit-per-login", &c->login_limit_per_login,
        "Login attempts per login name per rate-limit period (0 = unlimited)")
      .Validate(InRange(0, 1000000));
  p.Add("login-limit-per-address", &c->login_limit_per_address,
        "Login attempts per client address per rate-limit period (0 = unlimited)")
      .Validate(InRange(0, 1000000));
  p.Add("register-limit-per-login", &c->register_limit_per_login,
        "Registration attempts per login name per rate-limit period (0 = unlimited)")
      .Validate(InRange(0, 1000000));
  p.Add("register-limit-per-address", &c->register_limit_per_address,
        "Registration attempts per client address per rate-limit period (0 = unlimited)")
      .Validate(InRange(0, 1000000));
  p.Add("lookup-limit-per-subject", &c->lookup_limit_per_subject,
        "LookupUser calls per caller (token subject) per rate-limit period (0 = unlimited)")
      .Validate(InRange(0, 1000000));
  p.Add("rate-limit-period", &c->rate_limit_period,
        "Time in which an exhausted rate-limit bucket refills")
      .Validate(InRange<std::chrono::seconds>(std::chrono::seconds(1), std::chrono::hours(24)));
  p.Add("trusted-forwarders", &c->trusted_forwarders,
        "Peer IPs (front ends, proxies) whose LoginRequest.client_address is trusted; the REST "
        "gateway also believes X-Forwarded-For only from these HTTP peers");
  p.Add("bootstrap-admin-client-id", &c->bootstrap_admin_client_id,
        "Client id of an admin service account created at start if absent");
  p.Add("bootstrap-admin-client-secret", &c->bootstrap_admin_client_secret,
        "Its secret (at least 16 random characters)")
      .Secret();
}

IdentityServiceConfig ToServiceConfig(const IdentityConfig& c) {
  IdentityServiceConfig s;
  s.issuer = c.issuer;
  s.audience = c.audience;
  s.access_token_ttl = c.access_token_ttl;
  s.refresh_token_ttl = c.refresh_token_ttl;
  s.clock_leeway = c.clock_leeway;
  s.user_scopes = c.user_scopes;
  s.password_policy.min_length = static_cast<std::size_t>(c.password_min_length);
  s.password_policy.max_bytes = static_cast<std::size_t>(c.password_max_bytes);
  s.password_hash.ops_limit = c.argon2_ops_limit;
  s.password_hash.mem_limit = static_cast<std::size_t>(c.argon2_memory_kib) * 1024;
  s.max_concurrent_password_hashes = c.max_concurrent_password_hashes;
  s.password_hash_queue_timeout = c.password_hash_queue_timeout;
  s.login_per_login = {c.login_limit_per_login, c.rate_limit_period};
  s.login_per_address = {c.login_limit_per_address, c.rate_limit_period};
  s.register_per_login = {c.register_limit_per_login, c.rate_limit_period};
  s.register_per_address = {c.register_limit_per_address, c.rate_limit_period};
  s.lookup_per_subject = {c.lookup_limit_per_subject, c.rate_limit_period};
  s.trusted_forwarders = c.trusted_forwarders;
  s.bootstrap_admin_client_id = c.bootstrap_admin_client_id;
  s.bootstrap_admin_client_secret = c.bootstrap_admin_client_secret;
  return s;
}

absl::StatusOr<postgres::MigrateMode> IdentityMigrateMode(const IdentityConfig& c) {
  return postgres::ResolveMigrateMode(c.migrate, c.migrate_only);
}

absl::StatusOr<std::string> LoadKekSpec(const IdentityConfig& c) {
  if (!c.kek.empty() && !c.kek_file.empty()) {
    return absl::InvalidArgumentError("set only one of --kek and --kek-file");
  }
  if (!c.kek.empty()) return c.kek;
  if (c.kek_file.empty()) {
    return absl::InvalidArgumentError("a KEK is required: set --kek (COFFER_KEK) or --kek-file");
  }
  std::ifstream in(c.kek_file);
  if (!in) return absl::NotFoundError("cannot read the KEK file " + c.kek_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace coffer::identity
