"""``OpenAIRealtimeWebSocket``: the Agents SDK transport, ported to Python and asyncio.

A faithful port of ``OpenAIRealtimeWebSocket`` from the npm package
``@openai/agents-realtime`` 0.20.0 (``openaiRealtimeWebsocket.ts``, ``openaiRealtimeBase.ts``,
``responseCreateSequencer.ts``, ``clientMessages.ts``): for the same calls and the same
server events it sends the same frames and emits the same events. The conformance suite
(``tests/conformance``) runs the reference under node beside it to keep that true.

Usage::

    transport = OpenAIRealtimeWebSocket(api_key="sk-...")
    transport.on("audio", lambda event: play(event.data))
    transport.on("function_call", on_tool_call)
    await transport.connect(model="gpt-realtime")
    transport.send_message("Hello!")
    ...
    await transport.aclose()

Sync or async
-------------

=================================  ======  ==================================================
member                             kind    why
=================================  ======  ==================================================
``connect(...)``                   async   awaits the API key callable, the handshake and the
                                           initial ``session.update`` reaching the socket
``aclose()`` / ``async with``      async   ``close()``, then waits until the socket is closed
``close()``                        sync    like the reference: state turns ``disconnected``
                                           at once; frames already queued are flushed, then
                                           the socket closes in the background
``send_event``, ``send_message``,  sync    fire-and-forget like ``ws.send``: each frame is
``add_image``, ``send_audio``,             queued, in call order, to a writer task; safe to
``update_session_config``,                 call from (sync) event listeners
``send_function_call_output``,
``send_mcp_response``,
``request_response``,
``interrupt``, ``_interrupt``,
``_cancel_response``,
``reset_history``, ``mute``
``on`` / ``off`` / ``once`` /      sync    listeners are called synchronously while a server
``emit``                                   frame is dispatched; an ``async def`` listener is
                                           scheduled as a task (errors reach ``error``)
=================================  ======  ==================================================

Names: the reference's camelCase, in snake_case
-----------------------------------------------

============================================  =============================================
reference (JS)                                here (Python)
============================================  =============================================
``new OpenAIRealtimeWebSocket(options)``      ``OpenAIRealtimeWebSocket(**options)``
options ``url``, ``apiKey``, ``model``        ``url``, ``api_key``, ``model``
options ``useInsecureApiKey``                 ``use_insecure_api_key``
options ``createWebSocket``                   ``create_websocket``
options ``skipOpenEventListeners``            ``skip_open_event_listeners``
``status``, ``muted``                         ``status``, ``muted``
``connectionState``                           ``connection_state``
``currentModel``                              ``current_model``
``_tracingConfig``                            ``_tracing_config``
``connect({apiKey, model, url, callId,        ``connect(api_key=, model=, url=, call_id=,
initialSessionConfig})``                      initial_session_config=)``
``close()``                                   ``close()``, ``aclose()``
``sendEvent``                                 ``send_event``
``sendMessage(m, other, {triggerResponse})``  ``send_message(m, other, trigger_response=)``
``addImage(i, {triggerResponse})``            ``add_image(i, trigger_response=)``
``sendAudio(a, {commit})``                    ``send_audio(a, commit=)``
``updateSessionConfig``                       ``update_session_config``
``buildSessionPayload``                       ``build_session_payload``
``sendFunctionCallOutput``                    ``send_function_call_output``
``sendMcpResponse``                           ``send_mcp_response``
``requestResponse``                           ``request_response``
``interrupt``, ``_interrupt``                 ``interrupt``, ``_interrupt``
``_cancelResponse``                           ``_cancel_response``
``mute``                                      ``mute``
``resetHistory``                              ``reset_history``
``on``, ``off``, ``once``, ``emit``           ``on``, ``off``, ``once``, ``emit``
``TransportLayerAudio``                       :class:`AudioEvent`
``TransportToolCallEvent``                    :class:`ToolCallEvent`
``TransportLayerTranscriptDelta``             :class:`TranscriptDeltaEvent`
``output_text_delta`` payload                 :class:`OutputTextDeltaEvent`
``TransportLayerResponseStarted``             :class:`TurnStartedEvent`
``TransportLayerResponseCompleted``           :class:`TurnDoneEvent`
``TransportError``                            :class:`ErrorEvent`
``Usage`` (agents-core)                       :class:`Usage`
``item_deleted`` payload                      :class:`ItemDeletedEvent`
``mcp_tools_listed`` payload                  :class:`McpToolsListedEvent`
``WebSocketState``                            :class:`ConnectionState`
============================================  =============================================

Session config keys are accepted in camelCase (the reference's) and snake_case
(``output_modalities``, ``tool_choice``, ``turn_detection``, ``noise_reduction``, ...);
where both spellings of one key are given, camelCase wins.

Events
------

================================  ==================================================
event                             payload
================================  ==================================================
``connection_change``             ``"connecting" | "connected" | "disconnected"``
``connected`` / ``disconnected``  none
``*``                             every server event, the wire JSON as a ``dict``
``<server event type>``           that event, as the reference's schema keeps it
``error``                         :class:`ErrorEvent` (``.error``: the server's
                                  ``error`` event, or an exception)
``item_update``                   a :mod:`harness.items` item
``item_deleted``                  :class:`ItemDeletedEvent`
``audio``                         :class:`AudioEvent` (``.data``: bytes)
``audio_done``                    none
``audio_interrupted``             none
``audio_transcript_delta``        :class:`TranscriptDeltaEvent`
``output_text_delta``             :class:`OutputTextDeltaEvent`
``function_call``                 :class:`ToolCallEvent`
``turn_started``                  :class:`TurnStartedEvent`
``turn_done``                     :class:`TurnDoneEvent`
``usage_update``                  :class:`Usage`
``mcp_approval_request``          :class:`~harness.items.McpApprovalRequestItem`
``mcp_tool_call_completed``       :class:`~harness.items.McpCallItem`
``mcp_tools_listed``              :class:`McpToolsListedEvent`
================================  ==================================================

Every payload class has ``to_json()``, the reference's camelCase JSON for it. Payloads
are shared between listeners: treat them as read-only.

Deliberate differences from the reference are commented where they happen
(``# reference: ...``) and listed in the README.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import importlib.metadata
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed

from harness import _json, _net
from harness.emitter import EventEmitter, Listener
from harness.errors import TransportError, TransportNotConnected, UsageError
from harness.history import plan_reset_history
from harness.items import (
    McpApprovalRequestItem,
    RealtimeItem,
    item_from_json,
)
from harness.redaction import RedactingFilter, RedactionRules

__all__ = [
    "DEFAULT_OPENAI_REALTIME_MODEL",
    "DEFAULT_OPENAI_REALTIME_SESSION_CONFIG",
    "AudioEvent",
    "ConnectionState",
    "CreateWebSocketOptions",
    "ErrorEvent",
    "ItemDeletedEvent",
    "McpToolsListedEvent",
    "OpenAIRealtimeWebSocket",
    "OutputTextDeltaEvent",
    "ToolCallEvent",
    "TranscriptDeltaEvent",
    "TurnDoneEvent",
    "TurnStartedEvent",
    "Usage",
    "WebSocketStatus",
    "connect_arguments",
]

# Scrubbed with the redaction rules before any handler sees a record (README: Redaction).
logger = logging.getLogger("harness.transport")
logger.addFilter(RedactingFilter())

WebSocketStatus: TypeAlias = Literal["connecting", "connected", "disconnected"]
"""The transport's connection status, as the reference spells it."""

DEFAULT_OPENAI_REALTIME_MODEL: Final = "gpt-realtime-2.1"
"""The model used when none is given (reference: openaiRealtimeBase.ts)."""

DEFAULT_OPENAI_REALTIME_SESSION_CONFIG: Final[Mapping[str, Any]] = {
    "outputModalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-mini-transcribe"},
            "turnDetection": {"type": "semantic_vad"},
            "noiseReduction": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "speed": 1},
    },
}
"""The session config sent on connect unless overridden (the reference's, camelCase)."""

_REFERENCE_VERSION: Final = "0.20.0"
_CONVERSATION_ROOT: Final = "root"


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


# --------------------------------------------------------------------------- undefined


class _Undefined:
    """JavaScript's ``undefined``: a key that is absent (``None`` is JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


_U: Final = _Undefined()


def _get(obj: Any, key: str) -> Any:
    """``obj?.[key]``: ``_U`` when ``obj`` is not a mapping or lacks ``key``."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(key, _U)
    return _U


def _nc(value: Any, fallback: Any) -> Any:
    """``value ?? fallback``."""
    return fallback if value is None or value is _U else value


def _truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value (an empty object or array is truthy)."""
    if value is None or value is _U or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _defined(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop ``undefined`` values, as ``JSON.stringify`` does, recursively."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is _U:
            continue
        out[key] = _defined(value) if isinstance(value, dict) else value
    return out


# --------------------------------------------------------------------------- payloads


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


class AudioEvent:
    """A chunk of audio the model produced (``audio`` event).

    ``data`` is the audio bytes. The transport keeps the wire's base64 and decodes it on
    first access (the reference decodes every delta up front): a listener that never
    reads ``data`` never pays for decoding. Compared by value; read-only.
    """

    __slots__ = ("_b64", "_data", "_response_id")
    type: ClassVar[str] = "audio"

    def __init__(self, data: bytes | bytearray | memoryview, response_id: str) -> None:
        """An audio event holding ``data``."""
        self._data: bytes | None = bytes(data)
        self._b64: str | None = None
        self._response_id = response_id

    @classmethod
    def from_base64(cls, text: str, response_id: str) -> AudioEvent:
        """An audio event whose ``data`` is ``text`` decoded when first read."""
        event = cls.__new__(cls)
        event._data = None
        event._b64 = text
        event._response_id = response_id
        return event

    @property
    def data(self) -> bytes:
        """The audio bytes."""
        if self._data is None:
            self._data = _decode_b64(self._b64 or "")
        return self._data

    @property
    def response_id(self) -> str:
        """The response the audio belongs to."""
        return self._response_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AudioEvent):
            return NotImplemented
        return self.response_id == other.response_id and self.data == other.data

    def __hash__(self) -> int:
        return hash((self.data, self.response_id))

    def __repr__(self) -> str:
        size = _b64_size(self._b64) if self._data is None else len(self._data)
        return f"AudioEvent(<{size} bytes>, {self.response_id!r})"

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON, with ``data`` as base64."""
        return {
            "type": "audio",
            "data": self._b64
            if self._data is None and self._b64 is not None
            else binascii.b2a_base64(self.data, newline=False).decode("ascii"),
            "responseId": self.response_id,
        }


def _decode_b64(text: str) -> bytes:
    """Decode base64 as ``atob`` does: the ``=`` padding may be left out."""
    missing = -len(text) % 4
    if missing and missing < 3:
        text += "=" * missing
    return binascii.a2b_base64(text)


def _b64_size(text: str | None) -> int:
    """How many bytes base64 ``text`` decodes to (decoding it when it is irregular)."""
    if not text:
        return 0
    size = len(text)
    if size % 4:
        return len(_decode_b64(text))
    pad = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    return size // 4 * 3 - pad


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asks for a function to be run (``function_call`` event).

    Pass it back to :meth:`OpenAIRealtimeWebSocket.send_function_call_output`.
    """

    id: str | None
    call_id: str
    name: str
    arguments: str
    response_id: str | None = None
    previous_item_id: str | None = None
    type: ClassVar[str] = "function_call"

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": "function_call",
            "callId": self.call_id,
            "arguments": self.arguments,
            "name": self.name,
            "responseId": self.response_id,
        }
        if self.previous_item_id is not None:
            out["previousItemId"] = self.previous_item_id
        return {k: v for k, v in out.items() if v is not None or k in ("callId",)}


@dataclass(frozen=True, slots=True)
class _DeltaEvent:
    """A piece of what is being produced; the subclasses name which."""

    delta: str
    item_id: str
    response_id: str
    type: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON."""
        return {
            "type": self.type,
            "delta": self.delta,
            "itemId": self.item_id,
            "responseId": self.response_id,
        }


@dataclass(frozen=True, slots=True)
class TranscriptDeltaEvent(_DeltaEvent):
    """A piece of the transcript of the audio being produced."""

    type: ClassVar[str] = "transcript_delta"


@dataclass(frozen=True, slots=True)
class OutputTextDeltaEvent(_DeltaEvent):
    """A piece of the text being produced."""

    type: ClassVar[str] = "output_text_delta"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one response (agents-core ``Usage``, ``usage_update`` event)."""

    input_tokens: int | float = 0
    output_tokens: int | float = 0
    total_tokens: int | float = 0
    input_tokens_details: Mapping[str, Any] = field(default_factory=dict)
    output_tokens_details: Mapping[str, Any] = field(default_factory=dict)
    requests: int = 1

    def to_json(self) -> dict[str, Any]:
        """agents-core's ``Usage`` as JSON (its details are lists of one object)."""
        return {
            "requests": self.requests,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.total_tokens,
            "inputTokensDetails": [dict(self.input_tokens_details)],
            "outputTokensDetails": [dict(self.output_tokens_details)],
        }


@dataclass(frozen=True, slots=True)
class TurnStartedEvent:
    """A response started (``turn_started``); ``provider_data`` is ``response.created``."""

    provider_data: Mapping[str, Any]
    type: ClassVar[str] = "response_started"

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON."""
        return {"type": "response_started", "providerData": dict(self.provider_data)}


@dataclass(frozen=True, slots=True)
class TurnDoneEvent:
    """A response finished (``turn_done``)."""

    response_id: str
    output: Sequence[Any]
    usage: Usage
    type: ClassVar[str] = "response_done"

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON (here the usage details are plain objects)."""
        return {
            "type": "response_done",
            "response": {
                "id": self.response_id,
                "output": list(self.output),
                "usage": {
                    "inputTokens": self.usage.input_tokens,
                    "inputTokensDetails": dict(self.usage.input_tokens_details),
                    "outputTokens": self.usage.output_tokens,
                    "outputTokensDetails": dict(self.usage.output_tokens_details),
                    "totalTokens": self.usage.total_tokens,
                },
            },
        }


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """Something went wrong (``error`` event).

    ``error`` is the server's ``error`` event (a dict) or an exception raised while
    connecting, sending or dispatching.
    """

    error: Any
    type: ClassVar[str] = "error"

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON; an exception becomes ``{"message": str(exc)}``."""
        error = self.error
        if isinstance(error, BaseException):
            error = {"message": str(error)}
        return {"type": "error", "error": error}


@dataclass(frozen=True, slots=True)
class ItemDeletedEvent:
    """The server deleted an item (``item_deleted``)."""

    item_id: str

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON."""
        return {"itemId": self.item_id}


@dataclass(frozen=True, slots=True)
class McpToolsListedEvent:
    """An MCP server listed its tools (``mcp_tools_listed``)."""

    server_label: str
    tools: Sequence[Mapping[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The reference's JSON."""
        return {"serverLabel": self.server_label, "tools": [dict(t) for t in self.tools]}


# --------------------------------------------------------------------------- server schemas
#
# reference: openaiRealtimeEvents.ts. The reference validates each server event with zod
# against the schema of its type; an event that fails (or has an unknown type) is
# "generic": it only reaches the "*" listeners. zod objects also strip unknown keys
# from the parsed value the typed listeners get. These few combinators do the same.


class _Invalid(Exception):
    """A value does not match its schema (internal control flow, never escapes)."""


_INVALID = _Invalid()


class _Spec:
    optional = False

    def parse(self, value: Any) -> Any:
        raise NotImplementedError


class _Str(_Spec):
    def parse(self, value: Any) -> Any:
        if type(value) is not str:
            raise _INVALID
        return value


class _Num(_Spec):
    def parse(self, value: Any) -> Any:
        if type(value) is not int and type(value) is not float:
            raise _INVALID
        return value


class _Bool(_Spec):
    def parse(self, value: Any) -> Any:
        if type(value) is not bool:
            raise _INVALID
        return value


class _Any(_Spec):
    optional = True  # z.any() accepts undefined

    def parse(self, value: Any) -> Any:
        return value


class _Lit(_Spec):
    def __init__(self, *values: Any) -> None:
        self.values = values

    def parse(self, value: Any) -> Any:
        if type(value) is not str or value not in self.values:
            raise _INVALID
        return value


class _Opt(_Spec):
    optional = True

    def __init__(self, inner: _Spec, *, nullable: bool = False) -> None:
        self.inner = inner
        self.nullable = nullable

    def parse(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        return self.inner.parse(value)


class _Arr(_Spec):
    def __init__(self, inner: _Spec) -> None:
        self.inner = inner

    def parse(self, value: Any) -> Any:
        if type(value) is not list:
            raise _INVALID
        parse = self.inner.parse
        return [parse(v) for v in value]


class _Rec(_Spec):
    def parse(self, value: Any) -> Any:
        if type(value) is not dict:
            raise _INVALID
        return value


class _Union(_Spec):
    def __init__(self, *options: _Spec) -> None:
        self.options = options

    def parse(self, value: Any) -> Any:
        for option in self.options:
            try:
                return option.parse(value)
            except _Invalid:
                continue
        raise _INVALID


class _Obj(_Spec):
    def __init__(self, fields: Mapping[str, _Spec], *, passthrough: bool = False) -> None:
        self.fields = tuple(fields.items())
        self.passthrough = passthrough

    def parse(self, value: Any) -> Any:
        if type(value) is not dict:
            raise _INVALID
        out: dict[str, Any] = dict(value) if self.passthrough else {}
        for key, spec in self.fields:
            if key in value:
                out[key] = spec.parse(value[key])
            elif not spec.optional:
                raise _INVALID
        return out


def _opt(spec: _Spec) -> _Opt:
    return _Opt(spec)


def _optn(spec: _Spec) -> _Opt:
    return _Opt(spec, nullable=True)


_S, _N, _B, _ANY, _REC = _Str(), _Num(), _Bool(), _Any(), _Rec()

_RESPONSE = _Obj(
    {
        "id": _optn(_S),
        "conversation_id": _optn(_S),
        "max_output_tokens": _optn(_Union(_N, _Lit("inf"))),
        "metadata": _optn(_REC),
        "output_modalities": _optn(_Arr(_S)),
        "object": _optn(_Lit("realtime.response")),
        "output": _optn(_Arr(_ANY)),
        "audio": _optn(_Obj({"output": _optn(_Obj({"format": _optn(_ANY), "voice": _optn(_S)}))})),
        "status": _optn(_Lit("completed", "incomplete", "failed", "cancelled", "in_progress")),
        "status_details": _optn(_REC),
        "usage": _optn(
            _Obj(
                {
                    "input_tokens": _opt(_N),
                    "input_token_details": _optn(_REC),
                    "output_tokens": _opt(_N),
                    "output_token_details": _optn(_REC),
                }
            )
        ),
    }
)
_CONTENT = _Obj(
    {
        "id": _opt(_S),
        "audio": _optn(_S),
        "text": _optn(_S),
        "transcript": _optn(_S),
        # Deviation: the reference's content schema has no input_image, so the echo of an
        # image message fails it and never settles that message's pending create; the next
        # reset_history then re-creates it (README: deviations; tests/test_checker.py).
        "image_url": _optn(_S),
        "detail": _optn(_S),
        "type": _Lit(
            "input_text",
            "input_audio",
            "input_image",
            "item_reference",
            "output_text",
            "audio",
            "output_audio",
        ),
    }
)
_ITEM = _Obj(
    {
        "id": _opt(_S),
        "arguments": _opt(_S),
        "call_id": _opt(_S),
        "content": _opt(_Arr(_CONTENT)),
        "name": _opt(_S),
        "output": _optn(_S),
        "role": _opt(_Lit("user", "assistant", "system")),
        "status": _opt(_Lit("completed", "incomplete", "in_progress")),
        "type": _opt(
            _Lit(
                "message",
                "function_call",
                "function_call_output",
                "mcp_list_tools",
                "mcp_tool_call",
                "mcp_call",
                "mcp_approval_request",
                "mcp_approval_response",
            )
        ),
        "approval_request_id": _optn(_S),
        "approve": _optn(_B),
        "reason": _optn(_S),
        "server_label": _opt(_S),
        "error": _optn(_ANY),
        "tools": _opt(
            _Arr(
                _Obj(
                    {"name": _S, "description": _S, "input_schema": _opt(_REC)},
                    passthrough=True,
                )
            )
        ),
    },
    passthrough=True,
)
_PART = _Obj(
    {
        "audio": _opt(_S),
        "text": _opt(_S),
        "transcript": _opt(_S),
        "type": _opt(_Lit("text", "audio")),
    }
)


def _event(type_: str, fields: Mapping[str, _Spec], *, passthrough: bool = False) -> _Obj:
    return _Obj({"type": _Lit(type_), **fields}, passthrough=passthrough)


_EID = {"event_id": _S}
_EID_OPT = {"event_id": _opt(_S)}
_AUDIO_POS = {"item_id": _S, "content_index": _N, "output_index": _N, "response_id": _S}

_SERVER_EVENTS: Final[dict[str, _Obj]] = {
    spec.fields[0][1].values[0]: spec  # type: ignore[attr-defined]
    for spec in (
        _event(
            "conversation.created",
            {
                **_EID,
                "conversation": _Obj(
                    {"id": _opt(_S), "object": _opt(_Lit("realtime.conversation"))}
                ),
            },
        ),
        _event("conversation.item.added", {**_EID, "item": _ITEM, "previous_item_id": _optn(_S)}),
        _event("conversation.item.done", {**_EID, "item": _ITEM, "previous_item_id": _optn(_S)}),
        _event("conversation.item.deleted", {**_EID, "item_id": _S}),
        _event(
            "conversation.item.input_audio_transcription.completed",
            {
                **_EID,
                "item_id": _S,
                "content_index": _N,
                "transcript": _S,
                "logprobs": _optn(_Arr(_ANY)),
                "usage": _opt(
                    _Union(
                        _Obj(
                            {
                                "type": _Lit("tokens"),
                                "total_tokens": _N,
                                "input_tokens": _N,
                                "input_token_details": _Obj(
                                    {"text_tokens": _N, "audio_tokens": _N}
                                ),
                                "output_tokens": _N,
                            }
                        ),
                        _Obj({"type": _Lit("duration"), "seconds": _N}),
                    )
                ),
            },
        ),
        _event(
            "conversation.item.input_audio_transcription.delta",
            {
                **_EID,
                "item_id": _S,
                "content_index": _opt(_N),
                "delta": _opt(_S),
                "logprobs": _optn(_Arr(_ANY)),
            },
        ),
        _event(
            "conversation.item.input_audio_transcription.failed",
            {
                **_EID,
                "item_id": _S,
                "content_index": _N,
                "error": _Obj(
                    {"code": _opt(_S), "message": _opt(_S), "param": _opt(_S), "type": _opt(_S)}
                ),
            },
        ),
        _event("conversation.item.retrieved", {**_EID, "item": _ITEM}),
        _event(
            "conversation.item.truncated",
            {**_EID, "item_id": _S, "audio_end_ms": _N, "content_index": _N},
        ),
        _event("error", {**_EID_OPT, "error": _opt(_ANY)}),
        _event("input_audio_buffer.cleared", _EID),
        _event(
            "input_audio_buffer.committed",
            {**_EID, "item_id": _S, "previous_item_id": _optn(_S)},
        ),
        _event("input_audio_buffer.speech_started", {**_EID, "item_id": _S, "audio_start_ms": _N}),
        _event("input_audio_buffer.speech_stopped", {**_EID, "item_id": _S, "audio_end_ms": _N}),
        _event("output_audio_buffer.started", _EID, passthrough=True),
        _event("output_audio_buffer.stopped", _EID, passthrough=True),
        _event("output_audio_buffer.cleared", _EID),
        _event(
            "rate_limits.updated",
            {
                **_EID,
                "rate_limits": _Arr(
                    _Obj(
                        {
                            "limit": _opt(_N),
                            "name": _opt(_Lit("requests", "tokens")),
                            "remaining": _opt(_N),
                            "reset_seconds": _opt(_N),
                        }
                    )
                ),
            },
        ),
        _event("response.output_audio.delta", {**_EID, **_AUDIO_POS, "delta": _S}),
        _event("response.output_audio.done", {**_EID, **_AUDIO_POS}),
        _event("response.output_audio_transcript.delta", {**_EID, **_AUDIO_POS, "delta": _S}),
        _event("response.output_audio_transcript.done", {**_EID, **_AUDIO_POS, "transcript": _S}),
        _event("response.content_part.added", {**_EID, **_AUDIO_POS, "part": _PART}),
        _event("response.content_part.done", {**_EID, **_AUDIO_POS, "part": _PART}),
        _event("response.created", {**_EID, "response": _RESPONSE}),
        _event("response.done", {**_EID, "response": _RESPONSE}),
        _event(
            "response.function_call_arguments.delta",
            {
                **_EID,
                "item_id": _S,
                "call_id": _S,
                "delta": _S,
                "output_index": _N,
                "response_id": _S,
            },
        ),
        _event(
            "response.function_call_arguments.done",
            {
                **_EID,
                "item_id": _S,
                "call_id": _S,
                "arguments": _S,
                "output_index": _N,
                "response_id": _S,
            },
        ),
        _event(
            "response.output_item.added",
            {**_EID, "item": _ITEM, "output_index": _N, "response_id": _S},
        ),
        _event(
            "response.output_item.done",
            {**_EID, "item": _ITEM, "output_index": _N, "response_id": _S},
        ),
        _event("response.output_text.delta", {**_EID, **_AUDIO_POS, "delta": _S}),
        _event("response.output_text.done", {**_EID, **_AUDIO_POS, "text": _S}),
        _event("session.created", {**_EID, "session": _ANY}),
        _event("session.updated", {**_EID, "session": _ANY}),
        _event("mcp_list_tools.in_progress", {**_EID_OPT, "item_id": _opt(_S)}),
        _event("mcp_list_tools.completed", {**_EID_OPT, "item_id": _opt(_S)}),
        _event("mcp_list_tools.failed", {**_EID_OPT, "item_id": _opt(_S)}),
        _event(
            "response.mcp_call_arguments.delta",
            {
                **_EID,
                "response_id": _S,
                "item_id": _S,
                "output_index": _N,
                "delta": _S,
                "obfuscation": _S,
            },
        ),
        _event(
            "response.mcp_call_arguments.done",
            {**_EID, "response_id": _S, "item_id": _S, "output_index": _N, "arguments": _S},
        ),
        _event("response.mcp_call.in_progress", {**_EID, "output_index": _N, "item_id": _S}),
        _event("response.mcp_call.completed", {**_EID, "output_index": _N, "item_id": _S}),
    )
}


_AUDIO_DELTA_KEYS: Final = frozenset(
    ("type", "event_id", "item_id", "content_index", "output_index", "response_id", "delta")
)


def _audio_delta(raw: dict[str, Any]) -> dict[str, Any] | None:
    """``response.output_audio.delta`` checked against its schema without the combinators
    (the hot path); ``None`` when it does not match."""
    g = raw.get
    if (
        type(g("event_id")) is str
        and type(g("item_id")) is str
        and type(g("response_id")) is str
        and type(g("delta")) is str
        and type(g("content_index")) in (int, float)
        and type(g("output_index")) in (int, float)
    ):
        if len(raw) == len(_AUDIO_DELTA_KEYS):
            return raw
        return {k: v for k, v in raw.items() if k in _AUDIO_DELTA_KEYS}
    return None


def _parse_server_event(raw: Any) -> tuple[dict[str, Any] | None, bool]:
    """``(parsed, is_generic)`` as the reference's ``parseRealtimeEvent`` (after JSON)."""
    if type(raw) is not dict:
        return None, True
    type_ = raw.get("type")
    if type(type_) is not str:
        return None, True
    spec = _SERVER_EVENTS.get(type_)
    if spec is not None:
        try:
            return spec.parse(raw), False
        except _Invalid:
            pass
    # genericEventSchema: a string type and an optional, nullable string event_id.
    event_id = raw.get("event_id")
    if event_id is not None and type(event_id) is not str:
        return None, True
    return raw, True


# --------------------------------------------------------------------------- session config

_TOP_LEVEL_SNAKE: Final = {
    "output_modalities": "outputModalities",
    "tool_choice": "toolChoice",
    "parallel_tool_calls": "parallelToolCalls",
    "provider_data": "providerData",
    "input_audio_format": "inputAudioFormat",
    "output_audio_format": "outputAudioFormat",
    "input_audio_transcription": "inputAudioTranscription",
    "turn_detection": "turnDetection",
    "input_audio_noise_reduction": "inputAudioNoiseReduction",
}
_AUDIO_INPUT_SNAKE: Final = {"noise_reduction": "noiseReduction", "turn_detection": "turnDetection"}


def _camel_keys(obj: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    """Rename snake_case keys to the reference's camelCase; camelCase wins when both."""
    out = dict(obj)
    for snake, camel in table.items():
        if snake in out:
            value = out.pop(snake)
            if camel not in obj:
                out[camel] = value
    return out


def _camel_session_config(config: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise UsageError(f"session config must be a mapping, got {type(config).__name__}")
    out = _camel_keys(config, _TOP_LEVEL_SNAKE)
    audio = out.get("audio")
    if isinstance(audio, Mapping):
        audio = dict(audio)
        if isinstance(audio.get("input"), Mapping):
            audio["input"] = _camel_keys(audio["input"], _AUDIO_INPUT_SNAKE)
        out["audio"] = audio
    prompt = out.get("prompt")
    if isinstance(prompt, Mapping):
        out["prompt"] = _camel_keys(prompt, {"prompt_id": "promptId"})
    return out


def _normalize_audio_format(fmt: Any) -> Any:
    # reference: clientMessages.ts, normalizeAudioFormat
    if not _truthy(fmt):
        return _U
    if isinstance(fmt, Mapping):
        rate = fmt.get("rate")
        if fmt.get("type") == "audio/pcm" and isinstance(rate, float) and not math.isfinite(rate):
            return {"type": "audio/pcm", "rate": 24000}
        return fmt
    text = str(fmt)
    if text == "g711_ulaw":
        return {"type": "audio/pcmu"}
    if text == "g711_alaw":
        return {"type": "audio/pcma"}
    return {"type": "audio/pcm", "rate": 24000}


_DEPRECATED_KEYS: Final = (
    "modalities",
    "inputAudioFormat",
    "outputAudioFormat",
    "inputAudioTranscription",
    "turnDetection",
    "inputAudioNoiseReduction",
    "speed",
)


def _to_new_session_config(config: Mapping[str, Any]) -> dict[str, Any]:
    # reference: clientMessages.ts, toNewSessionConfig
    g = config.get
    common = {
        "model": g("model", _U),
        "instructions": g("instructions", _U),
        "toolChoice": g("toolChoice", _U),
        "tools": g("tools", _U),
        "parallelToolCalls": g("parallelToolCalls", _U),
        "reasoning": g("reasoning", _U),
        "tracing": g("tracing", _U),
        "providerData": g("providerData", _U),
        "prompt": g("prompt", _U),
    }
    if not any(key in config for key in _DEPRECATED_KEYS):
        audio_input = _nc(_get(g("audio", _U), "input"), _U)
        audio_output = _nc(_get(g("audio", _U), "output"), _U)
        input_config: Any = _U
        if _truthy(audio_input):
            input_config = {
                "format": _normalize_audio_format(_get(audio_input, "format")),
                "noiseReduction": _nc(_get(audio_input, "noiseReduction"), None),
                "transcription": _get(audio_input, "transcription"),
                "turnDetection": _get(audio_input, "turnDetection"),
            }
        voice = _nc(_get(audio_output, "voice"), g("voice", _U))
        output_config: Any = _U
        if _truthy(audio_output) or voice is not _U:
            output_config = {
                "format": _normalize_audio_format(_get(audio_output, "format")),
                "voice": voice,
                "speed": _get(audio_output, "speed"),
            }
        audio: Any = _U
        if _truthy(input_config) or _truthy(output_config):
            audio = {"input": input_config, "output": output_config}
        return {**common, "outputModalities": g("outputModalities", _U), "audio": audio}
    return {
        **common,
        "outputModalities": g("modalities", _U),
        "audio": {
            "input": {
                "format": _normalize_audio_format(g("inputAudioFormat", _U)),
                "noiseReduction": _nc(g("inputAudioNoiseReduction", _U), None),
                "transcription": g("inputAudioTranscription", _U),
                "turnDetection": g("turnDetection", _U),
            },
            "output": {
                "format": _normalize_audio_format(g("outputAudioFormat", _U)),
                "voice": g("voice", _U),
                "speed": g("speed", _U),
            },
        },
    }


_TURN_DETECTION_NAMED: Final = (
    ("create_response", "createResponse"),
    ("eagerness", None),
    ("interrupt_response", "interruptResponse"),
    ("prefix_padding_ms", "prefixPaddingMs"),
    ("silence_duration_ms", "silenceDurationMs"),
    ("idle_timeout_ms", "idleTimeoutMs"),
    ("model_version", "modelVersion"),
    ("threshold", None),
)


def _build_turn_detection_config(config: Any) -> Any:
    # reference: openaiRealtimeBase.ts, buildTurnDetectionConfig
    if config is _U:
        return _U
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise UsageError(f"turn detection config must be a mapping, got {config!r}")
    named = {"type"}
    out: dict[str, Any] = {"type": config.get("type", _U)}
    for snake, camel in _TURN_DETECTION_NAMED:
        named.add(snake)
        if camel is None:
            out[snake] = config.get(snake, _U)
        else:
            named.add(camel)
            out[snake] = _nc(config.get(camel, _U), config.get(snake, _U))
    for key, value in config.items():
        if key not in named:
            out[key] = value
    out = {k: v for k, v in out.items() if v is not _U}
    return out if out else _U


# reference: agents-core utils/mcpApproval.ts, normalizeHostedMcpRequireApproval


def _invalid_require_approval(message: str) -> UsageError:
    return UsageError(f"Invalid hosted MCP requireApproval: {message}")


def _normalize_approval_filter(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid_require_approval(f"{path} must be an object with toolNames or readOnly.")
    allowed = {"toolNames", "tool_names", "readOnly", "read_only"}
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise _invalid_require_approval(f'{path} has unsupported key "{unknown[0]}".')
    if "toolNames" in value and "tool_names" in value:
        raise _invalid_require_approval(f"{path} must not specify both toolNames and tool_names.")
    if "readOnly" in value and "read_only" in value:
        raise _invalid_require_approval(f"{path} must not specify both readOnly and read_only.")
    out: dict[str, Any] = {}
    names = _nc(value.get("toolNames", _U), value.get("tool_names", _U))
    if names is not _U and names is not None and not isinstance(names, list):
        raise _invalid_require_approval(f"{path}.toolNames must be an array.")
    if isinstance(names, list):
        if any(not isinstance(n, str) or not n for n in names):
            raise _invalid_require_approval(
                f"{path}.toolNames must contain only non-empty strings."
            )
        out["tool_names"] = list(names)
    read_only = _nc(value.get("readOnly", _U), value.get("read_only", _U))
    if read_only is not _U and read_only is not None:
        if not isinstance(read_only, bool):
            raise _invalid_require_approval(f"{path}.readOnly must be a boolean.")
        out["read_only"] = read_only
    if not out:
        raise _invalid_require_approval(f"{path} must include toolNames or readOnly.")
    return out


def _normalize_require_approval(value: Any) -> Any:
    if value is _U:
        return "never"
    if isinstance(value, str):
        if value in ("always", "never"):
            return value
        raise _invalid_require_approval(f'string value must be "always" or "never", got "{value}".')
    if not isinstance(value, Mapping):
        raise _invalid_require_approval(
            'value must be "always", "never", or an object with always/never filters.'
        )
    if not value:
        raise _invalid_require_approval(
            "object value must include at least one of always or never."
        )
    unknown = [k for k in value if k not in ("always", "never")]
    if unknown:
        raise _invalid_require_approval(f'object value has unsupported key "{unknown[0]}".')
    out: dict[str, Any] = {}
    if value.get("always", _U) is not _U:
        out["always"] = _normalize_approval_filter(value["always"], "always")
    if value.get("never", _U) is not _U:
        out["never"] = _normalize_approval_filter(value["never"], "never")
    always = set(out.get("always", {}).get("tool_names", ()))
    for name in out.get("never", {}).get("tool_names", ()):
        if name in always:
            raise _invalid_require_approval(
                f'tool "{name}" cannot be listed in both always and never.'
            )
    return out


def _session_tool(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, Mapping):
        raise UsageError(f"a tool must be a mapping, got {type(tool).__name__}")
    g = tool.get
    if g("type") == "mcp":
        require = g("require_approval", _U)
        out = {
            "type": "mcp",
            "server_label": g("server_label", _U),
            "server_url": g("server_url", _U),
            "server_description": g("server_description", _U),
            "connector_id": g("connector_id", _U),
            "authorization": g("authorization", _U),
            "headers": g("headers", _U),
            "allowed_tools": g("allowed_tools", _U),
            "require_approval": _U if require is _U else _normalize_require_approval(require),
        }
    else:
        out = {
            "type": g("type", _U),
            "name": g("name", _U),
            "description": g("description", _U),
            "parameters": g("parameters", _U),
        }
    return {k: v for k, v in out.items() if v is not _U}


def _default(*path: str) -> Any:
    value: Any = DEFAULT_OPENAI_REALTIME_SESSION_CONFIG
    for key in path:
        value = _get(value, key)
    return _deepcopy_json(value)


def _deepcopy_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deepcopy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy_json(v) for v in value]
    return value


# --------------------------------------------------------------------------- sequencer


@dataclass(slots=True)
class _PendingCreate:
    event: dict[str, Any]
    event_id: str
    request_version: int
    target_version: int
    manual: bool


@dataclass(slots=True)
class _Waiter:
    event: dict[str, Any]
    manual: bool
    request_version: int
    generation: int


class _ResponseCreateSequencer:
    """Never two ``response.create`` in flight (reference: responseCreateSequencer.ts).

    Sans-I/O: ``send_now`` sends a frame, ``schedule_pump`` asks the owner to call
    :meth:`pump` once the current synchronous work is done, which is where the
    reference's waiting promises resume (its microtasks).
    """

    def __init__(
        self,
        send_now: Callable[[dict[str, Any]], None],
        on_error: Callable[[BaseException], None],
        schedule_pump: Callable[[], None],
    ) -> None:
        self._send_now = send_now
        self._on_error = on_error
        self._schedule_pump = schedule_pump
        self.ongoing_response = False
        self.response_control: Literal["free", "create_requested", "cancel_requested"] = "free"
        self._request_version = 0
        self._event_counter = 0
        self._pending_versions: set[int] = set()
        self._manual_versions: set[int] = set()
        self._pending: _PendingCreate | None = None
        self._waiters: list[_Waiter] = []
        self._generation = 0

    @property
    def pending_response_create_event_id(self) -> str | None:
        return self._pending.event_id if self._pending is not None else None

    def request_response_create(self, event: dict[str, Any], *, manual: bool = False) -> None:
        version = self._reserve(manual)
        generation = self._generation
        pending = self._try_prepare(event, manual, version)
        if pending is not None:
            self._dispatch(pending, generation)
            return
        self._waiters.append(_Waiter(event, manual, version, generation))

    def mark_response_created(self) -> None:
        self.ongoing_response = True
        self._clear_accepted()
        self.response_control = "free"
        self._notify()

    def mark_response_done(self) -> None:
        self.ongoing_response = False
        self._clear_accepted()
        self.response_control = "free"
        self._notify()

    def release_waiters(self) -> None:
        self._generation += 1
        self.ongoing_response = False
        self._pending_versions.clear()
        self._manual_versions.clear()
        self._pending = None
        self.response_control = "free"
        self._waiters.clear()

    def begin_cancel_response(self) -> bool:
        if not self.ongoing_response or self.response_control == "cancel_requested":
            return False
        self.response_control = "cancel_requested"
        self._notify()
        return True

    def handle_response_create_error(self, event: Mapping[str, Any]) -> bool:
        error = event.get("error")
        linked = error.get("event_id") if isinstance(error, Mapping) else None
        if isinstance(linked, str) and linked:
            return self._clear_pending(linked)
        if self._is_response_create_like_error(error):
            return self._clear_pending(None)
        return False

    def pump(self) -> None:
        """Resume the waiting requests, oldest first (the reference's microtasks)."""
        for waiter in list(self._waiters):
            if waiter not in self._waiters:
                continue
            if (
                waiter.generation != self._generation
                or waiter.request_version not in self._pending_versions
            ):
                self._waiters.remove(waiter)
                continue
            pending = self._try_prepare(waiter.event, waiter.manual, waiter.request_version)
            if pending is not None:
                self._waiters.remove(waiter)
                self._dispatch(pending, waiter.generation)

    # internals, in the reference's order

    def _reserve(self, manual: bool) -> int:
        self._request_version += 1
        version = self._request_version
        self._pending_versions.add(version)
        if manual:
            self._manual_versions.add(version)
        self._notify()
        return version

    def _dispatch(self, pending: _PendingCreate, generation: int) -> None:
        if generation != self._generation:
            return
        try:
            self._send_now(pending.event)
        except Exception as error:
            self._clear_pending(pending.event_id)
            self._on_error(error)

    def _try_prepare(
        self, event: dict[str, Any], manual: bool, version: int
    ) -> _PendingCreate | None:
        if version not in self._pending_versions:
            return None
        if (
            self.ongoing_response
            or self.response_control != "free"
            or min(self._pending_versions) != version
        ):
            return None
        self.response_control = "create_requested"
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            self._event_counter += 1
            # reference: responseCreateSequencer.ts, #nextResponseCreateEventId. The same
            # ids, so frames compare equal with the reference's.
            event_id = f"agents_js_response_create_{self._event_counter}"
        target = version if manual else self._auto_target_version(version)
        pending = _PendingCreate({**event, "event_id": event_id}, event_id, version, target, manual)
        self._pending = pending
        return pending

    def _clear_pending(self, event_id: str | None) -> bool:
        pending = self._pending
        if self.response_control != "create_requested" or pending is None:
            return False
        if event_id and pending.event_id != event_id:
            return False
        for version in range(pending.request_version + 1, pending.target_version + 1):
            self._pending_versions.add(version)
        self._pending_versions.discard(pending.request_version)
        if pending.manual:
            self._manual_versions.discard(pending.request_version)
        self._pending = None
        self.response_control = "free"
        self._notify()
        return True

    def _clear_accepted(self) -> None:
        pending = self._pending
        if pending is None:
            return
        for version in range(pending.request_version, pending.target_version + 1):
            self._pending_versions.discard(version)
            self._manual_versions.discard(version)
        self._pending = None

    def _auto_target_version(self, version: int) -> int:
        later_manual = [v for v in self._manual_versions if v >= version]
        if later_manual:
            limit = min(later_manual)
            eligible = [v for v in self._pending_versions if v < limit]
        else:
            eligible = list(self._pending_versions)
        return max(eligible)

    @staticmethod
    def _is_response_create_like_error(error: Any) -> bool:
        code = error.get("code") if isinstance(error, Mapping) else None
        if isinstance(code, str) and "response_create" in code:
            return True
        message = error.get("message") if isinstance(error, Mapping) else None
        return isinstance(message, str) and "response.create" in message

    def _notify(self) -> None:
        if self._waiters:
            self._schedule_pump()


# --------------------------------------------------------------------------- the link


class _Link:
    """One live connection: the socket, its ordered send queue, its tasks."""

    __slots__ = ("closing", "drained", "queue", "reader", "tracing", "wakeup", "writer", "ws")

    def __init__(self, ws: ClientConnection, tracing: Any = _U) -> None:
        self.ws = ws
        # The connect call's tracing config: session.created on this link applies it.
        self.tracing = tracing
        self.queue: deque[bytes] = deque()
        self.wakeup = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.closing = False
        self.reader: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def enqueue(self, frame: bytes) -> None:
        self.queue.append(frame)
        self.drained.clear()
        self.wakeup.set()

    def close(self) -> None:
        self.closing = True
        self.wakeup.set()


@dataclass(slots=True)
class _Attempt:
    previous_model: str
    previous_api_key: Any
    previous_url: str | None
    previous_default_url: str | None
    cancelled: asyncio.Future[None]
    failure: BaseException | None = None
    failure_selected: bool = False
    cancellation_error: TransportError = field(
        default_factory=lambda: TransportError(
            "WebSocket connection was closed before setup completed."
        )
    )


ApiKey: TypeAlias = "str | Callable[[], str | Awaitable[str]]"
CreateWebSocket: TypeAlias = Callable[[CreateWebSocketOptions], Awaitable[ClientConnection]]
Clock: TypeAlias = Callable[[], float]


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


def _redact_url(url: str) -> str:
    """The URL without its query (it could carry a secret someone put there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --------------------------------------------------------------------------- the transport


class OpenAIRealtimeWebSocket:
    """The Realtime API over a WebSocket: the port of the Agents SDK transport.

    Args:
        url: the URL to connect to (default ``wss://api.openai.com/v1/realtime?model=...``).
        api_key: the API key, or a (sync or async) callable returning it.
        model: the model (default :data:`DEFAULT_OPENAI_REALTIME_MODEL`).
        use_insecure_api_key: accepted for parity. The reference only consults it in a
            browser; under node (like here) the key always goes in the
            ``Authorization`` header.
        create_websocket: an async callable ``(CreateWebSocketOptions) -> connection``
            returning an *open* ``websockets`` client connection, to replace the
            default ``websockets.asyncio.client.connect``.
        skip_open_event_listeners: accepted for parity: the connection
            ``create_websocket`` returns is already open, so it changes nothing here.
        clock: milliseconds now (default ``time.monotonic() * 1000``); interruption
            timing reads it (the reference reads ``Date.now()``).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: ApiKey | None = None,
        model: str | None = None,
        use_insecure_api_key: bool = False,
        create_websocket: CreateWebSocket | None = None,
        skip_open_event_listeners: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self._emitter = EventEmitter(on_awaitable=self._schedule_listener)
        self._model: str = model if model is not None else DEFAULT_OPENAI_REALTIME_MODEL
        self._base_api_key: Any = api_key
        self._tracing: Any = None
        self._raw_session_config: Any = None
        self._session_format: Any = _U  # session.audio.output.format, kept with the above
        self._pending_history: dict[str, tuple[str, str]] = {}
        self._history_seq = 0
        self._api_key: str | None = None
        self._url = url
        self._default_url = url
        self._use_insecure_api_key = use_insecure_api_key
        self._create_websocket = create_websocket
        self._skip_open_event_listeners = skip_open_event_listeners
        self._clock: Clock = clock if clock is not None else (lambda: time.monotonic() * 1000.0)
        self._status: WebSocketStatus = "disconnected"
        self._link: _Link | None = None
        self._attempt: _Attempt | None = None
        self._current_item_id: str | None = None
        self._current_audio_content_index: Any = None
        self._audio_generation_done = False
        self._response_audio_formats: dict[str, Any] = {}
        self._first_audio_timestamp: float | None = None
        self._audio_length_ms: float = 0
        self._sequencer = _ResponseCreateSequencer(
            self._send_event_now, self._on_error, self._request_pump
        )
        self._dispatching = False
        self._pump_pending = False
        self._pump_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ properties

    @property
    def status(self) -> WebSocketStatus:
        """``"connecting"``, ``"connected"`` or ``"disconnected"``."""
        return self._status

    @property
    def connection_state(self) -> ConnectionState:
        """The status and the live connection, if any."""
        return ConnectionState(self._status, self._link.ws if self._link is not None else None)

    @property
    def current_model(self) -> str:
        """The model in use; it cannot change mid-conversation."""
        return self._model

    @current_model.setter
    def current_model(self, model: str) -> None:
        self._model = model

    @property
    def muted(self) -> None:
        """Always ``None``: this transport does not handle muting (stop sending audio)."""
        return None

    @property
    def current_item_id(self) -> str | None:
        """The item whose audio is playing, if any."""
        return self._current_item_id

    @property
    def _tracing_config(self) -> Any:
        """The tracing config the session was created with (from ``session.created``)."""
        return self._tracing

    @_tracing_config.setter
    def _tracing_config(self, tracing_config: Any) -> None:
        self._tracing = tracing_config

    # ------------------------------------------------------------------ emitter

    def on(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener`` on every ``event``; returns the emitter, as the reference."""
        return self._emitter.on(event, listener)

    def once(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener`` on the next ``event`` only."""
        return self._emitter.once(event, listener)

    def off(self, event: str, listener: Listener) -> EventEmitter:
        """Stop calling ``listener`` on ``event``."""
        return self._emitter.off(event, listener)

    def emit(self, event: str, *args: Any) -> bool:
        """Emit ``event`` to its listeners; ``True`` if it had any."""
        return self._emitter.emit(event, *args)

    def _schedule_listener(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception as error:
                self._report_error(error)

        try:
            task = asyncio.get_running_loop().create_task(run())
        except RuntimeError:
            close = getattr(awaitable, "close", None)
            if callable(close):
                close()
            raise UsageError("an async listener needs a running event loop") from None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ connecting

    async def _get_api_key(self, api_key: Any) -> Any:
        key = api_key if api_key is not None else self._base_api_key
        if callable(key):
            key = key()
            if inspect.isawaitable(key):
                key = await key
        return key

    async def connect(
        self,
        *,
        api_key: ApiKey | None = None,
        model: str | None = None,
        url: str | None = None,
        call_id: str | None = None,
        initial_session_config: Mapping[str, Any] | None = None,
    ) -> None:
        """Open the connection and send the initial ``session.update``.

        Args:
            api_key: overrides the constructor's key (a string or a callable).
            model: the model to use from now on.
            url: the URL to connect to; it becomes the default for later connects.
            call_id: connect to an existing SIP call
                (``wss://api.openai.com/v1/realtime?call_id=...``) when no URL is given.
            initial_session_config: merged with the defaults into the first
                ``session.update`` (camelCase or snake_case keys).

        Raises:
            TransportError: already connected or connecting (``WebSocket is already
                connected or connecting.``), the handshake failed or the server closed
                the connection before it was ready, or :meth:`close` was called
                meanwhile. ``status`` is ``"disconnected"`` afterwards.
            UsageError: no API key (``API key is not set. Please call `connect()` with
                an API key first.``).
        """
        if self._attempt is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        loop = asyncio.get_running_loop()
        attempt = _Attempt(
            previous_model=self._model,
            previous_api_key=self._api_key,
            previous_url=self._url,
            previous_default_url=self._default_url,
            cancelled=loop.create_future(),
        )
        self._attempt = attempt
        try:
            await self._prepare_connection(
                attempt,
                api_key=api_key,
                model=model,
                url=url,
                call_id=call_id,
                initial_session_config=initial_session_config,
            )
        finally:
            if self._attempt is attempt:
                self._attempt = None
            if not attempt.cancelled.done():
                attempt.cancelled.cancel()

    async def _race(self, attempt: _Attempt, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable`` unless :meth:`close` cancels the attempt first."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait({task, attempt.cancelled}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise self._connection_failure(attempt)

    def _connection_failure(self, attempt: _Attempt) -> BaseException:
        if attempt.failure_selected and attempt.failure is not None:
            return attempt.failure
        return attempt.cancellation_error

    def _select_failure(self, attempt: _Attempt, failure: BaseException) -> None:
        if not attempt.failure_selected:
            attempt.failure_selected = True
            attempt.failure = failure

    def _release_attempt(self, attempt: _Attempt) -> bool:
        if self._attempt is not attempt:
            return False
        self._model = attempt.previous_model
        self._api_key = attempt.previous_api_key
        self._url = attempt.previous_url
        self._default_url = attempt.previous_default_url
        self._attempt = None
        return True

    async def _prepare_connection(
        self,
        attempt: _Attempt,
        *,
        api_key: Any,
        model: str | None,
        url: str | None,
        call_id: str | None,
        initial_session_config: Mapping[str, Any] | None,
    ) -> None:
        try:
            self._model = model if model is not None else self._model
            key = await self._race(attempt, self._get_api_key(api_key))
            if self._attempt is not attempt:
                raise self._connection_failure(attempt)
            self._api_key = key
            if url:
                target = url
                self._default_url = url
            elif call_id:
                target = f"wss://api.openai.com/v1/realtime?call_id={call_id}"
            elif self._default_url:
                target = self._default_url
            else:
                target = f"wss://api.openai.com/v1/realtime?model={self._model}"
            self._url = target
            session_config = {**_camel_session_config(initial_session_config or {})}
            session_config["model"] = self._model
            await self._setup_websocket(session_config, attempt)
            if self._attempt is not attempt or self._status != "connected":
                raise self._connection_failure(attempt)
            self.update_session_config(session_config)
            link = self._link
            if link is not None:
                await self._race(attempt, link.drained.wait())
            if self._attempt is not attempt or self._status != "connected":
                raise self._connection_failure(attempt)
        except BaseException as error:
            self._select_failure(attempt, error)
            if self._attempt is attempt:
                link = self._link
                self._release_attempt(attempt)
                try:
                    self._close_link(link)
                except Exception as cleanup_error:
                    self._report_error(cleanup_error)
            failure = self._connection_failure(attempt)
            if failure is error:
                raise
            raise failure from None

    def _headers(self, api_key: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": _USER_AGENT,
            "X-OpenAI-Agents-SDK": _SDK_HEADER,
        }

    async def _setup_websocket(self, session_config: dict[str, Any], attempt: _Attempt) -> None:
        if self._link is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        api_key = self._api_key
        if not api_key:
            raise UsageError("API key is not set. Please call `connect()` with an API key first.")
        if not isinstance(api_key, str):
            raise UsageError(f"the API key must be a string, got {type(api_key).__name__}")
        url = self._url or ""
        headers = self._headers(api_key)
        # reference: openaiRealtimeWebsocket.ts, #setupWebSocket. Under node
        # (useWebSocketProtocols is false) the key always goes in the headers, so
        # use_insecure_api_key changes nothing outside a browser.
        ws: ClientConnection
        if self._create_websocket is not None:
            options = CreateWebSocketOptions(url=url, api_key=api_key, headers=headers)
            ws = await self._race(attempt, self._create_websocket(options))
            if self._attempt is not attempt:
                await ws.close()
                raise attempt.cancellation_error
            self._status = "connecting"
            self.emit("connection_change", "connecting")
        else:
            # The reference creates the socket synchronously and reports "connecting"
            # while the handshake runs.
            self._status = "connecting"
            self.emit("connection_change", "connecting")
            try:
                ws = await self._race(attempt, self._open_default(url, headers))
            except TransportError as error:
                if error is attempt.cancellation_error or self._attempt is not attempt:
                    raise
                # reference: the socket's "error" listener: fail connect(), report the
                # error, and close.
                self._release_attempt(attempt)
                self._report_error(error)
                self._status_disconnected_after_failed_handshake()
                raise
        if self._attempt is not attempt:
            with contextlib.suppress(Exception):
                await ws.close()
            raise attempt.cancellation_error
        link = _Link(ws, session_config.get("tracing", _U))
        self._link = link
        self._status = "connected"
        loop = asyncio.get_running_loop()
        link.writer = loop.create_task(self._write_loop(link))
        link.reader = loop.create_task(self._read_loop(link))
        self.emit("connection_change", "connected")
        if self._attempt is not attempt:
            raise attempt.cancellation_error
        self._on_open()
        if self._attempt is not attempt:
            raise attempt.cancellation_error

    async def _open_default(self, url: str, headers: Mapping[str, str]) -> ClientConnection:
        try:
            return await _ws_connect(url, **connect_arguments(headers))
        except Exception as exc:
            # websockets' messages can quote the URL (InvalidURI), query included.
            detail = RedactionRules.default().redact_free_text(str(exc)).value
            raise TransportError(
                f"WebSocket connection to {_redact_url(url)} failed: {detail}"
            ) from exc

    def _status_disconnected_after_failed_handshake(self) -> None:
        # The socket never opened: there is no link, only the "connecting" status.
        self._sequencer.release_waiters()
        self._response_audio_formats.clear()
        self._reset_audio_playback_state()
        if self._status == "disconnected":
            return
        self._status = "disconnected"
        self._notify_disconnected()

    def _on_open(self) -> None:
        self.emit("connected")

    def _on_close(self) -> None:
        # Unacknowledged requests belong only to the connection that sent them.
        self._pending_history.clear()
        self.emit("disconnected")

    def _on_error(self, error: Any) -> None:
        self.emit("error", ErrorEvent(error))

    def _report_error(self, error: BaseException) -> None:
        try:
            self._on_error(error)
        except Exception:
            logger.exception("an 'error' listener raised")

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Close the connection (or cancel a :meth:`connect` in progress).

        ``status`` is ``"disconnected"`` when this returns; frames already queued are
        sent before the socket closes in the background (await :meth:`aclose` to wait
        for it).
        """
        attempt = self._attempt
        if attempt is not None:
            failure = self._connection_failure(attempt)
            self._release_attempt(attempt)
            self._select_failure(attempt, failure)
            if not attempt.cancelled.done():
                attempt.cancelled.set_result(None)
        link = self._link
        if link is None and self._status == "connecting":
            self._status_disconnected_after_failed_handshake()
            return
        self._close_link(link)

    async def aclose(self) -> None:
        """Close the connection and wait until the socket is closed and tasks are done."""
        link = self._link
        self.close()
        tasks: list[asyncio.Task[Any]] = []
        if link is not None:
            tasks += [t for t in (link.writer, link.reader) if t is not None]
        tasks += list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def flush(self) -> None:
        """Wait until every frame queued so far has been handed to the socket.

        The sending methods are sync and queue their frames in order; ``await flush()``
        is the point after which the server can have seen them all. Python-only: the
        reference's ``ws.send`` has no such wait. Returns at once when not connected.
        """
        link = self._link
        if link is not None:
            # The writer sets `drained` only with the queue empty; enqueue clears it.
            await link.drained.wait()

    async def __aenter__(self) -> OpenAIRealtimeWebSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _close_link(self, link: _Link | None) -> None:
        cleanup_error: BaseException | None = None
        try:
            self._transition_to_disconnected(link)
        except Exception as error:
            cleanup_error = error
        if link is not None:
            link.close()
        if cleanup_error is not None:
            raise cleanup_error

    def _reset_audio_playback_state(self) -> None:
        self._audio_generation_done = False
        self._current_item_id = None
        self._first_audio_timestamp = None
        self._audio_length_ms = 0
        self._current_audio_content_index = None

    def _transition_to_disconnected(self, link: _Link | None) -> None:
        if link is not None and self._link is not link:
            return
        self._sequencer.release_waiters()
        self._response_audio_formats.clear()
        self._reset_audio_playback_state()
        if self._status == "disconnected":
            return
        self._status = "disconnected"
        self._link = None
        self._notify_disconnected()

    def _notify_disconnected(self) -> None:
        notification_error: BaseException | None = None
        try:
            self.emit("connection_change", "disconnected")
        except Exception as error:
            notification_error = error
        try:
            self._on_close()
        except Exception as error:
            notification_error = notification_error or error
        if notification_error is not None:
            raise notification_error

    # ------------------------------------------------------------------ socket tasks

    async def _write_loop(self, link: _Link) -> None:
        ws = link.ws
        queue = link.queue
        try:
            while True:
                while queue:
                    await ws.send(queue.popleft(), text=True)
                link.drained.set()
                if link.closing:
                    break
                link.wakeup.clear()
                await link.wakeup.wait()
        except ConnectionClosed:
            link.drained.set()
        except Exception as error:  # pragma: no cover - defensive
            link.drained.set()
            self._report_error(error)
        finally:
            queue.clear()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read_loop(self, link: _Link) -> None:
        ws = link.ws
        try:
            while True:
                message = await ws.recv(decode=False)
                self._handle_frame(link, message)
        except ConnectionClosed:
            pass
        finally:
            link.close()
            if self._link is link:
                try:
                    self._transition_to_disconnected(link)
                except Exception as error:
                    self._report_error(error)

    # ------------------------------------------------------------------ receiving

    def _handle_frame(self, link: _Link, data: bytes | str) -> None:
        if self._link is not link:
            return
        self._dispatching = True
        try:
            try:
                raw = _json.loads(data)
            except ValueError:
                return  # reference: parseRealtimeEvent returns no data: nothing is emitted
            if type(raw) is dict and raw.get("type") == "response.output_audio.delta":
                parsed = _audio_delta(raw)
                if parsed is not None:
                    # The hot path, as _on_message + _on_websocket_message would take it:
                    # no other branch of either applies to an audio delta.
                    # emit() with no listener does nothing: skip the call when nobody
                    # listens and emit() is ours (not replaced on the instance or a subclass).
                    listeners = self._emitter._listeners
                    plain = "emit" not in self.__dict__ and type(self).emit is _EMIT
                    if not plain or "*" in listeners:
                        self.emit("*", raw)
                    if not plain or "response.output_audio.delta" in listeners:
                        self.emit("response.output_audio.delta", parsed)
                    if self._link is link:
                        self._on_audio_delta(parsed)
                    return
            parsed, generic = _parse_server_event(raw)
            if parsed is None:
                return
            self._on_message(raw, parsed, generic)
            if generic or self._link is not link:
                return
            self._on_websocket_message(link, parsed)
        except Exception as error:
            # reference: an exception thrown here escapes ws's listener and takes node
            # down; we report it and keep reading.
            self._report_error(error)
        finally:
            self._dispatching = False
            if self._pump_pending:
                self._pump_pending = False
                self._sequencer.pump()

    def _request_pump(self) -> None:
        if self._dispatching:
            self._pump_pending = True
            return
        if self._pump_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._sequencer.pump()
            return
        self._pump_scheduled = True
        loop.call_soon(self._run_scheduled_pump)

    def _run_scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self._sequencer.pump()

    def _on_message(self, raw: Any, parsed: dict[str, Any], generic: bool) -> None:
        # reference: openaiRealtimeBase.ts, _onMessage
        self.emit("*", raw)
        if generic:
            return
        type_: str = parsed["type"]
        if type_ == "conversation.item.added":
            item_id = parsed["item"].get("id")
            if item_id:
                self._settle_history_request(item_id, "create")
        if type_ == "error":
            caused_by = _get(parsed.get("error"), "event_id")
            if isinstance(caused_by, str):
                self._pending_history.pop(caused_by, None)
            self.emit("error", ErrorEvent(parsed))
        else:
            self.emit(type_, parsed)

        if type_ == "response.created":
            self.emit("turn_started", TurnStartedEvent(dict(parsed)))
            return
        if type_ == "session.updated":
            self._raw_session_config = parsed.get("session")
            self._session_format = _get(
                _get(_get(self._raw_session_config, "audio"), "output"), "format"
            )
        if type_ == "response.done":
            self._on_response_done(parsed)
            return
        if type_ == "response.output_audio.done":
            self.emit("audio_done")
            self._after_audio_done_event()
            return
        if type_ == "conversation.item.deleted":
            self._settle_history_request(parsed["item_id"], "delete")
            self.emit("item_deleted", ItemDeletedEvent(parsed["item_id"]))
            return
        if type_ in (
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.truncated",
        ):
            # The reference retrieves the item rather than rebuilding it from partials.
            self.send_event({"type": "conversation.item.retrieve", "item_id": parsed["item_id"]})
            return
        if type_ in (
            "conversation.item.input_audio_transcription.delta",
            "response.output_text.delta",
            "response.output_audio_transcript.delta",
            "response.function_call_arguments.delta",
        ):
            if type_ == "response.output_audio_transcript.delta":
                self.emit(
                    "audio_transcript_delta",
                    TranscriptDeltaEvent(parsed["delta"], parsed["item_id"], parsed["response_id"]),
                )
            elif type_ == "response.output_text.delta":
                self.emit(
                    "output_text_delta",
                    OutputTextDeltaEvent(parsed["delta"], parsed["item_id"], parsed["response_id"]),
                )
            return
        if type_ in (
            "conversation.item.added",
            "conversation.item.done",
            "conversation.item.retrieved",
        ):
            if self._on_conversation_item(type_, parsed):
                return
        if type_ == "response.mcp_call.in_progress":
            self.send_event({"type": "conversation.item.retrieve", "item_id": parsed["item_id"]})
            return
        if type_ == "mcp_list_tools.in_progress":
            if parsed.get("item_id"):
                self.send_event(
                    {"type": "conversation.item.retrieve", "item_id": parsed["item_id"]}
                )
            return
        if type_ in ("response.output_item.done", "response.output_item.added"):
            self._on_output_item(type_, parsed)

    def _on_response_done(self, parsed: dict[str, Any]) -> None:
        response = parsed["response"]
        usage = response.get("usage") or {}
        input_tokens = _nc(usage.get("input_tokens"), 0)
        output_tokens = _nc(usage.get("output_tokens"), 0)
        input_details = _nc(usage.get("input_token_details"), {})
        output_details = _nc(usage.get("output_token_details"), {})
        summary = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            input_tokens_details=input_details,
            output_tokens_details=output_details,
        )
        self.emit("usage_update", summary)
        self.emit(
            "turn_done",
            TurnDoneEvent(
                response_id=_nc(response.get("id"), ""),
                output=_nc(response.get("output"), []),
                usage=summary,
            ),
        )

    def _on_conversation_item(self, type_: str, parsed: dict[str, Any]) -> bool:
        """Handle ``conversation.item.added/done/retrieved``; ``True`` when handled."""
        item = parsed["item"]
        kind = item.get("type")
        if kind == "mcp_list_tools" and type_ == "conversation.item.done":
            self.emit(
                "mcp_tools_listed",
                McpToolsListedEvent(_nc(item.get("server_label"), ""), _nc(item.get("tools"), [])),
            )
            # Not history: a transport-level side channel, as in the reference.
            return True
        if kind == "message":
            obj: dict[str, Any] = {"itemId": item.get("id", _U)}
            if type_ != "conversation.item.retrieved" and "previous_item_id" in parsed:
                obj["previousItemId"] = parsed["previous_item_id"]
            obj["type"] = "message"
            obj["role"] = item.get("role", _U)
            obj["content"] = _message_content(item.get("role"), item.get("content", _U))
            obj["status"] = _nc(
                item.get("status"),
                "in_progress" if type_ == "conversation.item.added" else "completed",
            )
            self.emit("item_update", _item(obj))
            return True
        if kind == "mcp_approval_request" and type_ == "conversation.item.done":
            arguments = _json.loads(item.get("arguments") or "{}")
            obj = {
                "itemId": item.get("id", _U),
                "type": "mcp_approval_request",
                "serverLabel": item.get("server_label", _U),
                "name": item.get("name", _U),
                "arguments": arguments,
                "approved": item.get("approved", _U),
            }
            request = _item(obj)
            self.emit("item_update", request)
            self.emit("mcp_approval_request", request)
            return True
        if kind in ("mcp_tool_call", "mcp_call"):
            done = type_ == "conversation.item.done"
            call = _item(
                {
                    "itemId": item.get("id", _U),
                    "type": kind,
                    "status": "completed" if done else "in_progress",
                    "arguments": item.get("arguments", _U),
                    "name": item.get("name", _U),
                    "output": item.get("output", _U),
                }
            )
            self.emit("item_update", call)
            if done:
                self.emit("mcp_tool_call_completed", call)
            return True
        return False

    def _on_output_item(self, type_: str, parsed: dict[str, Any]) -> None:
        item = parsed["item"]
        kind = item.get("type")
        done = type_ == "response.output_item.done"
        if kind == "function_call" and item.get("status") == "completed":
            # in_progress for the UI: it only completes with the output.
            self.emit(
                "item_update",
                _item(
                    {
                        "itemId": item.get("id", _U),
                        "type": "function_call",
                        "status": "in_progress",
                        "arguments": item.get("arguments", _U),
                        "name": item.get("name", _U),
                        "output": None,
                    }
                ),
            )
            self.emit(
                "function_call",
                ToolCallEvent(
                    id=item.get("id"),
                    call_id=_nc(item.get("call_id"), ""),
                    name=_nc(item.get("name"), ""),
                    arguments=_nc(item.get("arguments"), ""),
                    response_id=parsed["response_id"],
                ),
            )
            return
        if kind in ("mcp_tool_call", "mcp_call"):
            self.emit(
                "item_update",
                _item(
                    {
                        "itemId": item.get("id", _U),
                        "type": kind,
                        "status": "completed" if done else "in_progress",
                        "arguments": item.get("arguments", _U),
                        "name": item.get("name", _U),
                        "output": item.get("output", _U),
                    }
                ),
            )
            return
        if kind == "message":
            fallback = "completed" if done else "in_progress"
            self.emit(
                "item_update",
                _item(
                    {
                        "itemId": item.get("id", _U),
                        "type": "message",
                        "role": item.get("role", _U),
                        "content": _message_content(item.get("role"), item.get("content", _U)),
                        "status": _nc(item.get("status"), fallback),
                    }
                ),
            )

    def _on_websocket_message(self, link: _Link, parsed: dict[str, Any]) -> None:
        # reference: openaiRealtimeWebsocket.ts, the socket's "message" listener
        type_ = parsed["type"]
        if type_ == "error":
            self._sequencer.handle_response_create_error(parsed)
        if type_ == "response.output_audio.delta":
            self._on_audio_delta(parsed)
        elif type_ == "input_audio_buffer.speech_started":
            turn_detection = _get(
                _get(_get(self._raw_session_config, "audio"), "input"), "turn_detection"
            )
            automatic = _nc(_get(turn_detection, "interrupt_response"), False)
            self.interrupt(not _truthy(automatic))
        elif type_ == "response.created":
            response = parsed["response"]
            if _truthy(response.get("id")):
                fmt = _get(_get(response.get("audio"), "output"), "format")
                if fmt is None or fmt is _U:
                    fmt = self._session_output_format()
                self._response_audio_formats[response["id"]] = fmt
            self._sequencer.mark_response_created()
        elif type_ == "response.done":
            response = parsed["response"]
            if _truthy(response.get("id")):
                self._response_audio_formats.pop(response["id"], None)
            self._sequencer.mark_response_done()
        elif type_ == "session.created":
            session = parsed.get("session")
            self._tracing = _nc(_get(session, "tracing"), None)
            tracing = link.tracing
            self._update_tracing_config("auto" if tracing is _U else tracing)

    def _session_output_format(self) -> Any:
        return self._session_format

    def _on_audio_delta(self, parsed: dict[str, Any]) -> None:
        item_id = parsed["item_id"]
        content_index = parsed["content_index"]
        if self._current_item_id != item_id or self._current_audio_content_index != content_index:
            self._reset_audio_playback_state()
        self._current_audio_content_index = content_index
        self._current_item_id = item_id
        if self._first_audio_timestamp is None:
            # Interruption measures the time since the first audio of the response.
            self._first_audio_timestamp = self._clock()
            self._audio_length_ms = 0
        delta = parsed["delta"]
        size = _b64_size(delta)
        response_id = parsed["response_id"]
        fmt = self._response_audio_formats.get(response_id)
        if fmt is None or fmt is _U:
            fmt = self._session_output_format()
        # GA formats: {"type": "audio/pcm", "rate": ...}, {"type": "audio/pcmu"}, or
        # the older strings ("pcm16", "g711_ulaw", ...).
        if type(fmt) is dict:
            kind = fmt.get("type")
            if kind in ("audio/pcmu", "audio/pcma"):
                self._audio_length_ms += size / 8
            elif kind == "audio/pcm":
                rate = _nc(fmt.get("rate"), 24000)
                self._audio_length_ms += (size / 2 / rate) * 1000
            else:
                self._audio_length_ms += size / 24 / 2
        elif isinstance(fmt, str):
            if fmt.startswith("g711_"):
                self._audio_length_ms += size / 8
            else:
                self._audio_length_ms += size / 24 / 2
        else:
            self._audio_length_ms += size / 24 / 2
        self._on_audio(AudioEvent.from_base64(delta, response_id))

    def _on_audio(self, audio_event: AudioEvent) -> None:
        """Emit ``audio``; override to handle audio inside a subclass instead."""
        self.emit("audio", audio_event)

    def _after_audio_done_event(self) -> None:
        # Generation can finish while the application still has buffered audio.
        self._audio_generation_done = True

    # ------------------------------------------------------------------ tracing

    def _update_tracing_config(self, tracing_config: Any) -> None:
        # reference: openaiRealtimeBase.ts, _updateTracingConfig
        if tracing_config == "auto":
            self.send_event(
                {"type": "session.update", "session": {"type": "realtime", "tracing": "auto"}}
            )
            return
        current = self._tracing
        if (
            current is not None
            and not isinstance(current, str)
            and not isinstance(tracing_config, str)
        ):
            logger.warning(
                "Tracing config is already set, skipping setting it again. This likely "
                "happens when you already set a tracing config on session creation."
            )
            return
        if tracing_config is None:
            logger.debug(
                "Disabling tracing for this session. It cannot be turned on for this session "
                "from this point on."
            )
            self.send_event(
                {"type": "session.update", "session": {"type": "realtime", "tracing": None}}
            )
            return
        if current is None or isinstance(current, str):
            self.send_event(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "tracing": tracing_config},
                }
            )
            return
        # reference: compares metadata with !==, i.e. by identity; kept (a server's
        # metadata object is never the caller's).
        if (
            _get(tracing_config, "group_id") != _get(current, "group_id")
            or _get(tracing_config, "metadata") is not _get(current, "metadata")
            or _get(tracing_config, "workflow_name") != _get(current, "workflow_name")
        ):
            logger.warning(
                "Mismatch in tracing config. Ignoring the new tracing config. This likely "
                "happens when you already set a tracing config on session creation."
            )
            return
        self.send_event(  # pragma: no cover - unreachable in practice, as in the reference
            {"type": "session.update", "session": {"type": "realtime", "tracing": tracing_config}}
        )

    # ------------------------------------------------------------------ sending

    def _assert_connected(self) -> _Link:
        link = self._link
        if link is None:
            raise TransportNotConnected(
                "WebSocket is not connected. Make sure you call `connect()` before sending events."
            )
        return link

    def _send_event_now(self, event: Mapping[str, Any]) -> None:
        link = self._assert_connected()
        try:
            frame = _json.dumps(event)
        except ValueError as exc:
            raise UsageError(
                f"cannot send the {event.get('type', '?')!r} event as JSON: {exc}"
            ) from None
        link.enqueue(frame)

    def send_event(self, event: Mapping[str, Any]) -> None:
        """Send a client event as is (``response.create`` waits its turn).

        Raises:
            TransportNotConnected: not connected (``WebSocket is not connected. Make
                sure you call `connect()` before sending events.``).
        """
        self._assert_connected()
        if not isinstance(event, Mapping):
            raise UsageError(f"an event must be a mapping, got {type(event).__name__}")
        type_ = event.get("type")
        if type_ == "response.create":
            self._sequencer.request_response_create(dict(event), manual=True)
            return
        if type_ == "response.cancel":
            self._sequencer.begin_cancel_response()
        self._send_event_now(event)

    def request_response(self, response: Mapping[str, Any] | None = None) -> None:
        """Ask the model to respond (once the response in flight, if any, is done)."""
        self._assert_connected()
        event: dict[str, Any] = {"type": "response.create"}
        if response is not None:
            event["response"] = response
        self._sequencer.request_response_create(event, manual=response is not None)

    def send_message(
        self,
        message: str | Mapping[str, Any],
        other_event_data: Mapping[str, Any] | None = None,
        *,
        trigger_response: bool = True,
    ) -> None:
        """Add a user message to the conversation and, by default, ask for a response.

        Args:
            message: text, or ``{"type": "message", "role": "user", "content": [...]}``
                whose parts are ``input_text`` / ``input_audio`` / ``input_image``
                (``{"type": "input_image", "image": url}``).
            other_event_data: extra keys for the ``conversation.item.create`` event.
            trigger_response: also send ``response.create``.
        """
        if isinstance(message, str):
            content: list[Any] = [{"type": "input_text", "text": message}]
        elif not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
            raise UsageError(
                "message must be text or a mapping with a 'content' list, got "
                f"{type(message).__name__}"
            )
        else:
            content = []
            for part in message["content"]:
                if isinstance(part, Mapping) and part.get("type") == "input_image":
                    extra = _nc(part.get("providerData", part.get("provider_data")), {})
                    content.append({"type": "input_image", "image_url": part.get("image"), **extra})
                else:
                    content.append(part)
        self.send_event(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": content},
                **(other_event_data or {}),
            }
        )
        if trigger_response:
            self.request_response()

    def add_image(self, image: str, *, trigger_response: bool = True) -> None:
        """Show the model an image (a URL or a data URL) and, by default, ask for a response."""
        self.send_message(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_image", "image": image}],
            },
            {},
            trigger_response=trigger_response,
        )

    def send_audio(self, audio: bytes | bytearray | memoryview, *, commit: bool = False) -> None:
        """Append audio to the input buffer (and commit it); ignored unless connected."""
        if self._status != "connected":
            return
        self.send_event(
            {
                "type": "input_audio_buffer.append",
                "audio": binascii.b2a_base64(bytes(audio), newline=False).decode("ascii"),
            }
        )
        if commit:
            self.send_event({"type": "input_audio_buffer.commit"})

    def build_session_payload(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The ``session`` of a ``session.update``: ``config`` merged with the defaults."""
        return self._get_merged_session_config(config)

    def _get_merged_session_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        # reference: openaiRealtimeBase.ts, _getMergedSessionConfig
        new = _to_new_session_config(_camel_session_config(config))
        audio_input = _get(new["audio"], "input")
        audio_output = _get(new["audio"], "output")
        noise_reduction = _get(audio_input, "noiseReduction")
        transcription = _get(audio_input, "transcription")
        turn_detection = _build_turn_detection_config(_get(audio_input, "turnDetection"))
        session: dict[str, Any] = {
            "type": "realtime",
            "instructions": new["instructions"],
            "model": _nc(new["model"], self._model),
            "output_modalities": _nc(new["outputModalities"], _default("outputModalities")),
            "audio": {
                "input": {
                    "format": _nc(
                        _get(audio_input, "format"), _default("audio", "input", "format")
                    ),
                    "noise_reduction": _default("audio", "input", "noiseReduction")
                    if noise_reduction is _U
                    else noise_reduction,
                    "transcription": _default("audio", "input", "transcription")
                    if transcription is _U
                    else transcription,
                    "turn_detection": _default("audio", "input", "turnDetection")
                    if turn_detection is _U
                    else turn_detection,
                },
                "output": {
                    "format": _nc(
                        _get(audio_output, "format"), _default("audio", "output", "format")
                    ),
                    "voice": _nc(_get(audio_output, "voice"), _default("audio", "output", "voice")),
                    "speed": _nc(_get(audio_output, "speed"), _default("audio", "output", "speed")),
                },
            },
            "tool_choice": _nc(new["toolChoice"], _default("toolChoice")),
        }
        if new["parallelToolCalls"] is not _U:
            session["parallel_tool_calls"] = new["parallelToolCalls"]
        if _truthy(new["reasoning"]):
            session["reasoning"] = new["reasoning"]
        # Tracing is left out on purpose: setting it on every session.update can fail.
        provider_data = _nc(new["providerData"], {})
        if isinstance(provider_data, Mapping):
            session.update(provider_data)
        prompt = new["prompt"]
        if _truthy(prompt):
            session["prompt"] = {
                "id": _get(prompt, "promptId"),
                "version": _get(prompt, "version"),
                "variables": _get(prompt, "variables"),
            }
        tools = new["tools"]
        if _truthy(tools) and isinstance(tools, Sequence) and len(tools) > 0:
            session["tools"] = [_session_tool(tool) for tool in tools]
        return _defined(session)

    def update_session_config(self, config: Mapping[str, Any]) -> None:
        """Send a ``session.update``: ``config`` merged with the default session config."""
        self.send_event({"type": "session.update", "session": self.build_session_payload(config)})

    def send_function_call_output(
        self,
        tool_call: ToolCallEvent | Mapping[str, Any],
        output: str,
        start_response: bool = True,
    ) -> None:
        """Send a function's result and, by default, ask for a response.

        Args:
            tool_call: the :class:`ToolCallEvent` (or its ``to_json()`` dict).
            output: the function's output.
            start_response: also send ``response.create``.
        """
        call = _tool_call_fields(tool_call)
        item: dict[str, Any] = {"type": "function_call_output", "output": output}
        if call["callId"] is not _U:
            item["call_id"] = call["callId"]
        self.send_event({"type": "conversation.item.create", "item": item})
        try:
            update = item_from_json(
                {
                    k: v
                    for k, v in {
                        "itemId": call["id"],
                        "previousItemId": call["previousItemId"],
                        "type": "function_call",
                        "status": "completed",
                        "arguments": call["arguments"],
                        "name": call["name"],
                        "output": output,
                    }.items()
                    if v is not _U
                }
            )
        except (UsageError, ValueError, TypeError) as error:
            logger.error("Error parsing tool call item: %s", error)
        else:
            self.emit("item_update", update)
        if start_response:
            self.request_response()

    def send_mcp_response(
        self,
        approval_request: McpApprovalRequestItem | Mapping[str, Any],
        approved: bool,
        reason: str | None = None,
    ) -> None:
        """Approve or reject an MCP tool call the model asked for."""
        if isinstance(approval_request, McpApprovalRequestItem):
            item_id: Any = approval_request.item_id
        else:
            item_id = approval_request.get("itemId", approval_request.get("item_id"))
        item: dict[str, Any] = {
            "type": "mcp_approval_response",
            "approval_request_id": item_id,
            "approve": approved,
        }
        if reason is not None:
            item["reason"] = reason
        self.send_event(
            {"type": "conversation.item.create", "previous_item_id": item_id, "item": item}
        )

    def _cancel_response(self) -> None:
        """Cancel the response in flight, if there is one."""
        if self._sequencer.begin_cancel_response():
            self._send_event_now({"type": "response.cancel"})

    def _interrupt(self, elapsed_time: float, cancel_ongoing_response: bool = True) -> None:
        """Tell the API the user interrupted; call :meth:`interrupt` instead."""
        if elapsed_time < 0:
            return
        if cancel_ongoing_response:
            self._cancel_response()
        length = self._audio_length_ms
        # audio_end_ms must be an integer
        audio_end_ms = max(0, math.floor(min(elapsed_time, length)))
        self.emit("audio_interrupted")
        # Keep the transcript of audio estimated to be fully played; the player was
        # still told (only the application knows its actual buffer).
        if self._audio_generation_done and elapsed_time >= length:
            return
        event: dict[str, Any] = {"type": "conversation.item.truncate"}
        if self._current_item_id is not None:
            event["item_id"] = self._current_item_id
        if self._current_audio_content_index is not None:
            event["content_index"] = self._current_audio_content_index
        event["audio_end_ms"] = audio_end_ms
        self.send_event(event)

    def interrupt(self, cancel_ongoing_response: bool = True) -> None:
        """Interrupt the response being played (done for you on ``speech_started``)."""
        if not self._current_item_id or self._first_audio_timestamp is None:
            return
        elapsed = self._clock() - self._first_audio_timestamp
        if elapsed >= 0:
            self._interrupt(elapsed, cancel_ongoing_response)
        self._reset_audio_playback_state()

    def mute(self, muted: bool) -> None:
        """Always raises: this transport does not mute; stop calling :meth:`send_audio`."""
        raise UsageError(
            "Mute is not supported for the WebSocket transport. You have to mute the audio "
            "input yourself."
        )

    # ------------------------------------------------------------------ history

    def reset_history(
        self, old_history: Sequence[RealtimeItem], new_history: Sequence[RealtimeItem]
    ) -> None:
        """Send the events that turn the server's conversation ``old`` into ``new``.

        Raises:
            HistoryError: before anything is sent, for items the API cannot create.
            TransportNotConnected: not connected.
        """
        projected: dict[str, bool] = {}
        for item_id, kind in self._pending_history.values():
            projected[item_id] = kind == "create"
        plan = plan_reset_history(old_history, new_history, pending=projected)
        for message in plan.warnings:
            logger.warning(message)
        for request in plan.requests:
            self._send_history_request(request.item_id, str(request.kind), request.event)

    def _send_history_request(self, item_id: str, kind: str, event: Mapping[str, Any]) -> None:
        self._history_seq += 1
        event_id = f"agents_{kind}_{self._history_seq}"
        self._pending_history[event_id] = (item_id, kind)
        try:
            self.send_event({**event, "event_id": event_id})
        except BaseException:
            self._pending_history.pop(event_id, None)
            raise

    def _settle_history_request(self, item_id: str, kind: str) -> None:
        # A successful reply names the item: retire its oldest matching request.
        for event_id, (pending_item, pending_kind) in self._pending_history.items():
            if pending_item == item_id and pending_kind == kind:
                del self._pending_history[event_id]
                return


_EMIT: Final = OpenAIRealtimeWebSocket.emit

# --------------------------------------------------------------------------- helpers


_MESSAGE_PART_KEYS: Final = {
    "input_text": ("type", "text"),
    "output_text": ("type", "text"),
    "input_audio": ("type", "audio", "transcript"),
    "input_image": ("type", "image_url", "detail"),
    "output_audio": ("type", "audio", "transcript"),
}


def _message_content(role: Any, content: Any) -> Any:
    """The content parts as the reference's message schema keeps them."""
    if not isinstance(content, list):
        return content
    out = []
    for part in content:
        if isinstance(part, Mapping):
            kind = part.get("type")
            if role == "assistant" and kind == "audio":
                # reference: openaiRealtimeBase.ts, normalizeRealtimeMessageContent
                kind = "output_audio"
            keys = _MESSAGE_PART_KEYS.get(kind) if isinstance(kind, str) else None
            if keys is not None:
                part = {k: part[k] for k in keys[1:] if k in part} | {"type": kind}
        out.append(part)
    return out


def _item(obj: dict[str, Any]) -> RealtimeItem:
    return item_from_json({k: v for k, v in obj.items() if v is not _U}, where="server item")


def _tool_call_fields(tool_call: ToolCallEvent | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(tool_call, ToolCallEvent):
        return {
            "id": tool_call.id if tool_call.id is not None else _U,
            "callId": tool_call.call_id,
            "name": tool_call.name,
            "arguments": tool_call.arguments,
            "previousItemId": tool_call.previous_item_id
            if tool_call.previous_item_id is not None
            else _U,
        }
    if not isinstance(tool_call, Mapping):
        raise UsageError(f"tool_call must be a ToolCallEvent or a mapping, got {tool_call!r}")

    def pick(*keys: str) -> Any:
        for key in keys:
            if key in tool_call:
                return tool_call[key]
        return _U

    return {
        "id": pick("id"),
        "callId": pick("callId", "call_id"),
        "name": pick("name"),
        "arguments": pick("arguments"),
        "previousItemId": pick("previousItemId", "previous_item_id"),
    }
