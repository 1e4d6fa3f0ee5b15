"""One live connection under the transport: its socket, its send queue, its writer.

The protocol queues frames on the :class:`Link` (a
:class:`~harness.transport.protocol.Connection`); the link's writer task sends them in
order and, once the link is closing and the queue is empty, runs the closing handshake
for at most the connection's ``close_timeout``, then aborts. The transport's reader task
reads the same socket. reference: the ``ws`` object of openaiRealtimeWebsocket.ts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from harness.transport._js import UNSET
from harness.transport.protocol import Connection

__all__ = ["Link", "abort", "close_bounded", "close_timeout"]

_DEFAULT_CLOSE_TIMEOUT: Final = 10.0


def close_timeout(ws: ClientConnection) -> float:
    """The connection's ``close_timeout`` (websockets' default, 10 s, when it has none)."""
    timeout = getattr(ws, "close_timeout", None)
    return float(timeout) if isinstance(timeout, int | float) else _DEFAULT_CLOSE_TIMEOUT


def abort(ws: ClientConnection) -> None:
    """Drop the TCP connection at once (what is left in its buffers is lost)."""
    transport = getattr(ws, "transport", None)
    if transport is not None:
        transport.abort()


async def close_bounded(ws: ClientConnection) -> None:
    """Run the closing handshake for at most ``close_timeout``, then abort.

    ``ws.close()`` waits for the write buffer to drain before its own timeout starts: a
    peer that stopped reading would hold it (and ``aclose()``) forever.
    """
    try:
        async with asyncio.timeout(close_timeout(ws)):
            await ws.close()
    except asyncio.CancelledError:
        abort(ws)
        raise
    except Exception:  # TimeoutError, or the connection failing meanwhile
        abort(ws)


class Link(Connection):
    """One live connection: the socket, its ordered send queue (``outbox``), its tasks."""

    __slots__ = ("closing", "drained", "finished", "reader", "wakeup", "writer", "ws")

    def __init__(self, ws: ClientConnection, tracing: Any = UNSET) -> None:
        super().__init__(tracing)
        self.ws = ws
        self.wakeup = asyncio.Event()
        # Set while nothing is left to send: the queue is empty, or the writer is gone.
        self.drained = asyncio.Event()
        self.drained.set()
        self.closing = False
        # The writer has exited: frames queued from now on can never be sent.
        self.finished = False
        self.reader: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def write(self, frame: bytes) -> None:
        if self.finished:
            # Like ws.send on a closed socket: the frame is dropped. Clearing `drained`
            # here would leave connect() and flush() waiting for a writer that is gone.
            return
        self.outbox.append(frame)
        self.drained.clear()
        self.wakeup.set()

    def close(self) -> None:
        """Send what is queued, then close the socket (in the writer task)."""
        self.closing = True
        self.wakeup.set()

    def start_writer(self, on_error: Callable[[BaseException], None]) -> None:
        """Start the task that sends the queue in order, then closes the socket."""
        self.writer = asyncio.get_running_loop().create_task(self._write_loop(on_error))

    async def wait_closed(self) -> None:
        """Wait for both tasks; past ``close_timeout``, abort the TCP connection."""
        tasks = {t for t in (self.writer, self.reader) if t is not None}
        if not tasks:
            return
        # Queued frames get the connection's close_timeout to go out (a peer that stopped
        # reading never takes them); then the TCP connection is aborted.
        _, pending = await asyncio.wait(tasks, timeout=close_timeout(self.ws))
        if pending:
            abort(self.ws)
            _, pending = await asyncio.wait(pending, timeout=close_timeout(self.ws))
        for task in pending:  # pragma: no cover - an abort ends both tasks
            task.cancel()
        if pending:  # pragma: no cover
            await asyncio.wait(pending)

    def _finish(self) -> None:
        self.finished = True
        self.closing = True
        self.outbox.clear()
        self.drained.set()
        self.wakeup.set()

    async def _write_loop(self, on_error: Callable[[BaseException], None]) -> None:
        ws = self.ws
        queue = self.outbox
        try:
            while True:
                while queue:
                    await ws.send(queue.popleft(), text=True)
                self.drained.set()
                if self.closing:
                    break
                self.wakeup.clear()
                await self.wakeup.wait()
        except ConnectionClosed:
            pass
        except Exception as error:  # pragma: no cover - defensive
            on_error(error)
        finally:
            self._finish()
            await close_bounded(ws)
