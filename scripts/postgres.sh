#!/usr/bin/env bash
# Installs (Debian's package) and starts a local PostgreSQL for the test suite and
# benchmarks, and prints the admin URL the tests read from RDT_TEST_POSTGRES_URL.
# Idempotent: a server already answering on the port is reused.
set -euo pipefail

PORT="${RDT_PG_PORT:-5432}"
URL="postgres://rdt:rdt@127.0.0.1:${PORT}/postgres"

sudo_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian package)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${VERSION} main$"; then
  pg_createcluster "$VERSION" main --port "$PORT" >&2
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$VERSION" main start >&2
fi

# The test role may create databases (one fresh database per test).
sudo_pg "psql -p $PORT -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='rdt'\"" | grep -q 1 ||
  sudo_pg "psql -p $PORT -qc \"CREATE ROLE rdt LOGIN SUPERUSER PASSWORD 'rdt'\"" >&2

echo "$URL"
