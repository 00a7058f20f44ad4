#!/usr/bin/env bash
# `make lint`: the clang-format check (scripts/check-format.sh), then clang-tidy with the
# repository's .clang-tidy over every file of src/, one file per CPU at a time, using the
# compile database of build/dev (configured only: nothing is built). Exits non-zero when
# a file is not formatted or clang-tidy reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
scripts/check-format.sh || status=1
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
echo "clang-tidy:"
# The compile database is g++'s: clang must ignore the warning options it does not know.
git ls-files 'src/*.cpp' | xargs -P "$(nproc)" -n 1 clang-tidy -p build/dev --quiet --warnings-as-errors='*' \
  --extra-arg=-Wno-unknown-warning-option || status=1
exit "$status"
