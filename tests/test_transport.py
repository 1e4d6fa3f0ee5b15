"""OpenAIRealtimeWebSocket over real sockets on 127.0.0.1: connecting, closing, tasks.

What does not need a socket is tested on the sans-I/O core in
tests/test_transport_protocol.py; hostile servers in tests/test_transport_hostile.py; the
comparison with the reference in tests/conformance."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from _transport_wire import CONNECT_SESSION_UPDATE, TRACING_AUTO
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from harness.errors import (
    TransportError,
    TransportNotConnected,
    UsageError,
)
from harness.items import (
    InputText,
    MessageItem,
    OutputText,
    Role,
    item_to_wire,
)
from harness.server import FakeRealtimeServer
from harness.transport import (
    CreateWebSocketOptions,
    OpenAIRealtimeWebSocket,
    TurnDoneEvent,
    Usage,
)
from harness.transport.sequencer import ResponseCreateSequencer

KEY = "sk-test-secret-0123456789"
CASSETTES = sorted((Path(__file__).resolve().parent.parent / "cassettes").glob("*.jsonl"))
TIMEOUT = 5


class ScriptedServer:
    """A WebSocket server on 127.0.0.1 that records client frames and sends what it is told."""

    def __init__(self, *, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.frames: list[Any] = []
        self.requests: list[Request] = []
        self.connection: ServerConnection | None = None
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.url = ""
        self._server: Any = None

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.refuse is not None:
            return connection.respond(HTTPStatus(self.refuse), "no\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.changed.set()
        try:
            async for message in connection:
                self.frames.append(json.loads(message))
                self.changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.changed.set()

    async def wait_frames(self, count: int) -> list[Any]:
        async with asyncio.timeout(TIMEOUT):
            while len(self.frames) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.frames

    async def send(self, *events: Any) -> None:
        assert self.connection is not None
        for event in events:
            await self.connection.send(event if isinstance(event, str) else json.dumps(event))


class Recorder:
    """Every event a transport emits, in order."""

    def __init__(self, transport: OpenAIRealtimeWebSocket) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.changed = asyncio.Event()
        original = transport.emit

        def emit(name: str, *args: Any) -> bool:
            self.events.append((name, args))
            self.changed.set()
            return original(name, *args)

        transport.emit = emit  # type: ignore[method-assign]

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in self.events if event == name]

    async def wait_for(self, predicate: Callable[[str, tuple[Any, ...]], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not any(predicate(n, a) for n, a in self.events):
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def connected(
    **options: Any,
) -> AsyncIterator[tuple[ScriptedServer, OpenAIRealtimeWebSocket, Recorder]]:
    async with ScriptedServer() as server:
        transport = OpenAIRealtimeWebSocket(api_key=KEY, **options)
        recorder = Recorder(transport)
        try:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(url=server.url, model="gpt-realtime")
            yield server, transport, recorder
        finally:
            async with asyncio.timeout(TIMEOUT):
                await transport.aclose()


def session_created(tracing: Any = None) -> dict[str, Any]:
    return {"type": "session.created", "event_id": "evt_sc", "session": {"tracing": tracing}}


def sync_event(n: int) -> dict[str, Any]:
    return {"type": "test.sync", "event_id": f"sync_{n}"}


async def roundtrip(server: ScriptedServer, recorder: Recorder, *events: Any) -> None:
    """Send ``events`` and wait until the transport has dispatched all of them."""
    marker = f"sync_{len(recorder.events)}"
    await server.send(*events, {"type": "test.sync", "event_id": marker})
    await recorder.wait_for(lambda n, a: n == "*" and a[0].get("event_id") == marker)


# --------------------------------------------------------------------------- connecting


async def test_connect_sends_the_full_session_update_then_tracing_after_session_created() -> None:
    async with connected() as (server, transport, recorder):
        assert transport.status == "connected"
        await server.send(session_created())
        frames = await server.wait_frames(2)
        assert frames[0] == CONNECT_SESSION_UPDATE
        assert frames[1] == TRACING_AUTO
        request = server.requests[0]
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["User-Agent"].startswith("realtime-harness/")
        assert request.headers["X-OpenAI-Agents-SDK"].startswith("realtime-harness.")
        assert recorder.named("connected") == [()]
    assert transport.status == "disconnected"


async def test_connection_events_in_the_reference_order() -> None:
    async with ScriptedServer() as server:
        transport = OpenAIRealtimeWebSocket(api_key=KEY)
        recorder = Recorder(transport)
        async with asyncio.timeout(TIMEOUT):
            await transport.connect(url=server.url)
        transport.close()
        assert transport.status == "disconnected"
        async with asyncio.timeout(TIMEOUT):
            await transport.aclose()
    assert recorder.events == [
        ("connection_change", ("connecting",)),
        ("connection_change", ("connected",)),
        ("connected", ()),
        ("connection_change", ("disconnected",)),
        ("disconnected", ()),
    ]


async def test_snake_case_session_config_sends_the_same_as_camel_case() -> None:
    camel = {
        "outputModalities": ["text"],
        "toolChoice": "none",
        "parallelToolCalls": True,
        "providerData": {"truncation": "auto"},
        "audio": {
            "input": {
                "turnDetection": {"type": "server_vad", "createResponse": False},
                "noiseReduction": {"type": "near_field"},
            }
        },
        "prompt": {"promptId": "pmpt_1"},
    }
    snake = {
        "output_modalities": ["text"],
        "tool_choice": "none",
        "parallel_tool_calls": True,
        "provider_data": {"truncation": "auto"},
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad", "create_response": False},
                "noise_reduction": {"type": "near_field"},
            }
        },
        "prompt": {"prompt_id": "pmpt_1"},
    }
    transport = OpenAIRealtimeWebSocket(model="gpt-realtime")
    payload = transport.build_session_payload(camel)
    assert transport.build_session_payload(snake) == payload
    assert payload["output_modalities"] == ["text"]
    assert payload["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "create_response": False,
    }
    assert payload["truncation"] == "auto"
    assert payload["prompt"] == {"id": "pmpt_1"}


async def test_api_key_may_be_an_async_callable() -> None:
    async def key() -> str:
        return KEY

    async with ScriptedServer() as server:
        transport = OpenAIRealtimeWebSocket(api_key=key)
        async with asyncio.timeout(TIMEOUT):
            await transport.connect(url=server.url)
            await transport.aclose()
        assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_connect_without_an_api_key_fails_with_the_reference_message() -> None:
    transport = OpenAIRealtimeWebSocket()
    with pytest.raises(UsageError) as info:
        await transport.connect(url="ws://127.0.0.1:9/v1/realtime")
    assert str(info.value) == "API key is not set. Please call `connect()` with an API key first."
    assert transport.status == "disconnected"


async def test_connecting_twice_fails_with_the_reference_message() -> None:
    async with connected() as (server, transport, _):
        with pytest.raises(TransportError) as info:
            await transport.connect(url=server.url)
        assert str(info.value) == "WebSocket is already connected or connecting."
        assert transport.status == "connected"


async def test_a_refused_handshake_fails_connect_and_leaves_disconnected() -> None:
    async with ScriptedServer(refuse=403) as server:
        transport = OpenAIRealtimeWebSocket(api_key=KEY)
        recorder = Recorder(transport)
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(url=server.url)
    port = server.url.split(":")[2].split("/")[0]
    assert str(info.value).startswith(
        f"WebSocket connection to ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime failed:"
    )
    assert "403" in str(info.value)
    assert KEY not in str(info.value)
    assert transport.status == "disconnected"
    names = [name for name, _ in recorder.events]
    assert names == ["connection_change", "error", "connection_change", "disconnected"]


async def test_a_server_closing_mid_handshake_fails_connect_with_a_clear_error() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    tcp = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    try:
        transport = OpenAIRealtimeWebSocket(api_key=KEY)
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(
                    url=f"ws://127.0.0.1:{port}/v1/realtime?model=m&api_key={KEY}"
                )
        # The URL is shown with its query, any key in it redacted (harness.redaction).
        assert str(info.value).startswith(
            f"WebSocket connection to ws://127.0.0.1:{port}/v1/realtime"
            "?model=m&api_key=<redacted:api_key_query> failed:"
        )
        assert KEY not in str(info.value)
        assert transport.status == "disconnected"
        assert transport.connection_state.websocket is None
    finally:
        tcp.close()
        await tcp.wait_closed()


async def test_close_during_the_handshake_fails_connect() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        arrived.set()
        await release.wait()
        writer.close()

    tcp = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    transport = OpenAIRealtimeWebSocket(api_key=KEY)
    try:
        task = asyncio.create_task(transport.connect(url=f"ws://127.0.0.1:{port}/v1/realtime"))
        async with asyncio.timeout(TIMEOUT):
            await arrived.wait()
        assert transport.status == "connecting"
        transport.close()
        assert transport.status == "disconnected"
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(TIMEOUT):
                await task
        assert str(info.value) == "WebSocket connection was closed before setup completed."
    finally:
        release.set()
        tcp.close()
        await tcp.wait_closed()


async def test_create_websocket_gets_the_url_key_and_headers() -> None:
    seen: list[CreateWebSocketOptions] = []
    async with ScriptedServer() as server:

        async def create(options: CreateWebSocketOptions) -> Any:
            seen.append(options)
            return await ws_connect(
                server.url, additional_headers=dict(options.headers), proxy=None
            )

        transport = OpenAIRealtimeWebSocket(api_key=KEY, create_websocket=create)
        async with asyncio.timeout(TIMEOUT):
            await transport.connect(call_id="rtc_1")
            await transport.aclose()
    assert seen[0].url == "wss://api.openai.com/v1/realtime?call_id=rtc_1"
    assert seen[0].api_key == KEY
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(seen[0])
    assert server.frames[0]["type"] == "session.update"


# --------------------------------------------------------------------------- sending


async def test_sending_while_disconnected_raises_the_reference_message() -> None:
    transport = OpenAIRealtimeWebSocket(api_key=KEY)
    message = "WebSocket is not connected. Make sure you call `connect()` before sending events."
    for send in (
        lambda: transport.send_event({"type": "response.create"}),
        lambda: transport.send_message("hi"),
        lambda: transport.request_response(),
        lambda: transport.update_session_config({}),
    ):
        with pytest.raises(TransportNotConnected) as info:
            send()
        assert str(info.value) == message
    transport.send_audio(b"\x00\x01")  # ignored unless connected, as in the reference


def test_response_create_sequencer_waits_for_done_and_coalesces() -> None:
    sent: list[dict[str, Any]] = []
    pumps: list[int] = []
    sequencer = ResponseCreateSequencer(sent.append, lambda e: None, lambda: pumps.append(1))
    sequencer.request_response_create({"type": "response.create"})
    sequencer.request_response_create({"type": "response.create"})
    sequencer.request_response_create({"type": "response.create"})
    assert [e["event_id"] for e in sent] == ["agents_js_response_create_1"]
    sequencer.mark_response_created()
    sequencer.pump()
    assert len(sent) == 1  # a response is in flight
    sequencer.mark_response_done()
    sequencer.pump()
    # The two waiting automatic requests coalesce into one response.create.
    assert [e["event_id"] for e in sent] == [
        "agents_js_response_create_1",
        "agents_js_response_create_2",
    ]
    sequencer.mark_response_created()
    sequencer.mark_response_done()
    sequencer.pump()
    assert len(sent) == 2
    assert pumps  # the owner was asked to resume the waiters


# --------------------------------------------------------------------------- receiving


async def test_async_listeners_run_as_tasks() -> None:
    async with connected() as (server, transport, recorder):
        seen = asyncio.Event()
        payloads: list[Any] = []

        async def on_done(event: TurnDoneEvent) -> None:
            await asyncio.sleep(0)
            payloads.append(event)
            seen.set()

        transport.on("turn_done", on_done)
        await roundtrip(
            server,
            recorder,
            {
                "type": "response.done",
                "event_id": "e1",
                "response": {
                    "id": "r1",
                    "output": [],
                    "usage": {"input_tokens": 2, "output_tokens": 3},
                },
            },
        )
        async with asyncio.timeout(TIMEOUT):
            await seen.wait()
        assert payloads[0].usage == Usage(input_tokens=2, output_tokens=3, total_tokens=5)
        assert payloads[0].to_json()["response"]["usage"]["totalTokens"] == 5


# --------------------------------------------------------------------------- history


def message(item_id: str, text: str, role: Role = Role.USER) -> MessageItem:
    part = OutputText(text) if role is Role.ASSISTANT else InputText(text)
    return MessageItem(item_id, role, (part,), status="completed")


async def test_reset_history_against_the_simulated_api_reaches_the_new_history() -> None:
    a, b, c = message("a", "A"), message("b", "B", Role.ASSISTANT), message("c", "C")
    async with FakeRealtimeServer.simulate([item_to_wire(a), item_to_wire(b)]) as server:
        transport = OpenAIRealtimeWebSocket(api_key=KEY)
        recorder = Recorder(transport)
        async with asyncio.timeout(TIMEOUT):
            await transport.connect(url=server.url)
        transport.reset_history([a, b], [c, b])
        await recorder.wait_for(lambda n, args: n == "item_update" and args[0].item_id == "c")
        await recorder.wait_for(lambda n, args: n == "item_deleted")
        async with asyncio.timeout(TIMEOUT):
            await transport.aclose()
        items = server.sessions[0].conversation.items
    assert [i["id"] for i in items] == ["c", "b"]


# --------------------------------------------------------------------------- the rest


async def test_async_with_closes_the_socket() -> None:
    async with ScriptedServer() as server:
        async with OpenAIRealtimeWebSocket(api_key=KEY) as transport:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(url=server.url)
        assert transport.status == "disconnected"
        async with asyncio.timeout(TIMEOUT):
            await server.closed.wait()


async def test_the_server_closing_mid_session_disconnects() -> None:
    async with connected() as (server, transport, recorder):
        assert server.connection is not None
        await server.connection.close(1011, "internal error")
        await recorder.wait_for(lambda n, a: n == "disconnected")
        assert transport.status == "disconnected"
        with pytest.raises(TransportNotConnected):
            transport.send_message("anyone?")


# --------------------------------------------------------------------------- cassettes
# Every bundled cassette replays strictly through our transport: tests/test_drivers.py.


async def test_an_mcp_approval_request_is_answered_from_its_event() -> None:
    async with connected() as (server, transport, recorder):
        requests: list[Any] = []
        transport.on("mcp_approval_request", requests.append)
        await roundtrip(
            server,
            recorder,
            {
                "type": "conversation.item.done",
                "event_id": "e1",
                "item": {
                    "id": "mcpr_1",
                    "type": "mcp_approval_request",
                    "server_label": "wiki",
                    "name": "ask",
                    "arguments": '{"q": 1}',
                },
            },
        )
        assert requests[0].arguments == {"q": 1}
        transport.send_mcp_response(requests[0], False, "not now")
        frames = await server.wait_frames(2)
        assert transport.connection_state.status == "connected"
        assert transport.connection_state.websocket is not None
    assert frames[1] == {
        "type": "conversation.item.create",
        "previous_item_id": "mcpr_1",
        "item": {
            "type": "mcp_approval_response",
            "approval_request_id": "mcpr_1",
            "approve": False,
            "reason": "not now",
        },
    }
    assert transport.connection_state.websocket is None
