#!/usr/bin/env bash
# Job queue throughput (issue: ingestion groundwork): enqueue QUEUE_BENCH_JOBS jobs
# (default 20,000, 100-byte payloads), then workers claim and complete them until the
# queue is empty; jobs/s of each phase. Our Redis backend (bench/queue_bench, one thread
# per worker) against BullMQ (bench/queue_bullmq.mjs, one Worker with that many slots)
# on the same throw-away Redis, in the same run, at each concurrency of
# QUEUE_BENCH_CONCURRENCY (default 1 10 50); the SQL backend on SQLite for reference.
# `--record` appends the table to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
build_dir=${QUEUE_BENCH_BUILD_DIR:-$build_dir}  # another Release folder, e.g. one per engineer
# BENCH_NO_DEPS=1 skips the install step on a machine known to be set up (where
# reinstalling other folders' npm packages would disturb someone else's run).
bench_build queue_bench
jobs=${QUEUE_BENCH_JOBS:-20000}
levels=${QUEUE_BENCH_CONCURRENCY:-1 10 50}
redis_port=${QUEUE_BENCH_REDIS_PORT:-16390}

bench_workdir
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 1 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.05  # waiting for the server process to start listening
done
url=redis://127.0.0.1:$redis_port

rows=()
for c in $levels; do
  ours=$("$build_dir/bench/queue_bench" redis "$url" "$jobs" "$c")
  echo "$ours"
  peer=$(node bench/queue_bullmq.mjs "$url" "$jobs" "$c")
  echo "$peer"
  redis-cli -p "$redis_port" flushall >/dev/null  # each run starts on an empty server
  sql=$("$build_dir/bench/queue_bench" sqlite "$work" "$jobs" "$c")
  echo "$sql"
  ratio=$(awk -v a="$(field process_per_s "$ours")" -v b="$(field process_per_s "$peer")" 'BEGIN { printf "%.2f", a / b }')
  echo "concurrency=$c ratio_process=$ratio"
  rows+=("| $c | $(field process_per_s "$ours") | $(field process_per_s "$peer") | **${ratio}x** | $(field enqueue_per_s "$ours") | $(field enqueue_per_s "$peer") | $(field process_per_s "$sql") | $(field enqueue_per_s "$sql") |")
done
table=$(cat <<TABLE
| concurrency | WattOS Redis claim+complete /s | BullMQ process /s | ratio | WattOS Redis enqueue /s | BullMQ addBulk /s | WattOS SQLite claim+complete /s | WattOS SQLite enqueue /s |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
TABLE
)
echo "$table"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## Job queue throughput vs BullMQ ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/queue.sh --record\` ($jobs jobs of 100 bytes; enqueue all, then workers claim and complete"
    echo "until the queue is empty; completed jobs are kept by both). WattOS: \`queue_bench\`, one thread and one Redis"
    echo "connection per worker, claim and complete one Lua script each. BullMQ $(node -p "require('./bench/node_modules/bullmq/package.json').version"): one Worker with that"
    echo "many concurrency slots and an empty processor, enqueue by \`addBulk\` in batches of 1,000. One Redis $(redis-server --version | sed 's/.*v=\([0-9.]*\).*/\1/'),"
    echo "no persistence; clients and server share the machine's 2 cores. SQLite: the SQL backend, WAL, one file."
    echo
    echo "$table"
  } >>bench/RESULTS.md
fi
