#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages. Safe to run twice; fast when done already.
#
# - Debian's Chromium (/usr/bin/chromium) for the browser tests (tests/test_browser.py). Needs root or sudo.
# - Checks that the Python `playwright` package (installed with `pip install -e ".[dev]"`) can start its bundled
#   driver. We never run `playwright install`: the tests launch /usr/bin/chromium through `executable_path`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CHROMIUM=/usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "setup_test_env: $CHROMIUM is missing and we are not root (no sudo); browser tests will be skipped" >&2
        SUDO="skip"
    fi
    if [ "$SUDO" != "skip" ]; then
        echo "setup_test_env: installing Debian chromium (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    fi
fi

if [ -x "$CHROMIUM" ]; then
    echo "setup_test_env: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
fi

if [ -x "$PY" ]; then
    # The wheel ships its own driver (node + package); this only checks that it starts. No browser is downloaded.
    if "$PY" - <<'EOF'
from playwright.sync_api import sync_playwright

with sync_playwright() as p:
    _ = p.chromium
print("setup_test_env: playwright driver OK (browser: /usr/bin/chromium, never downloaded)")
EOF
    then :; else
        echo "setup_test_env: the python playwright package is missing or broken; run: $PY -m pip install -e '.[dev]'" >&2
    fi
fi
