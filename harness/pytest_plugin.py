"""pytest plugin: replay Realtime sessions from cassettes in tests, record them on demand.

Registered through the ``pytest11`` entry point, so installing realtime-harness is enough.
It gives:

- the option ``--realtime-record-mode={none,once,new_episodes,all}`` (default ``none``, or
  the ini value ``realtime_record_mode``); see :mod:`harness.modes` for what each does;
- the ``realtime_server`` async fixture: an object with ``url`` and ``base_url`` that clients
  connect to. In replay it is a :class:`~harness.server.FakeRealtimeServer` serving the
  test's cassette; when recording it is a :class:`~harness.recorder.RecordingProxy` to the
  real API (with new episodes, a proxy that replays the recorded connections and records
  further ones). At teardown the test fails with the mismatch report if the replay
  diverged or left recorded frames unplayed, or if recording went wrong;
- the ``realtime_config`` fixture (override it to change the upstream, the redaction rules,
  the match rules or the pacing) and the ``realtime_cassette`` marker (the cassette path,
  relative to the test file). Without the marker a test's cassette is
  ``cassettes/<module>/<test>.jsonl`` next to the test file, as pytest-recording names them.

Example::

    async def test_greeting(realtime_server):
        transport = OpenAIRealtimeWebSocket(api_key=os.environ.get("OPENAI_API_KEY", "test"))
        await transport.connect(url=realtime_server.url)
        ...

    # pytest --realtime-record-mode=once   (records with your key, once)
    # pytest                               (replays, no network, no key)
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from harness.cassette import load_cassette
from harness.errors import CassetteMismatch, HarnessError, RecordingError, UsageError
from harness.matching import DEFAULT_RULES, MatchRules
from harness.modes import RecordAction, RecordMode, choose_action, parse_record_mode
from harness.recorder import DEFAULT_UPSTREAM, RecordingProxy
from harness.redaction import RedactionRules
from harness.report import write_html
from harness.server import FakeRealtimeServer

__all__ = [
    "RealtimeConfig",
    "realtime_cassette_path",
    "realtime_config",
    "realtime_record_mode",
    "realtime_server",
]

_OPTION = "--realtime-record-mode"
_INI = "realtime_record_mode"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]=,]+")


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    """What ``realtime_server`` uses; override the ``realtime_config`` fixture to change it.

    Attributes:
        upstream_url: where recordings go (the real API unless you say otherwise).
        redaction: the redaction rules applied before anything is written.
        match_rules: how replay compares client frames with the cassette.
        speed: replay pacing: 0 as fast as causality allows, 1 the recorded gaps.
        cassette_dir: the folder, next to the test file, of default cassette paths.

    Example::

        @pytest.fixture
        def realtime_config():
            return RealtimeConfig(
                redaction=RedactionRules.default().with_rules(
                    RedactionRule.path("customer", "session.metadata.customer")
                ),
                match_rules=DEFAULT_RULES.ignoring("session.instructions"),
            )
    """

    upstream_url: str = DEFAULT_UPSTREAM
    redaction: RedactionRules = field(default_factory=RedactionRules.default)
    match_rules: MatchRules = DEFAULT_RULES
    speed: float = 0.0
    cassette_dir: str = "cassettes"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--realtime-record-mode`` and the ini value ``realtime_record_mode``."""
    group = parser.getgroup("realtime-harness", "record and replay OpenAI Realtime sessions")
    group.addoption(
        _OPTION,
        action="store",
        default=None,
        choices=[mode.value for mode in RecordMode],
        help="none: replay only (default); once: record missing cassettes; new_episodes: "
        "replay recorded connections, record new ones; all: re-record everything",
    )
    parser.addini(_INI, "the default --realtime-record-mode (none)", default="none")
    _add_report_options(group)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``realtime_cassette`` marker."""
    config.addinivalue_line(
        "markers",
        "realtime_cassette(path): the cassette this test replays or records "
        "(relative to the test file)",
    )


@pytest.fixture
def realtime_config() -> RealtimeConfig:
    """The settings of ``realtime_server``; override this fixture to change them."""
    return RealtimeConfig()


@pytest.fixture
def realtime_record_mode(request: pytest.FixtureRequest) -> RecordMode:
    """The record mode of this run: ``--realtime-record-mode``, else the ini value."""
    value = request.config.getoption(_OPTION) or request.config.getini(_INI)
    try:
        return parse_record_mode(str(value))
    except HarnessError as exc:
        raise pytest.UsageError(f"{_INI}: {exc}") from None


@pytest.fixture
def realtime_cassette_path(request: pytest.FixtureRequest, realtime_config: RealtimeConfig) -> Path:
    """This test's cassette: the ``realtime_cassette`` marker's path, or the default one.

    The default is ``<test dir>/cassettes/<module>/<Class.>test_name.jsonl``.
    """
    test_dir = Path(request.node.path).parent
    marker = request.node.get_closest_marker("realtime_cassette")
    if marker is not None:
        if len(marker.args) != 1 or not isinstance(marker.args[0], str | os.PathLike):
            raise pytest.UsageError(
                f"{request.node.nodeid}: use @pytest.mark.realtime_cassette('path.jsonl')"
            )
        return test_dir / os.fspath(marker.args[0])
    name = request.node.name
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    module = Path(request.node.path).stem
    return test_dir / realtime_config.cassette_dir / module / f"{_UNSAFE.sub('-', name)}.jsonl"


@pytest_asyncio.fixture
async def realtime_server(
    realtime_config: RealtimeConfig,
    realtime_record_mode: RecordMode,
    realtime_cassette_path: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FakeRealtimeServer | RecordingProxy]:
    """A Realtime endpoint for this test: the cassette's replay, or a recording proxy.

    Yields an object with ``url`` (clients connect there) and ``base_url`` (the ``openai``
    client's ``websocket_base_url``). Fails the test at teardown when the replay diverged
    or left recorded frames unplayed, or when recording failed.
    """
    path = realtime_cassette_path
    action = choose_action(realtime_record_mode, cassette_exists=path.exists())
    if action is RecordAction.REPLAY:
        if not path.exists():
            pytest.fail(
                f"{path}: no such cassette. Record it once, against the real API with your "
                f"key: pytest {_OPTION}=once",
                pytrace=False,
            )
        server = FakeRealtimeServer(
            path, rules=realtime_config.match_rules, speed=realtime_config.speed
        )
        async with server:
            yield server
        _verdict(
            server, _run_report(request.config, tmp_path_factory, request.node.nodeid, server, path)
        )
    elif action is RecordAction.RECORD:
        proxy = RecordingProxy(
            realtime_config.upstream_url, path, redaction=realtime_config.redaction
        )
        await _start_recording(proxy)
        try:
            async with proxy:
                yield proxy
        except RecordingError:
            pass  # reported below, outside the except: no "during handling" chain
        _no_errors(proxy)
    else:
        cassette = load_cassette(path)
        conns = cassette.conns()
        replay = FakeRealtimeServer(
            cassette, rules=realtime_config.match_rules, speed=realtime_config.speed
        )
        async with replay:
            proxy = RecordingProxy(
                realtime_config.upstream_url,
                path,
                redaction=realtime_config.redaction,
                append=True,
                first_conn=max(conns, default=-1) + 1,
                passthrough=(replay.url, len(conns)),
            )
            await _start_recording(proxy)
            try:
                async with proxy:
                    yield proxy
            except RecordingError:
                pass  # reported below
        _verdict(
            replay, _run_report(request.config, tmp_path_factory, request.node.nodeid, replay, path)
        )
        _no_errors(proxy)


def _verdict(server: FakeRealtimeServer, html_report: str = "") -> None:
    try:
        server.verdict()
    except CassetteMismatch as exc:
        report = str(exc)
    else:
        return
    # outside the except: no "during handling" chain
    pytest.fail(f"{report}\n{html_report}" if html_report else report, pytrace=False)


# -- the HTML report of a run (harness.report) --------------------------------------------

_REPORT_OPTION = "--realtime-report"
_REPORT_DIR_OPTION = "--realtime-report-dir"
_REPORT_CHOICES = ("failed", "all", "off")


def _add_report_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        _REPORT_OPTION,
        action="store",
        default="failed",
        choices=_REPORT_CHOICES,
        help="write an HTML report of each replay (timeline, audio, conversation, the "
        "mismatch at its frame): failed (default) for failing tests only, all, or off",
    )
    group.addoption(
        _REPORT_DIR_OPTION,
        action="store",
        default=None,
        metavar="DIR",
        help="the folder of the HTML reports (default: realtime-reports under pytest's "
        "base temporary directory)",
    )


def _run_report(
    config: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    nodeid: str,
    server: FakeRealtimeServer,
    path: Path,
) -> str:
    """Write this replay's HTML report if ``--realtime-report`` asks (after the server closed).

    Returns the line for the failure message (``HTML report: PATH``) when the replay
    failed, else ``""`` (a passing replay's report, with ``all``, is listed in the terminal
    summary). A report that cannot be written says so in that line, never hides the failure.
    ``tmp_path_factory`` must come from the fixture's signature (not requested at teardown).
    """
    choice = config.getoption(_REPORT_OPTION)
    failed = bool(server.mismatches or server.unplayed)
    if choice == "off" or (choice == "failed" and not failed):
        return ""
    folder = config.getoption(_REPORT_DIR_OPTION)
    if folder is None:
        base = tmp_path_factory.getbasetemp() / "realtime-reports"
    else:
        base = Path(folder)
    out = base / f"{_UNSAFE.sub('-', nodeid)}.html"
    try:
        written = write_html(
            path,
            out,
            mismatches=server.mismatches,
            unplayed=server.unplayed,
            title=f"{nodeid}: {'FAILED' if failed else 'passed'}",
        )
    except (HarnessError, OSError) as exc:
        return f"(the HTML report could not be written: {exc})" if failed else ""
    config.stash.setdefault(_REPORTS, []).append(written)
    return f"HTML report: {written}" if failed else ""


_REPORTS = pytest.StashKey[list[Path]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where this session's HTML reports are."""
    written = terminalreporter.config.stash.get(_REPORTS, [])
    if written:
        folders = sorted({str(p.parent) for p in written})
        terminalreporter.write_line(
            f"realtime-harness: {len(written)} HTML report{'s' if len(written) != 1 else ''} "
            f"in {', '.join(folders)}"
        )


async def _start_recording(proxy: RecordingProxy) -> None:
    """Start the proxy; a cassette it cannot record (a killed recording's file) fails."""
    try:
        await proxy.start()
    except UsageError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(problem, pytrace=False)


def _no_errors(proxy: RecordingProxy) -> None:
    if proxy.failure is not None:  # the cassette was left as it was
        pytest.fail(str(proxy.failure), pytrace=False)
