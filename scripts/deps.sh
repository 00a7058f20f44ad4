#!/usr/bin/env bash
# Installs the Debian packages WattOS KI needs, idempotently: packages already present
# are skipped, and apt is only touched when something is missing.
# Usage: scripts/deps.sh [build|test|bench]   (each set includes the ones before it)
set -euo pipefail

set_name=${1:-build}

build_pkgs=(
  g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libcurl4-openssl-dev
  libsqlite3-dev libpq-dev
  libyaml-cpp-dev libcli11-dev
  libsodium-dev libhiredis-dev
  libstemmer-dev libhnswlib-dev
  libmagic-dev libpoppler-cpp-dev libzip-dev libpugixml-dev libgumbo-dev
  libtesseract-dev tesseract-ocr-deu tesseract-ocr-eng
  wngerman
)
test_pkgs=(
  libgtest-dev libgmock-dev
  postgresql-15 redis-server
  clang libclang-rt-14-dev clang-format clang-tidy
  curl
  chromium
)
bench_pkgs=(
  libbenchmark-dev nginx-light wrk
  libfaiss-dev libblas-dev liblapack-dev
  libxapian-dev
  poppler-utils
)

wanted=("${build_pkgs[@]}")
case "$set_name" in
  build) ;;
  test) wanted+=("${test_pkgs[@]}") ;;
  bench) wanted+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "deps.sh: unknown set '$set_name' (build|test|bench)" >&2; exit 2 ;;
esac

# npm packages of a folder (real clients and peers for tests), installed from its lock
# file; skipped when node_modules already matches the lock file.
npm_install() {
  local dir=$1
  local stamp="$dir/node_modules/.wattos-lock-sha256"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "deps.sh: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
}

install_npm_sets() {
  # The web UI's build tools (Next.js, TypeScript): `make run` builds it.
  npm_install "$(dirname "$0")/../web"
  case "$set_name" in
    test|bench)
      npm_install "$(dirname "$0")/../tests/sdk"
      npm_install "$(dirname "$0")/../tests/services"
      npm_install "$(dirname "$0")/../tests/e2e"
      ;;
  esac
  case "$set_name" in
    bench) npm_install "$(dirname "$0")/../bench" ;;
  esac
}

# Node.js and npm (the web UI's build and the Node tests): the machine's own when present,
# Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then
  wanted+=(nodejs npm)
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  install_npm_sets
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; refresh them once.
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_npm_sets
