"""No client secret in what a mismatch shows: the report, the error event, pytest, the page.

Every case is a real replay: a hand-made cassette, the fake server on 127.0.0.1, a websockets
client whose frame carries an MCP tool's ``authorization`` and ``headers`` (key-path
secrets: opaque, no pattern knows them) or an ``sk-`` key (a pattern secret), and mismatches
the recording: at the secret's own path (the recording holds another literal token), at a
parent path (another number of tools, tools the recording lacks), elsewhere in the same
frame, or as malformed input. The secret must not be in ``Mismatch.report``, the error
event the client receives, ``server.report()``, the ``CassetteMismatch`` the verdict raises,
the kept ``Mismatch`` values, the HTML report, the fake server's logs (DEBUG included),
nor the output of a pytest session whose test replays it; its placeholder stands in its
place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _serve import serve
from websockets.asyncio.client import connect

from harness.cassette import CassetteWriter, Header
from harness.errors import CassetteMismatch
from harness.redaction import RedactionRule, RedactionRules
from harness.replay import Mismatch
from harness.report import write_html
from harness.server import FakeRealtimeServer

pytestmark = pytest.mark.usefixtures("planted_cassettes_removed")
pytest_plugins = ["pytester"]

TOKEN = "opaque-mcp-token-LEAK-9b2e7f"
HEADER_VALUE = "mcp-header-LEAK-c41d0a"
KEY = "sk-proj-LEAKtest0123456789abcdefghijklmnopq"
SECRETS = (TOKEN, HEADER_VALUE, KEY)
AUTH = {"Authorization": "Bearer test-key"}
TIMEOUT = 10


def mcp(authorization: str, **fields: object) -> dict[str, Any]:
    return {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://mcp.example.com/sse",
        "authorization": authorization,
        **fields,
    }


def update(**session: object) -> dict[str, Any]:
    return {"type": "session.update", "session": session}


RECORDED_TOOL = mcp("<redacted:mcp_authorization>", headers={"X-Api-Key": "<redacted:mcp_headers>"})
LIVE_TOOL = mcp(TOKEN, headers={"X-Api-Key": HEADER_VALUE})


@dataclass(frozen=True)
class Case:
    recorded: dict[str, Any]  # the recorded client session.update
    sent: str  # the client's frame, as sent
    code: str  # error.code of the error event the client gets
    at: str | None  # error.param: the first difference's path
    rule: str  # the rule whose placeholder Mismatch.received holds in the secret's place
    shown: str | None = None  # what the report shows there (None: it shows no value)


CASES = {
    "at_its_own_path": Case(
        update(tools=[mcp("recorded-literal-token", headers={"X-Api-Key": "recorded-h"})]),
        json.dumps(update(tools=[LIVE_TOOL])),
        "cassette_mismatch",
        "$.session.tools[0].authorization",
        "mcp_authorization",
        'received: "<redacted:mcp_authorization>" (a different value, redacted)',
    ),
    "at_a_parent_array_length": Case(
        update(tools=[RECORDED_TOOL]),
        json.dumps(update(tools=[LIVE_TOOL, LIVE_TOOL])),
        "cassette_mismatch",
        "$.session.tools",
        "mcp_authorization",
    ),
    "at_a_parent_the_recording_lacks": Case(
        update(instructions="be brief"),
        json.dumps(
            update(instructions="be brief", tools=[{"type": "mcp", "authorization": TOKEN}])
        ),
        "cassette_mismatch",
        "$.session.tools",
        "mcp_authorization",
        '"authorization":"<redacted:mcp_authorization>"',
    ),
    "elsewhere_in_the_frame": Case(
        update(instructions="be brief", tools=[RECORDED_TOOL]),
        json.dumps(update(instructions="be verbose", tools=[LIVE_TOOL])),
        "cassette_mismatch",
        "$.session.instructions",
        "mcp_headers",
    ),
    "in_malformed_json_cut_short": Case(
        update(tools=[RECORDED_TOOL]),
        json.dumps(update(tools=[LIVE_TOOL]))[:-3],
        "invalid_json",
        None,
        "mcp_authorization",
    ),
    # Short: websockets' DEBUG log of the frame shows it whole.
    "in_a_json_array": Case(
        update(tools=[RECORDED_TOOL]),
        json.dumps([{"tools": [{"headers": {"X-Api-Key": HEADER_VALUE}}]}]),
        "invalid_json",
        None,
        "mcp_headers",
    ),
    "in_an_unknown_event_type": Case(
        update(tools=[RECORDED_TOOL]),
        json.dumps({**update(tools=[mcp(TOKEN)]), "type": "session.upd"}),
        "invalid_value",
        "type",
        "mcp_authorization",
    ),
    "as_an_api_key_in_a_string": Case(
        update(instructions="be brief"),
        json.dumps(update(instructions=f"be brief, the key is {KEY}")),
        "cassette_mismatch",
        "$.session.instructions",
        "openai_api_key",
        'received: "be brief, the key is <redacted:openai_api_key>"',
    ),
    # The key runs through the 200th character, where a malformed frame is cut.
    "as_an_api_key_in_malformed_json_cut_short": Case(
        update(instructions="be brief"),
        json.dumps(update(instructions="x" * 115 + KEY))[:-3],
        "invalid_json",
        None,
        "openai_api_key",
    ),
}


def write_cassette(path: Path, case: Case) -> Path:
    with CassetteWriter(path, Header(client="hand-made")) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1", "session": {}})
        w.event("client", 0.01, 0, case.recorded)
        w.event("server", 0.02, 0, {"type": "session.updated", "event_id": "e2", "session": {}})
        w.write_close("server", 0.03, 0, 1000, "done")
    return path


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows {secret}:\n{text}"


async def assert_nothing_shows_a_secret(
    case: Case,
    path: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    secrets: tuple[str, ...],
    redaction: RedactionRules | None = None,
) -> None:
    """Play ``case`` against ``path`` and look for ``secrets`` everywhere a replay shows one.

    The error event the client gets, ``Mismatch.report``, the kept mismatches, the server's
    report, the verdict, the HTML report and the harness's DEBUG logs.
    """

    def absent(where: str, text: str) -> None:
        for secret in secrets:
            assert secret not in text, f"{where} shows {secret}:\n{text}"

    caplog.set_level(logging.DEBUG)
    async with FakeRealtimeServer(path, redaction=redaction) as server:
        raw = await mismatch_once(server, case.sent)
    error = json.loads(raw)
    assert error["type"] == "error"
    assert (error["error"]["code"], error["error"]["param"]) == (case.code, case.at)
    absent("the error event", raw)
    (mismatch,) = server.mismatches
    assert f"<redacted:{case.rule}>" in str(mismatch.received)
    if case.shown is not None:
        assert case.shown in mismatch.report
    absent("Mismatch.report", mismatch.report)
    absent("the kept Mismatch", repr(server.mismatches))
    absent("server.report()", server.report())
    with pytest.raises(CassetteMismatch) as raised:
        server.verdict()
    absent("the verdict", f"{raised.value} {raised.value.received!r}")
    html = write_html(
        path,
        tmp_path / "report.html",
        mismatches=server.mismatches,
        unplayed=server.unplayed,
        redaction=redaction,
    ).read_text()
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert data is not None
    (shown,) = json.loads(data.group(1))["run"]["mismatches"]
    assert f"<redacted:{case.rule}>" in json.dumps(shown["received"])
    absent("the HTML report", html)
    ours = [r for r in caplog.records if r.name.startswith("harness")]  # not our client's
    assert any(r.getMessage().startswith("< TEXT") for r in ours)  # the frame was logged
    absent("the logs", "\n".join(r.getMessage() for r in ours))


@pytest.mark.parametrize("name", list(CASES))
async def test_a_mismatch_never_shows_the_clients_secret(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES[name]
    path = write_cassette(tmp_path / f"{name}.jsonl", case)
    await assert_nothing_shows_a_secret(case, path, tmp_path, caplog, SECRETS)


async def test_mismatch_received_is_the_frame_as_a_cassette_would_hold_it(
    tmp_path: Path,
) -> None:
    case = CASES["elsewhere_in_the_frame"]
    path = write_cassette(tmp_path / "c.jsonl", case)
    async with FakeRealtimeServer(path) as server:
        async with connect(server.url, additional_headers=AUTH, open_timeout=TIMEOUT) as ws:
            async with asyncio.timeout(TIMEOUT):
                await ws.recv()
                await ws.send(case.sent)
                await ws.recv()
    assert server.mismatches[0].received == update(
        instructions="be verbose",
        tools=[
            mcp("<redacted:mcp_authorization>", headers={"X-Api-Key": "<redacted:mcp_headers>"})
        ],
    )


# -- a pytest session replaying it ----------------------------------------------------------

INNER_TEST = """
import asyncio
import json

import pytest
from websockets.asyncio.client import connect


@pytest.mark.realtime_cassette(CASSETTE)
async def test_NAME(realtime_server):
    async with asyncio.timeout(10):
        headers = {"Authorization": "Bearer test-key"}
        async with connect(realtime_server.url, additional_headers=headers) as ws:
            await ws.recv()  # session.created
            await ws.send(SENT)
            assert json.loads(await ws.recv())["type"] == "error"
"""


def test_a_pytest_failure_and_its_html_report_never_show_the_clients_secret(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    tests = []
    for name, case in CASES.items():
        cassette = write_cassette(tmp_path / f"{name}.jsonl", case)  # removed by the fixture
        tests.append(
            INNER_TEST.replace("CASSETTE", repr(str(cassette)))
            .replace("NAME", name)
            .replace("SENT", repr(case.sent))
        )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_inner="\n".join(tests))
    reports = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", "-vv", f"--realtime-report-dir={reports}")
    result.assert_outcomes(failed=len(CASES))
    output = "\n".join(result.outlines + result.errlines)
    assert "client frame 1 does not match" in output and "<redacted:mcp_authorization>" in output
    assert_no_secret("pytest's output", output)
    pages = sorted(reports.iterdir())
    assert len(pages) == len(CASES)
    for page in pages:
        assert_no_secret(f"the HTML report {page.name}", page.read_text())


# -- the user's own rules ---------------------------------------------------------------------
#
# A rule the user added for recording (a key path of their own, a pattern for their own token
# format) is given to the replay too (FakeRealtimeServer(redaction=...), write_html(
# redaction=...), the plugin's config.redaction): what a mismatch shows is redacted with it.

CUSTOMER = "customer-LEAK-ada-7e41"  # opaque: only the user's key-path rule knows it
ACME = "acme_tok_LEAK5d2c9f0b1e"  # the user's own token format: only their pattern knows it
USER_SECRETS = (CUSTOMER, ACME)
USER_RULES = RedactionRules.default().with_rules(
    RedactionRule.path("customer", "session.metadata.customer"),
    RedactionRule.pattern("acme_token", r"acme_tok_[A-Za-z0-9]{12,}"),
)
USER_RULES_SOURCE = """RedactionRules.default().with_rules(
    RedactionRule.path("customer", "session.metadata.customer"),
    RedactionRule.pattern("acme_token", r"acme_tok_[A-Za-z0-9]{12,}"),
)"""

USER_CASES = {
    "path_secret_at_its_own_path": Case(
        update(metadata={"customer": "recorded-customer"}),  # hand-made: a literal
        json.dumps(update(metadata={"customer": CUSTOMER})),
        "cassette_mismatch",
        "$.session.metadata.customer",
        "customer",
        'received: "<redacted:customer>" (a different value, redacted)',
    ),
    "path_secret_at_a_parent_the_recording_lacks": Case(
        update(instructions="be brief"),
        json.dumps(update(instructions="be brief", metadata={"customer": CUSTOMER})),
        "cassette_mismatch",
        "$.session.metadata",
        "customer",
        '"customer":"<redacted:customer>"',
    ),
    "path_secret_elsewhere_in_the_frame": Case(
        update(instructions="be brief", metadata={"customer": "<redacted:customer>"}),
        json.dumps(update(instructions="be verbose", metadata={"customer": CUSTOMER})),
        "cassette_mismatch",
        "$.session.instructions",
        "customer",
    ),
    "path_secret_in_malformed_json_cut_short": Case(
        update(metadata={"customer": "<redacted:customer>"}),
        json.dumps(update(metadata={"customer": CUSTOMER}))[:-3],
        "invalid_json",
        None,
        "customer",
    ),
    "pattern_secret_in_a_string": Case(
        update(instructions="be brief"),
        json.dumps(update(instructions=f"be brief, the token is {ACME}")),
        "cassette_mismatch",
        "$.session.instructions",
        "acme_token",
        'received: "be brief, the token is <redacted:acme_token>"',
    ),
    "pattern_secret_as_an_object_key": Case(
        update(instructions="be brief"),
        json.dumps(update(instructions="be brief", **{ACME: 1})),
        "cassette_mismatch",
        "$.session.<redacted:acme_token>",
        "acme_token",
    ),
    "pattern_secret_in_an_unknown_event_type": Case(
        update(instructions="be brief"),
        json.dumps({"type": f"session.{ACME}", "session": {}}),
        "invalid_value",
        "type",
        "acme_token",
    ),
}


def assert_no_user_secret(where: str, text: str) -> None:
    for secret in USER_SECRETS:
        assert secret not in text, f"{where} shows {secret}:\n{text}"


async def mismatch_once(server: FakeRealtimeServer, sent: str) -> str:
    return await mismatch_once_at(server.url, sent)


async def mismatch_once_at(url: str, sent: str) -> str:
    """Connect, take session.created, send ``sent``: the server's answer (an error)."""
    async with connect(url, additional_headers=AUTH, open_timeout=TIMEOUT) as ws:
        async with asyncio.timeout(TIMEOUT):
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(sent)
            raw = await ws.recv()
    return str(raw)


@pytest.mark.parametrize("name", list(USER_CASES))
async def test_a_mismatch_never_shows_a_secret_of_the_users_own_rules(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = USER_CASES[name]
    path = write_cassette(tmp_path / f"{name}.jsonl", case)
    await assert_nothing_shows_a_secret(
        case, path, tmp_path, caplog, USER_SECRETS, redaction=USER_RULES
    )


async def test_without_the_users_rules_the_replay_cannot_know_their_secrets(
    tmp_path: Path,
) -> None:
    # Why the rules must be given: the cassette's header names the rules that ran
    # ("customer", "acme_token") but not their paths and patterns, so the default rules
    # are all a replay has. (This is the leak redaction= closes.)
    case = USER_CASES["path_secret_at_its_own_path"]
    path = write_cassette(tmp_path / "c.jsonl", case)
    async with FakeRealtimeServer(path) as server:
        await mismatch_once(server, case.sent)
    assert server.redaction == RedactionRules.default()
    (mismatch,) = server.mismatches
    assert CUSTOMER in mismatch.report


async def test_the_users_rules_do_not_change_what_matches(tmp_path: Path) -> None:
    # Recorded literally (a hand-made cassette): the live frame equals it, secret and all.
    case = Case(
        update(instructions=f"token {ACME}", metadata={"customer": CUSTOMER}),
        json.dumps(update(instructions=f"token {ACME}", metadata={"customer": CUSTOMER})),
        "",
        None,
        "",
    )
    path = write_cassette(tmp_path / "c.jsonl", case)
    async with FakeRealtimeServer(path, redaction=USER_RULES) as server:
        raw = await mismatch_once(server, case.sent)
    assert json.loads(raw)["type"] == "session.updated"
    server.verdict()


def test_the_html_report_scrubs_a_run_with_the_rules_it_is_given(tmp_path: Path) -> None:
    # The page's own net: frames, what a mismatch received, and the patterns over all its
    # data, even for a Mismatch that a replay with other rules kept.
    case = USER_CASES["pattern_secret_in_a_string"]
    path = tmp_path / "hand-made.jsonl"
    with CassetteWriter(path, Header(client="hand-made")) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1", "session": {}})
        w.event("client", 0.01, 0, update(metadata={"customer": CUSTOMER}, note=ACME))
        w.write_close("server", 0.03, 0, 1000, "done")
    mismatch = Mismatch(
        cassette=str(path),
        lineno=3,
        conn=0,
        serial=0,
        client_frame=1,
        expected=None,
        received=json.loads(case.sent) | {"session": {"metadata": {"customer": CUSTOMER}}},
        differences=(),
        ignored=(),
        report=f"made elsewhere: {ACME}",
        error_event={},
    )
    page = write_html(path, tmp_path / "r.html", mismatches=[mismatch], redaction=USER_RULES)
    html = page.read_text()
    assert_no_user_secret("the HTML report", html)
    assert "<redacted:customer>" in html and "<redacted:acme_token>" in html
    default = write_html(path, tmp_path / "d.html", mismatches=[mismatch]).read_text()
    assert CUSTOMER in default  # without them, the page cannot know them either


INNER_USER_TEST = """
import asyncio
import json
import logging

import pytest
from websockets.asyncio.client import connect

from harness import RedactionRule, RedactionRules

# Our client's own websockets log is not the harness's to redact: keep it out of the output.
CLIENT_LOG = logging.getLogger("inner.client")
CLIENT_LOG.setLevel(logging.WARNING)


@pytest.mark.realtime_cassette(CASSETTE, MARKER_OPTIONS)
async def test_NAME(realtime_server):
    async with asyncio.timeout(10):
        headers = {"Authorization": "Bearer test-key"}
        url = realtime_server.url
        async with connect(url, additional_headers=headers, logger=CLIENT_LOG) as ws:
            await ws.recv()  # session.created
            await ws.send(SENT)
            assert json.loads(await ws.recv())["type"] == "error"
"""

INNER_CONFTEST = f"""
import pytest

from harness import RedactionRule, RedactionRules
from harness.pytest_plugin import RealtimeConfig


@pytest.fixture
def realtime_config():
    return RealtimeConfig(redaction={USER_RULES_SOURCE})
"""


@pytest.mark.parametrize("given_by", ["marker", "realtime_config"])
def test_a_pytest_failure_and_its_html_report_never_show_a_secret_of_the_users_rules(
    given_by: str, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    options = f"redaction={USER_RULES_SOURCE}" if given_by == "marker" else "speed=0"
    tests = []
    for name, case in USER_CASES.items():
        cassette = write_cassette(tmp_path / f"{name}.jsonl", case)  # removed by the fixture
        tests.append(
            INNER_USER_TEST.replace("CASSETTE", repr(str(cassette)))
            .replace("MARKER_OPTIONS", options)
            .replace("NAME", name)
            .replace("SENT", repr(case.sent))
        )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\nlog_level = DEBUG\n"
    )
    if given_by == "realtime_config":
        pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner="\n".join(tests))
    reports = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:cacheprovider", "-vv", f"--realtime-report-dir={reports}")
    result.assert_outcomes(failed=len(USER_CASES))
    output = "\n".join(result.outlines + result.errlines)
    assert "client frame 1 does not match" in output and "<redacted:customer>" in output
    assert "<redacted:acme_token>" in output
    assert "< TEXT" in output  # the server's DEBUG log of the client's frame is shown
    assert_no_user_secret("pytest's output", output)
    pages = sorted(reports.iterdir())
    assert len(pages) == len(USER_CASES)
    for page in pages:
        html = page.read_text()
        assert "<redacted:" in html
        assert_no_user_secret(f"the HTML report {page.name}", html)


async def test_cli_serve_shows_a_mismatch_redacted_with_the_rules_given_to_it(
    tmp_path: Path,
) -> None:
    case = Case(
        update(instructions="be brief", metadata={"customer": "recorded-customer"}),
        json.dumps(update(instructions=f"token {ACME}", metadata={"customer": CUSTOMER})),
        "cassette_mismatch",
        "$.session.instructions",
        "customer",
    )
    path = write_cassette(tmp_path / "c.jsonl", case)
    rules = (
        "--redact-path=customer=session.metadata.customer",
        r"--redact-pattern=acme_token=acme_tok_[A-Za-z0-9]{12,}",
    )
    async with serve(str(path), *rules, wait=TIMEOUT * 3) as served:
        raw = await mismatch_once_at(served.url, case.sent)
        served.proc.send_signal(signal.SIGINT)
        status, out, err = await served.finish()
    assert json.loads(raw)["error"]["code"] == "cassette_mismatch"
    assert_no_user_secret("the error event", raw)
    assert status == 1 and out.startswith(f"FAIL: {path}\n"), out + err
    assert '"<redacted:customer>" (a different value, redacted)' in out
    assert '"token <redacted:acme_token>"' in out
    assert_no_user_secret("serve's output", out + err)
