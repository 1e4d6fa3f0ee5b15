"""harness.inspect: one streaming pass into turns, text, tool calls, audio, marks, gaps."""

from __future__ import annotations

import base64
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from harness.cassette import CassetteWriter, Header, Made
from harness.inspect import (
    AudioFormat,
    EntryKind,
    MarkKind,
    audio_format,
    inspect_cassette,
)
from harness.redaction import placeholder
from harness.refusal import Refusal, refusal_frame

CASSETTES = Path(__file__).parent.parent / "cassettes"
KEY = placeholder("openai_api_key")


def b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


def session(fmt_in: Any, fmt_out: Any) -> dict[str, Any]:
    return {
        "type": "realtime",
        "audio": {"input": {"format": fmt_in}, "output": {"format": fmt_out}},
    }


@pytest.mark.parametrize(
    ("value", "expected", "per_second"),
    [
        ({"type": "audio/pcm", "rate": 24000}, AudioFormat("pcm16", 24000), 48000),
        ({"type": "audio/pcm"}, AudioFormat("pcm16", 24000), 48000),
        ({"type": "audio/pcm", "rate": 16000}, AudioFormat("pcm16", 16000), 32000),
        ({"type": "audio/pcmu"}, AudioFormat("g711_ulaw", 8000), 8000),
        ({"type": "audio/pcma"}, AudioFormat("g711_alaw", 8000), 8000),
        ("pcm16", AudioFormat("pcm16", 24000), 48000),
        ("g711_ulaw", AudioFormat("g711_ulaw", 8000), 8000),
        ("g711_alaw", AudioFormat("g711_alaw", 8000), 8000),
    ],
)
def test_audio_formats_and_their_byte_rates(
    value: Any, expected: AudioFormat, per_second: int
) -> None:
    fmt = audio_format(value)
    assert fmt == expected
    assert fmt.bytes_per_second == per_second
    assert fmt.duration(per_second * 3) == 3.0


def test_unknown_formats_are_none() -> None:
    assert audio_format({"type": "audio/opus"}) is None
    assert audio_format("mp3") is None
    assert audio_format(None) is None


def test_audio_durations_follow_the_session_format(tmp_path: Path) -> None:
    path = tmp_path / "audio.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event(
            "server",
            0.0,
            0,
            {
                "type": "session.created",
                "session": session(
                    {"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcm", "rate": 24000}
                ),
            },
        )
        w.event("client", 0.1, 0, {"type": "input_audio_buffer.append", "audio": b64(24000)})
        w.event("client", 0.2, 0, {"type": "input_audio_buffer.append", "audio": b64(24001)})
        w.event("client", 0.3, 0, {"type": "input_audio_buffer.commit"})
        w.event("server", 0.4, 0, {"type": "input_audio_buffer.committed", "item_id": "u1"})
        # the client switches to G.711 mu-law in, A-law out (beta spelling)
        w.event(
            "client",
            0.5,
            0,
            {
                "type": "session.update",
                "session": {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_alaw"},
            },
        )
        w.event("client", 0.6, 0, {"type": "input_audio_buffer.append", "audio": b64(4000)})
        w.event("client", 0.7, 0, {"type": "input_audio_buffer.commit"})
        w.event("server", 0.8, 0, {"type": "response.created", "response": {"id": "r1"}})
        for i in range(3):
            w.event(
                "server",
                0.9 + i / 100,
                0,
                {
                    "type": "response.output_audio.delta",
                    "response_id": "r1",
                    "item_id": "a1",
                    "delta": b64(8000),
                },
            )
        w.event(
            "server",
            1.0,
            0,
            {
                "type": "response.output_audio_transcript.done",
                "response_id": "r1",
                "item_id": "a1",
                "transcript": "Hello there.",
            },
        )
        w.event(
            "server",
            1.1,
            0,
            {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
        )
    (conn,) = inspect_cassette(path).connections
    first, second = conn.user_audio
    assert (first.bytes, first.chunks, first.lines) == (48001, 2, (3, 4))
    assert first.format == AudioFormat("pcm16", 24000)
    assert first.duration == pytest.approx(48001 / 48000)
    assert (first.item_id, first.ended_by) == ("u1", "input_audio_buffer.commit")
    assert (second.format.codec, second.bytes, second.duration) == ("g711_ulaw", 4000, 0.5)
    (turn,) = conn.turns
    (out,) = turn.audio
    assert (out.format.codec, out.bytes, out.chunks, out.duration) == ("g711_alaw", 24000, 3, 3.0)
    assert (out.item_id, out.response_id, out.transcript) == ("a1", "r1", "Hello there.")
    assert (turn.start, turn.end, turn.start_line, turn.end_line) == (0.8, 1.1, 10, 15)
    assert (turn.status, turn.transcript) == ("completed", "Hello there.")
    assert (conn.input_format.codec, conn.output_format.codec) == ("g711_ulaw", "g711_alaw")


def test_turns_text_tool_calls_and_their_outputs(tmp_path: Path) -> None:
    path = tmp_path / "tools.jsonl"
    call = {
        "type": "function_call",
        "call_id": "c1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    with CassetteWriter(path, Header()) as w:
        w.event(
            "client",
            0.0,
            0,
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "id": "m1",
                    "content": [{"type": "input_text", "text": "Weather in Paris?"}],
                },
            },
        )
        w.event("server", 0.1, 0, {"type": "response.created", "response": {"id": "r1"}})
        w.event(
            "server",
            0.2,
            0,
            {
                "type": "response.function_call_arguments.done",
                "response_id": "r1",
                **{k: call[k] for k in ("call_id", "name", "arguments")},
            },
        )
        w.event(
            "server",
            0.3,
            0,
            {"type": "response.output_item.done", "response_id": "r1", "item": call},
        )
        w.event(
            "server",
            0.4,
            0,
            {
                "type": "response.done",
                "response": {"id": "r1", "status": "completed", "output": [call]},
            },
        )
        w.event(
            "client",
            0.5,
            0,
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "c1", "output": '{"temp": 18}'},
            },
        )
        w.event("client", 0.6, 0, {"type": "response.create"})
        w.event("server", 0.7, 0, {"type": "response.created", "response": {"id": "r2"}})
        for piece in ("It is ", "18 degrees."):
            w.event(
                "server",
                0.8,
                0,
                {
                    "type": "response.output_text.delta",
                    "response_id": "r2",
                    "item_id": "t1",
                    "delta": piece,
                },
            )
        w.event(
            "server",
            0.9,
            0,
            {
                "type": "response.done",
                "response": {
                    "id": "r2",
                    "status": "cancelled",
                    "status_details": {"reason": "turn_detected"},
                },
            },
        )
    (conn,) = inspect_cassette(path).connections
    first, second = conn.turns
    (tool,) = first.tool_calls
    assert (tool.name, tool.call_id, tool.arguments) == ("get_weather", "c1", '{"city": "Paris"}')
    assert (tool.output, tool.t, tool.line, tool.output_line) == ('{"temp": 18}', 0.2, 4, 7)
    assert (second.text, second.status, second.reason) == (
        "It is 18 degrees.",
        "cancelled",
        "turn_detected",
    )
    assert [(e.kind, e.text) for e in conn.conversation] == [
        (EntryKind.USER_TEXT, "Weather in Paris?"),
        (EntryKind.TOOL_CALL, ""),
        (EntryKind.ASSISTANT, "It is 18 degrees."),
    ]
    assert conn.conversation[1].tool_call == tool


def test_marks_errors_closes_refusals_redactions_and_gaps(tmp_path: Path) -> None:
    path = tmp_path / "marks.jsonl"
    with CassetteWriter(path, Header(made=Made.RECORDED, redactions=("openai_api_key",))) as w:
        w.write(refusal_frame(0, 0.0, Refusal(401, "Unauthorized", '{"error": "bad key"}')))
        w.event(
            "server",
            0.0,
            1,
            {
                "type": "session.created",
                "session": {
                    "tools": [{"type": "mcp", "authorization": placeholder("mcp_authorization")}]
                },
            },
        )
        w.event(
            "client",
            0.1,
            1,
            {
                "type": "session.update",
                "session": {"instructions": f"key {KEY} and {KEY}"},
            },
        )
        w.event(
            "server", 0.2, 1, {"type": "input_audio_buffer.speech_started", "audio_start_ms": 200}
        )
        w.event(
            "server", 2.7, 1, {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2600}
        )
        w.event(
            "client",
            2.8,
            1,
            {
                "type": "conversation.item.truncate",
                "item_id": "i1",
                "content_index": 0,
                "audio_end_ms": 150,
            },
        )
        w.event(
            "server",
            3.0,
            1,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                    "message": "No.",
                },
            },
        )
        w.write_close("server", 3.1, 1, 1011, "boom")
    inspection = inspect_cassette(path)
    refused, live = inspection.connections
    (refusal,) = refused.marks
    assert (refusal.kind, refusal.code) == (MarkKind.REFUSAL, 401)
    assert refusal.detail == 'HTTP 401 Unauthorized: {"error": "bad key"}'
    kinds = [(m.kind, m.line) for m in live.marks]
    assert kinds == [
        (MarkKind.REDACTED, 3),
        (MarkKind.REDACTED, 4),
        (MarkKind.SPEECH_STARTED, 5),
        (MarkKind.SPEECH_STOPPED, 6),
        (MarkKind.TRUNCATED, 7),
        (MarkKind.ERROR, 8),
        (MarkKind.CLOSE, 9),
    ]
    error = live.marks[5]
    assert (error.code, error.detail) == ("invalid_value", "invalid_value: No.")
    assert live.marks[6].detail == "server closed 1011 boom"
    assert live.marks[4].item_id == "i1"
    assert live.redactions == {"mcp_authorization": 1, "openai_api_key": 2}
    assert inspection.redactions == {"mcp_authorization": 1, "openai_api_key": 2}
    (gap,) = live.gaps  # 2.5 s of silence before speech_stopped; the others are < 1 s
    assert (gap.start, gap.end, gap.seconds, gap.after_line, gap.before_line) == (
        0.2,
        2.7,
        2.5,
        5,
        6,
    )
    assert inspection.header.redactions == ("openai_api_key",)
    assert (live.frames, live.client_frames, live.server_frames) == (7, 2, 5)


def test_a_refusal_reads_as_the_recorder_writes_it() -> None:
    # A refusal frame as the recorder writes it (harness.refusal) is a refusal mark.
    frame = refusal_frame(3, 0.5, Refusal(502, "Bad Gateway", "upstream_unreachable"))
    from harness.inspect import Inspector

    inspector = Inspector(Header())
    inspector.feed(frame)
    (mark,) = inspector.finish().connections[0].marks
    assert (mark.kind, mark.code, mark.detail) == (
        MarkKind.REFUSAL,
        502,
        "HTTP 502 Bad Gateway: upstream_unreachable",
    )


def test_every_bundled_cassette_inspects_and_its_json_round_trips() -> None:
    for path in sorted(CASSETTES.glob("*.jsonl")):
        inspection = inspect_cassette(path)
        data = inspection.to_json()
        assert json.loads(json.dumps(data)) == data
        assert data["frames"] == sum(c["frames"] for c in data["connections"])
        assert data["header"]["made"] == "synthesized"


def test_the_bundled_function_call_has_its_tool_output() -> None:
    (conn,) = inspect_cassette(CASSETTES / "function_call.jsonl").connections
    (call,) = [c for t in conn.turns for c in t.tool_calls]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.output is not None and json.loads(call.output)["conditions"] == "sunny"


def test_a_large_audio_cassette_is_inspected_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    chunk = b64(48000)  # one second of PCM16 24 kHz per frame
    with CassetteWriter(path, Header()) as w:
        for i in range(400):
            w.event("client", i / 1000, 0, {"type": "input_audio_buffer.append", "audio": chunk})
    size = path.stat().st_size
    assert size > 25_000_000
    tracemalloc.start()
    try:
        inspection = inspect_cassette(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (run,) = inspection.connections[0].user_audio
    assert (run.bytes, run.duration, run.ended_by) == (400 * 48000, 400.0, "")
    assert peak < 4_000_000, f"peak {peak} bytes for a {size}-byte cassette"
