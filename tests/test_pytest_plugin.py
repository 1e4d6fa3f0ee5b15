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


# Takes session.created and hangs up: the rest of the recorded connection is never played.
HANG_UP = """
import asyncio

from websockets.asyncio.client import connect


async def test_turn(realtime_server):
    async with asyncio.timeout(5):
        headers = {"Authorization": "Bearer k"}
        async with connect(realtime_server.url, additional_headers=headers) as ws:
            await ws.recv()
"""


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


def _shown(pytester: pytest.Pytester) -> Path:
    """The cassette as reports name it: relative to where pytest ran (the pytester dir)."""
    return _cassette(pytester).relative_to(pytester.path)


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
            f"*{_shown(inner)}: no such cassette. Record it once, against the real API "
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


def test_divergence_fails_the_test_once_with_the_mismatch_report(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    result, seen = _run(inner, monkeypatch, text="goodbye")
    assert seen["seen"][0][-1]["type"] == "error"  # the body ran to its end and passed
    result.assert_outcomes(failed=1)  # one failure, in the call: no ERROR at teardown
    result.stdout.fnmatch_lines(
        [
            "*_ test_turn _*",
            f"*{_shown(inner)}:*: client frame * does not match (conversation.item.create)",
            '*expected: "hello 0"*',
            '*received: "goodbye 0"*',
            "*re-record with --realtime-record-mode=all*",
            "FAILED test_inner.py::test_turn - *",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR*")
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_a_test_that_fails_itself_on_a_mismatch_fails_once_with_its_error_and_the_diff(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    inner.makepyfile(
        test_inner=TEST_FILE + "    assert seen[0][-1]['type'] != 'error', 'the API refused'\n"
    )
    result, _ = _run(inner, monkeypatch, text="goodbye")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * AssertionError: the API refused",  # the test's own failure, its traceback
            "*- realtime-harness: the replay diverged from the cassette -*",
            f"*{_shown(inner)}:*: client frame * does not match (conversation.item.create)",
            '*received: "goodbye 0"*',
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR*")


def test_frames_left_unplayed_fail_a_passing_test_once(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    inner.makepyfile(test_inner=HANG_UP)
    result, _ = _run(inner, monkeypatch)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*recorded frames never played on conn 0*"])
    result.stdout.no_fnmatch_line("*ERROR*")


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
    result.assert_outcomes(failed=1)
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


# -- the event loop the test runs in ------------------------------------------------------------


def test_a_test_in_another_event_loop_than_the_fixture_fails_at_once_saying_what_to_change(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    inner.makepyfile(
        test_inner=TEST_FILE.replace(
            "async def test_turn(",
            "import pytest\n\n@pytest.mark.asyncio(loop_scope='module')\nasync def test_turn(",
        )
    )
    result, seen = _run(inner, monkeypatch)
    assert seen == {}  # the body never ran: no handshake left to time out
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_inner.py::test_turn: the test runs in pytest-asyncio's module-scoped event "
            "loop, but realtime_server runs in its function-scoped loop, so no client in the "
            "test could reach the server (its handshake would time out).",
            "Run both in the same loop: remove loop_scope from the test's "
            "@pytest.mark.asyncio(...), or set asyncio_default_fixture_loop_scope = module "
            "in your pytest configuration.",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR*")

    # the second way out it names works
    inner.makeini(INI.replace("loop_scope = function", "loop_scope = module"))
    result, seen = _run(inner, monkeypatch)
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "replay"


def test_an_async_test_nothing_runs_says_how_to_run_it(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    inner.makeini(INI.replace("asyncio_mode = auto", "asyncio_mode = strict"))
    result, seen = _run(inner, monkeypatch)
    assert seen == {}
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_inner.py::test_turn: nothing runs this async test: mark it "
            "@pytest.mark.asyncio, or set asyncio_mode = auto in your pytest configuration"
        ]
    )
    result.stdout.no_fnmatch_line("*not natively supported*")


# -- --realtime-block-network -------------------------------------------------------------------

# Replays its turn over loopback, then tries to leave the machine three ways; each attempt must
# be refused by our guard (NetworkBlocked) before the real connect or lookup is called, so no
# packet is sent. 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, even if the guard failed.
BLOCKED_TEST = (
    TEST_FILE
    + """
import socket

import pytest

from harness.errors import NetworkBlocked


async def test_leaving_loopback(realtime_server):
    async with asyncio.timeout(5):
        await converse(realtime_server.url, "hello 0")  # loopback works
        with pytest.raises(NetworkBlocked) as info:
            await connect("ws://192.0.2.1:8080/v1/realtime", open_timeout=2)
        with pytest.raises(NetworkBlocked):
            socket.create_connection(("192.0.2.1", 443), timeout=2)
        with pytest.raises(NetworkBlocked) as lookup:
            socket.getaddrinfo("api.openai.com", 443)
    with open(os.environ["SEEN"], "w") as f:
        json.dump({"kind": "blocked", "errors": [str(info.value), str(lookup.value)]}, f)


async def test_record_mode_is_never_blocked(realtime_server):
    assert socket.socket.connect.__name__ == "connect"  # the original method
    async with asyncio.timeout(5):
        await converse(realtime_server.url, "hello 0")
"""
)


def test_block_network_refuses_non_loopback_at_once_while_replaying(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    cassette = _cassette(inner)
    cassette.rename(cassette.with_name("test_leaving_loopback.jsonl"))
    inner.makepyfile(test_inner=BLOCKED_TEST)
    result, seen = _run(
        inner, monkeypatch, "--realtime-block-network", "-k", "test_leaving_loopback"
    )
    result.assert_outcomes(passed=1)
    way_out = (
        f"blocked by --realtime-block-network while the test replays "
        f"{_shown(inner).with_name('test_leaving_loopback.jsonl')} (only loopback is allowed). "
        "Point the client at realtime_server.url, or record with --realtime-record-mode=once "
        "(missing cassettes) or =all (re-record)."
    )
    assert seen["errors"] == [
        f"connection to 192.0.2.1 port 8080: {way_out}",
        f"lookup of the host name 'api.openai.com': {way_out}",
    ]
    # restored after the test: the next test (recording) is not blocked
    result, _ = _run(
        inner,
        monkeypatch,
        "--realtime-block-network",
        "--realtime-record-mode=all",
        "-k",
        "test_record_mode_is_never_blocked",
    )
    result.assert_outcomes(passed=1)


def test_without_the_option_nothing_is_blocked(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    _cassette(inner).rename(_cassette(inner).with_name("test_record_mode_is_never_blocked.jsonl"))
    inner.makepyfile(test_inner=BLOCKED_TEST)
    result, _ = _run(inner, monkeypatch, "-k", "test_record_mode_is_never_blocked")
    result.assert_outcomes(passed=1)


def test_the_ini_value_turns_blocking_on(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    cassette = _cassette(inner)
    cassette.rename(cassette.with_name("test_leaving_loopback.jsonl"))
    inner.makeini(INI + "realtime_block_network = true\n")
    inner.makepyfile(test_inner=BLOCKED_TEST)
    result, seen = _run(inner, monkeypatch, "-k", "test_leaving_loopback")
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "blocked"


# -- per-test options on the marker ------------------------------------------------------------


def _marked(options: str, body: str = TEST_FILE) -> str:
    return body.replace(
        "async def test_turn(",
        f"import pytest\n\n@pytest.mark.realtime_cassette({options})\nasync def test_turn(",
    )


def test_marker_record_mode_overrides_the_command_line(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner.makepyfile(test_inner=_marked("record_mode='all'"))
    result, seen = _run(inner, monkeypatch, "--realtime-record-mode=none")
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "record"
    assert _cassette(inner).exists()  # the default path: the marker gave no path


def test_marker_match_rules_override_realtime_config(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(inner, monkeypatch, "--realtime-record-mode=once")[0].assert_outcomes(passed=1)
    ignoring = "match_rules=DEFAULT_RULES.ignoring('item.content')"
    inner.makepyfile(
        test_inner="from harness.matching import DEFAULT_RULES\n"
        + _marked(f"'cassettes/test_inner/test_turn.jsonl', {ignoring}")
    )
    result, seen = _run(inner, monkeypatch, text="goodbye")  # diverges in item.content only
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "replay"


def test_marker_speed_and_redaction_override_realtime_config(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    redaction = (
        "redaction=RedactionRules.default().with_rules(RedactionRule.pattern('word', 'hello'))"
    )
    inner.makepyfile(
        test_inner="from harness import RedactionRule, RedactionRules\n"
        + _marked(f"record_mode='once', speed=1, {redaction}").replace(
            "    with open(",
            "    if kind == 'replay': assert realtime_server.speed == 1.0\n    with open(",
        )
    )
    _run(inner, monkeypatch)[0].assert_outcomes(passed=1)
    text = _cassette(inner).read_text()
    assert "hello 0" not in text and "<redacted:word> 0" in text
    result, seen = _run(inner, monkeypatch)  # once, cassette present: replays at speed 1
    result.assert_outcomes(passed=1)
    assert seen["kind"] == "replay"


def test_marker_upstream_url_overrides_realtime_config(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # realtime_config's upstream (the conftest's simulate server) works; the marker's does not
    # (nothing listens on port 1), so the recording can only fail if the marker's URL is used.
    dead = "ws://127.0.0.1:1/v1/realtime?model=gpt-realtime"
    inner.makepyfile(test_inner=_marked(f"record_mode='all', upstream_url={dead!r}"))
    result, _ = _run(inner, monkeypatch)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*HTTP 502*"])
    result.stdout.fnmatch_lines(["*127.0.0.1:1*"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "record_mode='rewind'",
            "*test_inner.py::test_turn: @pytest.mark.realtime_cassette(record_mode=...): "
            "unknown record mode 'rewind'; choose one of none, once, new_episodes, all",
        ),
        (
            "speed='fast'",
            "*test_inner.py::test_turn: @pytest.mark.realtime_cassette: speed='fast' is not "
            "a int or float",
        ),
        (
            "match='strict'",
            "*test_inner.py::test_turn: @pytest.mark.realtime_cassette: unknown option "
            "'match'; it takes a path and record_mode, upstream_url, redaction, match_rules, "
            "speed",
        ),
    ],
)
def test_bad_marker_options_are_usage_errors_naming_the_test(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: str, message: str
) -> None:
    inner.makepyfile(test_inner=_marked(options))
    result, seen = _run(inner, monkeypatch)
    assert seen == {}
    result.stdout.fnmatch_lines([message])
