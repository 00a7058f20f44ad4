#!/usr/bin/env bash
# Builds the web UI (web/, Next.js static export) into web/out, only when a source file,
# the lock file or the installed packages are newer than the last build (a stamp file).
# Usage: scripts/web-build.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../web"

stamp=out/.wattos-build-stamp
sources=(src package.json package-lock.json next.config.mjs tsconfig.json node_modules/.wattos-lock-sha256)
if [ "${1:-}" != --force ] && [ -f "$stamp" ] &&
   [ -z "$(find "${sources[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
if [ ! -d node_modules ]; then
  echo "web-build.sh: web/node_modules is missing (scripts/deps.sh build installs it)" >&2
  exit 1
fi
echo "web-build.sh: building the web UI into web/out"
NEXT_TELEMETRY_DISABLED=1 npx --no-install next build >/tmp/wattos-web-build.$$.log 2>&1 || {
  cat /tmp/wattos-web-build.$$.log >&2
  rm -f /tmp/wattos-web-build.$$.log
  exit 1
}
rm -f /tmp/wattos-web-build.$$.log
touch "$stamp"
