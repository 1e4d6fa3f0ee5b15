"""Transport receive + dispatch throughput, side by side with a bare websockets client.

Run:  .venv/bin/python bench/bench_transport.py          (``--quick`` for a smoke run)

Input: the 100,000-frame audio cassette ``.bench/audio_100k.jsonl`` (4 KB
``response.output_audio.delta`` events), generated on first use into the git-ignored
``.bench/`` by ``bench/bench_server.py``'s generator (``--quick``: 10,000 frames).

A server process (this script with ``--serve``) loads the cassette's server frames once,
pre-encoded, and for each connection waits for the client's first frame, then sends every
frame and closes: the same bytes, the same way, for both clients. In this process, one at a
time, in interleaved rounds (order rotated so machine noise hits both alike):

- ``bare``: ``websockets.asyncio.client.connect``, ``async for`` every message,
  ``orjson.loads`` each;
- ``transport``: ``harness.OpenAIRealtimeWebSocket``: connect (its session.update is the
  first frame), then the full receive path: JSON, the reference's schema check, ``*`` and
  per-type events, audio bookkeeping (the played length), an ``audio`` event per delta,
  counted by an ``audio`` listener. ``AudioEvent.data`` decodes the base64 on first access,
  which this listener never does;
- ``transport+data``: the same with a listener that reads ``event.data`` (decodes each
  delta, as an audio player would; the bare client decodes nothing).

Each client's clocks run from its first frame received to its last one handled: the wall
clock, and this process's CPU time (the server is another process), which a busy machine
disturbs far less. Printed: events/s for each by both clocks, the ratios to ``bare`` per
round, their median and best (target for ``transport / bare``: >= 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from harness import OpenAIRealtimeWebSocket
from harness.cassette import open_cassette

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def cassette_path(frames: int) -> Path:
    from bench_server import make_cassette  # the engine's generator: one input for all benches

    BENCH_DIR.mkdir(exist_ok=True)
    name = "audio_100k.jsonl" if frames == 100_000 else f"audio_{frames}.jsonl"
    return make_cassette(BENCH_DIR / name, frames)


# --------------------------------------------------------------------------- server process


async def serve_frames(path: Path) -> None:
    frames: list[bytes] = []
    with open_cassette(path) as reader:
        for frame in reader:
            if frame.side == "server" and frame.event is not None:
                frames.append(orjson.dumps(frame.event))

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        for data in frames:
            await ws.send(data, text=True)
        await ws.close()

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"{port} {len(frames)}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# --------------------------------------------------------------------------- clients


Rates = tuple[float, float]  # events/s by wall clock, events/s by this process's CPU time


async def bare(url: str, expected: int) -> Rates:
    count = 0
    started = cpu_started = 0.0
    ended = cpu_ended = 0.0
    async with connect(url, max_size=None, compression=None, proxy=None) as ws:
        await ws.send('{"type": "response.create"}')
        async for message in ws:
            if count == 0:
                started, cpu_started = time.perf_counter(), time.process_time()
            orjson.loads(message)
            count += 1
            if count == expected:
                ended, cpu_ended = time.perf_counter(), time.process_time()
    assert count == expected, f"bare client got {count} of {expected} frames"
    return (count - 1) / (ended - started), (count - 1) / (cpu_ended - cpu_started)


async def transport(url: str, expected: int, *, read_data: bool = False) -> Rates:
    done = asyncio.Event()
    state = {"count": 0, "started": 0.0, "ended": 0.0, "cpu_started": 0.0, "cpu_ended": 0.0}
    t = OpenAIRealtimeWebSocket(api_key="bench")

    def on_first(_event: Any) -> None:
        state["started"], state["cpu_started"] = time.perf_counter(), time.process_time()

    def on_audio(event: Any) -> None:
        if read_data:
            event.data  # noqa: B018 - decode the base64, as a player would
        state["count"] += 1
        if state["count"] == expected:
            state["ended"], state["cpu_ended"] = time.perf_counter(), time.process_time()
            done.set()

    t.once("*", on_first)
    t.on("audio", on_audio)
    t.on("disconnected", lambda: done.set())
    await t.connect(url=url)
    await done.wait()
    await t.aclose()
    assert state["count"] == expected, f"transport got {state['count']} of {expected} frames"
    return (
        (expected - 1) / (state["ended"] - state["started"]),
        (expected - 1) / (state["cpu_ended"] - state["cpu_started"]),
    )


async def transport_decoding(url: str, expected: int) -> Rates:
    return await transport(url, expected, read_data=True)


async def measure(url: str, expected: int, rounds: int) -> None:
    clients = {"bare": bare, "transport": transport, "transport+data": transport_decoding}
    names = list(clients)
    wall: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    wall_ratios: dict[str, list[float]] = {"transport": [], "transport+data": []}
    cpu_ratios: dict[str, list[float]] = {"transport": [], "transport+data": []}
    for round_ in range(rounds):
        order = names[round_ % 3 :] + names[: round_ % 3]
        this_round: dict[str, Rates] = {}
        for name in order:
            this_round[name] = await clients[name](url, expected)
            wall[name].append(this_round[name][0])
            cpu[name].append(this_round[name][1])
        for name in wall_ratios:
            wall_ratios[name].append(this_round[name][0] / this_round["bare"][0])
            cpu_ratios[name].append(this_round[name][1] / this_round["bare"][1])
        print(
            f"  round {round_ + 1}: "
            + "   ".join(
                f"{n} {this_round[n][0]:>7,.0f} ({this_round[n][1]:>7,.0f})" for n in names
            )
            + "   ratios "
            + " / ".join(
                f"{wall_ratios[n][-1]:.2f} ({cpu_ratios[n][-1]:.2f})" for n in wall_ratios
            ),
            flush=True,
        )
    med = statistics.median
    print("events/s, median: wall clock (per CPU second of the client process)")
    labels = {
        "bare": "bare websockets + orjson",
        "transport": "OpenAIRealtimeWebSocket",
        "transport+data": "  ... listener reads .data",
    }
    for name in names:
        print(f"  {labels[name]:<28} {med(wall[name]):>9,.0f} ({med(cpu[name]):>9,.0f})")
    for name, target in (("transport", " (target >= 0.7)"), ("transport+data", "")):
        print(
            f"{name} / bare: median {med(wall_ratios[name]):.2f} wall, "
            f"{med(cpu_ratios[name]):.2f} CPU; best {max(wall_ratios[name]):.2f} / "
            f"{max(cpu_ratios[name]):.2f}{target}"
        )
    print(f"({rounds} rounds, {expected:,} frames each; CPU time is robust to busy neighbours)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 frames, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--serve", metavar="CASSETTE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_frames(Path(args.serve)))
        return 0
    frames = 10_000 if args.quick else 100_000
    rounds = args.rounds or (3 if args.quick else 6)
    path = cassette_path(frames)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert server.stdout is not None
        port, count = server.stdout.readline().split()
        print(
            f"transport receive+dispatch: {count} frames of {path.name}, server in its own process"
        )
        asyncio.run(measure(f"ws://127.0.0.1:{port}/v1/realtime?model=bench", int(count), rounds))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
