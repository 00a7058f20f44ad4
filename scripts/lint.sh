#!/usr/bin/env bash
# `make lint`: the clang-format check (scripts/check-format.sh), then clang-tidy over src/
# (scripts/tidy.sh). Exits non-zero when a file is not formatted or clang-tidy reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
scripts/check-format.sh || status=1
scripts/tidy.sh || status=1
exit "$status"
