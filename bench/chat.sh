#!/usr/bin/env bash
# Chat load test (issue: chat service): concurrent streaming conversations against a
# scripted provider (bench_server: BENCH_TOKENS tokens, one every BENCH_TOKEN_INTERVAL_MS,
# default 30 at 33 ms, i.e. 30 tokens/s), each stream creating its conversation and
# posting a message through the full pipeline (auth, rate limit, audit, persona prompt,
# stored user and assistant messages, partial saves, SSE events). Reports time to first
# token and each token's relay delay (provider send -> client receive) at p50/p99 for
# 1, 100 and 1,000 conversations, the same for the provider called directly, and the
# process's peak RSS and its CPU time per conversation. `--record` appends the table to
# bench/RESULTS.md. BENCH_CHAT_STREAMS: the concurrencies of the one-process part
# (default "1 100 1000").
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
bench_build wattos bench_server llm_load
bench_workdir
provider_port=18201
chat_port=18202
export BENCH_TOKENS=${BENCH_TOKENS:-30}
export BENCH_TOKEN_INTERVAL_MS=${BENCH_TOKEN_INTERVAL_MS:-33}
start_scripted_provider "$provider_port"
WATTOS_DATA_DIR="$work/data" WATTOS_SERVER_PORT=$chat_port \
  "$build_dir/src/app/wattos" serve --config "$work/wattos.yaml" >"$work/chat.out" 2>"$work/chat.log" &
pids+=($!)
wattos_pid=$!
wait_port "$provider_port" /healthz
wait_port "$chat_port" /healthz
password=$(admin_password "$work/chat.out")
token=$(wattos_login "$chat_port" "$password")

rows=()
for streams in ${BENCH_CHAT_STREAMS:-1 100 1000}; do
  ramp=$(( streams == 1 ? 0 : streams * 2 ))
  "$build_dir/bench/llm_load" 127.0.0.1 "$chat_port" /api/v1/conversations "$streams" "$ramp" "$token" >/dev/null || true
  direct=$("$build_dir/bench/llm_load" 127.0.0.1 "$provider_port" /v1/chat/completions "$streams" "$ramp")
  # CPU time of the chat process (user + system, in clock ticks) for the measured round:
  # far steadier than latency on a shared machine, so changes are compared by it.
  cpu_before=$(awk '{print $14 + $15}' "/proc/$wattos_pid/stat")
  via=$("$build_dir/bench/llm_load" 127.0.0.1 "$chat_port" /api/v1/conversations "$streams" "$ramp" "$token" || true)
  cpu_after=$(awk '{print $14 + $15}' "/proc/$wattos_pid/stat")
  cpu_ms=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$streams" 'BEGIN{printf "%.2f", t * 1000 / hz / n}')
  echo "direct $direct"
  echo "chat   $via"
  rows+=("| $streams | $(field ttft_p50_ms "$direct") / $(field ttft_p99_ms "$direct") | $(field ttft_p50_ms "$via") / $(field ttft_p99_ms "$via") | $(field token_p50_ms "$direct") / $(field token_p99_ms "$direct") | $(field token_p50_ms "$via") / $(field token_p99_ms "$via") | $cpu_ms | $(field completed "$via")/$streams |")
done
peak=$(awk '/VmHWM/ {print $2}' "/proc/$wattos_pid/status")
kill "$wattos_pid" 2>/dev/null || true

# The same behind the gateway with two chat processes (one shared SQLite store; the
# gateway routes each conversation to one replica).
secret=chat-bench-identity-secret-0123456789abcdef
replica_ports=(18203 18204)
gateway_port=18205
urls=()
for port in "${replica_ports[@]}"; do
  WATTOS_DATA_DIR="$work/data" WATTOS_SERVER_PORT=$port WATTOS_GATEWAY_IDENTITY_SECRET=$secret \
    "$build_dir/src/app/wattos" serve --service chat --port "$port" --config "$work/wattos.yaml" \
    >"$work/chat-$port.out" 2>"$work/chat-$port.log" &
  pids+=($!)
  urls+=("http://127.0.0.1:$port")
done
for port in "${replica_ports[@]}"; do wait_port "$port" /healthz; done
WATTOS_DATA_DIR="$work/data" WATTOS_GATEWAY_IDENTITY_SECRET=$secret WATTOS_SERVICES_CHAT_URL="$(IFS=,; echo "${urls[*]}")" \
  "$build_dir/src/app/wattos" serve --port "$gateway_port" --config "$work/wattos.yaml" \
  >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
wait_port "$gateway_port" /healthz
token=$(wattos_login "$gateway_port" "$password")
replica_rows=()
for streams in 100 1000; do
  ramp=$(( streams * 2 ))
  "$build_dir/bench/llm_load" 127.0.0.1 "$gateway_port" /api/v1/conversations "$streams" "$ramp" "$token" >/dev/null || true
  via=$("$build_dir/bench/llm_load" 127.0.0.1 "$gateway_port" /api/v1/conversations "$streams" "$ramp" "$token" || true)
  echo "2 chat processes behind the gateway: $via"
  replica_rows+=("| $streams (gateway + 2 chat processes) | $(field ttft_p50_ms "$via") / $(field ttft_p99_ms "$via") | $(field token_p50_ms "$via") / $(field token_p99_ms "$via") | $(field completed "$via")/$streams |")
done
replica_table=$(cat <<TABLE
| conversations | TTFT p50 / p99 ms | token relay p50 / p99 ms | completed |
|---|---|---|---|
$(printf '%s\n' "${replica_rows[@]}")
TABLE
)
echo "$replica_table"
table=$(cat <<TABLE
| conversations | direct TTFT p50 / p99 ms | chat TTFT p50 / p99 ms | direct token p50 / p99 ms | chat token relay p50 / p99 ms | chat CPU ms per conversation | completed |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
TABLE
)
echo "$table"
echo "peak RSS of the chat process: $((peak / 1024)) MiB"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## Chat load: streaming conversations ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/chat.sh --record\` ($BENCH_TOKENS tokens per answer at one per ${BENCH_TOKEN_INTERVAL_MS} ms;"
    echo "each stream creates its conversation, then posts a message; streams start 2 ms apart after one warm-up round;"
    echo "one process, SQLite, 2 I/O threads; provider, chat process and load client share the machine's $(nproc) cores)."
    echo
    echo "$table"
    echo
    echo "Peak RSS of the chat process over the whole run: $((peak / 1024)) MiB."
    echo
    echo "Behind the gateway with two chat processes (5 processes on the same cores):"
    echo
    echo "$replica_table"
  } >>bench/RESULTS.md
fi
