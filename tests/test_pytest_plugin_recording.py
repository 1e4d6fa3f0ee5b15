"""The plugin's recording modes never destroy a cassette (pytester sessions, real sockets).

Each inner session records through the proxy to an upstream chosen by ``UPSTREAM``: the
simulated API (``good``), a port bound and released (``closed``: unreachable), or a
server that refuses every handshake with HTTP 401 (``refuse``). A recording that is not
sound must fail the test with the refusal, leave the old cassette byte-identical and keep
the attempt in ``test_turn.failed.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

API_KEY = "sk-proj-PLUGINrecording0123456789abcdefghijklmn"

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

CONFTEST = """
import asyncio
import json
import os

import pytest
import pytest_asyncio
from websockets.asyncio.server import serve

from harness.pytest_plugin import RealtimeConfig
from harness.server import FakeRealtimeServer


@pytest_asyncio.fixture
async def upstream_url():
    kind = os.environ["UPSTREAM"]
    if kind == "good":
        async with FakeRealtimeServer.simulate() as server:
            yield server.url
    elif kind == "closed":
        async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0) as released:
            port = next(iter(released.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    else:
        body = json.dumps({"error": {"message": "Incorrect API key provided: PLANTED_KEY"}})
        refuse = lambda ws, request: ws.respond(401, body)
        async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0, process_request=refuse) as s:
            port = next(iter(s.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}/v1/realtime"


@pytest.fixture
def realtime_config(upstream_url):
    return RealtimeConfig(upstream_url=upstream_url)
""".replace("PLANTED_KEY", API_KEY)

# CONNS connections, each one turn; a refused handshake is noted, not raised, so that the
# only failure a run shows is the fixture's.
TEST_FILE = """
import asyncio
import json
import os

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

API_KEY = "PLANTED_KEY"


async def test_turn(realtime_server):
    statuses = []
    async with asyncio.timeout(5):
        for n in range(int(os.environ.get("CONNS", "1"))):
            try:
                async with connect(
                    realtime_server.url, additional_headers={"Authorization": f"Bearer {API_KEY}"}
                ) as ws:
                    await ws.recv()  # session.created
                    await ws.send(json.dumps({
                        "type": "conversation.item.create",
                        "item": {"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": f"hello {n}"}]},
                    }))
                    while json.loads(await ws.recv())["type"] != "conversation.item.done":
                        pass
                statuses.append(101)
            except InvalidStatus as exc:
                statuses.append(exc.response.status_code)
    with open(os.environ["SEEN"], "w") as f:
        json.dump(statuses, f)
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
    mode: str,
    upstream: str,
    conns: int = 1,
) -> tuple[pytest.RunResult, list[int]]:
    seen = pytester.path / "seen.json"
    seen.unlink(missing_ok=True)
    monkeypatch.setenv("UPSTREAM", upstream)
    monkeypatch.setenv("CONNS", str(conns))
    monkeypatch.setenv("SEEN", str(seen))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--realtime-record-mode={mode}")
    return result, json.loads(seen.read_text()) if seen.exists() else []


def _dir(pytester: pytest.Pytester) -> Path:
    return pytester.path / "cassettes" / "test_inner"


def _recorded_good_cassette(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, bytes]:
    result, statuses = _run(inner, monkeypatch, "once", "good")
    result.assert_outcomes(passed=1)
    assert statuses == [101]
    cassette = _dir(inner) / "test_turn.jsonl"
    return cassette, cassette.read_bytes()


def _failed_with(result: pytest.RunResult, cassette: Path, kept: str, *reasons: str) -> None:
    """The test body passed; the test failed once, in its call, with the recording failure."""
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*ERROR*")
    side = cassette.with_name("test_turn.failed.jsonl")
    shown = cassette.relative_to(cassette.parents[2])  # as reports name it: from the run's dir
    result.stdout.fnmatch_lines(
        [
            f"{shown}: recording failed: {'*'.join(reasons)}*; the cassette {kept}; "
            f"the attempt is in {side}",
        ]
    )
    assert API_KEY not in result.stdout.str()


@pytest.mark.parametrize("upstream", ["closed", "refuse"])
def test_all_with_a_failing_upstream_keeps_the_cassette_byte_identical(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, upstream: str
) -> None:
    cassette, old = _recorded_good_cassette(inner, monkeypatch)
    result, statuses = _run(inner, monkeypatch, "all", upstream)
    refusal = (
        "harness.RecordingProxy could not open the upstream connection to ws://127.0.0.1:*"
        if upstream == "closed"
        else "the upstream refused the handshake: HTTP 401 Unauthorized: Incorrect API key "
        "provided: <redacted:openai_api_key>"
    )
    _failed_with(
        result,
        cassette,
        "is unchanged",
        "no connection completed its handshake with the upstream",
        f"conn 0: {refusal}",
    )
    assert statuses == [502 if upstream == "closed" else 401]
    assert cassette.read_bytes() == old
    side = _dir(inner) / "test_turn.failed.jsonl"
    (frame,) = [json.loads(line) for line in side.read_text().splitlines()[1:]]
    assert frame["close"]["code"] == (4502 if upstream == "closed" else 4401)
    assert API_KEY not in side.read_text()
    # The good cassette still replays.
    result, statuses = _run(inner, monkeypatch, "none", "closed")
    result.assert_outcomes(passed=1)
    assert statuses == [101]


def test_once_without_a_cassette_and_an_unreachable_upstream_records_nothing(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = _dir(inner) / "test_turn.jsonl"
    result, statuses = _run(inner, monkeypatch, "once", "closed")
    _failed_with(
        result,
        cassette,
        "was not written",
        "no connection completed its handshake with the upstream",
        "HTTP 502",
    )
    assert statuses == [502]
    assert not cassette.exists()
    assert sorted(p.name for p in _dir(inner).iterdir()) == ["test_turn.failed.jsonl"]
    # Replay does not PASS on the failed attempt: there is no cassette to pass on.
    result, _ = _run(inner, monkeypatch, "none", "closed")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{cassette.relative_to(inner.path)}: no such cassette*"])


def test_new_episodes_with_an_unreachable_upstream_keeps_the_cassette_byte_identical(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette, old = _recorded_good_cassette(inner, monkeypatch)
    result, statuses = _run(inner, monkeypatch, "new_episodes", "closed", conns=2)
    assert statuses == [101, 502]  # conn 0 replayed, conn 1 could not reach the upstream
    _failed_with(
        result,
        cassette,
        "is unchanged",
        "no connection completed its handshake with the upstream",
        "conn 1: harness.RecordingProxy could not open the upstream connection",
    )
    assert cassette.read_bytes() == old
    attempt = (_dir(inner) / "test_turn.failed.jsonl").read_bytes()
    assert attempt.startswith(old)  # the old lines, then the refused connection
    assert json.loads(attempt.splitlines()[-1])["conn"] == 1


def test_new_episodes_appends_to_the_old_bytes_when_sound(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette, old = _recorded_good_cassette(inner, monkeypatch)
    result, statuses = _run(inner, monkeypatch, "new_episodes", "good", conns=2)
    result.assert_outcomes(passed=1)
    assert statuses == [101, 101]
    new = cassette.read_bytes()
    assert new.startswith(old) and len(new) > len(old)
    assert {json.loads(line)["conn"] for line in new[len(old) :].splitlines()} == {1}
    assert sorted(p.name for p in _dir(inner).iterdir()) == ["test_turn.jsonl"]
    # And with no new connection, nothing to add: the cassette is not even rewritten.
    mtime = cassette.stat().st_mtime_ns
    result, _ = _run(inner, monkeypatch, "new_episodes", "closed", conns=2)
    result.assert_outcomes(passed=1)
    assert cassette.read_bytes() == new and cassette.stat().st_mtime_ns == mtime


def test_a_killed_recording_s_file_is_never_overwritten(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette, old = _recorded_good_cassette(inner, monkeypatch)
    staging = _dir(inner) / "test_turn.recording.jsonl"
    staging.write_bytes(old[:-5])  # what a recorder killed mid-write leaves
    result, statuses = _run(inner, monkeypatch, "all", "good")
    result.assert_outcomes(errors=1)
    assert statuses == []  # the test never ran
    result.stdout.fnmatch_lines(
        [
            f"*{staging} exists: another recorder is writing {cassette}, or one was killed and "
            "left its frames there; move it away (or delete it) to record again"
        ]
    )
    assert staging.read_bytes() == old[:-5] and cassette.read_bytes() == old
