#!/usr/bin/env bash
# Set up a working copy: virtual environment, Python packages, front-end assets, message
# catalogues. Idempotent: each step is skipped when what it makes is already up to date.
# Usage: source scripts/setup.sh   (or run it; it leaves .venv ready either way)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
STAMP_DIR=".venv/.jangkau"

stamp_ok() {  # stamp_ok NAME FILE...: true when FILE contents match the stamp NAME
  local sum; sum="$(cat "${@:2}" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  [ -f "$STAMP_DIR/$1" ] && [ "$(cat "$STAMP_DIR/$1")" = "$sum" ]
}
stamp_set() {
  mkdir -p "$STAMP_DIR"
  cat "${@:2}" 2>/dev/null | sha256sum | cut -d' ' -f1 > "$STAMP_DIR/$1"
}

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating virtual environment in .venv"
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

if ! stamp_ok python requirements.txt pyproject.toml; then
  echo "setup: installing Python packages (requirements.txt)"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -r requirements.txt
  python -m pip install --quiet --no-deps -e .
  stamp_set python requirements.txt pyproject.toml
fi

if [ -f package.json ]; then
  if [ ! -d node_modules ] || ! stamp_ok npm package.json package-lock.json; then
    echo "setup: installing front-end assets from npm (package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
    stamp_set npm package.json package-lock.json
  fi
  if [ -f scripts/install_assets.py ]; then
    python scripts/install_assets.py
  fi
fi

if [ -d geoapp/translations ]; then
  pybabel compile -d geoapp/translations >/dev/null
fi
