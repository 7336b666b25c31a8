// Prints the vault's SQL constants (services/vault/repository/sql.h) for gen.py, so the pgbench
// scripts run byte-for-byte the statements the vault runs. Built on the fly by gen.py.
#include <cstdio>

#include "services/vault/repository/sql.h"

int main() {
  std::printf("%s\n%s\n", coffer::vault::repository::sql::kSelectRecord,
              coffer::vault::repository::sql::kReplaceHead);
  return 0;
}
