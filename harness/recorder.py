"""Record real Realtime sessions to cassettes: the recording proxy, a relay any client uses.

:class:`RecordingProxy` listens on 127.0.0.1; any client (our transport, the ``openai``
client, ``openai-agents``, the JS SDK, a browser) connects to it as if it were the API. For
each client connection the proxy:

1. opens the upstream connection *during the client's handshake*, with the client's own
   credentials (every request header but the WebSocket mechanics, and the offered
   subprotocols), so an upstream refusal reaches the client as the same HTTP response
   (status, headers, body); an unreachable upstream becomes HTTP 502 (504 on timeout) with
   the API's JSON ``error`` body shape;
2. accepts the client with the subprotocol the upstream selected;
3. relays every message both ways, text as text and binary as binary, never reordering
   them; each message is redacted and its cassette line written *before* it is forwarded,
   so the file order respects causality: a reply is never written before the frame that
   caused it. The relay works per read, not per frame: the messages one read brought are
   written with one ``write`` call and forwarded with one transport write, in websockets'
   data callback, with no task switch per frame (see :class:`_Pipe`);
4. propagates the close: the side that closes first is recorded as a ``close`` frame and
   its code and reason are passed on to the other side (a close without status stays
   without status, 1005); a connection lost without a close frame is recorded as 1006 and
   the other side's TCP connection is aborted. The echo of a close handshake is not
   recorded: it carries no information. A close the proxy itself sends (a text frame that
   is not UTF-8: 1007; shutting down: 1001) is passed on to the other side, unrecorded.

:class:`~harness.tap.TransportTap` (in :mod:`harness.tap`, since it needs the transport)
records our own :class:`~harness.transport.OpenAIRealtimeWebSocket` without a proxy.

A refused handshake is recorded as a one-frame connection: a ``server`` ``close`` frame with
code ``4000 + HTTP status`` (4401, 4502, ...) and reason ``"handshake refused: HTTP 401
Unauthorized"``, a newline, and the (redacted) response body. See
:mod:`harness.refusal`.

Nothing a recording does destroys or corrupts a cassette: frames go to
``NAME.recording.jsonl`` beside it, which replaces the cassette atomically when the proxy
or tap closes, and only if the recording is *sound* (at least one connection completed its
handshake with the upstream, and nothing failed inside the harness: a write, the relay, an
upstream the proxy could not reach). Otherwise the cassette stays byte-identical, the
attempt is kept as ``NAME.failed.jsonl`` and :class:`~harness.errors.RecordingError` says
why. See :class:`~harness.recording.RecordingSink` and :func:`~harness.recording.side_files`.

Timestamps ``t`` count from the moment the connection is open (for a refusal, from the
client's request); ``conn`` numbers connections from 0 (or from ``first_conn`` when
appending). The cassette header is written when the first client connects: its endpoint is
the client's path and (redacted) query, ``client`` its User-Agent, ``redactions`` the names
of every rule that ran (see :mod:`harness.redaction`), and the extra keys ``recorder`` (who
wrote it) and ``handshake`` (the first connection's redacted request headers and offered
subprotocols).

No secret is written: every frame, header value, query value, close reason and refusal body
goes through the redaction rules first.
"""

from __future__ import annotations

import asyncio
import http
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import CloseCode, Opcode
from websockets.frames import Frame as WsFrame
from websockets.http11 import Request, Response
from websockets.protocol import Event, State
from websockets.typing import Subprotocol

from harness import _net
from harness.cassette import (
    Side,
    StrPath,
)
from harness.errors import (
    RecordingError,
    UsageError,
)
from harness.modes import RecordMode
from harness.recording import RecordingSink, starting_conn
from harness.redaction import RedactionRules, RuleKind, redact_url, redacting_logger

__all__ = [
    "DEFAULT_UPSTREAM",
    "RecordMode",
    "RecordingProxy",
]

# Names that moved out of this module (README: "Deprecated names"): importable from here,
# with a DeprecationWarning, until 0.3. Their modules load on first use only, so that
# importing the recorder loads neither the transport (harness.tap) nor the CLI.
_MOVED: dict[str, str] = {
    "Refusal": "harness.refusal",
    "parse_refusal": "harness.refusal",
    "refusal_frame": "harness.refusal",
    "side_files": "harness.recording",
    "TransportTap": "harness.tap",
    "add_record_arguments": "harness.cli",
    "run_record": "harness.cli",
}


def __getattr__(name: str) -> Any:
    new = _MOVED.get(name)
    if new is None:
        raise AttributeError(f"module 'harness.recorder' has no attribute {name!r}")
    warnings.warn(
        f"harness.recorder.{name} is deprecated: import it from {new}",
        DeprecationWarning,
        stacklevel=2,
    )
    if new == "harness.refusal":
        from harness import refusal

        return getattr(refusal, name)
    if new == "harness.recording":
        from harness import recording

        return getattr(recording, name)
    if new == "harness.tap":
        from harness import tap

        return getattr(tap, name)
    from harness import cli

    return getattr(cli, name)


DEFAULT_UPSTREAM = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
"""Where recordings go unless told otherwise (a client's own ``?model=`` wins)."""

# Request headers that belong to one hop of the WebSocket handshake, never forwarded as is.
_HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "user-agent",  # passed as the client's own User-Agent, see _open_upstream
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
# Response headers of a refusal that the proxy's own HTTP layer sets again.
_RESPONSE_HOP_HEADERS = frozenset(
    {"connection", "content-length", "transfer-encoding", "upgrade", "date", "server"}
)
_DATA_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})

logger = redacting_logger("harness.recorder")  # records scrubbed before any handler sees them


# -- the proxy ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    """One relayed connection: its index, clock origin, upstream, and what is left to do."""

    conn: int
    t0: float
    upstream: _RelayedClientConnection
    record: bool = True
    closed: bool = False
    """Set by the watcher that saw the first close; after it, frames are not recorded."""
    failed: asyncio.Future[BaseException] | None = None
    """Resolved with the exception when recording fails (the relay cannot raise)."""
    pipes: tuple[_Pipe, ...] = ()
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def fail(self, exc: BaseException) -> None:
        """Stop relaying and wake the connection's handler with ``exc``."""
        for pipe in self.pipes:
            pipe.stopped = True
            pipe.update_reading()  # what is read now is dropped: keep reading the closes
        if self.failed is not None and not self.failed.done():
            self.failed.set_result(exc)


class _Relayed(Connection):
    """A websockets connection whose data frames go to a :class:`_Pipe`, not to ``recv()``.

    websockets still parses every frame, answers pings and runs the closing handshake;
    only the delivery of data frames changes (``process_event``, websockets' own hook for
    its subclasses). Until a pipe is attached, data frames wait in ``early`` and reading
    pauses, so at most one read's worth of frames waits.
    """

    pipe: _Pipe | None = None
    """The pipe that carries what this connection receives."""
    feeder: _Pipe | None = None
    """The pipe that writes to this connection."""
    early: list[WsFrame] | None = None
    write_paused: bool = False

    def process_event(self, event: Event) -> None:
        if isinstance(event, WsFrame) and event.opcode in _DATA_OPCODES:
            if self.pipe is not None:
                self.pipe.take(event)
            else:
                if self.early is None:
                    self.early = []
                self.early.append(event)
                self.transport.pause_reading()
        else:
            super().process_event(event)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # parses; every data frame goes to process_event
        if self.pipe is not None:
            self.pipe.flush()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.write_paused = True
        if self.feeder is not None:
            self.feeder.update_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.write_paused = False
        if self.feeder is not None:
            self.feeder.update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # asyncio does not resume writing on a lost connection: resume the feeder's
        # source, or it would never read the close that ends it.
        self.write_paused = False
        if self.feeder is not None:
            self.feeder.update_reading()


class _RelayedServerConnection(_Relayed, ServerConnection):
    """The proxy's side of a client's connection."""


class _RelayedClientConnection(_Relayed, ClientConnection):
    """The proxy's connection to the upstream."""


class _Pipe:
    """One direction of a relayed connection: messages from ``source`` to ``sink``.

    Theory of operation (all of it runs in the source's ``data_received`` callback, so
    nothing else runs in between and no task switch is paid per frame):

    1. websockets parses what one read brought; each data frame reaches :meth:`take`,
       which reassembles fragmented messages and queues each whole message, in order.
    2. :meth:`flush` then redacts and builds the cassette line of every queued message
       and appends them all with one ``write`` call, *before* any of them is forwarded:
       a process killed at any instant leaves every forwarded frame's line complete, and
       the file never shows a reply before the frame that caused it (a reply can only
       come after the frame was forwarded, hence after its line was written).
    3. The messages are then handed, in order, text as text and binary as binary, to the
       sink's sans-I/O protocol, which frames them (masking them towards the upstream),
       and the frames go out in one transport write.
    4. Flow control: while the sink's transport is over its high-water mark, reading
       from the source pauses (``pause_writing``/``resume_writing``, asyncio's own
       signals), so memory stays bounded however fast one side sends.
    5. Closes are not relayed here: websockets runs each side's closing handshake, and
       the proxy's watcher (``RecordingProxy._watch``) records and propagates the close
       once a side is closed, as before. A message for a sink that is no longer open is
       dropped (its side is closing); it is still recorded until a close is recorded.
    6. A text message that is not UTF-8 fails its source with 1007, as websockets does;
       a failure to record (disk full, ...) stops both pipes and closes both sides with
       1011 through the handler.
    """

    def __init__(
        self,
        sink_file: RecordingSink,
        session: _Session,
        side: Side,
        source: _Relayed,
        sink: _Relayed,
    ) -> None:
        self.cassette = sink_file
        self.session = session
        self.side = side
        self.source = source
        self.sink = sink
        self.queue: list[tuple[bool, bytes]] = []
        self.fragments: list[bytes] = []
        self.fragments_text = False
        self.stopped = False
        self._peak_buffered = 0

    @property
    def peak_buffered(self) -> int:
        """The most bytes this pipe ever left waiting in the sink's write buffer.

        Sampled after each forward, the only moment the buffer grows. Flow control keeps
        it under the sink's high-water mark plus what one read brought (rule 4): this is
        the figure that shows the proxy's memory stays bounded when a reader is slow.
        """
        return self._peak_buffered

    def attach(self) -> None:
        """Take over the source's data frames: first those that came early, then all."""
        self.source.pipe = self
        self.sink.feeder = self
        early, self.source.early = self.source.early or [], None
        for frame in early:
            self.take(frame)
        self.flush()
        self.update_reading()

    def take(self, frame: WsFrame) -> None:
        """Queue the message a data frame completes (fragments wait for the last one)."""
        if frame.opcode is Opcode.CONT:
            self.fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            data = b"".join(self.fragments)
            self.fragments = []
            self.queue.append((self.fragments_text, data))
        elif not frame.fin:
            self.fragments = [bytes(frame.data)]
            self.fragments_text = frame.opcode is Opcode.TEXT
        else:
            self.queue.append((frame.opcode is Opcode.TEXT, bytes(frame.data)))

    def flush(self) -> None:
        """Record, then forward, every queued message (see the class docstring)."""
        queue = self.queue
        if not queue:
            return
        self.queue = []
        if self.stopped:
            return
        session = self.session
        ready = len(queue)
        invalid: UnicodeDecodeError | None = None
        try:
            if session.record and not session.closed:
                t = self.source.loop.time() - session.t0
                lines: list[bytes] = []
                for index, (text, data) in enumerate(queue):
                    try:
                        lines.append(
                            self.cassette.message_line(self.side, t, session.conn, text, data)
                        )
                    except UnicodeDecodeError as exc:
                        ready, invalid = index, exc
                        break
                if lines:
                    self.cassette.write_lines(session.conn, t, lines)
            else:
                for index, (text, data) in enumerate(queue):
                    if text:
                        try:
                            data.decode()
                        except UnicodeDecodeError as exc:
                            ready, invalid = index, exc
                            break
        except Exception as exc:
            session.fail(exc)
            return
        self.forward(queue[:ready] if invalid is not None else queue)
        if invalid is not None:
            self.fail_source(invalid)

    def forward(self, messages: list[tuple[bool, bytes]]) -> None:
        """Frame the messages for the sink and write them in one go."""
        sink = self.sink
        protocol = sink.protocol
        if not messages or protocol.state is not State.OPEN:
            return  # closing: the watchers record and pass on the close
        for text, data in messages:
            if text:
                protocol.send_text(data)
            else:
                protocol.send_binary(data)
        # Only data frames were queued (the sink flushes its own pongs and closes as it
        # makes them, and an open protocol queues no end of stream): one write.
        transport = sink.transport
        transport.write(b"".join(protocol.data_to_send()))
        buffered = transport.get_write_buffer_size()
        if buffered > self._peak_buffered:
            self._peak_buffered = buffered

    def fail_source(self, exc: UnicodeDecodeError) -> None:
        """Close the source as websockets does for a text frame that is not UTF-8."""
        self.stopped = True
        self.update_reading()
        reason = f"{exc.reason} at position {exc.start}"
        task = self.source.loop.create_task(self.source.close(CloseCode.INVALID_DATA, reason))
        self.session.tasks.add(task)
        task.add_done_callback(self.session.tasks.discard)

    def update_reading(self) -> None:
        """Read from the source unless the sink's transport is full (and we forward)."""
        if self.sink.write_paused and not self.stopped:
            self.source.transport.pause_reading()
        else:
            self.source.transport.resume_reading()


class RecordingProxy:
    """Relay clients to the real API and write what crosses the wire to a cassette.

    Use it as an async context manager; connect any client to :attr:`url` (or give the
    ``openai`` client :attr:`base_url`)::

        async with RecordingProxy("wss://api.openai.com/v1/realtime", "session.jsonl") as proxy:
            ...  # connect to proxy.url with your real API key, as you would to the API

    Args:
        upstream_url: the real endpoint. A client's request path is passed through (a client
            that asks for ``/`` gets the upstream's path); the upstream URL's query
            parameters are added where the client's request lacks them.
        cassette_path: the cassette. It is replaced, atomically, when the proxy closes and
            only if the recording is sound (see :class:`~harness.errors.RecordingError`);
            until then the frames go to ``NAME.recording.jsonl`` beside it.
        host: the interface to listen on.
        port: the port (0 picks a free one).
        redaction: the rules applied before anything is written
            (:meth:`RedactionRules.default` unless given).
        append: add connections to an existing cassette instead of replacing it (the old
            lines are kept byte for byte; a failed recording adds nothing).
        first_conn: the ``conn`` index of the first recorded connection (default: 0, or
            when appending, one past the cassette's last ``conn``).
        passthrough: ``(url, count)``: the first ``count`` client connections are relayed
            to ``url`` without being recorded; the ones after them are recorded from
            ``first_conn`` on (used to replay recorded episodes while recording new ones,
            see :mod:`harness.modes`).
        note: free text for the cassette header.
        open_timeout: seconds allowed to open each upstream connection.
    """

    def __init__(
        self,
        upstream_url: str,
        cassette_path: StrPath,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        redaction: RedactionRules | None = None,
        append: bool = False,
        first_conn: int | None = None,
        passthrough: tuple[str, int] | None = None,
        note: str = "",
        open_timeout: float = 10.0,
    ) -> None:
        rules = redaction if redaction is not None else RedactionRules.default()
        split = urlsplit(upstream_url)
        if split.scheme not in ("ws", "wss") or not split.netloc:
            raise UsageError(
                f"upstream URL must be ws:// or wss:// with a host, got "
                f"{redact_url(upstream_url, rules)!r}"
            )
        if not 0 <= port <= 65535:
            raise UsageError(f"port {port} is out of range: give 1-65535, or 0 for any free port")
        self.upstream_url = upstream_url
        self.cassette_path = os.fspath(cassette_path)
        self.host = host
        self.port = port
        self.redaction = rules
        self._sink = RecordingSink(
            cassette_path, rules, by="harness.RecordingProxy", note=note, append=append
        )
        self._first_conn = starting_conn(cassette_path, append, first_conn)
        self._passthrough = passthrough
        self._open_timeout = open_timeout
        self._upstream = split
        self._server: Server | None = None
        # websockets' own logs (headers and frames at DEBUG) scrubbed with these rules.
        self._server_log = _net.redacting_logger(_net.SERVER_LOGGER, rules)
        self._client_log = _net.redacting_logger(_net.CLIENT_LOGGER, rules)
        self._sessions: dict[ServerConnection, _Session] = {}
        self.connections = 0
        """How many client connections reached the proxy (refused ones included)."""
        self.errors: list[str] = self._sink.errors
        """What went wrong while recording (redacted), one line each; empty when all is well."""
        self.failure: RecordingError | None = None
        """Why the cassette was not written, once the proxy closed (``None``: it was)."""

    # -- public face -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL a client connects to instead of the upstream.

        The upstream's path and query, minus the parameters a redaction rule names
        (``api_key``): the proxy adds those to the upstream request itself.
        """
        path = self._upstream.path or "/"
        secret = {r.target for r in self.redaction.rules if r.kind is RuleKind.QUERY}
        query = [
            (k, v)
            for k, v in parse_qsl(self._upstream.query, keep_blank_values=True)
            if k not in secret
        ]
        return f"ws://{self._netloc()}{path}" + (f"?{urlencode(query)}" if query else "")

    @property
    def base_url(self) -> str:
        """The ``openai`` client's ``websocket_base_url`` (it appends ``/realtime?model=``).

        ``ws://HOST:PORT/v1`` for an upstream at ``.../v1/realtime``.
        """
        path = self._upstream.path.rstrip("/")
        if path.endswith("/realtime"):
            path = path[: -len("/realtime")]
        return f"ws://{self._netloc()}{path}"

    def _netloc(self) -> str:
        if self._server is None:
            raise UsageError("RecordingProxy is not running: use it as `async with proxy:`")
        return f"{self.host}:{self.port}"

    @property
    def handshakes(self) -> int:
        """How many recorded connections completed their handshake with the upstream."""
        return self._sink.handshakes

    async def start(self) -> None:
        """Start listening (``async with`` does it for you).

        Raises:
            UsageError: the address cannot be listened on (a port in use, ...), the
                cassette path is a directory, or its staging file exists (another
                recorder, or one that was killed: the message names the file).
        """
        if self._server is not None:
            return
        try:
            await self._listen()
        except (OSError, OverflowError) as exc:
            errno = exc.errno if isinstance(exc, OSError) else None
            detail = os.strerror(errno) if errno else str(exc)
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {detail}") from None
        try:
            self._sink.reserve()
        except BaseException:
            server, self._server = self._server, None
            if server is not None:
                server.close()
                await server.wait_closed()
            raise

    async def _listen(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=None,
            ping_interval=None,
            server_header=None,
            open_timeout=self._open_timeout + 5,
            create_connection=_RelayedServerConnection,
            logger=self._server_log,
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self.port = int(sockname[1])

    async def aclose(self) -> None:
        """Stop listening, close every relayed connection, then write the cassette.

        The cassette is replaced only if the recording is sound (see
        :class:`~harness.recording.RecordingSink`).

        Raises:
            RecordingError: it was not: the cassette is unchanged, the attempt is kept in
                the ``.failed.jsonl`` side file (:attr:`failure` holds the error too).
        """
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()
        for session in list(self._sessions.values()):
            await session.upstream.close()
        self._sessions.clear()
        try:
            self._sink.finish()
        except RecordingError as exc:
            self.failure = exc
            raise

    async def __aenter__(self) -> RecordingProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.aclose()
            return
        try:  # never hide the body's own exception; the failure stays in .failure
            await self.aclose()
        except RecordingError as failure:
            logger.warning("%s", failure)

    # -- the handshake ---------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        index = self.connections
        self.connections += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        passed = 0 if self._passthrough is None else self._passthrough[1]
        if index < passed:
            return await self._open_passthrough(connection, request, index)
        conn = self._first_conn + index - passed
        path, query = _request_target(request.path, self._upstream)
        self._sink.open(
            path,
            query.items(),
            request.headers.get("User-Agent", ""),
            request.headers.raw_items(),
            _net.offered_subprotocols(request),
        )
        target = _upstream_target(request.path, self._upstream)
        try:
            upstream = await self._open_upstream(target, request)
        except InvalidStatus as exc:
            response = exc.response
            self._sink.refusal(
                conn,
                loop.time() - started,
                response.status_code,
                response.reason_phrase,
                bytes(response.body),
            )
            headers = Headers(
                (k, v)
                for k, v in response.headers.raw_items()
                if k.lower() not in _RESPONSE_HOP_HEADERS
            )
            return Response(response.status_code, response.reason_phrase, headers, response.body)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            # The proxy's own refusal: the client is told, but this connection was not
            # recorded faithfully, so the recording is not sound (see RecordingSink.finish).
            timeout = isinstance(exc, TimeoutError)
            status = http.HTTPStatus.GATEWAY_TIMEOUT if timeout else http.HTTPStatus.BAD_GATEWAY
            message = self.redaction.redact_free_text(
                f"harness.RecordingProxy could not open the upstream connection to "
                f"{redact_url(target, self.redaction)}: {type(exc).__name__}: {exc}"
            ).value
            refused = _net.api_error_response(
                status,
                message,
                code="upstream_timeout" if timeout else "upstream_unreachable",
                error_type="proxy_error",
            )
            self._sink.refusal(
                conn,
                loop.time() - started,
                status,
                status.phrase,
                bytes(refused.body),
                by_proxy=message,
            )
            return refused
        self._sink.handshakes += 1
        self._sessions[connection] = _Session(conn, loop.time(), upstream)
        return None

    async def _open_upstream(self, target: str, request: Request) -> _RelayedClientConnection:
        offered = _net.offered_subprotocols(request)
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() not in _HOP_HEADERS]
        upstream = await connect(
            target,
            additional_headers=headers,
            user_agent_header=request.headers.get("User-Agent"),
            subprotocols=[Subprotocol(s) for s in offered] or None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=self._open_timeout,
            create_connection=_RelayedClientConnection,
            logger=self._client_log,
        )
        assert isinstance(upstream, _RelayedClientConnection)
        return upstream

    async def _open_passthrough(
        self, connection: ServerConnection, request: Request, conn: int
    ) -> Response | None:
        assert self._passthrough is not None
        base = urlsplit(self._passthrough[0])
        try:
            upstream = await self._open_upstream(_upstream_target(request.path, base), request)
        except InvalidStatus as exc:
            response = exc.response
            return Response(response.status_code, response.reason_phrase, Headers(), response.body)
        self._sessions[connection] = _Session(conn, 0.0, upstream, record=False)
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Iterable[Subprotocol]
    ) -> Subprotocol | None:
        session = self._sessions.get(connection)
        return session.upstream.subprotocol if session is not None else None

    # -- relaying --------------------------------------------------------------------------

    async def _handle(self, client: ServerConnection) -> None:
        session = self._sessions[client]
        upstream = session.upstream
        assert isinstance(client, _RelayedServerConnection)
        session.failed = asyncio.get_running_loop().create_future()
        watchers = {
            asyncio.create_task(self._watch(client, upstream, Side.CLIENT, session)),
            asyncio.create_task(self._watch(upstream, client, Side.SERVER, session)),
        }
        try:
            # What the upstream sent before the client was accepted goes first: it cannot
            # answer client frames, none of which had been forwarded yet.
            session.pipes = (
                _Pipe(self._sink, session, Side.SERVER, upstream, client),
                _Pipe(self._sink, session, Side.CLIENT, client, upstream),
            )
            for pipe in session.pipes:
                pipe.attach()
            pending: set[asyncio.Future[Any]] = {*watchers, session.failed}
            while pending != {session.failed}:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if session.failed in done:
                    raise session.failed.result()
                for task in done:
                    task.result()
        except Exception as exc:
            if exc is not self._sink.write_error:  # that one is in errors already
                self.errors.append(
                    self.redaction.redact_free_text(
                        f"conn {session.conn}: {type(exc).__name__}: {exc}"
                    ).value
                )
            # Reported by aclose (RecordingError); logged for whoever watches the proxy.
            logger.info("recording failed: %s", self.errors[-1])
            session.fail(exc)
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await upstream.close(1011, "recorder failed")
            await client.close(1011, "recorder failed")
        finally:
            self._sessions.pop(client, None)
            await upstream.close()
            if session.tasks:
                await asyncio.gather(*session.tasks, return_exceptions=True)

    async def _watch(
        self,
        source: _Relayed,
        sink: _Relayed,
        side: Side,
        session: _Session,
    ) -> None:
        """Once ``source`` is closed, record and pass on its close if it closed first."""
        loop = asyncio.get_running_loop()
        await source.wait_closed()
        if session.closed:
            return  # the other side closed first; this is the echo or the aftermath
        session.closed = True
        protocol = source.protocol
        received = protocol.close_rcvd
        if received is not None and protocol.close_rcvd_then_sent:
            # ``source`` closed first: record its close and pass it on, code and reason.
            code: int | None = None if received.code == 1005 else received.code
            if session.record:
                self._sink.write_close(
                    side, loop.time() - session.t0, session.conn, code, received.reason
                )
            await _net.send_close(sink, code, received.reason)
        elif received is None and protocol.close_sent is None:
            # Lost without a close frame: abnormal closure, shown to the other side as such.
            if session.record:
                self._sink.write_close(side, loop.time() - session.t0, session.conn, 1006, "")
            _net.abort(sink)
        elif (sent := protocol.close_sent) is not None:
            # The proxy closed ``source`` itself (a text frame that was not UTF-8, the
            # server shutting down): neither side sent that close, so it is not recorded,
            # but the other side ends the same way instead of staying open forever.
            await _net.send_close(sink, None if sent.code == 1005 else sent.code, sent.reason)


# -- URLs -------------------------------------------------------------------------------------


def _request_target(request_path: str, upstream: SplitResult) -> tuple[str, dict[str, str]]:
    """The path and merged query a client request reaches upstream (query not redacted)."""
    split = urlsplit(request_path)
    path = split.path if split.path not in ("", "/") else (upstream.path or "/")
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    for key, value in parse_qsl(upstream.query, keep_blank_values=True):
        query.setdefault(key, value)
    return path, query


def _upstream_target(request_path: str, upstream: SplitResult) -> str:
    path, query = _request_target(request_path, upstream)
    return urlunsplit((upstream.scheme, upstream.netloc, path, urlencode(query), ""))
