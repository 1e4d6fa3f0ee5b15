"""harness.history: the O(n) diff and the reset_history plan, checked on the conversation model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from harness.conversation import Conversation
from harness.errors import HistoryError
from harness.history import (
    FUNCTION_CALL_WARNING,
    HistoryDiff,
    RequestKind,
    ResetPlan,
    diff_realtime_history,
    plan_reset_history,
    same_item,
)
from harness.items import (
    FunctionCallItem,
    InputText,
    McpApprovalRequestItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    OutputAudio,
    OutputText,
    RealtimeItem,
    item_to_wire,
)


def user(item_id: str, text: str = "x") -> MessageItem:
    return MessageItem(item_id, "user", [InputText(text)], status="completed")


def call(item_id: str, arguments: str = "{}") -> FunctionCallItem:
    return FunctionCallItem(item_id, "tool", arguments, status="completed")


def mcp(item_id: str) -> McpCallItem:
    return McpCallItem(item_id, "mcp_call", "search", "{}", status="completed")


def spoken(item_id: str) -> MessageItem:
    return MessageItem(item_id, "assistant", [OutputAudio(transcript="hi")], status="completed")


def apply(
    old: Sequence[RealtimeItem], plan: ResetPlan, *, pending: Sequence[Mapping[str, object]] = ()
) -> list[str]:
    """Run the plan on a conversation seeded with ``old``; every event must succeed."""
    conversation = Conversation(item_to_wire(item) for item in old)
    for event in [*pending, *(request.event for request in plan.requests)]:
        answers = conversation.apply(event)
        assert all(answer["type"] != "error" for answer in answers), answers
    return conversation.item_ids


def events(plan: ResetPlan) -> list[tuple[str, str, str | None]]:
    """(kind, item id, previous_item_id or None) per request."""
    return [(r.kind.value, r.item_id, r.event.get("previous_item_id")) for r in plan.requests]


# --------------------------------------------------------------------------- diff


def test_diff_sorts_items_into_removals_additions_updates() -> None:
    a, b, c = user("a"), user("b"), user("c")
    b2 = user("b", "edited")
    diff = diff_realtime_history([a, b], [b2, c])
    assert diff == HistoryDiff(removals=(a,), additions=(c,), updates=(b2,))


def test_diff_ignores_previous_item_id_and_order() -> None:
    a = user("a")
    moved = MessageItem("a", "user", [InputText("x")], status="completed", previous_item_id="z")
    assert same_item(a, moved)
    assert diff_realtime_history([a, user("b")], [user("b"), moved]) == HistoryDiff((), (), ())


def test_diff_refuses_assistant_audio_to_add_with_the_reference_message() -> None:
    with pytest.raises(HistoryError) as info:
        diff_realtime_history([], [spoken("s1")])
    assert str(info.value) == (
        "Assistant output_audio history item s1 cannot be replayed through OpenAI Realtime. "
        "Convert its transcript to output_text content or remove the item before calling "
        "reset_history()."
    )


def test_diff_refuses_a_repeated_item_id() -> None:
    with pytest.raises(HistoryError) as info:
        diff_realtime_history([user("a")], [user("a"), user("b"), user("a")])
    assert str(info.value) == (
        "new history has two items with itemId 'a' (positions 0 and 2); item ids must be unique"
    )


# ----------------------------------------------------------------- plan: the reference's cases


def test_nothing_is_sent_when_nothing_changed() -> None:
    history = [user("a"), call("f"), mcp("m"), spoken("s")]
    plan = plan_reset_history(history, list(history))
    assert plan == ResetPlan(requests=())


def test_append_is_a_plain_create() -> None:
    old = [user("a")]
    plan = plan_reset_history(old, [user("a"), user("b")])
    assert events(plan) == [("create", "b", None)]
    assert plan.requests[0].event == {
        "type": "conversation.item.create",
        "item": item_to_wire(user("b")),
    }
    assert apply(old, plan) == ["a", "b"]


def test_insert_at_the_front_names_root() -> None:
    old = [user("a"), user("b")]
    plan = plan_reset_history(old, [user("x"), user("a"), user("b")])
    assert events(plan) == [("create", "x", "root")]
    assert apply(old, plan) == ["x", "a", "b"]


def test_insert_in_the_middle_names_the_item_before() -> None:
    old = [user("a"), user("b")]
    plan = plan_reset_history(old, [user("a"), user("x"), user("y"), user("b")])
    assert events(plan) == [("create", "x", "a"), ("create", "y", "x")]
    assert apply(old, plan) == ["a", "x", "y", "b"]


def test_an_edit_is_a_delete_then_a_create_in_place() -> None:
    old = [user("a"), user("b"), user("c")]
    new = [user("a"), user("b", "edited"), user("c")]
    plan = plan_reset_history(old, new)
    assert events(plan) == [("delete", "b", None), ("create", "b", "a")]
    assert apply(old, plan) == ["a", "b", "c"]


def test_deletions_come_first_in_old_order() -> None:
    old = [user("a"), user("b"), user("c"), user("d")]
    plan = plan_reset_history(old, [user("a", "e"), user("c")])
    assert events(plan) == [
        ("delete", "b", None),
        ("delete", "d", None),
        ("delete", "a", None),
        ("create", "a", "root"),
    ]
    assert apply(old, plan) == ["a", "c"]


def test_a_function_call_to_create_is_skipped_with_the_reference_warning() -> None:
    old = [user("a")]
    plan = plan_reset_history(old, [user("a"), call("f"), user("b")])
    assert events(plan) == [("create", "b", None)]
    assert plan.warnings == (FUNCTION_CALL_WARNING,)
    assert plan.skipped == ("f",)
    assert FUNCTION_CALL_WARNING == (
        "Function calls cannot be manually added or updated at the moment. Ignoring."
    )


def test_an_edited_function_call_is_deleted_and_not_recreated() -> None:
    old = [call("f"), user("a")]
    plan = plan_reset_history(old, [call("f", '{"x":1}'), user("a")])
    assert events(plan) == [("delete", "f", None)]
    assert plan.skipped == ("f",)
    assert apply(old, plan) == ["a"]


def test_mcp_item_to_add_is_refused_with_the_reference_message() -> None:
    with pytest.raises(HistoryError) as info:
        plan_reset_history([user("a")], [user("a"), mcp("m")])
    assert str(info.value) == (
        "MCP items cannot be added or updated via reset_history(). Found a 'mcp_call' item "
        "(itemId: m) would be added or updated. Leave existing MCP items unchanged, or remove "
        "them from history entirely, before calling reset_history()."
    )


def test_mcp_item_replaced_under_its_id_is_refused_naming_both_types() -> None:
    with pytest.raises(HistoryError) as info:
        plan_reset_history([mcp("m")], [user("m")])
    assert "itemId m replaces an existing 'mcp_call' item with a 'message' item" in str(info.value)


def test_removing_mcp_and_audio_items_is_fine() -> None:
    old = [mcp("m"), spoken("s"), McpApprovalRequestItem("r", "srv", "n"), user("a")]
    plan = plan_reset_history(old, [user("a")])
    assert events(plan) == [("delete", "m", None), ("delete", "s", None), ("delete", "r", None)]


# ----------------------------------------------------------------- plan: reorders (deviation)


def test_a_pure_swap_moves_one_item() -> None:
    # reference: sends nothing, and the server stays [a, b]
    old = [user("a"), user("b")]
    plan = plan_reset_history(old, [user("b"), user("a")])
    assert plan.moved == ("b",)
    assert events(plan) == [("delete", "b", None), ("create", "b", "root")]
    assert apply(old, plan) == ["b", "a"]


def test_a_rotation_moves_only_the_item_that_left_the_run() -> None:
    old = [user(i) for i in "abcde"]
    new = [user(i) for i in "eabcd"]
    plan = plan_reset_history(old, new)
    assert plan.moved == ("e",)
    assert apply(old, plan) == list("eabcd")


def test_a_reversal_keeps_one_item_and_moves_the_rest() -> None:
    old = [user(i) for i in "abcd"]
    plan = plan_reset_history(old, list(reversed(old)))
    assert len(plan.moved) == 3
    assert apply(old, plan) == list("dcba")


def test_messages_move_around_a_function_call_rather_than_dropping_it() -> None:
    old = [call("f"), user("a"), user("b")]
    plan = plan_reset_history(old, [user("a"), user("b"), call("f")])
    assert plan.moved == ("a", "b")
    assert plan.warnings == ()
    assert apply(old, plan) == ["a", "b", "f"]


def test_swapped_function_calls_drop_one_with_a_warning() -> None:
    old = [call("f"), call("g")]
    plan = plan_reset_history(old, [call("g"), call("f")])
    assert plan.warnings == (FUNCTION_CALL_WARNING,)
    assert len(plan.skipped) == 1
    kept = "f" if plan.skipped == ("g",) else "g"
    assert apply(old, plan) == [kept]


def test_an_mcp_item_that_would_have_to_move_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(HistoryError) as info:
        plan_reset_history([mcp("m"), mcp("n")], [mcp("n"), mcp("m")])
    assert str(info.value) == (
        "reset_history() cannot move a 'mcp_call' item (itemId: m): the API cannot re-create "
        "it once deleted. Keep such items in their old order relative to each other, or "
        "remove them from the new history."
    )


def test_an_mcp_item_stays_put_while_messages_move_around_it() -> None:
    old = [mcp("m"), user("a"), McpListToolsItem("l", "srv"), spoken("s")]
    new = [user("a"), mcp("m"), McpListToolsItem("l", "srv"), spoken("s")]
    plan = plan_reset_history(old, new)
    assert plan.moved == ("a",)
    assert apply(old, plan) == ["a", "m", "l", "s"]


def test_audio_messages_that_would_have_to_move_are_refused() -> None:
    with pytest.raises(
        HistoryError, match=r"cannot move an assistant output_audio message \(itemId: s\)"
    ):
        plan_reset_history([spoken("s"), spoken("t")], [spoken("t"), spoken("s")])


# --------------------------------------------------------------------------- pending requests


def test_an_unchanged_item_whose_delete_is_pending_is_created_again() -> None:
    # reference: neither keeps nor re-creates it, so it is lost
    old = [user("a"), user("b")]
    plan = plan_reset_history(old, [user("a"), user("b")], pending={"b": False})
    assert events(plan) == [("create", "b", None)]
    pending = [{"type": "conversation.item.delete", "item_id": "b"}]
    assert apply(old, plan, pending=pending) == ["a", "b"]


def test_an_item_whose_delete_is_pending_is_not_deleted_twice() -> None:
    old = [user("a"), user("b")]
    plan = plan_reset_history(old, [user("a")], pending={"b": False})
    assert plan.requests == ()


def test_an_item_whose_create_is_pending_is_replaced() -> None:
    # the in-flight create may hold other content, at another place
    old = [user("a")]
    in_flight = {
        "type": "conversation.item.create",
        "previous_item_id": "root",
        "item": item_to_wire(user("b", "stale")),
    }
    plan = plan_reset_history(old, [user("a"), user("b")], pending={"b": True})
    assert events(plan) == [("delete", "b", None), ("create", "b", None)]
    assert apply(old, plan, pending=[in_flight]) == ["a", "b"]


def test_a_pending_create_neither_history_knows_is_deleted() -> None:
    plan = plan_reset_history([user("a")], [user("a")], pending={"z": True})
    assert events(plan) == [("delete", "z", None)]


def test_requests_carry_their_kind_and_item() -> None:
    plan = plan_reset_history([user("a")], [user("b")])
    assert [(r.kind, r.item_id) for r in plan.requests] == [
        (RequestKind.DELETE, "a"),
        (RequestKind.CREATE, "b"),
    ]
    assert plan.requests[0].event == {"type": "conversation.item.delete", "item_id": "a"}


def test_system_messages_are_created_without_status() -> None:
    system = MessageItem("s", "system", [InputText("rules")])
    plan = plan_reset_history([], [system])
    assert plan.requests[0].event["item"] == {
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "rules"}],
        "id": "s",
    }


def test_assistant_text_can_replace_assistant_audio() -> None:
    old = [spoken("s")]
    new = [MessageItem("s", "assistant", [OutputText("hi")], status="completed")]
    plan = plan_reset_history(old, new)
    assert events(plan) == [("delete", "s", None), ("create", "s", None)]
