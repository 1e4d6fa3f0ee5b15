"""`python -m harness record`: the recording proxy as a command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from recorder_support import (
    API_KEY,
)
from websockets.asyncio.client import connect

from harness.cassette import (
    load_cassette,
)
from harness.server import FakeRealtimeServer

# -- the record command ------------------------------------------------------------------------


async def _record_command(*args: str) -> asyncio.subprocess.Process:
    """``python -m harness record ARGS`` in a child process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness",
        "record",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_record_command_records_until_interrupted(tmp_path: Path) -> None:
    cassette = tmp_path / "cli.jsonl"
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        for round_ in range(2):  # the second run appends
            extra = ["--append"] if round_ else []
            proc = await _record_command(
                str(cassette),
                "--upstream",
                upstream.url,
                "--port",
                "0",
                "--redact-path",
                "customer=session.metadata.customer",
                *extra,
            )
            assert proc.stdout is not None
            lines = [(await proc.stdout.readline()).decode() for _ in range(4)]
            assert lines[0] == f"recording to {cassette}\n"
            url = lines[1].removeprefix("connect clients to ").strip()
            assert url.startswith("ws://127.0.0.1:") and url.endswith(
                "/v1/realtime?model=gpt-realtime"
            )
            assert lines[2].startswith("  (openai client: websocket_base_url=ws://127.0.0.1:")
            async with connect(
                url, additional_headers={"Authorization": f"Bearer {API_KEY}"}
            ) as ws:
                await ws.recv()
                await ws.send(
                    json.dumps(
                        {"type": "session.update", "session": {"metadata": {"customer": "c-42"}}}
                    )
                )
                await ws.recv()
            proc.send_signal(signal.SIGINT)
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            assert out.decode() == f"recorded 1 connection(s) to {cassette}\n"
    loaded = load_cassette(cassette)
    assert loaded.conns() == (0, 1)
    assert loaded.header.redactions[-1] == "customer"
    text = cassette.read_text()
    assert "c-42" not in text and API_KEY not in text


async def test_record_command_refuses_a_bad_rule_with_a_message(tmp_path: Path) -> None:
    proc = await _record_command(str(tmp_path / "c.jsonl"), "--redact-pattern", "broken")
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert (out, err.decode()) == (b"", "error: redaction rule 'broken': write NAME=VALUE\n")
    assert not (tmp_path / "c.jsonl").exists()
