"""The cassette format v1: a header line, then one frame per line (JSONL, UTF-8).

A cassette is what crossed the wire between a Realtime client and the API, in wire order::

    {"format": "realtime-harness-cassette", "version": 1, "made": "recorded", ...}
    {"side": "server", "t": 0.012, "conn": 0, "event": {"type": "session.created", ...}}
    {"side": "client", "t": 0.013, "conn": 0, "event": {"type": "session.update", ...}}
    {"side": "server", "t": 1.5, "conn": 0, "binary": "<base64>"}
    {"side": "server", "t": 2.0, "conn": 0, "close": {"code": 1011, "reason": "..."}}

``t`` is seconds since that connection opened (millisecond precision), non-decreasing per
connection; ``conn`` is the connection index (0, 1, ... for sessions that reconnect).

Reading streams (:func:`open_cassette` holds one line at a time, so a cassette of gigabytes
reads in constant memory); :func:`load_cassette` loads a small file whole. Writing
(:class:`CassetteWriter`) writes and flushes one line per frame with a single ``write`` call
(or the lines of several frames with one, :meth:`CassetteWriter.write_frames`, or lines a
hot path encoded itself, :meth:`CassetteWriter.write_lines`), so a process killed at any
instant leaves every complete frame readable; a torn last line is reported by the reader
with its line number, after the frames before it. A write that fails part way is cut back
to whole lines. :func:`encode_frame` (and :func:`encode_event_frame`, its fast path for
events) is the one place the line layout is spelled. A refused handshake is recorded as a
close frame (:mod:`harness.refusal`).

Every bad input raises :class:`~harness.errors.CassetteError` naming the file, the line and
what is wrong; unknown header keys are kept (:attr:`Header.extra`) and written back.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, BinaryIO, Literal, NamedTuple, TypeAlias

from harness import _json
from harness.errors import CassetteError, CassetteNotFound, UsageError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_DEPTH",
    "CanonicalLine",
    "Cassette",
    "CassetteReader",
    "CassetteWriter",
    "Frame",
    "FrameKind",
    "Header",
    "Made",
    "Side",
    "StrPath",
    "encode_event_frame",
    "encode_frame",
    "exceeds_depth",
    "load_cassette",
    "open_cassette",
    "parse_frame_line",
    "split_canonical",
    "wire_close",
]

FORMAT_NAME = "realtime-harness-cassette"
FORMAT_VERSION = 1

StrPath: TypeAlias = "str | os.PathLike[str]"

# Keys of the header line that Header models; anything else lands in Header.extra.
_HEADER_KEYS = frozenset(
    {"format", "version", "made", "created", "endpoint", "client", "redactions", "note"}
)
_PAYLOAD_KEYS = ("event", "binary", "close")
_READ_BUFFER = 1 << 20

MAX_DEPTH = 128
"""The deepest JSON nesting an event may have (the event object itself is level 1).

Everything read is also sent again: a replayed server event is re-encoded (orjson stops
encoding at 254 levels, though it decodes 1,024), a client event is matched and diffed,
and simulate mode copies events into its answers. A cassette line, or a client frame the
fake server receives, nested deeper than this is refused with a located error instead of
crashing half-way through a replay. Real Realtime events nest fewer than 10 levels (a
tool's JSON schema a few more); 128 leaves room for both and for the one level an answer
wraps around an echoed value.
"""


_COUNT_BELOW = 4096  # exceeds_depth counts brackets in texts up to this length


def exceeds_depth(value: Any, limit: int = MAX_DEPTH, text: bytes | str | None = None) -> bool:
    """Whether the JSON ``value`` nests more than ``limit`` levels (a container is a level).

    ``text``, the JSON the value was decoded from, makes the common case cheap: a text
    with no more than ``limit`` brackets cannot nest deeper, so the value is not walked.
    Counting costs per byte and walking per container, so only short texts are counted
    (a long line is mostly one string: audio). Iterative: it never recurses.
    """
    if text is not None:
        if len(text) <= limit:
            return False
        if len(text) <= _COUNT_BELOW:
            brackets = (
                text.count(b"{") + text.count(b"[")
                if isinstance(text, bytes)
                else text.count("{") + text.count("[")
            )
            if brackets <= limit:
                return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _not_json(exc: Exception) -> str:
    if "depth limit exceeded" in str(exc):  # orjson decodes at most 1,024 levels
        return _too_deep("the event")
    return f"not JSON: {exc}"


def _too_deep(what: str) -> str:
    return (
        f"{what} nests more than {MAX_DEPTH} levels deep, which cannot be replayed (real "
        "Realtime events nest fewer than 10; README: The cassette format)"
    )


class Side(StrEnum):
    """Which side of the WebSocket sent a frame."""

    CLIENT = "client"
    SERVER = "server"


class Made(StrEnum):
    """How a cassette came to be: recorded from the real API, or synthesized by hand/script."""

    RECORDED = "recorded"
    SYNTHESIZED = "synthesized"


class FrameKind(StrEnum):
    """What a frame carries: a JSON event (text frame), a binary frame, or a close."""

    EVENT = "event"
    BINARY = "binary"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Header:
    """The first line of a cassette: where and how the frames were made.

    Attributes:
        version: the format version (always 1 here).
        made: ``"recorded"`` or ``"synthesized"``.
        created: ISO 8601 timestamp of the recording, free text.
        path: the endpoint path the client connected to, e.g. ``/v1/realtime``.
        query: the endpoint query, e.g. ``{"model": "gpt-realtime"}``.
        client: free text naming the client that spoke.
        redactions: names of the redaction rules applied before writing.
        note: free text.
        extra: header keys this version does not know, kept for the round trip.
    """

    version: int = FORMAT_VERSION
    made: Made = Made.RECORDED
    created: str = ""
    path: str = "/v1/realtime"
    query: Mapping[str, str] = field(default_factory=dict)
    client: str = ""
    redactions: tuple[str, ...] = ()
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the header line as a JSON object (known keys first, then the extra ones)."""
        obj: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": self.version,
            "made": str(self.made),
            "created": self.created,
            "endpoint": {"path": self.path, "query": dict(self.query)},
            "client": self.client,
            "redactions": list(self.redactions),
        }
        if self.note:
            obj["note"] = self.note
        for key, value in self.extra.items():
            obj.setdefault(key, value)
        return obj

    @classmethod
    def from_json(cls, obj: Any, *, path: StrPath | None = None, lineno: int = 1) -> Header:
        """Build a header from the decoded first line; raise CassetteError if it is not one."""

        def bad(reason: str) -> CassetteError:
            return CassetteError(path, lineno, reason)

        if not isinstance(obj, dict):
            raise bad(f"header must be a JSON object, got {_json_kind(obj)}")
        if exceeds_depth(obj, MAX_DEPTH + 1):
            raise bad(_too_deep("the header"))
        if "format" not in obj and "side" in obj:
            raise bad("frame before the header: line 1 must be the cassette header")
        if obj.get("format") != FORMAT_NAME:
            raise bad(
                f"not a cassette header: format must be {FORMAT_NAME!r}, got {obj.get('format')!r}"
            )
        version = obj.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise bad(
                f"unsupported cassette version {version!r} (this harness reads version "
                f"{FORMAT_VERSION})"
            )
        made_raw = obj.get("made", Made.RECORDED.value)
        try:
            made = Made(made_raw)
        except ValueError:
            raise bad(
                f"header: made must be 'recorded' or 'synthesized', got {made_raw!r}"
            ) from None
        created = obj.get("created", "")
        if not isinstance(created, str):
            raise bad(f"header: created must be a string, got {_json_kind(created)}")
        endpoint = obj.get("endpoint", {})
        if not isinstance(endpoint, dict):
            raise bad(f"header: endpoint must be an object, got {_json_kind(endpoint)}")
        ep_path = endpoint.get("path", "/v1/realtime")
        if not isinstance(ep_path, str):
            raise bad(f"header: endpoint.path must be a string, got {_json_kind(ep_path)}")
        query = endpoint.get("query", {})
        if not isinstance(query, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in query.items()
        ):
            raise bad("header: endpoint.query must be an object of strings")
        client = obj.get("client", "")
        if not isinstance(client, str):
            raise bad(f"header: client must be a string, got {_json_kind(client)}")
        redactions = obj.get("redactions", [])
        if not isinstance(redactions, list) or not all(isinstance(r, str) for r in redactions):
            raise bad("header: redactions must be a list of strings")
        note = obj.get("note", "")
        if not isinstance(note, str):
            raise bad(f"header: note must be a string, got {_json_kind(note)}")
        extra = {k: v for k, v in obj.items() if k not in _HEADER_KEYS}
        return cls(
            version=version,
            made=made,
            created=created,
            path=ep_path,
            query=dict(query),
            client=client,
            redactions=tuple(redactions),
            note=note,
            extra=extra,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a cassette: who sent it, when, on which connection, and what.

    Exactly one payload is set: ``event`` (a JSON text frame), ``binary`` (a binary frame),
    or ``close_code``/``close_reason`` (a close frame; ``close_code`` is ``None`` for a close
    without status, which peers see as 1005).

    Attributes:
        side: who sent it.
        t: seconds since the connection opened.
        conn: connection index within the cassette.
        event: the decoded JSON event, for event frames.
        binary: the payload, for binary frames.
        close_code: the close code, for close frames.
        close_reason: the close reason, for close frames.
        lineno: the line in the cassette file (0 if the frame was not read from a file).
    """

    side: Side
    t: float
    conn: int = 0
    event: dict[str, Any] | None = None
    binary: bytes | None = None
    close_code: int | None = None
    close_reason: str = ""
    lineno: int = 0

    @property
    def kind(self) -> FrameKind:
        """``"event"``, ``"binary"`` or ``"close"``."""
        if self.event is not None:
            return FrameKind.EVENT
        if self.binary is not None:
            return FrameKind.BINARY
        return FrameKind.CLOSE

    @property
    def event_type(self) -> str | None:
        """The event's ``type`` (``None`` for binary and close frames, or a typeless event)."""
        if self.event is None:
            return None
        value = self.event.get("type")
        return value if isinstance(value, str) else None

    def describe(self) -> str:
        """A short human label: the event type, ``binary (N bytes)`` or ``close 1011``."""
        if self.event is not None:
            return self.event_type or "event without type"
        if self.binary is not None:
            return f"binary ({len(self.binary)} bytes)"
        return f"close {self.close_code if self.close_code is not None else '(no status)'}"

    @classmethod
    def of_event(cls, side: Side | str, t: float, conn: int, event: dict[str, Any]) -> Frame:
        """Make an event frame."""
        return cls(side=Side(side), t=t, conn=conn, event=event)

    @classmethod
    def of_binary(cls, side: Side | str, t: float, conn: int, data: bytes) -> Frame:
        """Make a binary frame."""
        return cls(side=Side(side), t=t, conn=conn, binary=bytes(data))

    @classmethod
    def of_close(
        cls, side: Side | str, t: float, conn: int, code: int | None, reason: str = ""
    ) -> Frame:
        """Make a close frame (``code=None`` for a close without status)."""
        return cls(side=Side(side), t=t, conn=conn, close_code=code, close_reason=reason)

    def to_json(self) -> dict[str, Any]:
        """Return the frame's cassette line as a JSON object."""
        obj: dict[str, Any] = {"side": str(self.side), "t": round(self.t, 3), "conn": self.conn}
        if self.event is not None:
            obj["event"] = self.event
        elif self.binary is not None:
            obj["binary"] = base64.b64encode(self.binary).decode("ascii")
        else:
            obj["close"] = {"code": self.close_code, "reason": self.close_reason}
        return obj


_TORN: Any = object()  # CassetteReader._decode's answer for a tolerated torn last line


def wire_close(code: int | None, reason: str = "") -> tuple[int | None, str]:
    """A recorded close's code and reason as an endpoint may put them in a close frame.

    A cassette may hold any code 1000..4999 (1005, 1006 and 1015 record a close without
    status, a dropped link, a TLS failure); RFC 6455 7.4 lets an endpoint send only
    1000-1003, 1007-1014 and 3000-4999, and 5.5 caps the reason at 123 UTF-8 bytes. Any
    other code becomes a close without status (``None``), and the reason is cut to fit.
    """
    if code is None or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return None, ""
    data = reason.encode("utf-8")
    if len(data) > 123:
        reason = data[:123].decode("utf-8", "ignore")
    return code, reason


# The bytes around "t" in a line, per (side, conn, payload key): a line is these, t, the
# payload and "}". Built once per key from the layout below; bounded (conns are few).
_ENVELOPES: dict[tuple[str, int, str], tuple[bytes, bytes]] = {}
_SIDES = frozenset({"client", "server"})


def _envelope(side: str, conn: int, key: str) -> tuple[bytes, bytes]:
    if len(_ENVELOPES) > 4096:
        _ENVELOPES.clear()
    envelope = (
        b'{"side":"' + side.encode() + b'","t":',
        b',"conn":' + _json.dumps(conn) + b',"' + key.encode() + b'":',
    )
    _ENVELOPES[(side, conn, key)] = envelope
    return envelope


def encode_frame(frame: Frame) -> bytes:
    """Return the frame's cassette line, without its newline, as :class:`CassetteWriter` writes it.

    The one owner of the line layout (envelope keys ``side``, ``t``, ``conn`` in this order,
    compact, the payload last, ``t`` rounded to milliseconds): the same bytes as encoding
    :meth:`Frame.to_json`, built without the intermediate object. Lines in this layout take
    the readers' fast path (:func:`split_canonical`).
    """
    side, conn = frame.side, frame.conn
    if side not in _SIDES or type(conn) is not int:  # a bool is not a conn
        return _json.dumps(frame.to_json())  # not the format's: the general encoding
    payload: Any
    if frame.event is not None:
        key, payload = "event", frame.event
    elif frame.binary is not None:
        key, payload = "binary", base64.b64encode(frame.binary).decode("ascii")
    else:
        key, payload = "close", {"code": frame.close_code, "reason": frame.close_reason}
    envelope = _ENVELOPES.get((side, conn, key)) or _envelope(side, conn, key)
    return b"".join(
        (envelope[0], _json.dumps(round(frame.t, 3)), envelope[1], _json.dumps(payload), b"}")
    )


def encode_event_frame(side: Side, t: float, conn: int, event: dict[str, Any]) -> bytes:
    """Return an event frame's cassette line without building the :class:`Frame`.

    The same bytes as ``encode_frame(Frame.of_event(side, t, conn, event))``, for hot paths
    that encode many events (the recording proxy): no frame value is made, and nothing is
    checked (``side`` must be a :class:`Side`, ``conn`` an ``int``).
    """
    envelope = _ENVELOPES.get((side, conn, "event")) or _envelope(side, conn, "event")
    return b"".join((envelope[0], _json.dumps(round(t, 3)), envelope[1], _json.dumps(event), b"}"))


@dataclass(frozen=True, slots=True)
class Cassette:
    """A cassette loaded whole: its header and every frame, in wire order.

    Attributes:
        header: the header line.
        frames: every frame, in file order.
        path: the file it was loaded from, if any (used in error messages).
        torn: what :func:`load_cassette` ``(allow_torn=True)`` found at the end: the error
            naming the torn last line, or ``None`` for a whole file.
    """

    header: Header
    frames: tuple[Frame, ...]
    path: str | None = None
    torn: CassetteError | None = None
    """The torn last line, when loaded with ``allow_torn=True`` (its frames stop before it)."""

    def conns(self) -> tuple[int, ...]:
        """The connection indexes present, sorted."""
        return tuple(sorted({f.conn for f in self.frames}))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _parse_frame(obj: Any, *, path: str | None, lineno: int) -> Frame:
    """Validate one decoded frame line and build the Frame."""

    def bad(reason: str) -> CassetteError:
        return CassetteError(path, lineno, reason)

    if not isinstance(obj, dict):
        raise bad(f"frame must be a JSON object, got {_json_kind(obj)}")
    if "format" in obj and "side" not in obj:
        raise bad("a second header: only line 1 may be the cassette header")
    if "side" not in obj:
        raise bad("missing field 'side'")
    side_raw = obj["side"]
    if side_raw == "client":
        side = Side.CLIENT
    elif side_raw == "server":
        side = Side.SERVER
    else:
        raise bad(f"unknown side {side_raw!r} (expected 'client' or 'server')")
    if "t" not in obj:
        raise bad("missing field 't'")
    t = obj["t"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise bad(f"field 't' must be a number of seconds, got {_json_kind(t)}")
    if t < 0:
        raise bad(f"field 't' must not be negative, got {t}")
    if "conn" not in obj:
        raise bad("missing field 'conn'")
    conn = obj["conn"]
    if isinstance(conn, bool) or not isinstance(conn, int) or conn < 0:
        raise bad(f"field 'conn' must be a non-negative integer, got {conn!r}")
    present = [k for k in _PAYLOAD_KEYS if k in obj]
    if not present:
        raise bad("missing field: one of 'event', 'binary' or 'close'")
    if len(present) > 1:
        raise bad(f"a frame carries exactly one of 'event', 'binary', 'close'; got {present}")
    key = present[0]
    value = obj[key]
    if key == "event":
        if not isinstance(value, dict):
            raise bad(f"field 'event' must be a JSON object, got {_json_kind(value)}")
        if "type" in value and not isinstance(value["type"], str):
            raise bad("field 'event.type' must be a string")
        if exceeds_depth(value):
            raise bad(_too_deep("the event"))
        return Frame(side=side, t=float(t), conn=conn, event=value, lineno=lineno)
    if key == "binary":
        if not isinstance(value, str):
            raise bad(f"field 'binary' must be a base64 string, got {_json_kind(value)}")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad(f"field 'binary' is not valid base64 ({exc})") from None
        return Frame(side=side, t=float(t), conn=conn, binary=data, lineno=lineno)
    if not isinstance(value, dict):
        raise bad(f"field 'close' must be an object {{code, reason}}, got {_json_kind(value)}")
    code = value.get("code")
    if code is not None and (
        isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999
    ):
        raise bad(f"field 'close.code' must be a close code 1000..4999 or null, got {code!r}")
    reason = value.get("reason", "")
    if not isinstance(reason, str):
        raise bad(f"field 'close.reason' must be a string, got {_json_kind(reason)}")
    return Frame(
        side=side, t=float(t), conn=conn, close_code=code, close_reason=reason, lineno=lineno
    )


# The exact layout CassetteWriter produces: the envelope keys in this order, compact, the
# payload last. Readers take a fast path through lines of this shape (the payload is parsed
# on its own, which also proves nothing follows it), and the replay engine sends a server
# event's payload bytes as they are, never re-encoding them.
_CANONICAL = re.compile(
    rb'\{"side":"(client|server)","t":(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?),"conn":(\d+),'
    rb'"(event|binary|close)":'
)


class CanonicalLine(NamedTuple):
    """A frame line in the writer's layout, split without parsing its payload."""

    side: Side
    t: float
    conn: int
    key: str
    """Which payload: ``event``, ``binary`` or ``close``."""
    payload: bytes
    """The JSON text of the payload, as bytes."""


def split_canonical(line: bytes) -> CanonicalLine | None:
    """Split a line written by :class:`CassetteWriter` into envelope and payload bytes.

    Returns ``None`` for any other layout (hand-written lines, other key orders) and for
    envelope numbers JSON does not allow. Does not validate the payload: a line this
    accepts is valid iff its payload is one valid value for its key, which
    :class:`CassetteReader` checks.
    """
    m = _CANONICAL.match(line)
    if m is None:
        return None
    # The envelope's numbers are read as JSON reads them (one parser, one answer): text the
    # general path refuses (leading zeros, 1e999 overflowing to infinity, a conn too big
    # for an integer) is left to it, so both paths accept exactly the same lines.
    try:
        t = _json.loads(m.group(2))
        conn = _json.loads(m.group(3))
    except _json.JSONDecodeError:
        return None
    if type(conn) is not int:
        return None
    if line.endswith(b"}\n"):
        end = len(line) - 2
    else:
        end = len(line.rstrip()) - 1
        if end <= m.end() or line[end] != 0x7D:  # "}" closing the frame object
            return None
    side = Side.SERVER if m.group(1) == b"server" else Side.CLIENT
    return CanonicalLine(side, float(t), conn, m.group(4).decode(), line[m.end() : end])


def parse_frame_line(line: bytes | str, *, path: StrPath | None = None, lineno: int = 0) -> Frame:
    """Parse and validate one frame line (not the header).

    Raises:
        CassetteError: the line is not a valid frame; the message names ``path:lineno``.
    """
    where = os.fspath(path) if path is not None else None
    try:
        obj = _json.loads(line)
    except _json.JSONDecodeError as exc:
        raise CassetteError(where, lineno, _not_json(exc)) from None
    return _parse_frame(obj, path=where, lineno=lineno)


class CassetteReader:
    """A cassette open for streaming: read :attr:`header`, then iterate the frames.

    Holds one line at a time, so memory stays constant whatever the file size. Iterating
    yields each :class:`Frame` in file order and raises :class:`CassetteError` at the first
    bad line, after every frame before it was yielded. Use as a context manager (or call
    :meth:`close`). Iterating a second time raises :class:`~harness.errors.UsageError`;
    open the file again instead.

    With ``allow_torn=True`` a torn last line (no newline, not complete JSON: what a
    recorder killed mid-write leaves) ends the iteration instead of raising, and
    :attr:`torn` holds the error that names it; any other bad line still raises.
    """

    def __init__(self, path: StrPath, *, allow_torn: bool = False) -> None:
        """Open ``path`` and read its header line.

        Raises:
            CassetteNotFound: the file does not exist.
            CassetteError: the first line is not a valid header.
        """
        self.path = os.fspath(path)
        try:
            # closed by close(); a large buffer: lines of audio are kilobytes each
            self._file: BinaryIO = open(self.path, "rb", buffering=_READ_BUFFER)
        except FileNotFoundError:
            raise CassetteNotFound(self.path) from None
        except IsADirectoryError:
            raise CassetteError(self.path, None, "is a directory, not a cassette file") from None
        self._lineno = 0
        self._started = False
        self._allow_torn = allow_torn
        self.torn: CassetteError | None = None
        """The torn last line's error, once iteration reached it (``allow_torn=True``)."""
        self.writer_layout = True
        """Whether every event line read so far that starts in the writer's layout is
        exactly in it, its ``"event"`` value last (:func:`split_canonical` slices them)."""
        try:
            self.header = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _next_line(self) -> tuple[bytes, bool] | None:
        """The next non-blank line and whether it ended with a newline; None at EOF."""
        for raw in self._file:
            self._lineno += 1
            if raw[:1] == b"{" or raw.strip():
                return raw, raw.endswith(b"\n")
        return None

    def _decode(self, raw: bytes, complete: bool) -> Any:
        try:
            return _json.loads(raw)
        except _json.JSONDecodeError as exc:
            if not complete:
                torn = CassetteError(
                    self.path,
                    self._lineno,
                    "torn last line: it ends without a newline and is not complete JSON "
                    "(the writer was probably interrupted; the frames before it are intact)",
                )
                if self._allow_torn and self._started:
                    self.torn = torn
                    return _TORN
                raise torn from None
            raise CassetteError(self.path, self._lineno, _not_json(exc)) from None

    def _read_header(self) -> Header:
        line = self._next_line()
        if line is None:
            raise CassetteError(self.path, 1, "empty file: expected the cassette header line")
        obj = self._decode(*line)
        return Header.from_json(obj, path=self.path, lineno=self._lineno)

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise UsageError(f"{self.path}: a CassetteReader iterates once; open it again")
        self._started = True
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        last_t: dict[int, float] = {}
        path = self.path
        while True:
            line = self._next_line()
            if line is None:
                return
            frame = self._fast_frame(line[0])
            if frame is None:
                obj = self._decode(*line)
                if obj is _TORN:
                    return
                frame = _parse_frame(obj, path=path, lineno=self._lineno)
            previous = last_t.get(frame.conn)
            if previous is not None and frame.t < previous:
                raise CassetteError(
                    path,
                    self._lineno,
                    f"time goes backwards on conn {frame.conn}: t={frame.t} after t={previous}",
                )
            last_t[frame.conn] = frame.t
            yield frame

    def _fast_frame(self, raw: bytes) -> Frame | None:
        """The frame of a writer-layout event line, or None to take the full path."""
        split = split_canonical(raw)
        if split is None or split.key != "event":
            return None
        try:
            event = _json.loads(split.payload)
        except _json.JSONDecodeError:
            self.writer_layout = False  # e.g. a key after the event; or bad JSON
            return None  # the full path reports it properly
        if not isinstance(event, dict) or not isinstance(event.get("type", ""), str):
            return None
        if exceeds_depth(event, MAX_DEPTH, split.payload):
            return None  # the full path reports it
        return Frame(side=split.side, t=split.t, conn=split.conn, event=event, lineno=self._lineno)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> CassetteReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_cassette(path: StrPath, *, allow_torn: bool = False) -> CassetteReader:
    """Open a cassette for streaming; iterate the returned reader for its frames.

    Example::

        with open_cassette("cassettes/text_turn.jsonl") as reader:
            print(reader.header.made)
            for frame in reader:
                print(frame.t, frame.side, frame.describe())

    Raises:
        CassetteNotFound: the file does not exist.
        CassetteError: the header line is bad (frames are checked as they are read).
    """
    return CassetteReader(path, allow_torn=allow_torn)


def load_cassette(path: StrPath, *, allow_torn: bool = False) -> Cassette:
    """Load a whole (small) cassette into memory, validating every line.

    With ``allow_torn=True`` a torn last line is not an error: the frames before it are
    loaded and :attr:`Cassette.torn` names the line.

    Raises:
        CassetteNotFound: the file does not exist.
        CassetteError: any line is bad; the message names the file and line.
    """
    with open_cassette(path, allow_torn=allow_torn) as reader:
        frames = tuple(reader)
        return Cassette(header=reader.header, frames=frames, path=reader.path, torn=reader.torn)


class CassetteWriter:
    """Write a cassette one flushed line at a time (crash-safe).

    Each frame becomes one line written with a single unbuffered ``write`` (a batch of
    frames, :meth:`write_frames`, their lines with one), so a process killed at any instant
    leaves every complete frame readable; at worst the last line is torn, which the reader
    reports. Times are checked: they never go backwards on a connection. Mode ``"w"``
    creates or truncates the file and writes the header; mode ``"a"`` appends frames to an
    existing cassette (writing the header only if the file is new or empty, and first
    cutting off a torn last line left by a crash).

    Example::

        with CassetteWriter("out.jsonl", Header(made=Made.SYNTHESIZED)) as w:
            w.event("server", 0.0, 0, {"type": "session.created", "event_id": "ev_1"})
            w.write_close("client", 0.5, 0, 1000)

    One spelling each: :meth:`event`, :meth:`binary` and :meth:`write_close` write frames,
    :meth:`close` closes the file.
    """

    def __init__(
        self, path: StrPath, header: Header, *, mode: Literal["w", "a"] = "w", fsync: bool = False
    ) -> None:
        """Open ``path`` for writing.

        Args:
            path: the cassette file.
            header: written as line 1 (mode ``"w"``, or ``"a"`` on a new file).
            mode: ``"w"`` to start afresh, ``"a"`` to append frames.
            fsync: also ``os.fsync`` after each line (survives power loss, slower).
        """
        if mode not in ("w", "a"):
            raise UsageError(f"CassetteWriter mode must be 'w' or 'a', got {mode!r}")
        self.path = os.fspath(path)
        self.header = header
        self._fsync = fsync
        self._last_t: dict[int, float] = {}
        needs_header = True
        if mode == "a" and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            _cut_torn_tail(self.path)
            needs_header = os.path.getsize(self.path) == 0
        self._file: io.FileIO = io.FileIO(self.path, "ab" if mode == "a" else "wb")
        if needs_header:
            self._write_line(_json.dumps(header.to_json()))

    def _write_line(self, payload: bytes) -> None:
        self._write_bytes(payload + b"\n")

    def _write_bytes(self, data: bytes, done: int = 0) -> None:
        """Write complete lines with one unbuffered ``write`` call (more if it is short).

        The one crash-safe appender: a process killed at any instant leaves every line of
        earlier calls readable, at worst the last line of this one torn. A write that fails
        part way (disk full, ...) is cut back to where this call started, so the file keeps
        whole lines only, and the error is raised. ``done``: how many bytes of ``data`` a
        first ``write`` already took.
        """
        view = memoryview(data)[done:]
        file = self._file
        try:
            while view:
                written = file.write(view)
                if written is None:  # pragma: no cover - only for non-blocking files
                    continue
                view = view[written:]
        except BaseException:
            with contextlib.suppress(OSError, ValueError):
                file.truncate(file.seek(0, os.SEEK_END) - (len(data) - len(view)))
            raise
        if self._fsync:
            os.fsync(file.fileno())

    def write(self, frame: Frame) -> None:
        """Write one frame as one line and flush it.

        Raises:
            UsageError: ``frame.t`` is earlier than the last frame written on its connection.
        """
        t = round(frame.t, 3)
        previous = self._last_t.get(frame.conn)
        if previous is not None and t < previous:
            raise self._backwards(frame, t, previous)
        self._last_t[frame.conn] = t
        self._write_line(encode_frame(frame))

    def write_frames(self, frames: Iterable[Frame]) -> None:
        """Write several frames, one line each, with a single unbuffered ``write`` call.

        Each frame is checked as :meth:`write` checks it, all of them before anything is
        written: if one is refused, none is written. The lines go to the file in one call
        (more only if the OS takes part of it), each complete before the next, so a process
        killed at any instant leaves every line of earlier calls readable and at worst the
        last line of this one torn, which the reader reports. Use it to record everything
        one socket read brought at the cost of one system call.

        Raises:
            UsageError: a frame's ``t`` is earlier than the frame before it on its
                connection (in this call or written before); nothing was written.
        """
        last_t = self._last_t
        batch_t: dict[int, float] = {}
        lines: list[bytes] = []
        for index, frame in enumerate(frames):
            t = round(frame.t, 3)
            conn = frame.conn
            previous = batch_t.get(conn, last_t.get(conn))
            if previous is not None and t < previous:
                raise self._backwards(frame, t, previous, index)
            batch_t[conn] = t
            lines.append(encode_frame(frame))
        if not lines:
            return
        lines.append(b"")
        self._write_bytes(b"\n".join(lines))
        last_t.update(batch_t)

    def write_lines(self, conn: int, t: float, lines: Sequence[bytes]) -> None:
        """Append lines already encoded, all of frames on ``conn`` at time ``t``: the fast path.

        ``lines`` are frame lines without their newlines, as :func:`encode_frame` and
        :func:`encode_event_frame` return them (each frame is encoded once, by the caller,
        and no :class:`Frame` is built). They go to the file with one ``write`` call, as
        :meth:`write_frames` does; ``t`` is checked as :meth:`write` checks a frame's, once
        for the batch. Use it for what one socket read brought on one connection.

        Raises:
            UsageError: ``t`` is earlier than the last frame written on ``conn``; nothing
                was written.
            OSError: the write failed; the file is cut back to the lines before this call.
        """
        if not lines:
            return
        t = round(t, 3)
        last_t = self._last_t
        previous = last_t.get(conn)
        if previous is not None and t < previous:
            raise UsageError(
                f"{self.path}: t={t} on conn {conn} is earlier than the previous frame "
                f"(t={previous}); cassette times are non-decreasing per connection"
            )
        data = b"\n".join((*lines, b""))
        # The common case inline (a regular file takes the whole write at once): this is
        # the relay's hot path, one call per socket read. A write that raises wrote nothing.
        written = self._file.write(data)
        if written != len(data) or self._fsync:
            self._write_bytes(data, written or 0)
        last_t[conn] = t

    def sync(self) -> None:
        """``os.fsync`` the file: every line written so far survives a power loss."""
        os.fsync(self._file.fileno())

    def _backwards(
        self, frame: Frame, t: float, previous: float, index: int | None = None
    ) -> UsageError:
        which = "frame" if index is None else f"frame {index} of the batch,"
        return UsageError(
            f"{self.path}: {which} t={t} on conn {frame.conn} is earlier than the previous "
            f"frame (t={previous}); cassette times are non-decreasing per connection"
        )

    def event(self, side: Side | str, t: float, conn: int, event: dict[str, Any]) -> None:
        """Write an event frame."""
        self.write(Frame.of_event(side, t, conn, event))

    def binary(self, side: Side | str, t: float, conn: int, data: bytes) -> None:
        """Write a binary frame."""
        self.write(Frame.of_binary(side, t, conn, data))

    def write_close(
        self, side: Side | str, t: float, conn: int = 0, code: int | None = None, reason: str = ""
    ) -> None:
        """Write a close frame (``code=None``: a close without status, seen as 1005)."""
        self.write(Frame.of_close(side, t, conn, code, reason))

    def close(
        self,
        side: Side | str | None = None,
        t: float | None = None,
        conn: int = 0,
        code: int | None = None,
        reason: str = "",
    ) -> None:
        """Close the file (idempotent; ``with`` does it for you).

        Deprecated: called with a side and a time, it writes a close frame instead, as
        :meth:`write_close` does (the old spelling; it warns, and goes in 0.3).
        """
        if side is None and t is None:
            self._file.close()
            return
        warnings.warn(
            "CassetteWriter.close(side, t, ...) writing a close frame is deprecated: call "
            "write_close(side, t, ...); close() with no arguments closes the file",
            DeprecationWarning,
            stacklevel=2,
        )
        if side is None or t is None:
            raise UsageError("CassetteWriter.close(side, t, ...) needs the side and the time t")
        self.write_close(side, t, conn, code, reason)

    def close_file(self) -> None:
        """Deprecated spelling of :meth:`close` (it warns, and goes in 0.3)."""
        warnings.warn(
            "CassetteWriter.close_file() is deprecated: call close()",
            DeprecationWarning,
            stacklevel=2,
        )
        self._file.close()

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()


def _cut_torn_tail(path: str) -> None:
    """Truncate a file back to its last newline (drop a torn last line before appending)."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        chunk = 64 * 1024
        pos = size
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            block = f.read(pos - start)
            idx = block.rfind(b"\n")
            if idx >= 0:
                f.truncate(start + idx + 1)
                return
            pos = start
        f.truncate(0)
