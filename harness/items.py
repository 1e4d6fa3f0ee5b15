"""Conversation items: the reference's ``RealtimeItem`` union as frozen values.

The shapes mirror ``@openai/agents-realtime`` 0.20.0 (``items.ts``): a message with a
``system``, ``user`` or ``assistant`` role, a ``function_call``, an ``mcp_call`` /
``mcp_tool_call`` and an ``mcp_approval_request``. Two additions the reference's union
does not have, both real API shapes: the ``input_image`` content part of user messages
and the ``mcp_list_tools`` item (the reference keeps it out of its history).

Three spellings of the same item cross this module:

* the reference's JSON, camelCase (``{"itemId": ..., "previousItemId": ...}``):
  :func:`item_from_json` (which also takes snake_case) and :func:`item_to_json`;
* the API's GA ``conversation.item`` on the wire (``{"id": ..., "type": "message", ...}``):
  :func:`item_from_wire` and :func:`item_to_wire`;
* these dataclasses, compared with ``==``.

Fields the reference types as optional *and* nullable keep the difference between an
absent key and ``null``: an absent key is :data:`UNSET`, so every spelling round-trips
exactly (the transport's frames must equal the reference's for the same input).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Final, Literal, TypeAlias

from harness._json import JSONDecodeError, JSONObject, dumps_str, loads
from harness.errors import UsageError

__all__ = [
    "UNSET",
    "ContentPart",
    "FunctionCallItem",
    "InputAudio",
    "InputImage",
    "InputText",
    "ItemStatus",
    "ItemType",
    "McpApprovalRequestItem",
    "McpCallItem",
    "McpListToolsItem",
    "MessageItem",
    "OutputAudio",
    "OutputText",
    "RealtimeItem",
    "Role",
    "Unset",
    "has_assistant_output_audio",
    "is_mcp_item",
    "item_from_json",
    "item_from_wire",
    "item_to_json",
    "item_to_wire",
]


class Unset(enum.Enum):
    """The type of :data:`UNSET`: a key that is absent, as opposed to ``null``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
"""An optional field whose key is absent from the JSON (``None`` stands for ``null``)."""


class Role(StrEnum):
    """Who a message is from; the wire spelling."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class ItemStatus(StrEnum):
    """An item's ``status``; the wire spelling."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"


class ItemType(StrEnum):
    """An item's ``type``; the wire spelling."""

    MESSAGE = "message"
    FUNCTION_CALL = "function_call"
    MCP_CALL = "mcp_call"
    MCP_TOOL_CALL = "mcp_tool_call"
    MCP_APPROVAL_REQUEST = "mcp_approval_request"
    MCP_LIST_TOOLS = "mcp_list_tools"


# --------------------------------------------------------------------------- content


@dataclass(frozen=True, slots=True)
class InputText:
    """Text the user (or the system) wrote: ``{"type": "input_text", "text": ...}``."""

    text: str
    type: ClassVar[str] = "input_text"


@dataclass(frozen=True, slots=True)
class InputAudio:
    """Audio the user spoke: base64 ``audio`` and/or its ``transcript``."""

    audio: str | Unset | None = UNSET
    transcript: str | Unset | None = UNSET
    type: ClassVar[str] = "input_audio"


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image the user showed: ``image_url`` (a URL or a data URL), optional ``detail``.

    Not in the reference's ``RealtimeItem`` union; the API accepts it in user messages.
    """

    image_url: str
    detail: str | Unset = UNSET
    type: ClassVar[str] = "input_image"


@dataclass(frozen=True, slots=True)
class OutputText:
    """Text the assistant wrote: ``{"type": "output_text", "text": ...}``."""

    text: str
    type: ClassVar[str] = "output_text"


@dataclass(frozen=True, slots=True)
class OutputAudio:
    """Audio the assistant spoke: base64 ``audio`` and/or its ``transcript``."""

    audio: str | Unset | None = UNSET
    transcript: str | Unset | None = UNSET
    type: ClassVar[str] = "output_audio"


ContentPart: TypeAlias = InputText | InputAudio | InputImage | OutputText | OutputAudio
"""One entry of a message's ``content``."""

_ALLOWED_CONTENT: Final[dict[Role, tuple[str, ...]]] = {
    # reference: items.ts, realtimeMessageItemSchema (+ input_image, which the API takes)
    Role.SYSTEM: ("input_text",),
    Role.USER: ("input_text", "input_audio", "input_image"),
    Role.ASSISTANT: ("output_text", "output_audio"),
}

# --------------------------------------------------------------------------- items


def _status(value: object, where: str) -> ItemStatus | None:
    if value is None or isinstance(value, ItemStatus):
        return value
    try:
        return ItemStatus(str(value))
    except ValueError:
        allowed = ", ".join(s.value for s in ItemStatus)
        raise UsageError(f"{where}: status {value!r} is not one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class MessageItem:
    """A message in the conversation.

    Args:
        item_id: the item's id (``itemId`` / wire ``id``).
        role: ``system``, ``user`` or ``assistant`` (a :class:`Role` or its string).
        content: the content parts, in order; a list is turned into a tuple. System
            messages take ``input_text``; user messages ``input_text``, ``input_audio``,
            ``input_image``; assistant messages ``output_text``, ``output_audio``.
        status: ``None`` when absent. System messages carry no status in the reference
            (its schema strips it), so a status given for one is dropped.
        previous_item_id: where the server said the item sits; ``UNSET`` when absent.
            Position is the list order: this field never makes two items differ for
            the history diff.
    """

    item_id: str
    role: Role
    content: tuple[ContentPart, ...]
    status: ItemStatus | None = None
    previous_item_id: str | Unset | None = UNSET
    type: ClassVar[str] = "message"

    def __post_init__(self) -> None:
        where = f"message item {self.item_id!r}"
        try:
            role = Role(self.role)
        except ValueError:
            raise UsageError(
                f"{where}: role {self.role!r} is not one of system, user, assistant"
            ) from None
        content = tuple(self.content)
        allowed = _ALLOWED_CONTENT[role]
        for index, part in enumerate(content):
            if not isinstance(part, InputText | InputAudio | InputImage | OutputText | OutputAudio):
                raise UsageError(f"{where}: content[{index}] is not a content part: {part!r}")
            if part.type not in allowed:
                raise UsageError(
                    f"{where}: content[{index}] is {part.type!r}, which a {role.value} "
                    f"message cannot hold (allowed: {', '.join(allowed)})"
                )
        status = None if role is Role.SYSTEM else _status(self.status, where)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "content", content)
        object.__setattr__(self, "status", status)


@dataclass(frozen=True, slots=True)
class FunctionCallItem:
    """A function call the model made; ``output`` is the result once the tool ran."""

    item_id: str
    name: str
    arguments: str
    output: str | Unset | None = UNSET
    status: ItemStatus | None = None
    call_id: str | Unset = UNSET
    previous_item_id: str | Unset | None = UNSET
    type: ClassVar[str] = "function_call"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "status", _status(self.status, f"function_call item {self.item_id!r}")
        )


@dataclass(frozen=True, slots=True)
class McpCallItem:
    """A call to a tool on an MCP server (``mcp_call``, or the older ``mcp_tool_call``)."""

    item_id: str
    type: Literal["mcp_call", "mcp_tool_call"]
    name: str
    arguments: str
    output: str | Unset | None = UNSET
    status: ItemStatus | None = None
    server_label: str | Unset = UNSET
    previous_item_id: str | Unset | None = UNSET

    def __post_init__(self) -> None:
        where = f"MCP call item {self.item_id!r}"
        if self.type not in ("mcp_call", "mcp_tool_call"):
            raise UsageError(f"{where}: type {self.type!r} is not mcp_call or mcp_tool_call")
        object.__setattr__(self, "status", _status(self.status, where))


@dataclass(frozen=True, slots=True)
class McpApprovalRequestItem:
    """The model asking to run an MCP tool; ``approved`` is the answer once given.

    ``arguments`` is the decoded JSON object (the reference parses the wire string), so
    this item compares by value but is not hashable.
    """

    item_id: str
    server_label: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    approved: bool | Unset | None = UNSET
    type: ClassVar[str] = "mcp_approval_request"

    @property
    def previous_item_id(self) -> Unset:
        """Always absent: the reference's approval request has no ``previousItemId``."""
        return UNSET


@dataclass(frozen=True, slots=True)
class McpListToolsItem:
    """The tools an MCP server listed (``tools`` as the API sends them).

    Not in the reference's ``RealtimeItem`` union (it reports the list as an event and
    keeps the item out of its history); it is a real conversation item all the same.
    """

    item_id: str
    server_label: str
    tools: tuple[Mapping[str, Any], ...] = ()
    previous_item_id: str | Unset | None = UNSET
    type: ClassVar[str] = "mcp_list_tools"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", tuple(self.tools))


RealtimeItem: TypeAlias = (
    MessageItem | FunctionCallItem | McpCallItem | McpApprovalRequestItem | McpListToolsItem
)
"""Any conversation item (the reference's ``RealtimeItem``, plus ``mcp_list_tools``)."""

_MCP_TYPES: Final = frozenset(
    {"mcp_call", "mcp_tool_call", "mcp_approval_request", "mcp_list_tools"}
)


def is_mcp_item(item: RealtimeItem) -> bool:
    """Tell whether ``item`` is an MCP item, which the API cannot re-create once deleted.

    The reference counts ``mcp_call``, ``mcp_tool_call`` and ``mcp_approval_request``; we
    count ``mcp_list_tools`` too (the reference has no such item in its history).
    """
    return item.type in _MCP_TYPES


def has_assistant_output_audio(item: RealtimeItem) -> bool:
    """Tell whether ``item`` is an assistant message holding ``output_audio``.

    The API cannot replay such a message (reference: utils.ts, hasAssistantOutputAudio).
    """
    return (
        isinstance(item, MessageItem)
        and item.role is Role.ASSISTANT
        and any(part.type == "output_audio" for part in item.content)
    )


# --------------------------------------------------------------------------- decoding


class _Reader:
    """Reads one JSON object, naming the path at fault in every error."""

    __slots__ = ("obj", "used", "where")

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, Mapping):
            raise UsageError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        self.obj: Mapping[str, Any] = obj
        self.where = where
        self.used: set[str] = set()

    def has(self, *keys: str) -> bool:
        return any(k in self.obj for k in keys)

    def _raw(self, keys: tuple[str, ...]) -> tuple[str | None, Any]:
        found = [k for k in keys if k in self.obj]
        if len(found) > 1:
            raise UsageError(f"{self.where}: both {found[0]!r} and {found[1]!r} given")
        self.used.update(keys)
        if not found:
            return None, UNSET
        return found[0], self.obj[found[0]]

    def text(self, *keys: str) -> str:
        key, value = self._raw(keys)
        if key is None:
            raise UsageError(f"{self.where}: missing {keys[0]!r}")
        if not isinstance(value, str):
            raise UsageError(f"{self.where}.{key}: expected a string, got {value!r}")
        return value

    def opt_text(self, *keys: str) -> str | Unset:
        key, value = self._raw(keys)
        if key is not None and not isinstance(value, str):
            raise UsageError(f"{self.where}.{key}: expected a string, got {value!r}")
        return value  # type: ignore[no-any-return]

    def nullable_text(self, *keys: str) -> str | Unset | None:
        key, value = self._raw(keys)
        if key is not None and value is not None and not isinstance(value, str):
            raise UsageError(f"{self.where}.{key}: expected a string or null, got {value!r}")
        return value  # type: ignore[no-any-return]

    def status(self, *keys: str) -> ItemStatus | None:
        key, value = self._raw(keys)
        if key is None or value is None:
            return None
        return _status(value, f"{self.where}.{key}")

    def done(self, *ignored: str) -> None:
        extra = sorted(set(self.obj) - self.used - set(ignored))
        if extra:
            raise UsageError(f"{self.where}: unknown key(s) {', '.join(map(repr, extra))}")


def _part_from(obj: object, where: str, *, wire_role: Role | None = None) -> ContentPart:
    r = _Reader(obj, where)
    kind = r.text("type")
    if wire_role is Role.ASSISTANT:
        # reference: openaiRealtimeBase.ts, normalizeRealtimeMessageContent ("audio");
        # "text" is the same beta spelling for text.
        kind = {"audio": "output_audio", "text": "output_text"}.get(kind, kind)
    part: ContentPart
    if kind == "input_text":
        part = InputText(r.text("text"))
    elif kind == "output_text":
        part = OutputText(r.text("text"))
    elif kind == "input_audio":
        part = InputAudio(audio=r.nullable_text("audio"), transcript=r.nullable_text("transcript"))
    elif kind == "output_audio":
        part = OutputAudio(audio=r.nullable_text("audio"), transcript=r.nullable_text("transcript"))
    elif kind == "input_image":
        part = InputImage(r.text("image_url", "imageUrl"), detail=r.opt_text("detail"))
    else:
        raise UsageError(
            f"{where}.type: unknown content part type {kind!r} (expected input_text, "
            "input_audio, input_image, output_text or output_audio)"
        )
    r.done()
    return part


def _content(r: _Reader, *, wire: bool) -> tuple[ContentPart, ...]:
    _, raw = r._raw(("content",))
    if raw is UNSET:
        raise UsageError(f"{r.where}: missing 'content'")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise UsageError(f"{r.where}.content: expected a list, got {raw!r}")
    role = Role(r.obj["role"]) if wire and r.obj.get("role") == "assistant" else None
    return tuple(
        _part_from(p, f"{r.where}.content[{i}]", wire_role=role) for i, p in enumerate(raw)
    )


def _role(r: _Reader) -> Role:
    value = r.text("role")
    try:
        return Role(value)
    except ValueError:
        raise UsageError(
            f"{r.where}.role: {value!r} is not one of system, user, assistant"
        ) from None


def _item_from(obj: object, where: str, *, wire: bool) -> RealtimeItem:
    r = _Reader(obj, where)
    kind = r.text("type")
    id_keys = ("id",) if wire else ("itemId", "item_id")
    prev_keys = ("previous_item_id",) if wire else ("previousItemId", "previous_item_id")
    ignored: tuple[str, ...] = ("object",) if wire else ()
    item: RealtimeItem
    if kind == "message":
        item = MessageItem(
            r.text(*id_keys),
            _role(r),
            _content(r, wire=wire),
            status=r.status("status"),
            previous_item_id=r.nullable_text(*prev_keys),
        )
    elif kind == "function_call":
        item = FunctionCallItem(
            r.text(*id_keys),
            r.text("name"),
            r.text("arguments"),
            output=r.nullable_text("output"),
            status=r.status("status"),
            call_id=r.opt_text("call_id", "callId"),
            previous_item_id=r.nullable_text(*prev_keys),
        )
    elif kind in ("mcp_call", "mcp_tool_call"):
        item = McpCallItem(
            r.text(*id_keys),
            "mcp_call" if kind == "mcp_call" else "mcp_tool_call",
            r.text("name"),
            r.text("arguments"),
            output=r.nullable_text("output"),
            status=r.status("status"),
            server_label=r.opt_text("server_label", "serverLabel"),
            previous_item_id=r.nullable_text(*prev_keys),
        )
        ignored += ("error", "approval_request_id") if wire else ()
    elif kind == "mcp_approval_request":
        item_id = r.text(*id_keys)
        label = r.text("server_label", "serverLabel")
        name = r.text("name")
        _, args = r._raw(("arguments",))
        if wire and isinstance(args, str):
            # The wire carries the arguments as a JSON string; the reference parses it.
            try:
                args = loads(args or "{}")
            except JSONDecodeError as exc:
                raise UsageError(f"{where}.arguments: not JSON: {exc}") from None
        if args is UNSET:
            args = {}
        if not isinstance(args, Mapping):
            raise UsageError(f"{where}.arguments: expected a JSON object, got {args!r}")
        _, approved = r._raw(("approved",))
        if approved is not UNSET and approved is not None and not isinstance(approved, bool):
            raise UsageError(f"{where}.approved: expected true, false or null, got {approved!r}")
        item = McpApprovalRequestItem(item_id, label, name, dict(args), approved)
    elif kind == "mcp_list_tools":
        item_id = r.text(*id_keys)
        label = r.text("server_label", "serverLabel")
        _, tools = r._raw(("tools",))
        if tools is UNSET:
            tools = []
        if not isinstance(tools, Sequence) or isinstance(tools, str):
            raise UsageError(f"{where}.tools: expected a list, got {tools!r}")
        item = McpListToolsItem(
            item_id,
            label,
            tuple(dict(t) for t in tools),
            previous_item_id=r.nullable_text(*prev_keys),
        )
    else:
        raise UsageError(
            f"{where}.type: unknown item type {kind!r} (expected message, function_call, "
            "mcp_call, mcp_tool_call, mcp_approval_request or mcp_list_tools)"
        )
    r.done(*ignored)
    return item


def item_from_json(obj: Mapping[str, Any], *, where: str = "item") -> RealtimeItem:
    """Read an item from the reference's JSON (camelCase; snake_case keys work too).

    Args:
        obj: e.g. ``{"itemId": "a", "type": "message", "role": "user", "status":
            "completed", "content": [{"type": "input_text", "text": "hi"}]}``.
        where: how error messages name this object (e.g. ``"history[3]"``).

    Raises:
        UsageError: the object is not an item; the message names the key at fault.
    """
    return _item_from(obj, where, wire=False)


def item_from_wire(obj: Mapping[str, Any], *, where: str = "item") -> RealtimeItem:
    """Read an item from the API's GA ``conversation.item`` JSON (``id``, snake_case).

    The server's ``object`` key is ignored; an assistant ``audio`` / ``text`` part is
    read as ``output_audio`` / ``output_text`` as the reference does.

    Raises:
        UsageError: the object is not an item; the message names the key at fault.
    """
    return _item_from(obj, where, wire=True)


# --------------------------------------------------------------------------- encoding


def _put(out: JSONObject, key: str, value: object) -> None:
    if value is not UNSET:
        out[key] = value.value if isinstance(value, enum.Enum) else value


def _part_to(part: ContentPart) -> JSONObject:
    out: JSONObject = {"type": part.type}
    if isinstance(part, InputText | OutputText):
        out["text"] = part.text
    elif isinstance(part, InputImage):
        out["image_url"] = part.image_url
        _put(out, "detail", part.detail)
    else:
        _put(out, "audio", part.audio)
        _put(out, "transcript", part.transcript)
    return out


def item_to_json(item: RealtimeItem) -> JSONObject:
    """Write ``item`` as the reference's camelCase JSON, keys in its schema's order."""
    out: JSONObject = {"itemId": item.item_id}
    if isinstance(item, McpApprovalRequestItem):
        out["type"] = item.type
        out["serverLabel"] = item.server_label
        out["name"] = item.name
        out["arguments"] = dict(item.arguments)
        _put(out, "approved", item.approved)
        return out
    _put(out, "previousItemId", item.previous_item_id)
    out["type"] = item.type
    if isinstance(item, MessageItem):
        out["role"] = item.role.value
        if item.status is not None:
            out["status"] = item.status.value
        out["content"] = [_part_to(p) for p in item.content]
    elif isinstance(item, McpListToolsItem):
        out["serverLabel"] = item.server_label
        out["tools"] = [dict(t) for t in item.tools]
    else:
        if item.status is not None:
            out["status"] = item.status.value
        out["arguments"] = item.arguments
        out["name"] = item.name
        _put(out, "output", item.output)
        if isinstance(item, FunctionCallItem):
            _put(out, "callId", item.call_id)
        else:
            _put(out, "serverLabel", item.server_label)
    return out


def item_to_wire(item: RealtimeItem) -> JSONObject:
    """Write ``item`` as the API's GA ``conversation.item`` JSON.

    A message comes out exactly as the reference's ``resetHistory`` builds the ``item``
    of its ``conversation.item.create``: ``type``, ``role``, ``content``, ``id``, then
    ``status`` when there is one (never for ``system``). ``previous_item_id`` is not an
    item field on the wire (it belongs to the event) and a function call's ``output``
    is a separate ``function_call_output`` item, so neither is written.
    """
    if isinstance(item, MessageItem):
        out: JSONObject = {
            "type": "message",
            "role": item.role.value,
            "content": [_part_to(p) for p in item.content],
            "id": item.item_id,
        }
        if item.status is not None:
            out["status"] = item.status.value
        return out
    out = {"id": item.item_id, "type": item.type}
    if isinstance(item, FunctionCallItem):
        if item.status is not None:
            out["status"] = item.status.value
        out["name"] = item.name
        _put(out, "call_id", item.call_id)
        out["arguments"] = item.arguments
    elif isinstance(item, McpCallItem):
        if item.status is not None:
            out["status"] = item.status.value
        _put(out, "server_label", item.server_label)
        out["name"] = item.name
        out["arguments"] = item.arguments
        _put(out, "output", item.output)
    elif isinstance(item, McpApprovalRequestItem):
        out["server_label"] = item.server_label
        out["name"] = item.name
        out["arguments"] = dumps_str(dict(item.arguments))
        _put(out, "approved", item.approved)
    else:
        out["server_label"] = item.server_label
        out["tools"] = [dict(t) for t in item.tools]
    return out
