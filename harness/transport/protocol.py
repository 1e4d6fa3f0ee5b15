"""The transport's protocol, sans I/O: frames in, events and frames out.

:class:`RealtimeProtocol` is everything ``OpenAIRealtimeWebSocket`` does that does not
wait (reference: openaiRealtimeBase.ts, and the socket's ``message`` listener in
openaiRealtimeWebsocket.ts): feed it each server frame with :meth:`~RealtimeProtocol.
receive_frame`; it emits the transport's events to its listeners, in order, and queues
the frames to send, which :meth:`~RealtimeProtocol.data_to_send` drains. No socket, no
event loop, no clock of its own (time is the ``clock`` you pass), like h11 or the
sans-I/O core of python-websockets. The asyncio shell, :mod:`harness.transport.websocket`,
moves the frames.

Without a socket::

    protocol = RealtimeProtocol(clock=lambda: 0.0)
    protocol.on("audio", play)
    protocol.open()                     # connected; queues the first session.update
    send(protocol.data_to_send())
    protocol.receive_frame(frame)       # every frame the server sends
    protocol.connection_lost()
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Final, Literal, TypeAlias

import orjson

from harness import _json
from harness._json import JSONObject
from harness.emitter import EventEmitter, Listener
from harness.errors import TransportError, TransportNotConnected, UsageError
from harness.history import plan_reset_history
from harness.items import McpApprovalRequestItem, RealtimeItem
from harness.redaction import RedactingFilter
from harness.transport._js import UNSET, coalesce, is_truthy, lookup
from harness.transport.payloads import (
    AudioEvent,
    ErrorEvent,
    ItemDeletedEvent,
    McpToolsListedEvent,
    OutputTextDeltaEvent,
    ToolCallEvent,
    TranscriptDeltaEvent,
    TurnDoneEvent,
    TurnStartedEvent,
    Usage,
    b64_size,
    b64encode,
    mcp_call_item,
    message_item,
    tool_call_fields,
    wire_item,
)
from harness.transport.schema import audio_delta, parse_server_event
from harness.transport.sequencer import ResponseCreateSequencer
from harness.transport.session_config import (
    DEFAULT_OPENAI_REALTIME_MODEL,
    audio_rate,
    build_session_payload,
    snake_session_config,
)

__all__ = ["Clock", "Connection", "RealtimeProtocol", "WebSocketStatus"]

# Scrubbed with the redaction rules before any handler sees a record (README: Redaction).
logger = logging.getLogger("harness.transport")
logger.addFilter(RedactingFilter())

WebSocketStatus: TypeAlias = Literal["connecting", "connected", "disconnected"]
"""The transport's connection status, as the reference spells it."""

Clock: TypeAlias = Callable[[], float]
"""Milliseconds now (the reference reads ``Date.now()``)."""


class Connection:
    """One connection, as the protocol sees it: the frames to send on it, in order.

    The asyncio shell's link subclasses it to hand each frame to its writer task.
    """

    __slots__ = ("outbox", "tracing")

    def __init__(self, tracing: Any = UNSET) -> None:
        self.outbox: deque[bytes] = deque()
        # The connect call's tracing config: session.created on this connection applies it.
        self.tracing = tracing

    def write(self, frame: bytes) -> None:
        """Queue ``frame`` (a text frame's JSON bytes) to be sent."""
        self.outbox.append(frame)


_AUDIO_DELTA: Final = "response.output_audio.delta"
_audio_event: Final = AudioEvent.from_base64


class RealtimeProtocol:
    """The Realtime transport's state machine, without I/O.

    Args:
        model: the model (default :data:`DEFAULT_OPENAI_REALTIME_MODEL`).
        clock: milliseconds now; interruption timing reads it.

    The public members are :class:`~harness.transport.OpenAIRealtimeWebSocket`'s sync
    ones (it subclasses this class), plus :meth:`open`, :meth:`receive_frame`,
    :meth:`data_to_send` and :meth:`connection_lost` for driving it without a socket.
    """

    # Whether a subclass keeps the audio hooks, so the hot path may skip them.
    _plain_audio_hooks: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_audio_hooks = all(
            getattr(cls, name) is getattr(RealtimeProtocol, name) for name in _AUDIO_HOOKS
        )

    def __init__(self, *, model: str | None = None, clock: Clock) -> None:
        self._emitter = EventEmitter(on_awaitable=self._schedule_listener)
        # Instance copies for the hot path: an instance attribute is read faster than the
        # class's _plain_audio_hooks or the emitter's attribute.
        self._listening = self._emitter.listening
        self._plain = self._plain_audio_hooks
        self._model: str = model if model is not None else DEFAULT_OPENAI_REALTIME_MODEL
        self._tracing: Any = None
        self._raw_session_config: Any = None
        self._session_format: Any = UNSET  # session.audio.output.format, kept with the above
        self._pending_history: dict[str, tuple[str, str]] = {}
        self._history_seq = 0
        self._clock: Clock = clock
        self._status: WebSocketStatus = "disconnected"
        self._connection: Connection | None = None
        self._current_item_id: str | None = None
        self._current_audio_content_index: Any = None
        self._audio_generation_done = False
        self._response_audio_formats: dict[str, Any] = {}
        self._first_audio_timestamp: float | None = None
        self._audio_length_ms: float = 0
        self._rate_response: str | None = None  # the response _rate_divisor, _rate are for
        self._rate_divisor = 48
        self._rate: Any = None
        self._sequencer = ResponseCreateSequencer(
            self._send_event_now, self._on_error, self._request_pump
        )
        self._dispatching = False
        self._pump_pending = False

    # ------------------------------------------------------------------ sans-I/O driving

    def open(self, initial_session_config: Mapping[str, Any] | None = None) -> None:
        """The connection is open: turn ``connected`` and queue the first ``session.update``.

        Raises:
            TransportError: already connected or connecting.
        """
        if self._connection is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        config = self._initial_session_config(initial_session_config)
        self._attach(Connection(config.get("tracing", UNSET)))
        self.emit("connection_change", "connected")
        self._on_open()
        self.update_session_config(config)

    def data_to_send(self) -> list[bytes]:
        """The frames queued since the last call (each a text frame's JSON), in order."""
        link = self._connection
        if link is None:
            return []
        frames = list(link.outbox)
        link.outbox.clear()
        return frames

    def connection_lost(self) -> None:
        """The connection is gone: turn ``disconnected`` (once) and forget its requests."""
        link = self._connection
        if link is not None:
            self._transition_to_disconnected(link)

    def _initial_session_config(self, config: Mapping[str, Any] | None) -> JSONObject:
        session_config = snake_session_config(config or {})
        session_config["model"] = self._model
        return session_config

    def _attach(self, link: Connection) -> None:
        self._connection = link
        self._status = "connected"

    def _schedule_listener(self, awaitable: Awaitable[Any]) -> None:
        """Run an ``async def`` listener's coroutine; the core has no loop to run it on."""
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()
        raise UsageError("an async listener needs a running event loop")

    # ------------------------------------------------------------------ properties

    @property
    def status(self) -> WebSocketStatus:
        """``"connecting"``, ``"connected"`` or ``"disconnected"``."""
        return self._status

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

    # ------------------------------------------------------------------ state changes

    def _status_disconnected_after_failed_handshake(self) -> None:
        # The socket never opened: there is no link, only the "connecting" status.
        self._forget_connection()
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

    def _forget_connection(self) -> None:
        """What belongs to the connection that ended: its waiting requests, its formats."""
        self._sequencer.release_waiters()
        self._response_audio_formats.clear()
        self._rate_response = None  # the cached rate read those formats
        self._reset_audio_playback_state()

    def _reset_audio_playback_state(self) -> None:
        self._audio_generation_done = False
        self._current_item_id = None
        self._first_audio_timestamp = None
        self._audio_length_ms = 0
        self._current_audio_content_index = None

    def _transition_to_disconnected(self, link: Connection | None) -> None:
        if link is not None and self._connection is not link:
            return
        self._forget_connection()
        if self._status == "disconnected":
            return
        self._status = "disconnected"
        self._connection = None
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

    # ------------------------------------------------------------------ receiving

    def receive_frame(self, data: bytes | str) -> None:
        """Handle one frame from the server: ``str`` for a text frame, ``bytes`` for binary.

        Emits the events it causes, in order, and queues the frames they send (drain them
        with :meth:`data_to_send`). A frame that is not JSON is ignored, as the
        reference's ``parseRealtimeEvent`` ignores it; an exception a listener raises is
        reported as an ``error`` event.
        """
        link = self._connection
        if link is None:
            return
        self._dispatching = True
        try:
            try:
                raw = orjson.loads(data)  # the hot path: no wrapper (a ValueError)
            except ValueError:
                if not isinstance(data, bytes):
                    return  # reference: parseRealtimeEvent returns no data: nothing is emitted
                # A binary frame: node's Buffer.toString() replaces invalid UTF-8.
                try:
                    raw = _json.loads(data.decode("utf-8", "replace"))
                except ValueError:
                    return
            try:
                audio = raw["type"] == _AUDIO_DELTA  # KeyError, or TypeError: not a dict
            except (KeyError, TypeError):
                audio = False
            if audio:  # raw is a dict: nothing else orjson returns takes a str index
                parsed = audio_delta(raw)
                if parsed is not None:
                    # The hot path, as _on_message + _on_websocket_message would take it:
                    # no other branch of either applies to an audio delta. With the
                    # class's own hooks (emit not replaced on the instance either), an
                    # event nobody listens to is skipped before any call. (Not
                    # `"emit" in self.__dict__`: that builds the instance's dict, and
                    # every attribute access after it is slower.)
                    if self._plain and getattr(self.emit, "__func__", None) is _EMIT:
                        listening = self._listening
                        if "*" in listening:
                            self._emitter.emit("*", raw)
                        if _AUDIO_DELTA in listening:
                            self._emitter.emit(_AUDIO_DELTA, parsed)
                        if self._connection is link:
                            self._on_audio_delta(parsed, True)
                        return
                    self.emit("*", raw)
                    self.emit(_AUDIO_DELTA, parsed)
                    if self._connection is link:
                        self._on_audio_delta(parsed)
                    return
            parsed, generic = parse_server_event(raw)
            if parsed is None:
                return
            self._on_message(raw, parsed, generic)
            if generic or self._connection is not link:
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
        """Run the sequencer's waiting requests once the current dispatch is done.

        The core has no event loop: outside a dispatch it pumps at once. The asyncio
        shell defers it to the loop's next turn, where the reference's promises resume.
        """
        if self._dispatching:
            self._pump_pending = True
            return
        self._sequencer.pump()

    def _on_message(self, raw: Any, parsed: JSONObject, generic: bool) -> None:
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
            caused_by = lookup(parsed.get("error"), "event_id")
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
            self._session_format = lookup(
                lookup(lookup(self._raw_session_config, "audio"), "output"), "format"
            )
            self._rate_response = None
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

    def _on_response_done(self, parsed: JSONObject) -> None:
        response = parsed["response"]
        usage = response.get("usage") or {}
        input_tokens = coalesce(usage.get("input_tokens"), 0)
        output_tokens = coalesce(usage.get("output_tokens"), 0)
        input_details = coalesce(usage.get("input_token_details"), {})
        output_details = coalesce(usage.get("output_token_details"), {})
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
                response_id=coalesce(response.get("id"), ""),
                output=coalesce(response.get("output"), []),
                usage=summary,
            ),
        )

    def _on_conversation_item(self, type_: str, parsed: JSONObject) -> bool:
        """Handle ``conversation.item.added/done/retrieved``; ``True`` when handled."""
        item = parsed["item"]
        kind = item.get("type")
        if kind == "mcp_list_tools" and type_ == "conversation.item.done":
            self.emit(
                "mcp_tools_listed",
                McpToolsListedEvent(
                    coalesce(item.get("server_label"), ""), coalesce(item.get("tools"), [])
                ),
            )
            # Not history: a transport-level side channel, as in the reference.
            return True
        if kind == "message":
            previous: Any = UNSET
            if type_ != "conversation.item.retrieved":
                previous = parsed.get("previous_item_id", UNSET)
            added = type_ == "conversation.item.added"
            self.emit(
                "item_update",
                message_item(item, "in_progress" if added else "completed", previous),
            )
            return True
        if kind == "mcp_approval_request" and type_ == "conversation.item.done":
            request = wire_item(
                {
                    "id": item.get("id", UNSET),
                    "type": "mcp_approval_request",
                    "server_label": item.get("server_label", UNSET),
                    "name": item.get("name", UNSET),
                    # a JSON string on the wire: item_from_wire parses it ("" is {})
                    "arguments": item.get("arguments") or "{}",
                    "approved": item.get("approved", UNSET),
                }
            )
            self.emit("item_update", request)
            self.emit("mcp_approval_request", request)
            return True
        if kind in ("mcp_tool_call", "mcp_call"):
            done = type_ == "conversation.item.done"
            call = mcp_call_item(item, kind, done)
            self.emit("item_update", call)
            if done:
                self.emit("mcp_tool_call_completed", call)
            return True
        return False

    def _on_output_item(self, type_: str, parsed: JSONObject) -> None:
        item = parsed["item"]
        kind = item.get("type")
        done = type_ == "response.output_item.done"
        if kind == "function_call" and item.get("status") == "completed":
            # in_progress for the UI: it only completes with the output.
            self.emit(
                "item_update",
                wire_item(
                    {
                        "id": item.get("id", UNSET),
                        "type": "function_call",
                        "status": "in_progress",
                        "arguments": item.get("arguments", UNSET),
                        "name": item.get("name", UNSET),
                        "output": None,
                    }
                ),
            )
            self.emit(
                "function_call",
                ToolCallEvent(
                    id=item.get("id"),
                    call_id=coalesce(item.get("call_id"), ""),
                    name=coalesce(item.get("name"), ""),
                    arguments=coalesce(item.get("arguments"), ""),
                    response_id=parsed["response_id"],
                ),
            )
            return
        if kind in ("mcp_tool_call", "mcp_call"):
            self.emit("item_update", mcp_call_item(item, kind, done))
            return
        if kind == "message":
            self.emit("item_update", message_item(item, "completed" if done else "in_progress"))

    def _on_websocket_message(self, link: Connection, parsed: JSONObject) -> None:
        # reference: openaiRealtimeWebsocket.ts, the socket's "message" listener
        type_ = parsed["type"]
        if type_ == "error":
            self._sequencer.handle_response_create_error(parsed)
        if type_ == "response.output_audio.delta":
            self._on_audio_delta(parsed)
        elif type_ == "input_audio_buffer.speech_started":
            turn_detection = lookup(
                lookup(lookup(self._raw_session_config, "audio"), "input"), "turn_detection"
            )
            automatic = coalesce(lookup(turn_detection, "interrupt_response"), False)
            self.interrupt(not is_truthy(automatic))
        elif type_ == "response.created":
            response = parsed["response"]
            if is_truthy(response.get("id")):
                fmt = lookup(lookup(response.get("audio"), "output"), "format")
                if fmt is None or fmt is UNSET:
                    fmt = self._session_output_format()
                self._response_audio_formats[response["id"]] = fmt
                self._rate_response = None
            self._sequencer.mark_response_created()
        elif type_ == "response.done":
            response = parsed["response"]
            if is_truthy(response.get("id")):
                self._response_audio_formats.pop(response["id"], None)
                self._rate_response = None
            self._sequencer.mark_response_done()
        elif type_ == "session.created":
            session = parsed.get("session")
            self._tracing = coalesce(lookup(session, "tracing"), None)
            tracing = link.tracing
            self._update_tracing_config("auto" if tracing is UNSET else tracing)

    def _session_output_format(self) -> Any:
        return self._session_format

    def _on_audio_delta(self, parsed: JSONObject, plain: bool = False) -> None:
        # ``plain``: the hot path found the class's own hooks; emit ``audio`` directly.
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
        delta: str = parsed["delta"]
        length = len(delta)
        if length & 3 == 0 and length:  # regular base64: its size without decoding it
            size = (length >> 2) * 3 - ((2 if delta[-2] == "=" else 1) if delta[-1] == "=" else 0)
        else:
            size = b64_size(delta)
        response_id = parsed["response_id"]
        if not plain or response_id != self._rate_response:
            # The response's format, read once per response (_audio_formats_changed
            # forgets it); a subclass's _session_output_format is asked every time.
            fmt = self._response_audio_formats.get(response_id)
            if fmt is None or fmt is UNSET:
                fmt = self._session_format if plain else self._session_output_format()
            self._rate_response = response_id if plain else None
            self._rate_divisor, self._rate = audio_rate(fmt)
        # The reference's arithmetic, operation for operation (interrupt floors the sum).
        divisor = self._rate_divisor
        if divisor:
            self._audio_length_ms += size / divisor
        else:
            self._audio_length_ms += (size / 2 / self._rate) * 1000
        if not plain:
            self._on_audio(AudioEvent.from_base64(delta, response_id))
        elif "audio" in self._listening:
            self._emitter.emit("audio", _audio_event(delta, response_id))

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
            lookup(tracing_config, "group_id") != lookup(current, "group_id")
            or lookup(tracing_config, "metadata") is not lookup(current, "metadata")
            or lookup(tracing_config, "workflow_name") != lookup(current, "workflow_name")
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

    def _assert_connected(self) -> Connection:
        link = self._connection
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
        link.write(frame)

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
        event: JSONObject = {"type": "response.create"}
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
                    extra = coalesce(part.get("providerData", part.get("provider_data")), {})
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
                "audio": b64encode(audio),
            }
        )
        if commit:
            self.send_event({"type": "input_audio_buffer.commit"})

    def build_session_payload(self, config: Mapping[str, Any]) -> JSONObject:
        """The ``session`` of a ``session.update``: ``config`` merged with the defaults."""
        return self._get_merged_session_config(config)

    def _get_merged_session_config(self, config: Mapping[str, Any]) -> JSONObject:
        return build_session_payload(config, self._model)

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
        call = tool_call_fields(tool_call)
        item: JSONObject = {"type": "function_call_output", "output": output}
        if call["call_id"] is not UNSET:
            item["call_id"] = call["call_id"]
        self.send_event({"type": "conversation.item.create", "item": item})
        try:
            update = wire_item(
                {
                    "id": call["id"],
                    "previous_item_id": call["previous_item_id"],
                    "type": "function_call",
                    "status": "completed",
                    "arguments": call["arguments"],
                    "name": call["name"],
                    "output": output,
                },
                where="tool call",
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
        item: JSONObject = {
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
        event: JSONObject = {"type": "conversation.item.truncate"}
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


_EMIT: Final = RealtimeProtocol.emit
_AUDIO_HOOKS: Final = ("emit", "_on_audio", "_on_audio_delta", "_session_output_format")
