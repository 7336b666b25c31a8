#include "pkg/failpoint/failpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace coffer::failpoint {
namespace {

// COFFER_FAILPOINT_DIR is read once per process, so each test sets it before the first Fire().
class FailpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/coffer-failpoint-XXXXXX";
    dir_ = new std::string(::mkdtemp(tmpl));
    ::setenv("COFFER_FAILPOINT_DIR", dir_->c_str(), 1);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static inline std::string* dir_ = nullptr;
};

TEST_F(FailpointTest, UnarmedDoesNotFire) { EXPECT_FALSE(Fire("never-armed")); }

TEST_F(FailpointTest, FiresOncePerArming) {
  ASSERT_TRUE(Arm(*dir_, "once"));
  EXPECT_TRUE(Fire("once"));
  EXPECT_FALSE(Fire("once"));
  ASSERT_TRUE(Arm(*dir_, "once"));
  EXPECT_TRUE(Fire("once"));
}

TEST_F(FailpointTest, ArmingOneLeavesOthersQuiet) {
  ASSERT_TRUE(Arm(*dir_, "a"));
  EXPECT_FALSE(Fire("b"));
  EXPECT_TRUE(Fire("a"));
}

TEST_F(FailpointTest, CrashIfFiredKillsTheProcessWithSigkill) {
  CrashIfFired("crash");  // not armed: returns
  ASSERT_TRUE(Arm(*dir_, "crash"));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CrashIfFired("crash");
    _exit(0);  // only reached when the failpoint did not fire
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(Fire("crash")) << "the child consumed the arming";
}

}  // namespace
}  // namespace coffer::failpoint
