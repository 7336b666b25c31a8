// Configuration of coffer-identity: every flag / COFFER_* environment variable, declared once
// (the README's table is generated from it with `coffer-identity --print-config-reference`).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/config/config.h"
#include "pkg/postgres/migrations.h"
#include "services/identity/service/identity_service.h"

namespace coffer::identity {

struct IdentityConfig {
  // Listeners.
  std::string grpc_addr = "127.0.0.1:0";
  std::string admin_addr = "127.0.0.1:0";
  std::string http_addr = "127.0.0.1:0";
  // REST/JSON face of the gRPC API (pkg/restgw); empty = off.
  std::string rest_addr;
  std::string public_base_url;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  std::chrono::seconds shutdown_grace{10};

  // Storage and keys.
  std::string db_dsn;
  int db_pool_size = 8;
  // Schema migrations: auto | off | only (postgres::MigrateMode); --migrate-only is short for
  // --migrate=only. A set migration DSN is used for migrations only (a role allowed to run DDL).
  std::string migrate = "auto";
  bool migrate_only = false;
  std::string migration_db_dsn;
  std::string kek;
  std::string kek_file;

  std::string log_level = "info";

  // Tokens.
  std::string issuer = "coffer-identity";
  std::string audience = "coffer";
  std::chrono::seconds access_token_ttl{std::chrono::minutes(15)};
  std::chrono::seconds refresh_token_ttl{std::chrono::hours(24 * 30)};
  std::chrono::seconds clock_leeway{5};
  std::vector<std::string> user_scopes = {"vault"};
  std::chrono::seconds key_rotation_interval{std::chrono::hours(24 * 30)};
  std::chrono::seconds key_reload_interval{30};
  std::chrono::seconds key_prepublication{60};

  // Passwords.
  int password_min_length = 12;
  int password_max_bytes = 1024;
  std::uint64_t argon2_ops_limit = 2;
  std::uint64_t argon2_memory_kib = 64 * 1024;
  // Argon2id concurrency bound: memory for hashing = slots × argon2_memory_kib.
  int max_concurrent_password_hashes = 4;
  std::chrono::milliseconds password_hash_queue_timeout{2000};

  // Rate limits: attempts per period, per key (0 disables).
  int login_limit_per_login = 10;
  int login_limit_per_address = 30;
  int register_limit_per_login = 5;
  int register_limit_per_address = 10;
  int lookup_limit_per_subject = 60;
  std::chrono::seconds rate_limit_period{60};
  std::vector<std::string> trusted_forwarders;

  // Bootstrap admin service account.
  std::string bootstrap_admin_client_id;
  std::string bootstrap_admin_client_secret;
};

// Declares every option of `config` on `parser` (defaults are the struct's current values).
void DeclareIdentityOptions(config::ConfigParser& parser, IdentityConfig* config);

// The use-case configuration derived from the process configuration.
IdentityServiceConfig ToServiceConfig(const IdentityConfig& config);

// The KEK spec from --kek or --kek-file (exactly one must be set). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> LoadKekSpec(const IdentityConfig& config);

// The --migrate / --migrate-only choice (postgres::ResolveMigrateMode).
absl::StatusOr<postgres::MigrateMode> IdentityMigrateMode(const IdentityConfig& config);

}  // namespace coffer::identity
