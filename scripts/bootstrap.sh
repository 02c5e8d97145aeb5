#!/usr/bin/env bash
# Idempotent set-up for chaosdrill on Debian/Ubuntu (as root, or with sudo):
#   1. the OS packages of the local environment, installed only when a program is missing;
#   2. a Python virtual environment in .venv with chaosdrill and its test tools,
#      reinstalled only when pyproject.toml changed.
# A second run with everything present takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# program -> Debian package
declare -A PKG=(
  [redis-server]=redis-server
  [haproxy]=haproxy
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [prometheus-postgres-exporter]=prometheus-postgres-exporter
  [prometheus-redis-exporter]=prometheus-redis-exporter
  [chromium]=chromium  # headless browser of the report.html tests
  [tmux]=tmux  # the terminals of the training session test
)
missing_programs=()
packages=()
for prog in "${!PKG[@]}"; do
  if ! command -v "$prog" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$prog" ] && [ ! -x "/usr/bin/$prog" ]; then
    missing_programs+=("$prog")
    packages+=("${PKG[$prog]}")
  fi
done
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && [ -z "${CHAOSDRILL_PG_BINDIR:-}" ]; then
  missing_programs+=("postgres (PostgreSQL server)")
  packages+=(postgresql)
fi

PY=""
for cand in python3 python3.13 python3.12 python3.11; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$cand"; break
  fi
done
if [ -z "$PY" ]; then
  echo "error: chaosdrill needs Python >= 3.11 (looked for python3, python3.11..3.13 on PATH)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
  missing_programs+=("python3 venv module")
fi

if [ ${#packages[@]} -gt 0 ]; then
  mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; }; then
    echo "installing OS packages: ${packages[*]}"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "error: these programs are missing and cannot be installed here (no apt-get, or not root and no sudo):" >&2
    for prog in "${missing_programs[@]}"; do echo "  - $prog" >&2; done
    echo "install them with: apt-get install ${packages[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.setup-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing Python packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi
