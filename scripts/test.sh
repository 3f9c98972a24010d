#!/usr/bin/env bash
# Set up and run every test: lint, then the whole pytest suite (browser tests included
# when Chromium can be installed). Idempotent; extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source scripts/setup.sh

# Browser tests drive Debian's Chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "test: installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "test: chromium could not be installed; browser tests will be skipped"
fi

# Printed-map tests read PDFs with poppler's pdftoppm, pdftotext and pdfinfo.
if ! command -v pdftotext >/dev/null && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "test: installing poppler-utils for the printed-map tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null) \
    || echo "test: poppler-utils could not be installed; PDF map tests will be skipped"
fi

# The PostGIS store runs its tests against a local server when one can be started.
if [ -f scripts/postgis_test_server.sh ]; then
  # shellcheck disable=SC1091
  source scripts/postgis_test_server.sh || echo "test: no PostGIS server; its tests will be skipped"
fi

echo "test: ruff"
ruff check .
ruff format --check .

echo "test: pytest"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" = "5" ]; then
  echo "test: pytest collected no tests"
  exit 0
fi
exit "$status"
