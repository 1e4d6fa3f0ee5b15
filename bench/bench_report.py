"""The HTML report of a large cassette: build time, peak memory, report size, browser load.

Run:  .venv/bin/python bench/bench_report.py [--mb 300] [--dir /tmp] [--no-browser]

Builds a cassette of about ``--mb`` megabytes in ``--dir`` from the audio of the bundled
``cassettes/audio_turn.jsonl`` (its user appends and model deltas, repeated): turns of
2 s of user audio (40 appends), a commit, and a 4 s audio response (80 deltas, with
transcript deltas), like a long voice session. Then, each in a fresh child process:

- ``write_html`` of it: wall time and the child's peak RSS (``ru_maxrss``), beside the
  peak RSS of a child that only imports ``harness.report`` (the baseline);
- the size of the report, and what it kept (streams, players, bytes of audio embedded);
- unless ``--no-browser``: the time Debian's Chromium takes to load the report until the
  page's script is done (timeline marks, waveforms, players built).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.cassette import CassetteWriter, Frame, Header, Made, Side  # noqa: E402

TURN_USER = 40
TURN_MODEL = 80


def build(path: Path, megabytes: float) -> tuple[int, int]:
    """Write the large cassette; return (frames, turns)."""
    user: list[str] = []
    model: list[str] = []
    session: dict[str, object] = {}
    with (ROOT / "cassettes" / "audio_turn.jsonl").open() as fh:
        next(fh)
        for line in fh:
            event = json.loads(line).get("event") or {}
            if event.get("type") == "input_audio_buffer.append":
                user.append(event["audio"])
            elif event.get("type") == "response.output_audio.delta":
                model.append(event["delta"])
            elif event.get("type") == "session.created":
                session = event["session"]
    header = Header(
        made=Made.SYNTHESIZED,
        created="2026-12-01T00:00:00Z",
        query={"model": "gpt-realtime"},
        client="bench/bench_report.py",
        note="a long voice session built from cassettes/audio_turn.jsonl's audio",
    )
    target = megabytes * 1024 * 1024
    frames = turns = 0
    t = 0.0
    with CassetteWriter(path, header) as writer:
        writer.event("server", 0.0, 0, {"type": "session.created", "session": session})
        batch: list[Frame] = []

        def add(side: str, event: dict[str, object], step: float = 0.04) -> None:
            nonlocal t
            t = round(t + step, 3)
            batch.append(Frame.of_event(Side(side), t, 0, event))

        while path.stat().st_size < target:
            batch.clear()

            for k in range(TURN_USER):
                add(
                    "client",
                    {"type": "input_audio_buffer.append", "audio": user[k % len(user)]},
                    0.05,
                )
            add("client", {"type": "input_audio_buffer.commit"})
            item = f"item_u{turns}"
            add("server", {"type": "input_audio_buffer.committed", "item_id": item})
            add(
                "server",
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item,
                    "content_index": 0,
                    "transcript": f"User turn {turns}.",
                },
            )
            add("client", {"type": "response.create"})
            rid = f"resp_{turns}"
            add(
                "server",
                {"type": "response.created", "response": {"id": rid, "status": "in_progress"}},
            )
            ids = {
                "response_id": rid,
                "item_id": f"item_a{turns}",
                "output_index": 0,
                "content_index": 0,
            }
            for k in range(TURN_MODEL):
                if k % 10 == 0:
                    add(
                        "server",
                        {
                            "type": "response.output_audio_transcript.delta",
                            **ids,
                            "delta": f"word{k} ",
                        },
                        0.0,
                    )
                add(
                    "server",
                    {"type": "response.output_audio.delta", **ids, "delta": model[k % len(model)]},
                    0.05,
                )
            add("server", {"type": "response.done", "response": {"id": rid, "status": "completed"}})
            writer.write_frames(batch)
            frames += len(batch)
            turns += 1
        writer.write_close("client", round(t + 0.1, 3), 0, 1000)
    return frames + 2, turns


CHILD = """
import json, resource, sys, time
from harness.report import write_html
started, cpu = time.perf_counter(), time.process_time()
out = write_html(sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else None
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "cpu": cpu, "maxrss_kib": peak}))
"""


def child(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def browser_load(report: Path) -> float:
    from playwright.sync_api import sync_playwright

    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.perf_counter()
        page.goto(report.as_uri(), timeout=300_000)
        page.wait_for_function("window.__report && window.__report.ready", timeout=300_000)
        elapsed = time.perf_counter() - started
        marks = page.evaluate("window.__report.marks")
        page.screenshot(path=str(report.with_suffix(".png")))
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    print(f"  chromium: loaded and built in {elapsed:.1f} s ({marks:,} marks)")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=300.0, help="cassette size (default 300)")
    parser.add_argument("--dir", default="/tmp", help="where the cassette and report go")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: a 5 MiB cassette (bench/run.py --quick)"
    )
    args = parser.parse_args()
    if args.quick:
        args.mb = 5.0
    folder = Path(args.dir)
    cassette = folder / f"bench_report_{int(args.mb)}mb.jsonl"
    report = cassette.with_suffix(".html")
    started = time.perf_counter()
    frames, turns = build(cassette, args.mb)
    size = cassette.stat().st_size
    print(
        f"cassette: {cassette} {size / 2**20:,.0f} MiB, {frames:,} frames, {turns:,} turns "
        f"(built in {time.perf_counter() - started:.0f} s)"
    )
    base = child()
    run = child(str(cassette), str(report))
    print(
        f"  write_html: {run['seconds']:.1f} s ({run['cpu']:.1f} s of CPU), "
        f"peak RSS {run['maxrss_kib'] / 1024:,.0f} MiB "
        f"(importing harness.report alone: {base['maxrss_kib'] / 1024:,.0f} MiB)"
    )
    text = report.read_text()
    start = text.index('id="report-data">') + len('id="report-data">')
    data = json.loads(text[start : text.index("</script>", start)])
    players = sum(1 for s in data["streams"] if s["kept_bytes"])
    kept = sum(s["kept_bytes"] for s in data["streams"])
    print(
        f"  report: {report} {report.stat().st_size / 2**20:,.1f} MiB; {len(data['streams']):,} "
        f"streams, {players:,} with a player, {kept / 2**20:,.1f} MiB of audio embedded; "
        f"{data['details_dropped']:,} frame details left out"
    )
    if not args.no_browser:
        browser_load(report)


if __name__ == "__main__":
    main()
