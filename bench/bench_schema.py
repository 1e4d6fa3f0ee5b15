"""The server-event schema check: our zod-like combinators against msgspec (issue 12 item 2).

Run:  .venv/bin/python bench/bench_schema.py      (needs ``pip install msgspec``; skipped,
with the reason, where it is absent: it is not a dependency)

The reference validates each server event with zod and hands the typed listeners the
parsed value: unknown keys stripped, except in the objects it declares ``.passthrough()``
(items, MCP tools), absent optional keys absent, ``null`` kept where a field is nullable.
This script ports two event types to msgspec ``Struct`` s — the hot one,
``response.output_audio.delta``, and ``response.done`` (the response object: optional,
nullable, literal, union and record fields) — and measures, side by side in one run:

1. **the same verdicts**: every server event of those types in the conformance scenarios,
   plus mutations of each (every key dropped, set to ``null``, to a value of each other
   JSON type, an unknown key added), through both: accepted or rejected alike, and the
   same parsed value when accepted;
2. **the cost per event**: ``orjson.loads`` + our check against ``msgspec.json.decode``
   into the struct + ``msgspec.to_builtins`` (listeners get dicts, as the reference's do).

``conversation.item.*`` are not ported: their item is a passthrough object, which a msgspec
``Struct`` cannot express (it keeps declared fields only), so msgspec would need our merge
pass on top of its own.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path
from typing import Any, Literal

import orjson

from harness.transport.schema import audio_delta, parse_server_event

try:
    import msgspec
except ImportError:
    print("skipped: msgspec is not installed (pip install msgspec to measure it)")
    raise SystemExit(0) from None

ROOT = Path(__file__).resolve().parent.parent
UNSET = msgspec.UNSET
Num = int | float

# --------------------------------------------------------------------------- the port


class AudioDelta(msgspec.Struct):
    type: Literal["response.output_audio.delta"]
    event_id: str
    item_id: str
    content_index: Num
    output_index: Num
    response_id: str
    delta: str


class Usage(msgspec.Struct, omit_defaults=True):
    input_tokens: Num | msgspec.UnsetType = UNSET
    input_token_details: dict[str, Any] | msgspec.UnsetType | None = UNSET
    output_tokens: Num | msgspec.UnsetType = UNSET
    output_token_details: dict[str, Any] | msgspec.UnsetType | None = UNSET


class AudioOut(msgspec.Struct, omit_defaults=True):
    format: Any = UNSET
    voice: str | msgspec.UnsetType | None = UNSET


class Audio(msgspec.Struct, omit_defaults=True):
    output: AudioOut | msgspec.UnsetType | None = UNSET


class Response(msgspec.Struct, omit_defaults=True):
    id: str | msgspec.UnsetType | None = UNSET
    conversation_id: str | msgspec.UnsetType | None = UNSET
    max_output_tokens: Num | Literal["inf"] | msgspec.UnsetType | None = UNSET
    metadata: dict[str, Any] | msgspec.UnsetType | None = UNSET
    output_modalities: list[str] | msgspec.UnsetType | None = UNSET
    object: Literal["realtime.response"] | msgspec.UnsetType | None = UNSET
    output: list[Any] | msgspec.UnsetType | None = UNSET
    audio: Audio | msgspec.UnsetType | None = UNSET
    status: (
        Literal["completed", "incomplete", "failed", "cancelled", "in_progress"]
        | msgspec.UnsetType
        | None
    ) = UNSET
    status_details: dict[str, Any] | msgspec.UnsetType | None = UNSET
    usage: Usage | msgspec.UnsetType | None = UNSET


class ResponseDone(msgspec.Struct):
    type: Literal["response.done"]
    event_id: str
    response: Response


PORTED: dict[str, type[msgspec.Struct]] = {
    "response.output_audio.delta": AudioDelta,
    "response.done": ResponseDone,
}


def ours(raw: Any) -> Any:
    parsed, generic = parse_server_event(raw)
    return None if generic else parsed


def theirs(raw: Any) -> Any:
    try:
        struct = msgspec.convert(raw, PORTED[raw["type"]], strict=True)
    except msgspec.ValidationError:
        return None
    return msgspec.to_builtins(struct)


# --------------------------------------------------------------------------- verdicts


def scenario_events() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") in PORTED:
                found.append(value)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for path in sorted((ROOT / "tests" / "conformance" / "scenarios").glob("*.json")):
        walk(json.loads(path.read_text()))
    return found


OTHER_VALUES: list[Any] = [None, True, 0, 1.5, "x", [], {}]


def mutations(event: dict[str, Any]) -> list[dict[str, Any]]:
    out = [event, {**event, "unknown_key": 1}]
    for key in event:
        if key == "type":
            continue
        out.append({k: v for k, v in event.items() if k != key})
        out += [{**event, key: value} for value in OTHER_VALUES]
    response = event.get("response")
    if isinstance(response, dict):
        for key in [*response, "usage", "status", "max_output_tokens"]:
            out += [{**event, "response": {**response, key: v}} for v in OTHER_VALUES]
            out.append({**event, "response": {k: v for k, v in response.items() if k != key}})
    return out


def compare() -> tuple[int, list[str]]:
    cases = [m for e in scenario_events() for m in mutations(e)]
    cases += mutations(SAMPLE_DELTA) + mutations(SAMPLE_DONE)
    differ = []
    for case in cases:
        a, b = ours(case), theirs(case)
        if a != b or [type(v) for v in _leaves(a)] != [type(v) for v in _leaves(b)]:
            differ.append(f"{orjson.dumps(case)[:160]!r}: ours {a!r:.80} msgspec {b!r:.80}")
    return len(cases), differ


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k])]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


# --------------------------------------------------------------------------- cost

SAMPLE_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "evt_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "A" * 5460,
}
SAMPLE_DONE = {
    "type": "response.done",
    "event_id": "evt_2",
    "response": {
        "id": "resp_1",
        "object": "realtime.response",
        "status": "completed",
        "status_details": None,
        "output": [{"id": "item_1", "type": "message", "role": "assistant", "content": []}],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
        "usage": {"input_tokens": 10, "output_tokens": 20, "input_token_details": {}},
        "metadata": None,
    },
}


def cost() -> None:
    n = 20_000
    delta_frame = orjson.dumps(SAMPLE_DELTA)
    done_frame = orjson.dumps(SAMPLE_DONE)
    decode_delta = msgspec.json.Decoder(AudioDelta)
    decode_done = msgspec.json.Decoder(ResponseDone)

    def per(fn: Any) -> float:
        return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6

    rows = [
        ("audio delta: orjson + our fast check", lambda: audio_delta(orjson.loads(delta_frame))),
        (
            "audio delta: msgspec decode + to_builtins",
            lambda: msgspec.to_builtins(decode_delta.decode(delta_frame)),
        ),
        (
            "audio delta: orjson + msgspec convert (`*` needs the dict)",
            lambda: theirs(orjson.loads(delta_frame)),
        ),
        ("response.done: orjson + our combinators", lambda: ours(orjson.loads(done_frame))),
        (
            "response.done: msgspec decode + to_builtins",
            lambda: msgspec.to_builtins(decode_done.decode(done_frame)),
        ),
        (
            "response.done: orjson + msgspec convert",
            lambda: theirs(orjson.loads(done_frame)),
        ),
    ]
    print("cost per event, best of 5 (µs); our side also builds the raw dict `*` needs")
    for label, fn in rows:
        print(f"  {label:<58} {per(fn):6.2f}")


def main() -> int:
    count, differ = compare()
    print(f"verdicts: {count} events (conformance scenarios and mutations), {len(differ)} differ")
    for line in differ[:10]:
        print("  " + line)
    cost()
    return 0


if __name__ == "__main__":
    sys.exit(main())
