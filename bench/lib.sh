# Shared by the benchmark scripts (sourced, not run).

# BENCH_BUILD_DIR: another directory, so that two benchmark runs do not share one build.
build_dir=${BENCH_BUILD_DIR:-build/bench}

# Builds the Release binaries the benchmarks need.
bench_build() {
  # What the benchmarks and their peers need (nginx, wrk, the npm peers, ...): fast when there.
  # Not WATTOS_*: wattos refuses environment variables of that prefix that it does not know.
  [ -n "${BENCH_NO_DEPS:-}" ] || scripts/deps.sh bench >/dev/null
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWATTOS_TESTS=OFF -DWATTOS_BENCH=ON >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target "$@" >/dev/null
}

# A scratch directory in $work and a trap that stops every process in $pids.
bench_workdir() {
  work=$(mktemp -d /tmp/wattos-bench.XXXXXX)
  chmod 755 "$work"  # nginx workers run as an unprivileged user and read files from here
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# wait_port PORT PATH: until a server answers there (5 s at most).
wait_port() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1$2" && return 0
    sleep 0.05  # waiting for a server process to start listening
  done
  echo "server on port $1 did not start" >&2
  return 1
}

# The common head of an nginx configuration (one worker), for a file in $work/nginx.
nginx_preamble() {
  cat <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
CONF
}

# A numeric field "name=value" of a tool's one-line report: field NAME "$report".
# The value of `name=value` in a line of such pairs (whole names: build_per_s is not faiss_build_per_s).
field() { sed -n "s/\(^\|.* \)$1=\([0-9.]*\).*/\2/p" <<<"$2"; }

# The one-time admin password that a first `wattos serve` printed into FILE.
admin_password() { sed -n 's/.*One-time password: *//p' "$1"; }

# An access token for the admin: wattos_login PORT PASSWORD.
wattos_login() {
  curl -s -X POST "http://127.0.0.1:$1/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"admin@localhost\",\"password\":\"$2\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}

# An API key: wattos_api_key PORT TOKEN PERMISSION.
wattos_api_key() {
  curl -s -X POST "http://127.0.0.1:$1/api/v1/api-keys" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' -d "{\"name\":\"bench\",\"permissions\":[\"$3\"]}" | sed 's/.*"key":"\([^"]*\)".*/\1/'
}

# The scripted model provider of the streaming benchmarks (bench_server, paced by
# BENCH_TOKENS and BENCH_TOKEN_INTERVAL_MS) on PORT, and a wattos configuration in
# $work/wattos.yaml whose model `bench` (the default) is that provider, with the rate
# limits out of the way. Streams need many descriptors.
start_scripted_provider() {
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  "$build_dir/bench/bench_server" "$1" 1 15000 >"$work/provider.log" &
  pids+=($!)
  cat >"$work/wattos.yaml" <<CONF
log: {level: warn, access_log: false}
server: {max_connections: 100000}
rate_limit: {chat_per_minute: 1000000, chat_burst: 1000000, default_per_minute: 1000000, default_burst: 1000000}
llm: {max_retries: 0, default_model: bench}
models:
  - id: bench
    provider: openai
    endpoint: http://127.0.0.1:$1/v1
    external: false
    capabilities: [chat]
CONF
}
