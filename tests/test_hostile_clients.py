"""Hostile clients: whatever a client sends, the fake server answers like the API.

Generated frames (arbitrary text and bytes, JSON of any shape, client events of every type
with fields of the wrong type, sessions poisoned for later events, nesting past the
limits, frames over ``max_frame_bytes``) go to a real :class:`FakeRealtimeServer` over
127.0.0.1, in simulate and in replay mode. Every frame is answered with the API's events
or its ``error`` event (``invalid_request_error``, a code, a message), the connection stays
up (a probe after each frame is answered), the server never logs a crashed handler, and
a bystander connection opened before the first example still works after the last.

One server serves every example of a test: it runs on its own event loop thread, and
each example is a coroutine handed to it (a server per example would dominate the time).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from harness import FakeRealtimeServer
from harness.cassette import MAX_DEPTH
from harness.matching import format_value
from harness.replay import CLIENT_EVENT_TYPES

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
AUTH = {"Authorization": "Bearer test"}
MAX_FRAME = 64 * 1024
T = TypeVar("T")


def examples(n: int) -> int:
    """``n`` examples in the dev/ci profiles; the profile's own count under ``fuzz``."""
    profile = settings.default.max_examples
    return n if profile <= 200 else profile


class LiveServer:
    """A started server on an event loop thread; :meth:`run` runs a coroutine there."""

    def __init__(self, make: Callable[[], FakeRealtimeServer]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self.run(self._start(make))

    async def _start(self, make: Callable[[], FakeRealtimeServer]) -> FakeRealtimeServer:
        server = make()
        await server.start()
        return server

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(timeout):
                return await coro

        return asyncio.run_coroutine_threadsafe(bounded(), self._loop).result(timeout + 5)

    def close(self) -> None:
        self.run(self.server.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(params=["simulate", "replay"])
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    if request.param == "simulate":
        live = LiveServer(lambda: FakeRealtimeServer.simulate(max_frame_bytes=MAX_FRAME))
    else:
        live = LiveServer(
            lambda: FakeRealtimeServer(CASSETTES / "text_turn.jsonl", max_frame_bytes=MAX_FRAME)
        )
    try:
        yield live
    finally:
        live.close()


# -- what a hostile client sends ----------------------------------------------------------

FIELDS = [
    *("type", "event_id", "item", "session", "response", "item_id", "previous_item_id"),
    *("content_index", "audio_end_ms", "audio", "role", "content", "status", "text"),
    *("output_modalities", "input", "output", "turn_detection", "format", "voice", "speed"),
    *("tools", "tool_choice", "instructions", "metadata", "conversation", "call_id", "name"),
    *("arguments", "max_output_tokens", "tracing", "threshold", "eagerness", "rate", "id"),
]
WORDS = st.sampled_from(
    [
        *sorted(CLIENT_EVENT_TYPES),
        *("message", "function_call", "function_call_output", "user", "assistant", "system"),
        *("input_text", "output_text", "input_audio", "output_audio", "completed", "root"),
        *("server_vad", "semantic_vad", "audio/pcm", "text", "audio", "auto", "none", "inf"),
        *("realtime", "item_sim000001", "", "x"),
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | WORDS
    | st.text(max_size=6)
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(FIELDS) | st.text(max_size=4)
    return st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4)


VALUES = st.recursive(
    SCALARS,
    _containers,
    max_leaves=12,
)


def _nested_text(depth: int) -> str:
    return '{"type":"session.update","session":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@st.composite
def events(draw: st.DrawFn) -> str:
    """A client event of a real type whose fields hold anything."""
    event: dict[str, Any] = {"type": draw(st.sampled_from(sorted(CLIENT_EVENT_TYPES)) | WORDS)}
    event.update(draw(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4)))
    if draw(st.booleans()):
        event["event_id"] = draw(st.text(max_size=8))
    return json.dumps(event)


FRAMES = st.one_of(
    events(),
    VALUES.map(json.dumps),
    st.text(max_size=30),
    st.binary(max_size=30),
    st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH, MAX_DEPTH + 1, 300, 1000, 1100]).map(_nested_text),
    st.just("x" * (MAX_FRAME + 1)),
)

PROBE = '{"type":"conversation.item.retrieve","item_id":"__probe__","event_id":"__probe__"}'


def _is_probe_answer(event: dict[str, Any]) -> bool:
    error = event.get("error")
    return isinstance(error, dict) and error.get("event_id") == "__probe__"


async def _answers(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every server event up to the probe's answer (the probe was sent after the frame)."""
    got: list[dict[str, Any]] = []
    while True:
        message = await ws.recv()
        assert isinstance(message, str), "the server sent a binary frame"
        event = json.loads(message)
        assert isinstance(event, dict) and isinstance(event.get("type"), str), message
        assert isinstance(event.get("event_id"), str) and event["event_id"], message
        if _is_probe_answer(event):
            return got
        got.append(event)


def _assert_api_error(event: dict[str, Any]) -> None:
    error = event["error"]
    assert error["type"] == "invalid_request_error", event
    assert isinstance(error["code"], str) and error["code"], event
    assert isinstance(error["message"], str) and error["message"], event
    assert error["param"] is None or isinstance(error["param"], str), event


def _expects_an_error(frame: str | bytes) -> bool:
    """Frames the API refuses whatever the session: not an object, unknown type, too big."""
    if isinstance(frame, bytes) or len(frame.encode()) > MAX_FRAME:
        return True
    try:
        value = json.loads(frame)
    except (ValueError, RecursionError):
        return True
    if not isinstance(value, dict):
        return True
    kind = value.get("type")
    return not isinstance(kind, str) or kind not in CLIENT_EVENT_TYPES


async def _play(server: FakeRealtimeServer, frames: list[str | bytes]) -> None:
    async with connect(server.url, additional_headers=AUTH, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        for frame in frames:
            await ws.send(frame)
            await ws.send(PROBE)
            answers = await _answers(ws)  # the connection is still up: the probe came back
            errors = [a for a in answers if a["type"] == "error"]
            for error in errors:
                _assert_api_error(error)
            if _expects_an_error(frame):
                assert len(answers) == len(errors) == 1, (format_value(frame), answers)


POISONED = [
    ['{"type":"conversation.item.create","item":{"type":[1]}}'],
    ['{"type":"conversation.item.create","item":{"type":"message","role":"user","status":{}}}'],
    ['{"type":"conversation.item.create","item":{"type":"message","role":[],"content":[]}}'],
    [
        '{"type":"conversation.item.create","item":{"type":"message","role":"user",'
        '"content":[{"type":{}}]}}'
    ],
    ['{"type":"session.update","session":{"output_modalities":5}}', '{"type":"response.create"}'],
    ['{"type":"session.update","session":{"audio":"x"}}', '{"type":"response.create"}'],
    [_nested_text(300)],
    [_nested_text(1000)],
]


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(FRAMES, min_size=1, max_size=6))
@example(frames=POISONED[0])
@example(frames=POISONED[1])
@example(frames=POISONED[2])
@example(frames=POISONED[3])
@example(frames=POISONED[4])
@example(frames=POISONED[5])
@example(frames=POISONED[6])
@example(frames=POISONED[7])
def test_any_frame_gets_the_apis_answer_and_the_connection_stays_up(
    live: LiveServer, caplog: pytest.LogCaptureFixture, frames: list[str | bytes]
) -> None:
    caplog.clear()
    live.run(_play(live.server, frames))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("frames", POISONED, ids=[f"issue-{i}" for i in range(len(POISONED))])
def test_the_issues_frames_get_invalid_request_errors_naming_the_field(
    live: LiveServer, frames: list[str]
) -> None:
    async def play() -> list[dict[str, Any]]:
        async with connect(live.server.url, additional_headers=AUTH) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            errors = []
            for frame in frames:
                await ws.send(frame)
                await ws.send(PROBE)
                errors += [a for a in await _answers(ws) if a["type"] == "error"]
            return errors

    errors = live.run(play())
    assert errors, "the bad frame was not refused"
    for error in errors:
        _assert_api_error(error)
    if live.server._prepared is None:  # simulate: the field at fault is named
        params = {
            0: "item.type",
            1: "item.status",
            2: "item.role",
            3: "item.content[0].type",
            4: "session.output_modalities",
            5: "session.audio",
        }
        index = POISONED.index(frames)
        if index in params:
            assert errors[0]["error"]["param"] == params[index]
            assert errors[0]["error"]["code"] == "invalid_type"
        else:
            assert errors[0]["error"]["code"] == "invalid_json"
            assert "nests more than 128 levels deep" in errors[0]["error"]["message"]


def test_a_bystander_connection_is_unaffected_by_hostile_neighbours(live: LiveServer) -> None:
    hostile = [frame for frames in POISONED for frame in frames] + [b"\x00", "x" * MAX_FRAME * 2]

    async def scenario() -> None:
        async with connect(live.server.url, additional_headers=AUTH) as bystander:
            assert json.loads(await bystander.recv())["type"] == "session.created"
            await asyncio.gather(*(_play(live.server, [frame]) for frame in hostile))
            await bystander.send(PROBE)
            assert await _answers(bystander) == []

    live.run(scenario())
