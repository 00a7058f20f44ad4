#!/usr/bin/env bash
# Starts or stops the throw-away servers the tests use, on loopback only:
#   PostgreSQL 15 on 127.0.0.1:${WATTOS_TEST_PG_PORT:-15432}  (trusted, user wattos, db wattos_test)
#   Redis         on 127.0.0.1:${WATTOS_TEST_REDIS_PORT:-16379} (no persistence)
#   PostgreSQL with pgvector (PGlite from npm: Debian has no pgvector for PostgreSQL 15)
#                 on 127.0.0.1:${WATTOS_TEST_PGVECTOR_PORT:-15433} (in memory)
# Usage: scripts/test-services.sh start|stop DIR
# `start` prints the environment to export (eval it); `stop` is safe to call twice.
set -euo pipefail

action=${1:?start|stop}
state_dir=${2:?state directory}
pg_port=${WATTOS_TEST_PG_PORT:-15432}
redis_port=${WATTOS_TEST_REDIS_PORT:-16379}
pgvector_port=${WATTOS_TEST_PGVECTOR_PORT:-15433}
services_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/services"
pg_bin=/usr/lib/postgresql/15/bin

as_db_user() {
  # initdb and postgres refuse to run as root; use the postgres account then.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    mkdir -p "$state_dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$state_dir"; fi
    pg_dir="$state_dir/pg"
    as_db_user "$pg_bin/initdb" -D "$pg_dir" -A trust -U wattos -E UTF8 --no-instructions >/dev/null
    as_db_user "$pg_bin/pg_ctl" -D "$pg_dir" -l "$state_dir/pg.log" -w -t 30 \
      -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    psql -h 127.0.0.1 -p "$pg_port" -U wattos -d postgres -qc "CREATE DATABASE wattos_test" >/dev/null
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --dir "$state_dir" --pidfile "$state_dir/redis.pid" --logfile "$state_dir/redis.log" >/dev/null
    for _ in $(seq 1 100); do
      redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
      sleep 0.05  # polling for readiness of an external process, not test synchronisation
    done
    redis-cli -p "$redis_port" ping >/dev/null
    "$services_dir/node_modules/.bin/pglite-server" -p "$pgvector_port" -m 4 \
      -e @electric-sql/pglite-pgvector:vector >"$state_dir/pglite.log" 2>&1 &
    echo $! >"$state_dir/pglite.pid"
    pgvector_url="postgresql://postgres@127.0.0.1:$pgvector_port/postgres"
    for _ in $(seq 1 200); do
      psql "$pgvector_url" -qAtc "SELECT 1" >/dev/null 2>&1 && break
      sleep 0.05  # polling for readiness of an external process, not test synchronisation
    done
    psql "$pgvector_url" -qAtc "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
    echo "export WATTOS_TEST_PGVECTOR_URL=$pgvector_url"
    echo "export WATTOS_TEST_POSTGRES_URL=postgresql://wattos@127.0.0.1:$pg_port/wattos_test"
    echo "export WATTOS_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
    ;;
  stop)
    if [ -d "$state_dir/pg" ]; then
      as_db_user "$pg_bin/pg_ctl" -D "$state_dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$state_dir/redis.pid" ]; then
      redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$state_dir/redis.pid")" 2>/dev/null || true
    fi
    if [ -f "$state_dir/pglite.pid" ]; then
      kill "$(cat "$state_dir/pglite.pid")" 2>/dev/null || true
      rm -f "$state_dir/pglite.pid"
    fi
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
