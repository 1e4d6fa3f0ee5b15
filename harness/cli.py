"""The command line: ``realtime-harness`` (console script) and ``python -m harness``.

Commands (each has ``--help`` with what it does, its exit statuses and an example)::

    realtime-harness replay CASSETTE [--client raw|transport] [--speed S] [--timeout SECONDS]
                                     [--quiet]
                                     [--redact-path NAME=PATH] [--redact-pattern NAME=REGEX]
    realtime-harness serve CASSETTE... [--port N] [--host H] [--speed S] [--once]
                                       [--redact-path NAME=PATH] [--redact-pattern NAME=REGEX]
    realtime-harness serve --simulate [--port N] [--host H] [--once]
    realtime-harness inspect CASSETTE [--json | --html OUT] [--gap SECONDS]
    realtime-harness validate CASSETTE...
    realtime-harness redact CASSETTE... [--redact-path NAME=PATH] [--redact-pattern NAME=REGEX]
                                        [--dry-run]
    realtime-harness check CASSETTE...
    realtime-harness record CASSETTE [--upstream URL] [--host H] [--port N] [--append | --force]
                                     [--redact-path NAME=PATH] [--redact-pattern NAME=REGEX]
                                     [--note TEXT]

``replay`` serves the cassette with :class:`~harness.server.FakeRealtimeServer`, drives a
client through it (sending the recorded client frames in causal order: each one once the
server frames recorded before it have arrived), prints a timeline (one line per frame:
time, side, type) and the verdict: ``PASS``, or ``FAIL`` with the mismatch report.

``serve`` does the same for an outside client (a JS app, a browser, another language): it
prints the URL to connect to and waits; the verdict comes on SIGINT/SIGTERM or, with
``--once``, when the client's session is over.

Exit status: 0 pass, 1 mismatch (or frames never played), 2 a bad cassette or bad arguments.
Every error is one line on stderr, never a traceback: ``PROG COMMAND: error: ...`` for bad
arguments (argparse's form, naming the command as typed), ``error: ...`` for the rest.

Clients are pluggable: a driver is an async function ``(server, script, emit, timeout)``
registered in :data:`harness.drivers.DRIVERS` under a :class:`~harness.drivers.ClientKind`:
``raw`` (a plain websockets client sending the recorded frames) or ``transport`` (our
:class:`~harness.transport.OpenAIRealtimeWebSocket` playing the session).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn, TextIO

from websockets.exceptions import InvalidHandshake

from harness import _json
from harness.cassette import Side, open_cassette
from harness.drivers import DRIVERS, ClientKind, TimelineEntry
from harness.errors import (
    CassetteError,
    CassetteMismatch,
    HarnessError,
    RecordingError,
    RedactionError,
    UsageError,
)
from harness.inspect import DEFAULT_GAP_SECONDS, inspect_cassette, render
from harness.recorder import DEFAULT_UPSTREAM, RecordingProxy
from harness.redaction import RedactionRule, RedactionRules
from harness.report import write_html
from harness.scrub import scrub_cassette
from harness.server import FakeRealtimeServer
from harness.validate import validate_cassette

__all__ = ["main"]

DISTRIBUTION = "realtime-harness"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``PROG: error: MESSAGE``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as written (paragraphs and examples kept), options listed argparse's way."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=min(100, _terminal_width()))


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns - 2
    except OSError:
        return 98


# -- argument types -------------------------------------------------------------------------


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError("speed must be 0 (no pacing) or a positive factor")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"port {value} is out of range: give 1-65535, or 0 for any free port"
        )
    return value


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _os_message(exc: OSError) -> str:
    """An OSError as one line, without Python's ``[Errno N]`` prefix."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    text = str(exc)
    if text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    return text or type(exc).__name__


def _listen_error(host: str, port: int, exc: OSError) -> UsageError:
    reason = os.strerror(exc.errno) if exc.errno else _os_message(exc)
    return UsageError(f"cannot listen on {host}:{port}: {reason}")


# -- replay ---------------------------------------------------------------------------------


async def _replay(
    path: str,
    speed: float,
    client: ClientKind,
    timeout: float,
    quiet: bool,
    out: TextIO,
    redaction: RedactionRules | None = None,
) -> int:
    # A torn cassette (a crashed recording) plays the frames before the tear, then FAILs.
    server = FakeRealtimeServer(path, speed=speed, allow_torn=True, redaction=redaction)
    script = server.cassette
    if script.torn is not None:
        print(f"warning: {script.torn}; playing the frames before it", file=out)
    counts = {"frames": 0, "unexpected": 0}

    def emit(entry: TimelineEntry) -> None:
        counts["frames"] += 1
        counts["unexpected"] += entry.unexpected  # a timeout, an error: never a PASS
        if not quiet:
            print(entry.render(), file=out)

    started = time.monotonic()
    try:
        await server.start()
    except OSError as exc:
        raise _listen_error(server.host, 0, exc) from None
    try:
        await DRIVERS[client](server, script, emit, timeout)
    except (OSError, InvalidHandshake) as exc:
        print(f"FAIL: the {client} client could not talk to the fake server: {exc}", file=out)
        return 1
    finally:
        await server.aclose()
    elapsed = time.monotonic() - started
    try:
        server.verdict()
    except CassetteMismatch as exc:
        print(f"FAIL: {path}", file=out)
        print(str(exc), file=out)
        return 1
    if script.torn is not None or counts["unexpected"]:
        why = (
            f"the cassette is torn at line {script.torn.lineno}; the frames before it played"
            if script.torn is not None
            else f"the client saw {counts['unexpected']} frame(s) not in the cassette or "
            "waited in vain (marked in the timeline)"
        )
        print(f"FAIL: {path}: {why}", file=out)
        return 1
    conns = len(script.conns)
    print(
        f"PASS: {path}: {counts['frames']} frames played on {conns} "
        f"connection{'s' if conns != 1 else ''} in {elapsed:.3f} s",
        file=out,
    )
    return 0


# -- serve ----------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _serve_verdict(path: str, server: FakeRealtimeServer, out: TextIO) -> int:
    """Print one cassette's verdict after its server closed; return 0 pass, 1 fail."""
    recorded = len(server.cassette.conns)
    served = len(server.results)
    try:
        server.verdict()
    except CassetteMismatch as exc:
        print(f"FAIL: {path}", file=out)
        print(str(exc), file=out)
        return 1
    if served < recorded:
        what = "no client connected" if served == 0 else f"{_plural(served, 'connection')} served"
        print(f"FAIL: {path}: {what}, the cassette records {recorded}", file=out)
        return 1
    print(f"PASS: {path}: {_plural(served, 'connection')} played every recorded frame", file=out)
    return 0


async def _serve(args: argparse.Namespace, out: TextIO) -> int:
    paths: list[str] = args.cassette
    if args.simulate and paths:
        raise UsageError("--simulate serves no cassette: give either CASSETTE... or --simulate")
    if not args.simulate and not paths:
        raise UsageError("give at least one CASSETTE to serve, or --simulate")
    if args.simulate and args.speed:
        raise UsageError("--speed paces a cassette; --simulate answers at once")
    count = max(1, len(paths))
    if args.port and args.port + count - 1 > 65535:
        raise UsageError(f"--port {args.port}: {count} servers need ports up to 65535")
    if not _is_loopback(args.host):
        print(
            f"warning: listening on {args.host}, not a loopback address: any machine "
            "that can reach it may connect",
            file=sys.stderr,
            flush=True,
        )
    rules = _rules(args.redact_path, args.redact_pattern)
    servers: list[FakeRealtimeServer] = []
    if args.simulate:
        servers.append(FakeRealtimeServer.simulate(host=args.host, port=args.port, redaction=rules))
    for i, path in enumerate(paths):  # every cassette is loaded (and checked) before listening
        port = args.port + i if args.port else 0
        servers.append(
            FakeRealtimeServer(path, speed=args.speed, host=args.host, port=port, redaction=rules)
        )

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for i, server in enumerate(servers):
                try:
                    await server.start()
                except OSError as exc:
                    raise _listen_error(args.host, args.port + i if args.port else 0, exc) from None
                stack.push_async_callback(server.aclose)
            for server in servers:
                print(f"url: {server.url}", file=out, flush=True)
                print(f"base_url: {server.base_url}", file=out, flush=True)
            waits: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
            if args.once:
                sessions = [
                    s.wait_connections_ended(1 if args.simulate else len(s.script.conns))
                    for s in servers
                ]
                waits.append(asyncio.ensure_future(asyncio.gather(*sessions)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if args.simulate:
        n = servers[0].connections_ended
        print(f"served {_plural(n, 'connection')} (simulate)", file=out, flush=True)
        return 0
    status = 0
    for path, server in zip(paths, servers, strict=True):
        status = max(status, _serve_verdict(path, server, out))
    out.flush()
    return status


# -- check ----------------------------------------------------------------------------------


def _check(path: str, out: TextIO) -> int:
    sides = {Side.CLIENT: 0, Side.SERVER: 0}
    conns: set[int] = set()
    no_event_id: list[int] = []
    with open_cassette(path) as reader:
        header = reader.header
        try:
            for frame in reader:
                sides[frame.side] += 1
                conns.add(frame.conn)
                if (
                    frame.side is Side.SERVER
                    and frame.event is not None
                    and not frame.event.get("event_id")
                ):
                    no_event_id.append(frame.lineno)
        except CassetteError as exc:
            good = sum(sides.values())
            print(
                f"error: {exc} ({_plural(good, 'complete frame')} before it read fine)",
                file=sys.stderr,
            )
            return 2
    total = sum(sides.values())
    print(
        f"{path}: OK, {total} frames ({sides[Side.CLIENT]} client, {sides[Side.SERVER]} "
        f"server) on {_plural(len(conns), 'connection')}; "
        f"made {header.made}, model {header.query.get('model', '?')}",
        file=out,
    )
    if no_event_id:
        # Valid, but real clients choke on it: the JS SDK ignores server events without an
        # event_id, and the Python SDK's validation rejects them.
        shown = ", ".join(map(str, no_event_id[:10])) + (" ..." if len(no_event_id) > 10 else "")
        print(
            f"warning: {len(no_event_id)} server event(s) without an event_id (lines {shown}): "
            "the SDKs ignore or reject such events",
            file=out,
        )
    return 0


def _check_all(paths: Sequence[str], out: TextIO) -> int:
    status = 0
    for path in paths:
        try:
            status = max(status, _check(path, out))
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
        except OSError as exc:
            print(f"error: {_os_message(exc)}", file=sys.stderr)
            status = 2
    return status


# -- inspect --------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    if args.html is not None:
        written = write_html(args.cassette, args.html)
        size = written.stat().st_size
        print(f"{written}: HTML report of {args.cassette} ({size / 1024:,.0f} KiB)", file=out)
        return 0
    inspection = inspect_cassette(args.cassette, gap_seconds=args.gap)
    if args.json:
        out.write(_json.dumps_str(inspection.to_json()) + "\n")
    else:
        for line in render(inspection):
            print(line, file=out)
    return 0


# -- validate -------------------------------------------------------------------------------


def _validate_all(paths: Sequence[str], out: TextIO) -> int:
    status = 0
    for path in paths:
        findings = 0
        validation = validate_cassette(path)
        try:
            for finding in validation:
                findings += 1
                print(finding, file=out, flush=False)
        except (HarnessError, OSError) as exc:
            text = str(exc) if isinstance(exc, HarnessError) else _os_message(exc)
            print(f"error: {text}", file=sys.stderr)
            status = 2
            continue
        if findings:
            print(
                f"{path}: {_plural(findings, 'finding')} in {_plural(validation.frames, 'frame')}",
                file=out,
            )
            status = max(status, 1)
        else:
            print(
                f"{path}: OK, {_plural(validation.frames, 'frame')} valid, no secret found",
                file=out,
            )
    return status


# -- redact ---------------------------------------------------------------------------------


def _add_redaction_arguments(parser: argparse.ArgumentParser, *, shown: bool = False) -> None:
    """``--redact-path NAME=PATH`` and ``--redact-pattern NAME=REGEX``.

    On record and redact they say what to scrub from the cassette; on replay and serve
    (``shown``), what to scrub from what the server shows of a client (a mismatch's report,
    the error event, the log): there, give the rules the cassette was recorded with.
    """
    where = " in what the server shows of a client" if shown else ""
    parser.add_argument(
        "--redact-path",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"also redact the value at this key path{where}, e.g. "
        "customer=session.metadata.customer",
    )
    parser.add_argument(
        "--redact-pattern",
        action="append",
        default=[],
        metavar="NAME=REGEX",
        help=f"also redact every match of this regular expression{where}",
    )


def _rules(paths: Sequence[str], patterns: Sequence[str]) -> RedactionRules:
    """The default rules, then each ``NAME=PATH`` and ``NAME=REGEX`` given."""
    extra: list[RedactionRule] = []
    for specs, make in ((paths, RedactionRule.path), (patterns, RedactionRule.pattern)):
        for spec in specs:
            rule_name, sep, target = spec.partition("=")
            if not sep or not rule_name or not target:
                raise UsageError(f"redaction rule {spec!r}: write NAME=VALUE")
            try:
                extra.append(make(rule_name, target))
            except RedactionError as exc:
                raise UsageError(str(exc)) from None
    try:
        return RedactionRules.default().with_rules(*extra)
    except RedactionError as exc:
        raise UsageError(str(exc)) from None


def _redact_all(args: argparse.Namespace, out: TextIO) -> int:
    rules = _rules(args.redact_path, args.redact_pattern)
    status = 0
    for path in args.cassette:
        try:
            report = scrub_cassette(path, rules, dry_run=args.dry_run)
        except (HarnessError, OSError) as exc:
            text = str(exc) if isinstance(exc, HarnessError) else _os_message(exc)
            print(f"error: {text} (the file is untouched)", file=sys.stderr)
            status = 2
            continue
        verb = "would replace" if args.dry_run else "replaced"
        if report.replaced:
            per_rule = ", ".join(f"{name} x{n}" for name, n in sorted(report.replaced.items()))
            lines = ", ".join(map(str, report.lines[:10])) + (
                " ..." if len(report.lines) > 10 else ""
            )
            print(
                f"{path}: {verb} {_plural(report.total, 'value')} ({per_rule}) on "
                f"{'line' if len(report.lines) == 1 else 'lines'} {lines}",
                file=out,
            )
        elif report.lines:
            now = "would list" if args.dry_run else "now lists"
            print(
                f"{path}: no secret in {_plural(report.frames, 'frame')}; the header {now} "
                "the rules that ran",
                file=out,
            )
        else:
            print(f"{path}: no secret in {_plural(report.frames, 'frame')}; unchanged", file=out)
    return status


# -- the parser -----------------------------------------------------------------------------

_MAIN_DESCRIPTION = """\
Record-and-replay testing harness for voice agents on the OpenAI Realtime API.

Record real sessions to JSONL cassettes (secrets never written), replay them to a client
with a fake Realtime server, or serve them to any outside client, and check the files."""

_MAIN_EPILOG = """\
exit status:
  0  success (PASS)
  1  the replay diverged from the cassette (FAIL), or a finding
  2  bad arguments, a bad or missing cassette, a port that cannot be used

Run '%(prog)s COMMAND --help' for a command's options and an example."""

_REPLAY_DESCRIPTION = """\
Replay CASSETTE to a client and judge it.

Serves CASSETTE with the fake Realtime server on 127.0.0.1, drives a client through it
(each recorded client frame is sent once the server frames recorded before it arrived),
prints one timeline line per frame (time, connection, side, type) and the verdict:
PASS, or FAIL with the mismatch report.

The report shows the client's values redacted with the default rules and any
--redact-path / --redact-pattern given: give the rules you recorded the cassette with."""

_REPLAY_EPILOG = """\
exit status:
  0  every recorded frame played and matched
  1  a mismatch, or recorded frames never played
  2  a bad or missing cassette, or bad arguments

example:
  %(prog)s cassettes/function_call.jsonl --client transport --quiet"""

_SERVE_DESCRIPTION = """\
Serve cassettes (or a simulated session) to any outside client.

Starts the fake Realtime server for each CASSETTE (one server per cassette, each on its
own port) and prints, per server in argument order, two lines, flushed:

  url: ws://HOST:PORT/v1/realtime?model=MODEL    what a client connects to
  base_url: ws://HOST:PORT/v1                    the openai client's websocket_base_url

Point a JS app, a browser, or a client in any language at it. On SIGINT (Ctrl-C) or
SIGTERM, or with --once when the client's session is over (as many connections as the
cassette records have closed), it prints each cassette's verdict, as replay does: PASS,
or FAIL with the mismatch report (FAIL too if fewer connections came than recorded).
The report, the error events and the log show the client's values redacted with the
default rules and any --redact-path / --redact-pattern given (the syntax record's):
give the rules you recorded the cassettes with.

With --simulate it serves no cassette: every connection gets a simulated session that
answers like the API (response.create gives an empty response), and it prints the number
of connections served."""

_SERVE_EPILOG = """\
exit status:
  0  every cassette played exactly (or --simulate)
  1  a mismatch, frames never played, or fewer connections than recorded
  2  a bad or missing cassette, bad arguments, a port that cannot be used

example:
  %(prog)s cassettes/text_turn.jsonl --port 8765 --once
  # then, in another shell: point the client at ws://127.0.0.1:8765/v1/realtime"""

_CHECK_DESCRIPTION = """\
Check that each CASSETTE is a well-formed cassette file.

Reads every line of each file (the format only: use 'validate' to check the events
against the API's own types) and prints its frame counts, or what is wrong and where
(path:line: reason) with how many frames before it read fine."""

_CHECK_EPILOG = """\
exit status:
  0  every file is a well-formed cassette
  2  some file is missing or malformed (the others are still checked)

example:
  %(prog)s cassettes/*.jsonl"""

_INSPECT_DESCRIPTION = """\
Show what CASSETTE holds: a readable timeline with the content.

Per connection, in frame order: the user's text and audio runs (duration, format, lines,
transcript), each turn (response.created to response.done) with the assistant's text,
transcript, tool calls with their arguments and outputs, and audio; speech started and
stopped, commits, truncations, cancels, errors, closes, refused handshakes, frames holding
redaction placeholders, and the silences that pacing would replay (--gap). Each line
reads: time (s), cassette line, what happened. Reads the file in one streaming pass,
keeping counts of the audio, not the audio.

With --json, prints the same model as one JSON object (its shape is in the README)."""

_INSPECT_EPILOG = """\
exit status:
  0  the cassette was read to the end
  2  a missing or malformed cassette (the line at fault is named)

example:
  %(prog)s cassettes/function_call.jsonl
  %(prog)s cassettes/audio_turn.jsonl --json | jq '.connections[0].turns[0].audio'"""

_VALIDATE_DESCRIPTION = """\
Check each CASSETTE's events against the openai package's event types, and for secrets.

Every client event is checked against openai's RealtimeClientEvent union and every server
event against RealtimeServerEvent, by type: unknown event types (conversation.item.creat),
missing fields and wrong field types, and fields the official models do not declare (a
beta-era shape such as response.modalities). Then every frame and the header go through
the default redaction rules: a value a rule would still replace is an unredacted secret
(sk-..., ek_..., bearer tokens; the secret itself is never printed). Each finding is one
line, path:line: message, then a summary line per file.

Needs the openai package: pip install 'realtime-harness[validate]'. ('check' asks only
whether a file is a well-formed cassette.)"""

_VALIDATE_EPILOG = """\
exit status:
  0  every event valid, no secret found
  1  a finding
  2  a missing or malformed cassette, or the openai package missing

example:
  %(prog)s cassettes/*.jsonl"""

_REDACT_DESCRIPTION = """\
Redact secrets from existing cassettes, in place.

Applies the recorder's redaction rules (API keys sk-..., ephemeral keys ek_..., the
Authorization, api-key and Cookie values, MCP tools' authorization and headers, ...) and
any rule given here to every frame and the header of each CASSETTE. A value found becomes
<redacted:RULE>, which replay matches against any value. The file is rewritten beside
itself and atomically replaced (flushed and fsync-ed first); on any error it is left
untouched. Lines no rule touched are kept byte for byte; the header's redactions list
gains the rules that ran. Prints, per file, the values replaced per rule and the lines,
never the secrets."""

_REDACT_EPILOG = """\
rules (the same syntax as record's):
  --redact-path NAME=PATH      a key path into events: session.metadata.customer,
                               *.tools[*].headers.*  ('*' any key, [*] any index)
  --redact-pattern NAME=REGEX  every match of a regular expression inside strings

exit status:
  0  every file was redacted (or had nothing to redact)
  2  a missing or malformed cassette (left untouched), or a bad rule

example:
  %(prog)s tests/cassettes/*.jsonl --redact-path customer=session.metadata.customer"""

_RECORD_DESCRIPTION = """\
Record real sessions through a local proxy.

Listens on HOST:PORT, forwards each client connection to the real API (--upstream),
and writes every frame to CASSETTE with secrets redacted, until SIGINT or SIGTERM."""

_RECORD_EPILOG = """\
exit status:
  0  the recording was written
  1  a recording failed inside the harness
  2  bad arguments, a cassette that cannot be written, a port that cannot be used

example:
  %(prog)s tests/cassettes/my_session.jsonl --port 8765"""


def _subparser(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    summary: str,
    description: str,
    epilog: str,
) -> _Parser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_Formatter,
    )


def _parser(prog: str) -> _Parser:
    parser = _Parser(
        prog=prog,
        description=_MAIN_DESCRIPTION,
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )

    replay = _subparser(
        commands,
        "replay",
        "replay a cassette to a client and print the verdict",
        _REPLAY_DESCRIPTION,
        _REPLAY_EPILOG,
    )
    replay.add_argument("cassette", metavar="CASSETTE", help="the cassette file to replay")
    replay.add_argument(
        "--client",
        default=ClientKind.RAW.value,
        choices=[kind.value for kind in ClientKind],
        help="the client to drive: raw (a plain websockets client, the default) or "
        "transport (our OpenAIRealtimeWebSocket)",
    )
    replay.add_argument(
        "--speed",
        type=_speed,
        default=0.0,
        metavar="S",
        help="0 = as fast as causality allows (default), 1 = the recorded gaps, else scaled",
    )
    replay.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="seconds to wait for each server frame, > 0 (default 10)",
    )
    replay.add_argument("--quiet", "-q", action="store_true", help="no timeline, verdict only")
    _add_redaction_arguments(replay, shown=True)

    serve = _subparser(
        commands,
        "serve",
        "serve cassettes (or a simulated session) to any outside client",
        _SERVE_DESCRIPTION,
        _SERVE_EPILOG,
    )
    serve.add_argument(
        "cassette", metavar="CASSETTE", nargs="*", help="the cassette file(s) to serve"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="N",
        help="listen port (default 0: any free port); several cassettes take N, N+1, ...",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="H",
        help="listen address (default 127.0.0.1; a warning for a non-loopback address)",
    )
    serve.add_argument(
        "--speed",
        type=_speed,
        default=0.0,
        metavar="S",
        help="0 = as fast as causality allows (default), 1 = the recorded gaps, else scaled",
    )
    serve.add_argument(
        "--simulate", action="store_true", help="serve a simulated session, no cassette"
    )
    serve.add_argument(
        "--once",
        action="store_true",
        help="stop after one client session (each server saw its recorded connections close)",
    )
    _add_redaction_arguments(serve, shown=True)

    inspect = _subparser(
        commands,
        "inspect",
        "show a cassette's turns, text, tool calls, audio and marks",
        _INSPECT_DESCRIPTION,
        _INSPECT_EPILOG,
    )
    inspect.add_argument("cassette", metavar="CASSETTE", help="the cassette file to inspect")
    how = inspect.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print the model as JSON")
    how.add_argument(
        "--html",
        metavar="OUT",
        help="write a self-contained HTML report to OUT instead: timeline, audio players, "
        "conversation (README: See a session)",
    )
    inspect.add_argument(
        "--gap",
        type=_seconds,
        default=DEFAULT_GAP_SECONDS,
        metavar="SECONDS",
        help=f"report silences at least this long (default {DEFAULT_GAP_SECONDS:g})",
    )

    validate = _subparser(
        commands,
        "validate",
        "check events against the official openai types, and scan for secrets",
        _VALIDATE_DESCRIPTION,
        _VALIDATE_EPILOG,
    )
    validate.add_argument("cassette", metavar="CASSETTE", nargs="+", help="the cassette file(s)")

    redact = _subparser(
        commands,
        "redact",
        "redact secrets from existing cassettes, in place",
        _REDACT_DESCRIPTION,
        _REDACT_EPILOG,
    )
    redact.add_argument("cassette", metavar="CASSETTE", nargs="+", help="the cassette file(s)")
    _add_redaction_arguments(redact)
    redact.add_argument(
        "--dry-run", action="store_true", help="report what would be replaced; write nothing"
    )

    check = _subparser(
        commands,
        "check",
        "check that cassette files are well-formed",
        _CHECK_DESCRIPTION,
        _CHECK_EPILOG,
    )
    check.add_argument("cassette", metavar="CASSETTE", nargs="+", help="the cassette file(s)")

    record = _subparser(
        commands,
        "record",
        "record real sessions through a local proxy",
        _RECORD_DESCRIPTION,
        _RECORD_EPILOG,
    )
    add_record_arguments(record)
    return parser


def _default_prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name in ("__main__.py", "-c"):
        return DISTRIBUTION
    return name


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, prog: str | None = None
) -> int:
    """Run the CLI; return the exit status (0 pass, 1 mismatch, 2 bad cassette or usage).

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        out: where results go (default stdout); errors always go to stderr.
        prog: the name in help and errors (default: the name the command was run as).
    """
    stdout = out if out is not None else sys.stdout
    prog = prog or _default_prog()
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            return asyncio.run(run_record(args))
        if args.command == "check":
            return _check_all(args.cassette, stdout)
        if args.command == "serve":
            return asyncio.run(_serve(args, stdout))
        if args.command == "inspect":
            return _inspect(args, stdout)
        if args.command == "redact":
            return _redact_all(args, stdout)
        if args.command == "validate":
            return _validate_all(args.cassette, stdout)
        return asyncio.run(
            _replay(
                args.cassette,
                args.speed,
                ClientKind(args.client),
                args.timeout,
                args.quiet,
                stdout,
                _rules(args.redact_path, args.redact_pattern),
            )
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_os_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# -- the `record` command: the recording proxy until SIGINT/SIGTERM ------------------------------


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``record`` command's arguments to ``parser`` (for ``harness.cli``)."""
    parser.description = (
        "Listen on a local address and relay every client to the real API, recording what "
        "crosses the wire (redacted) until SIGINT/SIGTERM. The cassette is written only if "
        "the recording is sound (a connection completed its handshake with the upstream and "
        "nothing failed); else it is left as it was and the attempt is kept in "
        "NAME.failed.jsonl beside it. Exit 0 recorded, 1 recording failed, 2 bad arguments."
    )
    parser.add_argument("cassette", help="the cassette file to write")
    parser.add_argument(
        "--upstream",
        default=DEFAULT_UPSTREAM,
        help=f"the real endpoint (default {DEFAULT_UPSTREAM}); a client's own ?model= wins",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--append",
        action="store_true",
        help="add connections to an existing cassette (numbered after its last conn)",
    )
    existing.add_argument(
        "--force",
        action="store_true",
        help="replace an existing cassette (only once the new recording is sound)",
    )
    _add_redaction_arguments(parser)
    parser.add_argument("--note", default="", help="free text for the cassette header")


def _check_target(path: str, *, force: bool, append: bool) -> None:
    """Refuse, before listening, a cassette path the recording could not end in."""
    if force and append:  # the parser refuses the pair; a Namespace built in code may not
        raise UsageError("--force and --append cannot be used together")
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise UsageError(
            f"{path} is a directory: give the cassette's file name, e.g. "
            f"{os.path.join(path, 'session.jsonl')}"
        )
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        raise UsageError(f"{path}: the directory {parent} does not exist")
    if os.path.exists(path) and not (force or append):
        raise UsageError(
            f"{path} exists: use --force to overwrite it or --append to add connections"
        )


async def run_record(args: argparse.Namespace) -> int:
    """Run the recording proxy until SIGINT/SIGTERM; print where clients connect.

    Returns 0 when the cassette was written, 1 when the recording failed (one line on
    stderr: the upstream's refusal, the cassette unchanged, where the attempt is).

    Raises:
        UsageError: bad arguments, found before listening: both ``--force`` and
            ``--append``, the cassette is a directory or its directory is missing, it
            exists without ``--force``/``--append``, the port is out of range or in use
            (``harness.cli`` prints it, exit 2).
    """
    _check_target(args.cassette, force=args.force, append=args.append)
    proxy = RecordingProxy(
        args.upstream,
        args.cassette,
        host=args.host,
        port=args.port,
        redaction=_rules(args.redact_path, args.redact_pattern),
        append=args.append,
        note=args.note,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with proxy:
            print(f"recording to {proxy.cassette_path}", flush=True)
            print(f"connect clients to {proxy.url}", flush=True)
            print(f"  (openai client: websocket_base_url={proxy.base_url})", flush=True)
            print("stop with Ctrl-C", flush=True)
            await stop.wait()
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if proxy.connections == 0:  # appending, and nobody came: nothing to add
        print(
            f"error: {proxy.cassette_path}: nothing was recorded: no client connected; "
            "the cassette is unchanged",
            file=sys.stderr,
            flush=True,
        )
        return 1
    print(f"recorded {proxy.connections} connection(s) to {proxy.cassette_path}", flush=True)
    return 0
