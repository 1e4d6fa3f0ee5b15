"""FakeRealtimeServer over real sockets on 127.0.0.1, driven by a plain websockets client."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from harness import _json
from harness.cassette import Cassette, CassetteWriter, Frame, FrameKind, Header, Side, load_cassette
from harness.errors import CassetteError, CassetteMismatch, UnplayedFrames, UsageError
from harness.matching import DEFAULT_RULES
from harness.refusal import Refusal, refusal_frame
from harness.server import FakeRealtimeServer

CASSETTES = sorted((Path(__file__).parent.parent / "cassettes").glob("*.jsonl"))
AUTH = {"Authorization": "Bearer sk-test-not-a-real-key-0123456789"}
TIMEOUT = 10


def client(server: FakeRealtimeServer, **kw: Any) -> Any:
    kw.setdefault("additional_headers", AUTH)
    return connect(server.url, open_timeout=TIMEOUT, **kw)


async def recv_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        message = await ws.recv()
    assert isinstance(message, str), "server frames of a Realtime session are text"
    event = _json.loads(message)
    assert isinstance(event, dict)
    return event


async def drive(ws: ClientConnection, frames: tuple[Frame, ...]) -> list[Any]:
    """Play the client side of a recorded connection in recorded order; return what came."""
    got: list[Any] = []
    for n, frame in enumerate(frames):
        if frame.side is Side.SERVER:
            if frame.kind is FrameKind.CLOSE:
                async with asyncio.timeout(TIMEOUT):
                    with pytest.raises(ConnectionClosed):
                        await ws.recv()
                assert ws.close_code == frame.close_code
                assert ws.close_reason == frame.close_reason
                got.append(("close", ws.close_code, ws.close_reason))
            else:
                got.append(await recv_event(ws))
        elif frame.kind is FrameKind.CLOSE:
            await ws.close(frame.close_code or 1000)
        else:
            assert frame.event is not None
            # A fresh event_id, as a real client would mint: matching ignores it.
            await ws.send(_json.dumps_str({**frame.event, "event_id": f"evt_live_{n}"}))
    return got


def expected_server(frames: tuple[Frame, ...]) -> list[Any]:
    return [
        ("close", f.close_code, f.close_reason) if f.kind is FrameKind.CLOSE else f.event
        for f in frames
        if f.side is Side.SERVER
    ]


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
async def test_each_bundled_cassette_replays_exactly(path: Path) -> None:
    cassette = load_cassette(path)
    async with FakeRealtimeServer(path) as server, client(server) as ws:
        got = await drive(ws, cassette.frames)
    assert got == expected_server(cassette.frames)
    server.verdict()
    assert server.mismatches == [] and server.unplayed == []


async def test_the_recorded_1011_close_arrives_as_a_real_close_frame() -> None:
    path = next(p for p in CASSETTES if p.stem == "server_close_1011")
    frames = load_cassette(path).frames
    async with FakeRealtimeServer(path) as server, client(server) as ws:
        got = await drive(ws, frames)
    assert got[-1] == ("close", 1011, "Internal server error")
    assert got[-2]["type"] == "response.output_audio.delta"


async def test_streaming_a_cassette_from_disk_replays_the_same(tmp_path: Path) -> None:
    path = next(p for p in CASSETTES if p.stem == "audio_turn")
    frames = load_cassette(path).frames
    async with FakeRealtimeServer(path, preload_limit=0) as server, client(server) as ws:
        got = await drive(ws, frames)
    assert got == expected_server(frames)
    server.verdict()


def text_turn() -> tuple[Path, tuple[Frame, ...]]:
    path = next(p for p in CASSETTES if p.stem == "text_turn")
    return path, load_cassette(path).frames


def index_of(frames: tuple[Frame, ...], event_type: str) -> int:
    """The index of the first frame of ``event_type``."""
    return next(i for i, f in enumerate(frames) if f.event_type == event_type)


async def open_session(ws: ClientConnection, frames: tuple[Frame, ...]) -> None:
    """Send the transport's two connect-time session.updates; take both session.updated."""
    updates = [f.event for f in frames if f.event_type == "session.update"][:2]
    for update in updates:
        assert update is not None
        await ws.send(_json.dumps_str(update))
    for _ in updates:
        assert (await recv_event(ws))["type"] == "session.updated"


async def test_a_wrong_client_frame_yields_cassette_mismatch_and_a_diff() -> None:
    path, frames = text_turn()
    async with FakeRealtimeServer(path) as server, client(server) as ws:
        assert (await recv_event(ws))["type"] == "session.created"
        await open_session(ws, frames)
        create = frames[index_of(frames, "conversation.item.create")].event
        assert create is not None
        wrong = {
            **create,
            "item": {
                **create["item"],
                "content": [{"type": "input_text", "text": "What is the capital of Germany?"}],
            },
        }
        await ws.send(_json.dumps_str({**wrong, "event_id": "evt_wrong"}))
        error = await recv_event(ws)
    assert error["type"] == "error"
    assert error["event_id"].startswith("event_")
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "cassette_mismatch"
    assert error["error"]["event_id"] == "evt_wrong"
    assert error["error"]["message"] == (
        f"{path}:7: client frame 3 does not match (conversation.item.create): at "
        '$.item.content[0].text expected "What is the capital of France?", received '
        '"What is the capital of Germany?"'
    )
    (mismatch,) = server.mismatches
    assert mismatch.report == "\n".join(
        [
            f"{path}:7: client frame 3 does not match (conversation.item.create)",
            "  at $.item.content[0].text",
            '    expected: "What is the capital of France?"',
            '    received: "What is the capital of Germany?"',
            "  ignored fields: event_id, item.id",
            "  re-record with --realtime-record-mode=all, or ignore the field "
            "(README: Matching rules)",
        ]
    )
    with pytest.raises(CassetteMismatch) as info:
        server.verdict()
    assert str(info.value).startswith(mismatch.report)
    assert "never played" in str(info.value)  # the rest of the session is reported too


async def test_rules_can_be_overridden_per_server() -> None:
    path, frames = text_turn()
    rules = DEFAULT_RULES.ignoring("conversation.item.create:item.content[*].text")
    async with FakeRealtimeServer(path, rules=rules) as server, client(server) as ws:
        edited = list(frames)
        at = index_of(frames, "conversation.item.create")
        create = frames[at].event
        assert create is not None
        edited[at] = Frame.of_event(
            "client",
            frames[at].t,
            0,
            {
                **create,
                "item": {
                    **create["item"],
                    "content": [{"type": "input_text", "text": "something else"}],
                },
            },
        )
        await drive(ws, tuple(edited))
    server.verdict()


async def test_client_frames_in_either_causal_order_play() -> None:
    # SDKs send session.update concurrently with the first user event.
    path, frames = text_turn()
    create = frames[index_of(frames, "conversation.item.create")].event
    assert create is not None
    async with FakeRealtimeServer(path) as server, client(server) as ws:
        assert (await recv_event(ws))["type"] == "session.created"
        await ws.send(_json.dumps_str(create))
        await open_session(ws, frames)  # both updates after the item, and both answered
        types = [(await recv_event(ws))["type"] for _ in range(2)]
    assert types == ["conversation.item.added", "conversation.item.done"]
    assert server.mismatches == []


def paced_cassette(tmp_path: Path, gaps: list[float]) -> Path:
    path = tmp_path / "paced.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("client", 0.0, 0, {"type": "response.create"})
        t = 0.0
        for i, gap in enumerate(gaps):
            t += gap
            w.event(
                "server",
                t,
                0,
                {"type": "response.output_audio.delta", "event_id": f"e{i}", "delta": "AAAA"},
            )
    return path


class FakeClock:
    """A clock that jumps to each deadline instead of sleeping, and remembers them."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.deadlines: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.deadlines.append(deadline)
        self.t = max(self.t, deadline)
        await asyncio.sleep(0)


@pytest.mark.parametrize("speed", [1.0, 2.0, 0.5])
async def test_pacing_goes_through_the_injected_clock(tmp_path: Path, speed: float) -> None:
    gaps = [0.05, 0.12, 0.0, 0.08]
    path = paced_cassette(tmp_path, gaps)
    clock = FakeClock()
    async with FakeRealtimeServer(path, speed=speed, clock=clock) as server, client(server) as ws:
        await ws.send(_json.dumps_str({"type": "response.create"}))
        for _ in gaps:
            await recv_event(ws)
    cumulative = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    assert clock.deadlines == pytest.approx([1000.0 + c / speed for c in cumulative])


async def test_fifty_clients_replay_concurrently_with_no_frame_lost() -> None:
    path = next(p for p in CASSETTES if p.stem == "audio_turn")
    frames = load_cassette(path).frames

    async def one(server: FakeRealtimeServer) -> list[Any]:
        async with client(server) as ws:
            return await drive(ws, frames)

    async with FakeRealtimeServer(path) as server:
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(one(server) for _ in range(50)))
    expected = expected_server(frames)
    assert all(got == expected for got in results)
    assert len(server.results) == 50
    server.verdict()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("this is not json", "invalid_json"),
        (b"\x00\x01\x02", "binary_frame_not_supported"),
        (
            '{"type": "response.create", "pad": "' + "a" * (10 * 1024 * 1024) + '"}',
            "frame_too_large",
        ),
        ('{"type": "conversation.item.teleport"}', "invalid_value"),
    ],
    ids=["not-json", "binary", "10MB", "unknown-type"],
)
async def test_malformed_input_gets_an_error_event_and_the_server_stays_up(
    message: str | bytes, code: str
) -> None:
    path, frames = text_turn()
    async with FakeRealtimeServer(path) as server:
        async with client(server) as ws:
            assert (await recv_event(ws))["type"] == "session.created"
            await ws.send(message)
            error = await recv_event(ws)
            assert error["type"] == "error" and error["event_id"]
            assert error["error"]["type"] == "invalid_request_error"
            assert error["error"]["code"] == code
            # the same connection goes on
            await open_session(ws, frames)
        # and a new connection replays from the start
        async with client(server) as ws:
            assert (await recv_event(ws))["type"] == "session.created"
    assert (
        server.mismatches[0]
        .report.split(": ", 1)[1]
        .startswith(f"client sent malformed input ({code})")
    )


async def test_frames_never_played_by_close_are_reported() -> None:
    path, _ = text_turn()
    async with FakeRealtimeServer(path) as server, client(server) as ws:
        assert (await recv_event(ws))["type"] == "session.created"
    (unplayed,) = server.unplayed
    assert unplayed.count == 21  # the client's close matched the recorded one
    assert unplayed.report.splitlines()[0] == (
        f"{path}:3: 21 recorded frames never played on conn 0 (connection 0)"
    )
    with pytest.raises(UnplayedFrames) as info:
        server.verdict()
    assert str(info.value) == unplayed.report


async def test_handshake_without_credentials_is_refused_with_401_json() -> None:
    path, _ = text_turn()
    async with FakeRealtimeServer(path) as server:
        with pytest.raises(InvalidStatus) as info:
            async with client(server, additional_headers={}):
                pass
    response = info.value.response
    assert response.status_code == 401
    body = _json.loads(response.body)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("You didn't provide an API key.")


async def test_handshake_outside_v1_realtime_is_404() -> None:
    path, _ = text_turn()
    async with FakeRealtimeServer(path) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                server.url.replace("/v1/realtime", "/v1/chat"),
                additional_headers=AUTH,
                open_timeout=TIMEOUT,
            ):
                pass
    assert info.value.response.status_code == 404
    assert _json.loads(info.value.response.body)["error"]["code"] == "unknown_url"


async def test_any_path_under_v1_realtime_is_accepted() -> None:
    path, _ = text_turn()
    async with FakeRealtimeServer(path) as server:
        url = f"ws://127.0.0.1:{server.port}/v1/realtime/calls?model=x"
        async with connect(url, additional_headers=AUTH, open_timeout=TIMEOUT) as ws:
            assert (await recv_event(ws))["type"] == "session.created"


async def test_browser_subprotocols_select_realtime_and_the_key_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-planted-secret-0123456789"
    path, _ = text_turn()
    caplog.set_level(logging.DEBUG)
    async with FakeRealtimeServer(path) as server:
        async with connect(
            server.url,
            subprotocols=["realtime", f"openai-insecure-api-key.{key}"],
            open_timeout=TIMEOUT,
        ) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "realtime"
            assert (await recv_event(ws))["type"] == "session.created"
        async with client(server) as ws:  # the Python SDKs offer no subprotocol
            assert ws.subprotocol is None
        async with connect(
            server.url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=TIMEOUT
        ):
            pass
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("harness")]
    assert any("Authorization: Bearer <redacted:authorization_header>" in m for m in ours)
    assert any("openai-insecure-api-key.<redacted:api_key_subprotocol>" in m for m in ours)
    assert not any(key in m for m in ours)
    assert key not in server.report()


async def test_a_loaded_cassette_value_serves_too() -> None:
    frames = (
        Frame.of_event("server", 0.0, 0, {"type": "session.created", "event_id": "e1"}),
        Frame.of_close("server", 0.1, 0, 1000, "bye"),
    )
    async with FakeRealtimeServer(Cassette(Header(), frames)) as server, client(server) as ws:
        got = await drive(ws, frames)
    assert got == [{"type": "session.created", "event_id": "e1"}, ("close", 1000, "bye")]
    server.verdict()


async def test_a_cassette_of_two_connections_serves_them_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "first"})
        w.event("server", 0.0, 1, {"type": "session.created", "event_id": "second"})
    async with FakeRealtimeServer(path) as server:
        ids = []
        for _ in range(3):
            async with client(server) as ws:
                ids.append((await recv_event(ws))["event_id"])
    assert ids == ["first", "second", "first"]


GOOD_HEADER = '{"format": "realtime-harness-cassette", "version": 1}'
GOOD_FRAME = '{"side": "server", "t": 0.5, "conn": 0, "event": {"type": "a", "event_id": "e"}}'


@pytest.mark.parametrize(
    ("lines", "lineno", "reason"),
    [
        ([GOOD_HEADER, GOOD_FRAME, "{not json"], 3, "not JSON: "),
        (
            ['{"format": "realtime-harness-cassette", "version": 7}'],
            1,
            "unsupported cassette version 7",
        ),
        ([GOOD_HEADER, GOOD_FRAME.replace('"server"', '"relay"')], 2, "unknown side 'relay'"),
        (
            [GOOD_HEADER, '{"side": "server", "t": 0, "conn": 0}'],
            2,
            "missing field: one of 'event', 'binary' or 'close'",
        ),
        (
            [GOOD_HEADER, GOOD_FRAME, GOOD_FRAME.replace("0.5", "0.25")],
            3,
            "time goes backwards on conn 0: t=0.25 after t=0.5",
        ),
        ([GOOD_FRAME, GOOD_HEADER], 1, "frame before the header"),
        ([GOOD_HEADER, GOOD_FRAME, GOOD_FRAME[:30]], 3, "torn last line"),
    ],
    ids=["not-json", "version", "side", "missing-field", "time-backwards", "frame-first", "torn"],
)
@pytest.mark.parametrize("preload_limit", [64 << 20, 0], ids=["loaded", "streamed"])
def test_a_bad_cassette_fails_when_the_server_is_made(
    tmp_path: Path, lines: list[str], lineno: int, reason: str, preload_limit: int
) -> None:
    path = tmp_path / "bad.jsonl"
    text = "\n".join(lines)
    path.write_text(text if reason == "torn last line" else text + "\n")
    with pytest.raises(CassetteError) as info:
        FakeRealtimeServer(path, preload_limit=preload_limit)
    assert info.value.lineno == lineno
    assert str(info.value).startswith(f"{path}:{lineno}: {reason}")


async def test_url_names_the_cassette_model() -> None:
    path, _ = text_turn()
    async with FakeRealtimeServer(path) as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
        assert server.base_url == f"ws://127.0.0.1:{server.port}/v1"


async def test_simulate_serves_one_session_per_connection() -> None:
    history = [
        {
            "id": "item_a",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hello"}],
        }
    ]
    async with FakeRealtimeServer.simulate(history) as server:
        async with client(server) as ws:
            created = await recv_event(ws)
            assert created["type"] == "session.created" and created["event_id"]
            await ws.send(
                _json.dumps_str(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "id": "item_b",
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "again"}],
                        },
                    }
                )
            )
            added = await recv_event(ws)
            assert added["type"] == "conversation.item.added"
            assert added["previous_item_id"] == "item_a"
            assert (await recv_event(ws))["type"] == "conversation.item.done"
            await ws.send("not json")
            assert (await recv_event(ws))["error"]["code"] == "invalid_json"
        async with client(server) as ws:
            await recv_event(ws)
    first, second = server.sessions
    assert [item["id"] for item in first.conversation.items] == ["item_a", "item_b"]
    assert [item["id"] for item in second.conversation.items] == ["item_a"]


async def test_simulate_keeps_the_newest_client_events_of_each_session() -> None:
    async with FakeRealtimeServer.simulate(keep_received=2) as server:
        async with client(server) as ws:
            await recv_event(ws)  # session.created
            for n in range(5):
                await ws.send(
                    _json.dumps_str({"type": "input_audio_buffer.clear", "event_id": f"e{n}"})
                )
                assert (await recv_event(ws))["type"] == "input_audio_buffer.cleared"
    [session] = server.sessions
    assert [e["event_id"] for e in session.received] == ["e3", "e4"]
    assert session.received_count == 5
    with pytest.raises(UsageError, match="keep_received must be >= 0 or None, got -1"):
        FakeRealtimeServer.simulate(keep_received=-1)


async def test_a_recorded_refused_handshake_replays_as_that_http_refusal(tmp_path: Path) -> None:
    path = tmp_path / "refused.jsonl"
    body = '{"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}'
    with CassetteWriter(path, Header()) as w:
        w.write(refusal_frame(0, 0.0, Refusal(401, "Unauthorized", body)))
    async with FakeRealtimeServer(path) as server:
        with pytest.raises(InvalidStatus) as info:
            async with client(server):
                pass
    response = info.value.response
    assert (response.status_code, response.body.decode()) == (401, body)
    assert response.headers["Content-Type"] == "application/json"
    server.verdict()
    assert len(server.results) == 1


async def test_a_close_answering_the_servers_is_not_the_recorded_client_close() -> None:
    path, frames = text_turn()
    async with FakeRealtimeServer(path) as server:
        ws = await connect(server.url, additional_headers=AUTH, open_timeout=TIMEOUT)
        await drive(ws, frames[:-1])  # everything but the client's close
    # leaving the server closed the connection (1001); the client only answered
    async with asyncio.timeout(TIMEOUT):
        await ws.wait_closed()
    (unplayed,) = server.unplayed
    assert unplayed.count == 1
    assert unplayed.report.splitlines()[1] == "  line 24: client close 1000 (t=0.683)"
