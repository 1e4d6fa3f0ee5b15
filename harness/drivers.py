"""Clients that play the client side of a cassette against a :class:`FakeRealtimeServer`.

A driver walks one recorded connection in order: it sends each recorded client frame once
the server frames recorded before it have arrived, waits for each recorded server frame, and
reports every frame on a timeline. Two drivers:

* :func:`drive_raw`: a plain ``websockets`` client sends the recorded frames verbatim;
  any cassette, from any client, replays this way.
* :func:`drive_transport`: our :class:`~harness.transport.OpenAIRealtimeWebSocket` plays
  the session. The transport sends some frames by itself (its ``session.update`` on
  connect, the tracing update on ``session.created``, the truncate on
  ``speech_started``, retrieves...). Before each recorded client frame the driver waits
  for the transport's queue to drain; a frame the transport already sent on its own that
  matches the recorded one (under the server's match rules) counts as played, anything
  else is sent with ``send_event``. The transport's clock follows the cassette (the
  recorded time of the server frame being dispatched), so time-derived fields such as
  ``audio_end_ms`` are the recorded ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Data

from harness import _json, _net
from harness.cassette import Frame, FrameKind, Side, wire_close
from harness.errors import TransportError, UsageError
from harness.matching import compare_events
from harness.refusal import parse_refusal
from harness.replay import PreparedCassette
from harness.server import FakeRealtimeServer
from harness.transport import (
    CreateWebSocketOptions,
    OpenAIRealtimeWebSocket,
    connect_arguments,
)

__all__ = [
    "DRIVERS",
    "ClientKind",
    "Driver",
    "Emit",
    "TimelineEntry",
    "drive_raw",
    "drive_transport",
]

# Any token will do: the fake server checks that a key is present, never what it is.
_FAKE_KEY = "harness-replay"


class ClientKind(StrEnum):
    """The clients ``replay --client`` can drive."""

    RAW = "raw"
    TRANSPORT = "transport"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the replay timeline.

    Attributes:
        t: seconds since the connection opened, as the client saw it.
        conn: the recorded connection being played.
        side: who sent the frame.
        label: the event type, ``binary (N bytes)`` or ``close CODE``.
        unexpected: the frame was not one the cassette recorded (e.g. a mismatch error).
    """

    t: float
    conn: int
    side: Side
    label: str
    unexpected: bool = False

    def render(self) -> str:
        """``  0.012  conn 0  server  session.created``."""
        mark = "  <- not in the cassette" if self.unexpected else ""
        return f"{self.t:8.3f}  conn {self.conn}  {self.side!s:<6}  {self.label}{mark}"


Emit = Callable[[TimelineEntry], None]
Driver = Callable[[FakeRealtimeServer, PreparedCassette, Emit, float], Awaitable[None]]


def _label(message: str | bytes) -> tuple[str, str | None]:
    """A received message's label and, for an event, its type."""
    if isinstance(message, bytes):
        return f"binary ({len(message)} bytes)", None
    try:
        event = _json.loads(message)
    except ValueError:
        return "text (not JSON)", None
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str):
        return "event without type", None
    if kind == "error" and isinstance(event.get("error"), dict):
        code = event["error"].get("code")
        if code:
            return f"error ({code})", kind
    return kind, kind


@dataclass(frozen=True, slots=True)
class _Closed:
    """The connection ended; ``code`` is the close code received (1006: none)."""

    code: int


Arrival = Callable[[], Awaitable["Data | _Closed"]]


def _raw_arrival(ws: ClientConnection) -> Arrival:
    async def arrival() -> Data | _Closed:
        try:
            return await ws.recv()
        except ConnectionClosed:
            rcvd = ws.protocol.close_rcvd
            return _Closed(rcvd.code if rcvd is not None else 1006)

    return arrival


async def _await_server_frame(
    arrival: Arrival,
    frame: Frame,
    conn: int,
    emit: Emit,
    now: Callable[[], float],
    timeout: float,
) -> bool:
    """Wait for the recorded server ``frame``, showing anything unexpected on the way.

    Returns False when the connection ended or nothing came in time (the rest of the
    recorded connection cannot be played).
    """
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await arrival()
        except TimeoutError:
            emit(
                TimelineEntry(
                    now(),
                    conn,
                    Side.SERVER,
                    f"(nothing for {timeout:g} s; expected {frame.describe()})",
                    unexpected=True,
                )
            )
            return False
        if isinstance(message, _Closed):
            emit(
                TimelineEntry(
                    now(),
                    conn,
                    Side.SERVER,
                    f"close {message.code}",
                    unexpected=frame.kind is not FrameKind.CLOSE,
                )
            )
            return False
        label, kind = _label(message)
        expected = (
            kind == frame.event_type
            if frame.event is not None
            else (frame.kind is FrameKind.BINARY and isinstance(message, bytes))
        )
        emit(TimelineEntry(now(), conn, Side.SERVER, label, unexpected=not expected))
        if expected:
            return True


async def _play_connection(
    ws: ClientConnection, script: PreparedCassette, conn: int, emit: Emit, timeout: float
) -> None:
    opened = time.monotonic()

    def now() -> float:
        return time.monotonic() - opened

    for prepared in script.frames(conn):
        frame = prepared.frame
        if frame.side is Side.CLIENT:
            if frame.kind is FrameKind.CLOSE:
                await _net.send_close(ws, *wire_close(frame.close_code, frame.close_reason))
                emit(TimelineEntry(now(), conn, Side.CLIENT, frame.describe()))
                return
            if frame.event is not None:
                await ws.send(_json.dumps_str(frame.event))
            else:
                await ws.send(frame.binary or b"")
            emit(TimelineEntry(now(), conn, Side.CLIENT, frame.describe()))
            continue
        if not await _await_server_frame(_raw_arrival(ws), frame, conn, emit, now, timeout):
            return


async def drive_raw(
    server: FakeRealtimeServer, script: PreparedCassette, emit: Emit, timeout: float
) -> None:
    """Drive a plain ``websockets`` client through every recorded connection, in turn."""
    for conn in script.conns:
        first = next(script.frames(conn), None)
        refusal = parse_refusal(first.frame) if first is not None else None
        try:
            async with connect(
                server.url,
                additional_headers={"Authorization": f"Bearer {_FAKE_KEY}"},
                max_size=None,
                open_timeout=timeout,
                logger=_net.redacting_logger(_net.CLIENT_LOGGER),
            ) as ws:
                await _play_connection(ws, script, conn, emit, timeout)
        except InvalidStatus as exc:
            status = exc.response.status_code
            emit(
                TimelineEntry(
                    0.0,
                    conn,
                    Side.SERVER,
                    f"handshake refused: HTTP {status}",
                    unexpected=refusal is None or refusal.status != status,
                )
            )
            if refusal is None:
                raise


# -- our transport ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Wire:
    """What the transport's connection saw: server arrivals in order, client frames sent."""

    server_times: list[float]
    arrivals: asyncio.Queue[Data | _Closed] = field(default_factory=asyncio.Queue)
    received: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    consumed: int = 0

    def now_ms(self) -> float:
        """The transport's clock: the recorded time of the server frame being dispatched."""
        if not self.received or not self.server_times:
            return 0.0
        return self.server_times[min(self.received, len(self.server_times)) - 1] * 1000.0


class _DriverConnection(ClientConnection):
    """The transport's socket, seen by the driver (set up right after the handshake)."""

    _wire: _Wire

    async def send(self, message: Any, text: bool | None = None) -> None:
        if isinstance(message, str | bytes | bytearray):
            try:
                event = _json.loads(message)
            except ValueError:
                event = None
            if isinstance(event, dict):
                self._wire.sent.append(event)
        await super().send(message, text=text)

    async def recv(self, decode: bool | None = None) -> Any:
        try:
            # Read text as str, binary as bytes (to tell them apart on the timeline), then
            # hand the transport what it asked for.
            message: Data = await super().recv()
        except ConnectionClosed:
            rcvd = self.protocol.close_rcvd
            self._wire.arrivals.put_nowait(_Closed(rcvd.code if rcvd is not None else 1006))
            raise
        # Counted before the transport dispatches it, so its clock reads this frame's time;
        # the driver wakes only after the (synchronous) dispatch is over.
        self._wire.received += 1
        self._wire.arrivals.put_nowait(message)
        if decode is False and isinstance(message, str):
            return message.encode()
        return message


def _session_config(frames: list[Frame]) -> dict[str, Any] | None:
    """The recorded connect-time ``session.update``'s session: what the transport was given."""
    for frame in frames:
        if frame.side is Side.CLIENT and frame.event is not None:
            if frame.event.get("type") == "session.update":
                session = frame.event.get("session")
                return dict(session) if isinstance(session, dict) else None
            return None
    return None


def _recorded_model(session: dict[str, Any] | None, server: FakeRealtimeServer) -> str:
    """The model the recorded transport was connected with.

    The transport writes its model into the connect-time ``session.update``
    (``session.model``), and that is what it will send again, whatever the URL says: a
    cassette recorded with ``connect(url=...)`` and no ``model=`` holds the transport's
    default model there while its endpoint query (``server.model``) holds the URL's. So the
    recorded session's model wins; the endpoint's is the fallback for cassettes whose first
    client frame is not a ``session.update``.
    """
    model = session.get("model") if session is not None else None
    return model if isinstance(model, str) and model else server.model


async def drive_transport(
    server: FakeRealtimeServer, script: PreparedCassette, emit: Emit, timeout: float
) -> None:
    """Play every recorded connection with our transport, :class:`OpenAIRealtimeWebSocket`."""
    for conn in script.conns:
        await _transport_connection(server, script, conn, emit, timeout)


async def _transport_connection(
    server: FakeRealtimeServer, script: PreparedCassette, conn: int, emit: Emit, timeout: float
) -> None:
    frames = [prepared.frame for prepared in script.frames(conn)]
    wire = _Wire([f.t for f in frames if f.side is Side.SERVER and f.kind is not FrameKind.CLOSE])
    opened = time.monotonic()

    def now() -> float:
        return time.monotonic() - opened

    async def create_websocket(options: CreateWebSocketOptions) -> ClientConnection:
        ws = await connect(
            options.url,
            **{**connect_arguments(options.headers), "max_size": None},
            open_timeout=timeout,
            create_connection=_DriverConnection,
        )
        assert isinstance(ws, _DriverConnection)
        ws._wire = wire
        return ws

    transport = OpenAIRealtimeWebSocket(
        api_key=_FAKE_KEY, create_websocket=create_websocket, clock=wire.now_ms
    )
    refusal = parse_refusal(frames[0]) if frames else None
    try:
        async with asyncio.timeout(timeout):
            session = _session_config(frames)
            await transport.connect(
                url=server.url,
                model=_recorded_model(session, server),
                initial_session_config=session,
            )
    except TransportError as exc:
        if refusal is None:
            raise
        emit(TimelineEntry(now(), conn, Side.SERVER, f"handshake refused ({exc})"))
        return
    try:
        await _play_transport(transport, wire, frames, conn, emit, now, timeout, server)
    finally:
        await transport.aclose()


async def _play_transport(
    transport: OpenAIRealtimeWebSocket,
    wire: _Wire,
    frames: list[Frame],
    conn: int,
    emit: Emit,
    now: Callable[[], float],
    timeout: float,
    server: FakeRealtimeServer,
) -> None:
    for frame in frames:
        if frame.side is Side.CLIENT:
            if frame.kind is FrameKind.CLOSE:
                await transport.aclose()
                emit(TimelineEntry(now(), conn, Side.CLIENT, "close 1000"))
                return
            if frame.event is None:
                raise UsageError(
                    f"line {frame.lineno}: the cassette has a binary client frame, which the "
                    "transport cannot send: replay it with --client raw"
                )
            await transport.flush()
            already = _take_sent(wire, frame.event, server)
            if not already:
                transport.send_event(frame.event)
                await transport.flush()
                _take_sent(wire, frame.event, server)
            label = frame.describe() + ("  (sent by the transport itself)" if already else "")
            emit(TimelineEntry(now(), conn, Side.CLIENT, label))
            continue
        if not await _await_server_frame(wire.arrivals.get, frame, conn, emit, now, timeout):
            return


def _take_sent(wire: _Wire, recorded: dict[str, Any], server: FakeRealtimeServer) -> bool:
    """Consume the first unconsumed frame the transport sent if it matches ``recorded``."""
    if (
        wire.consumed < len(wire.sent)
        and compare_events(recorded, wire.sent[wire.consumed], server.rules).ok
    ):
        wire.consumed += 1
        return True
    return False


DRIVERS: dict[ClientKind, Driver] = {
    ClientKind.RAW: drive_raw,
    ClientKind.TRANSPORT: drive_transport,
}
