"""The ``websockets`` boundary: the API's handshake rules, subprotocols, closes, errors.

Small helpers shared by the I/O modules that serve Realtime clients (the fake server, the
recording proxy). They encode what real clients do and expect of the API's handshake:

- the endpoint is ``/v1/realtime`` (the ``openai`` client connects to
  ``websocket_base_url + "/realtime?model=..."``; the SDKs use the URL as given), and any path
  starting there is accepted;
- credentials come as ``Authorization: Bearer <key>`` (every Python client, the JS SDK under
  node) or, from browsers, as the subprotocol ``openai-insecure-api-key.<key>`` next to
  ``realtime``; keys are checked for presence only and never stored or logged;
- the server selects the ``realtime`` subprotocol only when the client offered it (the
  Python SDKs offer none, and a server must not select one that was not offered);
- refusals are HTTP responses with a JSON body shaped like the API's error.

Only the ``websockets.asyncio`` API is used (present in websockets 16 and 17), and the
exceptions of ``websockets`` are mapped here so none reaches a user unwrapped.
"""

from __future__ import annotations

import dataclasses
import http
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.connection import Connection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Opcode
from websockets.frames import Frame as WsFrame
from websockets.http11 import Request, Response
from websockets.typing import LoggerLike, Subprotocol

from harness import _json, redaction
from harness.redaction import LOG_RULES_ATTRIBUTE, RedactionRules

__all__ = [
    "CLIENT_LOGGER",
    "INSECURE_KEY_PREFIX",
    "REALTIME_PATH",
    "REALTIME_SUBPROTOCOL",
    "SERVER_LOGGER",
    "abort",
    "api_error_response",
    "check_handshake",
    "has_credentials",
    "http_response",
    "offered_subprotocols",
    "peer_closed_first",
    "quiet_logger",
    "redacting_logger",
    "request_query",
    "select_realtime",
    "send_close",
    "send_messages",
]

REALTIME_PATH = "/v1/realtime"
REALTIME_SUBPROTOCOL = "realtime"
INSECURE_KEY_PREFIX = "openai-insecure-api-key."

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the "
    "'openai-insecure-api-key.YOUR_KEY' WebSocket subprotocol."
)


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols a client offered, in order (``Sec-WebSocket-Protocol``)."""
    offered: list[str] = []
    for value in request.headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def has_credentials(request: Request) -> bool:
    """Whether the request carries an API key, as a Bearer header or the browser subprotocol.

    Only presence is checked: the key itself is never kept, compared or logged.
    """
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return True
    return any(
        p.startswith(INSECURE_KEY_PREFIX) and len(p) > len(INSECURE_KEY_PREFIX)
        for p in offered_subprotocols(request)
    )


def request_query(request: Request) -> dict[str, str]:
    """The query of the request path, as a dict (last value wins)."""
    return dict(parse_qsl(urlsplit(request.path).query))


def api_error_response(
    status: http.HTTPStatus,
    message: str,
    *,
    code: str | None = None,
    error_type: str = "invalid_request_error",
) -> Response:
    """An HTTP refusal whose JSON body is shaped like the API's: ``{"error": {...}}``."""
    body = _json.dumps(
        {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    )
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def http_response(status: int, reason_phrase: str, body: str) -> Response:
    """An HTTP refusal with ``body`` (JSON if it looks like JSON, else plain text)."""
    data = body.encode("utf-8")
    kind = "application/json" if body.lstrip().startswith("{") else "text/plain; charset=utf-8"
    headers = Headers(
        [("Content-Type", kind), ("Content-Length", str(len(data))), ("Connection", "close")]
    )
    return Response(status, reason_phrase, headers, data)


def check_handshake(request: Request, *, path_prefix: str = REALTIME_PATH) -> Response | None:
    """Refuse a handshake the API would refuse: wrong path (404) or no credentials (401).

    Returns ``None`` to accept the handshake.
    """
    path = urlsplit(request.path).path
    if not path.startswith(path_prefix):
        return api_error_response(
            http.HTTPStatus.NOT_FOUND,
            f"Invalid URL (GET {path}): the Realtime API lives at {path_prefix}",
            code="unknown_url",
        )
    if not has_credentials(request):
        return api_error_response(http.HTTPStatus.UNAUTHORIZED, _MISSING_KEY)
    return None


def select_realtime(offered: Sequence[str]) -> Subprotocol | None:
    """Select ``realtime`` if the client offered it, else no subprotocol at all."""
    return Subprotocol(REALTIME_SUBPROTOCOL) if REALTIME_SUBPROTOCOL in offered else None


async def send_close(connection: Connection, code: int | None, reason: str = "") -> None:
    """Close with ``code`` and ``reason``; ``None`` sends a close frame without status.

    Codes no endpoint may put in a close frame (1005, 1006, 1015) become a close without
    status (1005), which is what a peer sees for those.
    """
    if code in (
        None,
        CloseCode.NO_STATUS_RCVD,
        CloseCode.ABNORMAL_CLOSURE,
        CloseCode.TLS_HANDSHAKE,
    ):
        # websockets sends an empty close frame for code=None (RFC 6455 5.5.1).
        sendable: Any = None
        reason = ""
    else:
        sendable = code
    try:
        await connection.close(sendable, reason)
    except ConnectionClosed:  # pragma: no cover - close() already swallows these
        pass


# Connection.send_context() is how websockets' own send() writes (documented in its
# docstring: "async with self.send_context(): self.protocol.send_text(...)"); present in the
# asyncio implementation of websockets 13 through 17. Without it we fall back to send().
_CAN_BATCH = hasattr(Connection, "send_context")


async def send_messages(connection: Connection, messages: Sequence[tuple[bytes, bool]]) -> None:
    """Send whole messages in order, ``(payload, is_text)`` each, with one flow-control wait.

    On the wire this is exactly one frame per message, as ``send()`` would write them; the
    messages are handed to the protocol together and the write buffer is drained once, which
    saves ``send()``'s per-call bookkeeping when a replay streams thousands of frames.
    Text payloads must be UTF-8 (they are: they come from cassettes read as UTF-8 JSON).
    """
    if len(messages) == 1 or not _CAN_BATCH:
        for data, text in messages:
            await connection.send(data, text=text)
        return
    async with connection.send_context():
        protocol = connection.protocol
        for data, text in messages:
            if text:
                protocol.send_text(data)
            else:
                protocol.send_binary(data)


def abort(connection: Connection) -> None:
    """Drop the TCP connection without a close frame (the peer sees 1006)."""
    connection.transport.abort()


def peer_closed_first(connection: Connection) -> tuple[bool, int | None]:
    """Whether the peer started the closing handshake, and the code it sent.

    ``(False, ...)`` when we closed first (the peer's close only answered ours) or the
    connection dropped without a close frame. A close frame without status reads as 1005.
    """
    protocol = connection.protocol
    received = protocol.close_rcvd
    if received is None or not protocol.close_rcvd_then_sent:
        return False, None if received is None else int(received.code)
    return True, int(received.code)


# -- logs: no key reaches one, whatever the level ----------------------------------------------
#
# websockets logs every handshake header and (truncated) every frame at DEBUG, and errors
# with tracebacks. Every websockets connection and server we create gets a logger from
# here: records go through a RedactionRules.redact_free_text filter (harness.redaction, the
# one definition of a secret) before any handler sees them.

CLIENT_LOGGER = "harness.websockets.client"
"""The logger of every websockets client connection we open (transport, tap, proxy)."""
SERVER_LOGGER = "harness.websockets.server"
"""The logger of the recording proxy's websockets server."""


class _RedactingAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Hands a recorder's own rules to the filter, and redacts frames before they are cut.

    websockets logs a frame as ``str(frame)``, which shows only the start and the end of a
    long payload: a key cut in two there could not be recognised any more, so each frame
    is logged as a copy with its payload redacted first, as the recorder redacts it (JSON
    events with the text-delta window of :class:`~harness.redaction.StreamRedactor`, per
    connection and direction). Only records that are emitted pay for this.
    """

    def __init__(self, logger: logging.Logger, rules: RedactionRules) -> None:
        super().__init__(logger, {})
        self.rules = rules
        self.streams = rules.stream()

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        extra = kwargs.get("extra") or {}
        if any(isinstance(a, WsFrame) for a in args):
            # "< %s" (received) or "> %s" (sent), on the connection websockets names.
            stream = (id(extra.get("websocket")), str(msg)[:1])
            args = tuple(self._frame(a, stream) for a in args)
        kwargs["extra"] = {**extra, LOG_RULES_ATTRIBUTE: self.rules}
        # Skip this frame: the record names the websockets line that logged it.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.logger.log(level, msg, *args, **kwargs)

    def _frame(self, arg: object, stream: object) -> object:
        if not isinstance(arg, WsFrame) or not arg.data:
            return arg
        data = bytes(arg.data)
        if arg.opcode is Opcode.TEXT and arg.fin:
            try:
                event = _json.loads(data)
            except _json.JSONDecodeError:
                event = None
            if isinstance(event, dict):
                # Shown re-encoded, never as received: a duplicate key could hide a secret
                # the decoded event no longer holds.
                redacted = self.streams.redact_event(event, stream).value
                return dataclasses.replace(arg, data=_json.dumps(redacted))
            # Not an event (a JSON array, cut or malformed JSON): the key-path rules by
            # their key names, then the free-text rules.
            text = self.rules.redact_event_text(data.decode("utf-8", "replace")).value
            text = self.rules.redact_free_text(text).value
            return dataclasses.replace(arg, data=text.encode())
        return dataclasses.replace(arg, data=self.rules.redact_bytes(data).value)


def redacting_logger(name: str, rules: RedactionRules | None = None) -> LoggerLike:
    """The logger to hand to websockets (``logger=``): every record it emits is scrubbed.

    Args:
        name: the logger name (``CLIENT_LOGGER``, ``SERVER_LOGGER``, ``harness.server``).
        rules: the rules to scrub with (a recorder's own rules); the defaults if None.
    """
    logger = redaction.redacting_logger(name)
    return _RedactingAdapter(logger, rules if rules is not None else RedactionRules.default())


def quiet_logger(name: str) -> LoggerLike:
    """The logger to hand to websockets with the default rules (the fake server's)."""
    return redacting_logger(name)
