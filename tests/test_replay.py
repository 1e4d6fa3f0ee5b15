"""The replay state machine, fed values directly: no socket, no event loop, no clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import _json
from harness.cassette import Cassette, CassetteWriter, Frame, Header, load_cassette
from harness.errors import UsageError
from harness.matching import DEFAULT_RULES
from harness.redaction import RedactionRule, RedactionRules
from harness.replay import (
    Outgoing,
    OutKind,
    PreloadedCassette,
    Replay,
    StreamedCassette,
    prepare_cassette,
)

PATH = "cassettes/x.jsonl"


def ev(side: str, t: float, type_: str, **fields: Any) -> Frame:
    return Frame.of_event(side, t, 0, {"type": type_, **fields})


def numbered(*frames: Frame) -> tuple[Frame, ...]:
    # As if read from a file: the header is line 1.
    out = []
    for i, f in enumerate(frames, start=2):
        out.append(Frame(f.side, f.t, f.conn, f.event, f.binary, f.close_code, f.close_reason, i))
    return tuple(out)


def replay_of(*frames: Frame, **kw: Any) -> Replay:
    script = PreloadedCassette(Cassette(Header(), numbered(*frames), PATH))
    replay = Replay(script.frames(0), cassette=PATH, **kw)
    replay.connect(now=100.0)
    return replay


def drain(replay: Replay) -> list[Outgoing]:
    out = []
    while (item := replay.next_to_send()) is not None:
        out.append(item)
    return out


def types(outs: list[Outgoing]) -> list[str | None]:
    return [_json.loads(o.data)["type"] if o.kind is OutKind.TEXT else str(o.kind) for o in outs]


def send(replay: Replay, type_: str, now: float = 100.0, **fields: Any) -> None:
    replay.receive_text(_json.dumps({"type": type_, **fields}), now)


SESSION = (
    ev("server", 0.0, "session.created", event_id="e1"),
    ev("client", 0.01, "session.update", session={"instructions": "be brief"}),
    ev("server", 0.02, "session.updated", event_id="e2"),
    ev("client", 0.03, "response.create"),
    ev("server", 0.2, "response.created", event_id="e3"),
    ev("server", 0.5, "response.done", event_id="e4"),
)


def test_frames_before_the_first_client_frame_go_out_on_connect() -> None:
    replay = replay_of(*SESSION)
    assert types(drain(replay)) == ["session.created"]


def test_nothing_is_sent_before_connect() -> None:
    script = PreloadedCassette(Cassette(Header(), numbered(*SESSION), PATH))
    replay = Replay(script.frames(0))
    assert replay.next_to_send() is None


def test_server_frames_wait_for_the_client_frames_recorded_before_them() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    send(replay, "session.update", session={"instructions": "be brief"})
    assert types(drain(replay)) == ["session.updated"]
    send(replay, "response.create")
    assert types(drain(replay)) == ["response.created", "response.done"]
    result = replay.finish()
    assert result.ok


def test_concurrent_client_frames_may_arrive_in_either_order() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    send(replay, "response.create")  # recorded after session.updated, arrives first
    assert drain(replay) == []  # session.updated still waits for session.update
    send(replay, "session.update", session={"instructions": "be brief"})
    assert types(drain(replay)) == ["session.updated", "response.created", "response.done"]
    assert replay.finish().ok


def test_an_arriving_frame_matches_the_earliest_equal_recorded_frame() -> None:
    replay = replay_of(
        ev("client", 0.0, "response.create"),
        ev("server", 0.1, "response.done", event_id="a"),
        ev("client", 0.2, "response.create"),
        ev("server", 0.3, "response.done", event_id="b"),
    )
    send(replay, "response.create")
    outs = drain(replay)
    assert [_json.loads(o.data)["event_id"] for o in outs] == ["a"]


def test_a_wrong_frame_is_a_mismatch_with_a_compiler_style_report() -> None:
    item = {
        "id": "item_1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "What's the weather in Paris?"}],
    }
    replay = replay_of(
        ev("server", 0.0, "session.created", event_id="e1"),
        ev("client", 0.1, "conversation.item.create", event_id="c1", item=item),
    )
    drain(replay)
    wrong = {
        **item,
        "id": "item_other",
        "content": [{"type": "input_text", "text": "What's the weather in Berlin?"}],
    }
    send(replay, "conversation.item.create", event_id="c9", item=wrong)
    (out,) = drain(replay)
    error = _json.loads(out.data)
    assert error["type"] == "error" and error["event_id"].startswith("event_")
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "cassette_mismatch"
    assert error["error"]["event_id"] == "c9"
    assert error["error"]["param"] == "$.item.content[0].text"
    assert error["error"]["message"].startswith(
        "cassettes/x.jsonl:3: client frame 1 does not match (conversation.item.create)"
    )
    (mismatch,) = replay.mismatches
    assert mismatch.report == "\n".join(
        [
            "cassettes/x.jsonl:3: client frame 1 does not match (conversation.item.create)",
            "  at $.item.content[0].text",
            '    expected: "What\'s the weather in Paris?"',
            '    received: "What\'s the weather in Berlin?"',
            "  ignored fields: event_id, item.id",
            "  re-record with --realtime-record-mode=all, or ignore the field "
            "(README: Matching rules)",
        ]
    )
    assert mismatch.lineno == 3 and mismatch.client_frame == 1
    assert mismatch.error_event == error


def test_after_a_mismatch_the_right_frame_still_plays() -> None:
    replay = replay_of(
        ev("client", 0.0, "response.create"), ev("server", 0.1, "response.done", event_id="d")
    )
    send(replay, "response.cancel")
    assert types(drain(replay)) == ["error"]
    send(replay, "response.create")
    assert types(drain(replay)) == ["response.done"]
    result = replay.finish()
    assert len(result.mismatches) == 1 and result.unplayed is None
    assert result.mismatches[0].report.splitlines()[0] == (
        "cassettes/x.jsonl:2: client frame 1 does not match "
        "(expected response.create, received response.cancel)"
    )


def test_a_frame_after_the_recorded_session_is_unexpected() -> None:
    replay = replay_of(ev("server", 0.0, "session.created", event_id="e"))
    drain(replay)
    send(replay, "response.create")
    (mismatch,) = replay.mismatches
    assert mismatch.report.splitlines()[0] == (
        "cassettes/x.jsonl: client frame 1 (response.create) was not expected: "
        "no recorded client frame is left on conn 0"
    )


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ("not json", "invalid_json", "The server could not parse the event as JSON"),
        ("[1, 2]", "invalid_json", "Expected a JSON object event, got a JSON array."),
        ('{"type": "no.such.event"}', "invalid_value", "Invalid value: 'no.such.event'."),
        ('{"event_id": "x"}', "missing_required_parameter", "Missing required parameter: 'type'."),
        (
            '{"type": "response.create", "pad": "' + "a" * 2000 + '"}',
            "frame_too_large",
            "The frame of 2038 bytes exceeds the maximum of 1000 bytes.",
        ),
    ],
)
def test_malformed_input_gets_the_api_error_and_the_replay_goes_on(
    data: str, code: str, message: str
) -> None:
    replay = replay_of(
        ev("client", 0.0, "response.create"),
        ev("server", 0.1, "response.done", event_id="d"),
        max_frame_bytes=1000,
    )
    replay.receive_text(data, 1.0)
    (out,) = drain(replay)
    error = _json.loads(out.data)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", code)
    assert error["message"].startswith(message)
    assert replay.mismatches[0].report.startswith(
        f"cassettes/x.jsonl:2: client sent malformed input ({code}): {message}"
    )
    send(replay, "response.create")
    assert types(drain(replay)) == ["response.done"]


def test_binary_from_the_client_where_none_is_recorded_is_refused() -> None:
    replay = replay_of(ev("client", 0.0, "response.create"))
    replay.receive_binary(b"\x00\x01", 1.0)
    (out,) = drain(replay)
    assert _json.loads(out.data)["error"]["code"] == "binary_frame_not_supported"


def test_recorded_binary_frames_play_both_ways() -> None:
    replay = replay_of(
        Frame.of_binary("client", 0.0, 0, b"ping"), Frame.of_binary("server", 0.1, 0, b"pong")
    )
    replay.receive_binary(b"ping", 1.0)
    (out,) = drain(replay)
    assert (out.kind, out.data) == (OutKind.BINARY, b"pong")


def test_a_recorded_server_close_ends_the_replay_and_the_rest_is_unplayed() -> None:
    replay = replay_of(
        ev("client", 0.0, "response.create"),
        ev("server", 0.1, "response.created", event_id="a"),
        Frame.of_close("server", 0.2, 0, 1011, "server_error"),
        ev("server", 0.3, "response.done", event_id="b"),
    )
    send(replay, "response.create")
    outs = drain(replay)
    assert types(outs) == ["response.created", "close"]
    assert (outs[1].code, outs[1].reason) == (1011, "server_error")
    assert replay.ended
    result = replay.finish()
    assert result.unplayed is not None and result.unplayed.count == 1
    assert result.unplayed.report.splitlines()[1] == ("  line 5: server response.done (t=0.300)")


def test_a_recorded_1006_is_an_abort() -> None:
    replay = replay_of(Frame.of_close("server", 0.2, 0, 1006, ""))
    (out,) = drain(replay)
    assert out.kind is OutKind.ABORT


def test_a_client_close_matches_a_recorded_one_whatever_the_code() -> None:
    replay = replay_of(
        ev("client", 0.0, "response.create"), Frame.of_close("client", 0.2, 0, 1000, "")
    )
    send(replay, "response.create")
    replay.receive_close(1005, 2.0)
    assert replay.finish().ok


def test_frames_never_played_are_reported() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    send(replay, "session.update", session={"instructions": "be brief"})
    drain(replay)
    replay.receive_close(1000, 3.0)
    result = replay.finish()
    assert result.unplayed is not None
    assert result.unplayed.count == 3
    assert result.unplayed.report == "\n".join(
        [
            "cassettes/x.jsonl:5: 3 recorded frames never played on conn 0 (connection 0)",
            "  line 5: client response.create (t=0.030)",
            "  line 6: server response.created (t=0.200)",
            "  line 7: server response.done (t=0.500)",
            "  the replay was waiting for client frame 2 (response.create); drive the whole "
            "session, or re-record with --realtime-record-mode=all",
        ]
    )
    assert replay.finish() is result


def test_lookahead_bounds_the_causal_window() -> None:
    frames = (
        [ev("client", 0.0, "a")]
        + [ev("server", 0.0, "s", event_id=str(i)) for i in range(10)]
        + [ev("client", 0.1, "b")]
    )
    replay = replay_of(*frames, lookahead=5)
    replay.receive_event({"type": "b"}, 1.0)
    assert len(replay.mismatches) == 1
    wide = replay_of(*frames, lookahead=100)
    wide.receive_event({"type": "b"}, 1.0)
    assert wide.mismatches == ()


def test_pacing_keeps_recorded_gaps_from_the_anchor() -> None:
    replay = replay_of(*SESSION, speed=1.0)
    (created,) = drain(replay)
    assert created.due == pytest.approx(100.0)
    send(replay, "session.update", now=105.0, session={"instructions": "be brief"})
    (updated,) = drain(replay)
    assert updated.due == pytest.approx(105.0 + 0.01)  # 0.02 - 0.01 after its client frame
    send(replay, "response.create", now=106.0)
    created_, done = drain(replay)
    assert created_.due == pytest.approx(106.0 + 0.17)
    assert done.due == pytest.approx(106.0 + 0.47)


def test_speed_scales_the_gaps_and_zero_means_now() -> None:
    fast = replay_of(*SESSION, speed=2.0)
    drain(fast)
    send(fast, "session.update", now=10.0, session={"instructions": "be brief"})
    send(fast, "response.create", now=10.0)
    assert [o.due for o in drain(fast)][-1] == pytest.approx(10.0 + 0.47 / 2)
    zero = replay_of(*SESSION)
    assert [o.due for o in drain(zero)] == [0.0]


def test_bad_speed_and_lookahead_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"speed must be 0 \(no pacing\) or a positive factor"):
        replay_of(speed=-1)
    with pytest.raises(UsageError, match="lookahead must be at least 1 frame, got 0"):
        replay_of(lookahead=0)


def test_streaming_script_plays_the_same_as_a_loaded_one(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with CassetteWriter(path, Header()) as w:
        for f in SESSION:
            w.write(f)
        w.event("server", 0.0, 1, {"type": "session.created", "event_id": "other"})
    streaming = StreamedCassette(path)
    loaded = prepare_cassette(path)
    assert isinstance(loaded, PreloadedCassette)
    assert isinstance(prepare_cassette(path, preload_limit=10), StreamedCassette)
    assert streaming.conns == loaded.conns == (0, 1)
    assert [p.data for p in streaming.frames(0)] == [p.data for p in loaded.frames(0)]
    assert [p.frame.lineno for p in streaming.frames(1)] == [8]


def test_rules_reach_the_matcher() -> None:
    frames = (
        ev("client", 0.0, "session.update", session={"instructions": "a"}),
        ev("server", 0.1, "session.updated", event_id="u"),
    )
    strict = replay_of(*frames)
    send(strict, "session.update", session={"instructions": "b"})
    assert len(strict.mismatches) == 1
    lenient = replay_of(*frames, rules=DEFAULT_RULES.ignoring("session.instructions"))
    send(lenient, "session.update", session={"instructions": "b"})
    assert types(drain(lenient)) == ["session.updated"]


def test_streamed_server_events_go_out_as_their_cassette_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with CassetteWriter(path, Header()) as w:
        for f in SESSION:
            w.write(f)
    lines = path.read_bytes().splitlines()
    streamed = list(StreamedCassette(path).frames(0))
    loaded = list(PreloadedCassette(load_cassette(path)).frames(0))
    created = streamed[0]
    assert created.parsed is None  # not decoded while streaming ...
    assert lines[1].endswith(b'"event":' + created.data + b"}")  # ... sent as written
    assert [p.frame for p in streamed] == [p.frame for p in loaded]  # parsed when asked
    assert [p.data for p in streamed] == [p.data for p in loaded]


def test_a_hand_written_cassette_streams_through_the_full_parser(tmp_path: Path) -> None:
    # A key after the event: slicing the line would send `{...},"note":1`; it must not.
    path = tmp_path / "hand.jsonl"
    path.write_text(
        '{"format": "realtime-harness-cassette", "version": 1}\n'
        '{"side":"server","t":0.5,"conn":0,"event":{"type":"a","event_id":"e"},"note":1}\n'
        '{"side":"server","t":0.6,"conn":0,"event":{"type":"b","event_id":"f"}}\n'
    )
    data = [p.data for p in StreamedCassette(path).frames(0)]
    assert [_json.loads(d) for d in data] == [
        {"type": "a", "event_id": "e"},
        {"type": "b", "event_id": "f"},
    ]


def test_frames_given_back_unsent_are_reported_unplayed_in_order() -> None:
    replay = replay_of(*SESSION, speed=1.0)
    drain(replay)  # session.created
    send(replay, "session.update", session={"instructions": "be brief"})
    send(replay, "response.create")
    taken = drain(replay)
    assert types(taken) == ["session.updated", "response.created", "response.done"]
    replay.unsend(taken[1:])  # the paced ones never reached the socket
    result = replay.finish()
    assert result.unplayed is not None and result.unplayed.count == 2
    assert [f.event_type for f in result.unplayed.frames] == ["response.created", "response.done"]
    assert result.unplayed.report.splitlines()[0] == (
        f"{PATH}:6: 2 recorded frames never played on conn 0 (connection 0)"
    )


def test_error_events_given_back_are_dropped() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    send(replay, "response.cancel")  # a mismatch: an error event the harness made
    (error,) = drain(replay)
    assert error.source is None
    replay.unsend([error])
    assert replay.next_to_send() is None


def test_a_client_frame_nested_too_deep_gets_invalid_json() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    replay.receive_text('{"type":"session.update","session":' + "[" * 200 + "]" * 200 + "}", 100.0)
    (error,) = drain(replay)
    body = _json.loads(error.data)["error"]
    assert body["code"] == "invalid_json"
    assert body["message"].startswith("The event nests more than 128 levels deep")


def test_a_flood_of_bad_frames_keeps_the_first_hundred_mismatches_and_counts_the_rest() -> None:
    replay = replay_of(*SESSION)
    drain(replay)
    for i in range(150):
        send(replay, "response.cancel", event_id=f"c{i}")
    errors = drain(replay)
    assert len(errors) == 150  # every frame is answered
    result = replay.finish()
    assert len(result.mismatches) == 100
    assert result.mismatches[-1].report.endswith(
        "  ... and 50 more mismatches on this connection, not kept (the first 100 are)"
    )


def test_malformed_text_is_kept_cut_and_redacted_whatever_its_form() -> None:
    token = "opaque-token-REPLAY-51a9"
    key = "sk-proj-REPLAYtest0123456789abcdefghijklmn"
    replay = replay_of(ev("client", 0.0, "response.create"), max_frame_bytes=300)
    # too large, a key running through the cut at 200 characters; bytes that are not JSON
    big = '{"type": "response.create", "pad": "' + "a" * 140 + key + "b" * 200 + '"}'
    replay.receive_text(big, 1.0)
    replay.receive_text(b'{"authorization": "' + token.encode() + b'", \xff', 1.0)
    outs = drain(replay)
    assert [_json.loads(o.data)["error"]["code"] for o in outs] == [
        "frame_too_large",
        "invalid_json",
    ]
    cut, raw = (m.received for m in replay.mismatches)
    assert cut == big.replace(key, "<redacted:openai_api_key>")[:200]
    assert raw == b'{"authorization": "<redacted:mcp_authorization>", \xff'
    for m in replay.mismatches:
        assert token not in m.report and key[:10] not in m.report


def test_a_mismatch_is_redacted_with_the_replays_rules_and_a_clean_frame_is_not_copied() -> None:
    rules = RedactionRules.default().with_rules(
        RedactionRule.path("customer", "session.metadata.customer")
    )
    replay = replay_of(*SESSION, redaction=rules)
    drain(replay)
    clean = {"type": "session.update", "session": {"instructions": "be verbose"}}
    replay.receive_event(clean, 100.0)
    customer = "customer-REPLAY-0c1f"
    leaky = {
        "type": "session.update",
        "session": {"instructions": "be brief", "metadata": {"customer": customer}},
    }
    replay.receive_event(leaky, 100.0)
    cut_short = '{"type": "session.update", "session": {"metadata": {"customer": "' + customer
    replay.receive_text(cut_short, 100.0)
    first, second, cut = replay.mismatches
    assert first.received is clean  # no rule fired: the frame as received, no copy
    assert second.received["session"]["metadata"] == {"customer": "<redacted:customer>"}
    assert leaky["session"]["metadata"]["customer"] == customer  # the client's is untouched
    assert cut.received.endswith('"customer": "<redacted:customer>"')
    for m in replay.mismatches:
        assert customer not in m.report and customer not in repr(m)
