#!/usr/bin/env bash
# The PostgreSQL and Redis that the store and multi-instance tests use (127.0.0.1:5432 database "test",
# 127.0.0.1:6379), unless TEST_DATABASE_URL / TEST_REDIS_URL point elsewhere. Starts Debian's
# postgresql and redis-server when installed but stopped; installs them when missing and we are root;
# creates the "test" database and gives the postgres role the password the tests use.
set -euo pipefail
[ -n "${TEST_DATABASE_URL:-}" ] && [ -n "${TEST_REDIS_URL:-}" ] && exit 0
root() { [ "$(id -u)" = "0" ]; }
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if [ -z "${TEST_DATABASE_URL:-}" ] && ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null && root && command -v apt-get >/dev/null; then
    echo "PostgreSQL is missing: installing Debian's postgresql for the store tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if command -v pg_ctlcluster >/dev/null; then
    for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true; done
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  pg_up || { echo "PostgreSQL is not running on 127.0.0.1:5432 (install postgresql, or set TEST_DATABASE_URL)" >&2; exit 1; }
fi
if [ -z "${TEST_DATABASE_URL:-}" ] && root && command -v psql >/dev/null; then
  # a fresh install has neither the database nor a password for TCP logins (trust auth needs none)
  su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'test'\" | grep -q 1 || createdb test" 2>/dev/null || true
  su postgres -c "psql -q -c \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
fi

if [ -z "${TEST_REDIS_URL:-}" ] && ! redis_up; then
  if ! command -v redis-server >/dev/null && root && command -v apt-get >/dev/null; then
    echo "Redis is missing: installing Debian's redis-server for the multi-instance tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  if command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
  redis_up || { echo "Redis is not running on 127.0.0.1:6379 (install redis-server, or set TEST_REDIS_URL)" >&2; exit 1; }
fi
