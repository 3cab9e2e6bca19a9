#!/usr/bin/env bash
# Installs the connector, then syncs the bundled sandbox into ./klaviyo-demo.duckdb.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec klaviyo-connector demo "$@"
