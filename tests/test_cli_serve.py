"""``serve``: a subprocess serving cassettes to a real client; signals delivered for real."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from _serve import Served
from _serve import serve as serve_subprocess
from websockets.asyncio.client import ClientConnection, connect

from harness.cassette import Side, load_cassette
from harness.transport import OpenAIRealtimeWebSocket

CASSETTES = Path(__file__).parent.parent / "cassettes"
TEXT_TURN = CASSETTES / "text_turn.jsonl"
SERVER_ERROR = CASSETTES / "server_error.jsonl"
AUTH = {"Authorization": "Bearer test-key"}
WAIT = 30.0  # every wait on the child is bounded by this


def serve(*args: str) -> AbstractAsyncContextManager[Served]:
    return serve_subprocess(*args, wait=WAIT)


async def play(ws: ClientConnection, cassette: Path, *, change_text: bool = False) -> None:
    """Play a one-connection cassette's client side, each frame after the server's before it."""
    for frame in load_cassette(cassette).frames:
        if frame.side is Side.SERVER:
            if frame.event is not None:
                async with asyncio.timeout(WAIT):
                    received = json.loads(await ws.recv())
                assert received["type"] == frame.event_type
            continue
        if frame.event is not None:
            event = frame.event
            if change_text and event["type"] == "conversation.item.create":
                event = json.loads(json.dumps(event).replace("France", "Spain"))
            await ws.send(json.dumps(event))
        elif frame.close_code is not None:
            await ws.close(frame.close_code, frame.close_reason)
            return


async def test_once_serves_one_session_to_a_real_client_and_passes() -> None:
    async with serve(str(TEXT_TURN), "--once") as served:
        (url,) = served.urls
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime?model=gpt-realtime")
        assert served.base_urls == [url.split("/realtime?")[0]]
        async with connect(url, additional_headers=AUTH) as ws:
            await play(ws, TEXT_TURN)
        status, out, err = await served.finish()
    assert (status, err) == (0, "")
    assert out == f"PASS: {TEXT_TURN}: 1 connection played every recorded frame\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_ends_serve_with_the_verdict(sig: signal.Signals) -> None:
    async with serve(str(TEXT_TURN)) as served:
        async with connect(served.urls[0], additional_headers=AUTH) as ws:
            await play(ws, TEXT_TURN)
        served.proc.send_signal(sig)
        status, out, err = await served.finish()
    assert (status, err) == (0, "")
    assert out.startswith(f"PASS: {TEXT_TURN}: 1 connection")


async def test_a_mismatch_fails_with_the_report_and_status_1() -> None:
    async with serve(str(TEXT_TURN)) as served:
        async with connect(served.urls[0], additional_headers=AUTH) as ws:
            with pytest.raises(AssertionError):  # the server answers the mismatch with an error
                await play(ws, TEXT_TURN, change_text=True)
        served.proc.send_signal(signal.SIGINT)
        status, out, _ = await served.finish()
    lines = out.splitlines()
    assert status == 1
    assert lines[0] == f"FAIL: {TEXT_TURN}"
    assert "does not match (conversation.item.create)" in lines[1]
    assert any("Spain" in line for line in lines), out


async def test_no_client_at_all_is_a_failure() -> None:
    async with serve(str(TEXT_TURN)) as served:
        served.proc.send_signal(signal.SIGINT)
        status, out, err = await served.finish()
    assert (status, err) == (1, "")
    assert out == f"FAIL: {TEXT_TURN}: no client connected, the cassette records 1\n"


async def test_several_cassettes_get_one_server_each_in_argument_order() -> None:
    async with serve(str(TEXT_TURN), str(SERVER_ERROR), "--once") as served:
        assert len(set(served.urls)) == 2
        for url, cassette in zip(served.urls, (TEXT_TURN, SERVER_ERROR), strict=True):
            async with connect(url, additional_headers=AUTH) as ws:
                await play(ws, cassette)
        status, out, _ = await served.finish()
    assert status == 0
    assert out.splitlines() == [
        f"PASS: {TEXT_TURN}: 1 connection played every recorded frame",
        f"PASS: {SERVER_ERROR}: 1 connection played every recorded frame",
    ]


async def test_simulate_once_answers_like_the_api_with_no_cassette() -> None:
    async with serve("--simulate", "--once") as served:
        async with connect(served.urls[0], additional_headers=AUTH) as ws:
            async with asyncio.timeout(WAIT):
                assert json.loads(await ws.recv())["type"] == "session.created"
                await ws.send(json.dumps({"type": "response.create"}))
                assert json.loads(await ws.recv())["type"] == "response.created"
        status, out, _ = await served.finish()
    assert (status, out) == (0, "served 1 connection (simulate)\n")


async def test_a_port_in_use_is_one_line_and_status_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "harness",
            "serve",
            str(TEXT_TURN),
            "--port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(WAIT):
            out, err = await proc.communicate()
    assert (proc.returncode, out) == (2, b"")
    assert err.decode() == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n")


async def test_our_transport_talks_to_serve_simulate() -> None:
    async with serve("--simulate", "--once") as served:
        transport = OpenAIRealtimeWebSocket(api_key="test-key")
        seen: list[str] = []
        got_update = asyncio.Event()

        def on_any(event: dict[str, object]) -> None:
            seen.append(str(event.get("type")))
            if event.get("type") == "session.updated":
                got_update.set()

        transport.on("*", on_any)
        async with asyncio.timeout(WAIT):
            await transport.connect(url=served.urls[0])
            await got_update.wait()  # the simulated session answered the transport's update
            await transport.aclose()
        status, out, _ = await served.finish()
    assert seen[:2] == ["session.created", "session.updated"]
    assert (status, out) == (0, "served 1 connection (simulate)\n")
