"""scripts/check_firmware.py accepts MicroPython-clean modules and reports the others."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from hardware_sim.micropython_vm import PROJECT_ROOT

GOOD = """
from array import array
import time

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr

_TAPS = const(5)
GAIN = const(3)


class Fir:
    def __init__(self) -> None:
        self.hist = array("h", [0] * _TAPS)
        self.pos = 0

    def push(self, x: int) -> int:
        self.hist[self.pos] = x
        self.pos = (self.pos + 1) % _TAPS
        return sum(self.hist) * GAIN


def elapsed_ms(start: int) -> int:
    return time.ticks_diff(time.ticks_ms(), start)
"""


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_firmware", PROJECT_ROOT / "scripts" / "check_firmware.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    return _load_checker()


def _package(root: Path, modules: dict[str, str]) -> Path:
    pkg = root / "firmware"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, source in modules.items():
        (pkg / name).write_text(textwrap.dedent(source))
    return pkg


def test_good_module_passes_every_check(checker: ModuleType, tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"fir.py": GOOD, "uses_machine.py": "import machine\n"})
    files = checker.firmware_files(pkg)
    assert [f.name for f in files] == ["__init__.py", "fir.py", "uses_machine.py"]
    assert checker.mpy_cross_errors(files, tmp_path, "xtensawin") == []
    assert checker.mpy_cross_errors(files, tmp_path) == []
    assert checker.mypy_errors(pkg) == []
    # `machine` exists on the device only: not an import failure in the VM.
    assert checker.vm_import_errors(pkg) == []


def test_syntax_micropython_lacks_is_reported_with_file_and_line(checker: ModuleType, tmp_path: Path) -> None:
    # Positional-only parameters and `match` are valid CPython 3.11 but not MicroPython.
    pkg = _package(
        tmp_path,
        {
            "posonly.py": "x = 1\n\ndef f(a, /, b):\n    return a + b\n",
            "matching.py": "def f(x):\n    match x:\n        case 1:\n            return 2\n",
        },
    )
    for march in (None, "xtensawin"):
        errors = checker.mpy_cross_errors(checker.firmware_files(pkg), tmp_path, march)
        assert sorted(errors) == [
            "firmware/matching.py:2: SyntaxError: invalid syntax",
            "firmware/posonly.py:3: SyntaxError: invalid syntax",
        ]


def test_native_code_compiles_for_the_device_but_not_for_the_vm(checker: ModuleType, tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"fast.py": "import micropython\n\n@micropython.native\ndef f(a):\n    return a\n"})
    files = checker.firmware_files(pkg)
    assert checker.mpy_cross_errors(files, tmp_path, "xtensawin") == []
    [error] = checker.mpy_cross_errors(files, tmp_path)
    assert error.startswith("firmware/fast.py:") and "MicroPython VM cannot run it" in error


def test_type_errors_and_cpython_only_apis_are_reported(checker: ModuleType, tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "cpython_only.py": "import time\n\ndef now() -> float:\n    return time.perf_counter()\n",
            "wrong_type.py": "from array import array\n\ndef f() -> int:\n    a = array('h', [1])\n    return a.tobytes()\n",
        },
    )
    errors = checker.mypy_errors(pkg)
    assert len(errors) == 2, errors
    assert any("cpython_only.py:4" in e and "perf_counter" in e for e in errors)
    assert any("wrong_type.py:5" in e for e in errors)


def test_runtime_only_gaps_are_caught_by_importing_in_the_vm(checker: ModuleType, tmp_path: Path) -> None:
    # Both compile with mpy-cross; neither module exists in MicroPython.
    pkg = _package(
        tmp_path,
        {"future.py": "from __future__ import annotations\n", "typed.py": "from typing import Final\n"},
    )
    assert checker.mpy_cross_errors(checker.firmware_files(pkg), tmp_path) == []
    errors = checker.vm_import_errors(pkg)
    assert sorted(errors) == [
        "firmware.future ImportError no module named '__future__'",
        "firmware.typed ImportError no module named 'typing'",
    ]


def test_main_prints_one_line_per_check_and_fails_on_errors(
    checker: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = _package(tmp_path, {"bad.py": "def f(a, /):\n    return a\n"})
    assert checker.main([str(pkg)]) == 1
    out = capsys.readouterr().out.splitlines()
    summary = [line for line in out if not line.startswith(" ")]
    assert len(summary) == 4
    assert summary[0].startswith("FAIL mpy-cross -march=xtensawin")
    assert summary[2].startswith("ok   mypy")
