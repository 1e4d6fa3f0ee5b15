"""``python -m harness serve`` as a subprocess, for the tests that drive it from outside.

Import it as ``from _serve import serve`` (``tests/`` is on ``sys.path``). Every wait on the
child is bounded (``wait``, default :data:`WAIT`); the child is killed if a test leaves it
running. Usage::

    async with serve(str(cassette), "--once") as served:
        ...  # connect a client to served.url (served.urls: one per cassette)
        status, out, err = await served.finish()
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

WAIT = 60.0  # seconds: the default bound on every wait on serve


@dataclass
class Served:
    """A running ``serve``: its URLs (one pair per cassette, in argument order)."""

    proc: asyncio.subprocess.Process
    urls: list[str]
    base_urls: list[str]
    wait: float

    @property
    def url(self) -> str:
        """The first cassette's URL."""
        return self.urls[0]

    @property
    def base_url(self) -> str:
        """The first cassette's ``openai`` base URL."""
        return self.base_urls[0]

    async def finish(self) -> tuple[int, str, str]:
        """Wait for serve to exit; its status, stdout (after the URLs) and stderr."""
        async with asyncio.timeout(self.wait):
            out, err = await self.proc.communicate()
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def serve(*args: str, wait: float = WAIT) -> AsyncIterator[Served]:
    """Start ``python -m harness serve ARGS`` and wait for it to print every URL."""
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
        urls: list[str] = []
        base_urls: list[str] = []
        expected = max(1, sum(1 for a in args if a.endswith(".jsonl")))
        async with asyncio.timeout(wait):
            while len(base_urls) < expected:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    err = (await proc.stderr.read()).decode()
                    raise AssertionError(f"serve exited before printing its URLs:\n{err}")
                key, _, value = line.rstrip("\n").partition(": ")
                assert key in ("url", "base_url"), line
                (urls if key == "url" else base_urls).append(value)
        yield Served(proc, urls, base_urls, wait)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
