#!/usr/bin/env bash
# clang-tidy 14 with the repository's .clang-tidy over every C++ file of src/, tests/ and
# bench/, one file per CPU at a time, on the compile database of build/dev (configured
# only: nothing is built). The fuzz targets (built by clang in build/fuzz) are not in that
# database; clang-tidy takes the flags of their nearest neighbours in it.
# Exits non-zero when clang-tidy reports anything. Part of `make test` and `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
echo "clang-tidy over src/, tests/ and bench/:"
# The compile database is g++'s: clang must ignore the warning options it does not know.
# The per-file count of warnings suppressed in system headers is noise: filtered out.
status=0
git ls-files 'src/*.cpp' 'tests/*.cpp' 'bench/*.cpp' | xargs -P "$(nproc)" -n 1 clang-tidy -p build/dev --quiet --warnings-as-errors='*' \
  --extra-arg=-Wno-unknown-warning-option 2> >(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' >&2) ||
  status=$?
if [ "$status" -ne 0 ]; then
  echo "clang-tidy: findings above" >&2
  exit "$status"
fi
echo "clang-tidy: no findings"
