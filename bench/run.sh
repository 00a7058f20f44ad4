#!/usr/bin/env bash
# Kernel benchmarks (issue: platform kernel), side by side with nginx in one run on
# this machine. Prints a Markdown section; `bench/run.sh --record` appends it to
# bench/RESULTS.md. Installs what it needs (scripts/deps.sh bench: nginx-light, wrk).
#   (a) small JSON route of `bench_server` (same http_server, middleware, metrics as
#       `wattos serve`) vs nginx serving a static file with the same bytes: wrk -t1 -c64,
#       three interleaved rounds each, requests/s and p99 latency; one server thread vs
#       one nginx worker, both without access log
#   (b) idle RSS of `wattos serve` with embedded defaults
#   (c) 10,000 concurrent SSE streams with heartbeats in one bench_server process: RSS
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
duration=${BENCH_SECONDS:-5}
streams=${BENCH_SSE_STREAMS:-10000}
source bench/lib.sh
bench_build wattos bench_server sse_flood
bench_workdir
ulimit -n 65536 2>/dev/null || true  # 10,000 streams need more descriptors than the default

nginx_port=18080
bench_port=18081
wattos_port=18082

# nginx: one worker, static file with the same body as /json, no access log.
mkdir -p "$work/nginx/html"
printf '{"status":"ok"}' >"$work/nginx/html/json"
{ nginx_preamble; cat <<CONF
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/html;
    location = /json { default_type application/json; }
  }
}
CONF
} >"$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
"$build_dir/bench/bench_server" "$bench_port" 1 1000 >"$work/bench_server.log" &
bench_pid=$!
pids+=($bench_pid)

wait_port $nginx_port /json
wait_port $bench_port /json

run_wrk() {  # url -> "requests_per_second p99_ms"
  wrk -t1 -c64 -d"${duration}s" --latency "$1" >"$work/wrk.out"
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$work/wrk.out")
  echo "$rps $p99"
}

# warm-up
wrk -t1 -c64 -d1s "http://127.0.0.1:$nginx_port/json" >/dev/null
wrk -t1 -c64 -d1s "http://127.0.0.1:$bench_port/json" >/dev/null
rows=""
wattos_total=0; nginx_total=0; wattos_p99_max=0
for round in 1 2 3; do
  read -r n_rps n_p99 <<<"$(run_wrk "http://127.0.0.1:$nginx_port/json")"
  read -r w_rps w_p99 <<<"$(run_wrk "http://127.0.0.1:$bench_port/json")"
  ratio=$(awk -v w="$w_rps" -v n="$n_rps" 'BEGIN {printf "%.2f", w / n}')
  rows+="| $round | $w_rps | $w_p99 | $n_rps | $n_p99 | $ratio |"$'\n'
  wattos_total=$(awk -v a="$wattos_total" -v b="$w_rps" 'BEGIN {print a + b}')
  nginx_total=$(awk -v a="$nginx_total" -v b="$n_rps" 'BEGIN {print a + b}')
  wattos_p99_max=$(awk -v a="$wattos_p99_max" -v b="$w_p99" 'BEGIN {print (b > a ? b : a)}')
done
overall=$(awk -v w="$wattos_total" -v n="$nginx_total" 'BEGIN {printf "%.2f", w / n}')

# (b) idle RSS of `wattos serve` with embedded defaults (SQLite, migrations applied).
WATTOS_DATA_DIR="$work/data" WATTOS_SERVER_PORT=$wattos_port WATTOS_LOG_ACCESS_LOG=false \
  "$build_dir/src/app/wattos" serve >"$work/wattos.out" 2>"$work/wattos.log" &
wattos_pid=$!
pids+=($wattos_pid)
wait_port $wattos_port /healthz
curl -sf "http://127.0.0.1:$wattos_port/readyz" >/dev/null
idle_rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$wattos_pid/status")
wattos_threads=$(awk '/^Threads:/ {print $2}' "/proc/$wattos_pid/status")

# (c) concurrent SSE streams with heartbeats (every 1 s) in one process.
"$build_dir/bench/sse_flood" 127.0.0.1 "$bench_port" /sse "$streams" "$bench_pid" >"$work/sse.out"
sse_ready=$(awk '/^streams_ready/ {print $2}' "$work/sse.out")
sse_failed=$(awk '/^streams_failed/ {print $2}' "$work/sse.out")
sse_after=$(awk '/^server_rss_after_kib/ {print $2}' "$work/sse.out")
sse_before=$(awk '/^server_rss_before_kib/ {print $2}' "$work/sse.out")
sse_per=$(awk '/^bytes_per_stream/ {print $2}' "$work/sse.out")
sse_secs=$(awk '/^seconds_to_ready/ {print $2}' "$work/sse.out")

section=$(cat <<MD

## Kernel: $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -m))
Command: \`make bench\` (bench/run.sh), commit $(git rev-parse --short HEAD). wrk -t1 -c64 -d${duration}s --latency.

(a) Small JSON route (\`GET /json\`, 15-byte body, security-header middleware and metrics on) vs nginx
$(nginx -v 2>&1 | sed 's/nginx version: //') serving a static file with the same bytes; one server thread vs one nginx worker, both without access log.

| round | wattos req/s | wattos p99 ms | nginx req/s | nginx p99 ms | ratio |
|---|---|---|---|---|---|
${rows}
Overall ratio wattos/nginx: **${overall}** (goal >= 1.0). Worst wattos p99: **${wattos_p99_max} ms** (goal < 2 ms).

(b) Idle RSS of \`wattos serve\` (embedded defaults, SQLite migrated, ${wattos_threads} threads): **$((idle_rss_kib / 1024)) MiB** (${idle_rss_kib} KiB; goal <= 40 MB).

(c) ${sse_ready} concurrent SSE streams (failed: ${sse_failed}) with 1 s heartbeats in one process, all open after ${sse_secs} s:
RSS ${sse_before} KiB before, **$((sse_after / 1024)) MiB** with the streams open (goal <= 300 MB); **${sse_per} bytes per stream**.
MD
)
echo "$section"
if [ "$record" = "--record" ]; then
  echo "$section" >>bench/RESULTS.md
fi
