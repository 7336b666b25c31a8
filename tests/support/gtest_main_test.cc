// The selection-count rule of tests/support/gtest_main.cc from the inside: a run that reaches a
// test body selected at least that test, and the count the rule reads is GoogleTest's own.
#include <gtest/gtest.h>

TEST(GtestMain, ARunningTestIsCountedAsSelected) {
  const auto* unit = ::testing::UnitTest::GetInstance();
  EXPECT_GE(unit->test_to_run_count(), 1);
  EXPECT_EQ(unit->current_test_info()->name(), std::string("ARunningTestIsCountedAsSelected"));
}
