"""The server's side of a conversation, as the Realtime API documents it.

:class:`Conversation` is the ordered list of items a session holds and the
``conversation.item.*`` client events that change it; :class:`SimulatedSession` wraps
one with the rest of a session (``session.update``, ``response.create``, the input
audio buffer) so that ``FakeRealtimeServer.simulate`` can serve it over a socket. Both
are plain state machines: feed a client event, get the server events back.

Theory of operation
-------------------

1. The conversation is a list of GA wire items (``{"id", "object": "realtime.item",
   "type", ...}``) with unique ids.
2. ``conversation.item.create``: ``previous_item_id`` absent (or ``null``) appends;
   ``"root"`` inserts first; an id inserts right after that item. An unknown id, an id
   already in the conversation, or an item the API cannot take is an ``error`` and
   changes nothing. An item without ``id`` gets one. On success the server answers
   ``conversation.item.added`` then ``conversation.item.done``, each naming the
   item's predecessor in ``previous_item_id`` (``null`` when first).
3. ``conversation.item.delete`` removes the item and answers
   ``conversation.item.deleted``; an unknown id is an ``error``.
4. ``conversation.item.truncate`` cuts an assistant message's audio at
   ``audio_end_ms`` and drops its transcript (the server keeps no text the user did not
   hear), answering ``conversation.item.truncated``; ``conversation.item.retrieve``
   answers ``conversation.item.retrieved`` with the item.
5. Every server event carries a fresh ``event_id``; an ``error`` names the client
   event that caused it in ``error.event_id``, which is how the reference settles its
   pending history requests.
6. What the API cannot create is refused as the docs say: assistant audio messages
   ("cannot populate assistant audio messages") and the items only the server makes
   (``mcp_call``, ``mcp_tool_call``, ``mcp_list_tools``, ``mcp_approval_request``).
   Items the session was seeded with may be of any kind.

Error ``code`` / ``message`` / ``param`` values are modelled on the API reference's
descriptions and on errors the live API returns for the same mistakes; treat them as
realistic, not as byte-identical to the live service.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from harness._json import JSONObject
from harness.cassette import MAX_DEPTH, exceeds_depth
from harness.client_schema import (
    ITEM_SPECS,
    PART_SPECS,
    RESPONSE_SPEC,
    SESSION_SPEC,
    Nullable,
    apply_update,
    kind_of,
    refusal_of,
)
from harness.errors import ConversationError, UsageError

__all__ = [
    "CREATABLE_ITEM_TYPES",
    "DEFAULT_KEEP_RECEIVED",
    "Conversation",
    "IdFactory",
    "SimulatedSession",
    "error_event",
]

CREATABLE_ITEM_TYPES: Final = frozenset(
    {"message", "function_call", "function_call_output", "mcp_approval_response"}
)
"""Item types a client may put in ``conversation.item.create`` (API reference)."""

_CONTENT_BY_ROLE: Final[Mapping[str, frozenset[str]]] = {
    "system": frozenset({"input_text"}),
    "user": frozenset({"input_text", "input_audio", "input_image"}),
    "assistant": frozenset({"output_text", "output_audio"}),
}
_STATUSES: Final = frozenset({"in_progress", "completed", "incomplete"})
_ROOT: Final = "root"


class IdFactory:
    """Deterministic ids for server events, items and responses of one session."""

    __slots__ = ("_counts", "prefix")

    def __init__(self, prefix: str = "sim") -> None:
        self.prefix = prefix
        self._counts: dict[str, int] = {}

    def next(self, kind: str) -> str:
        """Return the next id of ``kind`` (``event``, ``item``, ``resp``, ``sess``)."""
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        return f"{kind}_{self.prefix}{n:06d}"


def error_event(
    event_id: str,
    *,
    code: str,
    message: str,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> JSONObject:
    """Build the API's ``error`` server event.

    Args:
        event_id: this server event's id.
        code: machine-readable code, e.g. ``item_delete_invalid_item_id``.
        message: the human-readable message.
        param: the client event field at fault, if any.
        client_event_id: the ``event_id`` of the client event that caused it.
        error_type: the error's ``type``; ``invalid_request_error`` for client mistakes.
    """
    return {
        "type": "error",
        "event_id": event_id,
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


class Conversation:
    """The ordered items of one conversation and the client events that change them.

    Args:
        items: wire items to start with (e.g. a history to seed), in order; any
            item type is accepted here, since the server may hold what it made.
        ids: where server event and item ids come from (shared with the session).

    Raises:
        UsageError: a seed item is not an object with a string ``id``, or two share one.
    """

    def __init__(self, items: Iterable[Mapping[str, Any]] = (), *, ids: IdFactory | None = None):
        self.ids = ids if ids is not None else IdFactory()
        self._items: list[JSONObject] = []
        self._by_id: dict[str, JSONObject] = {}
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise UsageError(f"seed history[{index}]: expected a wire item with a string 'id'")
            if item["id"] in self._by_id:
                raise UsageError(f"seed history[{index}]: item id {item['id']!r} repeats")
            stored = {"id": item["id"], "object": "realtime.item"}
            stored.update(copy.deepcopy(dict(item)))
            self._items.append(stored)
            self._by_id[stored["id"]] = stored

    # ------------------------------------------------------------------ reading

    @property
    def items(self) -> list[JSONObject]:
        """The items in order (copies: changing them does not change the conversation)."""
        return copy.deepcopy(self._items)

    @property
    def item_ids(self) -> list[str]:
        """The item ids in order."""
        return [item["id"] for item in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def new_item_id(self) -> str:
        """A server-minted item id no item of the conversation has.

        A client may choose any id, the server's own pattern (``item_sim000001``) too, so
        the next minted one is skipped while it is taken.
        """
        while True:
            item_id = self.ids.next("item")
            if item_id not in self._by_id:
                return item_id

    def _position(self, item_id: str) -> int:
        for index, item in enumerate(self._items):
            if item["id"] == item_id:
                return index
        raise KeyError(item_id)

    # ------------------------------------------------------------------ events

    def _error(
        self, client_event_id: str | None, code: str, message: str, param: str | None
    ) -> ConversationError:
        event = error_event(
            self.ids.next("event"),
            code=code,
            message=message,
            param=param,
            client_event_id=client_event_id,
        )
        return ConversationError(f"{code}: {message}", event)

    def _check_item(self, item: object, event_id: str | None) -> JSONObject:
        def bad(message: str, param: str, code: str = "invalid_value") -> ConversationError:
            return self._error(event_id, code, message, param)

        def wrong_type(value: Any, param: str, expected: str = "a string") -> ConversationError:
            return bad(
                f"Invalid type for '{param}': expected {expected}, but got {kind_of(value)} "
                "instead.",
                param,
                "invalid_type",
            )

        if not isinstance(item, Mapping):
            raise bad("Invalid type for 'item': expected an object.", "item", "invalid_type")
        kind = item.get("type")
        if kind is None:
            raise bad(
                "Missing required parameter: 'item.type'.",
                "item.type",
                "missing_required_parameter",
            )
        if not isinstance(kind, str):
            raise wrong_type(kind, "item.type")
        if kind not in CREATABLE_ITEM_TYPES:
            raise bad(
                f"Invalid value: '{kind}'. Supported values are: "
                + ", ".join(f"'{t}'" for t in sorted(CREATABLE_ITEM_TYPES))
                + ".",
                "item.type",
            )
        item_id = item.get("id")
        if item_id is not None and not isinstance(item_id, str):
            raise bad("Invalid type for 'item.id': expected a string.", "item.id", "invalid_type")
        status = item.get("status")
        if status is not None and not isinstance(status, str):
            raise wrong_type(status, "item.status")
        if status is not None and status not in _STATUSES:
            raise bad(
                f"Invalid value: '{status}'. Supported values are: 'completed', "
                "'in_progress', and 'incomplete'.",
                "item.status",
            )
        if kind == "message":
            role = item.get("role")
            if role is not None and not isinstance(role, str):
                raise wrong_type(role, "item.role")
            if role not in _CONTENT_BY_ROLE:
                raise bad(
                    f"Invalid value: '{role}'. Supported values are: 'system', 'user', "
                    "and 'assistant'.",
                    "item.role",
                )
            content = item.get("content")
            if not isinstance(content, list):
                raise bad(
                    "Missing required parameter: 'item.content'.",
                    "item.content",
                    "missing_required_parameter",
                )
            allowed = _CONTENT_BY_ROLE[str(role)]
            for index, part in enumerate(content):
                if not isinstance(part, Mapping):
                    raise wrong_type(part, f"item.content[{index}]", "an object")
                part_type = part.get("type")
                param = f"item.content[{index}].type"
                if part_type is not None and not isinstance(part_type, str):
                    raise wrong_type(part_type, param)
                if role == "assistant" and part_type == "output_audio":
                    # API reference, conversation.item.create: "it cannot populate
                    # assistant audio messages".
                    raise bad(
                        "Assistant audio messages cannot be created by the client; use "
                        "'output_text' content instead.",
                        param,
                    )
                if part_type not in allowed:
                    raise bad(
                        f"Invalid value: '{part_type}'. Supported values for a {role} "
                        "message are: " + ", ".join(f"'{t}'" for t in sorted(allowed)) + ".",
                        param,
                    )
                refusal = refusal_of(
                    dict(part), PART_SPECS[str(part_type)], f"item.content[{index}]"
                )
                if refusal is not None:
                    raise bad(refusal[1], refusal[2], refusal[0])
        refusal = refusal_of(dict(item), ITEM_SPECS[kind], "item")
        if refusal is not None:
            raise bad(refusal[1], refusal[2], refusal[0])
        return dict(item)

    def create(
        self,
        item: Mapping[str, Any],
        previous_item_id: str | None = None,
        *,
        client_event_id: str | None = None,
    ) -> list[JSONObject]:
        """Add ``item`` (rule 2) and return ``conversation.item.added`` and ``.done``.

        Raises:
            ConversationError: the API would refuse it; ``.error_event`` is its answer.
        """
        stored = copy.deepcopy(self._check_item(item, client_event_id))
        item_id = stored.get("id")
        if item_id is None:
            item_id = self.new_item_id()
        elif item_id in self._by_id:
            raise self._error(
                client_event_id,
                "item_create_duplicate_item_id",
                f"Error adding item: an item with id '{item_id}' already exists.",
                "item.id",
            )
        if previous_item_id is None:
            index = len(self._items)
        elif previous_item_id == _ROOT:
            index = 0
        elif previous_item_id in self._by_id:
            index = self._position(previous_item_id) + 1
        else:
            raise self._error(
                client_event_id,
                "item_create_invalid_previous_item_id",
                f"Error adding item: the previous item with id '{previous_item_id}' "
                "does not exist.",
                "previous_item_id",
            )
        stored = {"id": item_id, "object": "realtime.item", **stored}
        stored["id"] = item_id
        if stored["type"] == "mcp_approval_response":
            # The API's mcp_approval_response item has no "object" (openai's
            # RealtimeMcpApprovalResponse declares none), unlike the other items.
            del stored["object"]
        if stored["type"] in ("message", "function_call"):
            stored.setdefault("status", "completed")
        self._items.insert(index, stored)
        self._by_id[item_id] = stored
        previous = self._items[index - 1]["id"] if index > 0 else None
        return [
            {
                "type": kind,
                "event_id": self.ids.next("event"),
                "previous_item_id": previous,
                "item": copy.deepcopy(stored),
            }
            for kind in ("conversation.item.added", "conversation.item.done")
        ]

    def _existing(self, item_id: object, verb: str, code: str, event_id: str | None) -> JSONObject:
        if not isinstance(item_id, str):
            raise self._error(
                event_id,
                "missing_required_parameter",
                "Missing required parameter: 'item_id'.",
                "item_id",
            )
        found = self._by_id.get(item_id)
        if found is None:
            raise self._error(
                event_id,
                code,
                f"Error {verb} item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        return found

    def delete(self, item_id: str, *, client_event_id: str | None = None) -> list[JSONObject]:
        """Remove the item (rule 3) and return ``conversation.item.deleted``.

        Raises:
            ConversationError: no such item; ``.error_event`` is the API's answer.
        """
        found = self._existing(item_id, "deleting", "item_delete_invalid_item_id", client_event_id)
        self._items.remove(found)
        del self._by_id[item_id]
        return [
            {
                "type": "conversation.item.deleted",
                "event_id": self.ids.next("event"),
                "item_id": item_id,
            }
        ]

    def retrieve(self, item_id: str, *, client_event_id: str | None = None) -> list[JSONObject]:
        """Return ``conversation.item.retrieved`` with the item (rule 4).

        Raises:
            ConversationError: no such item; ``.error_event`` is the API's answer.
        """
        found = self._existing(
            item_id, "retrieving", "item_retrieve_invalid_item_id", client_event_id
        )
        return [
            {
                "type": "conversation.item.retrieved",
                "event_id": self.ids.next("event"),
                "item": copy.deepcopy(found),
            }
        ]

    def truncate(
        self,
        item_id: str,
        content_index: int,
        audio_end_ms: int,
        *,
        client_event_id: str | None = None,
    ) -> list[JSONObject]:
        """Cut an assistant message's audio (rule 4); return ``conversation.item.truncated``.

        Raises:
            ConversationError: no such item, not an assistant audio part, or a bad
                ``audio_end_ms``; ``.error_event`` is the API's answer.
        """
        found = self._existing(
            item_id, "truncating", "item_truncate_invalid_item_id", client_event_id
        )
        if found.get("type") != "message" or found.get("role") != "assistant":
            raise self._error(
                client_event_id,
                "invalid_value",
                f"Only assistant messages can be truncated; item '{item_id}' is not one.",
                "item_id",
            )
        content = found.get("content")
        if not isinstance(content, list):
            content = []
        if (
            not isinstance(content_index, int)
            or isinstance(content_index, bool)
            or not 0 <= content_index < len(content)
            or not isinstance(content[content_index], dict)
            or content[content_index].get("type") not in ("output_audio", "audio")
        ):
            raise self._error(
                client_event_id,
                "invalid_value",
                f"Invalid 'content_index': item '{item_id}' has no audio content at "
                f"index {content_index!r}.",
                "content_index",
            )
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool) or audio_end_ms < 0:
            raise self._error(
                client_event_id,
                "invalid_value",
                f"Invalid 'audio_end_ms': expected a non-negative integer, got {audio_end_ms!r}.",
                "audio_end_ms",
            )
        part = content[content_index]
        if "transcript" in part:
            part["transcript"] = ""
        return [
            {
                "type": "conversation.item.truncated",
                "event_id": self.ids.next("event"),
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            }
        ]

    def apply(self, event: Mapping[str, Any]) -> list[JSONObject]:
        """Apply one ``conversation.item.*`` client event; return the server's answer.

        Refusals come back as an ``error`` event (errors are values here), and change
        nothing.

        Raises:
            UsageError: ``event`` is not a ``conversation.item.*`` client event.
        """
        kind = event.get("type")
        client_event_id = event.get("event_id")
        if not isinstance(client_event_id, str):
            client_event_id = None
        try:
            if kind == "conversation.item.create":
                if "item" not in event:
                    raise self._error(
                        client_event_id,
                        "missing_required_parameter",
                        "Missing required parameter: 'item'.",
                        "item",
                    )
                previous = event.get("previous_item_id")
                if previous is not None and not isinstance(previous, str):
                    raise self._error(
                        client_event_id,
                        "invalid_type",
                        "Invalid type for 'previous_item_id': expected a string.",
                        "previous_item_id",
                    )
                return self.create(event["item"], previous, client_event_id=client_event_id)
            if kind == "conversation.item.delete":
                return self.delete(event.get("item_id"), client_event_id=client_event_id)  # type: ignore[arg-type]
            if kind == "conversation.item.retrieve":
                return self.retrieve(event.get("item_id"), client_event_id=client_event_id)  # type: ignore[arg-type]
            if kind == "conversation.item.truncate":
                return self.truncate(
                    event.get("item_id"),  # type: ignore[arg-type]
                    event.get("content_index"),  # type: ignore[arg-type]
                    event.get("audio_end_ms"),  # type: ignore[arg-type]
                    client_event_id=client_event_id,
                )
        except ConversationError as refusal:
            return [refusal.error_event]
        raise UsageError(f"not a conversation.item.* client event: {kind!r}")


# --------------------------------------------------------------------------- session


def _default_session(session_id: str, model: str) -> JSONObject:
    """A GA ``realtime.session`` object with the API's defaults."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": 0,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
    }


DEFAULT_KEEP_RECEIVED: Final = 1000
"""How many client events :attr:`SimulatedSession.received` keeps by default (the newest)."""

_CLIENT_EVENTS: Final = (
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "input_audio_buffer.append",
    "input_audio_buffer.clear",
    "input_audio_buffer.commit",
    "response.cancel",
    "response.create",
    "session.update",
)


class SimulatedSession:
    """One simulated Realtime session: a :class:`Conversation` and the rest of a session.

    Feed every client event to :meth:`handle` and send back what it returns. Responses
    are empty: ``response.create`` answers ``response.created`` then ``response.done``
    with no output, so clients that wait for ``response.done`` carry on.

    What the client sent is kept for tests to inspect, bounded so that a long session (a
    soak test streaming audio for an hour) does not grow without end: :attr:`received`
    holds copies of the newest ``keep_received`` client events, oldest first, and
    :attr:`received_count` counts them all. An ``input_audio_buffer.append`` is kept with
    its ``audio`` elided to its size (``"<audio: 6400 base64 chars elided>"``).

    Args:
        history: wire items the conversation starts with.
        model: the model the session reports.
        keep_received: how many of the newest client events :attr:`received` keeps
            (default :data:`DEFAULT_KEEP_RECEIVED`; 0 keeps none; ``None`` keeps every
            one, for a session known to be short).

    Raises:
        UsageError: ``keep_received`` is negative.
    """

    def __init__(
        self,
        history: Iterable[Mapping[str, Any]] = (),
        *,
        model: str = "gpt-realtime",
        keep_received: int | None = DEFAULT_KEEP_RECEIVED,
    ) -> None:
        if keep_received is not None and keep_received < 0:
            raise UsageError(f"keep_received must be >= 0 or None, got {keep_received}")
        self.ids = IdFactory()
        self.conversation = Conversation(history, ids=self.ids)
        self.session: JSONObject = _default_session(self.ids.next("sess"), model)
        self.conversation_id = self.ids.next("conv")
        self.received: deque[JSONObject] = deque(maxlen=keep_received)
        """The newest client events handled (copies, audio elided), oldest first."""
        self.received_count: int = 0
        """How many client events were handled in all, the ones ``received`` dropped too."""
        self._audio_bytes = 0  # base64 characters appended to the input buffer

    def on_connect(self) -> list[JSONObject]:
        """Return what the server sends on connect: ``session.created``."""
        return [
            {
                "type": "session.created",
                "event_id": self.ids.next("event"),
                "session": copy.deepcopy(self.session),
            }
        ]

    def _error(
        self, event: Mapping[str, Any], code: str, message: str, param: str | None
    ) -> JSONObject:
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        return error_event(
            self.ids.next("event"),
            code=code,
            message=message,
            param=param,
            client_event_id=client_event_id,
        )

    def handle(self, event: object) -> list[JSONObject]:
        """Answer one client event with the server events the API would send.

        Whatever the event holds, the answer is the API's events or its ``error`` event
        (``invalid_request_error``); the session changes only on a valid event.
        """
        if exceeds_depth(event):
            return [
                error_event(
                    self.ids.next("event"),
                    code="invalid_json",
                    message=f"The event nests more than {MAX_DEPTH} levels deep; the server "
                    "does not accept events nested that deep.",
                )
            ]
        if isinstance(event, Mapping):
            self._keep(event)
        if not isinstance(event, Mapping):
            return [
                error_event(
                    self.ids.next("event"),
                    code="invalid_json",
                    message="The server could not parse the event: expected a JSON object.",
                )
            ]
        kind = event.get("type")
        if not isinstance(kind, str):
            return [
                self._error(
                    event,
                    "missing_required_parameter",
                    "Missing required parameter: 'type'.",
                    "type",
                )
            ]
        if kind.startswith("conversation.item.") and kind in _CLIENT_EVENTS:
            return self.conversation.apply(event)
        if kind == "session.update":
            update = event.get("session")
            if not isinstance(update, Mapping):
                return [
                    self._error(
                        event,
                        "missing_required_parameter",
                        "Missing required parameter: 'session'.",
                        "session",
                    )
                ]
            refusal = refusal_of(dict(update), SESSION_SPEC, "session")
            if refusal is not None:
                return [self._error(event, *refusal)]
            apply_update(self.session, update, SESSION_SPEC)
            return [
                {
                    "type": "session.updated",
                    "event_id": self.ids.next("event"),
                    "session": copy.deepcopy(self.session),
                }
            ]
        if kind == "response.create":
            requested = event.get("response")
            refusal = refusal_of(requested, Nullable(RESPONSE_SPEC), "response")
            if refusal is not None:
                return [self._error(event, *refusal)]
            return self._respond(event)
        if kind == "response.cancel":
            return [
                self._error(
                    event,
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    None,
                )
            ]
        if kind == "input_audio_buffer.append":
            audio = event.get("audio")
            if not isinstance(audio, str):
                return [
                    self._error(
                        event,
                        "missing_required_parameter",
                        "Missing required parameter: 'audio'.",
                        "audio",
                    )
                ]
            self._audio_bytes += len(audio)
            return []
        if kind == "input_audio_buffer.clear":
            self._audio_bytes = 0
            return [{"type": "input_audio_buffer.cleared", "event_id": self.ids.next("event")}]
        if kind == "input_audio_buffer.commit":
            return self._commit(event)
        return [
            self._error(
                event,
                "invalid_value",
                f"Invalid value: '{kind}'. Supported values are: "
                + ", ".join(f"'{t}'" for t in _CLIENT_EVENTS)
                + ".",
                "type",
            )
        ]

    def _keep(self, event: Mapping[str, Any]) -> None:
        self.received_count += 1
        if self.received.maxlen == 0:
            return
        audio = event.get("audio")
        if event.get("type") == "input_audio_buffer.append" and isinstance(audio, str):
            # The audio is the bulk of a streaming session; its size is what tests check.
            elided = f"<audio: {len(audio)} base64 chars elided>"
            kept = {k: elided if k == "audio" else copy.deepcopy(v) for k, v in event.items()}
        else:
            kept = copy.deepcopy(dict(event))
        self.received.append(kept)

    def _commit(self, event: Mapping[str, Any]) -> list[JSONObject]:
        if self._audio_bytes == 0:
            return [
                self._error(
                    event,
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. Expected at "
                    "least 100ms of audio, but buffer only has 0.00ms of audio.",
                    None,
                )
            ]
        self._audio_bytes = 0
        item_id = self.conversation.new_item_id()
        previous = self.conversation.item_ids[-1] if len(self.conversation) else None
        committed: JSONObject = {
            "type": "input_audio_buffer.committed",
            "event_id": self.ids.next("event"),
            "previous_item_id": previous,
            "item_id": item_id,
        }
        added = self.conversation.create(
            {
                "id": item_id,
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            }
        )
        return [committed, *added]

    def _respond(self, event: Mapping[str, Any]) -> list[JSONObject]:
        # The request was validated against RESPONSE_SPEC; its overrides win over the session.
        response_id = self.ids.next("resp")
        requested: dict[str, Any] = event.get("response") or {}
        conversation: str | None = self.conversation_id
        if requested.get("conversation") == "none":
            conversation = None
        session = self.session
        output = dict(session["audio"]["output"])
        output.update(requested.get("audio", {}).get("output", {}))
        response: JSONObject = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": conversation,
            "output_modalities": list(
                requested.get("output_modalities") or session["output_modalities"]
            ),
            "max_output_tokens": requested.get("max_output_tokens", session["max_output_tokens"]),
            # RealtimeResponse's audio.output is the format and voice only (no speed).
            "audio": copy.deepcopy(
                {"output": {k: output[k] for k in ("format", "voice") if k in output}}
            ),
            "usage": None,
            "metadata": copy.deepcopy(requested.get("metadata")),
        }
        created = {
            "type": "response.created",
            "event_id": self.ids.next("event"),
            "response": copy.deepcopy(response),
        }
        response["status"] = "completed"
        response["usage"] = {
            "total_tokens": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "input_token_details": {
                "text_tokens": 0,
                "audio_tokens": 0,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": 0, "audio_tokens": 0},
        }
        done = {"type": "response.done", "event_id": self.ids.next("event"), "response": response}
        return [created, done]
