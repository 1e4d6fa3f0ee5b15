"""Simulate mode speaks the API's shape: every event it sends validates as the official one.

Each server event a :class:`SimulatedSession` sends, for generated sequences of client
events (mostly valid, some hostile), is validated with the official ``openai`` package's
``RealtimeServerEvent`` union (a pydantic ``TypeAdapter``). Its models allow extra
fields, so the keys are also compared, recursively, with the fields each model declares:
a key the type does not define is a failure, except the three the live API puts in a
session although the SDK's request-shaped session type omits them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter
from websockets.asyncio.client import connect

from harness import FakeRealtimeServer
from harness.conversation import SimulatedSession

ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
# The live API's session.created / session.updated carry these (see the bundled
# cassettes); openai's session type, shared with session.update requests, does not.
LIVE_ONLY = frozenset({"$.session.id", "$.session.object", "$.session.expires_at"})


def examples(n: int) -> int:
    """``n`` examples in the dev/ci profiles; the profile's own count under ``fuzz``."""
    profile = settings.default.max_examples
    return n if profile <= 200 else profile


def undeclared(value: Any, path: str = "$") -> list[str]:
    """Paths of keys no model along the way declares (pydantic kept them as extras)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += undeclared(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += undeclared(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += undeclared(item, f"{path}.{key}")
    return found


def assert_api_shape(event: dict[str, Any]) -> None:
    model = ADAPTER.validate_python(event)
    assert model.type == event["type"]
    extra = [p for p in undeclared(model) if p not in LIVE_ONLY]
    assert extra == [], (event["type"], extra)


# -- client events, mostly valid ----------------------------------------------------------

TEXT = st.text(max_size=12)
FORMATS = st.sampled_from(
    [
        {"type": "audio/pcm", "rate": 24000},
        {"type": "audio/pcm"},
        {"type": "audio/pcmu"},
        {"type": "audio/pcma"},
    ]
)
TURN_DETECTION = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.just("server_vad")},
        optional={
            "threshold": st.floats(0, 1),
            "prefix_padding_ms": st.integers(0, 1000),
            "silence_duration_ms": st.integers(0, 1000),
            "idle_timeout_ms": st.none() | st.integers(0, 10_000),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("semantic_vad")},
        optional={
            "eagerness": st.sampled_from(["low", "medium", "high", "auto"]),
            "create_response": st.booleans(),
        },
    ),
)
FUNCTION_TOOL = st.fixed_dictionaries(
    {"type": st.just("function"), "name": st.sampled_from(["f", "g"])},
    optional={"description": TEXT, "parameters": st.just({"type": "object", "properties": {}})},
)
TOOL_FILTER = st.fixed_dictionaries(
    {}, optional={"read_only": st.booleans(), "tool_names": st.lists(TEXT, max_size=2)}
)
MCP_TOOL = st.fixed_dictionaries(
    {"type": st.just("mcp"), "server_label": TEXT},
    optional={
        "server_url": st.just("https://mcp.example.com/sse"),
        "connector_id": st.sampled_from(["connector_gmail", "connector_dropbox"]),
        "allowed_tools": st.none() | st.lists(TEXT, max_size=2) | TOOL_FILTER,
        "require_approval": st.sampled_from(["always", "never", None])
        | st.fixed_dictionaries({}, optional={"always": TOOL_FILTER, "never": TOOL_FILTER}),
        "server_description": TEXT,
        "headers": st.dictionaries(st.sampled_from(["X-Team"]), TEXT, max_size=1),
        "allowed_callers": st.lists(st.sampled_from(["direct", "programmatic"]), max_size=2),
        "defer_loading": st.booleans(),
    },
)
TOOL = FUNCTION_TOOL | MCP_TOOL
SESSION = st.fixed_dictionaries(
    {},
    optional={
        "type": st.just("realtime"),
        "instructions": TEXT,
        "model": st.sampled_from(["gpt-realtime", "gpt-realtime-mini"]),
        "output_modalities": st.sampled_from([["text"], ["audio"]]),
        "max_output_tokens": st.integers(1, 4096) | st.just("inf"),
        "tools": st.lists(TOOL, max_size=2),
        "tool_choice": st.sampled_from(
            ["auto", "none", "required", {"type": "function", "name": "f"}]
        ),
        "tracing": st.sampled_from([None, "auto", {"workflow_name": "w"}]),
        "truncation": st.sampled_from(
            ["auto", {"type": "retention_ratio", "retention_ratio": 0.5}]
        ),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": FORMATS,
                        "turn_detection": TURN_DETECTION,
                        "transcription": st.none() | st.just({"model": "whisper-1"}),
                        "noise_reduction": st.sampled_from([None, {"type": "near_field"}]),
                    },
                ),
                "output": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": FORMATS,
                        "voice": st.sampled_from(["alloy", "marin"]),
                        "speed": st.floats(0.25, 1.5),
                    },
                ),
            },
        ),
    },
)
IDS = st.sampled_from(["item_a", "item_b", "seed_audio", "item_sim000001", "nope"])
PART_BY_ROLE = {
    "user": st.sampled_from(
        [
            {"type": "input_text", "text": "hi"},
            {"type": "input_audio", "audio": "AAAA"},
            {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"},
        ]
    ),
    "system": st.just({"type": "input_text", "text": "be brief"}),
    "assistant": st.just({"type": "output_text", "text": "ok"}),
}
MESSAGE = st.sampled_from(sorted(PART_BY_ROLE)).flatmap(
    lambda role: st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "role": st.just(role),
            "content": st.lists(PART_BY_ROLE[role], min_size=1, max_size=2),
        },
        optional={"id": IDS, "status": st.sampled_from(["completed", "incomplete"])},
    )
)
ITEM = st.one_of(
    MESSAGE,
    st.fixed_dictionaries(
        {"type": st.just("function_call"), "name": st.just("f"), "arguments": st.just("{}")},
        optional={"id": IDS, "call_id": st.just("call_1")},
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call_output"), "call_id": st.just("call_1"), "output": TEXT},
        optional={"id": IDS},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("mcp_approval_response"),
            "approval_request_id": st.just("mcpr_1"),
            "approve": st.booleans(),
        },
        optional={"id": IDS, "reason": TEXT},
    ),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=2) | st.dictionaries(TEXT, inner, max_size=2)


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    _containers,
    max_leaves=6,
)


def with_junk(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly ``base``; now and then one of its fields replaced by anything."""

    @st.composite
    def spoiled(draw: st.DrawFn) -> dict[str, Any]:
        value = dict(draw(base))
        if value and draw(st.integers(0, 4)) == 0:
            key = draw(st.sampled_from(sorted(value)) | TEXT)
            value[key] = draw(JUNK)
        return value

    return spoiled()


CLIENT_EVENTS = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("session.update"), "session": with_junk(SESSION)},
        optional={"event_id": TEXT},
    ),
    st.fixed_dictionaries(
        {"type": st.just("conversation.item.create"), "item": with_junk(ITEM)},
        optional={"previous_item_id": st.none() | IDS | st.just("root")},
    ),
    st.fixed_dictionaries({"type": st.just("conversation.item.delete"), "item_id": IDS}),
    st.fixed_dictionaries({"type": st.just("conversation.item.retrieve"), "item_id": IDS}),
    st.fixed_dictionaries(
        {
            "type": st.just("conversation.item.truncate"),
            "item_id": IDS,
            "content_index": st.integers(0, 1),
            "audio_end_ms": st.integers(0, 2000),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("input_audio_buffer.append"), "audio": st.sampled_from(["AAAA", ""])}
    ),
    st.sampled_from(
        [
            {"type": "input_audio_buffer.commit"},
            {"type": "input_audio_buffer.clear"},
            {"type": "response.cancel"},
        ]
    ),
    st.fixed_dictionaries(
        {"type": st.just("response.create")},
        optional={
            "response": with_junk(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "conversation": st.sampled_from(["auto", "none"]),
                        "metadata": st.dictionaries(TEXT, TEXT, max_size=2),
                        "output_modalities": st.sampled_from([["text"], ["audio"]]),
                        "max_output_tokens": st.integers(1, 4096) | st.just("inf"),
                        "instructions": TEXT,
                        "audio": st.just({"output": {"voice": "marin"}}),
                    },
                )
            )
        },
    ),
    st.dictionaries(TEXT, JUNK, max_size=3),
)
SEED = [
    {
        "id": "seed_audio",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": "hello there"}],
    }
]


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(CLIENT_EVENTS, max_size=12), st.booleans())
@example(
    [
        {
            "type": "session.update",
            "session": {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}},
        },
        {"type": "response.create"},
    ],
    False,
)
@example(
    [
        {
            "type": "conversation.item.truncate",
            "item_id": "seed_audio",
            "content_index": 0,
            "audio_end_ms": 5,
        }
    ],
    True,
)
@example(
    [
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call",
                "name": "f",
                "arguments": "{}",
                "id": "item_sim000001",
            },
        },
        {"type": "input_audio_buffer.commit"},
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call", "name": "f", "arguments": "{}"},
        },
    ],
    False,
)  # a client took the id the server mints next: the commit crashed the handler
def test_every_event_simulate_mode_sends_is_the_apis_shape(
    client_events: list[dict[str, Any]], seeded: bool
) -> None:
    session = SimulatedSession(SEED if seeded else ())
    for event in session.on_connect():
        assert_api_shape(event)
    for client_event in client_events:
        for event in session.handle(client_event):
            assert_api_shape(event)
    assert_api_shape({"type": "session.updated", "event_id": "e", "session": session.session})


def test_semantic_vad_replaces_server_vad_whole() -> None:
    session = SimulatedSession()
    update = {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
    (updated,) = session.handle({"type": "session.update", "session": update})
    assert updated["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }


def test_a_response_carries_the_sessions_voice_and_format_but_no_speed() -> None:
    created, done = SimulatedSession().handle({"type": "response.create"})
    assert created["response"]["audio"] == {
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}
    }
    assert done["response"]["status"] == "completed"


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"output_modalities": 5}, "invalid_type", "session.output_modalities"),
        ({"output_modalities": ["video"]}, "invalid_value", "session.output_modalities[0]"),
        ({"audio": "x"}, "invalid_type", "session.audio"),
        ({"voice": "alloy"}, "unknown_parameter", "session.voice"),
        (
            {"tools": [{"type": "mcp", "server_label": "s", "server_ulr": "https://x"}]},
            "unknown_parameter",
            "session.tools[0].server_ulr",
        ),
        (
            {"tools": [{"type": "mcp", "server_label": "s", "require_approval": "sometimes"}]},
            "invalid_value",
            "session.tools[0].require_approval",
        ),
        (
            {"tools": [{"type": "mcp", "server_label": "s", "headers": {"X-N": 5}}]},
            "invalid_type",
            "session.tools[0].headers.X-N",
        ),
        (
            {"tools": [{"type": "mcp"}]},
            "missing_required_parameter",
            "session.tools[0].server_label",
        ),
        ({"max_output_tokens": 5000}, "integer_above_max_value", "session.max_output_tokens"),
        (
            {"audio": {"input": {"turn_detection": {"type": "push_to_talk"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
    ],
)
def test_a_bad_session_update_is_refused_like_the_api_and_changes_nothing(
    session: dict[str, Any], code: str, param: str
) -> None:
    simulated = SimulatedSession()
    before = json.dumps(simulated.session)
    (error,) = simulated.handle({"type": "session.update", "session": session, "event_id": "c1"})
    assert error["type"] == "error"
    assert (error["error"]["code"], error["error"]["param"], error["error"]["event_id"]) == (
        code,
        param,
        "c1",
    )
    assert json.dumps(simulated.session) == before
    created, done = simulated.handle({"type": "response.create"})  # still answers
    assert (created["type"], done["type"]) == ("response.created", "response.done")


async def test_over_the_wire_every_simulated_event_is_the_apis_shape() -> None:
    sequence = [
        {"type": "session.update", "session": {"type": "realtime", "tracing": "auto"}},
        {
            "type": "session.update",
            "session": {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}},
        },
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        },
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create", "response": {"metadata": {"k": "v"}}},
        {"type": "conversation.item.delete", "item_id": "nope"},
    ]
    async with FakeRealtimeServer.simulate(SEED) as server:
        async with connect(server.url, additional_headers={"Authorization": "Bearer t"}) as ws:
            async with asyncio.timeout(5):
                received = [json.loads(await ws.recv())]
                for event in sequence:
                    await ws.send(json.dumps(event))
                await ws.send('{"type":"input_audio_buffer.clear"}')
                while received[-1]["type"] != "input_audio_buffer.cleared":
                    received.append(json.loads(await ws.recv()))
    for event in received:
        assert_api_shape(event)
    assert [e["type"] for e in received].count("error") == 1
