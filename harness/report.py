"""The HTML report of a cassette, and of a replay run that left it.

:func:`write_html` reads a cassette in one streaming pass (one line in memory at a time) and
writes **one self-contained HTML file**: no network, no CDN, every byte of CSS and JavaScript
inline (``harness/_report_template.html``). The page shows

- the header (made, created, client, the redactions that ran, the endpoint, the note);
- a timeline per connection: a client and a server lane, each frame a mark at its recorded
  time; turns (``response.created`` -> ``response.done``) as spans; speech started/stopped,
  truncations, errors, closes and refusals marked; zoom, and a click on a mark shows that
  frame's JSON (audio elided to its size, redacted values flagged);
- every audio stream (a run of the user's ``input_audio_buffer.append`` up to its commit,
  and each response's ``response.output_audio.delta``): a waveform, a player (the page
  decodes the bytes to WAV, honouring the session's format: PCM16 24 kHz, G.711 mu-law or
  A-law 8 kHz) and the transcript beside it;
- the conversation as chat bubbles, tool calls with name, arguments and output.

Given a run (``mismatches=``, ``unplayed=`` from a :class:`~harness.server.FakeRealtimeServer`),
the same page shows what the run did: the mismatch highlighted at its frame with the field
diff and what the client sent instead, the frames never played greyed.

Size stays bounded whatever the cassette (see :class:`ReportLimits`): waveforms are
downsampled to a fixed number of points while streaming; each stream embeds at most its
first ``audio_seconds_per_stream`` seconds and the whole report at most
``audio_bytes_total`` bytes of audio (later streams keep their waveform and say so);
frame JSON shown on click is kept up to ``detail_bytes_total`` (later frames show their
type, time and cassette line). Timeline rows and details are spooled to a temporary file,
so memory does not grow with the cassette either.

Example::

    from harness.report import write_html
    write_html("cassettes/audio_turn.jsonl", "audio_turn.html")
"""

from __future__ import annotations

import base64
import binascii
import html
import os
import sys
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal

from harness import _json
from harness.cassette import Frame, FrameKind, Header, Side, StrPath, open_cassette
from harness.errors import UsageError
from harness.replay import Mismatch, Unplayed

__all__ = [
    "AudioFormat",
    "ReportLimits",
    "audio_format",
    "g711_to_pcm16",
    "write_html",
]

Codec = Literal["pcm16", "g711_ulaw", "g711_alaw"]


# -- audio formats -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """How a stream's bytes are samples: ``codec`` and ``rate`` (samples per second)."""

    codec: Codec = "pcm16"
    rate: int = 24000

    @property
    def bytes_per_sample(self) -> int:
        """2 for PCM16, 1 for G.711."""
        return 2 if self.codec == "pcm16" else 1

    def duration(self, nbytes: int) -> float:
        """Seconds of audio in ``nbytes`` bytes of this format."""
        return nbytes / self.bytes_per_sample / self.rate


PCM16_24K = AudioFormat()


def audio_format(value: Any) -> AudioFormat | None:
    """The format a session's ``audio.*.format`` (GA) or ``*_audio_format`` (beta) names.

    ``{"type": "audio/pcm", "rate": 24000}``, ``{"type": "audio/pcmu"}``,
    ``{"type": "audio/pcma"}``, ``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``; ``None`` for
    anything else.
    """
    if isinstance(value, dict):
        kind = value.get("type")
        rate = value.get("rate")
        if kind == "audio/pcm":
            return AudioFormat("pcm16", rate if isinstance(rate, int) and rate > 0 else 24000)
        if kind == "audio/pcmu":
            return AudioFormat("g711_ulaw", 8000)
        if kind == "audio/pcma":
            return AudioFormat("g711_alaw", 8000)
        return None
    if value == "pcm16":
        return PCM16_24K
    if value == "g711_ulaw":
        return AudioFormat("g711_ulaw", 8000)
    if value == "g711_alaw":
        return AudioFormat("g711_alaw", 8000)
    return None


def _ulaw(code: int) -> int:
    # ITU-T G.711 mu-law expansion (the inverse of the segment encoding, bias 0x84).
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def _alaw(code: int) -> int:
    # ITU-T G.711 A-law expansion (even bits inverted, 13-bit segments).
    code ^= 0x55
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    if exponent == 0:
        sample = (mantissa << 4) + 8
    else:
        sample = ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if sign else -sample


_G711 = {
    "g711_ulaw": tuple(_ulaw(c) for c in range(256)),
    "g711_alaw": tuple(_alaw(c) for c in range(256)),
}
# Order-preserving ranks: bytes.translate maps codes to ranks, so min()/max() over the
# translated bytes run in C and give the loudest samples without decoding each one.
_RANKS: dict[str, tuple[bytes, tuple[int, ...]]] = {}
for _codec, _values in _G711.items():
    _sorted = sorted(set(_values))
    _RANKS[_codec] = (bytes(_sorted.index(v) for v in _values), tuple(_sorted))


def g711_to_pcm16(data: bytes, codec: Codec) -> list[int]:
    """Decode G.711 bytes (``"g711_ulaw"`` or ``"g711_alaw"``) to 16-bit sample values."""
    table = _G711[codec]
    return [table[b] for b in data]


# -- limits --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportLimits:
    """What a report keeps, so a 500 MB cassette still gives a small page.

    Attributes:
        wave_points: min/max pairs per stream waveform.
        audio_seconds_per_stream: seconds of audio embedded for each stream's player (the
            first ones; the waveform covers the whole stream).
        audio_bytes_total: decoded audio bytes embedded in the whole report; streams past
            it keep their waveform and transcript, without a player.
        detail_bytes_total: JSON bytes of frame details (shown on click); frames past it
            show type, time and cassette line only.
        string_chars: strings longer than this in a frame's detail are elided to their size.
    """

    wave_points: int = 480
    audio_seconds_per_stream: float = 30.0
    audio_bytes_total: int = 16 << 20
    detail_bytes_total: int = 8 << 20
    string_chars: int = 2000

    def __post_init__(self) -> None:
        if self.wave_points < 8:
            raise UsageError(f"wave_points must be at least 8, got {self.wave_points}")
        if self.audio_seconds_per_stream < 0 or self.audio_bytes_total < 0:
            raise UsageError("audio limits must not be negative")
        if self.detail_bytes_total < 0 or self.string_chars < 16:
            raise UsageError("detail_bytes_total must be >= 0 and string_chars >= 16")


# -- the streaming model -------------------------------------------------------------------


class _Wave:
    """Min/max envelope of a stream, downsampled while it streams (bounded size)."""

    def __init__(self, codec: Codec, points: int) -> None:
        self.codec = codec
        self.points = points
        self.bucket = 240  # samples per (min, max) pair; doubles whenever the pairs overflow
        self.pairs: list[tuple[int, int]] = []
        self.fill = 0  # samples in the open (last) pair
        self.samples = 0

    def feed(self, data: bytes) -> None:
        if self.codec == "pcm16":
            usable = len(data) - (len(data) & 1)
            values: array[int] | bytes = array("h", data[:usable])
            if sys.byteorder == "big":
                values.byteswap()  # type: ignore[union-attr]
            lookup: tuple[int, ...] | None = None
        else:
            ranks, lookup = _RANKS[self.codec]
            values = data.translate(ranks)
        n = len(values)
        i = 0
        while i < n:
            take = min(self.bucket - self.fill, n - i)
            chunk = values[i : i + take]
            lo, hi = min(chunk), max(chunk)
            if lookup is not None:
                lo, hi = lookup[lo], lookup[hi]
            if self.fill == 0:
                self.pairs.append((lo, hi))
            else:
                plo, phi = self.pairs[-1]
                self.pairs[-1] = (min(lo, plo), max(hi, phi))
            self.fill = (self.fill + take) % self.bucket
            i += take
            if len(self.pairs) > 2 * self.points and self.fill == 0:
                self._halve()
        self.samples += n

    def _halve(self) -> None:
        p = self.pairs
        merged = [
            (min(p[k][0], p[k + 1][0]), max(p[k][1], p[k + 1][1])) for k in range(0, len(p) - 1, 2)
        ]
        if len(p) % 2:
            merged.append(p[-1])
        self.pairs = merged
        self.bucket *= 2

    def finish(self) -> list[float]:
        pairs = self.pairs
        while len(pairs) > self.points:
            self._halve()
            pairs = self.pairs
        out: list[float] = []
        for lo, hi in pairs:
            out += [round(lo / 32768, 4), round(hi / 32768, 4)]
        return out


class _Stream:
    """One audio stream: a user append run, or one response item's audio."""

    def __init__(
        self, index: int, conn: int, who: str, fmt: AudioFormat, t: float, limits: ReportLimits
    ) -> None:
        self.index = index
        self.conn = conn
        self.who = who  # "user" or "assistant"
        self.fmt = fmt
        self.t0 = t
        self.t1 = t
        self.nbytes = 0
        self.frames = 0
        self.lines: tuple[int, int] = (0, 0)
        self.wave = _Wave(fmt.codec, limits.wave_points)
        self.kept = bytearray()
        self.keep_limit = int(limits.audio_seconds_per_stream * fmt.rate) * fmt.bytes_per_sample
        self.refused_total = False
        self.item_id: str | None = None
        self.response_id: str | None = None
        self.transcript: list[str] = []
        self.final_transcript: str | None = None
        self.open = True

    def feed(self, data: bytes, t: float, lineno: int, budget: list[int]) -> None:
        self.t1 = t
        self.frames += 1
        self.lines = (self.lines[0] or lineno, lineno)
        self.nbytes += len(data)
        self.wave.feed(data)
        room = min(self.keep_limit - len(self.kept), budget[0])
        if room <= 0:
            if len(self.kept) < self.keep_limit:
                self.refused_total = True
            return
        piece = data[:room]
        if self.fmt.codec == "pcm16" and len(piece) & 1:
            piece = piece[:-1]
        self.kept += piece
        budget[0] -= len(piece)
        if len(piece) < len(data) and len(self.kept) < self.keep_limit:
            self.refused_total = True

    def transcript_text(self) -> str:
        if self.final_transcript is not None:
            return self.final_transcript
        return "".join(self.transcript)

    def to_json(self) -> dict[str, Any]:
        kept = len(self.kept)
        if kept == self.nbytes:
            keeps = "all of it"
        elif kept == 0:
            keeps = (
                "no player: the report's audio budget was spent on earlier streams"
                if self.refused_total
                else "no player"
            )
        else:
            keeps = f"the first {self.fmt.duration(kept):.1f} s"
            if self.refused_total:
                keeps += " (the report's audio budget ran out)"
        return {
            "i": self.index,
            "conn": self.conn,
            "who": self.who,
            "codec": self.fmt.codec,
            "rate": self.fmt.rate,
            "t0": self.t0,
            "t1": self.t1,
            "bytes": self.nbytes,
            "frames": self.frames,
            "lines": list(self.lines),
            "duration": self.fmt.duration(self.nbytes),
            "kept_bytes": kept,
            "kept_duration": self.fmt.duration(kept),
            "keeps": keeps,
            "wave": self.wave.finish(),
            "item_id": self.item_id,
            "response_id": self.response_id,
            "transcript": self.transcript_text(),
        }


@dataclass(slots=True)
class _Conn:
    conn: int
    frames: int = 0
    t_end: float = 0.0
    in_fmt: AudioFormat = PCM16_24K
    out_fmt: AudioFormat = PCM16_24K
    user: _Stream | None = None
    turns: dict[str, dict[str, Any]] = field(default_factory=dict)
    turn_list: list[dict[str, Any]] = field(default_factory=list)


# Which marks a frame gets (CSS classes k-<name>), by event type.
_MARKS = {
    "response.created": "turn",
    "response.done": "turn",
    "input_audio_buffer.speech_started": "speech",
    "input_audio_buffer.speech_stopped": "speech",
    "conversation.item.truncate": "truncate",
    "conversation.item.truncated": "truncate",
    "error": "error",
    "input_audio_buffer.append": "audio",
    "response.output_audio.delta": "audio",
    "response.audio.delta": "audio",
}
_AUDIO_OUT = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TRANSCRIPT_DELTA = frozenset(
    {"response.output_audio_transcript.delta", "response.audio_transcript.delta"}
)
_TRANSCRIPT_DONE = frozenset(
    {"response.output_audio_transcript.done", "response.audio_transcript.done"}
)
_USER_END = frozenset(
    {
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
    }
)
_ITEM_EVENTS = frozenset(
    {
        "conversation.item.create",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.created",
        "conversation.item.retrieved",
        "response.output_item.added",
        "response.output_item.done",
    }
)
_REFUSAL = "handshake refused: HTTP "


class _Builder:
    """One streaming pass over a cassette's frames into the page's data."""

    def __init__(self, header: Header, limits: ReportLimits, rows: IO[bytes]) -> None:
        self.header = header
        self.limits = limits
        self.rows = rows
        self.first_row = True
        self.types: dict[str, int] = {}
        self.conns: dict[int, _Conn] = {}
        self.streams: list[_Stream] = []
        self.out_streams: dict[tuple[int, str, str], _Stream] = {}
        self.audio_budget = [limits.audio_bytes_total]
        self.detail_left = limits.detail_bytes_total
        self.details_dropped = 0
        self.items: dict[tuple[int, str], dict[str, Any]] = {}
        self.frames = 0
        self.flags: dict[int, str] = {}  # lineno -> extra mark class (run reports)
        self.notes: dict[int, int] = {}  # lineno -> mismatch index

    # -- per frame ---------------------------------------------------------------------------

    def add(self, frame: Frame) -> None:
        self.frames += 1
        state = self.conns.get(frame.conn)
        if state is None:
            state = self.conns[frame.conn] = _Conn(frame.conn)
        state.frames += 1
        state.t_end = max(state.t_end, frame.t)
        label = frame.describe()
        marks = ""
        event = frame.event
        if event is not None:
            kind = event.get("type")
            if isinstance(kind, str):
                marks = _MARKS.get(kind, "")
                self._event(state, frame, kind, event)
                if kind == "response.done":
                    status = _dig(event, "response", "status")
                    if isinstance(status, str) and status != "completed":
                        label = f"response.done ({status})"
        elif frame.kind is FrameKind.CLOSE:
            marks = "close"
            reason = frame.close_reason or ""
            if reason.startswith(_REFUSAL):
                marks = "refusal"
                label = f"refused: {reason.splitlines()[0][len('handshake refused: ') :]}"
            elif frame.close_reason:
                label = f"{label} {frame.close_reason.splitlines()[0][:60]}"
            for turn in state.turns.values():
                turn["t1"] = frame.t
                turn["status"] = "cut by close"
            state.turns.clear()
        extra = self.flags.get(frame.lineno)
        if extra:
            marks = f"{marks} {extra}".strip()
        type_index = self.types.setdefault(label, len(self.types))
        detail = self._detail(frame)
        row = [
            frame.conn,
            0 if frame.side is Side.CLIENT else 1,
            frame.t,
            type_index,
            marks,
            frame.lineno,
            detail,
            self.notes.get(frame.lineno, -1),
        ]
        self.rows.write(b"\n" if self.first_row else b",\n")
        self.rows.write(_script_json(row))
        self.first_row = False

    def _detail(self, frame: Frame) -> Any:
        if frame.event is not None:
            value: Any = _elide(frame.event, self.limits.string_chars)
        elif frame.binary is not None:
            value = {"binary": f"<{len(frame.binary)} bytes (binary frame, elided)>"}
        else:
            value = {"close": {"code": frame.close_code, "reason": frame.close_reason}}
        encoded = _json.dumps(value)
        if len(encoded) > self.detail_left:
            self.details_dropped += 1
            return None
        self.detail_left -= len(encoded)
        return value

    def _event(self, state: _Conn, frame: Frame, kind: str, event: dict[str, Any]) -> None:
        t = frame.t
        if kind in ("session.created", "session.updated", "session.update"):
            session = event.get("session")
            if isinstance(session, dict):
                fin = audio_format(_dig(session, "audio", "input", "format")) or audio_format(
                    session.get("input_audio_format")
                )
                fout = audio_format(_dig(session, "audio", "output", "format")) or audio_format(
                    session.get("output_audio_format")
                )
                state.in_fmt = fin or state.in_fmt
                state.out_fmt = fout or state.out_fmt
        elif kind == "input_audio_buffer.append" and frame.side is Side.CLIENT:
            data = _b64(event.get("audio"))
            if data is not None:
                if state.user is None:
                    state.user = self._stream(state.conn, "user", state.in_fmt, t)
                state.user.feed(data, t, frame.lineno, self.audio_budget)
        elif kind in _USER_END:
            stream = state.user
            if stream is not None:
                item_id = event.get("item_id")
                if isinstance(item_id, str):
                    stream.item_id = item_id
                if kind in ("input_audio_buffer.committed", "input_audio_buffer.cleared"):
                    state.user = None
                    stream.open = False
        elif kind in _AUDIO_OUT:
            data = _b64(event.get("delta"))
            if data is not None:
                stream = self._out_stream(state, event, t)
                stream.feed(data, t, frame.lineno, self.audio_budget)
        elif kind in _TRANSCRIPT_DELTA:
            delta = event.get("delta")
            if isinstance(delta, str):
                self._out_stream(state, event, t).transcript.append(delta)
        elif kind in _TRANSCRIPT_DONE:
            text = event.get("transcript")
            if isinstance(text, str):
                self._out_stream(state, event, t).final_transcript = text
        elif kind == "conversation.item.input_audio_transcription.completed":
            item_id, text = event.get("item_id"), event.get("transcript")
            if isinstance(text, str):
                for stream in reversed(self.streams):
                    if stream.conn == state.conn and stream.who == "user":
                        if stream.item_id == item_id or stream.item_id is None:
                            stream.final_transcript = text
                            break
                self._item(state.conn, {"id": item_id, "transcript": text}, t, False)
        elif kind == "response.created":
            rid = _dig(event, "response", "id")
            opened: dict[str, Any] = {"id": rid, "t0": t, "t1": None, "status": "open"}
            state.turns[rid if isinstance(rid, str) else ""] = opened
            state.turn_list.append(opened)
        elif kind == "response.done":
            rid = _dig(event, "response", "id")
            key = rid if isinstance(rid, str) else ""
            turn = state.turns.pop(key, None)
            if turn is None:
                turn = {"id": rid, "t0": t, "t1": t, "status": "done without created"}
                state.turn_list.append(turn)
            turn["t1"] = t
            status = _dig(event, "response", "status")
            turn["status"] = status if isinstance(status, str) else "done"
            reason = _dig(event, "response", "status_details", "reason")
            if isinstance(reason, str):
                turn["status"] += f" ({reason})"
            output = _dig(event, "response", "output")
            if isinstance(output, list):
                for item in output:
                    if isinstance(item, dict):
                        self._item(state.conn, item, t, False)
        elif kind == "response.function_call_arguments.done":
            item_id = event.get("item_id")
            self._item(
                state.conn,
                {
                    "id": item_id,
                    "type": "function_call",
                    "name": event.get("name"),
                    "call_id": event.get("call_id"),
                    "arguments": event.get("arguments"),
                },
                t,
                False,
            )
        elif kind == "conversation.item.truncated":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                bubble = self.items.get((state.conn, item_id))
                if bubble is not None:
                    bubble["truncated_ms"] = event.get("audio_end_ms")
        elif kind == "conversation.item.deleted":
            item_id = event.get("item_id")
            if isinstance(item_id, str):
                bubble = self.items.get((state.conn, item_id))
                if bubble is not None:
                    bubble["deleted"] = True
        if kind == "error":
            message = _dig(event, "error", "message")
            self._bubble_note(state.conn, t, "error", str(message or "error"))
        if kind in _ITEM_EVENTS:
            item = event.get("item")
            if isinstance(item, dict):
                self._item(state.conn, item, t, frame.side is Side.CLIENT)

    def _bubble_note(self, conn: int, t: float, kind: str, text: str) -> None:
        key = (conn, f"\0{kind}{len(self.items)}")
        self.items[key] = {"conn": conn, "t": t, "type": kind, "text": text}

    def _stream(self, conn: int, who: str, fmt: AudioFormat, t: float) -> _Stream:
        stream = _Stream(len(self.streams), conn, who, fmt, t, self.limits)
        self.streams.append(stream)
        return stream

    def _out_stream(self, state: _Conn, event: dict[str, Any], t: float) -> _Stream:
        rid = event.get("response_id")
        item_id = event.get("item_id")
        key = (
            state.conn,
            rid if isinstance(rid, str) else "",
            item_id if isinstance(item_id, str) else "",
        )
        stream = self.out_streams.get(key)
        if stream is None:
            stream = self._stream(state.conn, "assistant", state.out_fmt, t)
            stream.response_id = key[1] or None
            stream.item_id = key[2] or None
            self.out_streams[key] = stream
        return stream

    def _item(self, conn: int, item: dict[str, Any], t: float, from_client: bool) -> None:
        item_id = item.get("id")
        if not isinstance(item_id, str):
            if not from_client:
                return
            item_id = f"\0client{len(self.items)}"
        bubble = self.items.get((conn, item_id))
        if bubble is None:
            bubble = self.items[(conn, item_id)] = {"conn": conn, "t": t, "id": item_id}
        for key in ("type", "role", "name", "call_id", "arguments", "output", "status"):
            value = item.get(key)
            if isinstance(value, str):
                bubble[key] = value
        transcript = item.get("transcript")
        if isinstance(transcript, str):
            bubble["transcript"] = transcript
        content = item.get("content")
        if isinstance(content, list):
            texts: list[str] = []
            audio = False
            for part in content:
                if not isinstance(part, dict):
                    continue
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
                if str(part.get("type", "")).endswith("audio"):
                    audio = True
                    spoken = part.get("transcript")
                    if isinstance(spoken, str):
                        bubble["transcript"] = spoken
            if texts:
                bubble["text"] = "\n".join(texts)
            if audio:
                bubble["audio"] = True

    # -- the end -------------------------------------------------------------------------

    def data(self, run: dict[str, Any] | None) -> dict[str, Any]:
        conns = []
        for conn in sorted(self.conns):
            state = self.conns[conn]
            for turn in state.turns.values():
                turn["t1"] = state.t_end
                turn["status"] = "never done"
            conns.append(
                {
                    "conn": conn,
                    "frames": state.frames,
                    "t_end": state.t_end,
                    "turns": state.turn_list,
                }
            )
        streams = [s.to_json() for s in self.streams]
        chat = sorted(
            (b for b in self.items.values() if "type" in b or "text" in b or "transcript" in b),
            key=lambda b: (b["conn"], b["t"]),
        )
        header = self.header
        return {
            "header": {
                "made": str(header.made),
                "created": header.created,
                "client": header.client,
                "redactions": list(header.redactions),
                "endpoint": header.path
                + (
                    "?" + "&".join(f"{k}={v}" for k, v in header.query.items())
                    if header.query
                    else ""
                ),
                "note": header.note,
            },
            "types": list(self.types),
            "conns": conns,
            "streams": streams,
            "chat": chat,
            "frames": self.frames,
            "details_dropped": self.details_dropped,
            "limits": {
                "audio_seconds_per_stream": self.limits.audio_seconds_per_stream,
                "audio_bytes_total": self.limits.audio_bytes_total,
                "detail_bytes_total": self.limits.detail_bytes_total,
                "wave_points": self.limits.wave_points,
            },
            "run": run,
        }


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return binascii.a2b_base64(value)
    except (binascii.Error, ValueError):
        return None


def _elide(value: Any, limit: int) -> Any:
    """The value with long strings (audio, images) replaced by a note of their size."""
    if isinstance(value, str):
        if len(value) > limit:
            return f"<{len(value)} chars elided>"
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("audio", "delta") and isinstance(item, str) and len(item) > 64:
                out[key] = f"<audio: {len(item)} base64 chars elided>"
            else:
                out[key] = _elide(item, limit)
        return out
    if isinstance(value, list):
        return [_elide(item, limit) for item in value]
    return value


# -- the run ---------------------------------------------------------------------------------


def _run_data(
    mismatches: Iterable[Mismatch], unplayed: Iterable[Unplayed], title: str | None
) -> tuple[dict[str, Any], dict[int, str], dict[int, int], list[dict[str, Any]]]:
    """The run's part of the page: mismatches (with their diff), unplayed line marks."""
    flags: dict[int, str] = {}
    notes: dict[int, int] = {}
    found: list[dict[str, Any]] = []
    extra_rows: list[dict[str, Any]] = []
    for index, m in enumerate(mismatches):
        received = m.received
        if isinstance(received, bytes):
            shown: Any = f"<{len(received)} bytes (binary frame)>"
        elif isinstance(received, dict):
            shown = _elide(received, 2000)
        else:
            shown = received if isinstance(received, str | int | type(None)) else repr(received)
        found.append(
            {
                "report": m.report,
                "lineno": m.lineno,
                "conn": m.conn,
                "connection": m.connection,
                "client_frame": m.client_frame,
                "expected": m.expected.describe() if m.expected is not None else None,
                "received": shown,
                "diff": [
                    {"path": d.path, "expected": d.expected, "received": d.received}
                    for d in m.differences
                ],
                "ignored": list(m.ignored),
            }
        )
        if m.lineno:
            flags[m.lineno] = "mismatch"
            notes.setdefault(m.lineno, index)
        else:
            extra_rows.append({"conn": m.conn, "mismatch": index})
    unplayed_list = []
    for u in unplayed:
        lines = sorted(set(u.read_lines) | {f.lineno for f in u.frames})
        for lineno in lines:
            flags[lineno] = (flags.get(lineno, "") + " unplayed").strip()
        unplayed_list.append(
            {
                "conn": u.conn,
                "connection": u.connection,
                "count": u.count,
                "rest_from": u.rest_from,
                "report": u.report,
            }
        )
    run = {
        "title": title,
        "mismatches": found,
        "unplayed": unplayed_list,
        "extra": extra_rows,
        "ok": not found and not unplayed_list,
    }
    return run, flags, notes, extra_rows


# -- writing ---------------------------------------------------------------------------------


def _template() -> tuple[str, str]:
    text = resources.files("harness").joinpath("_report_template.html").read_text("utf-8")
    head, sep, tail = text.partition("<!--DATA-->")
    if not sep:  # pragma: no cover - the packaged template always has the marker
        raise RuntimeError("harness/_report_template.html lost its <!--DATA--> marker")
    return head, tail


def _script_json(value: Any) -> bytes:
    # Inside <script>, "</" would end the element: JSON allows "<\/" for it.
    return _json.dumps(value).replace(b"</", b"<\\/")


def _audio_tags(streams: list[_Stream]) -> Iterator[bytes]:
    for stream in streams:
        if stream.kept:
            yield (
                f'<script type="application/octet-stream" id="audio-{stream.index}">'.encode()
                + base64.b64encode(bytes(stream.kept))
                + b"</script>\n"
            )


def write_html(
    cassette: StrPath,
    out: StrPath,
    *,
    mismatches: Iterable[Mismatch] = (),
    unplayed: Iterable[Unplayed] = (),
    title: str | None = None,
    limits: ReportLimits | None = None,
) -> Path:
    """Write the HTML report of ``cassette`` to ``out`` (atomically) and return its path.

    Args:
        cassette: the cassette file (read in one streaming pass).
        out: the HTML file to write; its folder is created if missing.
        mismatches: a run's mismatches (``server.mismatches``): highlighted at their frame.
        unplayed: a run's unplayed frames (``server.unplayed``): greyed.
        title: the page title (default: the cassette's file name).
        limits: what the report keeps (:class:`ReportLimits`).

    Raises:
        CassetteError: the cassette is bad (file, line and fault named); nothing is written.
    """
    limits = limits or ReportLimits()
    source = Path(cassette)
    target = Path(out)
    is_run = bool(title) or mismatches != () or unplayed != ()
    mismatch_list = list(mismatches)
    unplayed_list = list(unplayed)
    run: dict[str, Any] | None = None
    flags: dict[int, str] = {}
    notes: dict[int, int] = {}
    if is_run and (mismatch_list or unplayed_list or title):
        run, flags, notes, _ = _run_data(mismatch_list, unplayed_list, title)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        open_cassette(source) as reader,
        tempfile.SpooledTemporaryFile(max_size=8 << 20) as rows,
    ):
        header = reader.header
        builder = _Builder(header, limits, rows)
        builder.flags = flags
        builder.notes = notes
        for frame in reader:
            builder.add(frame)
        data = builder.data(run)
        data["source"] = str(source)
        data["title"] = title or source.name
        head, tail = _template()
        page_title = html.escape(f"{data['title']} - realtime-harness report")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head.replace("{{TITLE}}", page_title).encode("utf-8"))
                fh.write(b'<script type="application/json" id="report-data">')
                fh.write(_script_json(data))
                fh.write(b'</script>\n<script type="application/json" id="report-frames">[')
                rows.seek(0)
                while chunk := rows.read(1 << 20):
                    fh.write(chunk)
                fh.write(b"\n]</script>\n")
                for tag in _audio_tags(builder.streams):
                    fh.write(tag)
                fh.write(tail.encode("utf-8"))
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is for reading
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target
