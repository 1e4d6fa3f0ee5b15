"""Record real Realtime sessions to cassettes: a recording proxy and a tap on our transport.

:class:`RecordingProxy` listens on 127.0.0.1; any client (our transport, the ``openai``
client, ``openai-agents``, the JS SDK, a browser) connects to it as if it were the API. For
each client connection the proxy:

1. opens the upstream connection *during the client's handshake*, with the client's own
   credentials (every request header but the WebSocket mechanics, and the offered
   subprotocols), so an upstream refusal reaches the client as the same HTTP response
   (status, headers, body); an unreachable upstream becomes HTTP 502 (504 on timeout) with
   a JSON ``error`` body;
2. accepts the client with the subprotocol the upstream selected;
3. relays every frame both ways with two pump tasks, text as text and binary as binary,
   never reordering them; each frame is redacted and written to the cassette (one flushed
   line) *before* it is forwarded, so the file order respects causality: a reply is never
   written before the frame that caused it;
4. propagates the close: the side that closes first is recorded as a ``close`` frame and
   its code and reason are passed on to the other side (a close without status stays
   without status, 1005); a connection lost without a close frame is recorded as 1006 and
   the other side's TCP connection is aborted. The echo of a close handshake is not
   recorded: it carries no information.

A refused handshake is recorded as a one-frame connection: a ``server`` ``close`` frame with
code ``4000 + HTTP status`` (4401, 4502, ...) and reason ``"handshake refused: HTTP 401
Unauthorized"`` followed by a newline and the (redacted) response body. See
:func:`refusal_frame` / :func:`parse_refusal`.

Timestamps ``t`` count from the moment the upstream connection is open (for a refusal, from
the client's request); ``conn`` numbers the proxy's connections from 0 (or from
``first_conn`` when appending). The cassette header is written when the first client
connects: its endpoint is the client's path and (redacted) query, ``client`` its
User-Agent, ``redactions`` the names of every rule that ran, and the extra key
``handshake`` the first connection's redacted request headers and subprotocols.

No secret is written: see :mod:`harness.redaction`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from harness import _json
from harness.cassette import CassetteWriter, Frame, Header, Made, Side, StrPath
from harness.errors import UsageError
from harness.modes import RecordMode
from harness.redaction import RedactionRules

__all__ = [
    "DEFAULT_UPSTREAM",
    "RecordMode",
    "RecordingProxy",
    "Refusal",
    "parse_refusal",
    "refusal_frame",
]

DEFAULT_UPSTREAM = "wss://api.openai.com/v1/realtime"
"""Where recordings go unless told otherwise."""

_REFUSAL_PREFIX = "handshake refused: HTTP "
_CLIENT_NAME = "harness.RecordingProxy"
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

logger = logging.getLogger("harness.recorder")


# -- the refusal representation ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upstream that refused the opening handshake, as recorded in a cassette.

    Attributes:
        status: the HTTP status the client received (401, 502, ...).
        reason_phrase: the status text (``"Unauthorized"``).
        body: the response body, redacted.
    """

    status: int
    reason_phrase: str
    body: str


def refusal_frame(conn: int, t: float, refusal: Refusal) -> Frame:
    """The close frame that records a refused handshake (code ``4000 + status``)."""
    reason = f"{_REFUSAL_PREFIX}{refusal.status} {refusal.reason_phrase}\n{refusal.body}"
    return Frame.of_close(Side.SERVER, t, conn, 4000 + refusal.status, reason)


def parse_refusal(frame: Frame) -> Refusal | None:
    """Return the refusal a frame records, or ``None`` if it is an ordinary frame."""
    if (
        frame.side is not Side.SERVER
        or frame.close_code is None
        or frame.event is not None
        or frame.binary is not None
        or not frame.close_reason.startswith(_REFUSAL_PREFIX)
    ):
        return None
    status_line, _, body = frame.close_reason[len(_REFUSAL_PREFIX) :].partition("\n")
    code, _, phrase = status_line.partition(" ")
    if not code.isdigit() or frame.close_code != 4000 + int(code):
        return None
    return Refusal(int(code), phrase, body)


# -- the proxy ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    """One relayed connection: its index, clock origin, upstream, and what is left to do."""

    conn: int
    t0: float
    upstream: ClientConnection
    record: bool = True
    closed: bool = False
    """Set by the pump that saw the first close; the other pump only winds down."""


class RecordingProxy:
    """Relay clients to the real API and write what crosses the wire to a cassette.

    Use it as an async context manager; connect any client to :attr:`url` (or give the
    ``openai`` client :attr:`websocket_base_url`)::

        async with RecordingProxy("wss://api.openai.com/v1/realtime", "session.jsonl") as proxy:
            ...  # connect to proxy.url with your real API key, as you would to the API

    Args:
        upstream_url: the real endpoint. A client's request path is passed through (a client
            that asks for ``/`` gets the upstream's path); the upstream URL's query
            parameters are added where the client's request lacks them.
        cassette_path: where to write; created (or truncated) when the first client connects.
        host: the interface to listen on.
        port: the port (0 picks a free one).
        redaction: the rules applied before anything is written
            (:meth:`RedactionRules.default` unless given).
        append: append connections to an existing cassette instead of overwriting it.
        first_conn: the ``conn`` index of the first connection (for appending episodes).
        passthrough: connections with an index below ``passthrough[1]`` are relayed to the
            URL ``passthrough[0]`` without being recorded (used to replay recorded episodes
            while recording new ones, see :class:`~harness.modes.RecordMode`).
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
        first_conn: int = 0,
        passthrough: tuple[str, int] | None = None,
        note: str = "",
        open_timeout: float = 10.0,
    ) -> None:
        split = urlsplit(upstream_url)
        if split.scheme not in ("ws", "wss") or not split.netloc:
            raise UsageError(
                f"upstream URL must be ws:// or wss:// with a host, got "
                f"{_redact_url(upstream_url, redaction or RedactionRules.default())!r}"
            )
        self.upstream_url = upstream_url
        self.cassette_path = os.fspath(cassette_path)
        self.host = host
        self.port = port
        self.redaction = redaction if redaction is not None else RedactionRules.default()
        self.note = note
        self._append = append
        self._next_conn = first_conn
        self._passthrough = passthrough
        self._open_timeout = open_timeout
        self._upstream = split
        self._writer: CassetteWriter | None = None
        self._server: Server | None = None
        self._sessions: dict[ServerConnection, _Session] = {}
        self.connections = 0
        """How many client connections reached the proxy (refused ones included)."""
        self.errors: list[str] = []
        """What went wrong while recording (redacted), one line each; empty when all is well."""

    # -- public face -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL a client connects to instead of the upstream (same path, no query)."""
        path = self._upstream.path or "/"
        return f"ws://{self._netloc()}{path}"

    @property
    def websocket_base_url(self) -> str:
        """For the ``openai`` client, which connects to ``websocket_base_url + "/realtime"``."""
        path = self._upstream.path.rstrip("/")
        if path.endswith("/realtime"):
            path = path[: -len("/realtime")]
        return f"ws://{self._netloc()}{path}"

    def _netloc(self) -> str:
        if self._server is None:
            raise UsageError("RecordingProxy is not running: use it as `async with proxy:`")
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening (``async with`` does it for you)."""
        if self._server is not None:
            return
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
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self.port = int(sockname[1])

    async def aclose(self) -> None:
        """Stop listening, close every relayed connection and the cassette file."""
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()
        for session in list(self._sessions.values()):
            await session.upstream.close()
        self._sessions.clear()
        if self._writer is None and not self._append:
            # Nobody connected: still leave a valid (header-only) cassette behind.
            self._ensure_writer(None)
        if self._writer is not None:
            self._writer.close_file()

    async def __aenter__(self) -> RecordingProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the cassette ----------------------------------------------------------------------

    def _ensure_writer(self, request: Request | None) -> CassetteWriter:
        if self._writer is not None:
            return self._writer
        path, query = self._upstream.path or "/", dict(parse_qsl(self._upstream.query))
        client = ""
        extra: dict[str, Any] = {"recorder": _CLIENT_NAME}
        if request is not None:
            path, query = _request_target(request.path, self._upstream)
            client = request.headers.get("User-Agent", "")
            headers = [
                (k, v)
                for k, v in request.headers.raw_items()
                if k.lower() not in ("sec-websocket-key", "sec-websocket-protocol")
            ]
            extra["handshake"] = {
                "headers": dict(self.redaction.redact_headers(headers).value),
                "subprotocols": self.redaction.redact_subprotocols(_offered(request)).value,
            }
        header = Header(
            made=Made.RECORDED,
            created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            path=path,
            query=dict(self.redaction.redact_query(query.items()).value),
            client=self.redaction.redact_text(client).value,
            redactions=self.redaction.names,
            note=self.redaction.redact_text(self.note).value,
            extra=extra,
        )
        os.makedirs(os.path.dirname(os.path.abspath(self.cassette_path)), exist_ok=True)
        self._writer = CassetteWriter(self.cassette_path, header, mode="a" if self._append else "w")
        return self._writer

    def _record(self, side: Side, session: _Session, message: str | bytes) -> None:
        assert self._writer is not None
        t = asyncio.get_running_loop().time() - session.t0
        if isinstance(message, bytes):
            frame = Frame.of_binary(
                side, t, session.conn, self.redaction.redact_bytes(message).value
            )
        else:
            frame = Frame.of_event(side, t, session.conn, self._event_of(message))
        self._writer.write(frame)

    def _event_of(self, text: str) -> dict[str, Any]:
        try:
            event = _json.loads(text)
        except _json.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            # The API only speaks JSON objects; keep anything else visible, never dropped.
            return {"type": "harness.non_json_text", "text": self.redaction.redact_text(text).value}
        redacted: dict[str, Any] = self.redaction.redact_event(event).value
        return redacted

    # -- the handshake ---------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        conn = self._next_conn
        self._next_conn += 1
        self.connections += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self._passthrough is not None and conn < self._passthrough[1]:
            return await self._open_passthrough(connection, request, conn)
        writer = self._ensure_writer(request)
        target = _upstream_target(request.path, self._upstream)
        try:
            upstream = await self._open_upstream(target, request)
        except InvalidStatus as exc:
            response = exc.response
            body = bytes(response.body)
            refusal = Refusal(
                response.status_code,
                response.reason_phrase,
                self.redaction.redact_text(body.decode("utf-8", "replace")).value,
            )
            writer.write(refusal_frame(conn, loop.time() - started, refusal))
            headers = Headers(
                (k, v)
                for k, v in response.headers.raw_items()
                if k.lower() not in _RESPONSE_HOP_HEADERS
            )
            return Response(response.status_code, response.reason_phrase, headers, body)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            status = (
                http.HTTPStatus.GATEWAY_TIMEOUT
                if isinstance(exc, TimeoutError)
                else http.HTTPStatus.BAD_GATEWAY
            )
            shown = _redact_url(target, self.redaction)
            message = self.redaction.redact_text(
                f"{_CLIENT_NAME} could not open the upstream connection to {shown}: "
                f"{type(exc).__name__}: {exc}"
            ).value
            code = "upstream_timeout" if status == 504 else "upstream_unreachable"
            body_text = _json.dumps_str(
                {
                    "type": "error",
                    "error": {"type": "proxy_error", "code": code, "message": message},
                }
            )
            writer.write(
                refusal_frame(
                    conn, loop.time() - started, Refusal(status, status.phrase, body_text)
                )
            )
            refused = connection.respond(status, body_text)
            del refused.headers["Content-Type"]
            refused.headers["Content-Type"] = "application/json"
            return refused
        self._sessions[connection] = _Session(conn, loop.time(), upstream)
        return None

    async def _open_upstream(self, target: str, request: Request) -> ClientConnection:
        offered = _offered(request)
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() not in _HOP_HEADERS]
        return await connect(
            target,
            additional_headers=headers,
            user_agent_header=request.headers.get("User-Agent"),
            subprotocols=[Subprotocol(s) for s in offered] or None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=self._open_timeout,
        )

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
        pumps = [
            asyncio.create_task(self._pump(client, upstream, Side.CLIENT, session)),
            asyncio.create_task(self._pump(upstream, client, Side.SERVER, session)),
        ]
        try:
            await asyncio.gather(*pumps)
        except Exception as exc:
            self.errors.append(
                self.redaction.redact_text(
                    f"conn {session.conn}: {type(exc).__name__}: {exc}"
                ).value
            )
            logger.error("recording failed: %s", self.errors[-1])
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await upstream.close(1011, "recorder failed")
            await client.close(1011, "recorder failed")
        finally:
            self._sessions.pop(client, None)
            await upstream.close()

    async def _pump(
        self,
        source: ServerConnection | ClientConnection,
        sink: ServerConnection | ClientConnection,
        side: Side,
        session: _Session,
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in source:
                if session.record:
                    self._record(side, session, message)
                try:
                    await sink.send(message)
                except ConnectionClosed:
                    # The sink closed meanwhile: its own pump records and propagates that.
                    return
        if session.closed:
            return  # the other side closed first; this is the echo or the aftermath
        session.closed = True
        protocol = source.protocol
        received = protocol.close_rcvd
        if received is not None and protocol.close_rcvd_then_sent:
            # ``source`` closed first: record its close and pass it on, code and reason.
            code: int | None = None if received.code == 1005 else received.code
            self._record_close(side, session, code, received.reason)
            await sink.close(cast(int, code), received.reason)
        elif received is None and protocol.close_sent is None:
            # Lost without a close frame: abnormal closure, shown to the other side as such.
            self._record_close(side, session, 1006, "")
            sink.transport.abort()

    def _record_close(self, side: Side, session: _Session, code: int | None, reason: str) -> None:
        if not session.record:
            return
        assert self._writer is not None
        t = asyncio.get_running_loop().time() - session.t0
        redacted = self.redaction.redact_text(reason).value
        self._writer.write(Frame.of_close(side, t, session.conn, code, redacted))


# -- URLs -------------------------------------------------------------------------------------


def _offered(request: Request) -> list[str]:
    offered: list[str] = []
    for value in request.headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


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


def _redact_url(url: str, rules: RedactionRules) -> str:
    split = urlsplit(url)
    query = rules.redact_query(parse_qsl(split.query, keep_blank_values=True)).value
    netloc = split.netloc.rpartition("@")[2]  # never show user:password
    shown = urlunsplit((split.scheme, netloc, split.path, urlencode(query, safe="<>:"), ""))
    return rules.redact_text(shown).value
