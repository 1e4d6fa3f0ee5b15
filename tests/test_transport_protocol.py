"""The transport's sans-I/O core, driven without a socket: frames in, events and frames out.

:class:`~harness.transport.protocol.RealtimeProtocol` is everything the transport does
that does not wait; these tests feed it server frames and read what it emits and what it
queues. The socket-level behaviour (connecting, closing, tasks) is in
tests/test_transport.py and tests/test_transport_hostile.py; the comparison with the
reference in tests/conformance.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from _transport_wire import CONNECT_SESSION_UPDATE, TRACING_AUTO
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import HistoryError, TransportError, TransportNotConnected, UsageError
from harness.items import (
    UNSET,
    FunctionCallItem,
    InputText,
    McpApprovalRequestItem,
    MessageItem,
    OutputAudio,
    OutputText,
    Role,
    item_from_json,
    item_to_wire,
)
from harness.transport import (
    AudioEvent,
    ErrorEvent,
    OpenAIRealtimeWebSocket,
    RealtimeProtocol,
    ToolCallEvent,
    schema,
)


class Core:
    """A protocol, every event it emits, and the frames it queued (as JSON)."""

    def __init__(self, *, now: list[float] | None = None, open_it: bool = True) -> None:
        clock = now or [0.0]
        self.protocol = RealtimeProtocol(model="gpt-realtime", clock=lambda: clock[0])
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        original = self.protocol.emit

        def emit(name: str, *args: Any) -> bool:
            self.events.append((name, args))
            return original(name, *args)

        self.protocol.emit = emit  # type: ignore[method-assign]
        if open_it:
            self.protocol.open()

    def feed(self, *events: Any) -> None:
        for event in events:
            self.protocol.receive_frame(
                event if isinstance(event, str | bytes) else json.dumps(event)
            )

    def sent(self) -> list[Any]:
        return [json.loads(frame) for frame in self.protocol.data_to_send()]

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in self.events if event == name]


def audio_delta(n: int, delta: str = "AAAA" * 200) -> dict[str, Any]:
    return {
        "type": "response.output_audio.delta",
        "event_id": f"d{n}",
        "item_id": "it",
        "content_index": 0,
        "output_index": 0,
        "response_id": "r",
        "delta": delta,
    }


# --------------------------------------------------------------------------- opening


def test_open_queues_the_full_session_update_then_tracing_after_session_created() -> None:
    core = Core()
    assert core.protocol.status == "connected"
    assert core.sent() == [CONNECT_SESSION_UPDATE]
    core.feed({"type": "session.created", "event_id": "e", "session": {"tracing": None}})
    assert core.sent() == [TRACING_AUTO]
    assert [name for name, _ in core.events[:2]] == ["connection_change", "connected"]


def test_opening_twice_fails_and_losing_the_connection_disconnects_once() -> None:
    core = Core()
    with pytest.raises(TransportError, match="already connected or connecting"):
        core.protocol.open()
    core.protocol.connection_lost()
    core.protocol.connection_lost()
    assert core.named("disconnected") == [()]
    assert core.protocol.status == "disconnected"
    assert core.protocol.data_to_send() == []
    with pytest.raises(TransportNotConnected):
        core.protocol.send_message("anyone?")


def test_sending_before_open_raises_the_reference_message() -> None:
    core = Core(open_it=False)
    with pytest.raises(TransportNotConnected) as info:
        core.protocol.send_event({"type": "input_audio_buffer.clear"})
    assert str(info.value) == (
        "WebSocket is not connected. Make sure you call `connect()` before sending events."
    )
    core.protocol.send_audio(b"\x00")  # ignored unless connected, as the reference
    assert core.protocol.data_to_send() == []


def test_an_async_listener_without_a_loop_is_a_usage_error() -> None:
    core = Core()

    async def listener(*_: Any) -> None:
        pass

    core.protocol.on("connected", listener)
    with pytest.raises(UsageError, match="running event loop"):
        core.protocol.emit("connected")


# --------------------------------------------------------------------------- sending


def test_frames_sent_from_sync_listeners_keep_their_order() -> None:
    core = Core()
    core.sent()

    def on_item(event: dict[str, Any]) -> None:
        core.protocol.send_event(
            {"type": "conversation.item.retrieve", "item_id": event["item_id"]}
        )

    core.protocol.on("conversation.item.deleted", on_item)
    core.protocol.send_event({"type": "input_audio_buffer.clear"})
    core.feed(
        {"type": "conversation.item.deleted", "event_id": "e1", "item_id": "a"},
        {"type": "conversation.item.deleted", "event_id": "e2", "item_id": "b"},
    )
    core.protocol.send_audio(b"\x01\x02", commit=True)
    frames = core.sent()
    assert [f["type"] for f in frames] == [
        "input_audio_buffer.clear",
        "conversation.item.retrieve",
        "conversation.item.retrieve",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
    ]
    assert frames[3]["audio"] == "AQI="


def test_an_unserialisable_event_names_its_type() -> None:
    core = Core()
    with pytest.raises(UsageError) as info:
        core.protocol.send_event({"type": "x.y", "bad": object()})
    assert str(info.value).startswith("cannot send the 'x.y' event as JSON:")


def test_response_create_waits_for_the_response_in_flight() -> None:
    core = Core()
    core.sent()
    core.protocol.request_response()
    core.protocol.request_response()
    assert core.sent() == [{"type": "response.create", "event_id": "agents_js_response_create_1"}]
    core.feed({"type": "response.created", "event_id": "e1", "response": {"id": "r1"}})
    assert core.sent() == []
    core.feed({"type": "response.done", "event_id": "e2", "response": {"id": "r1"}})
    assert core.sent() == [{"type": "response.create", "event_id": "agents_js_response_create_2"}]


# --------------------------------------------------------------------------- receiving


def test_unknown_and_malformed_server_events_never_crash_the_protocol() -> None:
    core = Core()
    core.sent()
    core.feed(
        "not json at all",
        b"\xff\xfe",
        "[1, 2]",
        {"type": "from.the.future", "event_id": "e1", "x": 1},
        {"type": "response.output_audio.delta", "event_id": "e2"},  # fails its schema
        {
            "type": "conversation.item.added",
            "event_id": "e3",
            "item": {
                "id": "m",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text"}],
            },
        },
    )
    stars = [args[0]["type"] for args in core.named("*")]
    assert stars == ["from.the.future", "response.output_audio.delta", "conversation.item.added"]
    assert core.named("from.the.future") == []
    assert core.named("audio") == []
    (error,) = core.named("error")  # the item without its text
    assert isinstance(error[0].error, UsageError)
    assert "server item.content[0]" in str(error[0].error)
    assert core.protocol.status == "connected"


def test_a_raising_listener_is_reported_and_dispatch_goes_on() -> None:
    core = Core()

    def boom(event: Any) -> None:
        raise RuntimeError("listener failed")

    core.protocol.on("response.created", boom)
    core.feed(
        {"type": "response.created", "event_id": "e1", "response": {"id": "r1"}},
        {"type": "conversation.item.deleted", "event_id": "e2", "item_id": "x"},
    )
    (error,) = core.named("error")
    assert isinstance(error[0], ErrorEvent)
    assert str(error[0].error) == "listener failed"
    assert core.named("item_deleted")


def test_server_items_are_read_from_the_wire() -> None:
    core = Core()
    core.feed(
        {
            "type": "conversation.item.done",
            "event_id": "e1",
            "previous_item_id": "m0",
            "item": {
                "id": "m1",
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                # the beta spelling of output_audio, and a key the schema drops
                "content": [{"type": "audio", "transcript": "hi", "format": "pcm16"}],
            },
        },
        {
            "type": "conversation.item.added",
            "event_id": "e2",
            "item": {"id": "u1", "type": "message", "role": "user", "content": []},
        },
    )
    (done,), (added,) = core.named("item_update")
    assert done == MessageItem(
        "m1",
        Role.ASSISTANT,
        (OutputAudio(transcript="hi"),),
        status="completed",
        previous_item_id="m0",
    )
    assert added == MessageItem("u1", Role.USER, (), status="in_progress")


def test_function_call_payload_and_output() -> None:
    core = Core()
    core.sent()
    item = {
        "id": "fc_1",
        "type": "function_call",
        "status": "completed",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": '{"city":"Paris"}',
    }
    core.feed(
        {
            "type": "response.output_item.done",
            "event_id": "e1",
            "response_id": "r1",
            "output_index": 0,
            "item": item,
        }
    )
    (call,) = core.named("function_call")
    assert call[0] == ToolCallEvent(
        id="fc_1",
        call_id="call_1",
        name="get_weather",
        arguments='{"city":"Paris"}',
        response_id="r1",
    )
    (in_progress,) = core.named("item_update")
    assert in_progress[0] == FunctionCallItem(
        "fc_1", "get_weather", '{"city":"Paris"}', output=None, status="in_progress"
    )
    core.protocol.send_function_call_output(call[0], '{"temp": 21}')
    assert core.sent() == [
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "output": '{"temp": 21}', "call_id": "call_1"},
        },
        {"type": "response.create", "event_id": "agents_js_response_create_1"},
    ]
    assert core.named("item_update")[-1][0] == FunctionCallItem(
        "fc_1", "get_weather", '{"city":"Paris"}', output='{"temp": 21}', status="completed"
    )


def test_audio_is_emitted_lazily_and_interrupt_truncates_at_the_played_time() -> None:
    now = [1000.0]
    core = Core(now=now)
    core.sent()
    core.feed(
        {
            "type": "session.updated",
            "event_id": "e0",
            "session": {"audio": {"output": {"format": {"type": "audio/pcmu"}}}},
        },
        audio_delta(0),
        audio_delta(1),
    )
    audio = core.named("audio")
    assert audio[0][0] == AudioEvent(b"\x00" * 600, "r")
    assert core.protocol.current_item_id == "it"
    now[0] += 60.9  # 60.9 ms played of 150 ms (pcmu: 8 bytes a millisecond)
    core.protocol.interrupt()
    assert core.sent() == [
        {
            "type": "conversation.item.truncate",
            "item_id": "it",
            "content_index": 0,
            "audio_end_ms": 60,
        }
    ]
    assert core.named("audio_interrupted") == [()]


def test_speech_started_interrupts_unless_the_server_does() -> None:
    for interrupt_response, cancels in ((True, False), (False, True)):
        core = Core()
        core.feed(
            {
                "type": "session.updated",
                "event_id": "e0",
                "session": {
                    "audio": {
                        "input": {"turn_detection": {"interrupt_response": interrupt_response}}
                    }
                },
            },
            {"type": "response.created", "event_id": "e1", "response": {"id": "r"}},
            audio_delta(0),
        )
        core.sent()
        core.feed(
            {
                "type": "input_audio_buffer.speech_started",
                "event_id": "e2",
                "audio_start_ms": 0,
                "item_id": "u",
            }
        )
        types = [f["type"] for f in core.sent()]
        assert ("response.cancel" in types) is cancels
        assert "conversation.item.truncate" in types


def test_the_hot_path_skips_events_nobody_listens_to_but_not_a_replaced_emit() -> None:
    plain = RealtimeProtocol(clock=lambda: 0.0)
    plain.open()
    got: list[AudioEvent] = []
    plain.on("audio", got.append)
    plain.receive_frame(json.dumps(audio_delta(0, "AAEC")))
    assert got == [AudioEvent(b"\x00\x01\x02", "r")]
    # An instance whose emit is replaced sees every event, as before.
    core = Core()
    core.feed(audio_delta(0, "AAEC"))
    assert [name for name, _ in core.events[-3:]] == ["*", "response.output_audio.delta", "audio"]


# The hot path must agree with the reference's schema and arithmetic wherever it applies.
_JSON_VALUES = st.one_of(
    st.text(max_size=3),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=1),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
)
_DELTA_FIELDS = ("event_id", "item_id", "response_id", "delta", "content_index", "output_index")


@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            **{name: st.text(max_size=4) for name in _DELTA_FIELDS[:4]},
            "content_index": st.integers(0, 3) | st.floats(0, 3),
            "output_index": st.integers(0, 3) | st.floats(0, 3),
        },
    ),
    broken=st.dictionaries(st.sampled_from(_DELTA_FIELDS), _JSON_VALUES, max_size=2),
    extra=st.dictionaries(st.sampled_from(["obfuscation", "x"]), _JSON_VALUES, max_size=1),
)
def test_the_hot_paths_audio_delta_check_is_the_schemas(
    fields: dict[str, Any], broken: dict[str, Any], extra: dict[str, Any]
) -> None:
    raw = {"type": "response.output_audio.delta", **fields, **broken, **extra}
    fast = schema.audio_delta(dict(raw))
    parsed, generic = schema.parse_server_event(dict(raw))
    if fast is None:
        assert generic, raw  # the schema does not take it as an audio delta either
    else:
        assert (fast, generic) == (parsed, False)


_FORMATS = st.sampled_from(
    [
        None,
        {"type": "audio/pcm", "rate": 24000},
        {"type": "audio/pcm", "rate": 16000},
        {"type": "audio/pcm"},
        {"type": "audio/pcmu"},
        {"type": "audio/pcma"},
        {"type": "audio/unknown"},
        "pcm16",
        "g711_ulaw",
        "g711_alaw",
    ]
)
_AUDIO_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("session"), _FORMATS),
        st.tuples(st.just("created"), st.sampled_from(["r1", "r2"]), _FORMATS),
        st.tuples(st.just("done"), st.sampled_from(["r1", "r2"])),
        st.tuples(
            st.just("delta"),
            st.sampled_from(["r1", "r2"]),
            st.sampled_from(["i1", "i2"]),
            # regular base64 with 0, 1 or 2 padding characters, and irregular
            st.sampled_from(["AAAA" * 5, "AAE=", "AA==", "AAAAAA==", "AAE", ""]),
        ),
    ),
    max_size=12,
)


class _HookedProtocol(RealtimeProtocol):
    """Overrides an audio hook, so the hot path takes the hooks' way."""

    def _on_audio(self, audio_event: AudioEvent) -> None:
        super()._on_audio(audio_event)


def _audio_step(step: tuple[Any, ...], n: int) -> dict[str, Any]:
    if step[0] == "session":
        output = {} if step[1] is None else {"format": step[1]}
        return {
            "type": "session.updated",
            "event_id": f"s{n}",
            "session": {"audio": {"output": output}},
        }
    if step[0] == "created":
        response: dict[str, Any] = {"id": step[1]}
        if step[2] is not None:
            response["audio"] = {"output": {"format": step[2]}}
        return {"type": "response.created", "event_id": f"c{n}", "response": response}
    if step[0] == "done":
        return {"type": "response.done", "event_id": f"d{n}", "response": {"id": step[1]}}
    return {**audio_delta(n, step[3]), "response_id": step[1], "item_id": step[2]}


def _reference_length(steps: list[tuple[Any, ...]]) -> float:
    """The played length as the reference adds it up: the format read at every delta."""
    session: Any = None
    responses: dict[str, Any] = {}
    item: str | None = None
    total: float = 0
    for step in steps:
        if step[0] == "session":
            session = step[1]
        elif step[0] == "created":
            responses[step[1]] = step[2] if step[2] is not None else session
        elif step[0] == "done":
            responses.pop(step[1], None)
        else:
            _, response_id, item_id, text = step
            if item_id != item:
                item, total = item_id, 0
            size = len(base64.b64decode(text + "=" * (-len(text) % 4)))
            fmt = responses.get(response_id) or session
            kind = fmt.get("type") if isinstance(fmt, dict) else fmt
            if kind in ("audio/pcmu", "audio/pcma") or str(kind).startswith("g711_"):
                total += size / 8
            elif kind == "audio/pcm":
                total += (size / 2 / fmt.get("rate", 24000)) * 1000
            else:
                total += size / 24 / 2
    return total


@given(steps=_AUDIO_STEPS)
def test_the_played_length_follows_every_format_change_on_both_paths(
    steps: list[tuple[Any, ...]],
) -> None:
    plain = RealtimeProtocol(clock=lambda: 0.0)
    hooked = _HookedProtocol(clock=lambda: 0.0)
    heard: dict[str, list[AudioEvent]] = {"plain": [], "hooked": []}
    for name, protocol in (("plain", plain), ("hooked", hooked)):
        protocol.on("audio", heard[name].append)
        protocol.open()
        for n, step in enumerate(steps):
            protocol.receive_frame(json.dumps(_audio_step(step, n)))
    # The socket transport keeps the hooks, so it takes the hot path.
    assert OpenAIRealtimeWebSocket._plain_audio_hooks
    assert RealtimeProtocol._plain_audio_hooks and not _HookedProtocol._plain_audio_hooks
    assert heard["plain"] == heard["hooked"]
    assert plain._audio_length_ms == hooked._audio_length_ms == _reference_length(steps)


@given(size=st.integers(0, 2**40))
def test_halving_is_exact_so_a_48th_is_the_references_24th_halved(size: int) -> None:
    assert size / 24 / 2 == size / 48


# --------------------------------------------------------------------------- history


def message(item_id: str, text: str, role: Role = Role.USER) -> MessageItem:
    part = OutputText(text) if role is Role.ASSISTANT else InputText(text)
    return MessageItem(item_id, role, (part,), status="completed")


def test_reset_history_sends_event_ids_and_tracks_acknowledgements() -> None:
    a, b, c = message("a", "A"), message("b", "B", Role.ASSISTANT), message("c", "C")
    core = Core()
    core.sent()
    core.protocol.reset_history([a, b], [a, c, b])
    assert core.sent()[0] == {
        "type": "conversation.item.create",
        "previous_item_id": "a",
        "item": item_to_wire(c),
        "event_id": "agents_create_1",
    }
    assert core.protocol._pending_history == {"agents_create_1": ("c", "create")}
    core.feed(
        {
            "type": "conversation.item.added",
            "event_id": "e1",
            "previous_item_id": "a",
            "item": item_to_wire(c),
        }
    )
    assert core.protocol._pending_history == {}


def test_reset_history_refuses_before_sending_anything() -> None:
    a = message("a", "A")
    spoken = item_from_json(
        {
            "itemId": "s",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": "hi"}],
        }
    )
    core = Core()
    core.sent()
    with pytest.raises(HistoryError) as info:
        core.protocol.reset_history([a], [a, spoken])
    assert str(info.value).startswith("Assistant output_audio history item s cannot be replayed")
    assert core.sent() == []


def test_history_warnings_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    a = message("a", "A")
    call = FunctionCallItem("fc", "f", "{}", output="1", status="completed")
    core = Core()
    with caplog.at_level(logging.WARNING, logger="harness.transport"):
        core.protocol.reset_history([a], [a, call])
    assert (
        "Function calls cannot be manually added or updated at the moment. Ignoring."
        in caplog.messages
    )


# --------------------------------------------------------------------------- the rest


def test_mute_raises_and_muted_is_none() -> None:
    core = Core()
    assert core.protocol.muted is None
    with pytest.raises(UsageError) as info:
        core.protocol.mute(True)
    assert str(info.value) == (
        "Mute is not supported for the WebSocket transport. "
        "You have to mute the audio input yourself."
    )


def test_an_mcp_approval_request_is_answered_from_its_event() -> None:
    core = Core()
    core.sent()
    requests: list[Any] = []
    core.protocol.on("mcp_approval_request", requests.append)
    core.feed(
        {
            "type": "conversation.item.done",
            "event_id": "e1",
            "item": {
                "id": "mcpr_1",
                "type": "mcp_approval_request",
                "server_label": "wiki",
                "name": "ask",
                "arguments": '{"q": 1}',
            },
        }
    )
    assert requests == [McpApprovalRequestItem("mcpr_1", "wiki", "ask", {"q": 1}, UNSET)]
    core.protocol.send_mcp_response(requests[0], False, "not now")
    assert core.sent() == [
        {
            "type": "conversation.item.create",
            "previous_item_id": "mcpr_1",
            "item": {
                "type": "mcp_approval_response",
                "approval_request_id": "mcpr_1",
                "approve": False,
                "reason": "not now",
            },
        }
    ]
