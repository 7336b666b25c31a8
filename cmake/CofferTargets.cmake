# Helpers that give every Coffer target the same flags, so a reader finds rules in one place.

set(COFFER_WARNINGS -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers)

set(COFFER_EXTRA_FLAGS "")
set(COFFER_EXTRA_LINK "")
if(COFFER_SANITIZE)
  list(APPEND COFFER_EXTRA_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer)
  list(APPEND COFFER_EXTRA_LINK -fsanitize=address,undefined)
endif()
if(COFFER_FUZZ)
  # The libFuzzer build (tests/fuzz/README.md): every Coffer library gets coverage feedback for
  # the fuzzer and ASan + UBSan; any UB report aborts the run so libFuzzer records the input.
  list(APPEND COFFER_EXTRA_FLAGS -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  list(APPEND COFFER_EXTRA_LINK -fsanitize=address,undefined)
  # clang does not know gcc's -Wshadow=local; warnings stay on but are not errors here (the gcc
  # build is the one that enforces them).
  set(COFFER_WARNINGS -Wall -Wextra -Wno-unknown-warning-option -Wno-missing-field-initializers)
endif()
if(COFFER_COVERAGE)
  list(APPEND COFFER_EXTRA_FLAGS --coverage -O0)
  list(APPEND COFFER_EXTRA_LINK --coverage)
endif()

# coffer_defaults(<target>): warnings (as errors when COFFER_WERROR), sanitizers, coverage, and
# includes by path from the repository root ("pkg/status/status.h").
function(coffer_defaults target)
  target_compile_options(${target} PRIVATE ${COFFER_WARNINGS} ${COFFER_EXTRA_FLAGS})
  if(COFFER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_link_options(${target} PRIVATE ${COFFER_EXTRA_LINK})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# coffer_library(<name> SOURCES ... DEPS ...): static library coffer_<name>, alias coffer::<name>.
function(coffer_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(coffer_${name} STATIC ${ARG_SOURCES})
  add_library(coffer::${name} ALIAS coffer_${name})
  coffer_defaults(coffer_${name})
  target_link_libraries(coffer_${name} PUBLIC ${ARG_DEPS})
endfunction()

# coffer_test(<name> SOURCES ... DEPS ... [LABEL unit|pg|e2e]): one gtest binary, its cases
# discovered when CTest runs. Its main() fails a run that selected no test (a stale discovery
# must not pass as a test that ran). Label "pg" tests need the PostgreSQL fixture started by CTest
# (tests/CMakeLists.txt); "e2e" tests need built binaries and run after them.
function(coffer_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT TARGET coffer_gtest_main)
    # GoogleTest's main that also fails a run which selected no test (tests/support/).
    add_library(coffer_gtest_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/gtest_main.cc)
    coffer_defaults(coffer_gtest_main)
    target_link_libraries(coffer_gtest_main PUBLIC GTest::gtest)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  coffer_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest coffer_gtest_main)
  set(props LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABEL STREQUAL "pg" OR ARG_LABEL STREQUAL "e2e")
    list(APPEND props FIXTURES_REQUIRED coffer_pg ENVIRONMENT
         "COFFER_TEST_PG_INFO=${CMAKE_BINARY_DIR}/testpg/info")
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES ${props})
endfunction()
