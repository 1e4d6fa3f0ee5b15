"""A cassette prepared for replay: its frames encoded once, preloaded or streamed.

A :class:`PreloadedCassette` (a loaded cassette) encodes each server event to bytes when it
is built and shares them between connections. A :class:`StreamedCassette` (a cassette too
big to hold) validates the file once when built, then each connection reads it afresh: a
server event line in the writer's layout is sent as the bytes of its ``"event"`` value,
sliced from the line (never decoded nor re-encoded, its :class:`Frame` parsed only if a
report needs it), so memory stays constant whatever the size. :func:`prepare_cassette`
picks one by size. :class:`harness.replay.Replay` plays one recorded connection of either.
Pure core.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import NamedTuple, Protocol

from harness import _json
from harness.cassette import (
    MAX_DEPTH,
    Cassette,
    Frame,
    FrameKind,
    Header,
    Side,
    StrPath,
    exceeds_depth,
    load_cassette,
    open_cassette,
    parse_frame_line,
    split_canonical,
)
from harness.errors import CassetteError

__all__ = [
    "PreloadedCassette",
    "Prepared",
    "PreparedCassette",
    "StreamedCassette",
    "prepare",
    "prepare_cassette",
]


class Prepared(NamedTuple):
    """A recorded frame ready to send: its envelope and its wire payload, encoded once.

    A NamedTuple rather than a frozen dataclass: one is built per frame on the hot path, and
    a tuple builds several times faster. ``frame`` is the full :class:`Frame`, parsed lazily
    from the cassette line when the payload came straight from disk (streaming).
    """

    side: Side
    t: float
    kind: FrameKind
    data: bytes
    """The payload to send: UTF-8 JSON for a server event, bytes for binary, else ``b""``."""
    lineno: int
    parsed: Frame | None = None
    line: bytes | None = None
    path: str | None = None

    @property
    def frame(self) -> Frame:
        """The recorded frame (parsed from its line on first need when streamed)."""
        if self.parsed is not None:
            return self.parsed
        assert self.line is not None
        return parse_frame_line(self.line, path=self.path, lineno=self.lineno)


def prepare(frame: Frame, *, path: str | None = None) -> Prepared:
    """Encode a frame's payload for sending (server event -> JSON bytes, binary -> bytes).

    Raises:
        CassetteError: the event nests deeper than :data:`~harness.cassette.MAX_DEPTH`
            (or cannot be encoded): it could not be sent or matched. Cassettes read from a
            file are refused earlier, by the reader; this catches frames built in code.
    """
    data = b""
    event = frame.event
    if event is not None:
        try:
            encoded = _json.dumps(event)
        except ValueError as exc:
            raise CassetteError(path, frame.lineno or None, f"{frame.side} event: {exc}") from None
        if exceeds_depth(event, MAX_DEPTH, encoded):
            raise CassetteError(
                path,
                frame.lineno or None,
                f"{frame.side} event nests more than {MAX_DEPTH} levels deep, which cannot "
                "be replayed",
            )
        if frame.side is Side.SERVER:
            data = encoded
    elif frame.side is Side.SERVER and frame.binary is not None:
        data = frame.binary
    return Prepared(frame.side, frame.t, frame.kind, data, frame.lineno, frame)


class PreparedCassette(Protocol):
    """A source of recorded connections to replay (loaded or streamed)."""

    @property
    def path(self) -> str | None:
        """The cassette file, for messages."""
        ...

    @property
    def header(self) -> Header:
        """The cassette header."""
        ...

    @property
    def conns(self) -> tuple[int, ...]:
        """The recorded connection indexes, sorted (at least one)."""
        ...

    @property
    def torn(self) -> CassetteError | None:
        """The torn last line the frames stop before (``allow_torn=True``), else ``None``."""
        ...

    def frames(self, conn: int) -> Iterator[Prepared]:
        """The prepared frames of recorded connection ``conn``, in order."""
        ...


class PreloadedCassette:
    """A whole cassette in memory, every server payload encoded once and shared."""

    def __init__(self, cassette: Cassette) -> None:
        """Prepare every frame of ``cassette``."""
        self.cassette = cassette
        by_conn: dict[int, list[Prepared]] = {}
        for frame in cassette.frames:
            by_conn.setdefault(frame.conn, []).append(prepare(frame, path=cassette.path))
        self._by_conn = {k: tuple(v) for k, v in by_conn.items()}

    @property
    def path(self) -> str | None:
        return self.cassette.path

    @property
    def header(self) -> Header:
        return self.cassette.header

    @property
    def conns(self) -> tuple[int, ...]:
        return tuple(sorted(self._by_conn)) or (0,)

    @property
    def torn(self) -> CassetteError | None:
        return self.cassette.torn

    def frames(self, conn: int) -> Iterator[Prepared]:
        return iter(self._by_conn.get(conn, ()))


class StreamedCassette:
    """A cassette read from disk per connection, for files too big to hold.

    Building it reads the file once (constant memory) to validate every line up front, so
    a bad cassette fails when the server starts, not halfway through a test.
    """

    def __init__(self, path: StrPath, *, allow_torn: bool = False) -> None:
        """Validate ``path`` and note its connection indexes (and a tolerated torn tail)."""
        conns: set[int] = set()
        with open_cassette(path, allow_torn=allow_torn) as reader:
            self._header = reader.header
            self._path = reader.path
            for frame in reader:
                conns.add(frame.conn)
            self._sliceable = reader.writer_layout
            self._torn = reader.torn
        self._conns = tuple(sorted(conns)) or (0,)

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def header(self) -> Header:
        return self._header

    @property
    def conns(self) -> tuple[int, ...]:
        return self._conns

    @property
    def torn(self) -> CassetteError | None:
        return self._torn

    def frames(self, conn: int) -> Iterator[Prepared]:
        # The file was validated when this script was built, so lines are not checked again.
        # A server event line in the writer's layout is sent as its payload bytes, sliced
        # from the line: no decode, no re-encode (its Frame is parsed only if a report needs
        # it). Other lines (client frames, closes, hand-written layouts) are parsed in full.
        path = self._path
        sliceable = self._sliceable
        # The hot line: a server event of this connection, as the writer lays it out.
        mine = re.compile(
            rb'\{"side":"server","t":(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?),"conn":'
            + str(conn).encode()
            + rb',"event":'
        ).match
        header_seen = False
        stop = self._torn.lineno if self._torn is not None and self._torn.lineno else None
        with open(path, "rb", buffering=1 << 20) as file:
            for lineno, raw in enumerate(file, start=1):
                if lineno == stop:
                    return  # the torn last line (allow_torn): the frames before it only
                if sliceable:
                    m = mine(raw)
                    if m is not None and raw.endswith(b"}\n"):
                        yield Prepared(
                            Side.SERVER,
                            float(m.group(1)),
                            FrameKind.EVENT,
                            raw[m.end() : -2],
                            lineno,
                            None,
                            raw,
                            path,
                        )
                        continue
                    split = split_canonical(raw)
                    if split is not None:
                        if split.conn != conn:
                            continue
                        if split.side is Side.SERVER and split.key == "event":
                            yield Prepared(
                                Side.SERVER,
                                split.t,
                                FrameKind.EVENT,
                                split.payload,
                                lineno,
                                None,
                                raw,
                                path,
                            )
                            continue
                if not raw.strip():
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                frame = parse_frame_line(raw, path=path, lineno=lineno)
                if frame.conn == conn:
                    yield prepare(frame)


def prepare_cassette(
    source: StrPath | Cassette,
    *,
    preload_limit: int = 64 * 1024 * 1024,
    allow_torn: bool = False,
) -> PreparedCassette:
    """The script for a cassette: loaded and pre-encoded if small, else streamed from disk.

    Args:
        source: a cassette path, or a loaded :class:`~harness.cassette.Cassette`.
        preload_limit: files up to this many bytes are loaded whole.
        allow_torn: play the frames before a torn last line instead of refusing the file
            (:attr:`PreparedCassette.torn` then names the line).

    Raises:
        CassetteNotFound, CassetteError: the file is missing or bad (any line).
    """
    if isinstance(source, Cassette):
        return PreloadedCassette(source)
    path = os.fspath(source)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # open_cassette reports the missing file properly
    if size > preload_limit:
        return StreamedCassette(path, allow_torn=allow_torn)
    return PreloadedCassette(load_cassette(path, allow_torn=allow_torn))
