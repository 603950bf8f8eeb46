#!/usr/bin/env bash
# Installs the non-Python tools that check firmware code against real MicroPython:
#  - the official MicroPython WebAssembly port (npm ci from tools/micropython_vm's lock file),
#  - the ESP32-S3 MicroPython type stubs (pip --target .tools/stubs-esp32s3) for mypy.
# Needs .venv (scripts/venv.sh) and Node.js >= 18 with npm. Stamps make a second run a no-op.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Exact pins: the stubs package only pins its stdlib stubs loosely (~=), so pin both.
STUBS_PINS="micropython-esp32-esp32-generic-s3-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2"
vm_dir="$root/tools/micropython_vm"
stubs_dir="$root/.tools/stubs-esp32s3"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tools.sh: node and npm are required (Node.js >= 18); install them, e.g. apt-get install -y nodejs npm" >&2
  exit 1
fi

# The stamp lives inside node_modules: npm ci and a deleted node_modules both drop it.
vm_want="$(cat "$vm_dir/package.json" "$vm_dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
vm_stamp="$vm_dir/node_modules/.ecg-stamp"
if [ ! -f "$vm_stamp" ] || [ "$(cat "$vm_stamp")" != "$vm_want" ]; then
  echo "installing MicroPython WebAssembly port into $vm_dir/node_modules" >&2
  (cd "$vm_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$vm_want" > "$vm_stamp"
fi

stubs_want="$(echo "$STUBS_PINS" | sha256sum | cut -d' ' -f1)"
stubs_stamp="$stubs_dir/.ecg-stamp"
if [ ! -f "$stubs_stamp" ] || [ "$(cat "$stubs_stamp")" != "$stubs_want" ]; then
  echo "installing ESP32-S3 MicroPython stubs into $stubs_dir" >&2
  rm -rf "$stubs_dir"
  # shellcheck disable=SC2086  # the pins are meant to split into arguments
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check --no-compile \
    --target "$stubs_dir" $STUBS_PINS
  echo "$stubs_want" > "$stubs_stamp"
fi
