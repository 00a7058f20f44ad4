#!/usr/bin/env bash
# Gateway benchmarks (issue: identity and API gateway), side by side in one run:
#   (a) the cost of authentication + rate limit + audit per request, at p50/p99:
#       GET /api/v1/version anonymous (gateway chain, no credential) vs the same route
#       with an API key (+ key lookup and permission cut, + rate limit per principal) vs
#       a POST under /api with the key (+ hash-chained audit append in SQLite)
#   (b) the proxy: `wattos serve` forwarding /api/v1/chat/* to an upstream vs nginx
#       proxy_pass (upstream keepalive) to the same upstream; throughput and latency,
#       and each one's added latency over calling the upstream directly.
# One server thread and one nginx worker; wrk -t1 -c16. `--record` appends to bench/RESULTS.md.
# BENCH_GATEWAY_PORT: the first of the three ports used (default 18181), so that runs in
# one tree do not collide. BENCH_GATEWAY_PARTS=proxy runs and reports (b) only.
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
duration=${BENCH_SECONDS:-5}
source bench/lib.sh
bench_build wattos bench_server
bench_workdir

parts=${BENCH_GATEWAY_PARTS:-all}
upstream_port=${BENCH_GATEWAY_PORT:-18181}
gateway_port=$((upstream_port + 1))
nginx_port=$((upstream_port + 2))
secret=benchmark-identity-secret-0123456789abcdef

"$build_dir/bench/bench_server" "$upstream_port" 1 15000 >"$work/upstream.log" &
pids+=($!)
WATTOS_DATA_DIR="$work/data" WATTOS_SERVER_PORT=$gateway_port WATTOS_SERVER_THREADS=1 WATTOS_LOG_ACCESS_LOG=false \
  WATTOS_RATE_LIMIT_DEFAULT_PER_MINUTE=1000000 WATTOS_RATE_LIMIT_DEFAULT_BURST=1000000 \
  WATTOS_RATE_LIMIT_CHAT_PER_MINUTE=1000000 WATTOS_RATE_LIMIT_CHAT_BURST=1000000 \
  WATTOS_SERVICES_CHAT_URL="http://127.0.0.1:$upstream_port" WATTOS_GATEWAY_IDENTITY_SECRET=$secret \
  "$build_dir/src/app/wattos" serve >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
mkdir -p "$work/nginx"
{ nginx_preamble; cat <<CONF
http {
  access_log off;
  upstream service { server 127.0.0.1:$upstream_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location /api/v1/chat/ {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Request-Id \$request_id;
    }
  }
}
CONF
} >"$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_port $upstream_port /json
wait_port $gateway_port /healthz
wait_port $nginx_port /api/v1/chat/json

token=$(wattos_login "$gateway_port" "$(admin_password "$work/gateway.out")")
key=$(wattos_api_key "$gateway_port" "$token" '*')

# No body: the server closes a connection whose body it did not read (this POST matches
# no route), and the figure would be one TCP connect per request instead of the audit.
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
LUA

run_wrk() {  # label url [wrk args...] -> "label rps p50_ms p99_ms"
  local label=$1 url=$2
  shift 2
  wrk -t1 -c16 -d"${duration}s" --latency "$@" "$url" >"$work/wrk.out"
  awk -v label="$label" '
    function ms(v) { if (v ~ /us$/) { sub(/us/, "", v); return v / 1000 } if (v ~ /ms$/) { sub(/ms/, "", v); return v }
                     if (v ~ /s$/) { sub(/s/, "", v); return v * 1000 } return v }
    /^Requests\/sec:/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    END { printf "%s %s %.3f %.3f\n", label, rps, p50, p99 }' "$work/wrk.out"
}

gw="http://127.0.0.1:$gateway_port"
rows=""
for round in 1 2; do
  [ "$parts" = proxy ] && break
  rows+="$(run_wrk anonymous "$gw/api/v1/version")"$'\n'
  rows+="$(run_wrk api_key "$gw/api/v1/version" -H "X-API-Key: $key")"$'\n'
  rows+="$(run_wrk api_key_audited "$gw/api/v1/bench-audit" -H "X-API-Key: $key" -s "$work/post.lua")"$'\n'
done
proxy_rows=""
for round in 1 2; do
  proxy_rows+="$(run_wrk direct "http://127.0.0.1:$upstream_port/api/v1/chat/json")"$'\n'
  proxy_rows+="$(run_wrk nginx "http://127.0.0.1:$nginx_port/api/v1/chat/json")"$'\n'
  proxy_rows+="$(run_wrk wattos "$gw/api/v1/chat/json" -H "X-API-Key: $key")"$'\n'
done

table() {  # rows -> markdown table rows, averaged per label
  echo "$1" | awk 'NF == 4 { n[$1]++; r[$1] += $2; a[$1] += $3; b[$1] += $4; if (!($1 in order)) { order[$1] = ++k; names[k] = $1 } }
    END { for (i = 1; i <= k; i++) { l = names[i]; printf "| %s | %.0f | %.3f | %.3f |\n", l, r[l] / n[l], a[l] / n[l], b[l] / n[l] } }'
}
auth_table=$(table "$rows")
proxy_table=$(table "$proxy_rows")
ratio=$(echo "$proxy_rows" | awk 'NF == 4 { r[$1] += $2 } END { printf "%.2f", r["wattos"] / r["nginx"] }')
audit_rows=$(curl -s "$gw/api/v1/admin/audit/verify" -H "Authorization: Bearer $token")

proxy_section=$(cat <<MD
(b) Proxy to the same upstream (bench_server \`/api/v1/chat/json\`, one thread): directly, through nginx
$(nginx -v 2>&1 | sed 's/nginx version: //') (\`proxy_pass\`, upstream keepalive, one worker), and through the
wattos gateway (API key checked, identity signed, request id and traceparent added).

| path | req/s | p50 ms | p99 ms |
|---|---|---|---|
${proxy_table}

Proxy throughput ratio wattos/nginx: **${ratio}** (goal >= 1.0).
MD
)
if [ "$parts" = proxy ]; then
  section=$(cat <<MD

## Gateway (b), proxy: $(date -u +%Y-%m-%d) ($(nproc) cores)
Command: \`BENCH_GATEWAY_PARTS=proxy bench/gateway.sh\`, commit $(git rev-parse --short HEAD). wrk -t1 -c16 -d${duration}s,
two rounds averaged; \`wattos serve\` with one I/O thread, SQLite store, rate limits on (limits raised).

${proxy_section}
MD
)
else
  section=$(cat <<MD

## Gateway: $(date -u +%Y-%m-%d) ($(nproc) cores)
Command: \`bench/gateway.sh\`, commit $(git rev-parse --short HEAD). wrk -t1 -c16 -d${duration}s, two rounds averaged;
\`wattos serve\` with one I/O thread, SQLite store, rate limits on (in memory, limits raised so nothing is refused).

(a) Cost of the gateway's checks on one route (\`/api/v1/version\`); the POST (no body, kept-alive
connections) answers 404 after its audit row is committed (hash-chained, group commit: one SQLite
transaction per batch of pending rows).

| request | req/s | p50 ms | p99 ms |
|---|---|---|---|
${auth_table}

${proxy_section} Audit chain after the run: \`${audit_rows}\`.
MD
)
fi
echo "$section"
if [ "$record" = "--record" ]; then echo "$section" >>bench/RESULTS.md; fi
