"""harness.checker: the history property holds for our plan and catches what breaks it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from _readme_blocks import assert_sample, checked_block
from hypothesis import Phase, example, find, given, settings
from hypothesis import strategies as st

from harness._json import JSONObject
from harness.checker import (
    PlanSubject,
    ResetRun,
    TransportChecker,
    apply_events,
    check_reset_history,
    check_transport_reset,
    describe_item,
    history_state_machine,
    transport_state_machine,
    verify_reset,
)
from harness.errors import HistoryError, HistoryPropertyError, UsageError
from harness.items import (
    FunctionCallItem,
    InputImage,
    InputText,
    McpCallItem,
    MessageItem,
    OutputAudio,
    RealtimeItem,
    item_to_wire,
)
from harness.strategies import ALL_KINDS, histories, history_edits, uncreatable_histories

Pair = tuple[list[RealtimeItem], list[RealtimeItem]]


def user(item_id: str, text: str = "x") -> MessageItem:
    return MessageItem(item_id, "user", [InputText(text)], status="completed")


def call(item_id: str, arguments: str = "{}") -> FunctionCallItem:
    return FunctionCallItem(item_id, "tool", arguments, status="completed")


def mcp(item_id: str) -> McpCallItem:
    return McpCallItem(item_id, "mcp_call", "search", "{}", status="completed")


def spoken(item_id: str) -> MessageItem:
    return MessageItem(item_id, "assistant", [OutputAudio(transcript="hi")], status="completed")


# --------------------------------------------------------------------------- our plan passes


@given(history_edits())
@example(([user("a"), user("b")], [user("b"), user("a")]))  # the reference's reorder failure
@example(([user("a")], [user("b"), user("a")]))  # insert at the front
@example(([user("a"), user("b")], [user("a"), user("c"), user("b")]))  # insert in the middle
@example(([user("a"), user("b")], [user("a", "edited"), user("b")]))  # edit
@example(([user("a"), user("b"), user("c")], [user("c"), user("a", "y"), user("b")]))
def test_our_plan_keeps_the_property(pair: Pair) -> None:
    check_reset_history(PlanSubject(), *pair)


@given(history_edits(kinds=ALL_KINDS))
@example(([call("f"), user("a")], [user("a"), call("f")]))  # the message moves, not the call
@example(([call("f"), call("g")], [call("g"), call("f")]))  # one call dropped, with a warning
@example(([mcp("m"), mcp("n")], [mcp("n"), mcp("m")]))  # MCP items cannot move: refused
@example(([mcp("m"), user("a")], [user("a"), mcp("m")]))  # ... but messages move around them
@example(([spoken("s"), call("f")], [call("f"), spoken("s")]))  # audio outweighs a call
@example(([mcp("m")], [user("m")]))  # an MCP item replaced under its id: refused
@example(([user("a")], [user("a"), call("f")]))  # a call to create: skipped with a warning
def test_our_plan_keeps_the_property_with_items_the_api_cannot_create(pair: Pair) -> None:
    check_reset_history(PlanSubject(), *pair)


@given(uncreatable_histories(max_size=5), st.data())
def test_our_plan_keeps_the_property_on_uncreatable_histories(
    old: list[RealtimeItem], data: st.DataObject
) -> None:
    _, new = data.draw(history_edits(old=st.just(old), kinds=ALL_KINDS))
    check_reset_history(PlanSubject(), old, new)


TestHistoryMachine = history_state_machine().TestCase
TestHistoryMachineWithUncreatableItems = history_state_machine(kinds=ALL_KINDS).TestCase
TestHistoryMachine.settings = settings(TestHistoryMachine.settings, stateful_step_count=15)
TestHistoryMachineWithUncreatableItems.settings = settings(
    TestHistoryMachineWithUncreatableItems.settings, stateful_step_count=15
)


# --------------------------------------------------------------------------- it catches breakage


class Recorder:
    """A subject made of a function from (old, new) to events."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.sent: list[JSONObject] = []
        self.warnings: list[str] = []

    def reset_history(self, old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> None:
        self.sent += self.plan(old, new)


def reference_like(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> list[JSONObject]:
    """The reference's rule for message items: never move an unchanged item."""
    before = {item.item_id: item for item in old}
    after = {item.item_id for item in new}
    touched = {i.item_id for i in new if i.item_id not in before or before[i.item_id] != i}
    events: list[JSONObject] = [
        {"type": "conversation.item.delete", "item_id": i.item_id}
        for i in old
        if i.item_id not in after
    ]
    events += [
        {"type": "conversation.item.delete", "item_id": i.item_id}
        for i in new
        if i.item_id in touched and i.item_id in before
    ]
    kept = [index for index, i in enumerate(new) if i.item_id not in touched]
    anchor = "root"
    for index, item in enumerate(new):
        if item.item_id not in touched:
            anchor = item.item_id
            continue
        event: JSONObject = {"type": "conversation.item.create", "item": item_to_wire(item)}
        if kept and index < kept[-1]:
            event["previous_item_id"] = anchor
        events.append(event)
        anchor = item.item_id
    return events


def test_the_checker_shrinks_the_reference_rule_to_a_swap() -> None:
    def breaks(pair: Pair) -> bool:
        try:
            check_reset_history(Recorder(reference_like), *pair)
        except HistoryPropertyError:
            return True
        return False

    quick = settings(database=None, max_examples=2000, phases=[Phase.generate, Phase.shrink])
    old, new = find(history_edits(), breaks, settings=quick)
    assert len(old) == len(new) == 2
    assert [i.item_id for i in new] == [i.item_id for i in reversed(old)]


def test_the_report_shows_both_histories_the_events_and_the_conversation(
    request: pytest.FixtureRequest,
) -> None:
    with pytest.raises(HistoryPropertyError) as info:
        check_reset_history(
            Recorder(reference_like), [user("a"), user("b")], [user("b"), user("a")]
        )
    a, b = "a user [completed] input_text:'x'", "b user [completed] input_text:'x'"
    assert str(info.value) == "\n".join(
        [
            "reset_history broke the history property: the conversation's order is not new's order",
            f"  {'old (server before)':<40} | {'new (wanted)':<40} | conversation after",
            f"  {a:<40} | {b:<40} | {a}",
            f"  {b:<40} | {a:<40} | {b}",
            "  events sent (0):",
            "    none",
            "  reproduce: harness.checker.verify_reset(old, new, run) with these lists "
            "(README: The history property)",
        ]
    )
    assert info.value.report == str(info.value)
    assert isinstance(info.value, AssertionError)
    assert_sample(checked_block(request), str(info.value))  # the README shows this very report


def test_appending_instead_of_inserting_is_caught() -> None:
    def append_only(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> list[JSONObject]:
        known = {i.item_id for i in old}
        return [
            {"type": "conversation.item.create", "item": item_to_wire(i)}
            for i in new
            if i.item_id not in known
        ]

    with pytest.raises(HistoryPropertyError, match="the conversation's order is not new's order"):
        check_reset_history(Recorder(append_only), [user("a")], [user("x"), user("a")])


def test_deleting_a_missing_item_is_caught_with_the_server_error() -> None:
    def delete_ghost(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> list[JSONObject]:
        return [{"type": "conversation.item.delete", "item_id": "ghost", "event_id": "e1"}]

    with pytest.raises(HistoryPropertyError) as info:
        check_reset_history(Recorder(delete_ghost), [user("a")], [user("a")])
    first = str(info.value).splitlines()[0]
    assert first == (
        'reset_history broke the history property: event 1 was refused: {"type":'
        '"invalid_request_error","code":"item_delete_invalid_item_id","message":"Error deleting '
        'item: the item with id \'ghost\' does not exist.","param":"item_id","event_id":"e1"}'
    )


def test_rebuilding_everything_is_caught_as_not_minimal() -> None:
    def rebuild(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> list[JSONObject]:
        events: list[JSONObject] = [
            {"type": "conversation.item.delete", "item_id": i.item_id} for i in old
        ]
        return events + [{"type": "conversation.item.create", "item": item_to_wire(i)} for i in new]

    with pytest.raises(HistoryPropertyError) as info:
        check_reset_history(
            Recorder(rebuild), [user("a"), user("b")], [user("a"), user("b"), user("c")]
        )
    assert str(info.value).splitlines()[0] == (
        "reset_history broke the history property: not minimal: it moved a, b; "
        "fewer unchanged items had to move"
    )


def test_touching_an_item_twice_is_caught() -> None:
    def twice(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> list[JSONObject]:
        return [
            {"type": "conversation.item.delete", "item_id": "a"},
            {"type": "conversation.item.create", "item": item_to_wire(user("a", "tmp"))},
            {"type": "conversation.item.delete", "item_id": "a"},
            {"type": "conversation.item.create", "item": item_to_wire(user("a", "y"))},
        ]

    with pytest.raises(HistoryPropertyError, match="items deleted or created more than once: a"):
        check_reset_history(Recorder(twice), [user("a")], [user("a", "y")])


def test_refusing_what_can_be_reset_is_caught() -> None:
    class Refuser(Recorder):
        def reset_history(self, old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> None:
            raise HistoryError("no")

    with pytest.raises(HistoryPropertyError, match="it refused histories it can reset"):
        check_reset_history(Refuser(None), [user("a")], [user("b")])


def test_not_refusing_an_mcp_item_is_caught() -> None:
    with pytest.raises(HistoryPropertyError) as info:
        verify_reset([], [mcp("m")], ResetRun())
    assert str(info.value).splitlines()[0] == (
        "reset_history broke the history property: it should have refused "
        "(m (mcp_call) cannot be created) but did not"
    )


def test_refusing_after_sending_is_caught() -> None:
    run = ResetRun(events=({"type": "conversation.item.delete", "item_id": "a"},), refused="late")
    with pytest.raises(HistoryPropertyError, match="it refused, but only after sending events"):
        verify_reset([user("a"), mcp("m")], [mcp("n")], run)


def test_leaving_a_call_out_without_warning_is_caught() -> None:
    with pytest.raises(
        HistoryPropertyError, match="function calls were left out without a warning"
    ):
        verify_reset([], [call("f")], ResetRun(warnings=()))
    verify_reset([], [call("f")], ResetRun(warnings=("skipped",)))
    verify_reset([], [call("f")], ResetRun())  # a subject that does not report warnings


def test_creating_a_function_call_is_caught() -> None:
    run = ResetRun(events=({"type": "conversation.item.create", "item": item_to_wire(call("f"))},))
    with pytest.raises(HistoryPropertyError, match="function calls were created"):
        verify_reset([], [call("f")], run)


def test_verify_accepts_the_conversation_a_real_server_reports() -> None:
    result = [{**item_to_wire(user("a")), "object": "realtime.item"}]
    verify_reset([user("a")], [user("a")], ResetRun(), result=result)
    with pytest.raises(HistoryPropertyError, match="item a differs from new"):
        verify_reset([user("a")], [user("a", "y")], ResetRun(), result=result)


def test_the_property_needs_unique_ids() -> None:
    with pytest.raises(UsageError) as info:
        verify_reset([user("a"), user("a")], [], ResetRun())
    assert str(info.value) == (
        "old history repeats item id 'a': the property is defined for histories with unique ids"
    )


def test_apply_events_reports_refusals_by_event_number() -> None:
    items, refusals = apply_events(
        [user("a")],
        [
            {"type": "session.update", "session": {}},
            {"type": "conversation.item.delete", "item_id": "z"},
        ],
    )
    assert [i["id"] for i in items] == ["a"]
    assert [(number, error["error"]["code"]) for number, error in refusals] == [
        (2, "item_delete_invalid_item_id")
    ]


def test_describe_item_is_one_short_line() -> None:
    assert describe_item(user("a", "hi")) == "a user [completed] input_text:'hi'"
    assert describe_item(call("f")) == "f function_call tool({})"
    assert describe_item(item_to_wire(user("a", "hi"))) == "a user [completed] input_text:'hi'"


# --------------------------------------------------------------------------- over the wire


@given(history_edits(kinds=ALL_KINDS))
@example(([user("a"), user("b")], [user("b"), user("a")]))
@example(([call("f"), user("a")], [user("a", "y"), call("f"), user("b")]))
@example(([mcp("m"), mcp("n")], [mcp("n"), mcp("m")]))
def test_our_transport_keeps_the_property_over_a_socket(pair: Pair) -> None:
    asyncio.run(check_transport_reset(*pair))


@given(histories(max_size=5, kinds=ALL_KINDS), st.data())
def test_our_transport_keeps_the_property_across_resets_on_one_session(
    first: list[RealtimeItem], data: st.DataObject
) -> None:
    async def session() -> None:
        async with TransportChecker(first) as checker:
            for _ in range(3):
                edits = history_edits(old=st.just(checker.history), kinds=ALL_KINDS)
                _, new = data.draw(edits)
                await checker.reset(new)

    asyncio.run(session())


def test_an_image_message_created_by_a_reset_is_settled_before_the_next_reset() -> None:
    image = MessageItem(
        "b", "user", [InputImage("https://example.com/cat.png")], status="completed"
    )

    async def session() -> None:
        async with TransportChecker([user("a")]) as checker:
            await checker.reset([user("a"), image])
            await checker.reset([user("a"), image])  # nothing changed: nothing to send

    asyncio.run(session())


TestTransportMachine = transport_state_machine(kinds=ALL_KINDS).TestCase
TestTransportMachine.settings = settings(TestTransportMachine.settings, stateful_step_count=10)


def test_the_wire_checker_sends_and_deletes_like_a_client() -> None:
    async def run() -> list[str]:
        async with TransportChecker([user("a")]) as checker:
            await checker.send(user("b"))
            await checker.delete("a")
            return [i["id"] for i in checker.server.sessions[0].conversation.items]

    assert asyncio.run(run()) == ["b"]


def test_the_wire_checker_reports_a_refused_delete() -> None:
    async def run() -> None:
        async with TransportChecker([user("a")]) as checker:
            await checker.delete("ghost")

    with pytest.raises(HistoryPropertyError) as info:
        asyncio.run(run())
    assert str(info.value).splitlines()[0] == (
        'reset_history broke the history property: the server answered with an error: {"type":'
        '"invalid_request_error","code":"item_delete_invalid_item_id","message":"Error deleting '
        'item: the item with id \'ghost\' does not exist.","param":"item_id","event_id":null}'
    )


def test_the_wire_checker_reports_what_the_server_holds() -> None:
    async def run() -> list[ResetRun]:
        async with TransportChecker([user("a"), user("b")]) as checker:
            await checker.reset([user("b"), user("a")])
            await checker.reset([user("a", "y")])
            assert [i.item_id for i in checker.history] == ["a"]
            assert [i["id"] for i in checker.server.sessions[0].conversation.items] == ["a"]
            return checker.runs

    first, second = asyncio.run(run())
    assert [(e["type"], e["event_id"]) for e in first.events] == [
        ("conversation.item.delete", "agents_delete_1"),
        ("conversation.item.create", "agents_create_2"),
    ]
    assert [e["type"] for e in second.events] == [
        "conversation.item.delete",
        "conversation.item.delete",
        "conversation.item.create",
    ]
    assert first.warnings == second.warnings == ()


def test_the_wire_checker_sees_the_transport_refuse_before_sending() -> None:
    run = asyncio.run(check_transport_reset([user("a")], [user("a"), mcp("m")]))
    assert run.events == ()
    assert run.refused is not None and run.refused.startswith("MCP items cannot be added")
