#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages. Safe to run twice.
set -euo pipefail
echo "setup_test_env: nothing extra needed yet"
