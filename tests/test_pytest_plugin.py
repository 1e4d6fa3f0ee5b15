"""The pytest plugin, run as real pytest sessions (pytester) over real sockets.

Each inner session starts its own upstream, ``FakeRealtimeServer.simulate()`` on 127.0.0.1,
and points ``realtime_config`` at it: recording talks to it through the proxy, replay
never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

API_KEY = "sk-proj-PLUGINtest0123456789abcdefghijklmnopq"

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

CONFTEST = """
import os

import pytest
import pytest_asyncio

from harness.pytest_plugin import RealtimeConfig
from harness.server import FakeRealtimeServer


@pytest_asyncio.fixture
async def upstream():
    async with FakeRealtimeServer.simulate() as server:
        yield server


@pytest.fixture
def realtime_config(upstream):
    return RealtimeConfig(upstream_url=upstream.url)
"""

# One conversation per connection; how many connections and what text come from the
# environment, so one test file serves every run. What the client saw goes to SEEN.
TEST_FILE = """
import asyncio
import json
import os

from websockets.asyncio.client import connect

from harness.server import FakeRealtimeServer

API_KEY = "PLANTED_KEY"


async def converse(url, text):
    seen = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}) as ws:
        seen.append(json.loads(await ws.recv()))  # session.created
        await ws.send(json.dumps({
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user",
                     "content": [{"type": "input_text", "text": text}]},
        }))
        while seen[-1]["type"] not in ("conversation.item.done", "error"):
            seen.append(json.loads(await ws.recv()))
    return seen


async def test_turn(realtime_server):
    kind = "replay" if isinstance(realtime_server, FakeRealtimeServer) else "record"
    seen = []
    async with asyncio.timeout(5):
        for n in range(int(os.environ.get("CONNS", "1"))):
            text = os.environ.get("TEXT", "hello") + f" {n}"
            seen.append(await converse(realtime_server.url, text))
    with open(os.environ["SEEN"], "w") as f:
        json.dump({"kind": kind, "seen": seen}, f)
""".replace("PLANTED_KEY", API_KEY)


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TEST_FILE)
    return pytester


def _run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    conns: int = 1,
    text: str = "hello",
) -> tuple[pytest.RunResult, dict[str, object]]:
    seen_path = pytester.path / "seen.json"
    seen_path.unlink(missing_ok=True)
    monkeypatch.setenv("CONNS", str(conns))
    monkeypatch.setenv("TEXT", text)
    monkeypatch.setenv("SEEN", str(seen_path))
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    seen = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    return result, seen


def _cassette(pytester: pytest.Pytester) -> Path:
    return pytester.path / "cassettes" / "test_inner" / "test_turn.jsonl"


def _redacted(seen: object) -> object:
    return json.loads(json.dumps(seen).replace(API_KEY, "<redacted:openai_api_key>"))


def test_option_is_listed_in_help(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--realtime-record-mode=*none*once*new_episodes*all*"])


def test_replay_without_a_cassette_fails_with_the_way_to_record_it(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = _run(inner, monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*{_cassette(inner)}: no such cassette. Record it once, against the real API "
            "with your key: pytest --realtime-record-mode=once*"
        ]
    )
    assert not _cassette(inner).exists()


def test_once_records_then_replays_the_same_frames(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, recorded = _run(inner, monkeypatch, "--realtime-record-mode=once")
    result.assert_outcomes(passed=1)
    assert recorded["kind"] == "record"
    cassette = _cassette(inner)
    assert cassette.exists()
    assert API_KEY not in cassette.read_text()
    first_bytes = cassette.read_bytes()

    result, replayed = _run(inner, monkeypatch, "--realtime-record-mode=once")
    result.assert_outcomes(passed=1)
    assert replayed["kind"] == "replay"
    assert replayed["seen"] == _redacted(recorded["seen"])
    assert cassette.read_bytes() == first_bytes  # once: an existing cassette is not touched

    result, replayed = _run(inner, monkeypatch)  # the default, none
    result.assert_outcomes(passed=1)
    assert replayed["kind"] == "replay"


def test_divergence_fails_the_test_with_the_mismatch_report(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    result, _ = _run(inner, monkeypatch, text="goodbye")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_turn*",
            f"*{_cassette(inner)}:*: client frame * does not match (conversation.item.create)",
            '*expected: "hello 0"*',
            '*received: "goodbye 0"*',
        ]
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_all_re_records(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    result, seen = _run(inner, monkeypatch, "--realtime-record-mode=all", text="goodbye")
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "record"
    assert "goodbye 0" in _cassette(inner).read_text()
    assert "hello 0" not in _cassette(inner).read_text()


def test_new_episodes_replays_recorded_connections_and_appends_new_ones(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=new_episodes")[0].assert_outcomes(passed=1)
    cassette = _cassette(inner)
    lines = cassette.read_text().splitlines()
    assert {json.loads(line)["conn"] for line in lines[1:]} == {0}

    result, seen = _run(inner, monkeypatch, "--realtime-record-mode=new_episodes", conns=2)
    result.assert_outcomes(passed=1)
    after = cassette.read_text().splitlines()
    assert after[: len(lines)] == lines  # conn 0 replayed, not rewritten
    assert {json.loads(line)["conn"] for line in after[len(lines) :]} == {1}

    result, replayed = _run(inner, monkeypatch, conns=2)
    result.assert_outcomes(passed=1)
    assert replayed["seen"] == _redacted(seen["seen"])


def test_new_episodes_still_fails_a_diverging_recorded_connection(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    result, _ = _run(inner, monkeypatch, "--realtime-record-mode=new_episodes", text="bye")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*client frame * does not match (conversation.item.create)"])


def test_marker_names_the_cassette_and_the_ini_sets_the_mode(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner.makeini(INI + "realtime_record_mode = once\n")
    inner.makepyfile(
        test_inner=TEST_FILE.replace(
            "async def test_turn(",
            "import pytest\n\n@pytest.mark.realtime_cassette('recorded/turn.jsonl')\n"
            "async def test_turn(",
        )
    )
    result, seen = _run(inner, monkeypatch)
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "record"
    assert (inner.path / "recorded" / "turn.jsonl").exists()
    assert not _cassette(inner).exists()


def test_unknown_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--realtime-record-mode=rewind")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --realtime-record-mode: invalid choice: 'rewind'*"])
