"""Regenerate the bundled cassettes: ``python cassettes/_synthesize.py``.

We cannot record the real API here, so these sessions are *synthesized* from the GA event
shapes documented in the Realtime API reference (and the ``openai`` package's types): every
server event carries an ``event_id``, ``session.created`` carries a full session object,
``response.done`` carries usage. Ids and audio are deterministic (seeded), so regenerating
gives the same files byte for byte.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import random
import struct
from pathlib import Path
from typing import Any

from harness.cassette import CassetteWriter, Header, Made, Side
from harness.transport import OpenAIRealtimeWebSocket

HERE = Path(__file__).resolve().parent
MODEL = "gpt-realtime"
NOTE = (
    "Synthesized from the documented GA event shapes of the Realtime API (not recorded from "
    "the live API); regenerate with `python cassettes/_synthesize.py`."
)

Event = dict[str, Any]


class Session:
    """Builds one synthesized connection: ids, times, and the frames in wire order."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.frames: list[tuple[Side, float, Event | tuple[int, str]]] = []
        self.t = 0.0
        self.client_events = 0

    def id(self, prefix: str) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "_" + "".join(self.rng.choice(alphabet) for _ in range(21))

    def server(self, event: Event, dt: float = 0.004) -> Event:
        self.t += dt
        event = {"type": event.pop("type"), "event_id": self.id("event"), **event}
        self.frames.append((Side.SERVER, round(self.t, 3), event))
        return event

    def client(self, event: Event, dt: float = 0.002, *, event_id: bool = True) -> Event:
        """A client frame; ``event_id=False`` for frames our transport sends without one."""
        self.t += dt
        self.client_events += 1
        if event_id:
            event = {"type": event.pop("type"), "event_id": self.id("event"), **event}
        self.frames.append((Side.CLIENT, round(self.t, 3), event))
        return event

    def close(self, side: Side, code: int, reason: str, dt: float = 0.01) -> None:
        self.t += dt
        self.frames.append((side, round(self.t, 3), (code, reason)))

    def write(self) -> Path:
        path = HERE / f"{self.name}.jsonl"
        header = Header(
            made=Made.SYNTHESIZED,
            created="2026-11-25T21:00:00Z",
            path="/v1/realtime",
            query={"model": MODEL},
            client="harness.OpenAIRealtimeWebSocket (synthesized by cassettes/_synthesize.py)",
            redactions=(),
            note=NOTE,
        )
        with CassetteWriter(path, header) as writer:
            for side, t, payload in self.frames:
                if isinstance(payload, tuple):
                    writer.write_close(side, t, 0, payload[0], payload[1])
                else:
                    writer.event(side, t, 0, payload)
        return path


# -- shapes -------------------------------------------------------------------------------------


def session_object(
    s: Session,
    *,
    modalities: list[str],
    instructions: str,
    tools: list[Event] | None = None,
    turn_detection: Event | None = None,
    voice: str = "marin",
) -> Event:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": s.sess_id,  # type: ignore[attr-defined]
        "model": "gpt-realtime-2025-08-28",
        "output_modalities": modalities,
        "instructions": instructions,
        "tools": tools or [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": 1796072400,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": turn_detection,
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": voice,
                "speed": 1.0,
            },
        },
    }


SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
TRACING_UPDATE = {"type": "realtime", "tracing": "auto"}
DEFAULT_INSTRUCTIONS = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Act like a "
    "human, but remember that you aren't a human and that you can't do human things in the "
    "real world."
)


def start(s: Session, *, update: Event, session_after: Event) -> None:
    """session.created on connect; the client's session.updates; session.updated for each.

    The client is our transport (``harness.OpenAIRealtimeWebSocket``), so its frames are what
    it sends: on connect, a ``session.update`` of ``update`` merged with its defaults, and on
    ``session.created`` its tracing update; neither carries an ``event_id``.
    """
    if not hasattr(s, "sess_id"):
        _with_ids(s)
    created = session_object(
        s, modalities=["audio"], instructions=DEFAULT_INSTRUCTIONS, turn_detection=SERVER_VAD
    )
    s.server({"type": "session.created", "session": created}, dt=0.0)
    full = OpenAIRealtimeWebSocket(model=MODEL).build_session_payload(update)
    s.client({"type": "session.update", "session": full}, dt=0.001, event_id=False)
    s.client({"type": "session.update", "session": TRACING_UPDATE}, dt=0.001, event_id=False)
    s.server({"type": "session.updated", "session": session_after}, dt=0.09)
    s.server(
        {"type": "session.updated", "session": {**copy.deepcopy(session_after), "tracing": "auto"}},
        dt=0.03,
    )


def user_text(s: Session, text: str) -> str:
    item_id = s.id("item")
    item = {
        "id": item_id,
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    s.client({"type": "conversation.item.create", "item": item}, dt=0.05)
    added = {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    previous = getattr(s, "last_item", None)
    s.server(
        {"type": "conversation.item.added", "previous_item_id": previous, "item": added}, dt=0.06
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": previous,
            "item": copy.deepcopy(added),
        }
    )
    s.last_item = item_id  # type: ignore[attr-defined]
    return item_id


def usage(text_in: int, audio_in: int, text_out: int, audio_out: int) -> Event:
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def response_obj(
    s: Session,
    resp_id: str,
    *,
    status: str,
    modalities: list[str],
    output: list[Event] | None = None,
    usage_: Event | None = None,
    status_details: Event | None = None,
) -> Event:
    return {
        "object": "realtime.response",
        "id": resp_id,
        "status": status,
        "status_details": status_details,
        "output": output or [],
        "conversation_id": s.conv_id,  # type: ignore[attr-defined]
        "output_modalities": modalities,
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        "usage": usage_,
        "metadata": None,
    }


def rate_limits(s: Session, used: int) -> None:
    s.server(
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {
                    "name": "tokens",
                    "limit": 40000,
                    "remaining": 40000 - used,
                    "reset_seconds": 0.63,
                },
            ],
        }
    )


def chunks(text: str, size: int) -> list[str]:
    words = text.split(" ")
    out, cur = [], ""
    for w in words:
        cur = f"{cur} {w}" if cur else w
        if len(cur) >= size:
            out.append(cur + " ")
            cur = ""
    if cur:
        out.append(cur)
    out[-1] = out[-1].rstrip(" ")
    return out


def pcm16(seconds: float, freq: float, phase: int = 0) -> bytes:
    """Deterministic 24 kHz mono PCM16 (a quiet sine)."""
    n = int(24000 * seconds)
    return b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * freq * (i + phase) / 24000)))
        for i in range(n)
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def assistant_text_response(s: Session, text: str, *, tokens_in: int) -> None:
    s.client({"type": "response.create"}, dt=0.003)
    resp_id = s.id("resp")
    item_id = s.id("item")
    s.server(
        {
            "type": "response.created",
            "response": response_obj(s, resp_id, status="in_progress", modalities=["text"]),
        },
        dt=0.08,
    )
    rate_limits(s, tokens_in)
    in_progress = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    s.server(
        {
            "type": "response.output_item.added",
            "response_id": resp_id,
            "output_index": 0,
            "item": in_progress,
        },
        dt=0.21,
    )
    s.server(
        {
            "type": "conversation.item.added",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(in_progress),
        }
    )
    s.server(
        {
            "type": "response.content_part.added",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "text", "text": ""},
        }
    )
    for piece in chunks(text, 6):
        s.server(
            {
                "type": "response.output_text.delta",
                "response_id": resp_id,
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": piece,
            },
            dt=0.03,
        )
    s.server(
        {
            "type": "response.output_text.done",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "text": text,
        },
        dt=0.01,
    )
    s.server(
        {
            "type": "response.content_part.done",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "text", "text": text},
        }
    )
    done_item = {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    s.server(
        {
            "type": "response.output_item.done",
            "response_id": resp_id,
            "output_index": 0,
            "item": done_item,
        }
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(done_item),
        }
    )
    out_tokens = max(1, len(text) // 4)
    s.server(
        {
            "type": "response.done",
            "response": response_obj(
                s,
                resp_id,
                status="completed",
                modalities=["text"],
                output=[done_item],
                usage_=usage(tokens_in, 0, out_tokens, 0),
            ),
        },
        dt=0.02,
    )
    s.last_item = item_id  # type: ignore[attr-defined]


def text_session_update(s: Session, instructions: str, tools: list[Event] | None = None) -> None:
    update: Event = {
        "type": "realtime",
        "instructions": instructions,
        "output_modalities": ["text"],
    }
    if tools:
        update["tools"] = tools
    if not hasattr(s, "sess_id"):
        _with_ids(s)
    start(
        s,
        update=update,
        session_after=session_object(
            s,
            modalities=["text"],
            instructions=instructions,
            tools=tools,
            turn_detection=SERVER_VAD,
        ),
    )


def _with_ids(s: Session) -> Session:
    s.sess_id = s.id("sess")  # type: ignore[attr-defined]
    s.conv_id = s.id("conv")  # type: ignore[attr-defined]
    return s


# -- the sessions ------------------------------------------------------------------------------


def text_turn() -> Session:
    s = Session("text_turn", 1)
    text_session_update(s, "You are a concise assistant. Answer in one sentence.")
    user_text(s, "What is the capital of France?")
    assistant_text_response(s, "The capital of France is Paris.", tokens_in=142)
    s.close(Side.CLIENT, 1000, "")
    return s


def audio_turn() -> Session:
    s = Session("audio_turn", 2)
    _with_ids(s)
    instructions = "You are a friendly voice assistant. Keep answers short."
    update = {
        "type": "realtime",
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {"input": {"turn_detection": None}, "output": {"voice": "marin"}},
    }
    start(
        s,
        update=update,
        session_after=session_object(
            s, modalities=["audio"], instructions=instructions, turn_detection=None
        ),
    )
    # The user's question as three 100 ms chunks, then a manual commit.
    for i in range(3):
        s.client(
            {"type": "input_audio_buffer.append", "audio": b64(pcm16(0.1, 220.0, phase=2400 * i))},
            dt=0.1,
        )
    s.client({"type": "input_audio_buffer.commit"}, dt=0.01)
    user_item = s.id("item")
    s.server(
        {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": user_item},
        dt=0.05,
    )
    user = {
        "id": user_item,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    s.server({"type": "conversation.item.added", "previous_item_id": None, "item": user})
    s.server(
        {"type": "conversation.item.done", "previous_item_id": None, "item": copy.deepcopy(user)}
    )
    s.last_item = user_item  # type: ignore[attr-defined]
    s.client({"type": "response.create"}, dt=0.003)
    resp_id, item_id = s.id("resp"), s.id("item")
    s.server(
        {
            "type": "response.created",
            "response": response_obj(s, resp_id, status="in_progress", modalities=["audio"]),
        },
        dt=0.08,
    )
    rate_limits(s, 310)
    in_progress = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    s.server(
        {
            "type": "response.output_item.added",
            "response_id": resp_id,
            "output_index": 0,
            "item": in_progress,
        },
        dt=0.2,
    )
    s.server(
        {
            "type": "conversation.item.added",
            "previous_item_id": user_item,
            "item": copy.deepcopy(in_progress),
        }
    )
    s.server(
        {
            "type": "response.content_part.added",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    transcript = "Sure! It's sunny and mild today."
    pieces = chunks(transcript, 5)
    where = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    for i in range(8):
        if i < len(pieces):
            s.server(
                {"type": "response.output_audio_transcript.delta", **where, "delta": pieces[i]},
                dt=0.01,
            )
        s.server(
            {
                "type": "response.output_audio.delta",
                **where,
                "delta": b64(pcm16(0.05, 440.0, phase=1200 * i)),
            },
            dt=0.04,
        )
    s.server({"type": "response.output_audio.done", **where}, dt=0.01)
    s.server({"type": "response.output_audio_transcript.done", **where, "transcript": transcript})
    s.server(
        {
            "type": "response.content_part.done",
            **where,
            "part": {"type": "audio", "transcript": transcript},
        }
    )
    done_item = {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": transcript}],
    }
    s.server(
        {
            "type": "response.output_item.done",
            "response_id": resp_id,
            "output_index": 0,
            "item": done_item,
        }
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": user_item,
            "item": copy.deepcopy(done_item),
        }
    )
    s.server(
        {
            "type": "response.done",
            "response": response_obj(
                s,
                resp_id,
                status="completed",
                modalities=["audio"],
                output=[done_item],
                usage_=usage(118, 30, 12, 40),
            ),
        },
        dt=0.02,
    )
    s.close(Side.CLIENT, 1000, "")
    return s


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def function_call() -> Session:
    s = Session("function_call", 3)
    text_session_update(s, "Use the tools to answer weather questions.", tools=[WEATHER_TOOL])
    user_text(s, "What's the weather in Paris?")
    s.client({"type": "response.create"}, dt=0.003)
    resp_id, item_id, call_id = s.id("resp"), s.id("item"), s.id("call")
    s.server(
        {
            "type": "response.created",
            "response": response_obj(s, resp_id, status="in_progress", modalities=["text"]),
        },
        dt=0.08,
    )
    rate_limits(s, 201)
    in_progress = {
        "id": item_id,
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": call_id,
        "arguments": "",
    }
    s.server(
        {
            "type": "response.output_item.added",
            "response_id": resp_id,
            "output_index": 0,
            "item": in_progress,
        },
        dt=0.3,
    )
    s.server(
        {
            "type": "conversation.item.added",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(in_progress),
        }
    )
    arguments = '{"city":"Paris"}'
    for piece in ('{"city"', ':"Par', 'is"}'):
        s.server(
            {
                "type": "response.function_call_arguments.delta",
                "response_id": resp_id,
                "item_id": item_id,
                "output_index": 0,
                "call_id": call_id,
                "delta": piece,
            },
            dt=0.02,
        )
    s.server(
        {
            "type": "response.function_call_arguments.done",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "call_id": call_id,
            "name": "get_weather",
            "arguments": arguments,
        }
    )
    done_item = {**in_progress, "status": "completed", "arguments": arguments}
    s.server(
        {
            "type": "response.output_item.done",
            "response_id": resp_id,
            "output_index": 0,
            "item": done_item,
        }
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(done_item),
        }
    )
    s.server(
        {
            "type": "response.done",
            "response": response_obj(
                s,
                resp_id,
                status="completed",
                modalities=["text"],
                output=[done_item],
                usage_=usage(201, 0, 17, 0),
            ),
        },
        dt=0.02,
    )
    s.last_item = item_id  # type: ignore[attr-defined]
    # The client runs the tool and sends its output, then asks for the answer.
    output_id = s.id("item")
    output = json.dumps({"city": "Paris", "temperature_c": 18, "conditions": "sunny"})
    s.client(
        {
            "type": "conversation.item.create",
            "item": {
                "id": output_id,
                "type": "function_call_output",
                "call_id": call_id,
                "output": output,
            },
        },
        dt=0.15,
    )
    added = {"id": output_id, "type": "function_call_output", "call_id": call_id, "output": output}
    s.server(
        {"type": "conversation.item.added", "previous_item_id": item_id, "item": added}, dt=0.05
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": item_id,
            "item": copy.deepcopy(added),
        }
    )
    s.last_item = output_id  # type: ignore[attr-defined]
    assistant_text_response(s, "It's 18°C and sunny in Paris right now.", tokens_in=236)
    s.close(Side.CLIENT, 1000, "")
    return s


def interruption() -> Session:
    s = Session("interruption", 4)
    _with_ids(s)
    instructions = "You are a friendly voice assistant."
    start(
        s,
        update={"type": "realtime", "instructions": instructions, "output_modalities": ["audio"]},
        session_after=session_object(
            s, modalities=["audio"], instructions=instructions, turn_detection=SERVER_VAD
        ),
    )
    user_text(s, "Tell me a long story about a lighthouse.")
    s.client({"type": "response.create"}, dt=0.003)
    resp_id, item_id = s.id("resp"), s.id("item")
    s.server(
        {
            "type": "response.created",
            "response": response_obj(s, resp_id, status="in_progress", modalities=["audio"]),
        },
        dt=0.08,
    )
    in_progress = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    s.server(
        {
            "type": "response.output_item.added",
            "response_id": resp_id,
            "output_index": 0,
            "item": in_progress,
        },
        dt=0.2,
    )
    s.server(
        {
            "type": "conversation.item.added",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(in_progress),
        }
    )
    s.server(
        {
            "type": "response.content_part.added",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    where = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    heard = "Once upon a time, on a rocky "
    first_audio_t: float | None = None
    played_ms = 0.0
    for i, piece in enumerate(chunks(heard, 8)):
        s.server(
            {"type": "response.output_audio_transcript.delta", **where, "delta": piece}, dt=0.01
        )
        audio = pcm16(0.05, 330.0, phase=1200 * i)
        s.server({"type": "response.output_audio.delta", **where, "delta": b64(audio)}, dt=0.04)
        first_audio_t = s.t if first_audio_t is None else first_audio_t
        played_ms += len(audio) / 2 / 24000 * 1000  # pcm16 mono at 24 kHz
    # The user talks over the assistant: the client streams microphone audio ...
    for i in range(2):
        s.client(
            {"type": "input_audio_buffer.append", "audio": b64(pcm16(0.05, 180.0, phase=1200 * i))},
            dt=0.05,
        )
    user_item = s.id("item")
    s.server(
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1320, "item_id": user_item},
        dt=0.02,
    )
    # ... the transport interrupts at once: the server cancels the response itself
    # (interrupt_response), so the client only truncates what it had not played: the time
    # since the first audio delta, at most the audio received.
    assert first_audio_t is not None
    audio_end_ms = math.floor(min((s.t - first_audio_t) * 1000, played_ms))
    s.client(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        },
        dt=0.002,
        event_id=False,
    )
    s.server({"type": "response.output_audio.done", **where}, dt=0.01)
    s.server({"type": "response.output_audio_transcript.done", **where, "transcript": heard})
    s.server(
        {
            "type": "response.content_part.done",
            **where,
            "part": {"type": "audio", "transcript": heard},
        }
    )
    done_item = {
        "id": item_id,
        "type": "message",
        "status": "incomplete",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": heard}],
    }
    s.server(
        {
            "type": "response.output_item.done",
            "response_id": resp_id,
            "output_index": 0,
            "item": done_item,
        }
    )
    s.server(
        {
            "type": "conversation.item.done",
            "previous_item_id": s.last_item,  # type: ignore[attr-defined]
            "item": copy.deepcopy(done_item),
        }
    )
    s.server(
        {
            "type": "response.done",
            "response": response_obj(
                s,
                resp_id,
                status="cancelled",
                modalities=["audio"],
                output=[done_item],
                status_details={"type": "cancelled", "reason": "turn_detected"},
                usage_=usage(150, 0, 8, 52),
            ),
        },
        dt=0.01,
    )
    s.server(
        {
            "type": "conversation.item.truncated",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        },
        dt=0.03,
    )
    # The transport fetches the truncated item back.
    s.client({"type": "conversation.item.retrieve", "item_id": item_id}, event_id=False)
    truncated = copy.deepcopy(done_item)
    truncated["content"][0]["transcript"] = heard
    s.server({"type": "conversation.item.retrieved", "item": truncated}, dt=0.03)
    s.client({"type": "input_audio_buffer.append", "audio": b64(pcm16(0.05, 180.0, 2400))}, dt=0.02)
    s.server(
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1880, "item_id": user_item},
        dt=0.2,
    )
    s.server(
        {"type": "input_audio_buffer.committed", "previous_item_id": item_id, "item_id": user_item},
        dt=0.01,
    )
    user = {
        "id": user_item,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    s.server({"type": "conversation.item.added", "previous_item_id": item_id, "item": user})
    s.server(
        {"type": "conversation.item.done", "previous_item_id": item_id, "item": copy.deepcopy(user)}
    )
    s.close(Side.CLIENT, 1000, "")
    return s


def server_error() -> Session:
    s = Session("server_error", 5)
    _with_ids(s)
    s.server(
        {
            "type": "session.created",
            "session": session_object(
                s,
                modalities=["audio"],
                instructions=DEFAULT_INSTRUCTIONS,
                turn_detection=SERVER_VAD,
            ),
        },
        dt=0.0,
    )
    # The transport connects with a voice the API does not have (its frames carry no
    # event_id, so the error names none) ...
    transport = OpenAIRealtimeWebSocket(model=MODEL)
    bad = transport.build_session_payload({"audio": {"output": {"voice": "nova-9"}}})
    s.client({"type": "session.update", "session": bad}, dt=0.001, event_id=False)
    s.client({"type": "session.update", "session": TRACING_UPDATE}, dt=0.001, event_id=False)
    s.server(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Invalid value: 'nova-9'. Supported values are: 'alloy', 'ash', "
                "'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', and 'cedar'.",
                "param": "session.audio.output.voice",
                "event_id": None,
            },
        },
        dt=0.05,
    )
    after = session_object(
        s, modalities=["audio"], instructions=DEFAULT_INSTRUCTIONS, turn_detection=SERVER_VAD
    )
    s.server({"type": "session.updated", "session": {**after, "tracing": "auto"}}, dt=0.03)
    # ... and corrects it with update_session_config (again the full merged session).
    good = transport.build_session_payload({"audio": {"output": {"voice": "marin"}}})
    s.client({"type": "session.update", "session": good}, dt=0.2, event_id=False)
    s.server(
        {"type": "session.updated", "session": {**copy.deepcopy(after), "tracing": "auto"}}, dt=0.08
    )
    s.close(Side.CLIENT, 1000, "")
    return s


def server_close_1011() -> Session:
    s = Session("server_close_1011", 6)
    _with_ids(s)
    instructions = "You are a friendly voice assistant."
    start(
        s,
        update={"type": "realtime", "instructions": instructions},
        session_after=session_object(
            s, modalities=["audio"], instructions=instructions, turn_detection=SERVER_VAD
        ),
    )
    user_text(s, "Read me today's headlines.")
    s.client({"type": "response.create"}, dt=0.003)
    resp_id, item_id = s.id("resp"), s.id("item")
    s.server(
        {
            "type": "response.created",
            "response": response_obj(s, resp_id, status="in_progress", modalities=["audio"]),
        },
        dt=0.08,
    )
    in_progress = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    s.server(
        {
            "type": "response.output_item.added",
            "response_id": resp_id,
            "output_index": 0,
            "item": in_progress,
        },
        dt=0.2,
    )
    s.server(
        {
            "type": "response.content_part.added",
            "response_id": resp_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    where = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    for i, piece in enumerate(["Here are ", "today's "]):
        s.server(
            {"type": "response.output_audio_transcript.delta", **where, "delta": piece}, dt=0.01
        )
        s.server(
            {
                "type": "response.output_audio.delta",
                **where,
                "delta": b64(pcm16(0.05, 262.0, phase=1200 * i)),
            },
            dt=0.04,
        )
    # The API fails mid-response and closes the socket with 1011 (internal error).
    s.close(Side.SERVER, 1011, "Internal server error", dt=0.3)
    return s


def main() -> None:
    for build in (
        text_turn,
        audio_turn,
        function_call,
        interruption,
        server_error,
        server_close_1011,
    ):
        path = build().write()
        print(path.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
