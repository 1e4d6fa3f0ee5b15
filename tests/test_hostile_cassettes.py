"""Hostile cassettes: whatever the file holds, `check` and `replay` answer with a verdict.

Generated cassettes (arbitrary bytes, nesting, number texts, torn lines, odd header
models) go through the CLI in-process (``harness.cli.main(argv, out=...)``): the only
errors are ``CassetteError``'s ``path:line: reason`` on stderr (exit 2), never another
exception, and ``replay`` never says PASS for a cassette ``check`` refuses or that is
torn. The reader's fast path (lines in the writer's key order) must accept exactly what
the general path accepts.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from harness import FakeRealtimeServer
from harness.cassette import (
    MAX_DEPTH,
    Frame,
    Side,
    load_cassette,
    open_cassette,
    parse_frame_line,
    split_canonical,
)
from harness.cli import main
from harness.errors import CassetteError, UnplayedFrames
from harness.replay import PreloadedCassette

HEADER = {
    "format": "realtime-harness-cassette",
    "version": 1,
    "made": "synthesized",
    "created": "2026-12-02T00:00:00Z",
    "endpoint": {"path": "/v1/realtime", "query": {"model": "gpt-realtime"}},
    "client": "tests",
    "redactions": [],
}
AUTH = {"Authorization": "Bearer test"}


def examples(n: int) -> int:
    """``n`` examples in the dev/ci profiles; the profile's own count under ``fuzz``."""
    profile = settings.default.max_examples
    return n if profile <= 200 else profile


class Text(str):
    """JSON text to put in a line as it is (Python's encoder stops near 1,000 levels)."""


def line(side: str, t: float, conn: int, key: str, payload: Any) -> bytes:
    """A frame line in the writer's layout."""
    text = payload if isinstance(payload, Text) else json.dumps(payload, separators=(",", ":"))
    return f'{{"side":"{side}","t":{json.dumps(t)},"conn":{conn},"{key}":{text}}}'.encode()


def nested(depth: int) -> Text:
    """JSON text of a value ``depth`` levels deep (alternating objects and arrays)."""
    opens = "".join('{"k":' if level % 2 == 0 else "[" for level in range(depth))
    closes = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    return Text(opens + "0" + closes)


def deep_event(depth: int, kind: str = "session.update") -> Text:
    """An event nesting exactly ``depth`` levels (the event object is level 1)."""
    return Text(f'{{"type":"{kind}","event_id":"e","x":{nested(depth - 1)}}}')


def cassette_bytes(*frames: bytes, header: dict[str, Any] | None = None) -> bytes:
    return b"\n".join([json.dumps(header or HEADER).encode(), *frames]) + b"\n"


SESSION = [
    line("server", 0.0, 0, "event", {"type": "session.created", "event_id": "ev_1"}),
    line("client", 0.001, 0, "event", {"type": "session.update", "session": {}}),
    line("server", 0.002, 0, "event", {"type": "session.updated", "event_id": "ev_2"}),
    line("server", 0.003, 0, "event", {"type": "response.done", "event_id": "ev_3"}),
]


def located(err: str, path: Path) -> bool:
    """Whether stderr is one error naming ``path:line`` (whatever prefix names the command)."""
    first = err.splitlines()[0] if err else ""
    return re.search(rf"error: {re.escape(str(path))}:\d+: ", first) is not None and (
        "Traceback" not in err
    )


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


# -- nesting ------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 254, 300, 1024])
@pytest.mark.parametrize("layout", ["writer", "other"])
def test_an_event_nested_too_deep_is_refused_by_check_and_replay_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], side: str, depth: int, layout: str
) -> None:
    event = deep_event(depth)
    frame = line(side, 0.5, 0, "event", event)
    if layout == "other":
        frame = f'{{"event":{event},"conn":0,"t":0.5,"side":"{side}"}}'.encode()
    path = tmp_path / "deep.jsonl"
    path.write_bytes(cassette_bytes(SESSION[0], frame))
    for command in ("check", "replay"):
        code, out, err = run_cli([command, str(path)], capsys)
        assert code == 2, (command, out, err)
        assert f"{path}:3: the event nests more than {MAX_DEPTH} levels deep" in err
        assert "Traceback" not in err and "PASS" not in out


@pytest.mark.parametrize("side", ["server", "client"])
def test_an_event_at_the_depth_limit_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], side: str
) -> None:
    event = deep_event(MAX_DEPTH)
    path = tmp_path / "deep.jsonl"
    path.write_bytes(cassette_bytes(SESSION[0], line(side, 0.5, 0, "event", event)))
    code, out, err = run_cli(["replay", str(path), "--timeout", "5"], capsys)
    assert code == 0, out + err
    assert out.splitlines()[-1].startswith(f"PASS: {path}: 2 frames played")


def _value(depth: int) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "x"}
    node = event
    for _ in range(depth - 1):
        node["k"] = {}
        node = node["k"]
    return event


def test_a_deep_frame_built_in_code_is_refused_with_its_side(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(cassette_bytes(SESSION[0]))
    cassette = load_cassette(path)
    deep = Frame.of_event(Side.CLIENT, 0.1, 0, _value(300))
    bad = type(cassette)(cassette.header, (*cassette.frames, deep), path="x.jsonl")
    with pytest.raises(CassetteError, match=r"^x\.jsonl: client event: cannot encode as JSON"):
        PreloadedCassette(bad)
    deep = Frame.of_event(Side.SERVER, 0.1, 0, _value(MAX_DEPTH + 1))
    bad = type(cassette)(cassette.header, (*cassette.frames, deep), path="x.jsonl")
    with pytest.raises(CassetteError, match=r"server event nests more than 128 levels deep"):
        PreloadedCassette(bad)


# -- the header's model -------------------------------------------------------------------


@settings(max_examples=examples(25), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.text(min_size=1, max_size=30))
@example(model="x#y")
@example(model="a&model=b c?d/e%zz\n")
def test_any_model_in_the_header_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    header = {**HEADER, "endpoint": {"path": "/v1/realtime", "query": {"model": model}}}
    path = tmp_path / "model.jsonl"
    path.write_bytes(cassette_bytes(*SESSION, header=header))
    code, out, err = run_cli(["replay", str(path), "--quiet", "--timeout", "5"], capsys)
    assert code == 0, out + err
    assert out.startswith(f"PASS: {path}: 4 frames played")


# -- the fast path agrees with the general path -------------------------------------------

NUMBER_TEXTS = st.one_of(
    st.sampled_from(
        [
            *("0", "1", "0.5", "00.5", "007", "1e999", "1E400", "-1", "-0", "1e-400", "0e0"),
            *("18446744073709551615", "18446744073709551616", "99999999999999999999999"),
            *("1.5e3", "01", "1.", ".5", "1e", "0x10", "Infinity", "NaN", "1_0"),
        ]
    ),
    st.from_regex(r"\A-?\d{1,22}(\.\d{0,6})?([eE][-+]?\d{1,4})?\Z"),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    _containers,
    max_leaves=10,
)
PAYLOAD_TEXTS = st.one_of(
    st.dictionaries(st.sampled_from(["type", "event_id", "x"]), JSON_VALUES, max_size=3).map(
        lambda v: json.dumps(v, separators=(",", ":"))
    ),
    st.integers(1, 3 * MAX_DEPTH).map(deep_event),
    st.sampled_from(['{"type":"x"},"event":{}', '{"type":"x"} ', "{", '"text"', "[]", "{}}"]),
    st.text(max_size=10),
)


def _general(raw: bytes) -> Frame | CassetteError:
    try:
        return parse_frame_line(raw, path="c.jsonl", lineno=2)
    except CassetteError as exc:
        return exc


@settings(max_examples=examples(300))
@given(
    side=st.sampled_from(["client", "server", "proxy"]),
    t=NUMBER_TEXTS,
    conn=NUMBER_TEXTS,
    key=st.sampled_from(["event", "binary", "close"]),
    payload=PAYLOAD_TEXTS,
    ending=st.sampled_from(["\n", "", "\r\n", "  \n"]),
)
@example(side="server", t="1e999", conn="0", key="event", payload='{"type":"x"}', ending="\n")
@example(side="server", t="00.5", conn="0", key="event", payload='{"type":"x"}', ending="\n")
@example(side="server", t="0.5", conn="007", key="event", payload='{"type":"x"}', ending="\n")
@example(
    side="server", t="0", conn="99999999999999999999999", key="event", payload="{}", ending="\n"
)
def test_the_fast_path_accepts_exactly_what_the_general_path_accepts(
    side: str, t: str, conn: str, key: str, payload: str, ending: str
) -> None:
    raw = f'{{"side":"{side}","t":{t},"conn":{conn},"{key}":{payload}}}{ending}'.encode()
    general = _general(raw)
    split = split_canonical(raw)
    if split is not None and isinstance(general, Frame):  # the payload is checked later
        assert (split.side, split.t, split.conn, split.key) == (
            general.side,
            general.t,
            general.conn,
            general.kind,
        )
    # The reader (fast path for this layout) and the same values in another key order
    # (general path) agree: the same frame, or a CassetteError on the same line.
    reordered = f'{{"{key}":{payload},"conn":{conn},"t":{t},"side":"{side}"}}{ending}'.encode()
    assert _read_one(raw) == _read_one(reordered) or (
        isinstance(general, CassetteError) and "torn" in str(_read_one(raw))
    )


def _read_one(raw: bytes) -> tuple[Any, ...] | str:
    """Read a one-frame cassette; the frame's values, or the error without its path."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        path.write_bytes(json.dumps(HEADER).encode() + b"\n" + raw)
        try:
            with open_cassette(path) as reader:
                frames = list(reader)
        except CassetteError as exc:
            assert exc.lineno == 2 and str(exc).startswith(f"{path}:2: "), str(exc)
            return exc.reason.split(":")[0]
    assert len(frames) == 1
    f = frames[0]
    return (f.side, f.t, f.conn, f.event, f.binary, f.close_code, f.close_reason)


# -- no false PASS under pacing -----------------------------------------------------------


class FakeClock:
    """Virtual time: ``sleep_until`` returns only once :meth:`advance` passes the deadline."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        while self.t < deadline:
            await self._moved.wait()
            self._moved.clear()

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self._moved.set()


LATE = [
    line("server", 0.0, 0, "event", {"type": "session.created", "event_id": "ev_1"}),
    line("server", 5.0, 0, "event", {"type": "session.updated", "event_id": "ev_2"}),
]


async def test_a_paced_frame_still_waiting_when_the_client_leaves_is_unplayed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "late.jsonl"
    path.write_bytes(cassette_bytes(*LATE))
    clock = FakeClock()
    async with FakeRealtimeServer(path, speed=1, clock=clock) as server:
        async with connect(server.url, additional_headers=AUTH) as ws:
            async with asyncio.timeout(5):
                assert json.loads(await ws.recv())["type"] == "session.created"
            clock.advance(4.9)  # not yet: the frame is due at +5 s
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await ws.recv()
    with pytest.raises(UnplayedFrames) as caught:
        server.verdict()
    assert f"{path}:3: 1 recorded frame never played on conn 0" in str(caught.value)
    assert "line 3: server session.updated (t=5.000)" in str(caught.value)


async def test_a_paced_frame_plays_when_its_time_comes(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    path.write_bytes(cassette_bytes(*LATE))
    clock = FakeClock()
    async with FakeRealtimeServer(path, speed=1, clock=clock) as server:
        async with connect(server.url, additional_headers=AUTH) as ws:
            async with asyncio.timeout(5):
                assert json.loads(await ws.recv())["type"] == "session.created"
                clock.advance(5.0)
                assert json.loads(await ws.recv())["type"] == "session.updated"
    server.verdict()


def test_replay_fails_when_the_timeout_cuts_a_paced_frame_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "late.jsonl"
    path.write_bytes(cassette_bytes(*LATE))
    code, out, _ = run_cli(["replay", str(path), "--speed", "1", "--timeout", "0.2"], capsys)
    assert code == 1, out
    assert "(nothing for 0.2 s; expected session.updated)  <- not in the cassette" in out
    assert f"FAIL: {path}" in out and "PASS" not in out
    assert "line 3: server session.updated (t=5.000)" in out


# -- torn cassettes -----------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_replay_plays_a_torn_cassette_up_to_the_tear_then_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: int
) -> None:
    path = tmp_path / "torn.jsonl"
    whole = cassette_bytes(*SESSION[:3])
    path.write_bytes(whole + SESSION[3][:cut])
    code, out, err = run_cli(["replay", str(path)], capsys)
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0] == (
        f"warning: {path}:5: torn last line: it ends without a newline and is not complete "
        "JSON (the writer was probably interrupted; the frames before it are intact); "
        "playing the frames before it"
    )
    assert [x.split()[-1] for x in lines[1:4]] == [
        "session.created",
        "session.update",
        "session.updated",
    ]
    assert lines[-1] == f"FAIL: {path}: the cassette is torn at line 5; the frames before it played"
    code, _, err = run_cli(["check", str(path)], capsys)
    assert code == 2 and f"{path}:5: torn last line" in err


def test_a_torn_streamed_cassette_plays_up_to_the_tear(tmp_path: Path) -> None:
    from harness.replay import prepare_cassette

    path = tmp_path / "torn.jsonl"
    path.write_bytes(cassette_bytes(*SESSION[:3]) + SESSION[3][:20])
    script = prepare_cassette(path, preload_limit=0, allow_torn=True)
    assert script.torn is not None and script.torn.lineno == 5
    assert [p.lineno for p in script.frames(0)] == [2, 3, 4]
    with pytest.raises(CassetteError, match=r":5: torn last line"):
        prepare_cassette(path, preload_limit=0)


# -- generated hostile cassettes through the CLI ------------------------------------------


@st.composite
def hostile_cassettes(draw: st.DrawFn) -> bytes:
    """A small valid session, then one or two hostile edits."""
    lines = [json.dumps(HEADER, separators=(",", ":")).encode(), *SESSION]
    for _ in range(draw(st.integers(1, 2))):
        edit = draw(
            st.sampled_from(["bytes", "nest", "number", "tear", "header", "payload", "close"])
        )
        index = draw(st.integers(1, len(lines) - 1))
        if edit == "bytes":
            lines[index] = draw(st.binary(max_size=40))
        elif edit == "nest":
            depth = draw(st.sampled_from([MAX_DEPTH, MAX_DEPTH + 1, 200, 254, 255, 1000, 1100]))
            side = draw(st.sampled_from(["client", "server"]))
            lines[index] = line(side, 0.001 * index, 0, "event", deep_event(depth))
        elif edit == "number":
            t, conn = draw(NUMBER_TEXTS), draw(NUMBER_TEXTS)
            lines[index] = (
                f'{{"side":"server","t":{t},"conn":{conn},"event":{{"type":"x"}}}}'.encode()
            )
        elif edit == "tear":
            cut = draw(st.integers(0, len(lines[-1])))
            lines[-1] = lines[-1][:cut]
            return b"\n".join(lines)  # no newline after a torn line
        elif edit == "header":
            header = dict(HEADER)
            key = draw(st.sampled_from(["version", "made", "endpoint", "format", "extra"]))
            value = draw(JSON_VALUES | st.just(nested(300)))
            text = value if isinstance(value, Text) else json.dumps(value)
            lines[0] = json.dumps(header).encode()[:-1] + f',"{key}":{text}}}'.encode()
        elif edit == "close":  # any code the format allows, any reason (RFC 6455 caps both)
            side = draw(st.sampled_from(["client", "server"]))
            code = draw(st.none() | st.integers(1000, 4999) | st.sampled_from([1005, 1006, 2999]))
            reason = draw(st.text(max_size=3) | st.just("é" * 100))
            lines[index] = line(side, 0.001 * index, 0, "close", {"code": code, "reason": reason})
        else:
            side = draw(st.sampled_from(["client", "server"]))
            key = draw(st.sampled_from(["event", "binary", "close"]))
            lines[index] = line(side, 0.001 * index, 0, key, draw(JSON_VALUES))
    return b"\n".join(lines) + b"\n"


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=hostile_cassettes())
@example(data=cassette_bytes(SESSION[0], line("server", 0.1, 0, "event", deep_event(254))))
@example(data=cassette_bytes(SESSION[0], b'{"side":"server","t":1e999,"conn":0,"event":{}}'))
@example(data=cassette_bytes(*SESSION)[:-30])
@example(data=cassette_bytes(SESSION[0], line("client", 0.1, 0, "close", {"code": 1005})))
@example(data=cassette_bytes(SESSION[0], line("server", 0.1, 0, "close", {"code": 2999})))
@example(
    data=cassette_bytes(
        SESSION[0], line("server", 0.1, 0, "close", {"code": 4000, "reason": "é" * 99})
    )
)
def test_check_and_replay_answer_any_cassette_with_a_verdict(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    data: bytes,
) -> None:
    caplog.clear()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data)
    checked, _, check_err = run_cli(["check", str(path)], capsys)
    assert checked in (0, 2)
    if checked == 2:
        assert located(check_err, path), check_err  # file:line, no traceback
    replayed, out, err = run_cli(["replay", str(path), "--quiet", "--timeout", "2"], capsys)
    assert replayed in (0, 1, 2), out + err
    if replayed == 2:
        assert located(err, path), err
    try:
        torn = load_cassette(path, allow_torn=True).torn
    except CassetteError:
        torn = None
    if replayed == 0:  # never a false PASS
        assert checked == 0 and torn is None, (out, check_err)
        assert "PASS" in out
    else:
        assert "PASS" not in out
    if checked == 2 and torn is None:
        assert replayed == 2  # what check refuses, replay refuses
    # The fake server's handler never crashed (websockets logs that at ERROR).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
