#!/usr/bin/env bash
# The main job: the patch's signal path on the real MIT-BIH records, scored beat by beat.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/venv.sh" data
data="${ECG_DATA_DIR:-$root/../shared/data}"
mkdir -p "$root/out"
"$root/.venv/bin/ecg" data info
"$root/.venv/bin/ecg" eval qrs --data "$data/mitdb" --json "$root/out/qrs.json"
