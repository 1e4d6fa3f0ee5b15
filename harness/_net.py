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

import http
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.connection import Connection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from harness import _json

__all__ = [
    "INSECURE_KEY_PREFIX",
    "REALTIME_PATH",
    "REALTIME_SUBPROTOCOL",
    "abort",
    "api_error_response",
    "check_handshake",
    "has_credentials",
    "http_response",
    "offered_subprotocols",
    "peer_closed_first",
    "quiet_logger",
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


# What a secret looks like in websockets' debug log of handshake headers.
_SECRET_TEXT = re.compile(
    r"(?i)(bearer\s+|openai-insecure-api-key\.|api[-_]?key[=:]\s*)[^\s,;\"']+|sk-[A-Za-z0-9_-]{8,}"
)


class _RedactSecrets(logging.Filter):
    """Scrub keys from log records (websockets logs every handshake header at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _SECRET_TEXT.sub(lambda m: (m.group(1) or "") + "<redacted>", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def quiet_logger(name: str) -> logging.Logger:
    """The logger to hand to ``websockets``, with a filter that scrubs API keys."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
        logger.addFilter(_RedactSecrets())
    return logger
