"""The model ``inspect`` builds of a cassette: connections, turns, audio streams, marks.

Plain frozen values (:class:`Inspection` and its parts) with :meth:`Inspection.to_json`, the
shape ``python -m harness inspect --json`` prints, and the audio formats their durations are
computed from. :mod:`harness.inspect` builds them in one pass; :mod:`harness.report` draws
them. Pure core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from harness._b64 import b64_size
from harness.cassette import Header, Side

__all__ = [
    "DEFAULT_GAP_SECONDS",
    "PCM16_24K",
    "AudioFormat",
    "AudioStream",
    "Codec",
    "Connection",
    "Entry",
    "EntryKind",
    "Gap",
    "HeaderFacts",
    "Inspection",
    "Mark",
    "MarkKind",
    "ToolCall",
    "Turn",
    "audio_format",
    "base64_size",
]

DEFAULT_GAP_SECONDS = 1.0
"""Silences at least this long (seconds between frames of a connection) are reported as gaps."""

Codec = Literal["pcm16", "g711_ulaw", "g711_alaw"]


# -- audio formats -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """How a stream's bytes are samples: ``codec`` and ``rate`` (samples per second)."""

    codec: Codec = "pcm16"
    rate: int = 24000

    @property
    def bytes_per_second(self) -> int:
        """48,000 for PCM16 at 24 kHz, 8,000 for G.711."""
        return self.rate * (2 if self.codec == "pcm16" else 1)

    def duration(self, nbytes: int) -> float:
        """Seconds of audio in ``nbytes`` bytes of this format."""
        return nbytes / self.bytes_per_second


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
            if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0:
                return AudioFormat("pcm16", rate)
            return PCM16_24K
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


def base64_size(text: str) -> int:
    """The decoded size of base64 ``text``, without decoding it, whatever it holds.

    :func:`harness._b64.b64_size` without decoding irregular base64: never raises.
    """
    return b64_size(text, decode_irregular=False)


# -- the model ------------------------------------------------------------------------------


class MarkKind(StrEnum):
    """What a :class:`Mark` on a connection's timeline stands for."""

    SPEECH_STARTED = "speech_started"  # input_audio_buffer.speech_started
    SPEECH_STOPPED = "speech_stopped"  # input_audio_buffer.speech_stopped
    COMMITTED = "committed"  # input_audio_buffer.commit (client) / .committed (server)
    CLEARED = "cleared"  # input_audio_buffer.clear / .cleared
    TRUNCATED = "truncated"  # conversation.item.truncate (client) / .truncated (server)
    CANCELLED = "cancelled"  # response.cancel
    ERROR = "error"  # a server error event
    CLOSE = "close"  # a close frame, either side
    REFUSAL = "refusal"  # a handshake the upstream refused (recorded as a close)
    REDACTED = "redacted"  # a frame holding redaction placeholders


@dataclass(frozen=True, slots=True)
class Mark:
    """One moment on a connection's timeline.

    Attributes:
        kind: what happened.
        t: the frame's recorded time (seconds since the connection opened).
        line: the frame's line in the cassette.
        side: who sent the frame.
        detail: a short human text (error code and message, close code and reason, ...).
        code: the error code (str), close code or refusal status (int), when there is one.
        item_id: the conversation item concerned (truncations, commits), when there is one.
    """

    kind: MarkKind
    t: float
    line: int
    side: Side
    detail: str = ""
    code: str | int | None = None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class AudioStream:
    """One audio stream: a user ``input_audio_buffer.append`` run or a response item's audio.

    Attributes:
        who: ``"user"`` (client appends) or ``"assistant"`` (``output_audio.delta``).
        format: the session's audio format when the stream began.
        bytes: the decoded audio bytes.
        chunks: the frames that carried it.
        duration: seconds of audio (``bytes`` in ``format``).
        start, end: the recorded times of its first and last frame.
        lines: the cassette line of every frame that carried it, in order.
        item_id: the conversation item (the committed item for a user run).
        response_id: the response, for assistant audio.
        transcript: the input transcription (user) or the audio transcript (assistant).
        ended_by: what closed a user run (``input_audio_buffer.committed``, ...), or
            ``""`` if the cassette ended first.
    """

    who: Literal["user", "assistant"]
    format: AudioFormat
    bytes: int
    chunks: int
    duration: float
    start: float
    end: float
    lines: tuple[int, ...]
    item_id: str | None = None
    response_id: str | None = None
    transcript: str = ""
    ended_by: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model made, and the output the client sent back for it.

    Attributes:
        name: the function's name.
        call_id: the call's id.
        arguments: the arguments, as the JSON text the model produced.
        output: the client's ``function_call_output`` for ``call_id`` (``None`` if none came).
        t, line: when and where the call was complete (its ``output_item.done`` or
            ``function_call_arguments.done``).
        output_t, output_line: when and where the output came (``None`` if none).
    """

    name: str
    call_id: str
    arguments: str
    output: str | None
    t: float
    line: int
    output_t: float | None = None
    output_line: int | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One response: ``response.created`` to ``response.done``.

    Attributes:
        response_id: the response's id.
        start, start_line: the ``response.created`` frame.
        end, end_line: the ``response.done`` frame (``None`` if it never came).
        status: ``response.done``'s status (``completed``, ``cancelled``, ``incomplete``,
            ``failed``), ``""`` if it never came.
        reason: the status details' reason (``turn_detected``, ...), if any.
        text: the assistant's text output.
        transcript: the transcript of the assistant's audio.
        tool_calls: the function calls of this response.
        audio: the response's audio streams (one per output item that had audio).
    """

    response_id: str
    start: float
    start_line: int
    end: float | None
    end_line: int | None
    status: str
    reason: str
    text: str
    transcript: str
    tool_calls: tuple[ToolCall, ...]
    audio: tuple[AudioStream, ...]


class EntryKind(StrEnum):
    """What a conversation :class:`Entry` is."""

    USER_TEXT = "user_text"  # a user message the client created (input_text)
    USER_AUDIO = "user_audio"  # a user audio run, with its transcript
    SYSTEM_TEXT = "system_text"  # a system message the client created
    ASSISTANT = "assistant"  # a response's text and transcript
    TOOL_CALL = "tool_call"  # a function call and its output


@dataclass(frozen=True, slots=True)
class Entry:
    """One bubble of the conversation, in time order.

    Attributes:
        kind: what it is.
        t, line: its first frame.
        text: the text (user or assistant text, the user's transcript, the assistant's
            transcript if the response had no text), ``""`` if none.
        response_id: the response (assistant and tool call entries).
        item_id: the conversation item, where known.
        tool_call: the call (tool call entries).
        audio: the audio stream (user audio entries).
    """

    kind: EntryKind
    t: float
    line: int
    text: str = ""
    response_id: str | None = None
    item_id: str | None = None
    tool_call: ToolCall | None = None
    audio: AudioStream | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """A silence that pacing replays: no frame for ``seconds``, then a server frame.

    Attributes:
        start, end: the recorded times of the frames around it.
        seconds: ``end - start`` (at ``--speed 1``; divided by the speed otherwise).
        after_line, before_line: the lines of the frames around it.
    """

    start: float
    end: float
    seconds: float
    after_line: int
    before_line: int


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything about one recorded connection.

    Attributes:
        conn: the connection index in the cassette.
        frames, client_frames, server_frames, binary_frames: frame counts.
        start, end: the first and last frame's recorded time.
        first_line, last_line: their lines.
        input_format, output_format: the session's audio formats at the end.
        turns: the responses, in order of ``response.created``.
        user_audio: the user's audio runs, in order.
        conversation: the conversation's entries, in time order.
        marks: the timeline's marks, in frame order.
        gaps: the silences pacing replays, in order.
        redactions: placeholders found, per rule name.
    """

    conn: int
    frames: int
    client_frames: int
    server_frames: int
    binary_frames: int
    start: float
    end: float
    first_line: int
    last_line: int
    input_format: AudioFormat
    output_format: AudioFormat
    turns: tuple[Turn, ...]
    user_audio: tuple[AudioStream, ...]
    conversation: tuple[Entry, ...]
    marks: tuple[Mark, ...]
    gaps: tuple[Gap, ...]
    redactions: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """The cassette header, as a reader wants it.

    Attributes:
        made: ``recorded`` or ``synthesized``.
        created: when (free text).
        client: the client that spoke (free text).
        endpoint: the path and query the client connected to, e.g.
            ``/v1/realtime?model=gpt-realtime``.
        model: the endpoint query's model, ``""`` if none.
        redactions: the redaction rules that ran when it was written.
        note: free text.
    """

    made: str
    created: str
    client: str
    endpoint: str
    model: str
    redactions: tuple[str, ...]
    note: str

    @classmethod
    def of(cls, header: Header) -> HeaderFacts:
        """The facts of ``header``."""
        query = "&".join(f"{k}={v}" for k, v in header.query.items())
        return cls(
            made=str(header.made),
            created=header.created,
            client=header.client,
            endpoint=header.path + (f"?{query}" if query else ""),
            model=header.query.get("model", ""),
            redactions=tuple(header.redactions),
            note=header.note,
        )


@dataclass(frozen=True, slots=True)
class Inspection:
    """A whole cassette: its header's facts and its connections.

    Attributes:
        path: the cassette file (``None`` if the frames came from elsewhere).
        header: the header's facts.
        frames: the number of frames.
        connections: per connection, in order of the connection index.
        gap_seconds: the threshold the gaps were found with.
    """

    path: str | None
    header: HeaderFacts
    frames: int
    connections: tuple[Connection, ...]
    gap_seconds: float = DEFAULT_GAP_SECONDS

    @property
    def redactions(self) -> dict[str, int]:
        """Placeholders found in the whole file, per rule name."""
        total: dict[str, int] = {}
        for conn in self.connections:
            for name, count in conn.redactions.items():
                total[name] = total.get(name, 0) + count
        return total

    def to_json(self) -> dict[str, Any]:
        """The inspection as JSON-ready data (the shape ``inspect --json`` prints)."""
        data = _plain(self)
        assert isinstance(data, dict)
        data["redactions"] = self.redactions
        return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, AudioFormat):
            out["bytes_per_second"] = value.bytes_per_second
        return out
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
