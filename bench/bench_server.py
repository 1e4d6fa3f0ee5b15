"""What replaying through FakeRealtimeServer costs, side by side with a raw websockets server.

Run:  .venv/bin/python bench/bench_server.py          (about a minute; ``--quick`` for a smoke run)

Inputs are generated into the git-ignored ``.bench/`` (and reused while their parameters hold):

- ``audio_100k.jsonl``: one client ``response.create``, then 100,000 server
  ``response.output_audio.delta`` events carrying 4 KB of base64 audio each (~430 MB);
- ``big_500mb.jsonl``: the same shape, 125,000 deltas (~540 MB, at least 500 MB).

Printed, from one run:

1. throughput: frames per second a client receives the 100k deltas at, from
   - ``raw``: a bare ``websockets`` server sending the same frames, pre-encoded in a list,
     one ``send()`` each (the baseline the target is set against);
   - ``raw/batched``: the same, handing them to websockets 64 at a time with one drain, as
     the fake server does with frames that are ready together (``harness._net.send_messages``):
     the best a server can do here, shown so the fake server's own cost is visible;
   - ``fake/streamed``: FakeRealtimeServer on the cassette file (bigger than the preload limit,
     so it streams it from disk, encoding each frame once as it goes);
   - ``fake/preloaded``: FakeRealtimeServer with the whole cassette loaded and pre-encoded;
   - ``fake/streamed+ids``, ``fake/preloaded+ids``: the same two, to a client whose
     ``response.create`` carries another ``event_id`` than the recorded one, as a client
     minting its ids does: the server binds it (``harness.rebinding``) and so scans every
     delta it sends for the bound id (none holds it: each goes out as the same bytes);
   each as a ratio to ``raw`` (target >= 0.9). Rounds are interleaved (and their order
   rotated) so machine noise hits all alike; the ratio is the median of the per-round
   ratios, with best / best beside it; and the servers' CPU time per frame (this process
   runs only the servers), which the machine's load disturbs less. The client (a plain
   websockets client that sends ``response.create`` and counts frames, without decoding
   them) runs in its own process, the servers in this one.
2. peak RSS of a server process replaying ``big_500mb.jsonl`` to a client that takes every
   frame (target < 100 MB), read from the server process's own ``/proc/self/status``
   (VmHWM; not ``getrusage``, whose ru_maxrss Linux carries over exec from the parent),
   next to its RSS idle before the cassette was opened.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from harness import _json
from harness._net import send_messages
from harness.cassette import CassetteWriter, Header, Made, open_cassette
from harness.replay import prepare
from harness.server import FakeRealtimeServer

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
AUTH = {"Authorization": "Bearer bench"}
DELTA_BYTES = 3072  # 3 KiB of PCM16 -> 4096 base64 characters: a 4 KB delta


def make_cassette(path: Path, frames: int) -> Path:
    """Write (once) a cassette of one response.create and ``frames`` 4 KB audio deltas."""
    stamp = path.with_suffix(".params")
    params = f"v1 frames={frames} delta={DELTA_BYTES}"
    if path.exists() and stamp.exists() and stamp.read_text() == params:
        return path
    started = time.monotonic()
    noise = os.urandom(1 << 20)
    header = Header(
        made=Made.SYNTHESIZED,
        query={"model": "gpt-realtime"},
        client="bench/bench_server.py",
        note="benchmark input; not committed",
    )
    with CassetteWriter(path, header) as writer:
        writer.event("client", 0.0, 0, {"type": "response.create", "event_id": "evt_bench"})
        for i in range(frames):
            start = (i * 7919) % (len(noise) - DELTA_BYTES)
            writer.event(
                "server",
                0.001 + i * 0.000_05,
                0,
                {
                    "type": "response.output_audio.delta",
                    "event_id": f"event_{i:021d}",
                    "response_id": "resp_bench0000000000000",
                    "item_id": "item_bench0000000000000",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": base64.b64encode(noise[start : start + DELTA_BYTES]).decode("ascii"),
                },
            )
    stamp.write_text(params)
    size = path.stat().st_size / 1e6
    print(
        f"  generated {path.relative_to(ROOT)}: {frames} frames, {size:.0f} MB "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return path


# -- the client (a child process) --------------------------------------------------------------


async def _client(url: str, frames: int, event_id: str) -> None:
    async with connect(url, additional_headers=AUTH, max_size=None, compression=None) as ws:
        started = time.perf_counter()
        await ws.send(_json.dumps_str({"type": "response.create", "event_id": event_id}))
        for _ in range(frames):
            await ws.recv(decode=False)
        elapsed = time.perf_counter() - started
    print(f"{elapsed:.6f}", flush=True)


async def run_client(url: str, frames: int, event_id: str = "evt_bench") -> float:
    """Run the client in its own process; return its elapsed seconds."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        str(frames),
        event_id,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"client failed ({proc.returncode})")
    return float(out.decode().strip().splitlines()[-1])


# -- the servers ---------------------------------------------------------------------------------


def encoded_frames(path: Path) -> list[bytes]:
    """The server frames exactly as the fake server sends them (encoded once)."""
    with open_cassette(path) as reader:
        return [prepare(f).data for f in reader if f.side == "server"]


async def throughput(path: Path, frames: int, rounds: int) -> None:
    payloads = encoded_frames(path)

    async def raw_handler(ws: ServerConnection) -> None:
        await ws.recv()
        for data in payloads:
            await ws.send(data, text=True)
        await ws.wait_closed()

    async def batched_handler(ws: ServerConnection) -> None:
        await ws.recv()
        for i in range(0, len(payloads), 64):
            await send_messages(ws, [(data, True) for data in payloads[i : i + 64]])
        await ws.wait_closed()

    raw = await serve(raw_handler, "127.0.0.1", 0, compression=None, max_size=None)
    raw_url = f"ws://127.0.0.1:{next(iter(raw.sockets)).getsockname()[1]}/v1/realtime"
    batched = await serve(batched_handler, "127.0.0.1", 0, compression=None, max_size=None)
    batched_url = f"ws://127.0.0.1:{next(iter(batched.sockets)).getsockname()[1]}/v1/realtime"
    streamed = FakeRealtimeServer(path, preload_limit=0)  # streamed whatever the file size
    preloaded = FakeRealtimeServer(path, preload_limit=1 << 40)
    results: dict[str, list[float]] = {
        "raw": [],
        "raw/batched": [],
        "fake/streamed": [],
        "fake/preloaded": [],
        "fake/streamed+ids": [],
        "fake/preloaded+ids": [],
    }
    cpu: dict[str, list[float]] = {name: [] for name in results}
    async with streamed, preloaded:
        urls = {
            "raw": raw_url,
            "raw/batched": batched_url,
            "fake/streamed": streamed.url,
            "fake/preloaded": preloaded.url,
            "fake/streamed+ids": streamed.url,
            "fake/preloaded+ids": preloaded.url,
        }
        names = list(urls)
        for r in range(rounds):
            # Rotate who goes first, so a slow start of a round does not always hit the same.
            for name in names[r % len(names) :] + names[: r % len(names)]:
                cpu_before = time.process_time()  # this process runs only the servers
                minted = "evt_minted_by_the_client" if name.endswith("+ids") else "evt_bench"
                elapsed = await run_client(urls[name], frames, minted)
                cpu[name].append((time.process_time() - cpu_before) / frames * 1e6)
                results[name].append(frames / elapsed)
                print(
                    f"  round {r + 1}: {name:<18} {frames / elapsed:>10,.0f} frames/s", flush=True
                )
    for server in (raw, batched):
        server.close()
        await server.wait_closed()
    streamed.verdict()
    preloaded.verdict()
    print()
    print(
        f"throughput, {frames:,} audio deltas of 4 KB, {rounds} interleaved rounds "
        "(the machine is shared: rounds vary; compare within a round):"
    )
    print(
        f"  {'':<18} {'median':>10} {'best':>10}   ratio to raw: median of the "
        "per-round ratios (best / best)"
    )
    for name, rates in results.items():
        line = f"  {name:<18} {statistics.median(rates):>10,.0f} {max(rates):>10,.0f}"
        if name != "raw":
            per_round = [a / b for a, b in zip(rates, results["raw"], strict=True)]
            ratio = statistics.median(per_round)
            best = max(rates) / max(results["raw"])
            verdict = "met" if ratio >= 0.9 else "NOT met"
            line += f"   {ratio:.2f} ({best:.2f})"
            if name.startswith("fake"):
                line += f"   target >= 0.9: {verdict}"
        print(line + ("   frames/s" if name == "raw" else ""))
    print("server CPU per frame sent (median; less sensitive to the machine's load):")
    raw_cpu = statistics.median(cpu["raw"])
    for name, costs in cpu.items():
        line = f"  {name:<18} {statistics.median(costs):>7.2f} us"
        if name != "raw":
            line += f"   raw / this = {raw_cpu / statistics.median(costs):.2f}"
        print(line)


# -- peak RSS (the server in a child process) ----------------------------------------------------


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def _serve_once(path: str) -> None:
    idle = _rss_kb("VmRSS")
    # preload_limit=0: stream from disk (the default 64 MB limit streams a 500 MB file anyway).
    async with FakeRealtimeServer(path, preload_limit=0) as server:
        print(server.url, flush=True)
        while not server.results:
            await asyncio.sleep(0.05)
    server.verdict()
    # VmHWM, not getrusage: Linux carries ru_maxrss over exec from the forking parent.
    peak_kb = _rss_kb("VmHWM")
    print(_json.dumps_str({"idle_kb": idle, "peak_kb": peak_kb}), flush=True)


async def peak_rss(path: Path) -> None:
    with open(path, "rb") as file:
        frames = sum(1 for _ in file) - 2  # the header and the client's response.create
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    started = time.perf_counter()
    async with connect(url, additional_headers=AUTH, max_size=None, compression=None) as ws:
        await ws.send(_json.dumps_str({"type": "response.create", "event_id": "evt_bench"}))
        for _ in range(frames):
            await ws.recv(decode=False)
    elapsed = time.perf_counter() - started
    report = _json.loads(proc.stdout.readline())
    proc.wait(timeout=60)
    size_mb = path.stat().st_size / 1e6
    peak_mb = report["peak_kb"] / 1024
    print()
    print(
        f"peak RSS replaying a {size_mb:.0f} MB cassette ({frames:,} frames, "
        f"{frames / elapsed:,.0f} frames/s):"
    )
    print(
        f"  server process: {peak_mb:.1f} MB peak (idle before opening it: "
        f"{report['idle_kb'] / 1024:.1f} MB)   target < 100 MB: "
        f"{'met' if peak_mb < 100 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--client", nargs=3, metavar=("URL", "FRAMES", "EVENT_ID"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client[0], int(args.client[1]), args.client[2]))
        return
    if args.serve:
        asyncio.run(_serve_once(args.serve))
        return
    BENCH_DIR.mkdir(exist_ok=True)
    frames, big = (100_000, 125_000) if not args.quick else (5_000, 8_000)
    rounds = args.rounds
    print("bench_server: FakeRealtimeServer replay vs a raw websockets server", flush=True)
    audio = make_cassette(BENCH_DIR / f"audio_{frames // 1000}k.jsonl", frames)
    large = make_cassette(
        BENCH_DIR / ("big_500mb.jsonl" if not args.quick else "big_quick.jsonl"), big
    )
    asyncio.run(throughput(audio, frames, rounds))
    asyncio.run(peak_rss(large))


if __name__ == "__main__":
    main()
