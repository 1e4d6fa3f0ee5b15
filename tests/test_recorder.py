"""The recording proxy over real sockets: a tiny websockets upstream on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from harness import _json
from harness.cassette import (
    CassetteWriter,
    Frame,
    Header,
    Side,
    load_cassette,
    open_cassette,
    split_canonical,
)
from harness.errors import CassetteError, TransportError, UsageError
from harness.recorder import RecordingProxy, Refusal, TransportTap, parse_refusal, refusal_frame
from harness.redaction import RedactionRule, RedactionRules
from harness.server import FakeRealtimeServer
from harness.transport import OpenAIRealtimeWebSocket

API_KEY = "sk-proj-RECORDERtest0123456789abcdefghijklmnop"
TIMEOUT = 5


@dataclass
class Upstream:
    """A tiny scripted upstream: greets, echoes, closes or drops on command."""

    url: str = ""
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    seen_paths: list[str] = field(default_factory=list)
    subprotocols: list[str | None] = field(default_factory=list)
    closes: list[tuple[int | None, str]] = field(default_factory=list)
    refuse: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def _upstream_handler(up: Upstream, ws: ServerConnection) -> None:
    up.subprotocols.append(ws.subprotocol)
    await ws.send(json.dumps({"type": "session.created", "event_id": "ev_0"}))
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(message[::-1])
                continue
            event = json.loads(message)
            kind = event.get("type")
            if kind == "please.close":
                await ws.close(1011, event.get("reason", ""))
                break
            if kind == "please.drop":
                ws.transport.abort()
                break
            await ws.send(json.dumps({"type": "echo", "event_id": "ev_e", "got": event}))
    except ConnectionClosed:
        pass
    finally:
        rcvd = ws.protocol.close_rcvd
        up.closes.append((None if rcvd is None else rcvd.code, "" if rcvd is None else rcvd.reason))
        up.done.set()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()

    def process_request(ws: ServerConnection, request: Request) -> Response | None:
        up.seen_headers.append(dict(request.headers.raw_items()))
        up.seen_paths.append(request.path)
        if up.refuse is not None:
            response = ws.respond(up.refuse, '{"error": {"message": "Incorrect API key"}}\n')
            response.headers["X-Request-Id"] = "req_123"
            return response
        return None

    async with serve(
        lambda ws: _upstream_handler(up, ws),
        "127.0.0.1",
        0,
        process_request=process_request,
        select_subprotocol=lambda ws, offered: "realtime" if "realtime" in offered else None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        up.url = f"ws://127.0.0.1:{port}/v1/realtime"
        yield up


def _frames(path: Path) -> list[Frame]:
    return list(load_cassette(path).frames)


def _shape(frame: Frame) -> tuple[str, int, Any]:
    if frame.event is not None:
        return (frame.side.value, frame.conn, frame.event.get("type"))
    if frame.binary is not None:
        return (frame.side.value, frame.conn, frame.binary)
    return (frame.side.value, frame.conn, ("close", frame.close_code, frame.close_reason))


async def test_relays_text_and_binary_both_ways_and_records_them_in_order(
    upstream: Upstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(proxy.url + "?model=gpt-realtime") as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps({"type": "session.update", "session": {"x": 1}}))
            echo = json.loads(await ws.recv())
            assert echo == {
                "type": "echo",
                "event_id": "ev_e",
                "got": {"type": "session.update", "session": {"x": 1}},
            }
            await ws.send(b"\x00\x01\x02")
            assert await ws.recv() == b"\x02\x01\x00"
        await upstream.done.wait()
    frames = _frames(cassette)
    assert [_shape(f) for f in frames] == [
        ("server", 0, "session.created"),
        ("client", 0, "session.update"),
        ("server", 0, "echo"),
        ("client", 0, b"\x00\x01\x02"),
        ("server", 0, b"\x02\x01\x00"),
        ("client", 0, ("close", 1000, "")),
    ]
    ts = [f.t for f in frames]
    assert ts == sorted(ts)
    header = load_cassette(cassette).header
    assert header.path == "/v1/realtime"
    assert dict(header.query) == {"model": "gpt-realtime"}
    assert header.redactions == RedactionRules.default().names
    assert header.client.startswith("Python/")
    assert upstream.seen_paths == ["/v1/realtime?model=gpt-realtime"]


async def test_client_credentials_reach_upstream_but_never_the_cassette(
    upstream: Upstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(
            proxy.url + f"?model=m&api_key={API_KEY}",
            additional_headers={"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "x"},
            subprotocols=["realtime", f"openai-insecure-api-key.{API_KEY}"],  # type: ignore[list-item]
        ) as ws:
            assert ws.subprotocol == "realtime"
            await ws.recv()
            await ws.send(json.dumps({"type": "note", "text": f"key {API_KEY}"}))
            echoed = json.loads(await ws.recv())
            assert echoed["got"]["text"] == f"key {API_KEY}"  # relayed untouched
        await upstream.done.wait()
    seen = upstream.seen_headers[0]
    assert seen["Authorization"] == f"Bearer {API_KEY}"
    assert seen["OpenAI-Beta"] == "x"
    assert API_KEY in seen["Sec-WebSocket-Protocol"]
    assert upstream.subprotocols == ["realtime"]
    assert f"api_key={API_KEY}" in upstream.seen_paths[0]
    text = cassette.read_text()
    assert API_KEY not in text
    header = load_cassette(cassette).header
    assert header.query["api_key"] == "<redacted:api_key_query>"
    handshake = header.extra["handshake"]
    assert handshake["headers"]["Authorization"] == "Bearer <redacted:authorization_header>"
    assert handshake["subprotocols"] == [
        "realtime",
        "openai-insecure-api-key.<redacted:api_key_subprotocol>",
    ]
    frames = _frames(cassette)
    assert frames[1].event == {"type": "note", "text": "key <redacted:openai_api_key>"}
    assert frames[2].event is not None
    assert frames[2].event["got"]["text"] == "key <redacted:openai_api_key>"


async def test_user_rules_redact_before_writing(upstream: Upstream, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    rules = RedactionRules.default().with_rules(
        RedactionRule.path("customer", "session.customer"),
        RedactionRule.path("echoed_customer", "got.session.customer"),
    )
    async with (
        asyncio.timeout(TIMEOUT),
        RecordingProxy(upstream.url, cassette, redaction=rules) as proxy,
    ):
        async with connect(proxy.url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "session.update", "session": {"customer": "c-42"}}))
            await ws.recv()
        await upstream.done.wait()
    assert "c-42" not in cassette.read_text()
    assert load_cassette(cassette).header.redactions[-2:] == ("customer", "echoed_customer")


async def test_upstream_refusal_reaches_the_client_as_the_same_http_response(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.refuse = 401
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                proxy.url, additional_headers={"Authorization": f"Bearer {API_KEY}"}
            ):
                pass
    response = info.value.response
    assert response.status_code == 401
    assert response.reason_phrase == "Unauthorized"
    assert response.body == b'{"error": {"message": "Incorrect API key"}}\n'
    assert response.headers["X-Request-Id"] == "req_123"
    (frame,) = _frames(cassette)
    assert (frame.side, frame.conn, frame.close_code) == (Side.SERVER, 0, 4401)
    assert parse_refusal(frame) == Refusal(
        401, "Unauthorized", '{"error": {"message": "Incorrect API key"}}\n'
    )
    assert API_KEY not in cassette.read_text()


async def test_unreachable_upstream_becomes_http_502_with_a_json_error(tmp_path: Path) -> None:
    # A port that was free a moment ago: nothing listens there.
    async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0) as closed_server:
        port = next(iter(closed_server.sockets)).getsockname()[1]
    cassette = tmp_path / "c.jsonl"
    upstream_url = f"ws://127.0.0.1:{port}/v1/realtime?api_key={API_KEY}"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream_url, cassette) as proxy:
        with pytest.raises(InvalidStatus) as info:
            async with connect(proxy.url):
                pass
    response = info.value.response
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/json"
    error = json.loads(response.body)["error"]
    assert error["code"] == "upstream_unreachable"
    assert error["message"].startswith(
        "harness.RecordingProxy could not open the upstream connection to "
        f"ws://127.0.0.1:{port}/v1/realtime?api_key=<redacted:api_key_query>: "
    )
    assert API_KEY not in response.body.decode()
    (frame,) = _frames(cassette)
    refusal = parse_refusal(frame)
    assert refusal is not None and refusal.status == 502
    assert API_KEY not in cassette.read_text()


@pytest.mark.parametrize(
    ("code", "reason", "recorded"),
    [(1000, "bye", (1000, "bye")), (4321, "custom", (4321, "custom")), (None, "", (None, ""))],
)
async def test_client_close_is_passed_on_and_recorded(
    upstream: Upstream,
    tmp_path: Path,
    code: int | None,
    reason: str,
    recorded: tuple[int | None, str],
) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        ws = await connect(proxy.url)
        await ws.recv()
        if code is None:
            await ws.close(code=None, reason="")  # type: ignore[arg-type]  # no status: 1005
        else:
            await ws.close(code, reason)
        await upstream.done.wait()
    assert upstream.closes == [(1005 if code is None else code, reason)]
    last = _frames(cassette)[-1]
    assert (last.side, last.close_code, last.close_reason) == (Side.CLIENT, *recorded)


async def test_upstream_close_is_passed_on_and_recorded(upstream: Upstream, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(proxy.url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "please.close", "reason": f"boom {API_KEY}"}))
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert ws.close_code == 1011
            assert ws.close_reason == f"boom {API_KEY}"
    assert info.value.rcvd is not None
    frames = _frames(cassette)
    assert [_shape(f) for f in frames] == [
        ("server", 0, "session.created"),
        ("client", 0, "please.close"),
        ("server", 0, ("close", 1011, "boom <redacted:openai_api_key>")),
    ]


async def test_upstream_lost_without_close_aborts_the_client_and_records_1006(
    upstream: Upstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(proxy.url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "please.drop"}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1006
    last = _frames(cassette)[-1]
    assert (last.side, last.close_code) == (Side.SERVER, 1006)


async def test_each_connection_gets_the_next_conn_index(upstream: Upstream, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        for _ in range(3):
            upstream.done.clear()
            async with connect(proxy.url) as ws:
                await ws.recv()
            await upstream.done.wait()
        assert proxy.connections == 3
    assert [(f.conn, f.side.value, f.kind.value) for f in _frames(cassette)] == [
        (conn, side, kind)
        for conn in range(3)
        for side, kind in (("server", "event"), ("client", "close"))
    ]


async def test_append_mode_continues_an_existing_cassette(
    upstream: Upstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT):
        async with RecordingProxy(upstream.url, cassette, note="first") as proxy:
            async with connect(proxy.url) as ws:
                await ws.recv()
            await upstream.done.wait()
        upstream.done.clear()
        async with RecordingProxy(upstream.url, cassette, append=True, first_conn=1) as proxy:
            async with connect(proxy.url) as ws:
                await ws.recv()
            await upstream.done.wait()
    loaded = load_cassette(cassette)
    assert loaded.header.note == "first"
    assert loaded.conns() == (0, 1)


async def test_nobody_connecting_leaves_a_header_only_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "sub" / "c.jsonl"
    upstream = f"wss://api.example/v1/realtime?model=m&api_key={API_KEY}"
    async with RecordingProxy(upstream, cassette) as proxy:
        assert proxy.url == f"ws://127.0.0.1:{proxy.port}/v1/realtime?model=m"
        assert proxy.base_url == f"ws://127.0.0.1:{proxy.port}/v1"
    loaded = load_cassette(cassette)
    assert loaded.frames == ()
    assert (loaded.header.path, dict(loaded.header.query)) == (
        "/v1/realtime",
        {"model": "m", "api_key": "<redacted:api_key_query>"},
    )
    assert API_KEY not in cassette.read_text()


def test_bad_upstream_url_is_a_usage_error_without_the_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        RecordingProxy(f"https://api.example/v1/realtime?api_key={API_KEY}", tmp_path / "c")
    assert str(info.value) == (
        "upstream URL must be ws:// or wss:// with a host, got "
        "'https://api.example/v1/realtime?api_key=<redacted:api_key_query>'"
    )


def test_url_before_start_is_a_usage_error(tmp_path: Path) -> None:
    proxy = RecordingProxy("ws://127.0.0.1:1/v1/realtime", tmp_path / "c")
    with pytest.raises(UsageError) as info:
        _ = proxy.url
    assert str(info.value) == "RecordingProxy is not running: use it as `async with proxy:`"


def test_refusal_frame_round_trips() -> None:
    refusal = Refusal(403, "Forbidden", "no\nway")
    frame = refusal_frame(2, 0.01, refusal)
    assert (frame.close_code, frame.conn) == (4403, 2)
    assert parse_refusal(frame) == refusal
    assert parse_refusal(Frame.of_close(Side.SERVER, 0, 0, 4401, "Unauthorized")) is None
    assert parse_refusal(Frame.of_close(Side.CLIENT, 0, 0, 4401, frame.close_reason)) is None


# -- crash safety: SIGKILL at random moments ---------------------------------------------------

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
        async with RecordingProxy(f"ws://127.0.0.1:{port}/v1/realtime", sys.argv[1]) as proxy:
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


def test_sigkill_at_random_moments_leaves_every_complete_frame_readable(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    torn = 0
    for round_ in range(20):
        cassette = tmp_path / f"killed{round_}.jsonl"
        size = rng.choice([100, 4_000, 200_000])  # small, audio-sized, and big (slow) frames
        child = subprocess.Popen(
            [sys.executable, "-c", _RECORDING_CHILD, str(cassette), str(size)],
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
        data = cassette.read_bytes()
        complete_lines = data.count(b"\n")
        frames: list[Frame] = []
        torn_here = False
        with open_cassette(cassette) as reader:
            try:
                frames.extend(reader)
            except CassetteError as exc:
                torn += 1
                torn_here = True
                assert exc.lineno == complete_lines + 1
                assert "torn last line" in str(exc)
                assert not data.endswith(b"\n")
        assert len(frames) == complete_lines - 1  # every complete line but the header
        assert len(frames) >= 2
        for frame in frames:
            assert frame.event is None or frame.event["type"] == "input_audio_buffer.append"
        # A kill inside a write() tears the last line; cut one at a random byte to be sure
        # that case is exercised every run: reported with its line number, frames kept.
        if not torn_here:
            last_start = data.rstrip(b"\n").rfind(b"\n") + 1
            cut = rng.randrange(last_start + 1, len(data) - 1)
            cassette.write_bytes(data[:cut])
            with open_cassette(cassette) as reader:
                kept: list[Frame] = []
                with pytest.raises(CassetteError) as info:
                    kept.extend(reader)
            assert str(info.value) == (
                f"{cassette}:{complete_lines}: torn last line: it ends without a newline and is "
                "not complete JSON (the writer was probably interrupted; the frames before it "
                "are intact)"
            )
            assert kept == frames[:-1]
        # Appending after a crash cuts the torn tail off and carries on.
        with CassetteWriter(cassette, Header(), mode="a") as writer:
            writer.event("server", 9.0, 1, {"type": "after.crash"})
        reloaded = load_cassette(cassette)
        assert len(reloaded.frames) == len(frames) + (0 if not torn_here else 1)
    # How many rounds tore a line is chance; it is printed, not asserted.
    print(f"{torn} of 20 kills tore the last line")


# -- our transport, through the proxy and with the tap, against the simulated API --------------


async def _converse(url: str, **options: Any) -> list[dict[str, Any]]:
    """One text turn with our transport; every server event it saw, in order.

    Waits for the turn to end and for both ``session.updated`` (the initial config and the
    tracing update, sent concurrently, may be answered after the turn).
    """
    seen: list[dict[str, Any]] = []
    turn_done = asyncio.Event()
    settled = asyncio.Event()

    def check(*_: object) -> None:
        updated = sum(1 for event in seen if event["type"] == "session.updated")
        if turn_done.is_set() and updated >= 2:
            settled.set()

    transport = OpenAIRealtimeWebSocket(api_key=API_KEY, **options)
    transport.on("*", lambda event: (seen.append(event), check()))
    transport.on("turn_done", lambda _: (turn_done.set(), check()))
    await transport.connect(url=url, model="gpt-realtime")
    transport.send_message(f"my key is {API_KEY}")
    await settled.wait()
    await transport.aclose()
    return seen


def _as_recorded(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = RedactionRules.default()
    return [rules.redact_event(event).value for event in events]


async def test_transport_through_the_proxy_replays_the_same_frames(tmp_path: Path) -> None:
    cassette = tmp_path / "transport.jsonl"
    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer.simulate() as upstream:
            async with RecordingProxy(upstream.url, cassette) as proxy:
                live = await _converse(proxy.url)
        async with FakeRealtimeServer(cassette) as replay:
            replayed = await _converse(replay.url)
    replay.verdict()
    assert {"response.created", "response.done"} <= {e["type"] for e in live}
    # The client sees the same frames, secrets aside: those are placeholders on replay.
    assert replayed == _as_recorded(live)
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
                live = await _converse(upstream.url, create_websocket=tap)
                live_again = await _converse(upstream.url, create_websocket=tap)
            assert tap.connections == 2
        async with FakeRealtimeServer(cassette) as replay:
            replayed = await _converse(replay.url)
            replayed_again = await _converse(replay.url)
    replay.verdict()
    assert replayed == _as_recorded(live)
    assert replayed_again == _as_recorded(live_again)
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
    with TransportTap(cassette) as tap:
        transport = OpenAIRealtimeWebSocket(api_key=API_KEY, create_websocket=tap)
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(TIMEOUT):
                await transport.connect(url=upstream.url + f"?api_key={API_KEY}")
    assert str(info.value) == (
        f"WebSocket connection to {upstream.url}?api_key=<redacted:api_key_query> failed: HTTP 401"
    )
    (frame,) = load_cassette(cassette).frames
    assert parse_refusal(frame) == Refusal(
        401, "Unauthorized", '{"error": {"message": "Incorrect API key"}}\n'
    )
    assert API_KEY not in cassette.read_text()


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
    assert replayed == _as_recorded(live)
    assert API_KEY not in cassette.read_text()
    last = load_cassette(cassette).frames[-1]
    # The JS SDK closes without a status code; the cassette keeps it that way.
    assert (last.side, last.close_code) == (Side.CLIENT, None)


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
    assert (out, err.decode()) == (
        b"",
        "python -m harness record: error: redaction rule 'broken': write NAME=VALUE\n",
    )
    assert not (tmp_path / "c.jsonl").exists()


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
    assert replayed == _as_recorded(live)
    assert load_cassette(cassette).header.path == "/v1/realtime"
    assert API_KEY not in cassette.read_text()


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
    assert [_shape(f) for f in _frames(cassette)] == [
        ("client", 0, "frag.text"),
        ("client", 0, b"\x00\x01\x02\x03\xff\xfe"),
        ("client", 0, "plain"),
        ("server", 0, "frag.text"),
        ("server", 0, b"\x00\x01\x02\x03\xff\xfe"),
        ("server", 0, "plain"),
        ("client", 0, ("close", 1000, "")),
    ]
    assert [f.event for f in _frames(cassette) if f.event_type == "frag.text"] == [
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
    recorded = [f.event for f in _frames(cassette) if f.side is sender and f.event is not None]
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
    assert [_shape(f) for f in _frames(cassette)] == [
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
    frames = _frames(path)  # load_cassette validates every line
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
    frames = _frames(cassette)
    recorded = [f.event["n"] for f in frames if f.event is not None]
    # Whatever the upstream got was recorded first, in order; nothing after the loss.
    assert recorded == list(range(len(recorded))) and 0 < len(recorded) < sent
    assert upstream_got == recorded[: len(upstream_got)]
    assert [_shape(f) for f in frames[len(recorded) :]] == [("client", 0, ("close", 1006, ""))]
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
    frames = _frames(cassette)
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
