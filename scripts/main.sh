#!/usr/bin/env bash
# The main job: set up, then run the quarterly drill plan (all four scenarios) on a local
# environment that the plan brings up and takes down. Reports land in reports/<run-id>/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/chaosdrill run --plan drills/quarterly.yaml "$@"
