"""The relay, per read: fragments, pings, bursts, failures, line layout."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from recorder_support import (
    API_KEY,
    TIMEOUT,
    recorded_frames,
    shape,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from harness import _json
from harness.cassette import (
    Side,
    open_cassette,
    split_canonical,
)
from harness.recorder import RecordingProxy

# -- the relay, per read: fragments, pings, bursts, failures, line layout ---------------------
#
# These pin what harness.recorder's _Pipe promises (its theory of operation), each over real
# sockets against an upstream written for the test, asserting what the peer receives and
# what the cassette holds.


@asynccontextmanager
async def _scripted_upstream(
    handler: Callable[[ServerConnection], Awaitable[None]],
) -> AsyncIterator[str]:
    """A websockets server on 127.0.0.1 running ``handler``; yields its URL."""
    async with serve(
        handler, "127.0.0.1", 0, max_size=None, compression=None, ping_interval=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


async def _fragmented(ws: Connection, parts: list[bytes]) -> AsyncIterator[bytes]:
    """Yield ``parts`` as fragments; before each one but the first, a ping and its pong.

    The proxy answers the ping itself, after it parsed the fragment before it: so every
    fragment reaches the proxy in a read of its own, and a message is reassembled across
    reads (the ping also arrives between two fragments of one message, as RFC 6455 5.4
    allows control frames to).
    """
    for index, part in enumerate(parts):
        if index:
            async with asyncio.timeout(TIMEOUT):
                await (await ws.ping())
        yield part


async def _received_frames(ws: Connection) -> list[str | bytes]:
    """The next message as the frames it arrived in (one item: it arrived whole)."""
    async with asyncio.timeout(TIMEOUT):
        return [frame async for frame in ws.recv_streaming()]


# A text message whose "é" is cut between two fragments: valid UTF-8 only once reassembled.
_FRAG_TEXT = json.dumps({"type": "frag.text", "text": "héllo wörld"}, ensure_ascii=False)
_FRAG_TEXT_BYTES = _FRAG_TEXT.encode()
_CUT = _FRAG_TEXT_BYTES.index("é".encode()) + 1
_FRAG_TEXT_PARTS = [_FRAG_TEXT_BYTES[:_CUT], _FRAG_TEXT_BYTES[_CUT:-3], _FRAG_TEXT_BYTES[-3:]]
_FRAG_BINARY_PARTS = [b"\x00\x01", b"\x02\x03\xff", b"\xfe"]


async def test_fragmented_messages_arrive_whole_in_order_and_pings_are_answered_unrecorded(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "c.jsonl"
    upstream_got: list[list[str | bytes]] = []
    upstream_pong: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        for _ in range(3):
            upstream_got.append(await _received_frames(ws))
        async with asyncio.timeout(TIMEOUT):
            upstream_pong.append(await (await ws.ping(b"from upstream")))
            await ws.send(_fragmented(ws, _FRAG_TEXT_PARTS), text=True)
            await ws.send(_fragmented(ws, _FRAG_BINARY_PARTS))
            await ws.send(json.dumps({"type": "plain", "n": 2}))
            await ws.wait_closed()

    async with (
        asyncio.timeout(TIMEOUT),
        _scripted_upstream(handler) as upstream_url,
        RecordingProxy(upstream_url, cassette) as proxy,
    ):
        async with connect(proxy.url, ping_interval=None) as ws:
            latency = await (await ws.ping(b"from client"))
            await ws.send(_fragmented(ws, _FRAG_TEXT_PARTS), text=True)
            await ws.send(_fragmented(ws, _FRAG_BINARY_PARTS))
            await ws.send(json.dumps({"type": "plain", "n": 1}))
            client_got = [await _received_frames(ws) for _ in range(3)]
    assert latency >= 0 and upstream_pong and upstream_pong[0] >= 0
    # Each message arrives whole (one frame, reassembled by the proxy), in order, each side.
    whole = [[_FRAG_TEXT], [b"".join(_FRAG_BINARY_PARTS)]]
    assert upstream_got == [*whole, [json.dumps({"type": "plain", "n": 1})]]
    assert client_got == [*whole, [json.dumps({"type": "plain", "n": 2})]]
    # One frame per message, no pings or pongs, in wire order.
    assert [shape(f) for f in recorded_frames(cassette)] == [
        ("client", 0, "frag.text"),
        ("client", 0, b"\x00\x01\x02\x03\xff\xfe"),
        ("client", 0, "plain"),
        ("server", 0, "frag.text"),
        ("server", 0, b"\x00\x01\x02\x03\xff\xfe"),
        ("server", 0, "plain"),
        ("client", 0, ("close", 1000, "")),
    ]
    assert [f.event for f in recorded_frames(cassette) if f.event_type == "frag.text"] == [
        {"type": "frag.text", "text": "héllo wörld"}
    ] * 2
    _assert_writer_layout(cassette)


_BURST = 2_000
_BURST_AUDIO = "A" * 16_000  # 16 kB a frame, 32 MB a burst: far more than socket buffers hold
# What the proxy may hold for a slow reader: websockets' write limit (32 KiB, the high-water
# mark at which the sink pauses the source) plus what one read brought (asyncio reads at
# most 256 KiB) plus the frame that read completed; 1 MiB leaves room. Without flow control
# it holds what the reader's socket cannot: megabytes.
_BUFFER_BOUND = 2**20


def _burst_event(n: int) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "n": n, "audio": _BURST_AUDIO})


@pytest.mark.parametrize("sender", [Side.CLIENT, Side.SERVER])
async def test_a_burst_to_a_paused_reader_arrives_whole_and_the_proxy_buffers_little(
    sender: Side, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    proxy: RecordingProxy | None = None
    sent_all = asyncio.Event()
    released_by: list[str] = []

    def pipe() -> Any:
        """The proxy's pipe carrying the sender's frames (a private detail, read only)."""
        assert proxy is not None
        for session in proxy._sessions.values():
            for candidate in session.pipes:
                if candidate.side is sender:
                    return candidate
        return None

    def full() -> bool:
        """The proxy stopped reading from the sender, or the sender is done."""
        relaying = pipe()
        stopped = relaying is not None and not relaying.source.transport.is_reading()
        return stopped or sent_all.is_set()

    async def send_burst(ws: Connection) -> None:
        async with asyncio.timeout(TIMEOUT * 4):
            for n in range(_BURST):
                await ws.send(_burst_event(n))
        sent_all.set()

    async def read_burst(ws: Connection) -> list[dict[str, Any]]:
        # The reader reads nothing until the proxy stops reading from the sender (flow
        # control) or the sender finished (none). That moment has no event of its own, so
        # this yields to the loop until it comes: no timed sleep, every callback of the
        # sender and the proxy runs between two checks.
        async with asyncio.timeout(TIMEOUT):
            while not full():
                await asyncio.sleep(0)
        released_by.append("sender finished" if sent_all.is_set() else "proxy stopped reading")
        async with asyncio.timeout(TIMEOUT * 4):
            return [json.loads(await ws.recv()) for _ in range(_BURST)]

    upstream_read: list[list[dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        if sender is Side.SERVER:
            await send_burst(ws)
        else:
            upstream_read.append(await read_burst(ws))
            await ws.send(json.dumps({"type": "burst.read"}))
        async with asyncio.timeout(TIMEOUT):
            await ws.wait_closed()

    async with _scripted_upstream(handler) as upstream_url:
        async with RecordingProxy(upstream_url, cassette) as proxy:
            async with asyncio.timeout(TIMEOUT):
                ws = await connect(proxy.url, max_size=None, ping_interval=None)
            try:
                if sender is Side.CLIENT:
                    await send_burst(ws)
                    async with asyncio.timeout(TIMEOUT * 4):
                        assert json.loads(await ws.recv()) == {"type": "burst.read"}
                    (got,) = upstream_read
                else:
                    got = await read_burst(ws)
                relaying = pipe()
                assert relaying is not None, "the relayed session ended early"
                peak = relaying.peak_buffered
            finally:
                async with asyncio.timeout(TIMEOUT):
                    await ws.close()
    expected = [json.loads(_burst_event(n)) for n in range(_BURST)]
    assert [e["n"] for e in got] == list(range(_BURST)), "incomplete or out of order"
    assert got == expected
    assert 0 < peak <= _BUFFER_BOUND, (
        f"the proxy held up to {peak:,} bytes for the paused reader (bound {_BUFFER_BOUND:,})"
    )
    assert released_by == ["proxy stopped reading"], (
        "the sender finished its burst while the reader read nothing: the proxy never "
        "stopped reading from it"
    )
    recorded = [
        f.event for f in recorded_frames(cassette) if f.side is sender and f.event is not None
    ]
    assert recorded == expected


_NOT_UTF8 = b'{"type": "bad", "text": "caf\xe9"}'  # Latin-1 bytes in a text frame


def _utf8_failure(data: bytes) -> str:
    """The close reason websockets (and the proxy) give for a text frame of these bytes."""
    try:
        data.decode()
    except UnicodeDecodeError as exc:
        return f"{exc.reason} at position {exc.start}"
    raise AssertionError(f"{data!r} is valid UTF-8")


@pytest.mark.parametrize("sender", [Side.CLIENT, Side.SERVER])
async def test_a_text_frame_that_is_not_utf8_closes_both_sides_with_1007(
    sender: Side, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    reason = _utf8_failure(_NOT_UTF8)
    upstream_closes: list[tuple[int | None, str | None]] = []
    upstream_got: list[list[str | bytes]] = []
    upstream_ended = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        got: list[str | bytes] = []
        upstream_got.append(got)
        await ws.send(json.dumps({"type": "session.created"}))
        try:
            async for message in ws:
                got.append(message)
                if message == json.dumps({"type": "please.send_invalid"}):
                    # A valid event and the invalid one back to back, as the client does.
                    await ws.send(json.dumps({"type": "before.invalid"}))
                    await ws.send(_NOT_UTF8, text=True)
                elif message == json.dumps({"type": "hello"}):
                    await ws.send(json.dumps({"type": "hello.back"}))
        except ConnectionClosed:
            pass
        upstream_closes.append((ws.close_code, ws.close_reason))
        upstream_ended.set()

    async with (
        asyncio.timeout(TIMEOUT),
        _scripted_upstream(handler) as upstream_url,
        RecordingProxy(upstream_url, cassette) as proxy,
    ):
        async with connect(proxy.url) as ws:
            assert json.loads(await ws.recv()) == {"type": "session.created"}
            if sender is Side.CLIENT:
                await ws.send(json.dumps({"type": "before.invalid"}))
                await ws.send(_NOT_UTF8, text=True)
            else:
                await ws.send(json.dumps({"type": "please.send_invalid"}))
                assert json.loads(await ws.recv()) == {"type": "before.invalid"}
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        client_close = (ws.close_code, ws.close_reason)
        await upstream_ended.wait()
        # The proxy is still up: the next client is relayed and recorded as usual.
        async with connect(proxy.url) as ws:
            assert json.loads(await ws.recv()) == {"type": "session.created"}
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv()) == {"type": "hello.back"}
        assert proxy.errors == []
    # Both sides get the close the proxy sent the sender, code and reason.
    assert client_close == (1007, reason)
    assert upstream_closes[0] == (1007, reason)
    assert upstream_closes[1] == (1000, "")
    # The valid frame before the invalid one was relayed; the invalid one was not.
    first = upstream_got[0]
    if sender is Side.CLIENT:
        assert first == [json.dumps({"type": "before.invalid"})]
    else:
        assert first == [json.dumps({"type": "please.send_invalid"})]
    # Recorded: everything valid up to the failure, then no close at all (neither peer
    # sent one: the proxy did); the next connection as usual.
    assert [shape(f) for f in recorded_frames(cassette)] == [
        ("server", 0, "session.created"),
        *(
            [("client", 0, "before.invalid")]
            if sender is Side.CLIENT
            else [("client", 0, "please.send_invalid"), ("server", 0, "before.invalid")]
        ),
        ("server", 1, "session.created"),
        ("client", 1, "hello"),
        ("server", 1, "hello.back"),
        ("client", 1, ("close", 1000, "")),
    ]
    _assert_writer_layout(cassette)


def _assert_writer_layout(path: Path) -> None:
    """Every frame line is byte for byte what CassetteWriter writes, and loads."""
    lines = path.read_bytes().splitlines(keepends=True)
    frames = recorded_frames(path)  # load_cassette validates every line
    assert len(lines) == 1 + len(frames)
    for lineno, (line, frame) in enumerate(zip(lines[1:], frames, strict=True), start=2):
        split = split_canonical(line)
        assert split is not None, f"{path}:{lineno} is not in the writer's layout: {line!r}"
        assert (split.side, split.conn, split.key) == (frame.side, frame.conn, frame.kind)
        assert line == _json.dumps(frame.to_json()) + b"\n", f"{path}:{lineno}: {line!r}"
    with open_cassette(path) as reader:
        assert len(list(reader)) == len(frames)
        assert reader.writer_layout, "an event line left the reader's fast path"


async def test_a_client_lost_mid_burst_aborts_the_upstream_at_once_and_records_1006(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "c.jsonl"
    upstream_got: list[int] = []
    upstream_end: list[tuple[int | None, bool]] = []
    upstream_ended = asyncio.Event()
    client_gone = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        # A slow reader: it reads only once the client is gone, so the burst is still on
        # its way (in socket buffers and the proxy's) when the client drops.
        async with asyncio.timeout(TIMEOUT):
            await client_gone.wait()
        try:
            async for message in ws:
                upstream_got.append(json.loads(message)["n"])
        except ConnectionClosed:
            pass
        upstream_end.append((ws.close_code, ws.protocol.close_rcvd is None))
        upstream_ended.set()

    sent = _BURST
    blocked = asyncio.Event()

    class Client(ClientConnection):
        def pause_writing(self) -> None:
            super().pause_writing()
            blocked.set()

    async def send_all(ws: Connection, count: int) -> None:
        for n in range(count):
            await ws.send(_burst_event(n))

    async with (
        _scripted_upstream(handler) as upstream_url,
        RecordingProxy(upstream_url, cassette) as proxy,
    ):
        async with asyncio.timeout(TIMEOUT):
            ws = await connect(
                proxy.url, max_size=None, ping_interval=None, create_connection=Client
            )
            sending = asyncio.create_task(send_all(ws, sent))
            await blocked.wait()  # the client's send() blocks: the way is full
            ws.transport.abort()  # mid-burst, without a close frame
            with pytest.raises(ConnectionClosed):
                await sending
            client_gone.set()
        # Well within websockets' 10 s close timeout: the proxy aborted the upstream
        # connection once it read the client's end, it did not wait on a close handshake.
        async with asyncio.timeout(TIMEOUT):
            await upstream_ended.wait()
        assert proxy.errors == []
    assert upstream_end == [(1006, True)], "the upstream did not see its connection dropped"
    frames = recorded_frames(cassette)
    recorded = [f.event["n"] for f in frames if f.event is not None]
    # Whatever the upstream got was recorded first, in order; nothing after the loss.
    assert recorded == list(range(len(recorded))) and 0 < len(recorded) < sent
    assert upstream_got == recorded[: len(upstream_got)]
    assert [shape(f) for f in frames[len(recorded) :]] == [("client", 0, ("close", 1006, ""))]
    _assert_writer_layout(cassette)


async def test_every_recorded_line_is_in_the_writers_layout(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    key = API_KEY
    sent: list[str | bytes] = [
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "instructions": 'héllo "quoted" \\ back\nslash\ttab 😀 \u2028',
                    "temperature": 0.8,
                    "values": [1, 2.5, -3e-7, 1e21, None, True, {}, []],
                },
            }
        ),
        '{"type": "ascii.escapes", "text": "caf\\u00e9 \\ud83d\\ude00"}',
        json.dumps({"type": "note", "text": f"my key is {key}"}),
        "not JSON at all",
        "[1, 2]",
        "",
        b"\x00\xffbinary\x80",
        b"",
        json.dumps({"type": "input_audio_buffer.append", "audio": "QUJD" * 4000}),
    ]

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "session.created", "event_id": "ev_0"}))
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(message)  # text as text, binary as binary

    def refuse(ws: ServerConnection, request: Request) -> Response | None:
        return ws.respond(401, "no\n") if request.path.startswith("/v1/refuse") else None

    async with (
        asyncio.timeout(TIMEOUT),
        serve(handler, "127.0.0.1", 0, process_request=refuse) as upstream,
    ):
        port = next(iter(upstream.sockets)).getsockname()[1]
        async with RecordingProxy(f"ws://127.0.0.1:{port}/v1/realtime", cassette) as proxy:
            async with connect(proxy.url, max_size=None) as ws:
                await ws.recv()
                for message in sent:
                    await ws.send(message)
                    assert await ws.recv() == message
                await ws.close(4321, "bye é")
            with pytest.raises(InvalidStatus):
                async with connect(f"ws://127.0.0.1:{proxy.port}/v1/refuse"):
                    pass
    frames = recorded_frames(cassette)
    assert [f.kind.value for f in frames] == [
        "event",
        *["event"] * 12,
        *["binary"] * 4,
        *["event"] * 2,
        "close",
        "close",
    ]
    assert [(f.conn, f.close_code) for f in frames[-2:]] == [(0, 4321), (1, 4401)]
    assert key not in cassette.read_text()
    _assert_writer_layout(cassette)
