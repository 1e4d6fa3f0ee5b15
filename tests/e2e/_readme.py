"""The README's recipe blocks, found by what they contain, to run them as pasted."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Recipes: your client against the fake server"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def recipe_block(language: str, needle: str) -> str:
    """The one ``language`` code block of the Recipes section that contains ``needle``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    found = [body for lang, body in _FENCE.findall(section) if lang == language and needle in body]
    if len(found) != 1:
        raise LookupError(
            f"README.md, section {SECTION!r}: expected one ```{language} block "
            f"containing {needle!r}, found {len(found)}"
        )
    return found[0]


def run_python_block(block: str, workdir: Path, *, timeout: float = 120) -> str:
    """Run ``block`` as ``python recipe.py`` in ``workdir`` (with ``cassettes/``); its stdout.

    Raises AssertionError with the block's stderr when it exits non-zero.
    """
    shutil.copytree(ROOT / "cassettes", workdir / "cassettes", dirs_exist_ok=True)
    (workdir / "recipe.py").write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "recipe.py"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"the README recipe exited {done.returncode}:\n{done.stderr}"
    return done.stdout
