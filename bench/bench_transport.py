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
  delta, as an audio player would; the bare client decodes nothing);
- the peers a user would pick instead, each in its own process, receiving the same frames:
  ``agents``, the ``openai-agents`` SDK's ``OpenAIRealtimeWebSocketModel``
  (``bench/_peer_agents.py``, in a virtualenv of its own, ``.bench/venv-agents``, made on
  first use: it pins websockets<17), and ``js``, the reference JS SDK's
  ``OpenAIRealtimeWebSocket`` under node (``bench/_peer_node.mjs``, the package the
  conformance suite installs). Both decode every delta, so ``transport+data`` is the
  like-for-like comparison. A peer that cannot run here is skipped, with the reason.

Each client's clocks run from its first frame received to its last one handled: the wall
clock, and this process's CPU time (the server is another process), which a busy machine
disturbs far less. Printed: events/s for each by both clocks, the ratios to ``bare`` per
round, their median (targets: ``transport / bare`` >= 0.8, ``transport+data / bare``
>= 0.6), and our ratio to each peer.

``--instructions`` counts instead, with valgrind's callgrind, the CPU instructions each
of our clients and ``bare`` executes per frame (a run of 2 passes less a run of 1, so
start-up cancels out): a figure no neighbour disturbs, for a machine whose clocks swing
too much to judge a ratio by. It needs ``valgrind`` and takes about 3 minutes; the
peers are only timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from harness import OpenAIRealtimeWebSocket
from harness.cassette import open_cassette

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
HERE = Path(__file__).resolve().parent
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


# --------------------------------------------------------------------------- peers

Client = Callable[[str, int], Awaitable[Rates]]
AGENTS_VENV = BENCH_DIR / "venv-agents"
NODE_DIR = ROOT / "tests" / "conformance" / ".node"


def agents_python() -> tuple[Path | None, str]:
    """A Python with openai-agents (made in .bench/ on first use), or why there is none."""
    for candidate in (ROOT / ".venv-ws16" / "bin" / "python", AGENTS_VENV / "bin" / "python"):
        if candidate.exists() and _imports_agents(candidate):
            return candidate, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(AGENTS_VENV)], check=True)
        pip = [str(AGENTS_VENV / "bin" / "pip"), "install", "-q", "openai-agents", "websockets<17"]
        subprocess.run(pip, check=True, capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot install openai-agents into {AGENTS_VENV}: {exc}"
    python = AGENTS_VENV / "bin" / "python"
    if not _imports_agents(python):
        return None, f"openai-agents does not import in {AGENTS_VENV}"
    return python, ""


def _imports_agents(python: Path) -> bool:
    check = [str(python), "-c", "import agents.realtime.openai_realtime"]
    return subprocess.run(check, capture_output=True).returncode == 0


def node_peer() -> tuple[list[str] | None, str]:
    """The node command for the JS SDK peer, or why it cannot run."""
    if shutil.which("node") is None:
        return None, "node is not installed"
    sys.path.insert(0, str(ROOT / "tests" / "conformance"))
    try:
        from conformance_runner import install_reference

        install_reference()  # npm ci of the pinned @openai/agents-realtime, once
    except Exception as exc:  # npm missing or failing: say why, bench the rest
        return None, f"cannot install @openai/agents-realtime: {exc}"
    return ["node", str(HERE / "_peer_node.mjs"), str(NODE_DIR)], ""


def peer(command: list[str]) -> Client:
    async def run(url: str, expected: int) -> Rates:
        proc = await asyncio.create_subprocess_exec(
            *command, url, str(expected), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        result = orjson.loads(out.splitlines()[-1])
        if proc.returncode != 0 or "error" in result:
            raise RuntimeError(f"{command[0]} peer failed: {result}")
        return float(result["wall"]), float(result["cpu"])

    return run


# --------------------------------------------------------------------------- measuring

# The clients in this process: the baseline and ours (the peers run in processes of their own).
OURS: dict[str, Client] = {
    "bare": bare,
    "transport": transport,
    "transport+data": transport_decoding,
}
LABELS = {
    "bare": "bare websockets + orjson",
    "transport": "OpenAIRealtimeWebSocket",
    "transport+data": "  ... listener reads .data",
    "agents": "openai-agents (Python)",
    "js": "@openai/agents-realtime (node)",
}
TARGETS = {"transport": 0.8, "transport+data": 0.6}


async def measure(url: str, expected: int, rounds: int, peers: dict[str, Client]) -> None:
    clients: dict[str, Client] = {**OURS, **peers}
    names = list(clients)
    wall: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            rates = await clients[name](url, expected)
            wall[name].append(rates[0])
            cpu[name].append(rates[1])
        print(
            f"  round {round_ + 1}: "
            + "   ".join(f"{n} {wall[n][-1]:>7,.0f} ({cpu[n][-1]:>7,.0f})" for n in names)
            + "   / bare "
            + " ".join(f"{wall[n][-1] / wall['bare'][-1]:.2f}" for n in names[1:]),
            flush=True,
        )
    med = statistics.median

    def ratios(a: str, b: str, clock: dict[str, list[float]]) -> list[float]:
        return [x / y for x, y in zip(clock[a], clock[b], strict=True)]

    print("events/s, median: wall clock (per CPU second of the client's process)")
    for name in names:
        print(f"  {LABELS[name]:<31} {med(wall[name]):>9,.0f} ({med(cpu[name]):>9,.0f})")
    print("ratios, median of the rounds: wall clock (CPU)")
    for name in names[1:]:
        w, c = ratios(name, "bare", wall), ratios(name, "bare", cpu)
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:  # judged by CPU time: the wall clock follows the neighbours
            verdict = f"   target >= {target}: {'met' if med(c) >= target else 'MISSED'} (CPU)"
        print(f"  {name + ' / bare':<28} {med(w):5.2f} ({med(c):5.2f}){verdict}")
    for ours in ("transport", "transport+data"):
        for name in peers:
            w, c = ratios(ours, name, wall), ratios(ours, name, cpu)
            print(f"  {ours + ' / ' + name:<28} {med(w):5.2f} ({med(c):5.2f})")
    print(f"({rounds} rounds, {expected:,} frames each; CPU time is robust to busy neighbours)")


# --------------------------------------------------------------------------- instructions


async def run_passes(name: str, url: str, expected: int, passes: int) -> None:
    for _ in range(passes):
        await OURS[name](url, expected)


def count_instructions(url: str, expected: int) -> int:
    """Instructions per frame for each of our clients, by callgrind; the ratios to bare."""
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    per_frame: dict[str, float] = {}
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in every run
    with tempfile.TemporaryDirectory() as tmp:
        for name in OURS:
            totals = []
            for passes in (1, 2):
                out = Path(tmp) / f"{name}.{passes}.out"
                command = [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    __file__,
                    "--client",
                    name,
                    "--url",
                    url,
                    "--count",
                    str(expected),
                    "--passes",
                    str(passes),
                ]
                subprocess.run(command, check=True, env=env, capture_output=True)
                totals.append(_callgrind_total(out))
            per_frame[name] = (totals[1] - totals[0]) / expected
            print(f"  {LABELS[name]:<31} {per_frame[name]:>9,.0f} instructions/frame", flush=True)
    for name in ("transport", "transport+data"):
        ratio = per_frame["bare"] / per_frame[name]
        target = TARGETS[name]
        print(
            f"  {name + ' / bare':<28} {ratio:5.2f}   target >= {target}: "
            f"{'met' if ratio >= target else 'MISSED'} (instructions)"
        )
    return 0


def _callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals line in callgrind's output")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 frames, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count CPU instructions per frame with valgrind instead of timing (10,000 frames)",
    )
    parser.add_argument("--serve", metavar="CASSETTE", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=list(OURS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_frames(Path(args.serve)))
        return 0
    if args.client:  # one client's passes, for callgrind to count
        asyncio.run(run_passes(args.client, args.url, args.count, args.passes))
        return 0
    if args.instructions:
        args.quick = True
    frames = 10_000 if args.quick else 100_000
    rounds = args.rounds or (3 if args.quick else 6)
    path = cassette_path(frames)
    peers: dict[str, Client] = {}
    python, why_not = agents_python() if not args.instructions else (None, "")
    if python is not None:
        peers["agents"] = peer([str(python), str(HERE / "_peer_agents.py")])
    elif not args.instructions:
        print(f"skipped the openai-agents peer: {why_not}")
    command, why_not = node_peer() if not args.instructions else (None, "")
    if command is not None:
        peers["js"] = peer(command)
    elif not args.instructions:
        print(f"skipped the JS SDK peer: {why_not}")
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
        url = f"ws://127.0.0.1:{port}/v1/realtime?model=bench"
        if args.instructions:  # the peers are timed only (node's JIT under valgrind is not)
            return count_instructions(url, int(count))
        asyncio.run(measure(url, int(count), rounds, peers))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
