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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from harness.cassette import CassetteWriter, Header
from harness.errors import CassetteMismatch
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


@pytest.mark.parametrize("name", list(CASES))
async def test_a_mismatch_never_shows_the_clients_secret(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES[name]
    path = write_cassette(tmp_path / f"{name}.jsonl", case)
    caplog.set_level(logging.DEBUG)
    async with FakeRealtimeServer(path) as server:
        async with connect(server.url, additional_headers=AUTH, open_timeout=TIMEOUT) as ws:
            async with asyncio.timeout(TIMEOUT):
                assert json.loads(await ws.recv())["type"] == "session.created"
                await ws.send(case.sent)
                raw = await ws.recv()
    error = json.loads(raw)
    assert error["type"] == "error"
    assert (error["error"]["code"], error["error"]["param"]) == (case.code, case.at)
    assert_no_secret("the error event", str(raw))
    (mismatch,) = server.mismatches
    assert f"<redacted:{case.rule}>" in str(mismatch.received)
    if case.shown is not None:
        assert case.shown in mismatch.report
    assert_no_secret("Mismatch.report", mismatch.report)
    assert_no_secret("the kept Mismatch", repr(server.mismatches))
    assert_no_secret("server.report()", server.report())
    with pytest.raises(CassetteMismatch) as raised:
        server.verdict()
    assert_no_secret("the verdict", f"{raised.value} {raised.value.received!r}")
    html = write_html(
        path, tmp_path / "report.html", mismatches=server.mismatches, unplayed=server.unplayed
    ).read_text()
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert data is not None
    (shown,) = json.loads(data.group(1))["run"]["mismatches"]
    assert f"<redacted:{case.rule}>" in json.dumps(shown["received"])
    assert_no_secret("the HTML report", html)
    ours = [r for r in caplog.records if r.name.startswith("harness")]  # not our client's
    assert any(r.getMessage().startswith("< TEXT") for r in ours)  # the frame was logged
    assert_no_secret("the logs", "\n".join(r.getMessage() for r in ours))


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
