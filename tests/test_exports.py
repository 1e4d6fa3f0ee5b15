"""One public face: __all__ is consistent and `import harness` stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import harness

MODULES = sorted(
    p.stem for p in (Path(harness.__file__).parent).glob("*.py") if not p.stem.startswith("__")
)


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith("_")])
def test_public_module_declares_all(module: str) -> None:
    mod = importlib.import_module(f"harness.{module}")
    assert hasattr(mod, "__all__"), f"harness/{module}.py has no __all__"
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"harness.{module}.__all__ names missing attributes: {missing}"


def test_package_all_names_exist() -> None:
    missing = [name for name in harness.__all__ if not hasattr(harness, name)]
    assert not missing


def test_import_harness_pulls_in_neither_hypothesis_nor_pytest() -> None:
    code = (
        "import sys, harness; "
        "print(','.join(sorted(m for m in ('hypothesis', 'pytest') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
