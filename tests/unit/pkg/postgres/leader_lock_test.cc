#include "pkg/postgres/leader_lock.h"

#include <gtest/gtest.h>

namespace coffer::postgres {
namespace {

TEST(AdvisoryLockKeyTest, IsStableFnv1a) {
  // FNV-1a 64 test vectors: the key must never change between releases, or two versions of a
  // service would both think they lead.
  EXPECT_EQ(static_cast<uint64_t>(AdvisoryLockKey("")), 0xcbf29ce484222325ULL);
  EXPECT_EQ(static_cast<uint64_t>(AdvisoryLockKey("a")), 0xaf63dc4c8601ec8cULL);
  EXPECT_NE(AdvisoryLockKey("coffer.vault.outbox_relay"), AdvisoryLockKey("coffer.vault.consumer"));
}

}  // namespace
}  // namespace coffer::postgres
