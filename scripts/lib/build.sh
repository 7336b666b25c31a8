# coffer_build: README command 2's set-up and build, shared by scripts/test and
# scripts/test-under-load (sourced, not executed). Installs what is missing (scripts/deps,
# scripts/tools), configures $BUILD_DIR (default build) with Ninja and builds everything,
# including the clang fuzz build in $BUILD_DIR/fuzz (tests/fuzz/README.md).
# Environment: BUILD_DIR, COFFER_SANITIZE=ON, COFFER_COVERAGE=ON, COFFER_FUZZ_TESTS=OFF, JOBS.
# Every option is passed explicitly, so a value left in the CMake cache by another configure
# (e.g. -DCOFFER_FUZZ_TESTS=OFF by hand) never silently drops tests from this run.
coffer_build() {
  local root=$1
  "$root/scripts/deps"
  "$root/scripts/tools"
  BUILD_DIR=${BUILD_DIR:-build}
  JOBS=${JOBS:-$(nproc)}
  cmake -S "$root" -B "$BUILD_DIR" -G Ninja \
    -DCOFFER_SANITIZE="${COFFER_SANITIZE:-OFF}" -DCOFFER_COVERAGE="${COFFER_COVERAGE:-OFF}" \
    -DCOFFER_FUZZ_TESTS="${COFFER_FUZZ_TESTS:-ON}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}
