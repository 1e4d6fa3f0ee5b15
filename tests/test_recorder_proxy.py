"""The recording proxy over real sockets: relay, credentials, refusals, closes, appending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from recorder_support import (
    API_KEY,
    TIMEOUT,
    Upstream,
    recorded_frames,
    serve_upstream,
    shape,
)
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from harness.cassette import Frame, Side, load_cassette
from harness.errors import RecordingError, UsageError
from harness.recorder import RecordingProxy
from harness.redaction import RedactionRule, RedactionRules
from harness.refusal import Refusal, parse_refusal, refusal_frame


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with serve_upstream() as up:
        yield up


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
    frames = recorded_frames(cassette)
    assert [shape(f) for f in frames] == [
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
    frames = recorded_frames(cassette)
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
    with pytest.raises(RecordingError) as failed:
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
    # A faithful recording of the refusal, but no connection completed its handshake: not
    # a sound recording. The cassette is not written; the attempt is kept beside it.
    side = tmp_path / "c.failed.jsonl"
    assert str(failed.value) == (
        f"{cassette}: recording failed: no connection completed its handshake with the "
        "upstream; conn 0: the upstream refused the handshake: HTTP 401 Unauthorized: "
        f"Incorrect API key; the cassette was not written; the attempt is in {side}"
    )
    assert not cassette.exists()
    (frame,) = recorded_frames(side)
    assert (frame.side, frame.conn, frame.close_code) == (Side.SERVER, 0, 4401)
    assert parse_refusal(frame) == Refusal(
        401, "Unauthorized", '{"error": {"message": "Incorrect API key"}}\n'
    )
    assert API_KEY not in side.read_text()


async def test_unreachable_upstream_becomes_http_502_with_a_json_error(tmp_path: Path) -> None:
    # A port that was free a moment ago: nothing listens there.
    async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0) as closed_server:
        port = next(iter(closed_server.sockets)).getsockname()[1]
    cassette = tmp_path / "c.jsonl"
    upstream_url = f"ws://127.0.0.1:{port}/v1/realtime?api_key={API_KEY}"
    with pytest.raises(RecordingError) as failed:
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
    # The proxy's own refusal is no recording at all: the cassette is not written.
    assert not cassette.exists()
    message = str(failed.value)
    assert message.startswith(
        f"{cassette}: recording failed: no connection completed its handshake with the "
        "upstream; conn 0: harness.RecordingProxy could not open the upstream connection to "
        f"ws://127.0.0.1:{port}/v1/realtime?api_key=<redacted:api_key_query>: "
    )
    assert message.endswith(
        f"(the client got HTTP 502); the cassette was not written; the attempt is in "
        f"{tmp_path / 'c.failed.jsonl'}"
    )
    assert API_KEY not in message
    (frame,) = recorded_frames(tmp_path / "c.failed.jsonl")
    refusal = parse_refusal(frame)
    assert refusal is not None and refusal.status == 502
    assert API_KEY not in (tmp_path / "c.failed.jsonl").read_text()


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
    last = recorded_frames(cassette)[-1]
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
    frames = recorded_frames(cassette)
    assert [shape(f) for f in frames] == [
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
    last = recorded_frames(cassette)[-1]
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
    assert [(f.conn, f.side.value, f.kind.value) for f in recorded_frames(cassette)] == [
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


async def test_nobody_connecting_records_nothing_and_says_so(tmp_path: Path) -> None:
    cassette = tmp_path / "sub" / "c.jsonl"
    upstream = f"wss://api.example/v1/realtime?model=m&api_key={API_KEY}"
    with pytest.raises(RecordingError) as failed:
        async with RecordingProxy(upstream, cassette) as proxy:
            assert proxy.url == f"ws://127.0.0.1:{proxy.port}/v1/realtime?model=m"
            assert proxy.base_url == f"ws://127.0.0.1:{proxy.port}/v1"
            assert (tmp_path / "sub" / "c.recording.jsonl").exists()  # reserved at start
    assert str(failed.value) == (
        f"{cassette}: recording failed: nothing was recorded: no client connected; "
        "the cassette was not written"
    )
    assert failed.value.failed_path is None
    assert list((tmp_path / "sub").iterdir()) == []  # no cassette, no staging, no side file


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


async def test_an_event_nested_too_deep_to_replay_is_kept_as_text_and_the_cassette_reads(
    upstream: Upstream, tmp_path: Path
) -> None:
    # The reader refuses events deeper than MAX_DEPTH (128) levels: recorded as events, such
    # frames would make the whole cassette unreadable. They are kept as their text instead.
    deep: object = "bottom"
    for _ in range(200):
        deep = [deep]
    text = json.dumps({"type": "session.update", "session": {"deep": deep}})
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(proxy.url + "?model=m") as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(text)
            assert json.loads(await ws.recv())["type"] == "echo"
        await upstream.done.wait()
    frames = load_cassette(cassette).frames  # reads: no CassetteError
    kept = [f.event for f in frames if f.event and f.event["type"] == "harness.non_json_text"]
    assert len(kept) == 2  # the client's frame and the upstream's echo of it
    assert kept[0]["text"] == text


async def test_a_frame_kept_as_text_loses_its_key_path_secrets_too(
    upstream: Upstream, tmp_path: Path
) -> None:
    # Frames the recorder keeps as text (not an object, or nested too deep to replay) still
    # carry what the key-path rules redact in events: an MCP tool's authorization, headers.
    tool = {"type": "mcp", "server_label": "s", "authorization": "opaque-tok-1"}
    tool["headers"] = {"X-Key": "opaque-tok-2"}
    deep: object = "bottom"
    for _ in range(200):
        deep = [deep]
    frames_sent = [
        json.dumps([{"type": "session.update", "session": {"tools": [tool]}}]),  # an array
        json.dumps({"type": "session.update", "session": {"tools": [tool], "deep": deep}}),
    ]
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        async with connect(proxy.url + "?model=m") as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            for text in frames_sent:
                await ws.send(text)
                assert json.loads(await ws.recv())["type"] == "echo"
        await upstream.done.wait()
    kept = [
        f
        for f in load_cassette(cassette).frames
        if f.side is Side.CLIENT and f.event and f.event["type"] == "harness.non_json_text"
    ]
    assert len(kept) == 2  # both client frames, kept as their text
    for frame in kept:
        text = frame.event["text"] if frame.event else ""
        assert "opaque-tok" not in text
        assert '"authorization": "<redacted:' in text
        assert '"headers": "<redacted:mcp_headers>"' in text
        assert '"server_label": "s"' in text  # the rest of the frame is kept as it was
