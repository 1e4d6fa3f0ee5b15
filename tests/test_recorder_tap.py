"""Our transport through the proxy and with the tap, against the simulated API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from recorder_support import (
    API_KEY,
    TIMEOUT,
    Upstream,
    as_recorded,
    converse,
    serve_upstream,
)

from harness.cassette import Side, load_cassette
from harness.errors import RecordingError, TransportError
from harness.recorder import RecordingProxy
from harness.refusal import Refusal, parse_refusal
from harness.server import FakeRealtimeServer
from harness.tap import TransportTap
from harness.transport import OpenAIRealtimeWebSocket


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with serve_upstream() as up:
        yield up


async def test_transport_through_the_proxy_replays_the_same_frames(tmp_path: Path) -> None:
    cassette = tmp_path / "transport.jsonl"
    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer.simulate() as upstream:
            async with RecordingProxy(upstream.url, cassette) as proxy:
                live = await converse(proxy.url)
        async with FakeRealtimeServer(cassette) as replay:
            replayed = await converse(replay.url)
    replay.verdict()
    assert {"response.created", "response.done"} <= {e["type"] for e in live}
    # The client sees the same frames, secrets aside: those are placeholders on replay.
    assert replayed == as_recorded(live)
    assert API_KEY not in cassette.read_text()
    header = load_cassette(cassette).header
    assert header.client.startswith("realtime-harness/")
    assert header.extra["handshake"]["headers"]["Authorization"] == (
        "Bearer <redacted:authorization_header>"
    )


async def test_transport_tap_records_without_a_proxy(tmp_path: Path) -> None:
    cassette = tmp_path / "tap.jsonl"
    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer.simulate() as upstream:
            with TransportTap(cassette) as tap:
                live = await converse(upstream.url, create_websocket=tap)
                live_again = await converse(upstream.url, create_websocket=tap)
            assert tap.connections == 2
        async with FakeRealtimeServer(cassette) as replay:
            replayed = await converse(replay.url)
            replayed_again = await converse(replay.url)
    replay.verdict()
    assert replayed == as_recorded(live)
    assert replayed_again == as_recorded(live_again)
    loaded = load_cassette(cassette)
    assert loaded.conns() == (0, 1)
    assert loaded.header.extra["recorder"] == "harness.TransportTap"
    assert [f.close_code for f in loaded.frames if f.kind.value == "close"] == [1000, 1000]
    assert API_KEY not in cassette.read_text()


async def test_transport_tap_records_a_refused_handshake(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.refuse = 401
    cassette = tmp_path / "tap.jsonl"
    with pytest.raises(RecordingError) as failed, TransportTap(cassette) as tap:
        transport = OpenAIRealtimeWebSocket(api_key=API_KEY, create_websocket=tap)
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(url=upstream.url + f"?api_key={API_KEY}")
    assert str(info.value) == (
        f"WebSocket connection to {upstream.url}?api_key=<redacted:api_key_query> failed: HTTP 401"
    )
    # Recorded faithfully, but not sound (no handshake completed): kept aside, not written.
    side = tmp_path / "tap.failed.jsonl"
    assert str(failed.value) == (
        f"{cassette}: recording failed: no connection completed its handshake with the "
        "upstream; conn 0: the upstream refused the handshake: HTTP 401 Unauthorized: "
        f"Incorrect API key; the cassette was not written; the attempt is in {side}"
    )
    assert tap.failure is failed.value
    assert not cassette.exists()
    (frame,) = load_cassette(side).frames
    assert parse_refusal(frame) == Refusal(
        401, "Unauthorized", '{"error": {"message": "Incorrect API key"}}\n'
    )
    assert API_KEY not in side.read_text()


async def test_transport_tap_records_the_server_closing(upstream: Upstream, tmp_path: Path) -> None:
    cassette = tmp_path / "tap.jsonl"
    closed = asyncio.Event()
    with TransportTap(cassette) as tap:
        transport = OpenAIRealtimeWebSocket(api_key=API_KEY, create_websocket=tap)
        transport.on("disconnected", lambda *_: closed.set())
        async with asyncio.timeout(TIMEOUT):
            await transport.connect(url=upstream.url)
            transport.send_event({"type": "please.close", "reason": "going away"})
            await closed.wait()
            await transport.aclose()
    last = load_cassette(cassette).frames[-1]
    assert (last.side, last.close_code, last.close_reason) == (Side.SERVER, 1011, "going away")
