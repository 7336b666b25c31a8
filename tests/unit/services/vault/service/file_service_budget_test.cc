// FileService's upload buffer budget (security audit M6): one user's uploads in progress hold at
// most their share of the replica's budget, so they cannot starve other users' uploads; content
// is released however an upload ends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>

#include "pkg/crypto/encoding.h"
#include "pkg/crypto/hash.h"
#include "pkg/status/status.h"
#include "pkg/testing/status_matchers.h"
#include "services/vault/repository/in_memory_repositories.h"
#include "services/vault/service/file_service.h"
#include "services/vault/service/retry_after.h"

namespace coffer::vault::service {
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * 1024;

// Blobs in memory (this test is about buffering; storage is the PG repository's business).
class FakeBlobs final : public repository::BlobRepository {
 public:
  absl::StatusOr<bool> Insert(const repository::StoredBlob& blob,
                              const std::vector<std::string>& chunks) override {
    if (blobs_.count(blob.blob_id) != 0) return false;
    blobs_[blob.blob_id] = blob;
    chunks_[blob.blob_id] = chunks;
    return true;
  }
  absl::StatusOr<std::optional<repository::StoredBlob>> Get(const std::string& id) override {
    auto it = blobs_.find(id);
    if (it == blobs_.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string& id, int index) override {
    auto it = chunks_.find(id);
    if (it == chunks_.end() || index >= static_cast<int>(it->second.size())) return std::nullopt;
    return it->second[index];
  }

 private:
  std::map<std::string, repository::StoredBlob> blobs_;
  std::map<std::string, std::vector<std::string>> chunks_;
};

class FileServiceBudgetTest : public ::testing::Test {
 protected:
  FileServiceBudgetTest()
      : keyring_(*crypto::Keyring::Parse("k1:" + crypto::Base64Encode(std::string(32, 'k')))),
        cipher_(keyring_),
        access_(spaces_, [] { return int64_t{1'700'000'000'000}; }),
        hlc_([] { return uint64_t{1'700'000'000'000}; }),
        index_({}, records_, cipher_),
        records_service_(
            RecordServiceConfig{"shard-a", 3, 100}, records_, access_, cipher_, hlc_,
            [] { return int64_t{1'700'000'000'000}; }, [] { return std::string(); }, nullptr,
            index_) {}

  std::unique_ptr<FileService> Service(FileServiceConfig config) {
    return std::make_unique<FileService>(
        config, blobs_, access_, records_service_, keyring_,
        [] { return int64_t{1'700'000'000'000}; }, &registry_);
  }

  static UploadMetadata Meta(int64_t size, const std::string& content = "") {
    UploadMetadata m;
    m.file_name = "f.bin";
    m.size_bytes = size;
    m.sha256_hex =
        content.empty() ? std::string(64, 'a') : crypto::HexEncode(crypto::Sha256(content));
    return m;
  }

  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  crypto::Keyring keyring_;
  RecordCipher cipher_;
  repository::InMemoryRecordRepository records_;
  repository::InMemorySpaceRepository spaces_;
  SpaceAccess access_;
  domain::Hlc hlc_;
  RecordIndex index_;
  RecordService records_service_;
  FakeBlobs blobs_;
  prometheus::Registry registry_;
  const Caller alice_{"alice", {}};
  const Caller bob_{"bob", {}};
  const std::string chunk_ = std::string(256 * kKiB, 'x');
};

// Found by tests/fuzz/upload_metadata (corpus regress-file-name-not-utf8): a file name or content
// type that is not UTF-8 passed the metadata check, and the upload then failed late: the sealed
// description's JSON (nlohmann) throws on it, and the FileRef attached to a record fails record
// validation. Through gRPC protobuf refuses such strings first; the service checks them itself.
TEST(UploadMetadataTest, FileNameAndContentTypeMustBeUtf8) {
  UploadMetadata m;
  m.file_name = std::string(3, '\xc5');
  m.sha256_hex = std::string(64, 'a');
  EXPECT_THAT(ValidateUploadMetadata(m, kMiB),
              StatusIs(absl::StatusCode::kInvalidArgument, "metadata.file_name: not valid UTF-8"));
  m.file_name = "Brief \xc3\xa4.txt";
  m.content_type = "text/\xed\xa0\x80";
  EXPECT_THAT(ValidateUploadMetadata(m, kMiB), StatusIs(absl::StatusCode::kInvalidArgument,
                                                        "metadata.content_type: not valid UTF-8"));
  m.content_type = "";
  EXPECT_THAT(ValidateUploadMetadata(m, kMiB), IsOk());
  EXPECT_EQ(m.content_type, "application/octet-stream");
}

TEST(FileServiceConfigTest, PerUserShareDefaultsToAQuarterButFitsOneLargestFile) {
  EXPECT_EQ(EffectivePerUserBufferBytes({64 * kMiB, 256 * kMiB, 0}), 64 * kMiB);
  EXPECT_EQ(EffectivePerUserBufferBytes({16 * kMiB, 256 * kMiB, 0}), 64 * kMiB);
  EXPECT_EQ(EffectivePerUserBufferBytes({100 * kMiB, 256 * kMiB, 0}), 100 * kMiB);
  EXPECT_EQ(EffectivePerUserBufferBytes({1024 * kMiB, 256 * kMiB, 0}), 256 * kMiB);
  EXPECT_EQ(EffectivePerUserBufferBytes({64 * kMiB, 256 * kMiB, 10 * kMiB}), 10 * kMiB);
  EXPECT_EQ(EffectivePerUserBufferBytes({64 * kMiB, 256 * kMiB, 512 * kMiB}), 256 * kMiB);
}

// The audit's scenario, scaled down: four uploads of one user stall holding content. They hold
// at most the user's share (here 1 MiB of a 4 MiB budget); another user's upload goes through.
TEST_F(FileServiceBudgetTest, OneUsersStalledUploadsCannotStarveAnotherUser) {
  auto files = Service({1 * kMiB, 4 * kMiB, 0});
  std::vector<std::unique_ptr<FileService::Upload>> stalled;
  for (int i = 0; i < 4; ++i) {
    COFFER_ASSERT_OK_AND_ASSIGN(auto upload, files->BeginUpload(alice_, Meta(1 * kMiB)));
    ASSERT_THAT(upload->AddChunk(chunk_), IsOk());
    stalled.push_back(std::move(upload));
  }
  EXPECT_EQ(files->buffered_bytes("alice"), 1 * kMiB);
  // Alice's share is used up: any further chunk of hers is refused, with a retry hint.
  absl::Status more = stalled[0]->AddChunk(chunk_);
  EXPECT_THAT(more,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("(the limit per user)")));
  EXPECT_TRUE(status::RetryAfter(more).has_value());

  // Bob stores a file of the largest size meanwhile.
  const std::string content(1 * kMiB, 'b');
  COFFER_ASSERT_OK_AND_ASSIGN(auto upload, files->BeginUpload(bob_, Meta(1 * kMiB, content)));
  for (int64_t at = 0; at < 1 * kMiB; at += 256 * kKiB) {
    ASSERT_THAT(upload->AddChunk(std::string_view(content).substr(at, 256 * kKiB)), IsOk());
  }
  EXPECT_EQ(files->buffered_bytes("bob"), 1 * kMiB);
  ASSERT_THAT(upload->Finish().status(), IsOk());
  upload.reset();
  EXPECT_EQ(files->buffered_bytes("bob"), 0);

  EXPECT_THAT(Metrics(), HasSubstr("coffer_vault_upload_buffer_bytes 1048576"));
  stalled.clear();  // aborted (e.g. by the transport's idle timeout): content released
  EXPECT_EQ(files->buffered_bytes(), 0);
  EXPECT_THAT(Metrics(), HasSubstr("coffer_vault_upload_buffer_bytes 0"));
  EXPECT_THAT(Metrics(), HasSubstr("coffer_vault_upload_buffer_refused_total{limit=\"user\"} 1"));
}

TEST_F(FileServiceBudgetTest, TheReplicaBudgetStillBoundsAllUsersTogether) {
  auto files = Service({1 * kMiB, 1 * kMiB, 1 * kMiB});
  COFFER_ASSERT_OK_AND_ASSIGN(auto a, files->BeginUpload(alice_, Meta(1 * kMiB)));
  COFFER_ASSERT_OK_AND_ASSIGN(auto b, files->BeginUpload(bob_, Meta(1 * kMiB)));
  for (int i = 0; i < 3; ++i) ASSERT_THAT(a->AddChunk(chunk_), IsOk());
  ASSERT_THAT(b->AddChunk(chunk_), IsOk());
  absl::Status full = b->AddChunk(chunk_);
  EXPECT_THAT(full, StatusIs(absl::StatusCode::kResourceExhausted,
                             HasSubstr("the server holds too much upload data right now")));
  EXPECT_TRUE(status::RetryAfter(full).has_value());
  a.reset();
  EXPECT_THAT(b->AddChunk(chunk_), IsOk());
  EXPECT_EQ(files->buffered_bytes(), 512 * kKiB);
}

TEST_F(FileServiceBudgetTest, AFileLargerThanTheUsersShareIsRefusedAtTheMetadata) {
  auto files = Service({2 * kMiB, 8 * kMiB, 1 * kMiB});
  EXPECT_THAT(files->BeginUpload(alice_, Meta(1 * kMiB + 1)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("per user")));
  EXPECT_THAT(files->BeginUpload(alice_, Meta(1 * kMiB)).status(), IsOk());
}

}  // namespace
}  // namespace coffer::vault::service
