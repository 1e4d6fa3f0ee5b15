"""harness.conversation: the server's conversation and the simulated session, no socket."""

from __future__ import annotations

from typing import Any

import pytest

from harness.conversation import (
    DEFAULT_KEEP_RECEIVED,
    Conversation,
    SimulatedSession,
    error_event,
)
from harness.errors import ConversationError, UsageError


def msg(item_id: str | None = None, text: str = "x", role: str = "user") -> dict[str, Any]:
    part = {"type": "output_text" if role == "assistant" else "input_text", "text": text}
    item: dict[str, Any] = {"type": "message", "role": role, "content": [part]}
    if item_id is not None:
        item["id"] = item_id
    return item


def create(
    item: dict[str, Any], previous: str | None = None, event_id: str = "c1"
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "conversation.item.create", "event_id": event_id, "item": item}
    if previous is not None:
        event["previous_item_id"] = previous
    return event


def seeded(*ids: str) -> Conversation:
    return Conversation(msg(i) for i in ids)


@pytest.mark.parametrize(
    ("previous", "order"),
    [
        (None, ["a", "b", "n"]),
        ("root", ["n", "a", "b"]),
        ("a", ["a", "n", "b"]),
        ("b", ["a", "b", "n"]),
    ],
)
def test_create_places_the_item_by_previous_item_id(previous: str | None, order: list[str]) -> None:
    conversation = seeded("a", "b")
    answers = conversation.apply(create(msg("n"), previous))
    assert conversation.item_ids == order
    assert [a["type"] for a in answers] == ["conversation.item.added", "conversation.item.done"]
    index = order.index("n")
    expected_previous = order[index - 1] if index else None
    assert all(a["previous_item_id"] == expected_previous for a in answers)


def test_added_item_is_the_ga_wire_item() -> None:
    conversation = Conversation()
    (added, done) = conversation.apply(create(msg("n", "hello")))
    assert added["item"] == {
        "id": "n",
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hello"}],
        "status": "completed",
    }
    assert added["event_id"] != done["event_id"]
    assert added["previous_item_id"] is None


def test_create_without_an_id_gets_one() -> None:
    conversation = Conversation()
    (added, _) = conversation.apply(create(msg()))
    assert conversation.item_ids == [added["item"]["id"]]
    assert added["item"]["id"].startswith("item_")


def test_unknown_previous_item_id_is_an_error_naming_the_client_event() -> None:
    conversation = seeded("a")
    answers = conversation.apply(create(msg("n"), "ghost", event_id="evt_7"))
    assert answers == [
        {
            "type": "error",
            "event_id": answers[0]["event_id"],
            "error": {
                "type": "invalid_request_error",
                "code": "item_create_invalid_previous_item_id",
                "message": "Error adding item: the previous item with id 'ghost' does not exist.",
                "param": "previous_item_id",
                "event_id": "evt_7",
            },
        }
    ]
    assert conversation.item_ids == ["a"]


def test_duplicate_item_id_is_an_error() -> None:
    conversation = seeded("a")
    (answer,) = conversation.apply(create(msg("a", "again")))
    assert answer["error"]["code"] == "item_create_duplicate_item_id"
    assert answer["error"]["message"] == "Error adding item: an item with id 'a' already exists."
    assert conversation.items[0]["content"][0]["text"] == "x"


def test_delete_removes_and_unknown_id_is_an_error() -> None:
    conversation = seeded("a", "b")
    (answer,) = conversation.apply({"type": "conversation.item.delete", "item_id": "a"})
    assert answer == {
        "type": "conversation.item.deleted",
        "event_id": answer["event_id"],
        "item_id": "a",
    }
    assert conversation.item_ids == ["b"]
    (error,) = conversation.apply(
        {"type": "conversation.item.delete", "item_id": "a", "event_id": "d2"}
    )
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "item_delete_invalid_item_id",
        "message": "Error deleting item: the item with id 'a' does not exist.",
        "param": "item_id",
        "event_id": "d2",
    }


def test_retrieve_returns_a_copy_of_the_item() -> None:
    conversation = seeded("a")
    (answer,) = conversation.apply({"type": "conversation.item.retrieve", "item_id": "a"})
    assert answer["type"] == "conversation.item.retrieved"
    assert answer["item"]["id"] == "a"
    answer["item"]["content"].clear()
    assert conversation.items[0]["content"]
    (error,) = conversation.apply({"type": "conversation.item.retrieve", "item_id": "zz"})
    assert error["error"]["code"] == "item_retrieve_invalid_item_id"


def test_truncate_cuts_assistant_audio_and_drops_its_transcript() -> None:
    spoken = {
        "id": "s",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hello there"}],
    }
    conversation = Conversation([spoken])
    event = {
        "type": "conversation.item.truncate",
        "item_id": "s",
        "content_index": 0,
        "audio_end_ms": 1500,
    }
    (answer,) = conversation.apply(event)
    assert answer == {
        "type": "conversation.item.truncated",
        "event_id": answer["event_id"],
        "item_id": "s",
        "content_index": 0,
        "audio_end_ms": 1500,
    }
    assert conversation.items[0]["content"][0]["transcript"] == ""


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        (
            {"item_id": "zz", "content_index": 0, "audio_end_ms": 1},
            "item_truncate_invalid_item_id",
            "Error truncating item: the item with id 'zz' does not exist.",
        ),
        (
            {"item_id": "u", "content_index": 0, "audio_end_ms": 1},
            "invalid_value",
            "Only assistant messages can be truncated; item 'u' is not one.",
        ),
        (
            {"item_id": "s", "content_index": 3, "audio_end_ms": 1},
            "invalid_value",
            "Invalid 'content_index': item 's' has no audio content at index 3.",
        ),
        (
            {"item_id": "s", "content_index": 0, "audio_end_ms": -5},
            "invalid_value",
            "Invalid 'audio_end_ms': expected a non-negative integer, got -5.",
        ),
    ],
)
def test_truncate_errors(event: dict[str, Any], code: str, message: str) -> None:
    spoken = {
        "id": "s",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "t"}],
    }
    conversation = Conversation([msg("u"), spoken])
    (answer,) = conversation.apply({"type": "conversation.item.truncate", **event})
    assert (answer["error"]["code"], answer["error"]["message"]) == (code, message)


@pytest.mark.parametrize(
    ("item", "code", "message"),
    [
        (
            {"type": "mcp_call", "name": "n", "arguments": "{}"},
            "invalid_value",
            "Invalid value: 'mcp_call'. Supported values are: 'function_call', "
            "'function_call_output', 'mcp_approval_response', 'message'.",
        ),
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_audio", "audio": "AA"}],
            },
            "invalid_value",
            "Assistant audio messages cannot be created by the client; "
            "use 'output_text' content instead.",
        ),
        (
            {"type": "message", "role": "system", "content": [{"type": "input_audio"}]},
            "invalid_value",
            "Invalid value: 'input_audio'. "
            "Supported values for a system message are: 'input_text'.",
        ),
        (
            {"type": "message", "role": "robot", "content": []},
            "invalid_value",
            "Invalid value: 'robot'. Supported values are: 'system', 'user', and 'assistant'.",
        ),
        (
            {"role": "user"},
            "missing_required_parameter",
            "Missing required parameter: 'item.type'.",
        ),
        (
            {"type": "message", "role": "user"},
            "missing_required_parameter",
            "Missing required parameter: 'item.content'.",
        ),
    ],
)
def test_items_the_api_cannot_create_are_refused(
    item: dict[str, Any], code: str, message: str
) -> None:
    conversation = Conversation()
    (answer,) = conversation.apply(create(item))
    assert (answer["error"]["code"], answer["error"]["message"]) == (code, message)
    assert len(conversation) == 0


def test_create_without_item_is_an_error() -> None:
    (answer,) = Conversation().apply({"type": "conversation.item.create"})
    assert answer["error"]["message"] == "Missing required parameter: 'item'."


def test_methods_raise_conversation_error_carrying_the_error_event() -> None:
    with pytest.raises(ConversationError) as info:
        Conversation().delete("nope", client_event_id="e1")
    assert str(info.value) == (
        "item_delete_invalid_item_id: Error deleting item: the item with id 'nope' does not exist."
    )
    assert info.value.error_event["error"]["event_id"] == "e1"


def test_seeds_may_hold_what_clients_cannot_create_but_need_unique_ids() -> None:
    conversation = Conversation([{"id": "m", "type": "mcp_call", "name": "n", "arguments": "{}"}])
    assert conversation.item_ids == ["m"]
    with pytest.raises(UsageError) as info:
        Conversation([msg("a"), msg("a")])
    assert str(info.value) == "seed history[1]: item id 'a' repeats"
    with pytest.raises(
        UsageError, match=r"seed history\[0\]: expected a wire item with a string 'id'"
    ):
        Conversation([msg()])


def test_apply_refuses_events_that_are_not_about_items() -> None:
    with pytest.raises(UsageError) as info:
        Conversation().apply({"type": "session.update"})
    assert str(info.value) == "not a conversation.item.* client event: 'session.update'"


def test_error_event_shape() -> None:
    assert error_event("e", code="c", message="m") == {
        "type": "error",
        "event_id": "e",
        "error": {
            "type": "invalid_request_error",
            "code": "c",
            "message": "m",
            "param": None,
            "event_id": None,
        },
    }


# --------------------------------------------------------------------------- session


def test_session_says_created_on_connect_with_the_model() -> None:
    session = SimulatedSession(model="gpt-realtime-mini")
    (created,) = session.on_connect()
    assert created["type"] == "session.created"
    assert created["session"]["model"] == "gpt-realtime-mini"
    assert created["session"]["object"] == "realtime.session"


def test_session_update_merges_and_answers_with_the_whole_session() -> None:
    session = SimulatedSession()
    (updated,) = session.handle(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "hi",
                "audio": {"output": {"voice": "marin"}},
            },
        }
    )
    assert updated["type"] == "session.updated"
    assert updated["session"]["instructions"] == "hi"
    assert updated["session"]["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }


def test_response_create_is_answered_through_response_done() -> None:
    session = SimulatedSession()
    created, done = session.handle({"type": "response.create"})
    assert (created["type"], done["type"]) == ("response.created", "response.done")
    assert created["response"]["id"] == done["response"]["id"]
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"] == []


def test_every_server_event_has_a_unique_event_id() -> None:
    session = SimulatedSession([msg("a")])
    answers = [*session.on_connect()]
    for event in [
        create(msg("b")),
        {"type": "response.create"},
        {"type": "bogus"},
        {"type": "conversation.item.delete", "item_id": "a"},
    ]:
        answers += session.handle(event)
    ids = [a["event_id"] for a in answers]
    assert all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)


def test_session_serves_the_conversation_it_was_seeded_with() -> None:
    session = SimulatedSession([msg("a")])
    session.handle(create(msg("b"), "root"))
    assert session.conversation.item_ids == ["b", "a"]


def test_unknown_event_type_is_an_invalid_value_error() -> None:
    (answer,) = SimulatedSession().handle({"type": "bogus", "event_id": "x1"})
    assert answer["error"]["code"] == "invalid_value"
    assert answer["error"]["param"] == "type"
    assert answer["error"]["message"].startswith("Invalid value: 'bogus'. Supported values are: ")
    assert answer["error"]["event_id"] == "x1"


def test_event_without_type_is_an_error() -> None:
    (answer,) = SimulatedSession().handle({"item": {}})
    assert answer["error"]["message"] == "Missing required parameter: 'type'."


def test_input_audio_buffer_commit_makes_a_user_audio_item() -> None:
    session = SimulatedSession([msg("a")])
    (empty,) = session.handle({"type": "input_audio_buffer.commit"})
    assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
    assert session.handle({"type": "input_audio_buffer.append", "audio": "AAAA"}) == []
    committed, added, _done = session.handle({"type": "input_audio_buffer.commit"})
    assert committed["type"] == "input_audio_buffer.committed"
    assert committed["previous_item_id"] == "a"
    assert added["item"]["id"] == committed["item_id"]
    assert session.conversation.item_ids == ["a", committed["item_id"]]
    (cleared,) = session.handle({"type": "input_audio_buffer.clear"})
    assert cleared["type"] == "input_audio_buffer.cleared"


def test_response_cancel_without_an_active_response_is_an_error() -> None:
    (answer,) = SimulatedSession().handle({"type": "response.cancel"})
    assert answer["error"]["code"] == "response_cancel_not_active"


def test_the_session_keeps_copies_of_the_client_events_it_handled() -> None:
    session = SimulatedSession()
    first = create(msg("a"))
    session.handle(first)
    session.handle({"type": "response.create"})
    first["item"]["id"] = "changed later"
    assert [e["type"] for e in session.received] == ["conversation.item.create", "response.create"]
    assert session.received[0]["item"]["id"] == "a"


def clear(n: int) -> dict[str, Any]:
    return {"type": "input_audio_buffer.clear", "event_id": f"e{n}"}


def test_received_keeps_the_newest_events_up_to_its_bound_and_counts_them_all() -> None:
    session = SimulatedSession(keep_received=3)
    for n in range(10):
        session.handle(clear(n))
    assert [e["event_id"] for e in session.received] == ["e7", "e8", "e9"]
    assert session.received_count == 10
    session.handle("not an object")  # answered with an error, not kept: not an event
    assert session.received_count == 10


def test_received_is_bounded_by_default() -> None:
    session = SimulatedSession()
    total = DEFAULT_KEEP_RECEIVED + 5
    for n in range(total):
        session.handle(clear(n))
    assert len(session.received) == DEFAULT_KEEP_RECEIVED
    assert (session.received[0]["event_id"], session.received[-1]["event_id"]) == (
        "e5",
        f"e{total - 1}",
    )
    assert session.received_count == total


def test_received_keeps_every_event_with_none_and_none_with_0() -> None:
    everything, nothing = SimulatedSession(keep_received=None), SimulatedSession(keep_received=0)
    for n in range(DEFAULT_KEEP_RECEIVED + 1):
        everything.handle(clear(n))
        nothing.handle(clear(n))
    assert len(everything.received) == everything.received_count == DEFAULT_KEEP_RECEIVED + 1
    assert (len(nothing.received), nothing.received_count) == (0, DEFAULT_KEEP_RECEIVED + 1)
    with pytest.raises(UsageError, match="keep_received must be >= 0 or None, got -1"):
        SimulatedSession(keep_received=-1)


def test_received_elides_appended_audio_to_its_size_and_the_buffer_still_counts_it() -> None:
    session = SimulatedSession()
    audio = "AAAA" * 2400  # 7200 bytes of PCM16: 150 ms at 24 kHz
    append = {"type": "input_audio_buffer.append", "event_id": "a1", "audio": audio}
    assert session.handle(append) == []
    assert session.received[-1] == {
        "type": "input_audio_buffer.append",
        "event_id": "a1",
        "audio": "<audio: 9600 base64 chars elided>",
    }
    assert append["audio"] == audio  # the client's event is left as it was
    committed, *_ = session.handle({"type": "input_audio_buffer.commit"})
    assert committed["type"] == "input_audio_buffer.committed"
    # Audio that is not a string is refused and kept as sent, for the test to see why.
    (error,) = session.handle({"type": "input_audio_buffer.append", "audio": 5})
    assert error["error"]["param"] == "audio"
    assert session.received[-1] == {"type": "input_audio_buffer.append", "audio": 5}
