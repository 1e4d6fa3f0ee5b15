"""Other clients through the proxy: the JS SDK under node and the `openai` client."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from recorder_support import (
    API_KEY,
    TIMEOUT,
    as_recorded,
)

from harness.cassette import (
    Side,
    load_cassette,
)
from harness.recorder import RecordingProxy
from harness.server import FakeRealtimeServer

# -- the JS SDK under node, through the proxy ---------------------------------------------------

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "conformance" / ".node"  # shared with the conformance suite (git-ignored)
JS_SESSION = HERE / "recorder_js" / "session.mjs"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    """The JS SDK installed in tests/conformance/.node (installed here if absent)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"{'node' if node is None else 'npm'} is not installed: no JS SDK test")
    if not (NODE_DIR / "node_modules" / "@openai" / "agents-realtime" / "package.json").exists():
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(NODE_DIR),
                "@openai/agents-realtime@0.20.0",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return NODE_DIR


async def _js_converse(node_dir: Path, url: str) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(JS_SESSION),
        str(node_dir),
        url,
        API_KEY,
        f"my key is {API_KEY}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(20):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    seen: list[dict[str, Any]] = json.loads(out)
    return seen


@pytest.mark.node
async def test_js_sdk_through_the_proxy_replays_the_same_frames(
    js_sdk: Path, tmp_path: Path
) -> None:
    cassette = tmp_path / "js.jsonl"
    async with FakeRealtimeServer.simulate() as upstream:
        async with RecordingProxy(upstream.url, cassette) as proxy:
            live = await _js_converse(js_sdk, proxy.url)
    async with FakeRealtimeServer(cassette) as replay:
        replayed = await _js_converse(js_sdk, replay.url)
    replay.verdict()
    assert {"response.created", "response.done"} <= {e["type"] for e in live}
    assert replayed == as_recorded(live)
    assert API_KEY not in cassette.read_text()
    last = load_cassette(cassette).frames[-1]
    # The JS SDK closes without a status code; the cassette keeps it that way.
    assert (last.side, last.close_code) == (Side.CLIENT, None)


async def test_openai_client_through_the_proxy_replays_the_same_frames(tmp_path: Path) -> None:
    openai = pytest.importorskip("openai", reason="the `openai` client is in the test extra")
    cassette = tmp_path / "openai.jsonl"

    async def converse(base_url: str) -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(api_key=API_KEY, websocket_base_url=base_url)
        seen: list[dict[str, Any]] = []
        async with client.realtime.connect(model="gpt-realtime") as connection:
            seen.append((await connection.recv()).model_dump(mode="json"))
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"my key is {API_KEY}"}],
                }
            )
            while seen[-1]["type"] != "conversation.item.done":
                seen.append((await connection.recv()).model_dump(mode="json"))
        await client.close()
        return seen

    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer.simulate() as upstream:
            async with RecordingProxy(upstream.url, cassette) as proxy:
                live = await converse(proxy.base_url)
        async with FakeRealtimeServer(cassette) as replay:
            replayed = await converse(replay.base_url)
    replay.verdict()
    assert replayed == as_recorded(live)
    assert load_cassette(cassette).header.path == "/v1/realtime"
    assert API_KEY not in cassette.read_text()
