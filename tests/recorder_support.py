"""Shared by the recorder tests: a tiny scripted upstream, and how to read what was recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from harness.cassette import CassetteWriter, Frame, Header, load_cassette
from harness.redaction import RedactionRules
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
            kind = event.get("type") if isinstance(event, dict) else None
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


@asynccontextmanager
async def serve_upstream() -> AsyncIterator[Upstream]:
    """The scripted upstream on 127.0.0.1 port 0 (``up.url``; ``up.refuse = 401`` refuses)."""
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


def recorded_frames(path: Path) -> list[Frame]:
    return list(load_cassette(path).frames)


def shape(frame: Frame) -> tuple[str, int, Any]:
    if frame.event is not None:
        return (frame.side.value, frame.conn, frame.event.get("type"))
    if frame.binary is not None:
        return (frame.side.value, frame.conn, frame.binary)
    return (frame.side.value, frame.conn, ("close", frame.close_code, frame.close_reason))


async def converse(url: str, **options: Any) -> list[dict[str, Any]]:
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


def as_recorded(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = RedactionRules.default()
    return [rules.redact_event(event).value for event in events]


def write_good_cassette(path: Path) -> bytes:
    """A good one-connection cassette at ``path``; returns its bytes (to compare after)."""
    with CassetteWriter(path, Header(note="the good one")) as writer:
        writer.event("server", 0.0, 0, {"type": "session.created", "event_id": "ev_old"})
        writer.event("client", 0.25, 0, {"type": "session.update", "session": {}})
        writer.write_close("client", 0.5, 0, 1000, "")
    return path.read_bytes()


async def unreachable_url() -> str:
    """The URL of a port that was free a moment ago: nothing listens there."""
    async with serve(lambda ws: asyncio.sleep(0), "127.0.0.1", 0) as closed_server:
        port = next(iter(closed_server.sockets)).getsockname()[1]
    return f"ws://127.0.0.1:{port}/v1/realtime"
