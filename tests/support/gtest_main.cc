// The main() of every coffer test binary: GoogleTest's, plus one rule. A run that selected no
// test at all fails instead of passing. CTest runs each discovered case as
// `binary --gtest_filter=<name>`; when the binary no longer has that case (a parameterised suite
// whose values come from the environment, a renamed test and a stale discovery), GoogleTest
// would run nothing and exit 0, and CTest would count a test that never ran as passed.
#include <gtest/gtest.h>

#include <iostream>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  if (::testing::GTEST_FLAG(list_tests)) return rc;
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::cerr << "no test matched the selection (--gtest_filter=" << ::testing::GTEST_FLAG(filter)
              << "): failing rather than passing an empty run\n";
    return 1;
  }
  return rc;
}
