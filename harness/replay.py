"""The replay engine: one connection's cursor over recorded frames (pure core, no I/O).

Theory of operation
-------------------

A :class:`Replay` plays the frames of one recorded connection to one live client. It is fed
what the client sends (:meth:`Replay.receive_text`, :meth:`~Replay.receive_binary`,
:meth:`~Replay.receive_close`) and drained of what to send (:meth:`Replay.next_to_send`),
h11-style; the server does the socket work and the waiting.

1. **Order.** Recorded frames are read in file order, lazily. Server frames go out in
   recorded order; client frames are *matched* against what the client sends.
2. **Connect.** Server frames recorded before the first client frame (``session.created``)
   are released as soon as the client connects.
3. **Causal release.** A server frame is released once every client frame recorded before
   it has been matched (and every server frame before it released). Nothing else holds it.
4. **Matching, in any causal order.** An arriving client frame is compared, earliest first,
   with the not-yet-matched client frames of the *causal window* (the next ``lookahead``
   recorded frames from the release cursor) and matches the first one it equals under the
   :class:`~harness.matching.MatchRules`. So concurrent client frames (an SDK's tracing
   ``session.update`` racing the first user event) may arrive in either order.
5. **Mismatch.** A client frame that equals none in the window is recorded as a
   :class:`Mismatch` (with a compiler-style report diffing it against the best candidate:
   the first unmatched frame of the same type, else the first unmatched one) and answered
   with the API's ``error`` event, code ``cassette_mismatch``. Nothing is consumed: the
   client may still send the expected frame. What the mismatch shows of the client's
   frame (the report, the error event's message, :attr:`Mismatch.received`, the diff) is
   redacted first with the replay's redaction rules (the default rules unless given: pass
   the rules the cassette was recorded with), as the recorder would write it: the
   comparison itself runs on the real values.
6. **Malformed input** (over ``max_frame_bytes``, not JSON, not an object, binary where
   none is recorded, an unknown event type) that matches nothing is a mismatch too, but is
   answered with the error the API gives for that input (``invalid_json``,
   ``frame_too_large``, ``invalid_value`` ...). The replay carries on.
7. **Closes are frames.** A recorded server close is sent as a close frame with its code
   and reason (1006, "abnormal", is an abort without a close frame); the replay then ends.
   A client close matches a recorded client close (code compared only if the rules say so).
8. **Unplayed frames.** When the connection ends, recorded frames never released or matched
   are reported as :class:`Unplayed`.
9. **Pacing** (``speed``). Every released frame carries ``due``, the monotonic time to send
   it: ``0`` when ``speed`` is 0 (as fast as causality allows); otherwise the anchor's time
   plus the recorded gap divided by ``speed``, where the anchor is the arrival of the last
   client frame recorded before it (or the connect). The caller passes ``now`` in; the core
   owns no clock. A frame taken but not sent when the connection ends (it was waiting for
   its time) is given back with :meth:`Replay.unsend` and counts as unplayed.
10. **Ids the client mints are rebound** (:mod:`harness.rebinding`). Where a matched client
    event carries an id (``item.id``, ``previous_item_id``, ``event_id``...) the recording
    had another, later server events carry the client's id wherever the recording carried
    the recorded one, and later client events naming the client's id match the recorded
    one. Only events that mention a bound id are decoded and re-encoded.

Frames are encoded once, by :mod:`harness.prepared` (a :class:`PreloadedCassette` or a
:class:`StreamedCassette`, re-exported here), so memory stays constant whatever the size.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from harness import _json
from harness.cassette import (
    MAX_DEPTH,
    Frame,
    FrameKind,
    Side,
    exceeds_depth,
)
from harness.conversation import error_event
from harness.errors import UsageError
from harness.matching import (
    DEFAULT_RULES,
    Comparison,
    Difference,
    MatchRules,
    compare_binary,
    compare_events,
    format_value,
)
from harness.prepared import (
    PreloadedCassette,
    Prepared,
    PreparedCassette,
    StreamedCassette,
    prepare,
    prepare_cassette,
)
from harness.rebinding import IdBindings
from harness.redaction import RedactionRules

__all__ = [
    "CLIENT_EVENT_TYPES",
    "DEFAULT_LOOKAHEAD",
    "DEFAULT_MAX_FRAME_BYTES",
    "ErrorCode",
    "Malformed",
    "Mismatch",
    "OutKind",
    "Outgoing",
    "PreloadedCassette",
    "Prepared",
    "PreparedCassette",
    "Replay",
    "ReplayResult",
    "StreamedCassette",
    "Unplayed",
    "check_event_type",
    "parse_client_text",
    "prepare",
    "prepare_cassette",
]

DEFAULT_LOOKAHEAD = 1024
# openai-agents refuses frames over 8 MiB; we answer bigger client frames with an error.
DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024
_UNPLAYED_KEPT = 20
_MISMATCHES_KEPT = 100
_DIFFS_SHOWN = 5
_TEXT_SHOWN = 200  # characters of a malformed text frame a mismatch keeps
# Redacted before the cut: a key (~50-200 characters) that starts before it is matched whole.
_CUT_MARGIN = 512
# What a mismatch shows of the client's values (report, error event, Mismatch.received) is
# redacted with the replay's rules, these unless given, as a cassette would be (rule 5).
_DEFAULT_REDACTION = RedactionRules.default()
_WAY_OUT = "re-record with --realtime-record-mode=all, or ignore the field (README: Matching rules)"

# The GA client events (Realtime API reference, "Client events").
CLIENT_EVENT_TYPES = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
        "transcription_session.update",
    }
)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"harness.replay.{old} is deprecated: use {new}", DeprecationWarning, stacklevel=3
    )


class OutKind(StrEnum):
    """What the server must do with an :class:`Outgoing`."""

    TEXT = "text"
    BINARY = "binary"
    CLOSE = "close"
    ABORT = "abort"


class ErrorCode(StrEnum):
    """``error.code`` of the error events the harness itself sends."""

    CASSETTE_MISMATCH = "cassette_mismatch"
    INVALID_JSON = "invalid_json"
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_NOT_SUPPORTED = "binary_frame_not_supported"
    INVALID_VALUE = "invalid_value"
    MISSING_TYPE = "missing_required_parameter"


class Outgoing(NamedTuple):
    """One thing for the server to send (a NamedTuple: one is built per frame sent).

    Attributes:
        kind: text, binary, close, or abort (drop the TCP connection without a close frame).
        data: the payload (UTF-8 JSON for text).
        due: monotonic time to send it at (0 = now).
        source: the recorded frame, or ``None`` for an error event the harness made.
        code: the close code (``None`` = close without status).
        reason: the close reason.
    """

    kind: OutKind
    data: bytes
    due: float = 0.0
    source: Prepared | None = None
    code: int | None = None
    reason: str = ""

    @property
    def frame(self) -> Frame | None:
        """The recorded frame sent, or ``None`` for an error event the harness made."""
        return self.source.frame if self.source is not None else None

    def describe(self) -> str:
        """A short label for timelines: the event type or the close code."""
        frame = self.frame
        return frame.describe() if frame is not None else "error (harness)"


@dataclass(frozen=True, slots=True)
class Malformed:
    """Client input the API would refuse outright, with the error it gives."""

    code: ErrorCode
    message: str
    param: str | None = None


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A client frame that matched nothing the cassette expected.

    Attributes:
        cassette: the cassette file (or ``None``).
        lineno: the line of the expected frame (0 if there is none).
        conn: the recorded connection replayed (as :attr:`harness.cassette.Frame.conn`).
        serial: the live connection's serial number on the server (0, 1, ...).
        client_frame: the expected frame's index among the recorded client frames of its
            connection (1-based; 0 if none was expected).
        expected: the recorded frame diffed against (``None`` when none was left).
        received: what the client sent, redacted as a cassette would hold it (with the
            replay's :class:`~harness.redaction.RedactionRules`, the default rules unless
            given: a secret at a key path or matching a pattern is its placeholder): the
            decoded event, the bytes, the close code, or for malformed text its first 200
            characters (a key-path rule's key name redacts the value written after it
            there).
        differences: where they differ.
        ignored: fields skipped by the match rules.
        report: the readable, multi-line report.
        error_event: the ``error`` event sent to the client.
    """

    cassette: str | None
    lineno: int
    conn: int
    serial: int
    client_frame: int
    expected: Frame | None
    received: Any
    differences: tuple[Difference, ...]
    ignored: tuple[str, ...]
    report: str
    error_event: dict[str, Any]

    @property
    def connection(self) -> int:
        """Deprecated spelling of :attr:`serial` (README: Deprecated names)."""
        _deprecated("Mismatch.connection", "Mismatch.serial")
        return self.serial


@dataclass(frozen=True, slots=True)
class Unplayed:
    """Recorded frames of one connection never released or matched by its end.

    Attributes:
        cassette: the cassette file (or ``None``).
        conn: the recorded connection.
        serial: the live connection's serial number on the server.
        count: how many frames were left.
        frames: the first of them (at most 20).
        report: the readable report.
        read_lines: the cassette lines of every unplayed frame the replay had read (at most
            about ``lookahead``), for the HTML report's greyed marks.
        rest_from: the cassette line of the first frame the replay never read: every frame
            of this recorded connection from that line on is unplayed too (0: none).
    """

    cassette: str | None
    conn: int
    serial: int
    count: int
    frames: tuple[Frame, ...]
    report: str
    read_lines: tuple[int, ...] = ()
    rest_from: int = 0

    @property
    def connection(self) -> int:
        """Deprecated spelling of :attr:`serial` (README: Deprecated names)."""
        _deprecated("Unplayed.connection", "Unplayed.serial")
        return self.serial


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What one connection's replay came to."""

    mismatches: tuple[Mismatch, ...]
    unplayed: Unplayed | None

    @property
    def ok(self) -> bool:
        """No mismatch and nothing left unplayed."""
        return not self.mismatches and self.unplayed is None


def parse_client_text(
    data: str | bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> dict[str, Any] | Malformed:
    """Decode a client text frame into an event, or say why the API would refuse it.

    Does not check the event type (a cassette may have recorded an unknown one).
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "replace"))
    if size > max_bytes:
        return Malformed(
            ErrorCode.FRAME_TOO_LARGE,
            f"The frame of {size} bytes exceeds the maximum of {max_bytes} bytes.",
        )
    try:
        value = _json.loads(data)
    except _json.JSONDecodeError as exc:
        return Malformed(
            ErrorCode.INVALID_JSON, f"The server could not parse the event as JSON: {exc}"
        )
    if exceeds_depth(value, MAX_DEPTH, data):
        return Malformed(
            ErrorCode.INVALID_JSON,
            f"The event nests more than {MAX_DEPTH} levels deep; the server does not accept "
            "events nested that deep.",
        )
    if not isinstance(value, dict):
        kind = (
            "array"
            if isinstance(value, list)
            else "string"
            if isinstance(value, str)
            else "null"
            if value is None
            else "boolean"
            if isinstance(value, bool)
            else "number"
        )
        return Malformed(
            ErrorCode.INVALID_JSON, f"Expected a JSON object event, got a JSON {kind}."
        )
    return value


def check_event_type(event: dict[str, Any]) -> Malformed | None:
    """The API's refusal for a missing or unknown client event ``type``, if any."""
    kind = event.get("type")
    if not isinstance(kind, str):
        return Malformed(ErrorCode.MISSING_TYPE, "Missing required parameter: 'type'.", "type")
    if kind not in CLIENT_EVENT_TYPES:
        supported = ", ".join(f"'{t}'" for t in sorted(CLIENT_EVENT_TYPES))
        return Malformed(
            ErrorCode.INVALID_VALUE,
            f"Invalid value: '{kind}'. Supported values are: {supported}.",
            "type",
        )
    return None


class _Entry:
    """A recorded frame in the window, with its match state (the only mutable state)."""

    __slots__ = ("matched_at", "ordinal", "prepared")

    def __init__(self, prepared: Prepared, ordinal: int) -> None:
        self.prepared = prepared
        self.ordinal = ordinal  # 1-based index among client frames; 0 for server frames
        self.matched_at: float | None = None


# Received client input, normalised: ("event", dict) / ("binary", bytes) / ("close", code).
_Received = tuple[FrameKind, Any]


class Replay:
    """The replay state machine of one connection (see the module's theory of operation).

    Example::

        replay = Replay(script.frames(0), cassette=script.path)
        replay.connect(now=0.0)
        while (out := replay.next_to_send()) is not None: ...   # session.created
        replay.receive_text('{"type": "session.update", ...}', now=0.1)
    """

    def __init__(
        self,
        frames: Iterator[Prepared],
        *,
        rules: MatchRules = DEFAULT_RULES,
        speed: float = 0.0,
        lookahead: int = DEFAULT_LOOKAHEAD,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        cassette: str | None = None,
        conn: int = 0,
        serial: int = 0,
        redaction: RedactionRules | None = None,
    ) -> None:
        """Start a replay over ``frames`` (one recorded connection, in order).

        Args:
            frames: the prepared frames of the recorded connection.
            rules: how client frames are compared.
            speed: 0 = as fast as causality allows, 1 = recorded gaps, else scaled.
            lookahead: how many recorded frames past the release cursor a client frame
                may match (rule 4).
            max_frame_bytes: client text frames larger than this are refused (rule 6).
            cassette: the cassette path, for reports.
            conn: the recorded connection index, for reports.
            serial: the live connection's serial number, for reports and event ids.
            redaction: the rules every value a mismatch shows of the client is redacted
                with (rule 5): the rules the cassette was recorded with (your own added
                rules included); default :meth:`RedactionRules.default()
                <harness.redaction.RedactionRules.default>`. Matching is not affected.
        """
        if speed < 0 or speed != speed:
            raise UsageError(f"speed must be 0 (no pacing) or a positive factor, got {speed}")
        if lookahead < 1:
            raise UsageError(f"lookahead must be at least 1 frame, got {lookahead}")
        self._source = frames
        self._rules = rules
        self._speed = float(speed)
        self._lookahead = lookahead
        self._max_frame_bytes = max_frame_bytes
        self._cassette = cassette
        self._conn = conn
        self._serial = serial
        self._redaction = redaction if redaction is not None else _DEFAULT_REDACTION
        self._window: deque[_Entry] = deque()
        self._control: deque[Outgoing] = deque()
        self._client_count = 0  # client frames read from the source so far
        self._received_count = 0
        self._errors_made = 0
        self._anchor = (0.0, 0.0)  # (monotonic time, recorded t) pacing is measured from
        self._exhausted = False
        self._connected = False
        self._ended = False
        self._mismatches: list[Mismatch] = []
        self._mismatches_dropped = 0
        self._result: ReplayResult | None = None
        self._ids = IdBindings()  # rule 10: ids the client mints, rebound

    # -- state ------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """Whether the replay is over (a close was sent or received, or :meth:`finish`)."""
        return self._ended

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        """The mismatches so far."""
        return tuple(self._mismatches)

    def _pull(self) -> _Entry | None:
        if self._exhausted:
            return None
        prepared = next(self._source, None)
        if prepared is None:
            self._exhausted = True
            return None
        ordinal = 0
        if prepared.side is Side.CLIENT:
            self._client_count += 1
            ordinal = self._client_count
        entry = _Entry(prepared, ordinal)
        self._window.append(entry)
        return entry

    # -- driving ----------------------------------------------------------------------------

    def connect(self, now: float) -> None:
        """The client connected at ``now``: start the clock (rule 2)."""
        self._connected = True
        self._anchor = (now, 0.0)

    def next_to_send(self) -> Outgoing | None:
        """The next thing to send, or ``None`` while waiting for the client (or at the end).

        Releases lazily, one frame per call, so a stream of a million frames never sits in
        memory: call until ``None`` after connecting and after each ``receive_*``.
        """
        if self._control:
            return self._control.popleft()
        if self._ended or not self._connected:
            return None
        window = self._window
        while True:
            if not window:
                # Fast path: nothing pending in the window, take the next frame directly.
                if self._exhausted:
                    return None
                prepared = next(self._source, None)
                if prepared is None:
                    self._exhausted = True
                    return None
                if prepared.side is Side.SERVER:
                    return self._outgoing(prepared)
                self._client_count += 1
                window.append(_Entry(prepared, self._client_count))
                return None  # rule 3: wait for this client frame
            entry = window[0]
            prepared = entry.prepared
            if prepared.side is Side.CLIENT:
                if entry.matched_at is None:
                    return None  # rule 3: wait for this client frame
                window.popleft()
                if prepared.t >= self._anchor[1]:
                    self._anchor = (entry.matched_at, prepared.t)
                continue
            window.popleft()
            return self._outgoing(prepared)

    def unsend(self, outgoing: Iterable[Outgoing]) -> None:
        """Give back frames taken from :meth:`next_to_send` that never reached the client.

        The server calls it when the connection ends while a frame waits for its paced
        time (or a batch is still being gathered): the frames go back to the front of the
        window, in order, so :meth:`finish` reports them as unplayed (rule 8) instead of
        counting them as sent. Error events the harness made are dropped.
        """
        for out in reversed(list(outgoing)):
            if out.source is not None:
                self._window.appendleft(_Entry(out.source, 0))

    def _outgoing(self, prepared: Prepared) -> Outgoing:
        due = 0.0
        if self._speed > 0:
            anchor_time, anchor_t = self._anchor
            due = anchor_time + max(0.0, prepared.t - anchor_t) / self._speed
        kind = prepared.kind
        if kind is FrameKind.EVENT:
            if self._ids:  # rule 10: only events that mention a bound id are re-encoded
                data = self._ids.outbound(prepared.data, _decoded(prepared))
                return Outgoing(OutKind.TEXT, data, due, prepared)
            return Outgoing(OutKind.TEXT, prepared.data, due, prepared)
        if kind is FrameKind.BINARY:
            return Outgoing(OutKind.BINARY, prepared.data, due, prepared)
        self._ended = True  # rule 7
        frame = prepared.frame
        out = OutKind.ABORT if frame.close_code == 1006 else OutKind.CLOSE
        return Outgoing(out, b"", due, prepared, frame.close_code, frame.close_reason)

    def receive_text(self, data: str | bytes, now: float) -> None:
        """The client sent a text frame at ``now``."""
        if self._ended:
            return
        parsed = parse_client_text(data, max_bytes=self._max_frame_bytes)
        if isinstance(parsed, Malformed):
            self._refuse((FrameKind.EVENT, _text_shown(data, self._redaction)), parsed)
            return
        self._receive((FrameKind.EVENT, parsed), now)

    def receive_event(self, event: dict[str, Any], now: float) -> None:
        """The client sent ``event`` (already decoded) at ``now``."""
        if not self._ended:
            self._receive((FrameKind.EVENT, event), now)

    def receive_binary(self, data: bytes, now: float) -> None:
        """The client sent a binary frame at ``now``."""
        if not self._ended:
            self._receive((FrameKind.BINARY, bytes(data)), now)

    def receive_close(self, code: int | None, now: float) -> None:
        """The client closed (``code`` ``None`` for no status); the replay ends (rule 7)."""
        if self._ended:
            return
        self._match((FrameKind.CLOSE, code), now)
        self._ended = True

    def _receive(self, received: _Received, now: float) -> None:
        self._received_count += 1
        if self._match(received, now):
            return
        kind, payload = received
        malformed: Malformed | None = None
        if kind is FrameKind.BINARY:
            malformed = Malformed(
                ErrorCode.BINARY_NOT_SUPPORTED,
                "Binary frames are not supported: send JSON text events "
                "(audio goes base64-encoded in input_audio_buffer.append).",
            )
        else:
            malformed = check_event_type(payload)
        if malformed is not None:
            self._refuse(received, malformed)
        else:
            self._mismatch(received)

    def _match(self, received: _Received, now: float) -> bool:
        """Rule 4: match the earliest equal unmatched client frame in the window."""
        kind, payload = received
        if kind is FrameKind.EVENT and self._ids:
            payload = self._ids.inbound(payload)  # rule 10: the recorded ids it stands for
        window = self._window
        limit = self._lookahead
        i = 0
        while i < limit:
            if i >= len(window) and self._pull() is None:
                break
            entry = window[i]
            i += 1
            prepared = entry.prepared
            if prepared.side is not Side.CLIENT or entry.matched_at is not None:
                continue
            if prepared.kind is not kind:
                continue
            frame = prepared.frame
            if kind is FrameKind.EVENT:
                assert frame.event is not None
                if frame.event.get("type") != payload.get("type"):
                    continue
                if not compare_events(frame.event, payload, self._rules).ok:
                    continue
            elif kind is FrameKind.BINARY:
                if frame.binary != payload:
                    continue
            elif self._rules.close_code and frame.close_code != payload:
                continue
            entry.matched_at = now
            if kind is FrameKind.EVENT:
                assert frame.event is not None
                self._ids.bind(frame.event, payload)  # rule 10
            return True
        return False

    def _candidate(self, received: _Received) -> _Entry | None:
        """The recorded frame a failed match is diffed against (rule 5)."""
        kind, payload = received
        first: _Entry | None = None
        window = self._window
        for i in range(self._lookahead):
            if i >= len(window) and self._pull() is None:
                break
            entry = window[i]
            if entry.prepared.side is not Side.CLIENT or entry.matched_at is not None:
                continue
            frame = entry.prepared.frame
            if first is None:
                first = entry
            if frame.kind is kind and (
                kind is not FrameKind.EVENT or frame.event_type == payload.get("type")
            ):
                return entry
        return first

    def _next_event_id(self) -> str:
        self._errors_made += 1
        return f"event_harness{self._serial:04d}x{self._errors_made:06d}"

    def _where(self, frame: Frame | None) -> str:
        path = self._cassette or "<cassette>"
        if frame is not None and frame.lineno:
            return f"{path}:{frame.lineno}"
        return path

    def _mismatch(self, received: _Received) -> None:
        kind = received[0]
        redaction = self._redaction
        entry = self._candidate(received)
        shown = _shown(received, redaction)  # what the report may show of it (rule 5)
        received_label = _label(shown)
        client_event_id = shown[1].get("event_id") if kind is FrameKind.EVENT else None
        if entry is None:
            comparison = Comparison()
            first = (
                f"{self._where(None)}: client frame {self._received_count} "
                f"({received_label}) was not expected: no recorded client frame is left "
                f"on conn {self._conn}"
            )
            lines = [
                first,
                f"  received: {_preview(shown, redaction)}",
                "  re-record with --realtime-record-mode=all, or stop sending after the "
                "recorded session ends",
            ]
            message = first
            expected_frame = None
            ordinal = 0
        else:
            expected_frame = entry.prepared.frame
            ordinal = entry.ordinal
            comparison = _compare(expected_frame, received, received_label, self._rules, redaction)
            what = expected_frame.describe()
            if expected_frame.describe() != received_label:
                what = f"expected {what}, received {received_label}"
            first = f"{self._where(expected_frame)}: client frame {ordinal} does not match ({what})"
            lines = [first]
            for diff in comparison.differences[:_DIFFS_SHOWN]:
                lines += [
                    f"  at {diff.path}",
                    f"    expected: {diff.expected}",
                    f"    received: {diff.received}",
                ]
            extra = len(comparison.differences) - _DIFFS_SHOWN
            if extra > 0:
                lines.append(f"  ... and {extra} more difference{'s' if extra > 1 else ''}")
            if comparison.ignored:
                lines.append(f"  ignored fields: {', '.join(comparison.ignored)}")
            lines.append(f"  {_WAY_OUT}")
            message = first
            if comparison.differences:
                d = comparison.differences[0]
                message += f": at {d.path} expected {d.expected}, received {d.received}"
        event = error_event(
            self._next_event_id(),
            code=ErrorCode.CASSETTE_MISMATCH,
            message=_scrubbed(message, redaction),
            param=comparison.differences[0].path if comparison.differences else None,
            client_event_id=client_event_id if isinstance(client_event_id, str) else None,
        )
        self._record(
            Mismatch(
                cassette=self._cassette,
                lineno=expected_frame.lineno if expected_frame is not None else 0,
                conn=self._conn,
                serial=self._serial,
                client_frame=ordinal,
                expected=expected_frame,
                received=shown[1],
                differences=comparison.differences,
                ignored=comparison.ignored,
                report=_scrubbed("\n".join(lines), redaction),
                error_event=event,
            )
        )

    def _refuse(self, received: _Received, malformed: Malformed) -> None:
        """Rule 6: answer malformed input with the API's error, and keep the mismatch.

        Malformed text comes already cut and redacted (:func:`_text_shown`).
        """
        kind, payload = received
        entry = self._candidate((kind, payload if isinstance(payload, dict) else {}))
        expected = entry.prepared.frame if entry is not None else None
        redaction = self._redaction
        shown = _shown(received, redaction)
        client_event_id = shown[1].get("event_id") if isinstance(shown[1], dict) else None
        first = (
            f"{self._where(expected)}: client sent malformed input "
            f"({malformed.code}): {malformed.message}"
        )
        lines = [first, f"  received: {_preview(shown, redaction)}"]
        if expected is not None:
            lines.append(
                f"  expected: client frame {entry.ordinal if entry else 0} ({expected.describe()})"
            )
        lines.append("  the API refuses this input too: fix the client")
        event = error_event(
            self._next_event_id(),
            code=malformed.code,
            # "Invalid value: '<the client's type>'": a pattern may match the type.
            message=_scrubbed(malformed.message, redaction),
            param=malformed.param,
            client_event_id=client_event_id if isinstance(client_event_id, str) else None,
        )
        self._record(
            Mismatch(
                cassette=self._cassette,
                lineno=expected.lineno if expected is not None else 0,
                conn=self._conn,
                serial=self._serial,
                client_frame=entry.ordinal if entry is not None else 0,
                expected=expected,
                received=shown[1],
                differences=(),
                ignored=(),
                report=_scrubbed("\n".join(lines), redaction),
                error_event=event,
            )
        )

    def _record(self, mismatch: Mismatch) -> None:
        # A client that sends a flood of bad frames gets an error for each, but only the
        # first _MISMATCHES_KEPT are kept (each holds what was received: up to 8 MiB).
        if len(self._mismatches) < _MISMATCHES_KEPT:
            self._mismatches.append(mismatch)
        else:
            self._mismatches_dropped += 1
        self._control.append(Outgoing(OutKind.TEXT, _json.dumps(mismatch.error_event), 0.0, None))

    def finish(self) -> ReplayResult:
        """End the replay and report what it came to (idempotent).

        Reads the rest of the recorded connection (streaming) to count unplayed frames.
        """
        if self._result is not None:
            return self._result
        self._ended = True
        self._control.clear()
        kept: list[Frame] = []
        read_lines: list[int] = []
        rest_from = 0
        count = 0
        waiting_for: _Entry | None = None
        for entry in self._window:
            if entry.prepared.side is Side.CLIENT and entry.matched_at is not None:
                continue
            if waiting_for is None and entry.prepared.side is Side.CLIENT:
                waiting_for = entry
            count += 1
            read_lines.append(entry.prepared.lineno)
            if len(kept) < _UNPLAYED_KEPT:
                kept.append(entry.prepared.frame)
        self._window.clear()
        if not self._exhausted:
            for prepared in self._source:
                if not rest_from:
                    rest_from = prepared.lineno
                count += 1
                if len(kept) < _UNPLAYED_KEPT:
                    kept.append(prepared.frame)
            self._exhausted = True
        close = getattr(self._source, "close", None)
        if callable(close):
            close()
        unplayed = None
        if count:
            unplayed = Unplayed(
                cassette=self._cassette,
                conn=self._conn,
                serial=self._serial,
                count=count,
                frames=tuple(kept),
                report=self._unplayed_report(count, kept, waiting_for),
                read_lines=tuple(read_lines),
                rest_from=rest_from,
            )
        if self._mismatches_dropped:
            last = self._mismatches[-1]
            more = self._mismatches_dropped
            self._mismatches[-1] = replace(
                last,
                report=f"{last.report}\n  ... and {more} more mismatch{'es' if more > 1 else ''} "
                f"on this connection, not kept (the first {_MISMATCHES_KEPT} are)",
            )
        self._result = ReplayResult(tuple(self._mismatches), unplayed)
        return self._result

    def _unplayed_report(self, count: int, kept: list[Frame], waiting: _Entry | None) -> str:
        plural = "s" if count != 1 else ""
        lines = [
            f"{self._where(kept[0])}: {count} recorded frame{plural} never played on conn "
            f"{self._conn} (connection {self._serial})"
        ]
        for frame in kept:
            lines.append(
                f"  line {frame.lineno}: {frame.side} {frame.describe()} (t={frame.t:.3f})"
            )
        if count > len(kept):
            lines.append(f"  ... and {count - len(kept)} more")
        if waiting is not None:
            lines.append(
                f"  the replay was waiting for client frame {waiting.ordinal} "
                f"({waiting.prepared.frame.describe()}); drive the whole session, or "
                "re-record with --realtime-record-mode=all"
            )
        else:
            lines.append(
                "  the connection ended before the server finished: keep the client "
                "connected until the recorded session ends"
            )
        return "\n".join(lines)


def _decoded(prepared: Prepared) -> dict[str, Any] | None:
    """A server event's decoded form when it is in memory (preloaded), else None (rule 10)."""
    parsed = prepared.parsed
    return parsed.event if parsed is not None else None


def _compare(
    expected: Frame,
    received: _Received,
    label: str,
    rules: MatchRules,
    redaction: RedactionRules,
) -> Comparison:
    """The differences a mismatch report shows, redacted with ``redaction``.

    ``label`` is the received frame's, made from its redacted form.
    """
    kind, payload = received
    if expected.kind is not kind:
        return Comparison((Difference("$", expected.describe(), label),))
    if kind is FrameKind.EVENT:
        assert expected.event is not None
        return compare_events(expected.event, payload, rules, redaction=redaction)
    if kind is FrameKind.BINARY:
        assert expected.binary is not None
        return compare_binary(expected.binary, payload)
    return Comparison(
        (Difference("$.code", format_value(expected.close_code), format_value(payload)),)
    )


def _label(received: _Received) -> str:
    kind, payload = received
    if kind is FrameKind.EVENT:
        if isinstance(payload, dict):
            kind_name = payload.get("type")
            return kind_name if isinstance(kind_name, str) else "event without type"
        return "text"
    if kind is FrameKind.BINARY:
        return f"binary ({len(payload)} bytes)"
    return f"close {payload if payload is not None else '(no status)'}"


def _shown(received: _Received, redaction: RedactionRules) -> _Received:
    """What a mismatch may show of a received frame: redacted with ``redaction``.

    An event or bytes no rule fires on is returned as the same object (no copy).
    """
    kind, payload = received
    if kind is FrameKind.BINARY:
        return kind, redaction.redact_bytes(payload).value
    if isinstance(payload, dict):
        return kind, redaction.redact_event(payload).value
    return received  # a close code, or malformed text: cut and redacted already (_text_shown)


def _text_shown(data: str | bytes, redaction: RedactionRules) -> str | bytes:
    """The first characters of malformed text that a mismatch keeps, redacted.

    Redacted before the cut (with a margin past it), so that a key the cut runs through is
    still recognised whole; bytes are read as Latin-1 (one character per byte) and stay
    bytes.
    """
    window = data[: _TEXT_SHOWN + _CUT_MARGIN]
    if isinstance(window, bytes):
        text = redaction.redact_event_text(window.decode("latin-1")).value
        return text.encode("latin-1", "replace")[:_TEXT_SHOWN]
    return redaction.redact_event_text(window).value[:_TEXT_SHOWN]


def _scrubbed(text: str, redaction: RedactionRules) -> str:
    """A report line or message with ``redaction``'s pattern rules applied (the last net)."""
    return redaction.redact_text(text).value


def _preview(received: _Received, redaction: RedactionRules) -> str:
    """A received frame (already redacted by :func:`_shown`) shortened for a report line."""
    kind, payload = received
    if kind is FrameKind.BINARY:
        return _label(received)
    return format_value(payload, limit=160, redaction=redaction)


_RENAMED = {
    "Script": "PreparedCassette",
    "ReplayScript": "PreloadedCassette",
    "StreamingScript": "StreamedCassette",
    "load_script": "prepare_cassette",
}


def __getattr__(name: str) -> Any:
    """The names this module had before 0.2 (README: Deprecated names), with a warning."""
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module 'harness.replay' has no attribute {name!r}")
    _deprecated(name, new)
    return globals()[new]
