"""Ids the client mints are rebound in replay: the core, then real clients over real sockets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from harness import OpenAIRealtimeWebSocket, TransportTap
from harness.cassette import Frame, Side
from harness.items import InputText, MessageItem
from harness.rebinding import IdBindings, minted_ids
from harness.replay import OutKind, Replay, prepare
from harness.server import FakeRealtimeServer

TIMEOUT = 10
AUTH = {"Authorization": "Bearer test"}


# -- the core ------------------------------------------------------------------------------


def test_minted_ids_are_the_ids_that_differ_under_id_keys() -> None:
    recorded = {
        "type": "conversation.item.create",
        "event_id": "evt_rec",
        "previous_item_id": "item_rec_0",
        "item": {"id": "item_rec_1", "type": "message", "content": [{"text": "same"}]},
    }
    received = {
        "type": "conversation.item.create",
        "event_id": "evt_cli",
        "previous_item_id": "item_cli_0",
        "item": {"id": "item_cli_1", "type": "message", "content": [{"text": "same"}]},
    }
    assert sorted(minted_ids(recorded, received)) == [
        ("evt_rec", "evt_cli"),
        ("item_rec_0", "item_cli_0"),
        ("item_rec_1", "item_cli_1"),
    ]


def test_positions_placeholders_and_other_fields_are_never_bound() -> None:
    recorded = {
        "previous_item_id": "root",
        "item": {"id": "<redacted:x>", "name": "a"},
        "call_id": "",
        "text": "x",
    }
    received = {"previous_item_id": "item_7", "item": {"id": "k", "name": "b"}, "text": "y"}
    assert minted_ids(recorded, received) == []


def test_outbound_replaces_whole_strings_equal_to_a_bound_id_only() -> None:
    ids = IdBindings()
    assert not ids
    untouched = b'{"type":"x","item":{"id":"item_rec"}}'
    assert ids.outbound(untouched) is untouched  # nothing bound: the same bytes
    ids.bind({"item": {"id": "item_rec"}}, {"item": {"id": "item_cli"}})
    assert ids.bound == {"item_rec": "item_cli"}
    sent = ids.outbound(
        b'{"type":"conversation.item.added","previous_item_id":"item_rec",'
        b'"item":{"id":"item_rec","content":[{"text":"item_rec is mine"}]},'
        b'"output":[{"item_id":"item_rec"}]}'
    )
    assert json.loads(sent) == {
        "type": "conversation.item.added",
        "previous_item_id": "item_cli",
        "item": {"id": "item_cli", "content": [{"text": "item_rec is mine"}]},
        "output": [{"item_id": "item_cli"}],
    }
    other = b'{"type":"response.output_audio.delta","item_id":"item_srv","delta":"AAAA"}'
    assert ids.outbound(other) is other  # no bound id in it: not decoded, not re-encoded


def test_inbound_maps_the_clients_ids_back_and_a_rebinding_replaces_the_old_one() -> None:
    ids = IdBindings()
    ids.bind({"item": {"id": "rec"}}, {"item": {"id": "cli_1"}})
    assert ids.inbound({"type": "conversation.item.delete", "item_id": "cli_1"}) == {
        "type": "conversation.item.delete",
        "item_id": "rec",
    }
    ids.bind({"item": {"id": "rec"}}, {"item": {"id": "cli_2"}})
    assert ids.bound == {"rec": "cli_2"}
    assert ids.inbound({"item_id": "cli_1"}) == {"item_id": "cli_1"}
    event = {"item_id": "other"}
    assert ids.inbound(event) is event


def _frames(*events: tuple[Side, dict[str, Any]]) -> list[Frame]:
    return [Frame.of_event(side, 0.001 * i, 0, event) for i, (side, event) in enumerate(events)]


def test_replay_rebinds_server_events_after_the_matched_client_event() -> None:
    frames = _frames(
        (Side.SERVER, {"type": "session.created", "event_id": "e0"}),
        (Side.CLIENT, {"type": "conversation.item.create", "item": {"id": "rec_a", "k": 1}}),
        (Side.SERVER, {"type": "conversation.item.added", "item": {"id": "rec_a", "k": 1}}),
        (Side.SERVER, {"type": "rate_limits.updated", "event_id": "e2"}),
        (Side.CLIENT, {"type": "conversation.item.delete", "item_id": "rec_a"}),
        (Side.SERVER, {"type": "conversation.item.deleted", "item_id": "rec_a"}),
    )
    prepared = [prepare(f) for f in frames]
    replay = Replay(iter(prepared))
    replay.connect(0.0)
    first = replay.next_to_send()
    assert first is not None and first.data is prepared[0].data
    replay.receive_text('{"type":"conversation.item.create","item":{"id":"cli_a","k":1}}', 0.1)
    added, limits = replay.next_to_send(), replay.next_to_send()
    assert added is not None and limits is not None
    assert json.loads(added.data)["item"]["id"] == "cli_a"
    assert limits.data is prepared[3].data  # mentions no bound id: the pre-encoded bytes
    replay.receive_text('{"type":"conversation.item.delete","item_id":"cli_a"}', 0.2)
    deleted = replay.next_to_send()
    assert deleted is not None and deleted.kind is OutKind.TEXT
    assert json.loads(deleted.data) == {"type": "conversation.item.deleted", "item_id": "cli_a"}
    assert replay.mismatches == ()


# -- a raw client that mints uuid4 ids, over a real socket ---------------------------------------

REC_A, REC_B = "item_RECORDEDaaaaaaaaaaaaa", "item_RECORDEDbbbbbbbbbbbbb"


def _message(item_id: str, text: str, previous: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "event_id": f"evt_{item_id}",
        "item": {
            "id": item_id,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }
    if previous is not None:
        event["previous_item_id"] = previous
    return event


def _echo(kind: str, item_id: str, text: str, previous: str | None) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"event_{kind}_{item_id}",
        "previous_item_id": previous,
        "item": {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def _write_cassette(path: Path) -> None:
    """A session with two client-minted items, a truncate and a delete, as recorded."""
    server_frames: list[tuple[str, dict[str, Any]]] = [
        ("server", {"type": "session.created", "event_id": "event_0", "session": {}}),
        ("client", _message(REC_A, "first")),
        ("server", _echo("conversation.item.added", REC_A, "first", None)),
        ("server", _echo("conversation.item.done", REC_A, "first", None)),
        ("client", _message(REC_B, "second", previous=REC_A)),
        ("server", _echo("conversation.item.added", REC_B, "second", REC_A)),
        ("server", _echo("conversation.item.done", REC_B, "second", REC_A)),
        (
            "client",
            {
                "type": "conversation.item.truncate",
                "item_id": REC_B,
                "content_index": 0,
                "audio_end_ms": 0,
            },
        ),
        (
            "server",
            {
                "type": "conversation.item.truncated",
                "event_id": "event_t",
                "item_id": REC_B,
                "content_index": 0,
                "audio_end_ms": 0,
            },
        ),
        ("client", {"type": "conversation.item.delete", "item_id": REC_A}),
        (
            "server",
            {"type": "conversation.item.deleted", "event_id": "event_d", "item_id": REC_A},
        ),
    ]
    header = {
        "format": "realtime-harness-cassette",
        "version": 1,
        "made": "synthesized",
        "created": "2026-12-02T00:00:00Z",
        "endpoint": {"path": "/v1/realtime", "query": {"model": "gpt-realtime"}},
        "client": "tests/test_rebinding.py",
        "redactions": [],
    }
    lines = [json.dumps(header)]
    for i, (side, event) in enumerate(server_frames):
        lines.append(json.dumps({"side": side, "t": i / 1000, "conn": 0, "event": event}))
    path.write_text("\n".join(lines) + "\n")


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await ws.recv())
    return event


@pytest.mark.parametrize("preload_limit", [64 * 2**20, 0], ids=["preloaded", "streamed"])
async def test_a_raw_client_minting_uuid4_ids_sees_its_own_ids_echoed(
    tmp_path: Path, preload_limit: int
) -> None:
    cassette = tmp_path / "minted.jsonl"
    _write_cassette(cassette)
    a, b = f"item_{uuid.uuid4().hex}", f"item_{uuid.uuid4().hex}"
    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer(cassette, preload_limit=preload_limit) as server:
            async with connect(server.url, additional_headers=AUTH) as ws:
                assert (await _recv(ws))["type"] == "session.created"
                await ws.send(json.dumps(_message(a, "first")))
                added, done = await _recv(ws), await _recv(ws)
                await ws.send(json.dumps(_message(b, "second", previous=a)))
                added_b, done_b = await _recv(ws), await _recv(ws)
                truncate = {
                    "type": "conversation.item.truncate",
                    "item_id": b,
                    "content_index": 0,
                    "audio_end_ms": 0,
                }
                await ws.send(json.dumps(truncate))
                truncated = await _recv(ws)
                await ws.send(json.dumps({"type": "conversation.item.delete", "item_id": a}))
                deleted = await _recv(ws)
        server.verdict()
    assert [added["item"]["id"], done["item"]["id"]] == [a, a]
    assert [added_b["item"]["id"], added_b["previous_item_id"]] == [b, a]
    assert [done_b["item"]["id"], done_b["previous_item_id"]] == [b, a]
    assert truncated["item_id"] == b
    assert deleted == {"type": "conversation.item.deleted", "event_id": "event_d", "item_id": a}
    # Whole strings only: a server event id that merely contains a recorded id is kept.
    assert added["event_id"] == "event_conversation.item.added_" + REC_A


async def test_a_client_without_minted_ids_gets_the_recorded_bytes(tmp_path: Path) -> None:
    cassette = tmp_path / "minted.jsonl"
    _write_cassette(cassette)
    async with asyncio.timeout(TIMEOUT), FakeRealtimeServer(cassette) as server:
        async with connect(server.url, additional_headers=AUTH) as ws:
            await ws.recv()
            await ws.send(json.dumps(_message(REC_A, "first")))
            assert (await _recv(ws))["item"]["id"] == REC_A
    assert server.mismatches == []


# -- our transport: reset_history with items it was given -----------------------------------------


def _item(item_id: str, text: str) -> MessageItem:
    return MessageItem(item_id, "user", [InputText(text)], status="completed")


async def _session(
    url: str, ids: tuple[str, str], create_websocket: Any = None
) -> list[dict[str, Any]]:
    """reset_history: add a, add b after it, delete a; every server event the transport saw."""
    a, b = _item(ids[0], "first"), _item(ids[1], "second")
    seen: list[dict[str, Any]] = []
    arrived = asyncio.Queue[str]()

    def on_any(raw: Any) -> None:
        event = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
        seen.append(event)
        arrived.put_nowait(event["type"])

    async def wait_for(kind: str) -> None:
        while await arrived.get() != kind:
            pass

    transport = OpenAIRealtimeWebSocket(api_key="test", create_websocket=create_websocket)
    transport.on("*", on_any)
    await transport.connect(url=url, model="gpt-realtime")
    await wait_for("session.updated")
    steps: list[tuple[list[MessageItem], list[MessageItem], str]] = [
        ([], [a], "conversation.item.done"),
        ([a], [a, b], "conversation.item.done"),
        ([a, b], [b], "conversation.item.deleted"),
    ]
    for old, new, answer in steps:
        transport.reset_history(old, new)
        await wait_for(answer)
    await transport.flush()
    await transport.aclose()
    return seen


def _ids_seen(seen: list[dict[str, Any]], pick: Callable[[dict[str, Any]], Any]) -> list[Any]:
    return [pick(e) for e in seen if e["type"].startswith("conversation.item.")]


async def test_our_transport_sees_the_ids_it_sent_and_its_creates_settle(tmp_path: Path) -> None:
    cassette = tmp_path / "transport.jsonl"
    recorded = (f"item_{uuid.uuid4().hex[:20]}", f"item_{uuid.uuid4().hex[:20]}")
    fresh = (f"item_{uuid.uuid4().hex[:20]}", f"item_{uuid.uuid4().hex[:20]}")
    async with asyncio.timeout(TIMEOUT):
        async with FakeRealtimeServer.simulate() as upstream:
            with TransportTap(cassette) as tap:
                await _session(upstream.url, recorded, create_websocket=tap)
        async with FakeRealtimeServer(cassette) as server:
            seen = await _session(server.url, fresh)
    # Every echo names the ids this run minted, none the recorded ones...
    assert _ids_seen(seen, lambda e: e.get("item", {}).get("id", e.get("item_id"))) == [
        fresh[0],  # added a
        fresh[0],  # done a
        fresh[1],  # added b
        fresh[1],  # done b
        fresh[0],  # deleted a
    ]
    assert [e.get("previous_item_id") for e in seen if e["type"] == "conversation.item.added"] == [
        None,
        fresh[0],
    ]
    # ...so the transport's pending creates settled: the second reset_history sent only the
    # create of b (a pending a would have been deleted and re-created), and the delete of a
    # it sent by its own id matched the recorded delete.
    server.verdict()
    assert not any(recorded[0] in json.dumps(e) or recorded[1] in json.dumps(e) for e in seen)
