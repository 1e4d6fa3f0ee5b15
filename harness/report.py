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
diff and what the client sent instead (redacted, as :class:`~harness.replay.Mismatch` keeps
it), the frames never played greyed. Every value the page holds is redacted with
``redaction=`` (the rules the cassette was recorded with; the default rules unless given).

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
from harness._files import fsync_directory
from harness._json import dig
from harness.cassette import Frame, FrameKind, Header, Side, StrPath, open_cassette
from harness.errors import UsageError
from harness.inspect import (
    AudioFormat,
    AudioStream,
    Connection,
    EntryKind,
    Inspector,
    MarkKind,
    Turn,
    audio_format,
)
from harness.redaction import RedactionRules
from harness.replay import Mismatch, Unplayed

__all__ = [
    "ReportLimits",
    "g711_to_pcm16",
    "write_html",
]

Codec = Literal["pcm16", "g711_ulaw", "g711_alaw"]
_PCM16_24K = AudioFormat()


# -- G.711 ----------------------------------------------------------------------------------


def _ulaw(code: int) -> int:
    # ITU-T G.711 mu-law expansion (the inverse of the segment encoding, bias 0x84).
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
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


def _sample_width(fmt: AudioFormat) -> int:
    return 2 if fmt.codec == "pcm16" else 1


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
    audio_seconds_per_stream: float = 10.0
    audio_bytes_total: int = 6 << 20
    detail_bytes_total: int = 4 << 20
    string_chars: int = 2000

    def __post_init__(self) -> None:
        if self.wave_points < 8:
            raise UsageError(f"wave_points must be at least 8, got {self.wave_points}")
        if self.audio_seconds_per_stream < 0 or self.audio_bytes_total < 0:
            raise UsageError("audio limits must not be negative")
        if self.detail_bytes_total < 0 or self.string_chars < 16:
            raise UsageError("detail_bytes_total must be >= 0 and string_chars >= 16")


# -- what the page needs beyond harness.inspect: the audio itself ---------------------------


_STRIDE = 4  # PCM16 waveforms look at every 4th sample (6 kHz at 24 kHz)


class _Wave:
    """Min/max envelope of a stream, downsampled while it streams (bounded size).

    Pairs live in two ``array('i')`` (8 bytes a pair, not a tuple's 100), so a session of
    a thousand streams holds a few MiB of waveforms, not a hundred.
    """

    def __init__(self, codec: Codec, points: int) -> None:
        self.codec = codec
        self.points = points
        self.bucket = 8  # samples per (min, max) pair; doubles whenever the pairs overflow
        self.lo: array[int] = array("i")
        self.hi: array[int] = array("i")
        self.fill = 0  # samples in the open (last) pair

    def feed(self, data: bytes) -> None:
        lookup: tuple[int, ...] | None = None
        stride = 1
        if self.codec == "pcm16":
            samples = array("h", data[: len(data) - (len(data) & 1)])
            if sys.byteorder == "big":
                samples.byteswap()
            values: array[int] | bytes = samples
            stride = _STRIDE  # a picture of the envelope, not a peak meter: 4x less work
        else:
            ranks, lookup = _RANKS[self.codec]
            values = data.translate(ranks)
        n = len(values)
        i = 0
        while i < n:
            take = min(self.bucket - self.fill, n - i)
            step = stride if self.bucket >= 64 else 1  # short streams: every sample
            chunk = values[i : i + take : step]
            lo, hi = min(chunk), max(chunk)
            if lookup is not None:
                lo, hi = lookup[lo], lookup[hi]
            if self.fill == 0:
                self.lo.append(lo)
                self.hi.append(hi)
            else:
                self.lo[-1] = min(lo, self.lo[-1])
                self.hi[-1] = max(hi, self.hi[-1])
            self.fill = (self.fill + take) % self.bucket
            i += take
            if len(self.lo) > 2 * self.points and self.fill == 0:
                self._halve()

    def _halve(self) -> None:
        lo, hi = self.lo, self.hi
        even = len(lo) - (len(lo) & 1)
        new_lo = array("i", map(min, lo[0:even:2], lo[1:even:2]))
        new_hi = array("i", map(max, hi[0:even:2], hi[1:even:2]))
        if len(lo) & 1:
            new_lo.append(lo[-1])
            new_hi.append(hi[-1])
        self.lo, self.hi = new_lo, new_hi
        self.bucket *= 2

    def finish(self) -> str:
        """The envelope as base64 of signed bytes, min then max per point (x/127 = level)."""
        while len(self.lo) > self.points:
            self._halve()
        out = array("b")
        for lo, hi in zip(self.lo, self.hi, strict=True):
            out.append(round(lo * 127 / 32768))
            out.append(round(hi * 127 / 32768))
        return base64.b64encode(out.tobytes()).decode("ascii")


class _Capture:
    """The audio of one stream as the page needs it: waveform and the bytes it keeps.

    Segmented as :class:`harness.inspect.Inspector` segments streams (a user run ends at a
    commit, clear or close; assistant audio is per response and item), and found again by
    its first line.
    """

    def __init__(self, fmt: AudioFormat, first_line: int, limits: ReportLimits) -> None:
        self.fmt = fmt
        self.first_line = first_line
        self.wave = _Wave(fmt.codec, limits.wave_points)
        self.kept = bytearray()
        width = _sample_width(fmt)
        self.keep_limit = int(limits.audio_seconds_per_stream * fmt.rate) * width
        self.starved = False  # the report's budget ran out before this stream's own cap
        self.index = -1

    def feed(self, data: bytes, budget: list[int]) -> None:
        self.wave.feed(data)
        want = self.keep_limit - len(self.kept)
        if want <= 0:
            return
        room = min(want, budget[0])
        if room < min(want, len(data)):
            self.starved = True
        piece = data[:room]
        if self.fmt.codec == "pcm16" and len(piece) & 1:
            piece = piece[:-1]
        self.kept += piece
        budget[0] -= len(piece)


@dataclass(slots=True)
class _ConnAudio:
    in_fmt: AudioFormat = _PCM16_24K
    out_fmt: AudioFormat = _PCM16_24K
    user: _Capture | None = None
    out: dict[tuple[str, str], _Capture] = field(default_factory=dict)


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
_USER_END = frozenset(
    {
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
    }
)
_SESSION = frozenset({"session.created", "session.updated", "session.update"})
_REFUSAL = "handshake refused: HTTP "


class _Builder:
    """One streaming pass: the inspection model, the timeline rows, the audio captures."""

    def __init__(
        self,
        header: Header,
        path: StrPath,
        limits: ReportLimits,
        rows: IO[bytes],
        scrub: RedactionRules,
    ) -> None:
        self.inspector = Inspector(header, path=path)
        self.limits = limits
        self.rows = rows
        self.scrub = scrub
        self.first_row = True
        self.types: dict[str, int] = {}
        self.audio: dict[int, _ConnAudio] = {}
        self.captures: dict[tuple[int, str, int], _Capture] = {}  # (conn, who, first line)
        self.audio_budget = [limits.audio_bytes_total]
        self.detail_left = limits.detail_bytes_total
        self.details_dropped = 0
        self.flags: dict[int, str] = {}  # lineno -> extra mark class (run reports)
        self.notes: dict[int, int] = {}  # lineno -> mismatch index

    def add(self, frame: Frame) -> None:
        self.inspector.feed(frame)
        audio = self.audio.get(frame.conn)
        if audio is None:
            audio = self.audio[frame.conn] = _ConnAudio()
        label = frame.describe()
        marks = ""
        event = frame.event
        if event is not None:
            kind = event.get("type")
            if isinstance(kind, str):
                marks = _MARKS.get(kind, "")
                self._audio(audio, frame, kind, event)
                if kind == "response.done":
                    status = dig(event, "response", "status")
                    if isinstance(status, str) and status != "completed":
                        label = f"response.done ({status})"
        elif frame.kind is FrameKind.CLOSE:
            audio.user = None
            marks = "close"
            reason = frame.close_reason or ""
            if reason.startswith(_REFUSAL):
                marks = "refusal"
                label = f"refused: {reason.splitlines()[0][len('handshake refused: ') :]}"
            elif reason:
                label = f"{label} {reason.splitlines()[0][:60]}"
        extra = self.flags.get(frame.lineno)
        if extra:
            marks = f"{marks} {extra}".strip()
        row = [
            frame.conn,
            0 if frame.side is Side.CLIENT else 1,
            frame.t,
            self.types.setdefault(label, len(self.types)),
            marks,
            frame.lineno,
            self._detail(frame),
            self.notes.get(frame.lineno, -1),
        ]
        self.rows.write(b"\n" if self.first_row else b",\n")
        self.rows.write(_script_json(row, self.scrub))
        self.first_row = False

    def _detail(self, frame: Frame) -> Any:
        if frame.event is not None:
            value: Any = _elide(
                self.scrub.redact_event(frame.event).value, self.limits.string_chars
            )
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

    def _capture(self, conn: int, who: str, fmt: AudioFormat, line: int) -> _Capture:
        capture = _Capture(fmt, line, self.limits)
        self.captures[(conn, who, line)] = capture
        return capture

    def _audio(self, audio: _ConnAudio, frame: Frame, kind: str, event: dict[str, Any]) -> None:
        if kind in _SESSION:
            session = event.get("session")
            if isinstance(session, dict):
                fin = audio_format(dig(session, "audio", "input", "format")) or audio_format(
                    session.get("input_audio_format")
                )
                fout = audio_format(dig(session, "audio", "output", "format")) or audio_format(
                    session.get("output_audio_format")
                )
                audio.in_fmt = fin or audio.in_fmt
                audio.out_fmt = fout or audio.out_fmt
        elif kind == "input_audio_buffer.append" and frame.side is Side.CLIENT:
            data = _b64(event.get("audio"))
            if data is not None:
                if audio.user is None:
                    audio.user = self._capture(frame.conn, "user", audio.in_fmt, frame.lineno)
                audio.user.feed(data, self.audio_budget)
        elif kind in _USER_END:
            audio.user = None
        elif kind in _AUDIO_OUT:
            data = _b64(event.get("delta"))
            if data is not None:
                rid, item = event.get("response_id"), event.get("item_id")
                key = (rid if isinstance(rid, str) else "", item if isinstance(item, str) else "")
                capture = audio.out.get(key)
                if capture is None:
                    capture = audio.out[key] = self._capture(
                        frame.conn, "assistant", audio.out_fmt, frame.lineno
                    )
                capture.feed(data, self.audio_budget)

    # -- the end ---------------------------------------------------------------------------

    def data(self, run: dict[str, Any] | None) -> dict[str, Any]:
        inspection = self.inspector.finish()
        conns: list[dict[str, Any]] = []
        streams: list[dict[str, Any]] = []
        chat: list[dict[str, Any]] = []
        for c in inspection.connections:
            conns.append(
                {
                    "conn": c.conn,
                    "frames": c.frames,
                    "t_end": c.end,
                    "turns": [_turn(t, c.end) for t in c.turns],
                }
            )
            found = list(c.user_audio) + [s for t in c.turns for s in t.audio]
            for stream in sorted(found, key=lambda s: s.lines[0] if s.lines else 0):
                streams.append(self._stream(c.conn, stream, len(streams)))
            chat += _chat(c)
        header = inspection.header
        return {
            "header": {
                "made": header.made,
                "created": header.created,
                "client": header.client,
                "redactions": list(header.redactions),
                "endpoint": header.endpoint,
                "note": header.note,
                "placeholders": inspection.redactions,
            },
            "types": list(self.types),
            "conns": conns,
            "streams": streams,
            "chat": chat,
            "frames": inspection.frames,
            "details_dropped": self.details_dropped,
            "limits": {
                "audio_seconds_per_stream": self.limits.audio_seconds_per_stream,
                "audio_bytes_total": self.limits.audio_bytes_total,
                "detail_bytes_total": self.limits.detail_bytes_total,
                "wave_points": self.limits.wave_points,
            },
            "run": run,
        }

    def _stream(self, conn: int, s: AudioStream, index: int) -> dict[str, Any]:
        first = s.lines[0] if s.lines else 0
        capture = self.captures.get((conn, s.who, first))
        kept = len(capture.kept) if capture is not None else 0
        if capture is not None:
            capture.index = index
        if capture is None:
            keeps = "no player (its audio could not be read)"
        elif kept == s.bytes:
            keeps = "all of it"
        elif kept == 0:
            keeps = "no player: the report's audio budget was spent on earlier streams"
        else:
            keeps = f"the first {s.format.duration(kept):.1f} s"
            if capture.starved:
                keeps += " (the report's audio budget ran out)"
        return {
            "i": index,
            "conn": conn,
            "who": s.who,
            "codec": s.format.codec,
            "rate": s.format.rate,
            "t0": s.start,
            "t1": s.end,
            "bytes": s.bytes,
            "frames": s.chunks,
            "lines": [first, s.lines[-1] if s.lines else 0],
            "duration": s.duration,
            "kept_bytes": kept,
            "kept_duration": s.format.duration(kept),
            "keeps": keeps,
            "wave": capture.wave.finish() if capture is not None else "",
            "item_id": s.item_id,
            "response_id": s.response_id,
            "transcript": s.transcript,
            "ended_by": s.ended_by,
        }


def _turn(t: Turn, conn_end: float) -> dict[str, Any]:
    status = t.status or ("never done" if t.end is None else "done")
    if t.reason:
        status += f" ({t.reason})"
    return {
        "id": t.response_id,
        "t0": t.start,
        "t1": t.end if t.end is not None else conn_end,
        "status": status,
    }


def _chat(c: Connection) -> list[dict[str, Any]]:
    """The conversation bubbles of a connection, with errors and refusals in time order."""
    truncated = {
        m.item_id: m.detail.rsplit(" at ", 1)[-1]
        for m in c.marks
        if m.kind is MarkKind.TRUNCATED and m.item_id
    }
    statuses = {t.response_id: t for t in c.turns}
    out: list[dict[str, Any]] = []
    for e in c.conversation:
        bubble: dict[str, Any] = {"conn": c.conn, "t": e.t, "line": e.line, "kind": str(e.kind)}
        bubble["text"] = e.text
        if e.kind is EntryKind.TOOL_CALL and e.tool_call is not None:
            call = e.tool_call
            bubble.update(name=call.name, call_id=call.call_id, arguments=call.arguments)
            bubble["output"] = call.output
        elif e.kind is EntryKind.USER_AUDIO and e.audio is not None:
            bubble["duration"] = e.audio.duration
        elif e.kind is EntryKind.ASSISTANT:
            turn = statuses.get(e.response_id or "")
            if turn is not None and turn.status not in ("", "completed"):
                bubble["status"] = turn.status + (f" ({turn.reason})" if turn.reason else "")
            if turn is not None and turn.audio:
                bubble["audio"] = True
                cut = [truncated[s.item_id] for s in turn.audio if s.item_id in truncated]
                if cut:
                    bubble["truncated"] = cut[0]
        out.append(bubble)
    for m in c.marks:
        if m.kind in (MarkKind.ERROR, MarkKind.REFUSAL):
            out.append(
                {"conn": c.conn, "t": m.t, "line": m.line, "kind": str(m.kind), "text": m.detail}
            )
    out.sort(key=lambda b: b["line"])
    return out


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
    mismatches: Iterable[Mismatch],
    unplayed: Iterable[Unplayed],
    title: str | None,
    redaction: RedactionRules | None = None,
) -> tuple[dict[str, Any], dict[int, str], dict[int, int], list[dict[str, Any]]]:
    """The run's part of the page: mismatches (with their diff), unplayed line marks.

    What a mismatch received is redacted with ``redaction`` (default: the default rules).
    """
    scrub = redaction if redaction is not None else _SCRUB
    flags: dict[int, str] = {}
    notes: dict[int, int] = {}
    found: list[dict[str, Any]] = []
    extra_rows: list[dict[str, Any]] = []
    for index, m in enumerate(mismatches):
        # A replay's Mismatch holds the client's frame redacted already (harness.replay,
        # rule 5); the page redacts it again, so one built otherwise cannot leak either
        # (with the rules the page is given: a user's own included).
        received = m.received
        if isinstance(received, bytes):
            shown: Any = f"<{len(received)} bytes (binary frame)>"
        elif isinstance(received, dict):
            shown = _elide(scrub.redact_event(received).value, 2000)
        elif isinstance(received, str):
            shown = scrub.redact_event_text(received).value
        else:
            shown = received if isinstance(received, int | type(None)) else repr(received)
        found.append(
            {
                "report": m.report,
                "lineno": m.lineno,
                "conn": m.conn,
                "connection": m.serial,
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
                "connection": u.serial,
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


# A report is read like a log: the rules' patterns (API keys, ephemeral keys, a user's own)
# are applied to every byte of data the page holds, and their key paths to every frame and
# to what a mismatching client sent, so a hand-made cassette or a client's mismatching event
# cannot put a secret in a report. These rules unless write_html is given others.
_SCRUB = RedactionRules.default()


def _script_json(value: Any, scrub: RedactionRules) -> bytes:
    # Inside <script>, "</" would end the element: JSON allows "<\/" for it.
    return scrub.redact_bytes(_json.dumps(value)).value.replace(b"</", b"<\\/")


def _audio_tags(captures: Iterable[_Capture]) -> Iterator[bytes]:
    for capture in captures:
        if capture.kept and capture.index >= 0:
            yield (
                f'<script type="application/octet-stream" id="audio-{capture.index}">'.encode()
                + base64.b64encode(bytes(capture.kept))
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
    redaction: RedactionRules | None = None,
) -> Path:
    """Write the HTML report of ``cassette`` to ``out`` (atomically) and return its path.

    The page is written to a temporary file beside ``out``, flushed to disk, then renamed
    over ``out`` (and the rename made durable): ``out`` is the old report or the new one,
    whole, even after a crash; on any error the old one is left untouched and no
    temporary file stays behind.

    Args:
        cassette: the cassette file (read in one streaming pass).
        out: the HTML file to write; its folder is created if missing.
        mismatches: a run's mismatches (``server.mismatches``): highlighted at their frame.
        unplayed: a run's unplayed frames (``server.unplayed``): greyed.
        title: the run's name (e.g. a test id): given, or with any mismatch or unplayed
            frame, the page shows the run's verdict (passed too); default title: the
            cassette's file name.
        limits: what the report keeps (:class:`ReportLimits`).
        redaction: the rules every value the page shows is redacted with (the frames, what
            a mismatching client sent, and the patterns over all of the page's data): the
            rules the cassette was recorded with, as given to the replay's
            :class:`~harness.server.FakeRealtimeServer`; default
            :meth:`RedactionRules.default() <harness.redaction.RedactionRules.default>`.

    Raises:
        CassetteError: the cassette is bad (file, line and fault named); nothing is written.
        OSError: ``out`` cannot be written (named in the error); an old report is left
            as it was.
    """
    limits = limits or ReportLimits()
    scrub = redaction if redaction is not None else _SCRUB
    source = Path(cassette)
    target = Path(out)
    mismatch_list = list(mismatches)
    unplayed_list = list(unplayed)
    run: dict[str, Any] | None = None
    flags: dict[int, str] = {}
    notes: dict[int, int] = {}
    if mismatch_list or unplayed_list or title:
        run, flags, notes, _ = _run_data(mismatch_list, unplayed_list, title, scrub)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    with (
        open_cassette(source) as reader,
        tempfile.SpooledTemporaryFile(max_size=8 << 20) as rows,
    ):
        header = reader.header
        builder = _Builder(header, source, limits, rows, scrub)
        builder.flags = flags
        builder.notes = notes
        for frame in reader:
            builder.add(frame)
        data = builder.data(run)
        data["source"] = str(source)
        data["title"] = title or source.name
        head, tail = _template()
        page_title = html.escape(f"{data['title']} - realtime-harness report")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:  # name the report, not the temporary file
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head.replace("{{TITLE}}", page_title).encode("utf-8"))
                fh.write(b'<script type="application/json" id="report-data">')
                fh.write(_script_json(data, scrub))
                fh.write(b'</script>\n<script type="application/json" id="report-frames">[')
                rows.seek(0)
                while chunk := rows.read(1 << 20):
                    fh.write(chunk)
                fh.write(b"\n]</script>\n")
                for tag in _audio_tags(builder.captures.values()):
                    fh.write(tag)
                fh.write(tail.encode("utf-8"))
                os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is for reading
                # On disk before the rename, as the recorder and redact do: a crash
                # leaves the old report or the new one whole, never a torn one.
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno and exc.filename is None:  # name the report
                raise OSError(exc.errno, exc.strerror, str(target)) from exc
            raise
    fsync_directory(str(target))  # the rename itself
    return target
