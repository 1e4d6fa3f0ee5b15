"""The official ``openai`` Python client against FakeRealtimeServer, over a real socket.

The client connects to ``websocket_base_url + "/realtime?model=..."`` with a Bearer header
and no subprotocol; it must get through the handshake, parse every server event, and replay a
bundled cassette to a PASS verdict.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from harness import FakeRealtimeServer
from harness.cassette import Side, load_cassette

openai = pytest.importorskip(
    "openai", reason="the `openai` client is in the test extra: pip install -e '.[test]'"
)

CASSETTES = sorted((Path(__file__).resolve().parents[2] / "cassettes").glob("*.jsonl"))


def _client(server: FakeRealtimeServer) -> Any:
    return openai.AsyncOpenAI(api_key="sk-e2e-not-a-real-key", websocket_base_url=server.base_url)


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
async def test_openai_client_replays_bundled_cassette(path: Path) -> None:
    cassette = load_cassette(path)
    frames = [f for f in cassette.frames if f.conn == 0]
    async with FakeRealtimeServer(cassette) as server:
        client = _client(server)
        async with asyncio.timeout(10):
            async with client.realtime.connect(model=server.model) as connection:
                received: list[str] = []
                for frame in frames:
                    if frame.side is Side.CLIENT and frame.event is not None:
                        await connection.send(frame.event)  # type: ignore[arg-type]
                    elif frame.side is Side.SERVER and frame.event is not None:
                        event = await connection.recv()
                        received.append(event.type)
                        assert event.type == frame.event_type, (
                            f"{path.name}:{frame.lineno}: expected {frame.event_type}, "
                            f"got {event.type}"
                        )
                        # every server event carries an event_id (the SDKs need it)
                        assert getattr(event, "event_id", None)
                    elif frame.close_code is not None and frame.side is Side.SERVER:
                        # a recorded server close (1011) reaches the client as a close
                        with pytest.raises(ConnectionClosed) as closed:
                            await connection.recv()
                        assert closed.value.rcvd is not None
                        assert closed.value.rcvd.code == frame.close_code
                        break
                    else:
                        break  # the client's own close: leave the context manager
        assert (
            received
            == [f.event_type for f in frames if f.side is Side.SERVER and f.event is not None][
                : len(received)
            ]
        )
    server.verdict()


async def test_openai_client_talks_to_simulated_session() -> None:
    async with FakeRealtimeServer.simulate() as server:
        client = _client(server)
        async with asyncio.timeout(10):
            async with client.realtime.connect(model="gpt-realtime") as connection:
                created = await connection.recv()
                assert created.type == "session.created"
                await connection.conversation.item.create(
                    item={
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hello"}],
                    }
                )
                await connection.response.create()
                types: list[str] = []
                while not types or types[-1] != "response.done":
                    types.append((await connection.recv()).type)
    assert types[:2] == ["conversation.item.added", "conversation.item.done"]
    assert "response.created" in types
    [session] = server.sessions
    [item] = session.conversation.items
    assert item["content"] == [{"type": "input_text", "text": "hello"}]
