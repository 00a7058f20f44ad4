#!/usr/bin/env bash
# Fails when a C++ file of the repository is not as clang-format 14 writes it with the
# repository's .clang-format (`make format` rewrites the tree). Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check-format.sh: the files above are not clang-formatted; run 'make format'" >&2
  exit 1
fi
