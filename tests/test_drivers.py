"""Drivers: the raw client and our transport play every bundled cassette, strictly."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from harness import _json
from harness.cassette import CassetteWriter, load_cassette
from harness.cli import main
from harness.drivers import DRIVERS, ClientKind, TimelineEntry, drive_transport
from harness.errors import CassetteMismatch, UsageError
from harness.server import FakeRealtimeServer
from harness.tap import TransportTap
from harness.transport import DEFAULT_OPENAI_REALTIME_MODEL, OpenAIRealtimeWebSocket

CASSETTES = sorted((Path(__file__).resolve().parent.parent / "cassettes").glob("*.jsonl"))
TIMEOUT = 10.0


async def play(path: Path, kind: ClientKind) -> tuple[FakeRealtimeServer, list[TimelineEntry]]:
    timeline: list[TimelineEntry] = []
    server = FakeRealtimeServer(path)
    async with server, asyncio.timeout(30):
        await DRIVERS[kind](server, server.cassette, timeline.append, TIMEOUT)
    return server, timeline


@pytest.mark.parametrize("kind", list(ClientKind))
@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
async def test_every_bundled_cassette_replays_exactly(path: Path, kind: ClientKind) -> None:
    server, timeline = await play(path, kind)
    server.verdict()  # no mismatch, nothing unplayed
    assert not [entry for entry in timeline if entry.unexpected]
    assert len(timeline) == len(load_cassette(path).frames)


async def test_the_transport_sends_its_own_frames_and_they_count_as_played() -> None:
    path = next(p for p in CASSETTES if p.stem == "interruption")
    server, timeline = await play(path, ClientKind.TRANSPORT)
    server.verdict()
    own = [e.label for e in timeline if e.label.endswith("(sent by the transport itself)")]
    # connect's session.update, the tracing update, the truncate on speech_started and the
    # retrieve after conversation.item.truncated
    assert [label.split()[0] for label in own] == [
        "session.update",
        "session.update",
        "conversation.item.truncate",
        "conversation.item.retrieve",
    ]


def without_line(source: Path, target: Path, event_type: str) -> Path:
    """``source`` minus the first frame of ``event_type``."""
    cassette = load_cassette(source)
    dropped = False
    with CassetteWriter(target, cassette.header) as writer:
        for frame in cassette.frames:
            if not dropped and frame.event_type == event_type:
                dropped = True
                continue
            writer.write(frame)
    assert dropped
    return target


async def test_a_frame_the_transport_sends_that_was_not_recorded_is_a_mismatch(
    tmp_path: Path,
) -> None:
    # A cassette whose client never sent the interruption's truncate: our transport does.
    source = next(p for p in CASSETTES if p.stem == "interruption")
    path = without_line(source, tmp_path / "no_truncate.jsonl", "conversation.item.truncate")
    server = FakeRealtimeServer(path)
    async with server, asyncio.timeout(30):
        await drive_transport(server, server.cassette, lambda entry: None, 2.0)
    with pytest.raises(CassetteMismatch) as info:
        server.verdict()
    assert "received conversation.item.truncate)" in str(info.value)


async def test_the_truncate_uses_the_recorded_clock() -> None:
    # audio_end_ms is computed from the cassette's times, so it equals the recorded value
    # however fast the replay runs.
    path = next(p for p in CASSETTES if p.stem == "interruption")
    recorded = next(
        f.event for f in load_cassette(path).frames if f.event_type == "conversation.item.truncate"
    )
    assert recorded is not None and recorded["audio_end_ms"] > 0
    server, _ = await play(path, ClientKind.TRANSPORT)
    server.verdict()  # the truncate matched field by field, audio_end_ms included


async def test_binary_client_frames_cannot_be_sent_by_the_transport(tmp_path: Path) -> None:
    source = next(p for p in CASSETTES if p.stem == "text_turn")
    cassette = load_cassette(source)
    path = tmp_path / "binary.jsonl"
    with CassetteWriter(path, cassette.header) as writer:
        for frame in cassette.frames:
            if frame.event_type == "conversation.item.create":
                writer.binary("client", frame.t, frame.conn, _json.dumps(frame.event))
            else:
                writer.write(frame)
    server = FakeRealtimeServer(path)
    with pytest.raises(UsageError, match="binary client frame, which the transport cannot send"):
        async with server, asyncio.timeout(30):
            await drive_transport(server, server.cassette, lambda entry: None, 2.0)


async def _record_with_url_only(path: Path) -> None:
    """Record a turn of our transport, connected with ``url=`` and no ``model=``, via the tap."""
    async with FakeRealtimeServer.simulate() as upstream, asyncio.timeout(10):
        with TransportTap(path) as tap:
            transport = OpenAIRealtimeWebSocket(api_key="sk-test", create_websocket=tap)
            done: asyncio.Queue[object] = asyncio.Queue()
            transport.on("turn_done", done.put_nowait)
            await transport.connect(url=upstream.url)  # the URL's model, the default's session
            transport.send_message("Hello!")
            await done.get()
            await transport.aclose()


def test_a_cassette_recorded_with_url_and_no_model_replays_with_the_transport(
    tmp_path: Path,
) -> None:
    path = tmp_path / "url_only.jsonl"
    asyncio.run(_record_with_url_only(path))
    cassette = load_cassette(path)
    assert cassette.header.query["model"] == "gpt-realtime"  # the URL's, from simulate()
    update = next(f.event for f in cassette.frames if f.event_type == "session.update")
    assert update is not None
    # the transport's own default, which differs from the URL's: the case that broke
    assert update["session"]["model"] == DEFAULT_OPENAI_REALTIME_MODEL != "gpt-realtime"

    out = io.StringIO()
    status = main(["replay", str(path), "--client", "transport"], out=out)
    assert status == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith(f"PASS: {path}")
