#!/usr/bin/env bash
# Installs everything the checks need (the package, dev tools, Chromium, a
# running PostgreSQL), then runs ruff, mypy and the whole test suite.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" dev

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    sudo apt-get install -y -q chromium >/dev/null
  fi
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

# The postgres tests load into the `test` database, which a fresh server lacks.
pg_has_db() {
  psql -h 127.0.0.1 -U postgres -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname = '$1'" 2>/dev/null | grep -q 1
}
ensure_db() {
  pg_has_db "$1" || createdb -h 127.0.0.1 -U postgres "$1" 2>/dev/null || pg_has_db "$1" \
    || echo "warning: could not create the PostgreSQL database '$1'; the postgres tests will fail" >&2
}
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  ensure_db test
fi

ruff check .
ruff format --check .
mypy
pytest -n 2 --dist loadgroup "$@"
