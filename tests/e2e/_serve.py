"""``python -m harness serve`` as a subprocess, for the tests that drive it from outside.

Every wait is bounded (``WAIT``); the child is killed if a test leaves it running.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

WAIT = 60.0  # seconds: the longest any test waits on serve


@dataclass
class Served:
    """A running ``serve``: its URLs, and its verdict once it exits."""

    proc: asyncio.subprocess.Process
    url: str
    base_url: str

    async def verdict(self) -> tuple[int, str, str]:
        """Wait for serve to exit (``--once``); its status, stdout (after the URLs), stderr."""
        async with asyncio.timeout(WAIT):
            out, err = await self.proc.communicate()
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def serve(*args: str) -> AsyncIterator[Served]:
    """Start ``python -m harness serve ARGS`` and wait for it to print its URLs."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness",
        "serve",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        printed: dict[str, str] = {}
        async with asyncio.timeout(WAIT):
            while "base_url" not in printed:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    err = (await proc.stderr.read()).decode()
                    raise AssertionError(f"serve exited before printing its URLs:\n{err}")
                key, _, value = line.rstrip("\n").partition(": ")
                printed[key] = value
        yield Served(proc, printed["url"], printed["base_url"])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
