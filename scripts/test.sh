#!/usr/bin/env bash
# The test command (`make test`): checks the formatting of every C++ file, builds with
# warnings as errors and ASan+UBSan, starts throw-away PostgreSQL and Redis servers on
# loopback, runs every test with ctest, runs each fuzz target briefly, and stops the
# servers however the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
# Formatting first: it takes seconds, the build takes minutes.
scripts/check-format.sh
# The web UI the end-to-end tests drive (skipped when web/out is current).
scripts/web-build.sh

jobs=$(nproc)
build_dir=build/asan
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWATTOS_WERROR=ON -DWATTOS_SANITIZE=ON \
  -DWATTOS_BENCH=ON >/dev/null
cmake --build "$build_dir" -j "$jobs"

state_dir=$(mktemp -d /tmp/wattos-test.XXXXXX)
cleanup() {
  scripts/test-services.sh stop "$state_dir" || true
  rm -rf "$state_dir"
}
trap cleanup EXIT
# A failed start must stop the run here, not surface later as tests without servers.
if ! services_env=$(scripts/test-services.sh start "$state_dir"); then
  echo "test.sh: PostgreSQL or Redis did not start (ports ${WATTOS_TEST_PG_PORT:-15432}/${WATTOS_TEST_REDIS_PORT:-16379} in use?)" >&2
  exit 1
fi
eval "$services_env"
# Tests that need these servers fail instead of skipping when they are missing.
export WATTOS_TEST_REQUIRE_SERVERS=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300

FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

scripts/tidy.sh
