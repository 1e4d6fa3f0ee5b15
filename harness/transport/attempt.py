"""One ``connect()`` in progress, and how :meth:`close` cancels it.

reference: openaiRealtimeWebsocket.ts, ``connect`` and ``close``: a ``close()`` while a
``connect()`` waits (for the API key, the handshake, the first ``session.update`` to go
out) makes that ``connect()`` fail with "WebSocket connection was closed before setup
completed." and restores what it had changed. The attempt keeps what to restore, which
failure ``connect()`` raises (the first one chosen), and the future that a ``close()``
resolves to interrupt whatever the attempt awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import TransportError

__all__ = ["ConnectAttempt"]


def _closed_before_setup() -> TransportError:
    return TransportError("WebSocket connection was closed before setup completed.")


@dataclass(slots=True)
class ConnectAttempt:
    """A ``connect()`` in progress: what it replaced, and how it ends."""

    previous_model: str
    previous_api_key: Any
    previous_url: str | None
    previous_default_url: str | None
    cancelled: asyncio.Future[None]
    failure: BaseException | None = None
    failure_selected: bool = False
    cancellation_error: TransportError = field(default_factory=_closed_before_setup)

    def outcome(self) -> BaseException:
        """What ``connect()`` raises: the failure chosen first, else the cancellation."""
        if self.failure_selected and self.failure is not None:
            return self.failure
        return self.cancellation_error

    def select_failure(self, failure: BaseException) -> None:
        """Choose ``failure`` as the outcome, unless one was chosen already."""
        if not self.failure_selected:
            self.failure_selected = True
            self.failure = failure

    def cancel(self) -> None:
        """``close()`` was called: interrupt what the attempt awaits, keep its outcome."""
        self.select_failure(self.outcome())
        if not self.cancelled.done():
            self.cancelled.set_result(None)

    def end(self) -> None:
        """The ``connect()`` returned or raised: nothing can cancel it any more."""
        if not self.cancelled.done():
            self.cancelled.cancel()

    async def race(self, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable`` unless :meth:`cancel` is called first (then raise)."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait({task, self.cancelled}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise self.outcome()
