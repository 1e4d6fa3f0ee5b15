"""The recorder killed with SIGKILL at random moments: every complete frame stays readable."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from recorder_support import (
    TIMEOUT,
)

from harness.cassette import (
    CassetteWriter,
    Frame,
    Header,
    load_cassette,
    open_cassette,
)
from harness.errors import CassetteError, UsageError
from harness.recorder import RecordingProxy

_RECORDING_CHILD = r"""
import asyncio, base64, json, os, sys
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from harness.recorder import RecordingProxy

AUDIO = base64.b64encode(os.urandom(int(sys.argv[2]))).decode()

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=None) as upstream:
        port = next(iter(upstream.sockets)).getsockname()[1]
        async with RecordingProxy(
            f"ws://127.0.0.1:{port}/v1/realtime",
            sys.argv[1],
            append=sys.argv[3] == "append",
            first_conn=1 if sys.argv[3] == "append" else 0,
        ) as proxy:
            async with connect(proxy.url, max_size=None) as ws:
                n = 0
                while True:
                    n += 1
                    await ws.send(json.dumps(
                        {"type": "input_audio_buffer.append", "event_id": f"e{n}", "audio": AUDIO}))
                    await ws.recv()
                    sys.stdout.write(f"{n}\n")
                    sys.stdout.flush()

asyncio.run(main())
"""


def _old_cassette(path: Path) -> list[Frame]:
    """A good cassette already at ``path`` (a kill must leave it byte-identical)."""
    with CassetteWriter(path, Header(note="the good one")) as writer:
        writer.event("server", 0.0, 0, {"type": "session.created", "event_id": "ev_old"})
        writer.write_close("client", 0.5, 0, 1000, "")
    return list(load_cassette(path).frames)


def test_sigkill_at_random_moments_leaves_every_complete_frame_readable(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    torn = 0
    for round_ in range(20):
        cassette = tmp_path / f"killed{round_}.jsonl"
        # Every other round records over a good cassette, a third of them appending to it.
        mode = rng.choice(["new", "overwrite", "append"])
        old_frames = _old_cassette(cassette) if mode != "new" else []
        old_bytes = cassette.read_bytes() if mode != "new" else None
        staging = tmp_path / f"killed{round_}.recording.jsonl"
        size = rng.choice([100, 4_000, 200_000])  # small, audio-sized, and big (slow) frames
        child = subprocess.Popen(
            [sys.executable, "-c", _RECORDING_CHILD, str(cassette), str(size), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert child.stdout is not None
            for _ in range(rng.randint(1, 40)):  # let it run a random number of round trips
                assert child.stdout.readline(), "the recording child died early"
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=TIMEOUT)
            assert child.stdout is not None
            child.stdout.close()
        # The cassette is untouched (or still absent); the frames are in the staging file.
        if old_bytes is None:
            assert not cassette.exists()
        else:
            assert cassette.read_bytes() == old_bytes
        data = staging.read_bytes()
        complete_lines = data.count(b"\n")
        frames: list[Frame] = []
        torn_here = False
        with open_cassette(staging) as reader:
            try:
                frames.extend(reader)
            except CassetteError as exc:
                torn += 1
                torn_here = True
                assert exc.lineno == complete_lines + 1
                assert "torn last line" in str(exc)
                assert not data.endswith(b"\n")
        assert len(frames) == complete_lines - 1  # every complete line but the header
        kept_old = old_frames if mode == "append" else []  # appending starts from a copy
        assert frames[: len(kept_old)] == kept_old
        assert len(frames) >= len(kept_old) + 2
        for frame in frames[len(kept_old) :]:
            assert frame.event is None or frame.event["type"] == "input_audio_buffer.append"
        # A kill inside a write() tears the last line; cut one at a random byte to be sure
        # that case is exercised every run: reported with its line number, frames kept.
        if not torn_here:
            last_start = data.rstrip(b"\n").rfind(b"\n") + 1
            cut = rng.randrange(last_start + 1, len(data) - 1)
            staging.write_bytes(data[:cut])
            with open_cassette(staging) as reader:
                kept: list[Frame] = []
                with pytest.raises(CassetteError) as info:
                    kept.extend(reader)
            assert str(info.value) == (
                f"{staging}:{complete_lines}: torn last line: it ends without a newline and is "
                "not complete JSON (the writer was probably interrupted; the frames before it "
                "are intact)"
            )
            assert kept == frames[:-1]
        # Appending after a crash cuts the torn tail off and carries on.
        with CassetteWriter(staging, Header(), mode="a") as writer:
            writer.event("server", 9.0, 1, {"type": "after.crash"})
        reloaded = load_cassette(staging)
        assert len(reloaded.frames) == len(frames) + (0 if not torn_here else 1)
    # How many rounds tore a line is chance; it is printed, not asserted.
    print(f"{torn} of 20 kills tore the last line")


async def test_a_killed_recording_is_never_overwritten_by_the_next_one(tmp_path: Path) -> None:
    cassette = tmp_path / "killed.jsonl"
    old_bytes = _old_cassette(cassette) and cassette.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", _RECORDING_CHILD, str(cassette), "100", "overwrite"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        for _ in range(3):
            assert child.stdout.readline(), "the recording child died early"
    finally:
        child.kill()
        child.wait(timeout=TIMEOUT)
        assert child.stdout is not None
        child.stdout.close()
    staging = tmp_path / "killed.recording.jsonl"
    left = staging.read_bytes()
    proxy = RecordingProxy("ws://127.0.0.1:9/v1/realtime", cassette)
    with pytest.raises(UsageError) as info:
        async with asyncio.timeout(TIMEOUT), proxy:
            pass
    assert str(info.value) == (
        f"{staging} exists: another recorder is writing {cassette}, or one was killed and "
        "left its frames there; move it away (or delete it) to record again"
    )
    assert staging.read_bytes() == left and cassette.read_bytes() == old_bytes
    assert len(load_cassette(staging).frames) >= 3
