#!/usr/bin/env bash
# LLM gateway benchmark (issue: LLM gateway), side by side in one run against the same
# scripted provider (bench_server's POST /v1/chat/completions: BENCH_TOKENS chunks, one
# every BENCH_TOKEN_INTERVAL_MS, each stamped with its send time):
#   direct   llm_load -> provider
#   gateway  llm_load -> wattos /v1/chat/completions (API key auth, rate limit, audit,
#            policy, usage row) -> provider
# at 1, 100 and 1,000 concurrent streams, reporting time to first token and each token's
# one-way delay at p50/p99, and the gateway's added latency (gateway minus direct).
# `--record` appends the table to bench/RESULTS.md. BENCH_LLM_PORT: the first of the two
# ports used (default 18191), so that runs in one tree do not collide.
# BENCH_LLM_STREAMS: the concurrencies, in order (default "1 100 1000"; repeat one to
# see its spread).
# BENCH_LLM_DAILY_TOKENS: the user's daily token budget (default: one too large to be
# reached, so that every call is checked against it; 0 turns budgets off).
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
bench_build wattos bench_server llm_load
bench_workdir
provider_port=${BENCH_LLM_PORT:-18191}
gateway_port=$((provider_port + 1))
daily_tokens=${BENCH_LLM_DAILY_TOKENS:-1000000000000}
export BENCH_TOKENS=${BENCH_TOKENS:-20}
export BENCH_TOKEN_INTERVAL_MS=${BENCH_TOKEN_INTERVAL_MS:-50}
start_scripted_provider "$provider_port"
WATTOS_DATA_DIR="${BENCH_DATA_DIR:-$work/data}" WATTOS_SERVER_PORT=$gateway_port WATTOS_LLM_USER_DAILY_TOKENS=$daily_tokens \
  "$build_dir/src/app/wattos" serve --config "$work/wattos.yaml" >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
wait_port "$provider_port" /healthz
wait_port "$gateway_port" /healthz
token=$(wattos_login "$gateway_port" "$(admin_password "$work/gateway.out")")
key=$(wattos_api_key "$gateway_port" "$token" chat:use)

rows=()
for streams in ${BENCH_LLM_STREAMS:-1 100 1000}; do
  ramp=$(( streams == 1 ? 0 : streams * 2 ))
  # Warm both paths at this concurrency first (upstream connections, allocator, page
  # cache): the table is the steady state. The cold first round is printed, not recorded.
  echo "cold    $("$build_dir/bench/llm_load" 127.0.0.1 "$gateway_port" /v1/chat/completions "$streams" "$ramp" "$key")"
  "$build_dir/bench/llm_load" 127.0.0.1 "$provider_port" /v1/chat/completions "$streams" "$ramp" >/dev/null
  direct=$("$build_dir/bench/llm_load" 127.0.0.1 "$provider_port" /v1/chat/completions "$streams" "$ramp")
  via=$("$build_dir/bench/llm_load" 127.0.0.1 "$gateway_port" /v1/chat/completions "$streams" "$ramp" "$key")
  echo "direct  $direct"
  echo "gateway $via"
  row="| $streams | $(field ttft_p50_ms "$direct") / $(field ttft_p99_ms "$direct") | $(field ttft_p50_ms "$via") / $(field ttft_p99_ms "$via")"
  row+=" | $(field token_p50_ms "$direct") / $(field token_p99_ms "$direct") | $(field token_p50_ms "$via") / $(field token_p99_ms "$via")"
  added_ttft=$(awk -v a="$(field ttft_p99_ms "$via")" -v b="$(field ttft_p99_ms "$direct")" 'BEGIN{printf "%.2f", a-b}')
  added_token=$(awk -v a="$(field token_p99_ms "$via")" -v b="$(field token_p99_ms "$direct")" 'BEGIN{printf "%.2f", a-b}')
  row+=" | $added_ttft | $added_token | $(field completed "$via")/$streams |"
  rows+=("$row")
done
rss=$(awk '/VmRSS/ {print $2}' "/proc/${pids[1]}/status")
audit=$(curl -s "http://127.0.0.1:$gateway_port/api/v1/admin/audit/verify" -H "Authorization: Bearer $token")

table=$(cat <<TABLE
| streams | direct TTFT p50 / p99 ms | gateway TTFT p50 / p99 ms | direct token p50 / p99 ms | gateway token p50 / p99 ms | added TTFT p99 ms | added token p99 ms | completed |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
TABLE
)
echo "$table"
echo "gateway RSS after the run: $((rss / 1024)) MiB"
echo "audit chain after the run: $audit"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## LLM gateway relay vs direct ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/llm.sh --record\` ($BENCH_TOKENS tokens per stream, one every ${BENCH_TOKEN_INTERVAL_MS} ms;"
    echo "streams started evenly over 2 ms per stream, after one warm-up round at the same concurrency; provider,"
    echo "gateway (2 I/O threads, SQLite, API key auth, rate limit, daily token budget $daily_tokens, audit row and"
    echo "usage row per call) and load client share the machine's $(nproc) cores)."
    echo
    echo "$table"
    echo
    echo "Gateway RSS after the run: $((rss / 1024)) MiB. Audit chain after the run: \`$audit\`."
  } >>bench/RESULTS.md
fi
