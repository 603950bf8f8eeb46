#!/usr/bin/env bash
# Creates or refreshes .venv with the given extras, pinned by constraints.txt.
# A stamp of the pins makes a second run a no-op.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-dev}"
venv="$root/.venv"
python="$(command -v python3.11 || command -v python3)"
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.stamp-$extras"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv" >&2
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing ecg-patch[$extras] into $venv" >&2
  log="$venv/pip-install.log"
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$root/constraints.txt" -e "$root[$extras]" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
