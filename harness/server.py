"""``FakeRealtimeServer``: a real WebSocket server that replays a cassette or simulates a session.

The replay rules live in :mod:`harness.replay` (pure core); this module does only the I/O:
it accepts the API's handshake (:mod:`harness._net`), feeds each client frame to the
connection's :class:`~harness.replay.Replay`, and sends what it releases, waiting on an
injectable :class:`Clock` for pacing.

Example::

    async with FakeRealtimeServer("cassettes/text_turn.jsonl") as server:
        async with websockets.asyncio.client.connect(
            server.url, additional_headers={"Authorization": "Bearer test"}
        ) as ws:
            ...
    server.verdict()  # raises CassetteMismatch / UnplayedFrames with the readable report

Connections: the n-th client to connect replays recorded connection ``conns[n % len(conns)]``,
so a one-connection cassette serves every client from the start (each with its own cursor)
and a cassette of a session that reconnected serves its connections in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import warnings
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from harness import _json, _net
from harness.cassette import Cassette, StrPath, wire_close
from harness.conversation import DEFAULT_KEEP_RECEIVED, SimulatedSession, error_event
from harness.errors import CassetteMismatch, UnplayedFrames, UsageError
from harness.matching import DEFAULT_RULES, MatchRules
from harness.redaction import RedactionRules
from harness.refusal import parse_refusal
from harness.replay import (
    DEFAULT_LOOKAHEAD,
    DEFAULT_MAX_FRAME_BYTES,
    ErrorCode,
    Malformed,
    Mismatch,
    Outgoing,
    OutKind,
    PreparedCassette,
    Replay,
    ReplayResult,
    Unplayed,
    parse_client_text,
    prepare_cassette,
)

__all__ = ["Clock", "FakeRealtimeServer", "MonotonicClock"]

# Received frames up to this size are read so that bigger-than-allowed ones (max_frame_bytes)
# get the API's error event instead of a 1009 close; beyond it websockets closes with 1009.
_READ_LIMIT = 64 * 1024 * 1024
# Frames ready at once (speed 0) go to the socket in batches of at most this many frames or
# bytes, drained once per batch: flow control stays bounded, bookkeeping is paid per batch.
_BATCH_FRAMES = 64
_BATCH_BYTES = 256 * 1024


class Clock(Protocol):
    """Where pacing gets the time and waits (inject a fake one in tests)."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (at once if it has passed)."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline``."""
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class FakeRealtimeServer:
    """A WebSocket server on 127.0.0.1 that speaks like the Realtime API from a cassette.

    Use as an async context manager; :attr:`url` is what clients connect to. Results are
    kept per connection: :attr:`mismatches`, :attr:`unplayed`, :meth:`verdict`.
    """

    def __init__(
        self,
        cassette: StrPath | Cassette | None,
        *,
        speed: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        rules: MatchRules = DEFAULT_RULES,
        lookahead: int = DEFAULT_LOOKAHEAD,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        preload_limit: int = 64 * 1024 * 1024,
        clock: Clock | None = None,
        model: str | None = None,
        allow_torn: bool = False,
        redaction: RedactionRules | None = None,
    ) -> None:
        """Load (and validate) the cassette; nothing listens until the server starts.

        Args:
            cassette: a cassette path or a loaded :class:`~harness.cassette.Cassette`
                (``None`` only through :meth:`simulate`).
            speed: 0 = as fast as causality allows, 1 = the recorded gaps, else scaled.
            host: the address to listen on.
            port: the port (0 = any free port).
            rules: how client frames are matched.
            lookahead: the causal window, in recorded frames (see :mod:`harness.replay`).
            max_frame_bytes: client frames over this size get an error event.
            preload_limit: cassette files up to this size are loaded and pre-encoded once;
                bigger ones are streamed from disk per connection (constant memory).
            clock: the clock pacing waits on (default: the monotonic clock).
            model: the model in :attr:`url` (default: the cassette's ``query.model``).
            allow_torn: serve the frames before a torn last line (a crashed recording)
                instead of refusing the cassette; ``server.cassette.torn`` names the line.
            redaction: the rules every client value the server shows is redacted with: a
                mismatch's report, diff and ``received``, the ``error`` event's message,
                and the server's log (DEBUG frames included). Give the rules the cassette
                was recorded with when you added your own (its header names them but
                cannot hold them); default :meth:`RedactionRules.default()
                <harness.redaction.RedactionRules.default>`. Matching is not affected.

        Raises:
            CassetteNotFound, CassetteError: the cassette is missing or malformed.
            UsageError: a bad option.
        """
        if speed < 0 or speed != speed:
            raise UsageError(f"speed must be 0 (no pacing) or a positive factor, got {speed}")
        self._prepared: PreparedCassette | None = (
            None
            if cassette is None
            else prepare_cassette(cassette, preload_limit=preload_limit, allow_torn=allow_torn)
        )
        self.speed = float(speed)
        self.host = host
        self._port = port
        self.rules = rules
        self.lookahead = lookahead
        self.max_frame_bytes = max_frame_bytes
        self.redaction = redaction if redaction is not None else RedactionRules.default()
        """The rules what the server shows of a client is redacted with."""
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        query_model = self._prepared.header.query.get("model") if self._prepared else None
        self.model = model or query_model or "gpt-realtime"
        self._history: tuple[Mapping[str, Any], ...] | None = None
        self._keep_received: int | None = DEFAULT_KEEP_RECEIVED
        self._server: Server | None = None
        self._serial = itertools.count()
        # handshake -> connection serial. Weak: a client that resets before the 101 never
        # reaches _handle, and its entry must go with its connection, not at aclose().
        self._serials: weakref.WeakKeyDictionary[ServerConnection, int] = (
            weakref.WeakKeyDictionary()
        )
        self._live: dict[int, Replay] = {}
        self._results: dict[int, ReplayResult] = {}
        self.sessions: list[SimulatedSession] = []
        """The :class:`~harness.conversation.SimulatedSession` of each connection (simulate)."""
        self._ended = 0  # client connections over (handled, or refused as recorded)
        self._ended_event = asyncio.Event()

    @classmethod
    def simulate(
        cls,
        history: Iterable[Mapping[str, Any]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "gpt-realtime",
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        keep_received: int | None = DEFAULT_KEEP_RECEIVED,
        redaction: RedactionRules | None = None,
    ) -> FakeRealtimeServer:
        """A server that answers like the API from a simulated conversation, no cassette.

        Each connection gets its own :class:`~harness.conversation.SimulatedSession`
        starting from ``history`` (wire items); they are in :attr:`sessions`, in connection
        order, for tests to inspect. Each keeps its newest ``keep_received`` client events
        in ``received`` (``None``: all of them; see
        :class:`~harness.conversation.SimulatedSession`). ``redaction`` redacts the
        server's log, as for a cassette.

        Raises:
            UsageError: ``keep_received`` is negative.
        """
        if keep_received is not None and keep_received < 0:
            raise UsageError(f"keep_received must be >= 0 or None, got {keep_received}")
        server = cls(
            None,
            host=host,
            port=port,
            model=model,
            max_frame_bytes=max_frame_bytes,
            redaction=redaction,
        )
        server._history = tuple(history or ())
        server._keep_received = keep_received
        return server

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (after start)."""
        if self._server is None:
            raise UsageError("the server is not started: use `async with FakeRealtimeServer(...)`")
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    @property
    def cassette(self) -> PreparedCassette:
        """The cassette being served, prepared for replay (its recorded connections)."""
        if self._prepared is None:
            raise UsageError("a simulating FakeRealtimeServer serves no cassette")
        return self._prepared

    @property
    def script(self) -> PreparedCassette:
        """Deprecated spelling of :attr:`cassette` (README: Deprecated names)."""
        warnings.warn(
            "FakeRealtimeServer.script is deprecated: use FakeRealtimeServer.cassette",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.cassette

    @property
    def base_url(self) -> str:
        """``ws://HOST:PORT/v1``: the ``openai`` client's ``websocket_base_url``."""
        return f"ws://{self.host}:{self.port}/v1"

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/v1/realtime?model=MODEL``: the URL clients connect to.

        The model is percent-encoded (a cassette's model may hold ``#``, ``&``, spaces...).
        """
        return f"{self.base_url}/realtime?model={quote(self.model, safe='')}"

    async def start(self) -> None:
        """Start listening."""
        if self._server is not None:
            return
        self._server = await serve(
            self._serve_one,
            self.host,
            self._port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,  # declining permessage-deflate is fine for every client
            max_size=max(_READ_LIMIT, self.max_frame_bytes + 1),
            logger=_net.redacting_logger("harness.server", self.redaction),
        )

    async def aclose(self) -> None:
        """Close every connection (1001) and stop listening; results are then complete."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._serials.clear()  # handshakes that never reached a handler

    async def __aenter__(self) -> FakeRealtimeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- results -------------------------------------------------------------------------------

    @property
    def results(self) -> list[ReplayResult]:
        """The result of every finished connection, in connection order."""
        return [self._results[k] for k in sorted(self._results)]

    @property
    def mismatches(self) -> list[Mismatch]:
        """Every mismatch so far, finished connections first, in order."""
        found = [m for r in self.results for m in r.mismatches]
        for key in sorted(self._live):
            found.extend(self._live[key].mismatches)
        return found

    @property
    def unplayed(self) -> list[Unplayed]:
        """The frames never played, per finished connection."""
        return [r.unplayed for r in self.results if r.unplayed is not None]

    def report(self) -> str:
        """Every mismatch and unplayed report, or ``""`` when all played exactly."""
        parts = [m.report for m in self.mismatches] + [u.report for u in self.unplayed]
        return "\n\n".join(parts)

    def verdict(self) -> None:
        """Raise if the replay diverged: mismatches first, then frames never played.

        Call after the server closed (leaving ``async with``) for complete results.

        Raises:
            CassetteMismatch: some client frame did not match; ``str()`` is the report.
            UnplayedFrames: recorded frames were never played.
        """
        mismatches = self.mismatches
        if mismatches:
            first = mismatches[0]
            raise CassetteMismatch(self.report(), expected=first.expected, received=first.received)
        unplayed = self.unplayed
        if unplayed:
            raise UnplayedFrames(self.report(), expected=unplayed[0].frames)

    def assert_played(self) -> None:
        """Deprecated alias of :meth:`verdict` (README: Deprecated names)."""
        warnings.warn(
            "FakeRealtimeServer.assert_played() is deprecated: use verdict()",
            DeprecationWarning,
            stacklevel=2,
        )
        self.verdict()

    # -- handshake -----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        refused = _net.check_handshake(request)
        if refused is not None:
            return refused
        serial = next(self._serial)
        self._serials[connection] = serial
        if self._prepared is None:
            return None
        # A recorded connection whose handshake the API refused replays as that refusal.
        conns = self._prepared.conns
        first = next(self._prepared.frames(conns[serial % len(conns)]), None)
        refusal = parse_refusal(first.frame) if first is not None else None
        if refusal is None:
            return None
        del self._serials[connection]
        self._results[serial] = ReplayResult((), None)
        self._connection_ended()
        return _net.http_response(refusal.status, refusal.reason_phrase, refusal.body)

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Subprotocol | None:
        return _net.select_realtime(list(offered))

    # -- connections ---------------------------------------------------------------------------

    @property
    def connections_ended(self) -> int:
        """How many client connections are over: closed by either side, or refused as recorded."""
        return self._ended

    async def wait_connections_ended(self, count: int = 1) -> None:
        """Return once :attr:`connections_ended` reaches ``count`` (bound it with a timeout)."""
        while self._ended < count:
            self._ended_event.clear()
            await self._ended_event.wait()

    def _connection_ended(self) -> None:
        self._ended += 1
        self._ended_event.set()

    async def _serve_one(self, ws: ServerConnection) -> None:
        try:
            await self._handle(ws)
        finally:
            self._connection_ended()

    async def _handle(self, ws: ServerConnection) -> None:
        serial = self._serials.pop(ws)
        if self._prepared is None:
            await self._simulate(ws, serial)
            return
        conns = self._prepared.conns
        conn = conns[serial % len(conns)]
        replay = Replay(
            self._prepared.frames(conn),
            rules=self.rules,
            speed=self.speed,
            lookahead=self.lookahead,
            max_frame_bytes=self.max_frame_bytes,
            cassette=self._prepared.path,
            conn=conn,
            serial=serial,
            redaction=self.redaction,
        )
        self._live[serial] = replay
        wake = asyncio.Event()
        replay.connect(self.clock.now())
        sender = asyncio.create_task(self._send_loop(ws, replay, wake))
        try:
            try:
                async for message in ws:
                    now = self.clock.now()
                    if isinstance(message, str):
                        replay.receive_text(message, now)
                    else:
                        replay.receive_binary(message, now)
                    wake.set()
            except ConnectionClosed:
                pass
            initiated, code = _net.peer_closed_first(ws)
            if initiated:  # a close answering ours (or a dropped link) is not a client frame
                replay.receive_close(code, self.clock.now())
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._results[serial] = replay.finish()
            del self._live[serial]

    async def _send_loop(self, ws: ServerConnection, replay: Replay, wake: asyncio.Event) -> None:
        clock = self.clock
        # Frames taken from the replay and not yet written to the socket: a paced frame
        # waiting for its time, a batch being gathered. If the connection ends first they
        # go back to the replay, which reports them as never played (no false PASS).
        held: list[Outgoing] = []
        size = 0
        try:
            while True:
                out = replay.next_to_send()
                if out is None:
                    if held:  # all that is ready now goes out before waiting
                        await _send_held(ws, held)
                        size = 0
                        continue
                    if replay.ended:
                        return
                    await wake.wait()
                    wake.clear()
                    continue
                if out.due and held:  # paced: each frame at its own time, unbatched
                    await _send_held(ws, held)
                    size = 0
                held.append(out)
                if out.due:
                    await clock.sleep_until(out.due)
                kind = out.kind
                if kind is OutKind.TEXT or kind is OutKind.BINARY:
                    size += len(out.data)
                    if out.due or len(held) >= _BATCH_FRAMES or size >= _BATCH_BYTES:
                        await _send_held(ws, held, keep_last=False)
                        size = 0
                    continue
                await _send_held(ws, held, keep_last=True)  # the frames before the close
                # The close frame is written before close() first awaits, so it counts as
                # sent from here: the handler may cancel us while close() awaits the
                # client's answer.
                held.clear()
                if kind is OutKind.CLOSE:
                    await _net.send_close(ws, *wire_close(out.code, out.reason))
                else:
                    _net.abort(ws)
                return
        except ConnectionClosed:
            replay.unsend(held)
            return
        except asyncio.CancelledError:
            replay.unsend(held)
            raise

    async def _simulate(self, ws: ServerConnection, serial: int) -> None:
        session = SimulatedSession(
            self._history or (), model=self.model, keep_received=self._keep_received
        )
        self.sessions.append(session)
        errors = itertools.count(1)

        def refuse(malformed: Malformed) -> dict[str, Any]:
            return error_event(
                f"event_harness{serial:04d}x{next(errors):06d}",
                code=malformed.code,
                message=malformed.message,
                param=malformed.param,
            )

        try:
            for event in session.on_connect():
                await ws.send(_json.dumps(event), text=True)
            async for message in ws:
                if isinstance(message, bytes):
                    answers = [
                        refuse(
                            Malformed(
                                ErrorCode.BINARY_NOT_SUPPORTED,
                                "Binary frames are not supported: send JSON text events.",
                            )
                        )
                    ]
                else:
                    parsed = parse_client_text(message, max_bytes=self.max_frame_bytes)
                    answers = (
                        [refuse(parsed)]
                        if isinstance(parsed, Malformed)
                        else session.handle(parsed)
                    )
                for event in answers:
                    await ws.send(_json.dumps(event), text=True)
        except ConnectionClosed:
            return


async def _send_held(
    ws: ServerConnection, held: list[Outgoing], *, keep_last: bool = False
) -> None:
    """Send the held frames (all but the last with ``keep_last``) and stop holding them.

    On an open connection websockets writes every message to the transport before its
    first await (``send_context``), so they count as sent from the call on: a cancel during
    the drain that follows does not report frames the client may already have.
    """
    outs = held[:-1] if keep_last else held[:]
    if not outs:
        return
    messages = [(o.data, o.kind is OutKind.TEXT) for o in outs]
    written = ws.state is State.OPEN
    if written:
        del held[: len(outs)]
    await _net.send_messages(ws, messages)  # raises ConnectionClosed when not open
    if not written:
        del held[: len(outs)]
