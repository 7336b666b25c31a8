// The vault's limit flags (services/vault/README.md "Limits"): parsed from flags, and checked
// together so the stream caps always leave gRPC threads for other calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/testing/status_matchers.h"
#include "services/vault/app/vault_config.h"

namespace coffer::vault::app {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

VaultConfig Valid() {
  VaultConfig c;
  c.kek = "k1:x";
  c.identity_addr = "127.0.0.1:1";
  return c;
}

TEST(VaultConfigLimitsTest, LimitFlagsAreParsed) {
  config::ConfigParser parser("coffer-vault", "test");
  VaultConfig c;
  RegisterVaultConfig(parser, &c);
  const char* argv[] = {"coffer-vault",
                        "--db-dsn=host=h",
                        "--shard-id=a",
                        "--max-watch-streams-per-user=3",
                        "--max-uploads-per-user=2",
                        "--max-upload-buffer-bytes-per-user=1048576",
                        "--file-stream-idle-timeout-ms=5000",
                        "--grpc-max-threads=256",
                        "--grpc-keepalive-time-ms=0",
                        "--db-statement-timeout-ms=1500",
                        "--db-idle-in-transaction-timeout-ms=0"};
  ASSERT_THAT(parser.Parse(static_cast<int>(std::size(argv)), argv), IsOk());
  EXPECT_EQ(c.max_watch_streams_per_user, 3);
  EXPECT_EQ(c.max_uploads_per_user, 2);
  EXPECT_EQ(c.max_upload_buffer_bytes_per_user, 1048576);
  EXPECT_EQ(c.file_stream_idle_timeout_ms, 5000);
  EXPECT_EQ(c.grpc_max_threads, 256);
  EXPECT_EQ(c.grpc_keepalive_time_ms, 0);
  EXPECT_EQ(c.db_statement_timeout_ms, 1500);
  EXPECT_EQ(c.db_idle_in_transaction_timeout_ms, 0);
  // Defaults of what was not given.
  EXPECT_EQ(c.max_watch_streams, 10000);
  EXPECT_EQ(c.watch_threads, 4);
  EXPECT_EQ(c.grpc_max_connection_age_ms, 0);
}

TEST(VaultConfigLimitsTest, DefaultsPassTheCrossChecks) {
  EXPECT_THAT(ValidateVaultConfig(Valid()), IsOk());
}

TEST(VaultConfigLimitsTest, FileStreamCapsMustLeaveThreadsForOtherCalls) {
  VaultConfig c = Valid();
  c.grpc_max_threads = 150;  // 64 + 64 file streams + 64 others = 192 > 150
  EXPECT_THAT(ValidateVaultConfig(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("--max-uploads + --max-downloads (128)")));
  c.max_uploads = 20;  // 84 + 64 <= 150
  EXPECT_THAT(ValidateVaultConfig(c), IsOk());
  // Watch streams hold no thread (callback API): any number fits.
  c.max_watch_streams = 100000;
  EXPECT_THAT(ValidateVaultConfig(c), IsOk());
  c.grpc_max_threads = 0;  // unbounded: nothing to leave
  c.max_uploads = 10000;
  EXPECT_THAT(ValidateVaultConfig(c), IsOk());
}

TEST(VaultConfigLimitsTest, IdentityClientCertificateNeedsItsKey) {
  VaultConfig c = Valid();
  c.identity_cert_file = "/etc/coffer/identity-client.crt";
  EXPECT_THAT(ValidateVaultConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--identity-cert-file and --identity-key-file")));
  c.identity_key_file = "/etc/coffer/identity-client.key";
  EXPECT_THAT(ValidateVaultConfig(c), IsOk());
}

}  // namespace
}  // namespace coffer::vault::app
