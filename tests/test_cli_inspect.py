"""``inspect``: the timeline with content, ``--json``, and its errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.inspect import inspect_cassette

CASSETTES = Path(__file__).parent.parent / "cassettes"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out, prog="realtime-harness")
    return status, out.getvalue()


def test_the_timeline_shows_content_not_only_types() -> None:
    path = CASSETTES / "function_call.jsonl"
    status, text = run("inspect", str(path))
    assert status == 0
    lines = text.splitlines()
    assert lines[0] == f"{path}: synthesized 2026-11-25T21:00:00Z"
    assert "  redactions that ran: none; found: no placeholders in the frames" in lines
    assert (
        "conn 0: 39 frames (7 client, 32 server) over 1.400 s; audio in pcm16 24 kHz, "
        "out pcm16 24 kHz" in lines
    )
    body = [line.split(None, 2) for line in lines if line.startswith("     ")]
    assert [b[1] for b in body] == sorted((b[1] for b in body), key=lambda x: int(x[1:]))
    texts = [b[2] for b in body]
    assert 'user: "What\'s the weather in Paris?"' in texts
    assert any(t.startswith('tool call get_weather({"city":"Paris"})') for t in texts)
    assert any(t.startswith("tool output [") and '"sunny"' in t for t in texts)
    assert 'assistant: "It\'s 18°C and sunny in Paris right now."' in texts
    assert texts[-1] == "close: client closed 1000"


def test_audio_durations_and_interruptions_in_the_timeline() -> None:
    status, text = run("inspect", str(CASSETTES / "interruption.jsonl"))
    assert status == 0
    assert "assistant audio: 0.150 s (7,200 bytes pcm16 24 kHz, 3 chunks, lines 16-20)" in text
    assert "speech started: at 1320 ms" in text
    assert "turn 1 cancelled (turn_detected) after 0.516 s" in text
    assert 'assistant said: "Once upon a time, on a rocky"' in text


@pytest.mark.parametrize("path", sorted(CASSETTES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_json_is_the_model(path: Path) -> None:
    status, text = run("inspect", str(path), "--json")
    assert status == 0 and text.count("\n") == 1
    assert json.loads(text) == json.loads(json.dumps(inspect_cassette(path).to_json()))


def test_gaps_follow_the_threshold(tmp_path: Path) -> None:
    path = CASSETTES / "audio_turn.jsonl"
    status, text = run("inspect", str(path), "--json", "--gap", "0.1")
    gaps = json.loads(text)["connections"][0]["gaps"]
    assert status == 0 and gaps and all(g["seconds"] >= 0.1 for g in gaps)
    assert "gap of" in run("inspect", str(path), "--gap", "0.1")[1]


def test_a_bad_line_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"format": "realtime-harness-cassette", "version": 1}\n'
        '{"side": "server", "t": 0, "conn": 0, "event": {"type": "a"}}\n'
        "not json\n"
    )
    status, text = run("inspect", str(path))
    assert (status, text) == (2, "")
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:3: not JSON")
    assert err.count("\n") == 1
