"""Cassette format v1: header, frames, streaming reader, crash-safe writer, CassetteError."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import _json
from harness.cassette import (
    Cassette,
    CassetteWriter,
    Frame,
    FrameKind,
    Header,
    Made,
    Side,
    encode_event_frame,
    encode_frame,
    load_cassette,
    open_cassette,
    parse_frame_line,
    split_canonical,
)
from harness.errors import CassetteError, CassetteNotFound, UsageError

HEADER = (
    '{"format": "realtime-harness-cassette", "version": 1, "made": "synthesized", '
    '"created": "2026-11-25T21:00:00Z", "endpoint": {"path": "/v1/realtime", '
    '"query": {"model": "gpt-realtime"}}, "client": "test", "redactions": []}'
)
CREATED = (
    '{"side": "server", "t": 0.01, "conn": 0, '
    '"event": {"type": "session.created", "event_id": "e1"}}'
)
UPDATE = '{"side": "client", "t": 0.02, "conn": 0, "event": {"type": "session.update"}}'


def write(tmp_path: Path, *lines: str, end: str = "\n") -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def error_of(path: Path) -> CassetteError:
    with pytest.raises(CassetteError) as info:
        load_cassette(path)
    return info.value


def test_reads_header_and_every_kind_of_frame(tmp_path: Path) -> None:
    blob = base64.b64encode(b"\x00\x01pcm").decode()
    path = write(
        tmp_path,
        HEADER,
        CREATED,
        UPDATE,
        f'{{"side": "server", "t": 0.5, "conn": 0, "binary": "{blob}"}}',
        '{"side": "server", "t": 2.0, "conn": 0, "close": {"code": 1011, "reason": "boom"}}',
    )
    cassette = load_cassette(path)
    assert cassette.header.made is Made.SYNTHESIZED
    assert cassette.header.query == {"model": "gpt-realtime"}
    kinds = [f.kind for f in cassette.frames]
    assert kinds == [FrameKind.EVENT, FrameKind.EVENT, FrameKind.BINARY, FrameKind.CLOSE]
    created, update, binary, close = cassette.frames
    assert created.side is Side.SERVER and created.event_type == "session.created"
    assert created.lineno == 2 and update.lineno == 3
    assert binary.binary == b"\x00\x01pcm" and binary.event_type is None
    assert (close.close_code, close.close_reason, close.lineno) == (1011, "boom", 5)
    assert close.describe() == "close 1011"


def test_unknown_header_keys_are_kept_on_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    header = Header(made=Made.RECORDED, note="n", extra={"future_key": {"x": [1, 2]}})
    with CassetteWriter(path, header) as writer:
        writer.event("client", 0.0, 0, {"type": "response.create"})
    loaded = load_cassette(path)
    assert loaded.header.extra == {"future_key": {"x": [1, 2]}}
    assert loaded.header.note == "n"
    assert _json.loads(path.read_bytes().splitlines()[0])["future_key"] == {"x": [1, 2]}


def test_writer_round_trips_every_frame_kind(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    with CassetteWriter(path, Header(query={"model": "m"}, redactions=("auth",))) as w:
        w.event(Side.SERVER, 0.0004, 0, {"type": "session.created", "event_id": "e"})
        w.binary("server", 0.25, 0, b"\xff\x00")
        w.write_close("server", 1.23456, 0, 1011, "internal")
        w.event("client", 0.0, 1, {"type": "session.update"})
        w.write_close("client", 0.5, 1, None)
    cassette = load_cassette(path)
    assert cassette.header.redactions == ("auth",)
    assert [f.t for f in cassette.frames] == [0.0, 0.25, 1.235, 0.0, 0.5]
    assert cassette.frames[1].binary == b"\xff\x00"
    assert cassette.frames[2].close_code == 1011
    assert cassette.frames[4].close_code is None
    assert cassette.conns() == (0, 1)


def test_writer_refuses_time_going_backwards(tmp_path: Path) -> None:
    with CassetteWriter(tmp_path / "w.jsonl", Header()) as w:
        w.event("server", 1.0, 0, {"type": "a"})
        w.event("server", 0.5, 1, {"type": "b"})  # other connection: fine
        with pytest.raises(UsageError, match=r"t=0\.5 on conn 0 is earlier than the previous"):
            w.event("client", 0.5, 0, {"type": "c"})


def test_append_mode_cuts_a_torn_tail_and_keeps_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, CREATED, '{"side": "client", "t": 0.', end="")
    with CassetteWriter(path, Header(note="ignored"), mode="a") as w:
        w.event("client", 0.5, 0, {"type": "response.create"})
    cassette = load_cassette(path)
    assert cassette.header.client == "test"
    assert [f.event_type for f in cassette.frames] == ["session.created", "response.create"]


def test_append_mode_on_a_new_file_writes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    with CassetteWriter(path, Header(client="x"), mode="a") as w:
        w.event("client", 0.0, 0, {"type": "a"})
    assert load_cassette(path).header.client == "x"


def test_every_line_is_on_disk_before_write_returns(tmp_path: Path) -> None:
    # A child writes frames and is killed (SIGKILL) mid-stream: every complete line loads.
    path = tmp_path / "killed.jsonl"
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from harness.cassette import CassetteWriter, Header
        w = CassetteWriter({str(path)!r}, Header())
        for i in range(200):
            w.event("server", i / 1000, 0, {{"type": "x", "event_id": str(i), "pad": "a" * 5000}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert proc.returncode == -9
    assert len(load_cassette(path).frames) == 200


def test_torn_last_line_names_its_line_number_after_the_frames_before_it(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, CREATED, UPDATE, '{"side": "server", "t": 0.3, "co', end="")
    seen: list[Frame] = []
    with pytest.raises(CassetteError) as info, open_cassette(path) as reader:
        for frame in reader:
            seen.append(frame)
    assert [f.event_type for f in seen] == ["session.created", "session.update"]
    assert info.value.lineno == 4
    assert str(info.value).startswith(f"{path}:4: torn last line")


def test_last_line_without_newline_but_complete_loads(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, CREATED, end="")
    assert len(load_cassette(path).frames) == 1


@pytest.mark.parametrize(
    ("lines", "lineno", "reason"),
    [
        ([HEADER, "not json at all", CREATED], 2, "not JSON: "),
        (
            ['{"format": "realtime-harness-cassette", "version": 2}'],
            1,
            "unsupported cassette version 2 (this harness reads version 1)",
        ),
        (
            [HEADER, '{"side": "proxy", "t": 0, "conn": 0, "event": {}}'],
            2,
            "unknown side 'proxy' (expected 'client' or 'server')",
        ),
        ([HEADER, '{"side": "server", "conn": 0, "event": {}}'], 2, "missing field 't'"),
        ([HEADER, '{"side": "server", "t": 0, "event": {}}'], 2, "missing field 'conn'"),
        ([HEADER, '{"t": 0, "conn": 0, "event": {}}'], 2, "missing field 'side'"),
        (
            [HEADER, '{"side": "server", "t": 0, "conn": 0}'],
            2,
            "missing field: one of 'event', 'binary' or 'close'",
        ),
        (
            [HEADER, CREATED, '{"side": "server", "t": 0.001, "conn": 0, "event": {"type": "x"}}'],
            3,
            "time goes backwards on conn 0: t=0.001 after t=0.01",
        ),
        ([CREATED, HEADER], 1, "frame before the header: line 1 must be the cassette header"),
        (
            ['{"format": "something-else", "version": 1}'],
            1,
            "not a cassette header: format must be 'realtime-harness-cassette'",
        ),
        (
            [HEADER, '{"side": "server", "t": 0, "conn": 0, "binary": "@@@"}'],
            2,
            "field 'binary' is not valid base64",
        ),
        (
            [HEADER, '{"side": "server", "t": 0, "conn": 0, "close": {"code": 99}}'],
            2,
            "field 'close.code' must be a close code 1000..4999 or null, got 99",
        ),
        (
            [HEADER, '{"side": "server", "t": -1, "conn": 0, "event": {}}'],
            2,
            "field 't' must not be negative, got -1",
        ),
        (
            [HEADER, '{"side": "server", "t": 0, "conn": 0, "event": [1]}'],
            2,
            "field 'event' must be a JSON object, got an array",
        ),
        ([HEADER, "[1, 2]"], 2, "frame must be a JSON object, got an array"),
        ([HEADER, CREATED, HEADER], 3, "a second header: only line 1 may be the cassette header"),
        (
            ['{"format": "realtime-harness-cassette", "version": 1, "made": "guessed"}'],
            1,
            "header: made must be 'recorded' or 'synthesized', got 'guessed'",
        ),
    ],
)
def test_bad_input_names_file_line_and_reason(
    tmp_path: Path, lines: list[str], lineno: int, reason: str
) -> None:
    path = write(tmp_path, *lines)
    err = error_of(path)
    assert err.lineno == lineno
    assert err.path == str(path)
    assert str(err).startswith(f"{path}:{lineno}: {reason}")


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert str(error_of(empty)) == f"{empty}:1: empty file: expected the cassette header line"
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(CassetteNotFound) as info:
        load_cassette(missing)
    assert str(info.value) == f"{missing}: no such cassette"


def test_not_utf8_is_a_cassette_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    bad_line = b'{"side": "server", "t": 0, "conn": 0, "event": {"x": "\xe9"}}'
    path.write_bytes(HEADER.encode() + b"\n" + bad_line + b"\n")
    err = error_of(path)
    assert err.lineno == 2
    assert "not JSON" in err.reason


def test_time_is_checked_per_connection(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        '{"side": "server", "t": 5, "conn": 0, "event": {"type": "a"}}',
        '{"side": "server", "t": 1, "conn": 1, "event": {"type": "b"}}',
    )
    assert [f.conn for f in load_cassette(path).frames] == [0, 1]


def test_reader_streams_in_constant_memory(tmp_path: Path) -> None:
    # A reader is an iterator over the file: it yields before reading the rest.
    path = write(tmp_path, HEADER, CREATED, "garbage that would fail")
    with open_cassette(path) as reader:
        frames = iter(reader)
        assert next(frames).event_type == "session.created"
        with pytest.raises(CassetteError, match=":3: not JSON"):
            next(frames)


def test_reader_iterates_once(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, CREATED)
    with open_cassette(path) as reader:
        list(reader)
        with pytest.raises(UsageError, match="iterates once; open it again"):
            iter(reader)


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "", CREATED, "   ")
    (frame,) = load_cassette(path).frames
    assert frame.lineno == 3


def test_cassette_value_is_frozen() -> None:
    cassette = Cassette(header=Header(), frames=())
    with pytest.raises(AttributeError):
        cassette.frames = ()  # type: ignore[misc]


def test_writer_lines_split_without_parsing_their_payload(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    event = {"type": "response.output_audio.delta", "event_id": "e", "delta": "QUJD"}
    with CassetteWriter(path, Header()) as w:
        w.event("server", 1.25, 3, event)
        w.write_close("server", 2.0, 3, 1011, "x")
    lines = path.read_bytes().splitlines(keepends=True)
    split = split_canonical(lines[1])
    assert split is not None
    assert (split.side, split.t, split.conn, split.key) == (Side.SERVER, 1.25, 3, "event")
    assert _json.loads(split.payload) == event
    close = split_canonical(lines[2])
    assert close is not None and _json.loads(close.payload) == {"code": 1011, "reason": "x"}
    assert split_canonical(lines[0]) is None  # the header
    assert split_canonical(b'{"side": "server", "t": 0, "conn": 0, "event": {}}\n') is None


def test_a_hand_written_line_with_a_key_after_the_payload_still_reads(tmp_path: Path) -> None:
    # The fast path must not take `{...},"note":1` for the event.
    path = write(
        tmp_path,
        HEADER,
        '{"side":"server","t":0.5,"conn":0,"event":{"type":"a","event_id":"e"},"note":1}',
    )
    (frame,) = load_cassette(path).frames
    assert frame.event == {"type": "a", "event_id": "e"}


def test_parse_frame_line_names_the_place() -> None:
    frame = parse_frame_line(
        b'{"side":"client","t":0,"conn":0,"event":{"type":"x"}}', path="c.jsonl", lineno=7
    )
    assert (frame.event_type, frame.lineno) == ("x", 7)
    with pytest.raises(CassetteError) as info:
        parse_frame_line(b'{"side":"client"}', path="c.jsonl", lineno=7)
    assert str(info.value) == "c.jsonl:7: missing field 't'"


# -- write_frames: several frames, one write ----------------------------------------------------

FRAMES = (
    Frame.of_event(Side.SERVER, 0.0004, 0, {"type": "session.created", "é": '😀\n"q"'}),
    Frame.of_event("client", 0.01, 0, {"type": "x", "values": [1, 2.5, -3e-7, 1e21, None]}),
    Frame.of_binary("server", 0.25, 0, b"\xff\x00"),
    Frame.of_binary("server", 0.25, 0, b""),
    Frame.of_event("client", 0, 1, {}),
    Frame.of_close("server", 1.23456, 0, 1011, "internal é"),
    Frame.of_close("client", 0.5, 1, None),
)


def _syscalls_writing() -> int:
    """How many write system calls this thread made so far (Linux)."""
    with open("/proc/thread-self/io", "rb", buffering=0) as io:
        fields = dict(line.split(b": ") for line in io.read().splitlines())
    return int(fields[b"syscw"])


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f"{f.kind}-{f.conn}")
def test_encode_frame_is_the_writers_line_and_splits_canonically(frame: Frame) -> None:
    line = encode_frame(frame)
    assert line == _json.dumps(frame.to_json())
    split = split_canonical(line + b"\n")
    assert split is not None
    assert (split.side, split.t, split.conn, split.key) == (
        frame.side,
        round(frame.t, 3),
        frame.conn,
        frame.kind.value,
    )


def test_encode_event_frame_is_encode_frame_without_the_frame() -> None:
    events = [f for f in FRAMES if f.event is not None]
    assert len(events) == 3
    for frame in events:
        assert frame.event is not None
        line = encode_event_frame(frame.side, frame.t, frame.conn, frame.event)
        assert line == encode_frame(frame)
    # Many connections: each line still names its own.
    for conn in range(5000):
        frame = Frame.of_event(Side.CLIENT, conn / 7, conn, {"type": "x"})
        assert encode_event_frame(Side.CLIENT, conn / 7, conn, {"type": "x"}) == (
            _json.dumps(frame.to_json())
        )


def test_write_frames_writes_what_write_does_one_line_each(tmp_path: Path) -> None:
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    with CassetteWriter(one, Header(created="c")) as w:
        for frame in FRAMES:
            w.write(frame)
    with CassetteWriter(many, Header(created="c")) as w:
        w.write_frames(frame for frame in FRAMES[:3])  # any iterable, consumed once
        w.write_frames([])  # nothing to write: no line, no error
        w.write_frames(FRAMES[3:])
    assert many.read_bytes() == one.read_bytes()
    loaded = load_cassette(many).frames
    assert [
        (f.side, f.t, f.conn, f.event, f.binary, f.close_code, f.close_reason) for f in loaded
    ] == [
        (f.side, round(f.t, 3), f.conn, f.event, f.binary, f.close_code, f.close_reason)
        for f in FRAMES
    ]


@pytest.mark.skipif(
    not Path("/proc/thread-self/io").exists(), reason="counts write syscalls through Linux /proc"
)
def test_write_frames_makes_one_write_call_and_the_lines_are_readable_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.jsonl"
    frames = [Frame.of_event("server", i / 1000, 0, {"type": "x", "i": i}) for i in range(500)]
    with CassetteWriter(path, Header()) as w:
        before = _syscalls_writing()
        w.write_frames(frames)
        after = _syscalls_writing()
        # Unbuffered: every line is in the file before the writer is closed.
        assert [f.event for f in load_cassette(path).frames] == [f.event for f in frames]
    assert after - before == 1


def test_write_frames_refuses_time_going_backwards_and_writes_none_of_the_batch(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 1.0, 0, {"type": "a"})
        written = path.read_bytes()
        # Backwards against a frame written before.
        with pytest.raises(UsageError) as info:
            w.write_frames(
                [Frame.of_event("server", 1.5, 1, {}), Frame.of_event("client", 0.5, 0, {})]
            )
        assert str(info.value) == (
            f"{path}: frame 1 of the batch, t=0.5 on conn 0 is earlier than the previous "
            "frame (t=1.0); cassette times are non-decreasing per connection"
        )
        # Backwards within the batch (other connections interleaved are fine).
        with pytest.raises(UsageError) as info:
            w.write_frames(
                [
                    Frame.of_event("server", 2.0, 0, {}),
                    Frame.of_event("server", 0.1, 1, {}),
                    Frame.of_event("client", 1.9996, 0, {}),  # 2.0 once rounded: fine
                    Frame.of_event("client", 1.5, 0, {}),
                ]
            )
        assert str(info.value) == (
            f"{path}: frame 3 of the batch, t=1.5 on conn 0 is earlier than the previous "
            "frame (t=2.0); cassette times are non-decreasing per connection"
        )
        assert path.read_bytes() == written, "a refused batch wrote lines"
        # A refused batch leaves the times as they were: 1.2 follows 1.0 on conn 0.
        w.write_frames([Frame.of_event("client", 1.2, 0, {"type": "b"})])
        w.write(Frame.of_event("server", 0.0, 1, {"type": "c"}))
    assert [(f.conn, f.t, f.event_type) for f in load_cassette(path).frames] == [
        (0, 1.0, "a"),
        (0, 1.2, "b"),
        (1, 0.0, "c"),
    ]


def test_write_frames_lines_survive_a_kill_between_batches(tmp_path: Path) -> None:
    # A child writes batches and is killed (SIGKILL) after the last: every line loads.
    path = tmp_path / "killed.jsonl"
    code = textwrap.dedent(
        f"""
        import os, signal
        from harness.cassette import CassetteWriter, Frame, Header
        w = CassetteWriter({str(path)!r}, Header(), fsync=True)
        for b in range(20):
            w.write_frames(
                Frame.of_event("server", (b * 10 + i) / 1000, 0, {{"type": "x", "pad": "a" * 5000}})
                for i in range(10)
            )
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert proc.returncode == -9
    assert [f.t for f in load_cassette(path).frames] == [n / 1000 for n in range(200)]


def test_write_lines_writes_what_write_frames_does(tmp_path: Path) -> None:
    one, lines = tmp_path / "one.jsonl", tmp_path / "lines.jsonl"
    with CassetteWriter(one, Header(created="c")) as w:
        w.write_frames(FRAMES)
    with CassetteWriter(lines, Header(created="c")) as w:
        for frame in FRAMES:  # encoded once by the caller, appended as they are
            w.write_lines(frame.conn, frame.t, [encode_frame(frame)])
        w.write_lines(0, 99.0, [])  # nothing to write: no line, and t is not taken
    assert lines.read_bytes() == one.read_bytes()


@pytest.mark.skipif(
    not Path("/proc/thread-self/io").exists(), reason="counts write syscalls through Linux /proc"
)
def test_write_lines_makes_one_write_call(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    lines = [encode_event_frame(Side.SERVER, 0.5, 2, {"type": "x", "i": i}) for i in range(300)]
    with CassetteWriter(path, Header()) as w:
        before = _syscalls_writing()
        w.write_lines(2, 0.5, lines)
        after = _syscalls_writing()
    assert after - before == 1
    assert [f.event for f in load_cassette(path).frames] == [
        {"type": "x", "i": i} for i in range(300)
    ]


def test_write_lines_refuses_time_going_backwards_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.write_lines(1, 2.0, [encode_event_frame(Side.SERVER, 2.0, 1, {"type": "a"})])
        size = path.stat().st_size
        with pytest.raises(UsageError, match=r"w\.jsonl: t=1\.999 on conn 1 is earlier"):
            w.write_lines(1, 1.999, [encode_event_frame(Side.SERVER, 1.999, 1, {"type": "b"})])
        assert path.stat().st_size == size
        w.write_lines(
            0, 0.0, [encode_event_frame(Side.SERVER, 0.0, 0, {"type": "c"})]
        )  # other conn
    assert [f.event_type for f in load_cassette(path).frames] == ["a", "c"]


def test_a_failed_write_leaves_whole_lines_only(tmp_path: Path) -> None:
    # A real write failure (EFBIG past RLIMIT_FSIZE, as a full disk gives ENOSPC), in a
    # child so the limit binds only it: each batch that does not fit is cut back out.
    path = tmp_path / "full.jsonl"
    code = textwrap.dedent(
        f"""
        import resource, signal
        from harness.cassette import CassetteWriter, Header, Side, encode_event_frame
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
        failures = 0
        with CassetteWriter({str(path)!r}, Header()) as w:
            for i in range(200):
                lines = [
                    encode_event_frame(Side.SERVER, i, 0, {{"type": "x", "pad": "p" * 300}}),
                    encode_event_frame(Side.SERVER, i, 0, {{"type": "y", "i": i}}),
                ]
                try:
                    w.write_lines(0, i, lines)
                except OSError:
                    failures += 1
                try:
                    w.write_close(Side.SERVER, i, 0, 1000, "r" * 200)
                except OSError:
                    failures += 1
        print(failures)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert int(done.stdout) > 0  # the limit was reached
    data = path.read_bytes()
    assert data.endswith(b"\n")
    frames = load_cassette(path).frames  # every line whole: no torn tail
    kinds = [f.event_type or "close" for f in frames]
    assert kinds[:3] == ["x", "y", "close"]
    assert len(data) <= 10_000


def test_close_with_a_frame_is_the_deprecated_write_close(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    w = CassetteWriter(path, Header())
    with pytest.warns(DeprecationWarning, match=r"write_close\(side, t, \.\.\.\)"):
        w.close("server", 0.5, 0, 1011, "boom")
    with pytest.warns(DeprecationWarning, match=r"close_file\(\) is deprecated: call close\(\)"):
        w.close_file()
    w.close()  # the file: idempotent, no warning
    frame = load_cassette(path).frames[0]
    assert (frame.side, frame.t, frame.close_code, frame.close_reason) == (
        Side.SERVER,
        0.5,
        1011,
        "boom",
    )
    with pytest.raises(ValueError, match="closed file"):
        w.event("server", 1.0, 0, {"type": "late"})


# -- nesting and close codes (issue 13) -----------------------------------------------------


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)


_NESTED = st.recursive(
    st.integers(-1000, 1000) | st.text(max_size=3),
    _containers,
    max_leaves=40,
)


@given(_NESTED, st.integers(0, 8), st.booleans())
def test_exceeds_depth_is_the_json_nesting_compared_with_the_limit(
    value: object, limit: int, with_text: bool
) -> None:
    from harness.cassette import exceeds_depth

    text = _json.dumps(value) if with_text else None
    assert exceeds_depth(value, limit, text) is (_depth(value) > limit)


@pytest.mark.parametrize(
    ("code", "reason", "sent"),
    [
        (1000, "bye", (1000, "bye")),
        (1011, "x" * 200, (1011, "x" * 123)),
        (4000, "é" * 100, (4000, "é" * 61)),  # 123 bytes hold 61 two-byte characters
        (1005, "r", (None, "")),
        (1006, "r", (None, "")),
        (1015, "", (None, "")),
        (1004, "", (None, "")),
        (2999, "", (None, "")),
        (None, "r", (None, "")),
        (3000, "", (3000, "")),
    ],
)
def test_wire_close_is_what_an_endpoint_may_send(
    code: int | None, reason: str, sent: tuple[int | None, str]
) -> None:
    from harness.cassette import wire_close

    assert wire_close(code, reason) == sent
