#!/usr/bin/env bash
# The main job on a fresh machine: set up, load the bundled demo area (Kabupaten Merangin)
# into the embedded store, and serve the web app on http://127.0.0.1:5000.
# Idempotent: a second run reuses the environment, the store and the loaded demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source scripts/setup.sh
geoapp init
geoapp demo
exec geoapp serve --host "${GEOAPP_HOST:-127.0.0.1}" --port "${GEOAPP_PORT:-5000}"
