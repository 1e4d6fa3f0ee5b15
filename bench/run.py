"""Run every benchmark: ``python bench/run.py [--quick]``.

Runs each ``bench/bench_*.py`` in turn, in its own process, with the arguments given here
(``--quick`` for a smoke run), and exits non-zero if any of them failed. Each benchmark
prints its own figures: ratios measured side by side in one run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"=== {script.name} ===", flush=True)
        started = time.monotonic()
        status = subprocess.call([sys.executable, str(script), *sys.argv[1:]])
        print(
            f"=== {script.name}: exit {status} in {time.monotonic() - started:.0f} s ===\n",
            flush=True,
        )
        if status != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
