"""``python -m harness``: replay a cassette against a client, or check a cassette file.

Commands::

    python -m harness replay CASSETTE [--speed S] [--client raw] [--quiet] [--timeout SECONDS]
    python -m harness check CASSETTE
    python -m harness record CASSETTE [--upstream URL] [--port N] [--mode MODE] [--redact-* ...]

``replay`` serves the cassette with :class:`~harness.server.FakeRealtimeServer`, drives a
client through it (sending the recorded client frames in causal order: each one once the
server frames recorded before it have arrived), prints a timeline (one line per frame:
time, side, type) and the verdict: ``PASS``, or ``FAIL`` with the mismatch report.

Exit status: 0 pass, 1 mismatch (or frames never played), 2 a bad cassette or bad arguments
(the message, never a traceback).

Clients are pluggable: a driver is an async function ``(server, script, emit, timeout)``
registered in :data:`harness.drivers.DRIVERS` under a :class:`~harness.drivers.ClientKind`:
``raw`` (a plain websockets client sending the recorded frames) or ``transport`` (our
:class:`~harness.transport.OpenAIRealtimeWebSocket` playing the session).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from websockets.exceptions import InvalidHandshake

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
from harness.recorder import DEFAULT_UPSTREAM, RecordingProxy
from harness.redaction import RedactionRule, RedactionRules
from harness.server import FakeRealtimeServer

__all__ = ["main"]


async def _replay(
    path: str, speed: float, client: ClientKind, timeout: float, quiet: bool, out: TextIO
) -> int:
    server = FakeRealtimeServer(path, speed=speed)
    script = server.script
    counts = {"frames": 0}

    def emit(entry: TimelineEntry) -> None:
        counts["frames"] += 1
        if not quiet:
            print(entry.render(), file=out)

    started = time.monotonic()
    async with server:
        try:
            await DRIVERS[client](server, script, emit, timeout)
        except (OSError, InvalidHandshake) as exc:
            print(f"FAIL: the {client} client could not talk to the fake server: {exc}", file=out)
            return 1
    elapsed = time.monotonic() - started
    try:
        server.verdict()
    except CassetteMismatch as exc:
        print(f"FAIL: {path}", file=out)
        print(str(exc), file=out)
        return 1
    conns = len(script.conns)
    print(
        f"PASS: {path}: {counts['frames']} frames played on {conns} "
        f"connection{'s' if conns != 1 else ''} in {elapsed:.3f} s",
        file=out,
    )
    return 0


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
            print(f"error: {exc}", file=sys.stderr)
            print(
                f"({good} complete frame{'s' if good != 1 else ''} before it read fine)",
                file=sys.stderr,
            )
            return 2
    total = sum(sides.values())
    print(
        f"{path}: OK, {total} frames ({sides[Side.CLIENT]} client, {sides[Side.SERVER]} "
        f"server) on {len(conns)} connection{'s' if len(conns) != 1 else ''}; "
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


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError("speed must be 0 (no pacing) or a positive factor")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="Record-and-replay harness for the OpenAI Realtime API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    replay = commands.add_parser(
        "replay",
        help="serve a cassette and drive a client through it",
        description="Serve CASSETTE with the fake server, drive a client through it in causal "
        "order, print the timeline and the verdict. Exit 0 pass, 1 mismatch, "
        "2 bad cassette.",
    )
    replay.add_argument("cassette", metavar="CASSETTE")
    replay.add_argument(
        "--speed",
        type=_speed,
        default=0.0,
        help="0 = as fast as causality allows (default), 1 = recorded gaps, else scaled",
    )
    replay.add_argument(
        "--client",
        type=ClientKind,
        default=ClientKind.RAW,
        choices=list(ClientKind),
        help="the client to drive (default: raw, a plain websockets client)",
    )
    replay.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for each server frame (default 10)",
    )
    replay.add_argument("--quiet", "-q", action="store_true", help="no timeline, verdict only")
    check = commands.add_parser(
        "check",
        help="validate a cassette file",
        description="Validate every line of CASSETTE; print its frame "
        "count, or what is wrong and where.",
    )
    check.add_argument("cassette", metavar="CASSETTE")
    add_record_arguments(
        commands.add_parser("record", help="record real sessions through a local proxy")
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the CLI; return the exit status (0 pass, 1 mismatch, 2 bad cassette or usage)."""
    stdout = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.command == "record":
            return asyncio.run(run_record(args))
        if args.command == "check":
            return _check(args.cassette, stdout)
        return asyncio.run(
            _replay(args.cassette, args.speed, args.client, args.timeout, args.quiet, stdout)
        )
    except (CassetteError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HarnessError as exc:  # pragma: no cover - any other harness error, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


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
    parser.add_argument(
        "--redact-path",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also redact the value at this key path, e.g. customer=session.metadata.customer",
    )
    parser.add_argument(
        "--redact-pattern",
        action="append",
        default=[],
        metavar="NAME=REGEX",
        help="also redact every match of this regular expression",
    )
    parser.add_argument("--note", default="", help="free text for the cassette header")


def _user_rules(args: argparse.Namespace) -> RedactionRules:
    rules: list[RedactionRule] = []
    for spec, make in (
        (args.redact_path, RedactionRule.path),
        (args.redact_pattern, RedactionRule.pattern),
    ):
        for item in spec:
            name, sep, target = item.partition("=")
            if not sep:
                raise UsageError(f"redaction rule {item!r}: write NAME=VALUE")
            try:
                rules.append(make(name, target))
            except RedactionError as exc:
                raise UsageError(str(exc)) from None
    try:
        return RedactionRules.default().with_rules(*rules)
    except RedactionError as exc:
        raise UsageError(str(exc)) from None


def _check_target(path: str, *, force: bool, append: bool) -> None:
    """Refuse, before listening, a cassette path the recording could not end in."""
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
        UsageError: bad arguments, found before listening: the cassette is a directory or
            its directory is missing, it exists without ``--force``/``--append``, the port
            is out of range or in use (``harness.cli`` prints it, exit 2).
    """
    _check_target(args.cassette, force=args.force, append=args.append)
    proxy = RecordingProxy(
        args.upstream,
        args.cassette,
        host=args.host,
        port=args.port,
        redaction=_user_rules(args),
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
