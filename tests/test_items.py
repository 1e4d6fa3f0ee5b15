"""harness.items: the reference's RealtimeItem shapes, its JSON and the GA wire shape."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.errors import UsageError
from harness.items import (
    UNSET,
    FunctionCallItem,
    InputAudio,
    InputImage,
    InputText,
    ItemStatus,
    McpApprovalRequestItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    OutputAudio,
    OutputText,
    Role,
    has_assistant_output_audio,
    is_mcp_item,
    item_from_json,
    item_from_wire,
    item_to_json,
    item_to_wire,
)

REFERENCE_JSON: list[dict[str, Any]] = [
    {
        "itemId": "sys",
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "be brief"}],
    },
    {
        "itemId": "u1",
        "previousItemId": "sys",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [
            {"type": "input_text", "text": "hi"},
            {"type": "input_audio", "audio": None, "transcript": "hello"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
        ],
    },
    {
        "itemId": "a1",
        "previousItemId": None,
        "type": "message",
        "role": "assistant",
        "status": "incomplete",
        "content": [
            {"type": "output_text", "text": "yo"},
            {"type": "output_audio", "transcript": "yo"},
        ],
    },
    {
        "itemId": "f1",
        "type": "function_call",
        "status": "completed",
        "arguments": '{"city":"Paris"}',
        "name": "weather",
        "output": None,
    },
    {
        "itemId": "m1",
        "type": "mcp_call",
        "status": "in_progress",
        "arguments": "{}",
        "name": "search",
        "output": "found",
    },
    {
        "itemId": "ap1",
        "type": "mcp_approval_request",
        "serverLabel": "docs",
        "name": "search",
        "arguments": {"q": "x"},
        "approved": None,
    },
    {
        "itemId": "lt1",
        "type": "mcp_list_tools",
        "serverLabel": "docs",
        "tools": [{"name": "search"}],
    },
]


@pytest.mark.parametrize("obj", REFERENCE_JSON, ids=lambda o: o["itemId"])
def test_reference_json_round_trips_key_for_key(obj: dict[str, Any]) -> None:
    assert item_to_json(item_from_json(obj)) == obj


@pytest.mark.parametrize("obj", REFERENCE_JSON, ids=lambda o: o["itemId"])
def test_wire_round_trip_keeps_the_item_but_position(obj: dict[str, Any]) -> None:
    item = item_from_json(obj)
    back = item_from_wire(item_to_wire(item))
    if isinstance(item, FunctionCallItem):
        # a function call's output is a separate function_call_output item on the wire
        assert back == FunctionCallItem(item.item_id, item.name, item.arguments, status=item.status)
    elif isinstance(item, McpApprovalRequestItem):
        assert back == item
    else:
        assert back == dataclasses.replace(item, previous_item_id=UNSET)


def test_message_to_wire_is_the_create_item_the_reference_builds() -> None:
    item = MessageItem("u1", "user", [InputText("hi")], status="completed", previous_item_id="x")
    wire = item_to_wire(item)
    assert wire == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
        "id": "u1",
        "status": "completed",
    }
    assert list(wire) == ["type", "role", "content", "id", "status"]


def test_absent_and_null_stay_different() -> None:
    absent = item_from_json(
        {
            "itemId": "u",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": "t"}],
        }
    )
    null = item_from_json(
        {
            "itemId": "u",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "audio": None, "transcript": "t"}],
        }
    )
    assert absent != null
    assert isinstance(absent, MessageItem)
    assert absent.content == (InputAudio(transcript="t"),)
    assert item_to_wire(absent)["content"] == [{"type": "input_audio", "transcript": "t"}]


def test_snake_case_json_is_read_too() -> None:
    item = item_from_json(
        {"item_id": "f", "type": "function_call", "name": "n", "arguments": "{}", "call_id": "c"}
    )
    assert item == FunctionCallItem("f", "n", "{}", call_id="c")


def test_wire_assistant_audio_part_reads_as_output_audio() -> None:
    item = item_from_wire(
        {
            "id": "a",
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "audio", "transcript": "hi"}],
        }
    )
    assert isinstance(item, MessageItem)
    assert item.content == (OutputAudio(transcript="hi"),)


def test_roles_and_statuses_become_enums() -> None:
    item = MessageItem("a", "assistant", [OutputText("x")], status="completed")
    assert item.role is Role.ASSISTANT and item.status is ItemStatus.COMPLETED
    assert item == MessageItem("a", Role.ASSISTANT, (OutputText("x"),), ItemStatus.COMPLETED)


def test_system_messages_carry_no_status() -> None:
    item = MessageItem("s", "system", [InputText("x")], status="completed")
    assert item.status is None
    assert "status" not in item_to_wire(item)


def test_content_a_role_cannot_hold_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(UsageError) as info:
        MessageItem("u", "user", [OutputText("x")])
    assert str(info.value) == (
        "message item 'u': content[0] is 'output_text', which a user message cannot hold "
        "(allowed: input_text, input_audio, input_image)"
    )


def test_unknown_role_is_refused() -> None:
    with pytest.raises(UsageError) as info:
        MessageItem("u", "robot", [])  # type: ignore[arg-type]
    assert str(info.value) == "message item 'u': role 'robot' is not one of system, user, assistant"


def test_bad_status_names_the_item() -> None:
    with pytest.raises(UsageError) as info:
        item_from_json(
            {"itemId": "f", "type": "function_call", "name": "n", "arguments": "", "status": "done"}
        )
    assert str(info.value) == (
        "item.status: status 'done' is not one of in_progress, completed, incomplete"
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("nope", "history[2]: expected a JSON object, got str"),
        ({"type": "message"}, "history[2]: missing 'itemId'"),
        (
            {"itemId": "x", "type": "robot"},
            "history[2].type: unknown item type 'robot' (expected message, "
            "function_call, mcp_call, mcp_tool_call, mcp_approval_request or mcp_list_tools)",
        ),
        (
            {"itemId": "x", "type": "message", "role": "user", "content": [{"type": "video"}]},
            "history[2].content[0].type: unknown content part type 'video' (expected input_text, "
            "input_audio, input_image, output_text or output_audio)",
        ),
        (
            {"itemId": "x", "type": "message", "role": "user", "content": [], "colour": 1},
            "history[2]: unknown key(s) 'colour'",
        ),
        (
            {"itemId": "x", "item_id": "y", "type": "message", "role": "user", "content": []},
            "history[2]: both 'itemId' and 'item_id' given",
        ),
        ({"itemId": 3, "type": "message"}, "history[2].itemId: expected a string, got 3"),
        (
            {"itemId": "x", "type": "message", "role": "user", "content": "hi"},
            "history[2].content: expected a list, got 'hi'",
        ),
    ],
)
def test_bad_json_names_the_key_at_fault(obj: Any, message: str) -> None:
    with pytest.raises(UsageError) as info:
        item_from_json(obj, where="history[2]")
    assert str(info.value) == message


def test_wire_ignores_the_object_key_but_json_does_not() -> None:
    wire = {"id": "x", "object": "realtime.item", "type": "message", "role": "user", "content": []}
    assert item_from_wire(wire) == MessageItem("x", "user", ())
    with pytest.raises(UsageError, match="unknown key"):
        item_from_json(
            {
                "itemId": "x",
                "object": "realtime.item",
                "type": "message",
                "role": "user",
                "content": [],
            }
        )


def test_mcp_approval_arguments_are_parsed_from_the_wire_string() -> None:
    item = item_from_wire(
        {
            "id": "ap",
            "type": "mcp_approval_request",
            "server_label": "s",
            "name": "n",
            "arguments": '{"q": 1}',
        }
    )
    assert item == McpApprovalRequestItem("ap", "s", "n", {"q": 1})
    with pytest.raises(UsageError) as info:
        item_from_wire(
            {
                "id": "ap",
                "type": "mcp_approval_request",
                "server_label": "s",
                "name": "n",
                "arguments": "{",
            }
        )
    assert str(info.value).startswith("item.arguments: not JSON:")


def test_which_items_the_api_cannot_create() -> None:
    audio = MessageItem("a", "assistant", [OutputAudio(transcript="x")], status="completed")
    text = MessageItem("a", "assistant", [OutputText("x")], status="completed")
    assert has_assistant_output_audio(audio) and not has_assistant_output_audio(text)
    assert not has_assistant_output_audio(MessageItem("u", "user", [InputAudio(transcript="x")]))
    assert is_mcp_item(McpCallItem("m", "mcp_tool_call", "n", "{}"))
    assert is_mcp_item(McpListToolsItem("l", "s"))
    assert is_mcp_item(McpApprovalRequestItem("r", "s", "n"))
    assert not is_mcp_item(FunctionCallItem("f", "n", "{}"))


def test_items_are_frozen_values() -> None:
    item = MessageItem("u", "user", [InputImage("http://x")])
    with pytest.raises(AttributeError):
        item.item_id = "v"  # type: ignore[misc]
    assert hash(item) == hash(MessageItem("u", "user", (InputImage("http://x"),)))
