"""Nothing a recording does destroys a cassette: sound recordings replace it, others do not.

Over real sockets on 127.0.0.1: the scripted upstream (``recorder_support``), one that
refuses (HTTP 401), and an unreachable one (a port bound and released). Each failure must
leave the old cassette byte-identical, keep the attempt in ``NAME.failed.jsonl``, and say
why in one line (the refusal: status and reason, no secret).
"""

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
    unreachable_url,
    write_good_cassette,
)
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from harness.cassette import Side, load_cassette
from harness.errors import RecordingError, TransportError, UsageError
from harness.recorder import RecordingProxy
from harness.recording import side_files
from harness.refusal import parse_refusal
from harness.server import FakeRealtimeServer
from harness.tap import TransportTap
from harness.transport import OpenAIRealtimeWebSocket


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with serve_upstream() as up:
        yield up


async def _one_turn(url: str) -> None:
    """A client that connects, reads the greeting, says something and closes."""
    async with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "note", "text": "hello"}))
        await ws.recv()


async def _refused(url: str) -> int:
    """A client whose handshake is refused; the HTTP status it got."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}):
            pass
    return info.value.response.status_code


def test_side_files_sit_beside_the_cassette() -> None:
    assert side_files("cassettes/greeting.jsonl") == (
        "cassettes/greeting.recording.jsonl",
        "cassettes/greeting.failed.jsonl",
    )
    assert side_files("x") == ("x.recording.jsonl", "x.failed.jsonl")


# -- the proxy ------------------------------------------------------------------------------


@pytest.mark.parametrize("append", [False, True], ids=["overwrite", "append"])
async def test_unreachable_upstream_leaves_the_cassette_byte_identical(
    tmp_path: Path, append: bool
) -> None:
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    url = await unreachable_url()
    with pytest.raises(RecordingError) as failed:
        async with (
            asyncio.timeout(TIMEOUT),
            RecordingProxy(url, cassette, append=append) as proxy,
        ):
            assert await _refused(proxy.url) == 502
    assert cassette.read_bytes() == old
    side = tmp_path / "c.failed.jsonl"
    assert failed.value.failed_path == str(side)
    message = str(failed.value)
    assert message.startswith(
        f"{cassette}: recording failed: no connection completed its handshake with the "
        f"upstream; conn {int(append)}: harness.RecordingProxy could not open the upstream "
        f"connection to {url}: ConnectionRefusedError"
    )
    assert message.endswith(
        f"(the client got HTTP 502); the cassette is unchanged; the attempt is in {side}"
    )
    assert "\n" not in message and API_KEY not in message
    # The attempt: when appending, the old lines and then the refused connection.
    attempt = side.read_bytes()
    if append:
        assert attempt.startswith(old)
    frames = recorded_frames(side)
    refusal = parse_refusal(frames[-1])
    assert refusal is not None and refusal.status == 502
    assert len(frames) == (4 if append else 1)
    assert not (tmp_path / "c.recording.jsonl").exists()
    assert API_KEY not in attempt.decode()


async def test_an_upstream_that_never_answers_times_out_and_fails_the_recording(
    tmp_path: Path,
) -> None:
    # It accepts the TCP connection and says nothing: the proxy answers 504 itself.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the proxy gives up and closes
        writer.close()

    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        with pytest.raises(RecordingError) as failed:
            async with (
                asyncio.timeout(TIMEOUT),
                RecordingProxy(url, cassette, open_timeout=0.2) as proxy,
            ):
                assert await _refused(proxy.url) == 504
    assert cassette.read_bytes() == old
    assert "could not open the upstream connection to " in str(failed.value)
    assert ": TimeoutError: " in str(failed.value)
    assert "(the client got HTTP 504)" in str(failed.value)
    (frame,) = recorded_frames(tmp_path / "c.failed.jsonl")
    assert frame.close_code == 4504


async def test_upstream_refusal_leaves_the_cassette_byte_identical(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.refuse = 401
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    with pytest.raises(RecordingError) as failed:
        async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
            assert await _refused(proxy.url) == 401
            assert await _refused(proxy.url) == 401
    assert cassette.read_bytes() == old
    side = tmp_path / "c.failed.jsonl"
    assert str(failed.value) == (
        f"{cassette}: recording failed: no connection completed its handshake with the "
        "upstream; conn 0: the upstream refused the handshake: HTTP 401 Unauthorized: "
        "Incorrect API key; conn 1: the upstream refused the handshake: HTTP 401 "
        f"Unauthorized: Incorrect API key; the cassette is unchanged; the attempt is in {side}"
    )
    assert [f.close_code for f in recorded_frames(side)] == [4401, 4401]


async def test_the_refusal_message_never_shows_a_secret(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"

    def refuse(ws: ServerConnection, request: Request) -> Response:
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {API_KEY}."}})
        return ws.respond(401, body)

    async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0, process_request=refuse) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        with pytest.raises(RecordingError) as failed:
            async with (
                asyncio.timeout(TIMEOUT),
                RecordingProxy(f"ws://127.0.0.1:{port}/v1/realtime", cassette) as proxy,
            ):
                assert await _refused(proxy.url) == 401
    assert "HTTP 401 Unauthorized: Incorrect API key provided: <redacted:openai_api_key>." in str(
        failed.value
    )
    assert API_KEY not in str(failed.value)
    assert API_KEY not in (tmp_path / "c.failed.jsonl").read_text()


@pytest.mark.parametrize("append", [False, True], ids=["overwrite", "append"])
async def test_a_sound_recording_replaces_the_cassette_and_leaves_no_side_file(
    upstream: Upstream, tmp_path: Path, append: bool
) -> None:
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    (tmp_path / "c.failed.jsonl").write_text("an earlier failure\n")
    async with (
        asyncio.timeout(TIMEOUT),
        RecordingProxy(upstream.url, cassette, append=append) as proxy,
    ):
        await _one_turn(proxy.url)
        await upstream.done.wait()
        assert cassette.read_bytes() == old  # nothing replaced before the proxy closes
    assert proxy.failure is None and proxy.handshakes == 1
    new = cassette.read_bytes()
    loaded = load_cassette(cassette)
    if append:
        # The old lines byte for byte, then the new connection.
        assert new.startswith(old)
        assert loaded.conns() == (0, 1)
        assert loaded.header.note == "the good one"
    else:
        assert loaded.conns() == (0,)
        assert b"ev_old" not in new
    assert [f.event["type"] for f in loaded.frames if f.conn == int(append) and f.event] == [
        "session.created",
        "note",
        "echo",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.failed.jsonl", "c.jsonl"]
    assert (tmp_path / "c.failed.jsonl").read_text() == "an earlier failure\n"


async def test_a_refusal_beside_a_completed_handshake_is_a_faithful_recording(
    upstream: Upstream, tmp_path: Path
) -> None:
    # One connection completed its handshake: sound. The 401 is recorded as what it was.
    cassette = tmp_path / "c.jsonl"
    async with asyncio.timeout(TIMEOUT), RecordingProxy(upstream.url, cassette) as proxy:
        upstream.refuse = 401
        assert await _refused(proxy.url) == 401
        upstream.refuse = None
        await _one_turn(proxy.url)
        await upstream.done.wait()
    frames = load_cassette(cassette).frames
    assert parse_refusal(frames[0]) is not None and frames[0].conn == 0
    assert {f.conn for f in frames[1:]} == {1}


async def test_an_unreachable_upstream_fails_even_a_recording_with_a_good_connection(
    tmp_path: Path,
) -> None:
    # The proxy's own 502 is no recording of that connection: the whole recording fails.
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    with pytest.raises(RecordingError) as failed:
        async with asyncio.timeout(TIMEOUT):
            async with serve_upstream() as upstream:
                proxy = RecordingProxy(upstream.url, cassette)
                await proxy.start()
                await _one_turn(proxy.url)
                await upstream.done.wait()
            async with proxy:  # the upstream is gone: its port is closed
                assert await _refused(proxy.url) == 502
    assert cassette.read_bytes() == old
    assert str(failed.value).startswith(
        f"{cassette}: recording failed: conn 1: harness.RecordingProxy could not open"
    )
    assert load_cassette(tmp_path / "c.failed.jsonl").conns() == (0, 1)


async def test_nobody_connecting_while_appending_leaves_the_cassette_alone(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    async with RecordingProxy(await unreachable_url(), cassette, append=True) as proxy:
        assert (tmp_path / "c.recording.jsonl").read_bytes() == old  # the staging copy
    assert proxy.failure is None
    assert cassette.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


async def test_a_cassette_path_that_is_a_directory_is_refused_before_listening(
    tmp_path: Path,
) -> None:
    proxy = RecordingProxy("ws://127.0.0.1:9/v1/realtime", tmp_path)
    with pytest.raises(UsageError) as info:
        await proxy.start()
    assert str(info.value) == (
        f"{tmp_path} is a directory: give the cassette's file name, e.g. "
        f"{tmp_path / 'session.jsonl'}"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_busy_or_impossible_port_is_a_usage_error(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    async with FakeRealtimeServer.simulate() as busy:
        port = int(busy.url.split(":")[2].split("/")[0])
        proxy = RecordingProxy(busy.url, cassette, port=port)
        with pytest.raises(UsageError) as info:
            await proxy.start()
    assert str(info.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"
    assert list(tmp_path.iterdir()) == []  # nothing reserved
    with pytest.raises(UsageError) as info:
        RecordingProxy("ws://127.0.0.1:9/v1/realtime", cassette, port=99999)
    assert str(info.value) == "port 99999 is out of range: give 1-65535, or 0 for any free port"


async def test_the_body_s_own_exception_is_not_hidden_by_the_failure(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    with pytest.raises(ZeroDivisionError):
        async with RecordingProxy(await unreachable_url(), cassette) as proxy:
            assert await _refused(proxy.url) == 502
            1 / 0  # noqa: B018
    assert cassette.read_bytes() == old
    assert proxy.failure is not None
    assert proxy.failure.failed_path == str(tmp_path / "c.failed.jsonl")


# -- the transport tap ----------------------------------------------------------------------


async def _tap_turn(tap: TransportTap, url: str) -> None:
    transport = OpenAIRealtimeWebSocket(api_key=API_KEY, create_websocket=tap)
    async with asyncio.timeout(TIMEOUT):
        await transport.connect(url=url, model="gpt-realtime")
        await transport.aclose()


async def test_tap_with_an_unreachable_upstream_leaves_the_cassette_byte_identical(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "tap.jsonl"
    old = write_good_cassette(cassette)
    url = await unreachable_url()
    with pytest.raises(RecordingError) as failed, TransportTap(cassette) as tap:
        with pytest.raises(TransportError):
            await _tap_turn(tap, url)
    assert cassette.read_bytes() == old
    side = tmp_path / "tap.failed.jsonl"
    message = str(failed.value)
    assert message.startswith(
        f"{cassette}: recording failed: no connection completed its handshake with the "
        f"upstream; conn 0: could not open the connection to {url}: "
    )
    assert message.endswith(f"; the cassette is unchanged; the attempt is in {side}")
    assert load_cassette(side).frames == ()  # the header: nothing reached the wire


async def test_tap_with_a_refusing_upstream_leaves_the_cassette_byte_identical(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.refuse = 401
    cassette = tmp_path / "tap.jsonl"
    old = write_good_cassette(cassette)
    with (
        pytest.raises(RecordingError) as failed,
        TransportTap(cassette, append=True) as tap,
    ):
        with pytest.raises(TransportError):
            await _tap_turn(tap, upstream.url)
    assert cassette.read_bytes() == old
    assert "conn 1: the upstream refused the handshake: HTTP 401 Unauthorized" in str(failed.value)
    attempt = (tmp_path / "tap.failed.jsonl").read_bytes()
    assert attempt.startswith(old)  # appending: the copy, then the refusal
    assert parse_refusal(recorded_frames(tmp_path / "tap.failed.jsonl")[-1]) is not None


@pytest.mark.parametrize("append", [False, True], ids=["overwrite", "append"])
async def test_tap_replaces_the_cassette_when_sound(tmp_path: Path, append: bool) -> None:
    cassette = tmp_path / "tap.jsonl"
    old = write_good_cassette(cassette)
    async with FakeRealtimeServer.simulate() as upstream:
        with TransportTap(cassette, append=append) as tap:
            await _tap_turn(tap, upstream.url)
            assert cassette.read_bytes() == old
            assert (tmp_path / "tap.recording.jsonl").exists()
    assert tap.failure is None
    loaded = load_cassette(cassette)
    assert loaded.conns() == ((0, 1) if append else (0,))
    assert cassette.read_bytes().startswith(old) is append
    assert loaded.frames[-1].side is Side.CLIENT and loaded.frames[-1].close_code == 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tap.jsonl"]
