"""The README's JS SDK snippet for the recording proxy ("Record a real session", step 2).

The snippet connects ``@openai/agents-realtime``'s ``OpenAIRealtimeWebSocket`` to the proxy
of step 1 and sends a message; it needs a real key only because that proxy relays to the
real API. Here the proxy (``RecordingProxy``, what ``python -m harness record`` runs) relays
to ``FakeRealtimeServer.simulate()``: the snippet runs as pasted under node, the proxy's
free port in place of 8765 and a fake key in ``OPENAI_API_KEY``, followed by two lines of
the test's own (the app would go on; this one hangs up once the answer is in, and exits on
an error), and the test reads what the proxy recorded. Skipped, with the reason, where
node or npm is absent.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _readme_blocks import checked_block

from harness import FakeRealtimeServer, RecordingProxy
from harness.cassette import Side, load_cassette

from ._node import run_bounded

pytestmark = pytest.mark.node

WAIT = 30.0  # seconds: the bound on node's run
FAKE_KEY = "sk-proj-JSproxySNIPPET0123456789abcdefghijklmnop"  # the redaction rules catch it
README_URL = "ws://127.0.0.1:8765/v1/realtime?model=gpt-realtime"  # the proxy of step 1
TRAILER = """
// the test's own lines: hang up once the answer is in; exit on an error
transport.on('turn_done', () => transport.close());
transport.on('error', (event) => {
  console.error(JSON.stringify(event.error ?? event));
  process.exit(1);
});
"""


async def _run_node(script: Path) -> tuple[int, str, str]:
    return await run_bounded(
        ["node", script.name], script.parent, WAIT, env={"OPENAI_API_KEY": FAKE_KEY}
    )


async def test_the_js_sdk_snippet_talks_through_the_recording_proxy(
    request: pytest.FixtureRequest, tmp_path: Path, node_modules: Path
) -> None:
    block = checked_block(request)
    assert block.lang == "js" and block.text.count(README_URL) == 1, block.text
    (tmp_path / "node_modules").symlink_to(node_modules, target_is_directory=True)
    cassette = tmp_path / "greeting.jsonl"
    async with FakeRealtimeServer.simulate() as upstream:
        async with RecordingProxy(upstream.url, cassette) as proxy:
            port = urlsplit(proxy.url).port
            assert proxy.url == README_URL.replace(":8765/", f":{port}/")
            script = tmp_path / "agent.mjs"
            script.write_text(block.text.replace(":8765/", f":{port}/") + TRAILER, encoding="utf-8")
            status, out, err = await _run_node(script)
    assert (status, out) == (0, ""), err
    recorded = load_cassette(cassette)
    sent = [f.event for f in recorded.frames if f.side is Side.CLIENT and f.event]
    messages = [e["item"]["content"] for e in sent if e["type"] == "conversation.item.create"]
    assert messages == [[{"type": "input_text", "text": "Hello!"}]]
    assert "response.create" in [e["type"] for e in sent]
    answered = [f.event_type for f in recorded.frames if f.side is Side.SERVER]
    assert "response.done" in answered
    assert FAKE_KEY not in cassette.read_text(encoding="utf-8")
