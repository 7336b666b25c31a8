// The vault's schema migrations (services/vault/migrations/*.sql), embedded into the binary at
// build time by coffer_embed_migrations (services/vault/CMakeLists.txt).
#pragma once

#include <vector>

#include "pkg/postgres/migrations.h"

namespace coffer::vault::app {

std::vector<postgres::Migration> VaultMigrations();

}  // namespace coffer::vault::app
