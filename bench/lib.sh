# Shared by the benchmark scripts (sourced, not run).

build_dir=build/bench

# Builds the Release binaries the benchmarks need.
bench_build() {
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
