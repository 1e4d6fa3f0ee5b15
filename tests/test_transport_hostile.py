"""Our transport against hostile servers on 127.0.0.1 (issue 13, "Hostile servers").

A real ``websockets`` server misbehaves on purpose: it closes at any frame with 1000, 1001
or 1011, drops the TCP connection (1006), stops reading, sends invalid JSON, invalid
UTF-8, binary garbage, unknown event types, known types with fields of the wrong type and
20 MB frames. Whatever it does, ``connect()``, ``flush()`` and ``aclose()`` return within
their bounds, no exception escapes, no task is left behind, and ``disconnected`` is
emitted once per connection that was ``connected``.

The generated test runs ``max(20, max_examples // 10)`` examples (20 under the default
profile, 500 under ``--hypothesis-profile=fuzz``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from harness.errors import TransportError
from harness.transport import (
    CreateWebSocketOptions,
    OpenAIRealtimeWebSocket,
    connect_arguments,
)

KEY = "sk-test-secret-0123456789"
CLOSE_TIMEOUT = 0.3  # the client's and the server's: how long a closing handshake may take
BOUND = 5.0  # every wait on the transport, in seconds

SESSION_CREATED = {
    "type": "session.created",
    "event_id": "evt_1",
    "session": {"type": "realtime", "id": "sess_1", "model": "gpt-realtime"},
}
BIG_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "evt_big",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": base64.b64encode(bytes(15 * 2**20)).decode(),  # a 20 MB frame
}
BIG_FRAME = orjson.dumps(BIG_DELTA)


async def open_connection(options: CreateWebSocketOptions) -> ClientConnection:
    """The transport's default connection, with a short close timeout and no keepalive."""
    return await ws_connect(
        options.url,
        **connect_arguments(options.headers),
        close_timeout=CLOSE_TIMEOUT,
        ping_interval=None,
    )


async def open_uncompressed(options: CreateWebSocketOptions) -> ClientConnection:
    """As above, without permessage-deflate (deflating 20 MB takes a second of CPU)."""
    return await ws_connect(
        options.url,
        **connect_arguments(options.headers),
        close_timeout=CLOSE_TIMEOUT,
        ping_interval=None,
        compression=None,
    )


Handler = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def hostile_server(handler: Handler, *, rcvbuf: int | None = None) -> AsyncIterator[str]:
    """A server on 127.0.0.1; ``rcvbuf`` caps its sockets' kernel receive buffer (so a
    peer that stops reading stops taking data after that many bytes, not after the
    tens of MB loopback autotuning allows)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    async with serve(
        handler, sock=sock, max_size=None, ping_interval=None, close_timeout=CLOSE_TIMEOUT
    ) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"


async def stall(ws: ServerConnection) -> None:
    """Stop reading (the client's writes pile up) and never close."""
    ws.transport.pause_reading()
    await ws.wait_closed()


class Watch:
    """Counts what a transport emits; the listeners read every audio event's bytes."""

    def __init__(self, transport: OpenAIRealtimeWebSocket) -> None:
        self.counts: dict[str, int] = {}
        self.disconnected = asyncio.Event()
        self.audio_bytes = 0
        for name in ("connected", "disconnected", "error", "*", "item_update", "audio"):
            transport.on(name, self._counter(name))
        transport.on("audio", lambda event: self._audio(event.data))
        transport.on("disconnected", self.disconnected.set)

    def _counter(self, name: str) -> Callable[..., None]:
        def count(*_: Any) -> None:
            self.counts[name] = self.counts.get(name, 0) + 1

        return count

    def _audio(self, data: bytes) -> None:
        self.audio_bytes += len(data)


# --------------------------------------------------------------------------- the examples


async def test_connect_returns_when_the_server_drops_tcp_after_session_created() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(orjson.dumps(SESSION_CREATED).decode())
        ws.transport.abort()

    async with hostile_server(handler) as url:
        for _ in range(10):
            transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=open_connection)
            watch = Watch(transport)
            async with asyncio.timeout(BOUND):
                with contextlib.suppress(TransportError):
                    await transport.connect(url=url)
                await transport.flush()
                await transport.aclose()
            assert transport.status == "disconnected"
            assert watch.counts.get("disconnected", 0) == watch.counts.get("connected", 0)


async def test_aclose_is_bounded_with_20_mb_queued_to_a_peer_that_stopped_reading() -> None:
    connected = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the connect's session.update
        connected.set()
        await stall(ws)

    async with hostile_server(handler, rcvbuf=65536) as url:
        transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=open_uncompressed)
        watch = Watch(transport)
        async with asyncio.timeout(BOUND):
            await transport.connect(url=url)
            await connected.wait()
        # A 20 MB frame no one reads (random: zeros would deflate to a few kB).
        transport.send_audio(random.Random(0).randbytes(15 * 2**20))
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(BOUND):
            await transport.aclose()
        # One close timeout for the queue, one for the closing handshake at most.
        assert loop.time() - started < 2 * CLOSE_TIMEOUT + 1
        assert transport.status == "disconnected"
        assert watch.counts["disconnected"] == 1


async def test_a_text_frame_that_is_not_utf8_closes_with_1007() -> None:
    codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b'{"type":"session.created","session":{"id":"\xff"}}', text=True)
        await ws.wait_closed()
        codes.append(ws.close_code)

    async with hostile_server(handler) as url:
        transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=open_connection)
        watch = Watch(transport)
        async with asyncio.timeout(BOUND):
            await transport.connect(url=url)
            await watch.disconnected.wait()
            await transport.aclose()
    assert codes == [1007]
    assert "*" not in watch.counts  # the frame is not dispatched


async def test_a_binary_frame_with_invalid_utf8_is_read_as_node_reads_it() -> None:
    # node's ws hands a binary frame over as a Buffer; the reference parses its
    # toString(), where invalid UTF-8 becomes U+FFFD.
    seen: list[Any] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b'{"type":"x.unknown","note":"\xff"}')
        await ws.wait_closed()

    async with hostile_server(handler) as url:
        transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=open_connection)
        transport.on("*", seen.append)
        async with asyncio.timeout(BOUND):
            await transport.connect(url=url)
            while not seen:
                await asyncio.sleep(0)
            await transport.aclose()
    assert seen == [{"type": "x.unknown", "note": "\ufffd"}]


# --------------------------------------------------------------------------- generated

KNOWN_TYPES = [
    "session.created",
    "session.updated",
    "error",
    "response.created",
    "response.done",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "response.output_item.added",
    "response.output_item.done",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.retrieved",
    "conversation.item.deleted",
    "conversation.item.truncated",
    "conversation.item.input_audio_transcription.completed",
    "input_audio_buffer.speech_started",
    "response.mcp_call.in_progress",
    "mcp_list_tools.in_progress",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
FIELDS = ["item", "delta", "response", "item_id", "response_id", "content_index", "session"]
FIELDS += ["error", "event_id", "previous_item_id", "output_index"]
wrong_fields = st.builds(
    lambda type_, fields: {"type": type_, **fields},
    st.sampled_from(KNOWN_TYPES) | st.text(max_size=12),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
)


@dataclass(frozen=True)
class Send:
    data: bytes
    text: bool  # a text frame (its bytes unchecked: they may be invalid UTF-8) or binary

    def __repr__(self) -> str:
        shown = self.data if len(self.data) < 100 else self.data[:40] + b"..."
        return f"Send({shown!r}, text={self.text})"


frames = st.one_of(
    wrong_fields.map(lambda event: Send(orjson.dumps(event), True)),
    st.binary(max_size=16).map(lambda data: Send(data, True)),  # invalid JSON or UTF-8
    st.binary(max_size=16).map(lambda data: Send(data, False)),
    st.just(Send(BIG_FRAME, True)),
    st.just(Send(orjson.dumps(SESSION_CREATED), True)),
)
endings = st.sampled_from(["close 1000", "close 1001", "close 1011", "abort 1006", "stall"])


@settings(
    max_examples=max(20, settings.default.max_examples // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    session_created=st.booleans(),
    script=st.lists(frames, max_size=6),
    ending=endings,
    client_sends=st.integers(min_value=0, max_value=3),
)
def test_the_transport_survives_a_hostile_server(
    session_created: bool, script: list[Send], ending: str, client_sends: int
) -> None:
    asyncio.run(_hostile_session(session_created, script, ending, client_sends))


async def _hostile_session(
    session_created: bool, script: list[Send], ending: str, client_sends: int
) -> None:
    before = asyncio.all_tasks()
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        try:
            if session_created:
                await ws.send(orjson.dumps(SESSION_CREATED), text=True)
            for send in script:
                await ws.send(send.data, text=send.text)
            if ending == "stall":
                done.set()
                await stall(ws)
            elif ending == "abort 1006":
                ws.transport.abort()
            else:
                await ws.close(int(ending.split()[1]))
        except ConnectionClosed:
            pass
        finally:
            done.set()

    async with hostile_server(handler) as url:
        transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=open_connection)
        watch = Watch(transport)
        async with asyncio.timeout(BOUND):
            try:
                await transport.connect(url=url)
            except TransportError:
                assert transport.status == "disconnected"
            for _ in range(client_sends):
                if transport.status == "connected":
                    transport.send_message("hello", trigger_response=False)
                    transport.send_audio(b"\x00\x01" * 100)
            await transport.flush()
            await done.wait()
            if ending != "stall" and watch.counts.get("connected"):
                # The server went away: the transport notices by itself, before aclose().
                await watch.disconnected.wait()
        async with asyncio.timeout(BOUND):
            await transport.aclose()
        assert transport.status == "disconnected"
        assert watch.counts.get("disconnected", 0) == watch.counts.get("connected", 0) <= 1
    leaked = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert not leaked, leaked


@pytest.mark.parametrize("ending", ["close 1000", "close 1001", "close 1011", "abort 1006"])
async def test_a_server_that_goes_away_is_noticed_without_aclose(ending: str) -> None:
    await _hostile_session(True, [Send(BIG_FRAME, True)], ending, 1)
