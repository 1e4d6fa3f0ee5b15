"""``python -m harness``: see :mod:`harness.cli`."""

from __future__ import annotations

from harness.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m harness"))
