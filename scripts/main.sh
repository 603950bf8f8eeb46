#!/usr/bin/env bash
# The main job: the whole simulated patch (front end, firmware, int8 models, event rules) on real
# records, its parts scored as the field scores them, and what it spends.
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
"$ecg" patch replay "$data/mitdb/207" "$data/mitdb/223" "$data/vfdb/418" "$data/cinc2017/A00001" \
  --events "$root/out/patch_events.jsonl"
if [ -f "$root/firmware/models/vt_scnn.tflite" ]; then
  "$ecg" eval vt --data "$data/vfdb" --json "$root/out/vt_vfdb.json"
  "$ecg" eval vt --data "$data/mitdb" --json "$root/out/vt_mitdb.json"
fi
"$ecg" bench patch --json "$root/out/patch_budget.json"
