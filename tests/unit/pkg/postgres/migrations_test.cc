#include "pkg/postgres/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pkg/testing/status_matchers.h"

namespace coffer::postgres {
namespace testdata {
std::vector<Migration> EmbeddedTestMigrations();
}  // namespace testdata
namespace {

using ::coffer::testing::IsOk;
using ::coffer::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int> Versions(const std::vector<Migration>& migrations) {
  std::vector<int> out;
  for (const auto& m : migrations) out.push_back(m.version);
  return out;
}

TEST(ParseMigrationFileNameTest, ParsesVersionAndName) {
  COFFER_ASSERT_OK_AND_ASSIGN(Migration m, ParseMigrationFileName("V003__add_index.sql"));
  EXPECT_EQ(m.version, 3);
  EXPECT_EQ(m.name, "add_index");
  EXPECT_EQ(m.Label(), "V003__add_index");
  COFFER_ASSERT_OK_AND_ASSIGN(Migration big, ParseMigrationFileName("V1234__Big_One.sql"));
  EXPECT_EQ(big.version, 1234);
  EXPECT_EQ(big.name, "Big_One");
}

TEST(ParseMigrationFileNameTest, RejectsMalformedNames) {
  for (const char* bad : {"V1_init.sql", "v1__init.sql", "V__init.sql", "V1__.sql", "V1__init.SQL",
                          "V1__init.sql.bak", "V1__in-it.sql", "V0__zero.sql", "V000__zero.sql",
                          "dir/V1__init.sql", "V9999999999__huge.sql", "1__init.sql"}) {
    EXPECT_THAT(ParseMigrationFileName(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(SortAndValidateMigrationsTest, SortsNumericallyNotLexically) {
  std::vector<Migration> ms = {{10, "c", ""}, {2, "b", ""}, {1, "a", ""}};
  ASSERT_THAT(SortAndValidateMigrations(ms), IsOk());
  EXPECT_THAT(Versions(ms), ElementsAre(1, 2, 10));
}

TEST(SortAndValidateMigrationsTest, RejectsDuplicatesAndBadEntries) {
  std::vector<Migration> dup = {{1, "a", ""}, {2, "b", ""}, {1, "again", ""}};
  EXPECT_THAT(SortAndValidateMigrations(dup),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate")));
  std::vector<Migration> zero = {{0, "a", ""}};
  EXPECT_THAT(SortAndValidateMigrations(zero), StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<Migration> unnamed = {{1, "", ""}};
  EXPECT_THAT(SortAndValidateMigrations(unnamed), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MigrationChecksumTest, IsSha256Hex) {
  EXPECT_EQ(MigrationChecksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(MigrationChecksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(MigrationChecksum("SELECT 1;"), MigrationChecksum("SELECT 1; "));
}

TEST(LoadMigrationsFromDirectoryTest, ReadsSqlFilesInVersionOrder) {
  COFFER_ASSERT_OK_AND_ASSIGN(auto ms, LoadMigrationsFromDirectory(COFFER_TEST_MIGRATIONS_DIR));
  EXPECT_THAT(Versions(ms), ElementsAre(1, 2, 10));  // README.txt ignored
  EXPECT_EQ(ms[0].name, "create_items");
  EXPECT_EQ(ms[0].sql, "CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL);\n");
  EXPECT_EQ(ms[2].name, "seed");
}

TEST(LoadMigrationsFromDirectoryTest, RejectsMisnamedSqlFileAndMissingDir) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("coffer_migrations_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "V1__ok.sql") << "SELECT 1;";
  std::ofstream(dir / "V2_typo.sql") << "SELECT 2;";
  EXPECT_THAT(LoadMigrationsFromDirectory(dir.string()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("V2_typo.sql")));
  std::filesystem::remove_all(dir);
  EXPECT_THAT(LoadMigrationsFromDirectory(dir.string()), StatusIs(absl::StatusCode::kNotFound));
}

TEST(EmbeddedMigrationsTest, MatchTheFilesByteForByte) {
  std::vector<Migration> embedded = testdata::EmbeddedTestMigrations();
  ASSERT_THAT(SortAndValidateMigrations(embedded), IsOk());
  COFFER_ASSERT_OK_AND_ASSIGN(auto from_dir,
                              LoadMigrationsFromDirectory(COFFER_TEST_MIGRATIONS_DIR));
  ASSERT_EQ(embedded.size(), from_dir.size());
  for (size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(embedded[i].version, from_dir[i].version);
    EXPECT_EQ(embedded[i].name, from_dir[i].name);
    EXPECT_EQ(embedded[i].sql, from_dir[i].sql) << embedded[i].Label();
  }
  // The tricky file survives CMake: quotes, backslash, "${...}" and semicolons.
  EXPECT_THAT(embedded[1].sql, HasSubstr("\"quotes\", a backslash \\ and a ${cmake_like}"));
  EXPECT_THAT(embedded[2].sql, HasSubstr("'first; second'"));
}

}  // namespace
}  // namespace coffer::postgres
