// BlobFileRefChecker: the rule RecordService applies to a FILE record's blob reference, against
// blobs in memory: a UUID (any case) of a blob uploaded to the record's own space, with the
// blob's size when a size is given; the blob store's errors pass through.
#include "services/vault/service/file_ref_checker.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace coffer::vault::service {
namespace {

constexpr char kSpace[] = "7e0e5c1a-4a4e-4f2b-9a77-0d5a5c8a1f10";
constexpr char kOtherSpace[] = "2b1f0c9d-1111-4a2b-8c3d-4e5f60718293";
constexpr char kBlob[] = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

// Blobs in memory; Get answers `error` while it is set, and records the ids it was asked for.
class FakeBlobs final : public repository::BlobRepository {
 public:
  void Add(const std::string& id, const std::string& space_id, int64_t size) {
    repository::StoredBlob blob;
    blob.blob_id = id;
    blob.space_id = space_id;
    blob.size_bytes = size;
    blobs_[id] = blob;
  }
  std::optional<absl::Status> error;
  std::vector<std::string> asked;

  absl::StatusOr<bool> Insert(const repository::StoredBlob&,
                              const std::vector<std::string>&) override {
    return absl::UnimplementedError("not here");
  }
  absl::StatusOr<std::optional<repository::StoredBlob>> Get(const std::string& id) override {
    asked.push_back(id);
    if (error) return *error;
    auto it = blobs_.find(id);
    if (it == blobs_.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::optional<std::string>> GetChunk(const std::string&, int) override {
    return absl::UnimplementedError("not here");
  }

 private:
  std::map<std::string, repository::StoredBlob> blobs_;
};

domain::FilePayload File(const std::string& blob_id, uint64_t size = 0) {
  domain::FilePayload file;
  file.blob_id = blob_id;
  file.size = size;
  return file;
}

class BlobFileRefCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override { blobs_.Add(kBlob, kSpace, 4096); }

  FakeBlobs blobs_;
  BlobFileRefChecker checker_{blobs_};
};

TEST_F(BlobFileRefCheckerTest, ABlobOfTheRecordsSpaceWithItsSizeOrNoSizePasses) {
  EXPECT_TRUE(checker_.Check(kSpace, File(kBlob, 4096)).ok());
  EXPECT_TRUE(checker_.Check(kSpace, File(kBlob)).ok());  // size 0: not given
}

TEST_F(BlobFileRefCheckerTest, AnUpperCaseIdIsLookedUpInCanonicalForm) {
  std::string upper = kBlob;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(checker_.Check(kSpace, File(upper, 4096)).ok());
  EXPECT_EQ(blobs_.asked, (std::vector<std::string>{kBlob}));
}

TEST_F(BlobFileRefCheckerTest, AnIdThatIsNotAUuidIsRefusedWithoutAskingTheStore) {
  for (const char* bad : {"", "not-a-uuid", "0f8e7d6c5b4a43928170-6f5e4d3c2b1a",
                          "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1g"}) {
    absl::Status s = checker_.Check(kSpace, File(bad));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad << ": " << s;
    EXPECT_EQ(s.message(), "record.file.blob_id: not a UUID (a blob id from UploadFile)") << bad;
  }
  EXPECT_TRUE(blobs_.asked.empty());
}

TEST_F(BlobFileRefCheckerTest, AnUnknownBlobOrOneOfAnotherSpaceIsRefusedAlike) {
  const std::string unknown = "11111111-2222-4333-8444-555555555555";
  const absl::Status no_blob = absl::InvalidArgumentError(
      "record.file.blob_id: no uploaded file with this id in the record's space");
  EXPECT_EQ(checker_.Check(kSpace, File(unknown)), no_blob);
  // Another space's blob is not told apart from a missing one.
  EXPECT_EQ(checker_.Check(kOtherSpace, File(kBlob, 4096)), no_blob);
}

TEST_F(BlobFileRefCheckerTest, ASizeOtherThanTheBlobsIsRefused) {
  const absl::Status bad_size =
      absl::InvalidArgumentError("record.file.size_bytes: differs from the uploaded file's size");
  EXPECT_EQ(checker_.Check(kSpace, File(kBlob, 4095)), bad_size);
  EXPECT_EQ(checker_.Check(kSpace, File(kBlob, 4097)), bad_size);
}

TEST_F(BlobFileRefCheckerTest, TheBlobStoresErrorsPassThrough) {
  blobs_.error = absl::UnavailableError("database down");
  EXPECT_EQ(checker_.Check(kSpace, File(kBlob, 4096)), absl::UnavailableError("database down"));
}

}  // namespace
}  // namespace coffer::vault::service
