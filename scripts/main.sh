#!/usr/bin/env bash
# The main job: the patch's signal path and int8 models on the real records, scored as the field scores them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/venv.sh" dev
data="${ECG_DATA_DIR:-$root/../shared/data}"
mkdir -p "$root/out"
ecg="$root/.venv/bin/ecg"
export TF_CPP_MIN_LOG_LEVEL=2
"$ecg" data info
"$ecg" eval qrs --data "$data/mitdb" --json "$root/out/qrs.json"
"$ecg" eval beats --data "$data/mitdb" --json "$root/out/beats.json"
if [ -f "$root/firmware/models/rhythm_resnet.tflite" ]; then
  "$ecg" eval rhythm --data "$data/cinc2017" --json "$root/out/rhythm.json"
fi
"$ecg" eval footprint --json "$root/out/footprint.json"
