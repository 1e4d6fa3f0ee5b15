"""Load: many clients at once, and many connections over time, leave nothing behind.

200 clients replay a bundled cassette at the same time, each receiving every recorded
server frame, in order, byte for byte; 1,000 connections of every kind (whole sessions,
clients that leave at once, clients that send the upgrade request and reset before the
101, sockets that connect and drop) leave no file descriptor, no task and no entry in the
server's per-connection maps behind.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import struct
from pathlib import Path

from websockets.asyncio.client import connect

from harness import FakeRealtimeServer
from harness.cassette import Side, load_cassette

CASSETTE = Path(__file__).resolve().parent.parent / "cassettes" / "function_call.jsonl"
AUTH = {"Authorization": "Bearer test"}
UPGRADE = (
    b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer test\r\n\r\n"
)


async def play_session(server: FakeRealtimeServer) -> list[object]:
    """Play recorded conn 0 as a raw client; return the server events received, in order."""
    frames = load_cassette(CASSETTE).frames
    received: list[object] = []
    async with connect(server.url, additional_headers=AUTH) as ws:
        for frame in frames:
            if frame.side is Side.CLIENT:
                if frame.event is not None:
                    await ws.send(json.dumps(frame.event))
                continue
            if frame.event is not None:
                received.append(json.loads(await ws.recv()))
    return received


def server_events() -> list[object]:
    return [f.event for f in load_cassette(CASSETTE).frames if f.side is Side.SERVER and f.event]


async def test_two_hundred_concurrent_replays_get_every_frame_in_order() -> None:
    expected = server_events()
    async with FakeRealtimeServer(CASSETTE) as server:
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(play_session(server) for _ in range(200)))
    assert len(results) == 200
    for received in results:
        assert received == expected
    server.verdict()
    assert len(server.results) == 200 and all(r.ok for r in server.results)


async def _reset_after_upgrade_request(port: int) -> None:
    """Send the upgrade request, then reset the TCP connection (RST) before the 101."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _connect_and_drop(port: int) -> None:
    """Open a TCP connection and close it without a byte."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


async def _leave_at_once(server: FakeRealtimeServer) -> None:
    async with connect(server.url, additional_headers=AUTH) as ws:
        await ws.recv()  # session.created, then close


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _settled(server: FakeRealtimeServer, tasks_before: int) -> None:
    """Wait (bounded) until every connection's handler has finished on the server."""
    async with asyncio.timeout(20):
        while len(asyncio.all_tasks()) > tasks_before or server._live:
            await asyncio.sleep(0.01)


async def test_a_thousand_connections_half_open_included_leak_nothing() -> None:
    async with FakeRealtimeServer(CASSETTE) as server:
        await play_session(server)  # warm up: first-use allocations are not leaks
        gc.collect()
        await _settled(server, len(asyncio.all_tasks()))
        fds_before, tasks_before = _open_fds(), len(asyncio.all_tasks())
        kinds = [
            *(lambda: play_session(server) for _ in range(300)),
            *(lambda: _leave_at_once(server) for _ in range(200)),
            *(lambda: _reset_after_upgrade_request(server.port) for _ in range(300)),
            *(lambda: _connect_and_drop(server.port) for _ in range(200)),
        ]
        random.Random(13).shuffle(kinds)  # all kinds mixed, the same order every run
        async with asyncio.timeout(120):
            for start in range(0, len(kinds), 50):  # 50 at a time
                await asyncio.gather(*(make() for make in kinds[start : start + 50]))
        await _settled(server, tasks_before)
        gc.collect()
        assert len(server._serials) == 0  # handshakes that never reached a handler
        assert server._live == {}
        assert len(asyncio.all_tasks()) == tasks_before
        assert _open_fds() == fds_before
        # Every whole session and every early leaver was replayed and reported.
        assert len(server.results) >= 1 + 300 + 200
        assert all(r.mismatches == () for r in server.results)
