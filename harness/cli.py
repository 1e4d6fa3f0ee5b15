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
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from websockets.exceptions import InvalidHandshake

from harness.cassette import Side, open_cassette
from harness.drivers import DRIVERS, ClientKind, TimelineEntry
from harness.errors import CassetteError, CassetteMismatch, HarnessError, UsageError
from harness.recorder import add_record_arguments, run_record
from harness.server import FakeRealtimeServer

__all__ = ["main"]


async def _replay(
    path: str, speed: float, client: ClientKind, timeout: float, quiet: bool, out: TextIO
) -> int:
    # A torn cassette (a crashed recording) plays the frames before the tear, then FAILs.
    server = FakeRealtimeServer(path, speed=speed, allow_torn=True)
    script = server.script
    if script.torn is not None:
        print(f"warning: {script.torn}; playing the frames before it", file=out)
    counts = {"frames": 0, "unexpected": 0}

    def emit(entry: TimelineEntry) -> None:
        counts["frames"] += 1
        counts["unexpected"] += entry.unexpected  # a timeout, an error: never a PASS
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
