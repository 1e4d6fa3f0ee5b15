"""Imports point down only: faces -> composed -> I/O -> generators -> core (style.md, rule 1).

- **core** (rank 0): pure: no asyncio, no sockets, no event loop, no clock; core modules
  use each other freely.
- **generators** (1): hypothesis strategies over the core.
- **I/O** (2): each one speaks the network its own way (the fake server, the transport, the
  recording proxy). An I/O module never imports another one: what they
  share goes through ``_net`` (the websockets boundary) or down into the core. Keeping
  them apart is what lets ``import harness.server`` load neither the transport nor the
  recorder.
- **composed** (3): modules built on I/O modules, which no I/O module needs: ``drivers``
  plays a cassette's client side against the fake server with a raw websockets client or
  our transport; ``checker`` runs the history property over the wire (our transport
  against the fake server); ``tap`` records our transport (it is the transport's
  ``create_websocket`` hook and opens connections as the transport does). Each needs the
  transport, so each sits above it, and importing the server or the recorder loads none
  of them.
- **faces** (4): what users call: the CLI and the pytest plugin.
- **entry points** (5): ``python -m harness`` and the package's re-exports.

A module is ranked by its dotted name under ``harness/`` (``transport`` for a module or a
package's ``__init__.py``, ``transport.protocol`` for a module inside it); a name without
a rank of its own takes its longest ranked prefix's. Modules of one package (the same first
name) may import each other whatever their ranks' order, as long as the core stays pure.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"

CORE, GENERATORS, IO, COMPOSED, FACES, ENTRY = range(6)

RANKS: dict[str, int] = {
    "errors": CORE,
    "_json": CORE,
    "_files": CORE,
    "_b64": CORE,
    "cassette": CORE,
    "refusal": CORE,  # part of the cassette format, in a module of its own
    "items": CORE,
    "emitter": CORE,
    "redaction": CORE,
    "matching": CORE,
    "conversation": CORE,
    "prepared": CORE,
    "inspection": CORE,
    "client_schema": CORE,
    "history": CORE,
    "replay": CORE,
    "rebinding": CORE,
    "modes": CORE,
    "inspect": CORE,
    "report": CORE,
    "validate": CORE,
    "scrub": CORE,
    "recording": CORE,  # a recording's staging file and verdict: file I/O, no network
    "strategies": GENERATORS,
    "_net": IO,  # the websockets boundary: the one I/O module the others may import
    "server": IO,
    # the transport package: a sans-I/O core under a thin asyncio shell
    "transport": IO,
    "transport.websocket": IO,
    "transport.link": IO,  # one connection's socket, send queue and writer task
    "transport.attempt": IO,  # a connect() in progress (an asyncio future cancels it)
    "transport.options": IO,  # the URL, headers and websockets' arguments (no waiting)
    "transport.protocol": CORE,
    "transport.sequencer": CORE,
    "transport.session_config": CORE,
    "transport.schema": CORE,
    "transport.payloads": CORE,
    "transport._js": CORE,
    "recorder": IO,
    "tap": COMPOSED,
    "drivers": COMPOSED,
    "checker": COMPOSED,
    "cli": FACES,
    "pytest_plugin": FACES,
    "__main__": ENTRY,
    "__init__": ENTRY,
}
# The I/O modules any I/O module may import.
BOUNDARY = {"_net"}
# Deprecated aliases (README: "Deprecated names") for names that moved to a module the old
# one may not import: imported only inside the old module's ``__getattr__`` (PEP 562), so
# importing the old module does not load the new one. Removed with the aliases.
DEPRECATED_ALIASES: dict[str, set[str]] = {"recorder": {"tap", "cli"}}
# Third-party packages each rank may import (stdlib is always allowed, except I/O in core).
THIRD_PARTY: dict[int, set[str]] = {
    CORE: {"orjson", "pybase64"},
    GENERATORS: {"orjson", "pybase64", "hypothesis"},
    IO: {"orjson", "pybase64", "websockets"},
    COMPOSED: {"orjson", "pybase64", "websockets", "hypothesis"},
    FACES: {
        "orjson",
        "pybase64",
        "websockets",
        "hypothesis",
        "pytest",
        "_pytest",
        "pytest_asyncio",
    },
    ENTRY: {"orjson"},
}
# Modules that may also import these (an optional extra's packages).
MODULE_THIRD_PARTY: dict[str, set[str]] = {"validate": {"openai", "pydantic"}}
CORE_FORBIDDEN_STDLIB = {"asyncio", "socket", "selectors", "ssl"}


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """Every import: line, module name, and whether it sits in a module ``__getattr__``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lazy: set[int] = set()
    for top in tree.body:
        if isinstance(top, ast.FunctionDef) and top.name == "__getattr__":
            lazy |= {id(node) for node in ast.walk(top)}
    found: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        inside = id(node) in lazy
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, inside) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or ""), inside))
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module, inside))
            if node.module == "harness":
                found += [(node.lineno, f"harness.{alias.name}", inside) for alias in node.names]
    return found


def _module_name(path: Path) -> str:
    """``transport.protocol`` for harness/transport/protocol.py, ``transport`` for its
    ``__init__.py`` (the package's own ``__init__`` stays ``__init__``)."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


PATHS = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
MODULES = sorted(PATHS)


def _target(parts: list[str]) -> str | None:
    """The ranked module ``harness.a.b.c`` names (the longest ranked prefix)."""
    for end in range(len(parts), 1, -1):
        name = ".".join(parts[1:end])
        if name in RANKS:
            return name
    return None


def _rank(module: str) -> int | None:
    return (
        RANKS.get(module)
        if module in RANKS
        else RANKS.get(_target(["harness", *module.split(".")]) or "")
    )


def test_every_module_has_a_rank() -> None:
    unranked = [m for m in MODULES if _rank(m) is None]
    assert not unranked, f"give these modules a rank in tests/test_layers.py: {unranked}"


def test_every_rank_names_a_module() -> None:
    missing = [m for m in RANKS if m not in PATHS]
    assert not missing, f"tests/test_layers.py ranks modules that do not exist: {missing}"


def _problem(module: str, rank: int, target: str, lazy: bool) -> str | None:
    """Why ``module`` (of ``rank``) may not import ``target``, or ``None`` if it may."""
    target_rank = _rank(target)
    assert target_rank is not None, target
    unit, target_unit = module.split(".")[0], target.split(".")[0]
    if module == "__init__" or unit == target_unit:
        return None  # the package re-exports everything; a package's modules share it
    if lazy and target_unit in DEPRECATED_ALIASES.get(unit, set()):
        return None
    if target_rank < rank:
        return None
    if target_rank == rank == CORE:
        return None
    if target_rank == rank == IO and target in BOUNDARY:
        return None
    if target_rank == rank == IO:
        return f"I/O module imports I/O module {target}: share it through _net or the core"
    return f"rank {target_rank} from rank {rank}"


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module: str) -> None:
    rank = _rank(module)
    if rank is None:
        pytest.fail(f"harness/{module} has no rank")
    problems = []
    path = PATHS[module]
    for lineno, name, lazy in _imports(path):
        top = name.split(".")[0]
        where = f"{path.relative_to(PACKAGE.parent)}:{lineno}: imports {name}"
        if not top:
            problems.append(f"{where} (a relative import: spell it harness.…)")
            continue
        if top == "harness":
            target = _target(name.split("."))
            if target is None:
                continue  # `import harness`, or a name re-exported from the package
            problem = _problem(module, rank, target, lazy)
            if problem is not None:
                problems.append(f"{where} ({problem})")
        elif top in sys.stdlib_module_names:
            if rank == CORE and top in CORE_FORBIDDEN_STDLIB:
                problems.append(f"{where} (the core does no I/O)")
        elif top not in THIRD_PARTY[rank] | MODULE_THIRD_PARTY.get(module, set()):
            problems.append(f"{where} (third-party {top!r} not allowed at rank {rank})")
    assert not problems, "\n".join(problems)


def test_an_io_module_importing_another_is_refused() -> None:
    assert _problem("server", IO, "transport", lazy=False) is not None
    assert _problem("transport", IO, "recorder", lazy=False) is not None
    assert _problem("recorder", IO, "_net", lazy=False) is None
    assert _problem("drivers", COMPOSED, "transport", lazy=False) is None
    assert _problem("transport.websocket", IO, "transport.protocol", lazy=False) is None
    assert _problem("tap", COMPOSED, "transport", lazy=False) is None
    assert _problem("recorder", IO, "tap", lazy=False) is not None  # only in __getattr__
    assert _problem("recorder", IO, "tap", lazy=True) is None
    assert _problem("server", IO, "tap", lazy=True) is not None


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("harness.server", "harness.transport"),
        ("harness.server", "harness.recorder"),
        ("harness.recorder", "harness.transport"),
        ("harness.cassette", "websockets"),
        ("harness", "websockets"),
        # the transport's sans-I/O core runs without the shell, websockets or asyncio
        ("harness.transport.protocol", "websockets"),
        ("harness.transport.protocol", "asyncio"),
        ("harness.transport.protocol", "harness.transport.websocket"),
    ],
)
def test_importing_a_module_does_not_load_another(module: str, absent: str) -> None:
    # A fresh interpreter: this one has loaded everything already. `import harness.server`
    # runs harness/__init__.py first, so this also checks that the package is lazy.
    code = f"import {module}, sys; assert {absent!r} not in sys.modules, sorted(sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"import {module} loaded {absent}:\n{done.stderr[-2000:]}"
