"""Imports point down only: faces -> I/O -> generators -> core (style.md, rule 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"

# rank 0 core, 1 generators, 2 I/O, 3 faces, 4 entry points
RANKS: dict[str, int] = {
    "errors": 0,
    "_json": 0,
    "cassette": 0,
    "items": 0,
    "emitter": 0,
    "redaction": 0,
    "matching": 0,
    "conversation": 0,
    "history": 0,
    "replay": 0,
    "modes": 0,
    "recording": 0,
    "strategies": 1,
    "_net": 2,
    "server": 2,
    "transport": 2,
    "recorder": 2,
    "tap": 2,
    "checker": 2,
    "pytest_plugin": 3,
    "drivers": 2,
    "cli": 3,
    "_record_cli": 3,
    # entry points: `python -m harness` runs the CLI; the package re-exports the rest
    "__main__": 4,
    "__init__": 4,
}
# Third-party packages each rank may import (stdlib is always allowed, except asyncio in core).
THIRD_PARTY: dict[int, set[str]] = {
    0: {"orjson"},
    1: {"orjson", "hypothesis"},
    2: {"orjson", "websockets", "hypothesis"},
    3: {"orjson", "websockets", "hypothesis", "pytest", "_pytest", "pytest_asyncio"},
    4: {"orjson"},
}
# I/O and faces may use asyncio; the core is pure (no sockets, no event loop, no clock).
CORE_FORBIDDEN_STDLIB = {"asyncio", "socket", "selectors", "ssl"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "harness":
                found += [(node.lineno, f"harness.{alias.name}") for alias in node.names]
    return found


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_has_a_rank() -> None:
    unranked = [m for m in MODULES if m not in RANKS]
    assert not unranked, f"give these modules a rank in tests/test_layers.py: {unranked}"


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module: str) -> None:
    rank = RANKS.get(module)
    if rank is None:
        pytest.fail(f"harness/{module}.py has no rank")
    problems = []
    for lineno, name in _imports(PACKAGE / f"{module}.py"):
        top = name.split(".")[0]
        where = f"harness/{module}.py:{lineno}: imports {name}"
        if top == "harness":
            parts = name.split(".")
            if len(parts) < 2:
                continue
            target = parts[1]
            target_rank = RANKS.get(target)
            if target_rank is None:
                continue  # a name re-exported from the package, not a module
            # Core modules may use each other, and so may I/O modules; faces may not.
            same_rank_ok = target_rank == rank and rank in (0, 2)
            if module != "__init__" and target_rank >= rank and not same_rank_ok:
                problems.append(f"{where} (rank {target_rank} from rank {rank})")
        elif top in sys.stdlib_module_names:
            if rank == 0 and top in CORE_FORBIDDEN_STDLIB:
                problems.append(f"{where} (the core does no I/O)")
        elif top not in THIRD_PARTY[rank]:
            problems.append(f"{where} (third-party {top!r} not allowed at rank {rank})")
    assert not problems, "\n".join(problems)
