"""Runs code in real MicroPython: the official WebAssembly port under Node.js.

CPython accepts code that MicroPython rejects (and computes some things differently), so
firmware is proven by running it here. `scripts/tools.sh` installs the port; each call
starts a fresh VM in a `node tools/micropython_vm/run.mjs` process (about 0.1-0.2 s).

Inside the VM, `/lib` is on `sys.path` (modules go there), files the script writes under
`/out` come back in `VmResult.files`, and `import hostclock; hostclock.ticks_us()` reads the
host's microsecond clock (the port's `time.ticks_us()` only advances in whole milliseconds)
for timing a loop without the VM's start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VM_DIR = PROJECT_ROOT / "tools" / "micropython_vm"
RUNNER = VM_DIR / "run.mjs"
PORT_PACKAGE = "@micropython/micropython-webassembly-pyscript"
DEFAULT_HEAP_BYTES = 16 * 1024 * 1024

# A module's source: text, or a host file holding it.
Source = str | Path


class MicroPythonVmUnavailable(RuntimeError):
    """Node.js or the WebAssembly port is missing, or the runner itself failed."""


class MicroPythonTimeout(MicroPythonVmUnavailable, TimeoutError):
    """The script ran past its time limit and the VM was killed."""


class MicroPythonError(Exception):
    """The script raised inside MicroPython; `traceback` is MicroPython's own."""

    def __init__(self, exc_type: str, traceback: str, stdout: str, stderr: str) -> None:
        super().__init__(f"MicroPython raised {exc_type}:\n{traceback}")
        self.exc_type = exc_type
        self.traceback = traceback
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class VmResult:
    stdout: str
    stderr: str
    wall_s: float  # the whole node process, start-up included
    startup_s: float  # loading the VM and writing its files
    run_s: float  # the script alone
    files: dict[str, bytes] = field(default_factory=dict)  # under /out, by relative path


def node_executable() -> str:
    """The `node` to use: $ECG_NODE, else the one on PATH."""
    node = os.environ.get("ECG_NODE") or shutil.which("node")
    if not node:
        raise MicroPythonVmUnavailable("Node.js (`node`) is not on PATH: run `bash scripts/tools.sh`")
    return node


def check_vm_installed() -> None:
    """Raises MicroPythonVmUnavailable, saying how to fix it, unless the VM can run."""
    node_executable()
    if not (VM_DIR / "node_modules" / PORT_PACKAGE / "micropython.mjs").is_file():
        raise MicroPythonVmUnavailable(
            f"{PORT_PACKAGE} is not installed in {VM_DIR}: run `bash scripts/tools.sh`"
        )


def package_modules(package_dir: Path, package: str | None = None) -> dict[str, Path]:
    """Every .py under `package_dir`, keyed by its path under /lib as package `package`."""
    package_dir = Path(package_dir)
    name = package or package_dir.name
    return {
        f"{name}/{path.relative_to(package_dir).as_posix()}": path
        for path in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def firmware_modules() -> dict[str, Path]:
    """The project's firmware/ as the VM package `firmware` (import firmware.qrs, ...)."""
    return package_modules(PROJECT_ROOT / "firmware", "firmware")


def vm_modules() -> dict[str, Path]:
    """firmware_modules() plus the VM's RAM flash (`from ram_flash import RamFlash`) and fake
    radio (`from fake_bluetooth import FakeBluetooth`)."""
    sim = PROJECT_ROOT / "hardware_sim"
    return {**firmware_modules(), "ram_flash.py": sim / "vm_ram_flash.py", "fake_bluetooth.py": sim / "vm_bluetooth.py"}


def exec_vm_script(source: str, name: str) -> dict[str, Any]:
    """A VM script's source run under CPython, with vm_modules()'s extra modules importable as in
    the VM; its namespace (to compare the two interpreters on the same code)."""
    import sys
    from unittest import mock

    from hardware_sim import vm_bluetooth, vm_ram_flash

    namespace: dict[str, Any] = {}
    with mock.patch.dict(sys.modules, {"ram_flash": vm_ram_flash, "fake_bluetooth": vm_bluetooth}):
        exec(compile(source, name, "exec"), namespace)
    return namespace


_RUN_ON_CODES = """
import json
from array import array
with open("/data/codes.bin", "rb") as f:
    codes = array("i", f.read())
print(json.dumps(run(codes, LSB)))
"""


def run_on_codes_both(
    script: str, name: str, codes: list[int], lsb: int, timeout_s: float = 300.0
) -> tuple[Any, Any, float]:
    """`run(codes, LSB)` of a script that defines it, in the MicroPython VM (vm_modules(), the codes
    read from a file) and under CPython: both answers through JSON, to be compared, and the VM's
    run time in s."""
    from array import array

    data = array("i", codes).tobytes()
    result = run_micropython(
        f"LSB = {lsb}\n" + script + _RUN_ON_CODES, vm_modules(), {"/data/codes.bin": data}, timeout_s=timeout_s
    )
    vm = json.loads(result.stdout.strip().splitlines()[-1])
    cpython = json.loads(json.dumps(exec_vm_script(script, name)["run"](codes, lsb)))
    return vm, cpython, result.run_s


def _vm_lib_path(key: str) -> str:
    rel = key.strip("/")
    if not rel.endswith((".py", ".mpy")) or ".." in rel.split("/"):
        raise ValueError(f"module path {key!r} must be relative to /lib and end in .py or .mpy")
    return "/lib/" + rel


def run_micropython(
    script: str,
    modules: Mapping[str, Source] | None = None,
    files: Mapping[str, bytes | Path] | None = None,
    *,
    heap_bytes: int = DEFAULT_HEAP_BYTES,
    timeout_s: float = 120.0,
) -> VmResult:
    """Runs `script` (source text) in a fresh MicroPython VM.

    modules: path under /lib -> source text (str) or host file (Path), e.g.
        {"firmware/__init__.py": "", "firmware/qrs.py": Path(...)} or firmware_modules().
    files: absolute VM path -> bytes or host file, e.g. {"/data/input.bin": samples.tobytes()}.
    heap_bytes: the VM's initial GC heap. The port grows its heap on demand, so this is no
        model of the device's RAM; measure with gc.mem_alloc() inside the script instead.

    Raises MicroPythonError when the script raises, MicroPythonTimeout past `timeout_s`, and
    MicroPythonVmUnavailable when the VM cannot run.
    """
    check_vm_installed()
    with tempfile.TemporaryDirectory(prefix="mpvm-") as tmp_name:
        tmp = Path(tmp_name)
        staged: list[dict[str, str]] = []

        def stage(vm_path: str, data: str | bytes | Path) -> None:
            if isinstance(data, Path):
                host = data.resolve()
            else:
                host = tmp / "in" / f"{len(staged)}"
                host.parent.mkdir(exist_ok=True)
                host.write_bytes(data.encode() if isinstance(data, str) else data)
            staged.append({"vm": vm_path, "host": str(host)})

        for key, source in (modules or {}).items():
            stage(_vm_lib_path(key), source)
        for vm_path, data in (files or {}).items():
            if not vm_path.startswith("/"):
                raise ValueError(f"VM file path {vm_path!r} must be absolute")
            stage(vm_path, data)
        (tmp / "script.py").write_text(script)
        manifest = {
            "script": "script.py",
            "files": staged,
            "heap_bytes": heap_bytes,
            "out_dir": "out",
            "result": "result.json",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest))

        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [node_executable(), str(RUNNER), str(tmp / "manifest.json")],
                capture_output=True,
                timeout=timeout_s,
                cwd=VM_DIR,
            )
        except subprocess.TimeoutExpired as exc:
            raise MicroPythonTimeout(f"MicroPython script ran past {timeout_s} s") from exc
        wall_s = time.perf_counter() - start
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")

        result_path = tmp / "result.json"
        if not result_path.is_file():
            raise MicroPythonVmUnavailable(
                f"MicroPython runner failed (exit {proc.returncode}):\n{stderr.strip()}"
            )
        result = json.loads(result_path.read_text())
        if not result["ok"]:
            traceback = result["traceback"] or ""
            # The runner repeats the traceback on stderr for command-line use; keep it once.
            if stderr.endswith(traceback):
                stderr = stderr[: len(stderr) - len(traceback)]
            raise MicroPythonError(result["error_type"], traceback, stdout, stderr)
        out_dir = tmp / "out"
        out_files = {
            path.relative_to(out_dir).as_posix(): path.read_bytes()
            for path in sorted(out_dir.rglob("*"))
            if path.is_file()
        }
        return VmResult(
            stdout=stdout,
            stderr=stderr,
            wall_s=wall_s,
            startup_s=float(result["startup_s"]),
            run_s=float(result["run_s"]),
            files=out_files,
        )
