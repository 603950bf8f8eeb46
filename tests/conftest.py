"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

from hardware_sim.micropython_vm import MicroPythonVmUnavailable, check_vm_installed


@pytest.fixture(scope="session")
def micropython_vm() -> None:
    """Fails (does not skip) without the MicroPython VM: a missing VM is a broken setup, which
    scripts/tools.sh repairs."""
    try:
        check_vm_installed()
    except MicroPythonVmUnavailable as exc:
        pytest.fail(str(exc))
