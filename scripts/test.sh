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

ruff check .
ruff format --check .
mypy
pytest -n 2 --dist loadgroup "$@"
