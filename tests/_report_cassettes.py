"""Cassettes for the report tests, and what a report must show for them, computed here.

The expected audio is recomputed from the cassette lines with nothing but ``json`` and
``base64``, independently of ``harness.report``.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

from harness.cassette import CassetteWriter, Header, Made

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
BUNDLED = sorted(CASSETTES.glob("*.jsonl"))

_RATES = {"audio/pcm": (2, 24000), "audio/pcmu": (1, 8000), "audio/pcma": (1, 8000)}


def frame_count(path: Path) -> int:
    """Frames in a cassette: its lines but the header."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def expected_streams(path: Path) -> list[dict[str, Any]]:
    """Every audio stream's bytes and duration: user append runs, then response audio."""
    fmt_in = fmt_out = (2, 24000)
    streams: list[dict[str, Any]] = []
    user: dict[str, Any] | None = None
    out: dict[tuple[int, str, str], dict[str, Any]] = {}
    with path.open() as fh:
        next(fh)
        for line in fh:
            obj = json.loads(line)
            if "close" in obj:
                user = None
            event = obj.get("event") or {}
            kind = event.get("type")
            if kind in ("session.created", "session.updated", "session.update"):
                audio = (event.get("session") or {}).get("audio") or {}
                fin = ((audio.get("input") or {}).get("format") or {}).get("type")
                fout = ((audio.get("output") or {}).get("format") or {}).get("type")
                fmt_in = _RATES.get(fin, fmt_in)
                fmt_out = _RATES.get(fout, fmt_out)
            elif kind == "input_audio_buffer.append" and obj["side"] == "client":
                if user is None:
                    user = {"who": "user", "bytes": 0, "fmt": fmt_in}
                    streams.append(user)
                user["bytes"] += len(base64.b64decode(event["audio"]))
            elif kind and kind.startswith(
                ("input_audio_buffer.commit", "input_audio_buffer.clear")
            ):
                user = None  # commit, committed, clear, cleared: the run is over
            elif kind == "response.output_audio.delta":
                key = (obj["conn"], event.get("response_id", ""), event.get("item_id", ""))
                if key not in out:
                    out[key] = {"who": "assistant", "bytes": 0, "fmt": fmt_out}
                    streams.append(out[key])
                out[key]["bytes"] += len(base64.b64decode(event["delta"]))
    for s in streams:
        width, rate = s.pop("fmt")
        s["rate"] = rate
        s["duration"] = s["bytes"] / width / rate
    return streams


def tone(seconds: float, rate: int, *, amplitude: float = 0.5, hz: float = 440.0) -> list[int]:
    """A sine tone as 16-bit sample values."""
    n = round(seconds * rate)
    return [round(amplitude * 32767 * math.sin(2 * math.pi * hz * i / rate)) for i in range(n)]


def pcm16(samples: list[int]) -> bytes:
    """Little-endian PCM16 bytes of ``samples``."""
    return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)


def write_audio_cassette(
    path: Path,
    *,
    in_format: dict[str, Any],
    out_format: dict[str, Any],
    user_audio: bytes,
    model_audio: bytes,
    chunk: int = 4800,
    extra_events: tuple[tuple[str, dict[str, Any]], ...] = (),
    redactions: tuple[str, ...] = (),
) -> Path:
    """One connection: session with these formats, the user's audio, one audio response."""
    header = Header(
        made=Made.SYNTHESIZED,
        created="2026-12-01T00:00:00Z",
        query={"model": "gpt-realtime"},
        client="tests/_report_cassettes.py",
        redactions=redactions,
        note="built by the report tests",
    )
    t = 0.0

    def tick() -> float:
        nonlocal t
        t = round(t + 0.01, 3)
        return t

    session = {
        "type": "realtime",
        "audio": {"input": {"format": in_format}, "output": {"format": out_format}},
    }
    with CassetteWriter(path, header) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "session": session})
        for side, event in extra_events:
            w.event(side, tick(), 0, event)
        for i in range(0, len(user_audio), chunk):
            piece = base64.b64encode(user_audio[i : i + chunk]).decode()
            w.event("client", tick(), 0, {"type": "input_audio_buffer.append", "audio": piece})
        w.event("client", tick(), 0, {"type": "input_audio_buffer.commit"})
        w.event(
            "server", tick(), 0, {"type": "input_audio_buffer.committed", "item_id": "item_user1"}
        )
        w.event(
            "server",
            tick(),
            0,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_user1",
                "content_index": 0,
                "transcript": "Hello there.",
            },
        )
        w.event("client", tick(), 0, {"type": "response.create"})
        w.event("server", tick(), 0, {"type": "response.created", "response": {"id": "resp_1"}})
        ids = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}
        for i in range(0, len(model_audio), chunk):
            piece = base64.b64encode(model_audio[i : i + chunk]).decode()
            w.event(
                "server", tick(), 0, {"type": "response.output_audio.delta", **ids, "delta": piece}
            )
        w.event(
            "server",
            tick(),
            0,
            {
                "type": "response.output_audio_transcript.done",
                **ids,
                "transcript": "Hi, how can I help?",
            },
        )
        w.event(
            "server",
            tick(),
            0,
            {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}},
        )
        w.write_close("client", tick(), 0, 1000)
    return path
