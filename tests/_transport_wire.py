"""Frames the transport sends that its socket tests and its sans-I/O tests both expect."""

from __future__ import annotations

from typing import Any

# What connect() (or the core's open()) sends first with default options and model
# "gpt-realtime" (the bundled cassettes' first client frame should equal it; README,
# "Transport").
CONNECT_SESSION_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "noise_reduction": None,
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {"type": "semantic_vad"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "speed": 1},
        },
    },
}
TRACING_AUTO: dict[str, Any] = {
    "type": "session.update",
    "session": {"type": "realtime", "tracing": "auto"},
}
