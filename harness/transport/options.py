"""What a connection is opened with: its URL, its headers, websockets' arguments.

reference: openaiRealtimeWebsocket.ts (the URL, the headers, ``createWebSocket``'s
options) and utils.ts (``HEADERS``). Values and the arguments the default connection
passes to ``websockets.asyncio.client.connect``; nothing here waits or opens a socket.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from harness import _net
from harness.transport.protocol import WebSocketStatus

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = [
    "ApiKey",
    "ConnectionState",
    "CreateWebSocket",
    "CreateWebSocketOptions",
    "connect_arguments",
    "connect_url",
    "request_headers",
]

_REFERENCE_VERSION: Final = "0.20.0"


def _package_version() -> str:
    try:
        return importlib.metadata.version("realtime-harness")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "0.0.0"


_VERSION: Final = _package_version()
# reference: utils.ts, HEADERS: "User-Agent: Agents/JavaScript 0.20.0" and
# "X-OpenAI-Agents-SDK: openai-agents-sdk.0.20.0". We say who we are instead.
_USER_AGENT: Final = (
    f"realtime-harness/{_VERSION} (port of @openai/agents-realtime {_REFERENCE_VERSION})"
)
_SDK_HEADER: Final = f"realtime-harness.{_VERSION}"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """The status and, when there is one, the live WebSocket connection."""

    status: WebSocketStatus
    websocket: ClientConnection | None = None


@dataclass(frozen=True, slots=True)
class CreateWebSocketOptions:
    """What a ``create_websocket`` callable gets to open the connection with.

    Attributes:
        url: the URL to connect to.
        api_key: the API key (keep it out of logs).
        headers: the headers the default connection sends: ``Authorization``,
            ``User-Agent``, ``X-OpenAI-Agents-SDK``.
    """

    url: str
    api_key: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)


ApiKey: TypeAlias = "str | Callable[[], str | Awaitable[str]]"
CreateWebSocket: TypeAlias = Callable[[CreateWebSocketOptions], Awaitable["ClientConnection"]]


def connect_url(url: str | None, call_id: str | None, default_url: str | None, model: str) -> str:
    """The URL a ``connect`` opens (reference: ``connect``, the URL it picks).

    The ``url`` given, else the SIP call's, else the default URL (the last ``url`` given,
    or the constructor's), else the API's URL for ``model``.
    """
    if url:
        return url
    if call_id:
        return f"wss://api.openai.com/v1/realtime?call_id={call_id}"
    if default_url:
        return default_url
    return f"wss://api.openai.com/v1/realtime?model={model}"


def request_headers(api_key: str) -> dict[str, str]:
    """The headers of the opening handshake (under node, the key always goes here)."""
    return {
        "Authorization": f"Bearer {api_key}",
        "User-Agent": _USER_AGENT,
        "X-OpenAI-Agents-SDK": _SDK_HEADER,
    }


def connect_arguments(headers: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments the default connection passes to websockets' ``connect``.

    For a ``create_websocket`` that wants to open the connection as the transport does
    (the recorder's tap, the replay driver): pass ``options.headers``, then add your own
    (``create_connection=...``).
    """
    return {
        "additional_headers": {k: v for k, v in headers.items() if k != "User-Agent"},
        "user_agent_header": headers.get("User-Agent"),
        # The reference (node's ws) consults no proxy settings and takes frames up to
        # 100 MiB.
        "proxy": None,
        "max_size": 100 * 2**20,
        # websockets logs the Authorization header and the frames at DEBUG: scrubbed.
        "logger": _net.redacting_logger(_net.CLIENT_LOGGER),
    }
