#!/usr/bin/env bash
# The main job: set up, bring a local environment up, drive the service, take it down.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
name="${CHAOSDRILL_ENV:-main}"
.venv/bin/chaosdrill env up --name "$name" "$@"
rc=0
.venv/bin/chaosdrill env status --name "$name" || rc=$?
.venv/bin/chaosdrill env smoke --name "$name" || rc=$?
.venv/bin/chaosdrill env down --name "$name"
exit "$rc"
