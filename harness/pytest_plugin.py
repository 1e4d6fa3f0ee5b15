"""pytest plugin: replay Realtime sessions from cassettes in tests, record them on demand.

Registered through the ``pytest11`` entry point, so installing realtime-harness is enough.
It gives:

- the option ``--realtime-record-mode={none,once,new_episodes,all}`` (default ``none``, or
  the ini value ``realtime_record_mode``); see :mod:`harness.modes` for what each does;
- the option ``--realtime-block-network`` (ini ``realtime_block_network = true``): while a
  test replays, a connection to any non-loopback address, or a lookup of a host name, fails
  at once with :class:`~harness.errors.NetworkBlocked`, before anything is sent;
- the ``realtime_server`` async fixture: an object with ``url`` and ``base_url`` that clients
  connect to. In replay it is a :class:`~harness.server.FakeRealtimeServer` serving the
  test's cassette; when recording it is a :class:`~harness.recorder.RecordingProxy` to the
  real API (with new episodes, a proxy that replays the recorded connections and records
  further ones). An ``async def`` test fails once, in its call, with the mismatch report if
  the replay diverged or left recorded frames unplayed, or if recording went wrong (when the
  test body failed too, the report is shown beside its traceback). A test that runs in
  another event loop than the fixture fails at once, saying what to change;
- the ``realtime_config`` fixture (override it to change the upstream, the redaction rules,
  the match rules or the pacing) and the ``realtime_cassette`` marker: the cassette path,
  relative to the test file, and per-test options as ``@pytest.mark.vcr(**kwargs)`` takes
  them (``record_mode``, ``match_rules``, ``speed``, ``redaction``, ``upstream_url``), which
  override ``realtime_config`` and the command line for that test. Without a path a test's
  cassette is ``cassettes/<module>/<test>.jsonl`` next to the test file, as
  pytest-recording names them.

Example::

    @pytest.mark.realtime_cassette("cassettes/greeting.jsonl", speed=1)
    async def test_greeting(realtime_server):
        transport = OpenAIRealtimeWebSocket(api_key=os.environ.get("OPENAI_API_KEY", "test"))
        await transport.connect(url=realtime_server.url)
        ...

    # pytest --realtime-record-mode=once   (records missing cassettes, with your key)
    # pytest --realtime-record-mode=all    (re-records every cassette)
    # pytest                               (replays, no network, no key)
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import ipaddress
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from harness.cassette import load_cassette
from harness.errors import HarnessError, NetworkBlocked, RecordingError, UsageError
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
_BLOCK_OPTION = "--realtime-block-network"
_BLOCK_INI = "realtime_block_network"
_MARKER = "realtime_cassette"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]=,]+")


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    """What ``realtime_server`` uses; override the ``realtime_config`` fixture to change it.

    Attributes:
        upstream_url: where recordings go (the real API unless you say otherwise).
        redaction: the redaction rules applied before anything is written, and in replay
            to what a mismatch shows of the client (the failure, the ``error`` event, the
            HTML report, the server's log): give your own rules here, not only when
            recording.
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
    """Add ``--realtime-record-mode``, ``--realtime-block-network`` and their ini values."""
    group = parser.getgroup("realtime-harness", "record and replay OpenAI Realtime sessions")
    group.addoption(
        _OPTION,
        action="store",
        default=None,
        choices=[mode.value for mode in RecordMode],
        help="none: replay only (default); once: record missing cassettes; new_episodes: "
        "replay recorded connections, record new ones; all: re-record everything",
    )
    group.addoption(
        _BLOCK_OPTION,
        action="store_true",
        default=None,
        help="while a test replays, fail any connection to a non-loopback address "
        "(and any lookup of a host name) at once, before anything is sent",
    )
    parser.addini(_INI, "the default --realtime-record-mode (none)", default="none")
    parser.addini(
        _BLOCK_INI, "the default of --realtime-block-network (false)", type="bool", default=False
    )
    _add_report_options(group)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``realtime_cassette`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(path=None, *, record_mode=None, match_rules=None, speed=None, "
        "redaction=None, upstream_url=None): the cassette this test replays or records "
        "(relative to the test file) and per-test options that override realtime_config",
    )


@pytest.fixture
def realtime_config() -> RealtimeConfig:
    """The settings of ``realtime_server``; override this fixture to change them."""
    return RealtimeConfig()


# -- the marker ---------------------------------------------------------------------------------

# The marker's keyword options: the RealtimeConfig fields a single test may override (its
# cassette_dir would only rename the default path, which the marker's path argument does),
# and the record mode, as @pytest.mark.vcr(record_mode=...) takes it.
_CONFIG_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "upstream_url": str,
    "redaction": RedactionRules,
    "match_rules": MatchRules,
    "speed": (int, float),
}
_MARKER_OPTIONS = ("record_mode", *_CONFIG_OPTIONS)


def _marker(request: pytest.FixtureRequest) -> pytest.Mark | None:
    marker: pytest.Mark | None = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return None
    where = f"{request.node.nodeid}: @pytest.mark.{_MARKER}"
    unknown = sorted(set(marker.kwargs) - set(_MARKER_OPTIONS))
    if unknown:
        raise pytest.UsageError(
            f"{where}: unknown option {', '.join(map(repr, unknown))}; "
            f"it takes a path and {', '.join(_MARKER_OPTIONS)}"
        )
    if len(marker.args) > 1 or (marker.args and not isinstance(marker.args[0], str | os.PathLike)):
        raise pytest.UsageError(f"{where}: give one path, e.g. {_MARKER}('path.jsonl')")
    for name, kind in _CONFIG_OPTIONS.items():
        value = marker.kwargs.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise pytest.UsageError(f"{where}: {name}={value!r} is not a {_type_names(kind)}")
    speed = marker.kwargs.get("speed")
    if speed is not None and speed < 0:
        raise pytest.UsageError(f"{where}: speed={speed!r} must be 0 or more")
    return marker


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _config_for_test(request: pytest.FixtureRequest, config: RealtimeConfig) -> RealtimeConfig:
    """``realtime_config`` with this test's marker options applied over it."""
    marker = _marker(request)
    if marker is None:
        return config
    overrides = {k: v for k, v in marker.kwargs.items() if k in _CONFIG_OPTIONS and v is not None}
    if "speed" in overrides:
        overrides["speed"] = float(overrides["speed"])
    return dataclasses.replace(config, **overrides)


@pytest.fixture
def realtime_record_mode(request: pytest.FixtureRequest) -> RecordMode:
    """The record mode of this test.

    The marker's ``record_mode`` wins (as ``@pytest.mark.vcr(record_mode=...)`` does), then
    ``--realtime-record-mode``, then the ini value ``realtime_record_mode``.
    """
    marker = _marker(request)
    if marker is not None and marker.kwargs.get("record_mode") is not None:
        where = f"{request.node.nodeid}: @pytest.mark.{_MARKER}(record_mode=...)"
        try:
            return parse_record_mode(str(marker.kwargs["record_mode"]))
        except HarnessError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
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
    marker = _marker(request)
    if marker is not None and marker.args:
        relative: str = os.fspath(marker.args[0])
        return Path(os.path.normpath(test_dir / relative))  # no "tests/../" in reports
    name = request.node.name
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    module = Path(request.node.path).stem
    return test_dir / realtime_config.cassette_dir / module / f"{_UNSAFE.sub('-', name)}.jsonl"


# -- one test's endpoint ------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """What ``realtime_server`` started for one test, and how to end it.

    The test's call ends it (``finish``) in the test's own event loop, right after the test
    body, so the verdict belongs to the call: one failure, with the diff. Teardown ends it
    only where the call could not (a synchronous test).
    """

    endpoint: FakeRealtimeServer | RecordingProxy
    loop: asyncio.AbstractEventLoop
    closers: list[Callable[[], Awaitable[None]]]
    """Close everything, first to last (the proxy before the replay it relays to)."""
    checks: list[Callable[[], str]]
    """After closing: each returns the failure report, or "" when all went well."""
    path: str = ""
    shown: str = ""
    """Reports name the cassette as ``shown`` (relative to where pytest was run)."""
    finished: bool = False
    reported: bool = False
    """The verdict (or the loop mismatch) was already part of the call's outcome."""
    called: bool = False
    report: str = ""
    extra_section: str = ""
    """A report to show beside the test's own failure (the makereport hook adds it)."""

    async def finish(self) -> str:
        """Close once; the failure report, or ``""``."""
        if not self.finished:
            self.finished = True
            for close in self.closers:
                try:
                    await close()
                except RecordingError:
                    pass  # the proxy keeps it (.failure): a check reports it
            report = "\n\n".join(text for check in self.checks if (text := check()))
            self.report = report.replace(self.path, self.shown) if self.path else report
        return self.report


_RUN = pytest.StashKey[_Run]()


@pytest_asyncio.fixture
async def realtime_server(
    request: pytest.FixtureRequest,
    realtime_config: RealtimeConfig,
    realtime_record_mode: RecordMode,
    realtime_cassette_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FakeRealtimeServer | RecordingProxy]:
    """A Realtime endpoint for this test: the cassette's replay, or a recording proxy.

    Yields an object with ``url`` (clients connect there) and ``base_url`` (the ``openai``
    client's ``websocket_base_url``). The test fails, once, with the mismatch report when
    the replay diverged or left recorded frames unplayed, or when recording failed: for an
    ``async def`` test the verdict is taken right after its body, as part of the call.
    """
    config = _config_for_test(request, realtime_config)
    path = realtime_cassette_path
    action = choose_action(realtime_record_mode, cassette_exists=path.exists())
    loop = asyncio.get_running_loop()
    shown = _shown(path, request.config)
    nodeid = request.node.nodeid
    if action is RecordAction.REPLAY:
        if not path.exists():
            pytest.fail(
                f"{shown}: no such cassette. Record it once, against the real API with your "
                f"key: pytest {_OPTION}=once",
                pytrace=False,
            )
        server = FakeRealtimeServer(
            path, rules=config.match_rules, speed=config.speed, redaction=config.redaction
        )
        await server.start()
        html = functools.partial(
            _run_report, request.config, tmp_path_factory, nodeid, server, path
        )
        run = _Run(
            server, loop, [server.aclose], [functools.partial(_replay_failure, server, html)]
        )
    elif action is RecordAction.RECORD:
        proxy = RecordingProxy(config.upstream_url, path, redaction=config.redaction)
        await _start_recording(proxy)
        run = _Run(proxy, loop, [proxy.aclose], [functools.partial(_failure, proxy)])
    else:
        cassette = load_cassette(path)
        conns = cassette.conns()
        replay = FakeRealtimeServer(
            cassette, rules=config.match_rules, speed=config.speed, redaction=config.redaction
        )
        await replay.start()
        proxy = RecordingProxy(
            config.upstream_url,
            path,
            redaction=config.redaction,
            append=True,
            first_conn=max(conns, default=-1) + 1,
            passthrough=(replay.url, len(conns)),
        )
        try:
            await _start_recording(proxy)
        except BaseException:
            await replay.aclose()
            raise
        run = _Run(
            proxy,
            loop,
            [proxy.aclose, replay.aclose],
            [
                functools.partial(
                    _replay_failure,
                    replay,
                    functools.partial(
                        _run_report, request.config, tmp_path_factory, nodeid, replay, path
                    ),
                ),
                functools.partial(_failure, proxy),
            ],
        )
    run.path, run.shown = str(path), shown
    request.node.stash[_RUN] = run
    block = action is RecordAction.REPLAY and _blocks_network(request.config)
    try:
        with _network_blocked(shown) if block else _nothing():
            yield run.endpoint
    finally:
        report = await run.finish()
    if report and run.called and not run.reported:
        pytest.fail(report, pytrace=False)  # a synchronous test: teardown is all we have


def _shown(path: Path, config: pytest.Config) -> str:
    """``path`` as a user reads it: relative to the directory pytest was run in, if inside."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


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
            redaction=server.redaction,  # the test's rules: the marker's or the config's
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


def _replay_failure(server: FakeRealtimeServer, html_report: Callable[[], str]) -> str:
    """The replay's mismatch report (and where its HTML report is), or ``""`` if it played."""
    report = server.report()
    line = html_report()  # with --realtime-report=all, written for a passing replay too
    return f"{report}\n{line}" if report and line else report


def _failure(proxy: RecordingProxy) -> str:
    """The recording's failure (the cassette was left as it was), or ``""`` if it was sound."""
    return str(proxy.failure) if proxy.failure is not None else ""


# -- the verdict belongs to the test's call -----------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run an ``async def`` test using ``realtime_server`` so that its verdict is the call's.

    The test function is wrapped (for this call only) by a coroutine that checks the test
    runs in the fixture's event loop, awaits the test, then ends the endpoint in that loop
    and fails the call with the report: one failure per mismatch, with its diff, whether or
    not the test body noticed.
    """
    run = item.stash.get(_RUN, None)
    if run is None or not isinstance(item, pytest.Function):
        return (yield)
    run.called = True
    test = item.obj
    if not inspect.iscoroutinefunction(test):
        return (yield)
    if item.get_closest_marker("asyncio") is None and item.get_closest_marker("anyio") is None:
        # pytest-asyncio left it alone (strict mode, no marker): say so, not pytest's
        # "async def functions are not natively supported".
        run.reported = True
        pytest.fail(
            f"{item.nodeid}: nothing runs this async test: mark it @pytest.mark.asyncio, "
            "or set asyncio_mode = auto in your pytest configuration",
            pytrace=False,
        )
    item.obj = _judged(test, run, item)
    try:
        return (yield)
    finally:
        item.obj = test


def _judged(test: Callable[..., Any], run: _Run, item: pytest.Function) -> Callable[..., Any]:
    @functools.wraps(test)
    async def judged(*args: Any, **kwargs: Any) -> None:
        if asyncio.get_running_loop() is not run.loop:
            run.reported = True
            pytest.fail(_loop_mismatch(item), pytrace=False)
        try:
            await test(*args, **kwargs)
        except Exception:
            run.reported = True
            run.extra_section = await run.finish()
            raise
        except BaseException:  # pytest.skip/xfail, cancellation: no verdict
            run.reported = True
            raise
        run.reported = True
        report = await run.finish()
        if report:
            pytest.fail(report, pytrace=False)

    return judged


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the mismatch report beside a test's own failure, in the same report."""
    report = yield
    run = item.stash.get(_RUN, None)
    if run is not None and call.when == "call" and run.extra_section and report.failed:
        title = "realtime-harness: the replay diverged from the cassette"
        addsection = getattr(report.longrepr, "addsection", None)  # an ExceptionRepr
        if callable(addsection):
            addsection(title, run.extra_section)
        else:
            report.sections.append((title, run.extra_section))
    return report


def _loop_mismatch(item: pytest.Function) -> str:
    """Say which event loops differ, and what to change."""
    marker = item.get_closest_marker("asyncio")
    test_scope = None
    if marker is not None:
        test_scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    test_scope = test_scope or _ini(item.config, "asyncio_default_test_loop_scope") or "function"
    fixture_scope = _ini(item.config, "asyncio_default_fixture_loop_scope") or "function"
    return (
        f"{item.nodeid}: the test runs in pytest-asyncio's {test_scope}-scoped event loop, "
        f"but realtime_server runs in its {fixture_scope}-scoped loop, so no client in the "
        "test could reach the server (its handshake would time out).\n"
        "Run both in the same loop: remove loop_scope from the test's "
        "@pytest.mark.asyncio(...), or set "
        f"asyncio_default_fixture_loop_scope = {test_scope} in your pytest configuration."
    )


def _ini(config: pytest.Config, name: str) -> str | None:
    try:
        value = config.getini(name)
    except ValueError:  # pytest-asyncio did not declare it
        return None
    return str(value) if value else None


# -- --realtime-block-network ---------------------------------------------------------------------


def _blocks_network(config: pytest.Config) -> bool:
    option = config.getoption(_BLOCK_OPTION)
    return bool(option) if option is not None else bool(config.getini(_BLOCK_INI))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # IPv6 scope: fe80::1%eth0
    except ValueError:
        return host == "localhost"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@contextmanager
def _network_blocked(cassette: str) -> Iterator[None]:
    """Make ``socket.connect`` refuse non-loopback addresses, and lookups of host names.

    As vcrpy / pytest-recording block the network: the socket methods that reach a remote
    peer are patched (``connect``, ``connect_ex``; asyncio's connections use them too), and
    ``getaddrinfo`` of a name other than ``localhost``, so not even a DNS query leaves. The
    refused socket is closed before :class:`NetworkBlocked` is raised.
    """
    connect, connect_ex, getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def refusal(what: str) -> NetworkBlocked:
        return NetworkBlocked(
            f"{what}: blocked by --realtime-block-network while the test replays {cassette} "
            "(only loopback is allowed). Point the client at realtime_server.url, or record "
            f"with {_OPTION}=once (missing cassettes) or =all (re-record)."
        )

    def guard(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(sock: socket.socket, address: Any, *args: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                sock.close()
                raise refusal(f"connection to {address[0]} port {address[1]}")
            return original(sock, address, *args)

        return guarded

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name and not _is_loopback(name) and not _is_ip(name):
            raise refusal(f"lookup of the host name {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guard(connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guard(connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True
