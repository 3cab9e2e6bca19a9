#!/usr/bin/env bash
# Installs the connector, then syncs the bundled sandbox into klaviyo-demo.duckdb
# in the project's folder (bootstrap.sh moves there).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" ""  # no extras; keep "$@" for the demo
exec klaviyo-connector demo "$@"
