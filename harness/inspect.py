"""What a cassette holds, as a reader wants to see it: turns, text, tool calls, audio, marks.

One streaming pass over a cassette's frames builds an :class:`Inspection`: per connection,
the turns (``response.created`` → ``response.done``) with the assistant's text, transcript,
tool calls (arguments and, once the client sends it, the output) and audio; the user's text
and audio runs (``input_audio_buffer.append`` up to the commit) with their transcripts; the
marks a timeline shows (speech started/stopped, commits, truncations, cancels, errors,
closes, refusals, redacted values); the gaps that pacing would replay; and the header's facts.

Memory is bounded by the conversation, not the file: audio is counted (bytes, chunks,
duration, frame lines), never kept, so a 500 MB cassette of audio inspects in constant
memory but for its text. Feed frames yourself with :class:`Inspector` (``feed`` each frame,
then ``finish``) to build other views in the same pass, as :mod:`harness.report` does, or call
:func:`inspect_cassette`. :meth:`Inspection.to_json` is the shape ``inspect --json`` prints.

Audio durations come from byte counts and the session's format, read from
``session.created`` / ``session.updated`` / ``session.update`` (GA ``audio.input.format`` /
``audio.output.format``, beta ``input_audio_format`` / ``output_audio_format``): PCM16 at
its rate (24 kHz: 48,000 bytes/s), G.711 μ-law or A-law at 8 kHz (8,000 bytes/s).

This module is pure: no I/O but reading the cassette in :func:`inspect_cassette`, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from harness._json import dig
from harness.cassette import Frame, Header, Side, StrPath, open_cassette
from harness.inspection import (
    DEFAULT_GAP_SECONDS,
    PCM16_24K,
    AudioFormat,
    AudioStream,
    Connection,
    Entry,
    EntryKind,
    Gap,
    HeaderFacts,
    Inspection,
    Mark,
    MarkKind,
    ToolCall,
    Turn,
    audio_format,
    base64_size,
)
from harness.redaction import PLACEHOLDER_PREFIX
from harness.refusal import parse_refusal

__all__ = [
    "DEFAULT_GAP_SECONDS",
    "AudioFormat",
    "AudioStream",
    "Connection",
    "Entry",
    "EntryKind",
    "Gap",
    "HeaderFacts",
    "Inspection",
    "Inspector",
    "Mark",
    "MarkKind",
    "ToolCall",
    "Turn",
    "audio_format",
    "inspect_cassette",
    "inspect_frames",
    "render",
]


_PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"([A-Za-z0-9_.-]+)>")
_MAX_REDACTION_MARKS = 1000  # per connection; the counts stay exact beyond it


# -- the pass -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stream:
    who: Literal["user", "assistant"]
    format: AudioFormat
    start: float
    nbytes: int = 0
    chunks: int = 0
    end: float = 0.0
    lines: list[int] = field(default_factory=list)
    item_id: str | None = None
    response_id: str | None = None
    transcript: list[str] = field(default_factory=list)
    final_transcript: str | None = None
    ended_by: str = ""

    def feed(self, nbytes: int, t: float, line: int) -> None:
        self.nbytes += nbytes
        self.chunks += 1
        self.end = t
        self.lines.append(line)

    def value(self) -> AudioStream:
        transcript = (
            self.final_transcript if self.final_transcript is not None else "".join(self.transcript)
        )
        return AudioStream(
            who=self.who,
            format=self.format,
            bytes=self.nbytes,
            chunks=self.chunks,
            duration=self.format.duration(self.nbytes),
            start=self.start,
            end=self.end,
            lines=tuple(self.lines),
            item_id=self.item_id,
            response_id=self.response_id,
            transcript=transcript,
            ended_by=self.ended_by,
        )


@dataclass(slots=True)
class _Call:
    name: str
    call_id: str
    arguments: str
    t: float
    line: int
    output: str | None = None
    output_t: float | None = None
    output_line: int | None = None

    def value(self) -> ToolCall:
        return ToolCall(
            self.name,
            self.call_id,
            self.arguments,
            self.output,
            self.t,
            self.line,
            self.output_t,
            self.output_line,
        )


@dataclass(slots=True)
class _Turn:
    response_id: str
    start: float
    start_line: int
    end: float | None = None
    end_line: int | None = None
    status: str = ""
    reason: str = ""
    text: list[str] = field(default_factory=list)
    text_done: dict[str, str] = field(default_factory=dict)  # item_id -> final text
    transcript: list[str] = field(default_factory=list)
    calls: dict[str, _Call] = field(default_factory=dict)  # call_id -> call
    audio: dict[str, _Stream] = field(default_factory=dict)  # item_id -> stream

    def text_value(self) -> str:
        return "".join(self.text_done.values()) if self.text_done else "".join(self.text)

    def transcript_value(self) -> str:
        done = [s.final_transcript for s in self.audio.values() if s.final_transcript]
        return "".join(done) if done else "".join(self.transcript)


@dataclass(slots=True)
class _Pending:
    """A conversation entry whose text may still grow (built into an Entry at the end)."""

    kind: EntryKind
    t: float
    line: int
    text: str = ""
    response_id: str | None = None
    item_id: str | None = None
    call: _Call | None = None
    stream: _Stream | None = None
    turn: _Turn | None = None


@dataclass(slots=True)
class _Conn:
    conn: int
    start: float
    first_line: int
    frames: int = 0
    client_frames: int = 0
    server_frames: int = 0
    binary_frames: int = 0
    end: float = 0.0
    last_line: int = 0
    input_format: AudioFormat = PCM16_24K
    output_format: AudioFormat = PCM16_24K
    turns: dict[str, _Turn] = field(default_factory=dict)
    user_runs: list[_Stream] = field(default_factory=list)
    user_run: _Stream | None = None
    user_items: dict[str, _Stream] = field(default_factory=dict)  # committed item -> run
    calls: dict[str, _Call] = field(default_factory=dict)  # call_id -> call, all turns
    entries: list[_Pending] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    redaction_marks: int = 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _placeholders(value: Any, found: dict[str, int]) -> None:
    if isinstance(value, str):
        if PLACEHOLDER_PREFIX in value:
            for name in _PLACEHOLDER.findall(value):
                found[name] = found.get(name, 0) + 1
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if PLACEHOLDER_PREFIX in item:
                    _placeholders(item, found)
            elif isinstance(item, (dict, list)):
                _placeholders(item, found)
            if PLACEHOLDER_PREFIX in key:
                _placeholders(key, found)
    elif isinstance(value, list):
        for item in value:
            _placeholders(item, found)


_AUDIO_OUT = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TEXT_DELTA = frozenset({"response.output_text.delta", "response.text.delta"})
_TEXT_DONE = frozenset({"response.output_text.done", "response.text.done"})
_TRANSCRIPT_DELTA = frozenset(
    {"response.output_audio_transcript.delta", "response.audio_transcript.delta"}
)
_TRANSCRIPT_DONE = frozenset(
    {"response.output_audio_transcript.done", "response.audio_transcript.done"}
)
_SESSION = frozenset({"session.created", "session.updated", "session.update"})


class Inspector:
    """Builds an :class:`Inspection` from frames fed one at a time, in file order.

    Example::

        with open_cassette(path) as reader:
            inspector = Inspector(reader.header, path=path)
            for frame in reader:
                inspector.feed(frame)
        inspection = inspector.finish()

    Args:
        header: the cassette's header.
        path: the cassette file, for the result.
        gap_seconds: report silences at least this long before a server frame.
    """

    def __init__(
        self,
        header: Header,
        *,
        path: StrPath | None = None,
        gap_seconds: float = DEFAULT_GAP_SECONDS,
    ) -> None:
        self.header = header
        self.path = None if path is None else str(path)
        self.gap_seconds = gap_seconds
        self._conns: dict[int, _Conn] = {}
        self._frames = 0

    def feed(self, frame: Frame) -> None:
        """Account for one frame (the next one in file order)."""
        self._frames += 1
        c = self._conns.get(frame.conn)
        if c is None:
            c = self._conns[frame.conn] = _Conn(frame.conn, frame.t, frame.lineno)
        elif frame.side is Side.SERVER and frame.t - c.end >= self.gap_seconds:
            c.gaps.append(Gap(c.end, frame.t, round(frame.t - c.end, 6), c.last_line, frame.lineno))
        c.frames += 1
        if frame.side is Side.CLIENT:
            c.client_frames += 1
        else:
            c.server_frames += 1
        c.end = frame.t
        c.last_line = frame.lineno
        if frame.event is not None:
            self._event(c, frame, frame.event)
        elif frame.binary is not None:
            c.binary_frames += 1
        else:
            self._close(c, frame)

    # -- frames ------------------------------------------------------------------------------

    def _mark(
        self,
        c: _Conn,
        frame: Frame,
        kind: MarkKind,
        detail: str = "",
        code: str | int | None = None,
        item_id: str | None = None,
    ) -> None:
        c.marks.append(Mark(kind, frame.t, frame.lineno, frame.side, detail, code, item_id))

    def _close(self, c: _Conn, frame: Frame) -> None:
        self._end_user_run(c, "close")
        reason = frame.close_reason
        found: dict[str, int] = {}
        _placeholders(reason, found)
        self._redacted(c, frame, found)
        refusal = parse_refusal(frame)
        if refusal is not None:
            detail = f"HTTP {refusal.status} {refusal.reason_phrase}"
            detail += f": {refusal.body}" if refusal.body else ""
            self._mark(c, frame, MarkKind.REFUSAL, detail, refusal.status)
            return
        code_text = str(frame.close_code) if frame.close_code is not None else "(no status)"
        detail = f"{frame.side} closed {code_text}" + (f" {reason}" if reason else "")
        self._mark(c, frame, MarkKind.CLOSE, detail, frame.close_code)

    def _redacted(self, c: _Conn, frame: Frame, found: dict[str, int]) -> None:
        if not found:
            return
        for name, count in found.items():
            c.redactions[name] = c.redactions.get(name, 0) + count
        if c.redaction_marks < _MAX_REDACTION_MARKS:
            c.redaction_marks += 1
            self._mark(c, frame, MarkKind.REDACTED, ", ".join(sorted(found)))

    def _event(self, c: _Conn, frame: Frame, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            audio = event.get("audio")
            if c.user_run is None:
                c.user_run = _Stream("user", c.input_format, frame.t)
                c.user_runs.append(c.user_run)
            c.user_run.feed(
                base64_size(audio) if isinstance(audio, str) else 0, frame.t, frame.lineno
            )
            return
        if kind in _AUDIO_OUT:
            delta = event.get("delta")
            stream = self._out_stream(c, frame, event)
            stream.feed(base64_size(delta) if isinstance(delta, str) else 0, frame.t, frame.lineno)
            return
        found: dict[str, int] = {}
        _placeholders(event, found)
        self._redacted(c, frame, found)
        if not isinstance(kind, str):
            return
        if kind in _SESSION:
            self._session(c, event)
        elif kind == "response.created":
            rid = _str(dig(event, "response", "id")) or f"<unnamed {frame.lineno}>"
            turn = c.turns.get(rid)
            if turn is None:
                turn = c.turns[rid] = _Turn(rid, frame.t, frame.lineno)
                c.entries.append(_Pending(EntryKind.ASSISTANT, frame.t, frame.lineno, turn=turn))
                turn_entry = c.entries[-1]
                turn_entry.response_id = rid
        elif kind == "response.done":
            response = event.get("response")
            rid = _str(dig(response, "id"))
            turn = self._turn(c, frame, rid)
            turn.end, turn.end_line = frame.t, frame.lineno
            turn.status = _str(dig(response, "status"))
            turn.reason = _str(dig(response, "status_details", "reason"))
            output = dig(response, "output")
            for item in output if isinstance(output, list) else ():
                self._output_item(c, frame, turn, item)
        elif kind in _TEXT_DELTA:
            self._turn(c, frame, _str(event.get("response_id"))).text.append(
                _str(event.get("delta"))
            )
        elif kind in _TEXT_DONE:
            turn = self._turn(c, frame, _str(event.get("response_id")))
            turn.text_done[_str(event.get("item_id"))] = _str(event.get("text"))
        elif kind in _TRANSCRIPT_DELTA:
            stream = self._out_stream(c, frame, event)
            piece = _str(event.get("delta"))
            stream.transcript.append(piece)
            self._turn(c, frame, _str(event.get("response_id"))).transcript.append(piece)
        elif kind in _TRANSCRIPT_DONE:
            stream = self._out_stream(c, frame, event)
            stream.final_transcript = _str(event.get("transcript"))
        elif kind in ("response.output_item.done", "response.output_item.added"):
            turn = self._turn(c, frame, _str(event.get("response_id")))
            if kind == "response.output_item.done":
                self._output_item(c, frame, turn, event.get("item"))
        elif kind == "response.function_call_arguments.done":
            turn = self._turn(c, frame, _str(event.get("response_id")))
            call_id = _str(event.get("call_id"))
            self._call(c, frame, turn, call_id, _str(event.get("name")), event.get("arguments"))
        elif kind == "conversation.item.create" and frame.side is Side.CLIENT:
            self._client_item(c, frame, event.get("item"))
        elif kind in ("input_audio_buffer.commit", "input_audio_buffer.committed"):
            item_id = _opt_str(event.get("item_id"))
            run = self._end_user_run(c, kind)
            if run is not None and item_id:
                run.item_id = item_id
                c.user_items[item_id] = run
            elif item_id and c.user_runs and c.user_runs[-1].item_id is None:
                # the server's committed after the client's commit: the same run
                c.user_runs[-1].item_id = item_id
                c.user_items[item_id] = c.user_runs[-1]
            self._mark(c, frame, MarkKind.COMMITTED, kind, item_id=item_id)
        elif kind in ("input_audio_buffer.clear", "input_audio_buffer.cleared"):
            self._end_user_run(c, kind)
            self._mark(c, frame, MarkKind.CLEARED, kind)
        elif kind == "input_audio_buffer.speech_started":
            ms = event.get("audio_start_ms")
            self._mark(c, frame, MarkKind.SPEECH_STARTED, f"at {ms} ms" if ms is not None else "")
        elif kind == "input_audio_buffer.speech_stopped":
            ms = event.get("audio_end_ms")
            self._mark(c, frame, MarkKind.SPEECH_STOPPED, f"at {ms} ms" if ms is not None else "")
        elif kind == "conversation.item.input_audio_transcription.delta":
            run = c.user_items.get(_str(event.get("item_id")))
            if run is not None:
                run.transcript.append(_str(event.get("delta")))
        elif kind == "conversation.item.input_audio_transcription.completed":
            run = c.user_items.get(_str(event.get("item_id")))
            if run is not None:
                run.final_transcript = _str(event.get("transcript"))
        elif kind in ("conversation.item.truncate", "conversation.item.truncated"):
            item_id = _opt_str(event.get("item_id"))
            ms = event.get("audio_end_ms")
            self._mark(c, frame, MarkKind.TRUNCATED, f"{item_id} at {ms} ms", item_id=item_id)
        elif kind == "response.cancel":
            self._mark(c, frame, MarkKind.CANCELLED, _str(event.get("response_id")))
        elif kind == "error" and frame.side is Side.SERVER:
            error = event.get("error")
            code = _opt_str(dig(error, "code")) or _opt_str(dig(error, "type"))
            message = _str(dig(error, "message"))
            detail = f"{code}: {message}" if code else message
            self._mark(c, frame, MarkKind.ERROR, detail, code)

    def _session(self, c: _Conn, event: dict[str, Any]) -> None:
        session = event.get("session")
        if not isinstance(session, dict):
            return
        found_in = audio_format(dig(session, "audio", "input", "format")) or audio_format(
            session.get("input_audio_format")
        )
        found_out = audio_format(dig(session, "audio", "output", "format")) or audio_format(
            session.get("output_audio_format")
        )
        if found_in is not None:
            c.input_format = found_in
        if found_out is not None:
            c.output_format = found_out

    def _turn(self, c: _Conn, frame: Frame, rid: str) -> _Turn:
        turn = c.turns.get(rid)
        if turn is None:  # an event for a response whose response.created is not recorded
            turn = c.turns[rid] = _Turn(rid or f"<unnamed {frame.lineno}>", frame.t, frame.lineno)
            pending = _Pending(
                EntryKind.ASSISTANT, frame.t, frame.lineno, turn=turn, response_id=turn.response_id
            )
            c.entries.append(pending)
        return turn

    def _out_stream(self, c: _Conn, frame: Frame, event: dict[str, Any]) -> _Stream:
        rid = _str(event.get("response_id"))
        item_id = _str(event.get("item_id"))
        turn = self._turn(c, frame, rid)
        stream = turn.audio.get(item_id)
        if stream is None:
            stream = turn.audio[item_id] = _Stream("assistant", c.output_format, frame.t)
            stream.end = frame.t
            stream.item_id = item_id or None
            stream.response_id = turn.response_id
        return stream

    def _output_item(self, c: _Conn, frame: Frame, turn: _Turn, item: Any) -> None:
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return
        self._call(
            c, frame, turn, _str(item.get("call_id")), _str(item.get("name")), item.get("arguments")
        )

    def _call(
        self, c: _Conn, frame: Frame, turn: _Turn, call_id: str, name: str, arguments: Any
    ) -> None:
        call = c.calls.get(call_id)
        if call is None:
            call = _Call(name, call_id, _str(arguments), frame.t, frame.lineno)
            c.calls[call_id] = call
            turn.calls[call_id] = call
            c.entries.append(
                _Pending(
                    EntryKind.TOOL_CALL,
                    frame.t,
                    frame.lineno,
                    response_id=turn.response_id,
                    call=call,
                )
            )
        else:  # seen already (arguments.done, then output_item.done): fill in what was missing
            call.name = call.name or name
            call.arguments = call.arguments or _str(arguments)

    def _client_item(self, c: _Conn, frame: Frame, item: Any) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call_output":
            call = c.calls.get(_str(item.get("call_id")))
            if call is None:
                call = _Call("", _str(item.get("call_id")), "", frame.t, frame.lineno)
                c.calls[call.call_id] = call
                c.entries.append(_Pending(EntryKind.TOOL_CALL, frame.t, frame.lineno, call=call))
            call.output = _str(item.get("output"))
            call.output_t, call.output_line = frame.t, frame.lineno
            return
        if kind != "message":
            return
        role = item.get("role")
        texts: list[str] = []
        content = item.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict):
                texts.append(_str(part.get("text")) or _str(part.get("transcript")))
        entry_kind = (
            EntryKind.USER_TEXT
            if role == "user"
            else EntryKind.SYSTEM_TEXT
            if role == "system"
            else EntryKind.ASSISTANT
        )
        c.entries.append(
            _Pending(
                entry_kind,
                frame.t,
                frame.lineno,
                text="".join(texts),
                item_id=_opt_str(item.get("id")),
            )
        )

    def _end_user_run(self, c: _Conn, why: str) -> _Stream | None:
        run = c.user_run
        if run is None:
            return None
        run.ended_by = why
        c.user_run = None
        c.entries.append(_Pending(EntryKind.USER_AUDIO, run.start, run.lines[0], stream=run))
        return run

    # -- the result --------------------------------------------------------------------------

    def finish(self) -> Inspection:
        """The inspection of every frame fed so far."""
        connections = tuple(self._connection(self._conns[k]) for k in sorted(self._conns))
        return Inspection(
            self.path,
            HeaderFacts.of(self.header),
            self._frames,
            connections,
            self.gap_seconds,
        )

    def _connection(self, c: _Conn) -> Connection:
        open_run = c.user_run
        if open_run is not None:  # an append run the cassette ended in: no ended_by
            c.entries.append(
                _Pending(EntryKind.USER_AUDIO, open_run.start, open_run.lines[0], stream=open_run)
            )
        streams: dict[int, AudioStream] = {}

        def stream_value(s: _Stream) -> AudioStream:
            value = streams.get(id(s))
            if value is None:
                value = streams[id(s)] = s.value()
            return value

        calls: dict[int, ToolCall] = {}

        def call_value(call: _Call) -> ToolCall:
            value = calls.get(id(call))
            if value is None:
                value = calls[id(call)] = call.value()
            return value

        turns = tuple(
            Turn(
                response_id=t.response_id,
                start=t.start,
                start_line=t.start_line,
                end=t.end,
                end_line=t.end_line,
                status=t.status,
                reason=t.reason,
                text=t.text_value(),
                transcript=t.transcript_value(),
                tool_calls=tuple(call_value(x) for x in t.calls.values()),
                audio=tuple(stream_value(s) for s in t.audio.values()),
            )
            for t in c.turns.values()
        )
        entries: list[Entry] = []
        for p in sorted(c.entries, key=lambda p: p.line):
            if p.kind is EntryKind.ASSISTANT and p.turn is not None:
                text = p.turn.text_value() or p.turn.transcript_value()
                if not text:
                    continue  # a response with only tool calls (or nothing): no bubble
                entries.append(
                    Entry(p.kind, p.t, p.line, text, p.turn.response_id, None, None, None)
                )
            elif p.kind is EntryKind.TOOL_CALL and p.call is not None:
                entries.append(
                    Entry(p.kind, p.t, p.line, "", p.response_id, None, call_value(p.call), None)
                )
            elif p.kind is EntryKind.USER_AUDIO and p.stream is not None:
                audio = stream_value(p.stream)
                entries.append(
                    Entry(p.kind, p.t, p.line, audio.transcript, None, audio.item_id, None, audio)
                )
            else:
                entries.append(Entry(p.kind, p.t, p.line, p.text, p.response_id, p.item_id))
        return Connection(
            conn=c.conn,
            frames=c.frames,
            client_frames=c.client_frames,
            server_frames=c.server_frames,
            binary_frames=c.binary_frames,
            start=c.start,
            end=c.end,
            first_line=c.first_line,
            last_line=c.last_line,
            input_format=c.input_format,
            output_format=c.output_format,
            turns=turns,
            user_audio=tuple(stream_value(s) for s in c.user_runs),
            conversation=tuple(entries),
            marks=tuple(c.marks),
            gaps=tuple(c.gaps),
            redactions=dict(c.redactions),
        )


def inspect_frames(
    header: Header,
    frames: Iterable[Frame],
    *,
    path: StrPath | None = None,
    gap_seconds: float = DEFAULT_GAP_SECONDS,
) -> Inspection:
    """Inspect ``frames`` (in file order) of a cassette with ``header``."""
    inspector = Inspector(header, path=path, gap_seconds=gap_seconds)
    for frame in frames:
        inspector.feed(frame)
    return inspector.finish()


def inspect_cassette(path: StrPath, *, gap_seconds: float = DEFAULT_GAP_SECONDS) -> Inspection:
    """Inspect the cassette at ``path`` in one streaming pass.

    Raises:
        CassetteNotFound, CassetteError: the file is missing or malformed (the error names
            the line).
    """
    with open_cassette(path) as reader:
        return inspect_frames(reader.header, reader, path=path, gap_seconds=gap_seconds)


# -- the readable timeline --------------------------------------------------------------------

_TEXT_LIMIT = 300


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _TEXT_LIMIT:
        flat = flat[: _TEXT_LIMIT - 1] + "…"
    return json_string(flat)


def json_string(text: str) -> str:
    """``text`` as a double-quoted string, escapes as JSON writes them (non-ASCII kept)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{out}"'


def _fmt(fmt: AudioFormat) -> str:
    rate = f"{fmt.rate / 1000:g} kHz"
    return f"{fmt.codec} {rate}"


def _audio(stream: AudioStream) -> str:
    lines = (
        f"line {stream.lines[0]}"
        if len(stream.lines) == 1
        else f"lines {stream.lines[0]}-{stream.lines[-1]}"
        if stream.lines
        else "no lines"
    )
    chunks = f"{stream.chunks} chunk{'s' if stream.chunks != 1 else ''}"
    return (
        f"{stream.duration:.3f} s ({stream.bytes:,} bytes {_fmt(stream.format)}, {chunks}, {lines})"
    )


def _duration(start: float, end: float | None) -> str:
    return f"{end - start:.3f} s" if end is not None else "never done"


def render(inspection: Inspection) -> list[str]:
    """The inspection as a readable timeline, one line per moment (``inspect`` prints it)."""
    h = inspection.header
    out = [f"{inspection.path or '<cassette>'}: {h.made}" + (f" {h.created}" if h.created else "")]
    out.append(f"  endpoint {h.endpoint}" + (f", client {h.client}" if h.client else ""))
    if h.note:
        out.append(f"  note: {h.note}")
    ran = ", ".join(h.redactions) if h.redactions else "none"
    found = inspection.redactions
    found_text = (
        ", ".join(f"{name} x{count}" for name, count in sorted(found.items()))
        if found
        else "no placeholders in the frames"
    )
    out.append(f"  redactions that ran: {ran}; found: {found_text}")
    n = len(inspection.connections)
    out.append(f"  {inspection.frames} frames on {n} connection{'s' if n != 1 else ''}")
    for conn in inspection.connections:
        out.append("")
        out.append(
            f"conn {conn.conn}: {conn.frames} frames ({conn.client_frames} client, "
            f"{conn.server_frames} server"
            + (f", {conn.binary_frames} binary" if conn.binary_frames else "")
            + f") over {conn.end - conn.start:.3f} s; audio in {_fmt(conn.input_format)}, "
            f"out {_fmt(conn.output_format)}"
        )
        out.extend(_timeline(conn))
    return out


def _timeline(conn: Connection) -> list[str]:
    """One connection's moments, in frame order."""
    moments: list[tuple[int, int, float, str]] = []  # (line, order, t, text)

    def add(line: int, t: float, text: str, order: int = 1) -> None:
        moments.append((line, order, t, text))

    for entry in conn.conversation:
        if entry.kind is EntryKind.USER_TEXT:
            add(entry.line, entry.t, f"user: {_quote(entry.text)}")
        elif entry.kind is EntryKind.SYSTEM_TEXT:
            add(entry.line, entry.t, f"system: {_quote(entry.text)}")
        elif entry.kind is EntryKind.USER_AUDIO and entry.audio is not None:
            said = f" {_quote(entry.text)}" if entry.text else " (no transcript)"
            add(entry.line, entry.t, f"user audio: {_audio(entry.audio)}{said}")
        elif entry.kind is EntryKind.ASSISTANT and entry.response_id is None:
            add(entry.line, entry.t, f"assistant item: {_quote(entry.text)}")
    for number, turn in enumerate(conn.turns, 1):
        add(turn.start_line, turn.start, f"turn {number} ({turn.response_id}) starts", 0)
        for call in turn.tool_calls:
            add(call.line, call.t, f"  tool call {call.name}({call.arguments}) [{call.call_id}]")
            if call.output is not None and call.output_line is not None:
                t = call.output_t if call.output_t is not None else call.t
                add(call.output_line, t, f"  tool output [{call.call_id}]: {call.output}")
        for stream in turn.audio:
            add(
                stream.lines[0] if stream.lines else turn.start_line,
                stream.start,
                f"  assistant audio: {_audio(stream)}",
            )
        end_line = turn.end_line if turn.end_line is not None else conn.last_line
        end_t = turn.end if turn.end is not None else conn.end
        status = turn.status or "never done"
        if turn.reason:
            status += f" ({turn.reason})"
        add(
            end_line,
            end_t,
            f"turn {number} {status} after {_duration(turn.start, turn.end)}",
            2,
        )
        if turn.text:
            add(end_line, end_t, f"  assistant: {_quote(turn.text)}", 3)
        if turn.transcript:
            add(end_line, end_t, f"  assistant said: {_quote(turn.transcript)}", 4)
    for mark in conn.marks:
        label = str(mark.kind).replace("_", " ")
        add(mark.line, mark.t, f"{label}: {mark.detail}" if mark.detail else label)
    for gap in conn.gaps:
        add(gap.before_line, gap.start, f"gap of {gap.seconds:.3f} s (pacing waits it)", 0)
    return [
        f"  {t:8.3f}  L{line:<5} {text}"
        for line, _order, t, text in sorted(moments, key=lambda m: (m[0], m[1]))
    ]
