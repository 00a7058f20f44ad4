#!/usr/bin/env bash
# clang-format check and clang-tidy over src/ using the compile database of build/dev.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
files=$(git ls-files 'src/*.cpp')
echo "clang-format (report only):"
clang-format --dry-run $(git ls-files 'src/*.cpp' 'src/*.hpp') 2>&1 | grep -c "warning" || true
echo "clang-tidy:"
# The compile database is g++'s: clang must ignore the warning options it does not know.
clang-tidy -p build/dev --quiet --extra-arg=-Wno-unknown-warning-option $files
