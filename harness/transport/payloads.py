"""The values the transport emits (the reference's ``TransportLayer*`` payloads).

Each has ``to_json()``, the reference's camelCase JSON for it. Frozen, shared between
listeners. Audio keeps the wire's base64 and decodes it on first access, with pybase64
(SIMD) where it is installed and the standard library otherwise (:mod:`harness._b64`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from harness._b64 import b64_size, b64decode, b64encode
from harness._json import JSONObject
from harness.errors import UsageError
from harness.items import RealtimeItem, item_from_wire
from harness.transport._js import UNSET, coalesce

__all__ = [
    "AudioEvent",
    "ErrorEvent",
    "ItemDeletedEvent",
    "McpToolsListedEvent",
    "OutputTextDeltaEvent",
    "ToolCallEvent",
    "TranscriptDeltaEvent",
    "TurnDoneEvent",
    "TurnStartedEvent",
    "Usage",
    "b64_size",
    "b64encode",
    "mcp_call_item",
    "message_item",
    "tool_call_fields",
    "wire_item",
]

_new_object: Final = object.__new__  # an instance without __init__: one call, found once


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
        event = _new_object(cls)
        event._data = None
        event._b64 = text
        event._response_id = response_id
        return event

    @property
    def data(self) -> bytes:
        """The audio bytes."""
        if self._data is None:
            self._data = b64decode(self._b64 or "")
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
        size = b64_size(self._b64) if self._data is None else len(self._data)
        return f"AudioEvent(<{size} bytes>, {self.response_id!r})"

    def to_json(self) -> JSONObject:
        """The reference's JSON, with ``data`` as base64."""
        return {
            "type": "audio",
            "data": self._b64
            if self._data is None and self._b64 is not None
            else b64encode(self.data),
            "responseId": self.response_id,
        }


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

    def to_json(self) -> JSONObject:
        """The reference's JSON."""
        out: JSONObject = {
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

    def to_json(self) -> JSONObject:
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

    def to_json(self) -> JSONObject:
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

    def to_json(self) -> JSONObject:
        """The reference's JSON."""
        return {"type": "response_started", "providerData": dict(self.provider_data)}


@dataclass(frozen=True, slots=True)
class TurnDoneEvent:
    """A response finished (``turn_done``)."""

    response_id: str
    output: Sequence[Any]
    usage: Usage
    type: ClassVar[str] = "response_done"

    def to_json(self) -> JSONObject:
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

    def to_json(self) -> JSONObject:
        """The reference's JSON; an exception becomes ``{"message": str(exc)}``."""
        error = self.error
        if isinstance(error, BaseException):
            error = {"message": str(error)}
        return {"type": "error", "error": error}


@dataclass(frozen=True, slots=True)
class ItemDeletedEvent:
    """The server deleted an item (``item_deleted``)."""

    item_id: str

    def to_json(self) -> JSONObject:
        """The reference's JSON."""
        return {"itemId": self.item_id}


@dataclass(frozen=True, slots=True)
class McpToolsListedEvent:
    """An MCP server listed its tools (``mcp_tools_listed``)."""

    server_label: str
    tools: Sequence[Mapping[str, Any]]

    def to_json(self) -> JSONObject:
        """The reference's JSON."""
        return {"serverLabel": self.server_label, "tools": [dict(t) for t in self.tools]}


# --------------------------------------------------------------------------- items
#
# The items the transport emits (item_update, ...) are harness.items values, read from
# the wire by item_from_wire; these build the wire-shaped dicts it reads.

# The content part keys the reference's message schema keeps, by part type (an
# assistant's "audio" part is the beta spelling of "output_audio": item_from_wire reads
# it so, the one place that knows).
_MESSAGE_PART_KEYS: Final = {
    "input_text": ("text",),
    "output_text": ("text",),
    "input_audio": ("audio", "transcript"),
    "input_image": ("image_url", "detail"),
    "output_audio": ("audio", "transcript"),
    "audio": ("audio", "transcript"),
}


def _message_content(content: Any) -> Any:
    """The content parts with only the keys the reference's message schema keeps."""
    if not isinstance(content, list):
        return content
    out = []
    for part in content:
        if isinstance(part, Mapping):
            kind = part.get("type")
            keys = _MESSAGE_PART_KEYS.get(kind) if isinstance(kind, str) else None
            if keys is not None:
                part = {"type": kind} | {k: part[k] for k in keys if k in part}
        out.append(part)
    return out


def wire_item(fields: Mapping[str, Any], *, where: str = "server item") -> RealtimeItem:
    """The item the wire-shaped ``fields`` describe (:data:`UNSET` ones left out)."""
    return item_from_wire({k: v for k, v in fields.items() if v is not UNSET}, where=where)


def message_item(item: JSONObject, status: str, previous: Any = UNSET) -> RealtimeItem:
    """A server message item, with ``status`` when the server gives none."""
    return wire_item(
        {
            "id": item.get("id", UNSET),
            "previous_item_id": previous,
            "type": "message",
            "role": item.get("role", UNSET),
            "content": _message_content(item.get("content", UNSET)),
            "status": coalesce(item.get("status"), status),
        }
    )


def mcp_call_item(item: JSONObject, kind: str, done: bool) -> RealtimeItem:
    return wire_item(
        {
            "id": item.get("id", UNSET),
            "type": kind,
            "status": "completed" if done else "in_progress",
            "arguments": item.get("arguments", UNSET),
            "name": item.get("name", UNSET),
            "output": item.get("output", UNSET),
        }
    )


def tool_call_fields(tool_call: ToolCallEvent | Mapping[str, Any]) -> JSONObject:
    """A tool call's fields, snake_case (a mapping may spell them either way)."""
    if isinstance(tool_call, ToolCallEvent):
        return {
            "id": tool_call.id if tool_call.id is not None else UNSET,
            "call_id": tool_call.call_id,
            "name": tool_call.name,
            "arguments": tool_call.arguments,
            "previous_item_id": tool_call.previous_item_id
            if tool_call.previous_item_id is not None
            else UNSET,
        }
    if not isinstance(tool_call, Mapping):
        raise UsageError(f"tool_call must be a ToolCallEvent or a mapping, got {tool_call!r}")

    def pick(*keys: str) -> Any:
        for key in keys:
            if key in tool_call:
                return tool_call[key]
        return UNSET

    return {
        "id": pick("id"),
        "call_id": pick("callId", "call_id"),
        "name": pick("name"),
        "arguments": pick("arguments"),
        "previous_item_id": pick("previousItemId", "previous_item_id"),
    }
