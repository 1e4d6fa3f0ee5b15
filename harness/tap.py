"""Record our transport's sessions without a proxy: :class:`TransportTap`.

Pass a :class:`TransportTap` as :class:`~harness.transport.OpenAIRealtimeWebSocket`'s
``create_websocket``: every connection the transport opens is recorded, with the same
redaction and the same staging-then-replace rule as :class:`~harness.recorder.RecordingProxy`
(see :class:`~harness.recording.RecordingSink`). It lives apart from the proxy because it
needs the transport (its connection arguments), which the proxy and the fake server do not.
"""

from __future__ import annotations

import asyncio
import os
from types import TracebackType
from typing import Any, Literal, overload
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State
from websockets.typing import Data

from harness import _net
from harness.cassette import Side, StrPath
from harness.errors import RecordingError, TransportError
from harness.recording import RecordingSink, starting_conn
from harness.redaction import RedactionRules, redact_url, redacting_logger
from harness.transport import CreateWebSocketOptions, connect_arguments

__all__ = ["TransportTap"]

logger = redacting_logger("harness.tap")  # records scrubbed before any handler sees them


class _TappedConnection(ClientConnection):
    """A client connection that records what it sends and receives, as it does."""

    _sink: RecordingSink
    _conn: int
    _t0: float
    _tap_closed: bool = False

    def _t(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    async def send(self, message: Any, text: bool | None = None) -> None:
        # As websockets decides: str is text unless text=False, bytes binary unless
        # text=True. (Fragmented messages, iterables, are not recorded: the transport
        # never sends them.)
        if isinstance(message, str):
            if text is False:
                self._sink.binary(Side.CLIENT, self._t(), self._conn, message.encode())
            else:
                self._sink.text(Side.CLIENT, self._t(), self._conn, message)
        elif isinstance(message, bytes | bytearray | memoryview):
            if text is True:
                self._sink.text(Side.CLIENT, self._t(), self._conn, bytes(message))
            else:
                self._sink.binary(Side.CLIENT, self._t(), self._conn, bytes(message))
        await super().send(message, text=text)

    @overload
    async def recv(self, decode: Literal[True]) -> str: ...

    @overload
    async def recv(self, decode: Literal[False]) -> bytes: ...

    @overload
    async def recv(self, decode: bool | None = None) -> Data: ...

    async def recv(self, decode: bool | None = None) -> Data:
        try:
            message = await super().recv()
        except ConnectionClosed:
            self._record_server_close()
            raise
        self._sink.message(Side.SERVER, self._t(), self._conn, message)
        if decode is False and isinstance(message, str):
            return message.encode()
        if decode is True and isinstance(message, bytes):
            return message.decode()
        return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        # Recorded only when this close frame starts the closing handshake: not after the
        # server closed, not on a connection already lost.
        if not self._tap_closed and self.state is State.OPEN:
            self._tap_closed = True
            self._sink.write_close(Side.CLIENT, self._t(), self._conn, code, reason)
        await super().close(code, reason)

    def _record_server_close(self) -> None:
        if self._tap_closed:
            return
        self._tap_closed = True
        received = self.protocol.close_rcvd
        if received is not None and self.protocol.close_rcvd_then_sent:
            code = None if received.code == 1005 else received.code
            self._sink.write_close(Side.SERVER, self._t(), self._conn, code, received.reason)
        elif received is None and self.protocol.close_sent is None:
            self._sink.write_close(Side.SERVER, self._t(), self._conn, 1006, "")


class TransportTap:
    """Record our transport's sessions to a cassette, no proxy in between.

    Pass it as :class:`~harness.transport.OpenAIRealtimeWebSocket`'s ``create_websocket``;
    every connection the transport opens is recorded (``conn`` 0, 1, ...) with the same
    redaction as :class:`RecordingProxy`::

        with TransportTap("cassettes/session.jsonl") as tap:
            transport = OpenAIRealtimeWebSocket(api_key=key, create_websocket=tap)
            await transport.connect(model="gpt-realtime")
            ...
            await transport.aclose()

    The tap opens the connection as the transport's default does (its headers, no HTTP
    proxy, frames up to 100 MiB). Frames are recorded as the transport sends them and as
    it reads them, into ``NAME.recording.jsonl`` beside the cassette; :meth:`close`
    replaces the cassette with it only if the recording is sound, as
    :class:`RecordingProxy` does (else :class:`~harness.errors.RecordingError`, the
    cassette unchanged, the attempt kept as ``NAME.failed.jsonl``).

    Args:
        cassette_path: the cassette, replaced atomically at :meth:`close` if the
            recording is sound.
        redaction: the rules applied before anything is written (default rules if None).
        append: add connections to an existing cassette instead of replacing it.
        first_conn: the ``conn`` index of the first connection (default: 0, or when
            appending, one past the cassette's last ``conn``).
        note: free text for the cassette header.
    """

    def __init__(
        self,
        cassette_path: StrPath,
        *,
        redaction: RedactionRules | None = None,
        append: bool = False,
        first_conn: int | None = None,
        note: str = "",
    ) -> None:
        self.redaction = redaction if redaction is not None else RedactionRules.default()
        self.cassette_path = os.fspath(cassette_path)
        self._sink = RecordingSink(
            cassette_path, self.redaction, by="harness.TransportTap", note=note, append=append
        )
        self._next_conn = starting_conn(cassette_path, append, first_conn)
        self._log = _net.redacting_logger(_net.CLIENT_LOGGER, self.redaction)
        self.connections = 0
        """How many connections the transport opened through the tap."""
        self.errors: list[str] = self._sink.errors
        """What went wrong while recording (redacted), one line each."""
        self.failure: RecordingError | None = None
        """Why the cassette was not written, once the tap closed (``None``: it was)."""

    async def __call__(self, options: CreateWebSocketOptions) -> ClientConnection:
        """Open the connection for the transport (its ``create_websocket`` hook)."""
        conn = self._next_conn
        self._next_conn += 1
        self.connections += 1
        split = urlsplit(options.url)
        headers = dict(options.headers)
        self._sink.open(
            split.path or "/",
            parse_qsl(split.query, keep_blank_values=True),
            headers.get("User-Agent", ""),
            headers.items(),
            (),
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        shown = redact_url(options.url, self.redaction)
        try:
            # Opened as the transport's default connection is, only recorded.
            ws = await connect(
                options.url,
                **{**connect_arguments(headers), "logger": self._log},
                create_connection=_TappedConnection,
            )
        except InvalidStatus as exc:
            response = exc.response
            self._sink.refusal(
                conn,
                loop.time() - started,
                response.status_code,
                response.reason_phrase,
                bytes(response.body),
            )
            raise TransportError(
                f"WebSocket connection to {shown} failed: HTTP {response.status_code}"
            ) from None
        except Exception as exc:
            # Unreachable, timed out, ...: the upstream never answered, nothing to record
            # faithfully, so the recording is not sound.
            detail = self.redaction.redact_free_text(str(exc)).value
            self._sink.errors.append(
                f"conn {conn}: could not open the connection to {shown}: "
                f"{type(exc).__name__}: {detail}"
            )
            raise TransportError(f"WebSocket connection to {shown} failed: {detail}") from None
        self._sink.handshakes += 1
        assert isinstance(ws, _TappedConnection)
        ws._sink = self._sink
        ws._conn = conn
        ws._t0 = loop.time()
        return ws

    def close(self) -> None:
        """Write the cassette if the recording is sound (``with`` does it for you).

        Close the transport first: frames sent after this are not recorded.

        Raises:
            RecordingError: the recording is not sound: the cassette is unchanged and the
                attempt is kept in the ``.failed.jsonl`` side file (also in
                :attr:`failure`).
        """
        try:
            self._sink.finish()
        except RecordingError as exc:
            self.failure = exc
            raise

    def __enter__(self) -> TransportTap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:  # never hide the body's own exception; the failure stays in .failure
            self.close()
        except RecordingError as failure:
            logger.warning("%s", failure)
