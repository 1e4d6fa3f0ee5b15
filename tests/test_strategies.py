"""harness.strategies: what the public strategies draw, and how they shrink."""

from __future__ import annotations

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from harness.errors import UsageError
from harness.items import (
    FunctionCallItem,
    MessageItem,
    RealtimeItem,
    has_assistant_output_audio,
    is_mcp_item,
)
from harness.strategies import (
    ALL_KINDS,
    UNCREATABLE_KINDS,
    EditOp,
    ItemKind,
    histories,
    history_edits,
    items,
    uncreatable_histories,
)


def ids(history: list[RealtimeItem]) -> list[str]:
    return [item.item_id for item in history]


def creatable(item: RealtimeItem) -> bool:
    return not (
        is_mcp_item(item) or has_assistant_output_audio(item) or isinstance(item, FunctionCallItem)
    )


@given(histories(max_size=10))
def test_histories_have_unique_ids_and_only_creatable_items_by_default(
    history: list[RealtimeItem],
) -> None:
    assert len(set(ids(history))) == len(history) <= 10
    assert all(creatable(item) for item in history)


@given(uncreatable_histories(max_size=5))
def test_uncreatable_histories_hold_an_item_the_api_cannot_create(
    history: list[RealtimeItem],
) -> None:
    assert 1 <= len(history) <= 5
    assert len(set(ids(history))) == len(history)
    assert not all(creatable(item) for item in history)


@given(items(kinds=[ItemKind.ASSISTANT_AUDIO]))
def test_assistant_audio_kind_always_holds_output_audio(item: RealtimeItem) -> None:
    assert has_assistant_output_audio(item)


@given(items(kinds=UNCREATABLE_KINDS))
def test_uncreatable_kinds_are_never_creatable(item: RealtimeItem) -> None:
    assert not creatable(item)


@given(history_edits(kinds=ALL_KINDS))
def test_edits_keep_ids_unique(pair: tuple[list[RealtimeItem], list[RealtimeItem]]) -> None:
    old, new = pair
    assert len(set(ids(old))) == len(old)
    assert len(set(ids(new))) == len(new)


@given(history_edits(ops=[EditOp.REORDER], min_size=1))
def test_reorders_keep_the_items(pair: tuple[list[RealtimeItem], list[RealtimeItem]]) -> None:
    old, new = pair
    assert sorted(ids(old)) == sorted(ids(new))
    assert {item.item_id: item for item in old} == {item.item_id: item for item in new}


@given(history_edits(ops=[EditOp.INSERT]))
def test_inserts_only_add(pair: tuple[list[RealtimeItem], list[RealtimeItem]]) -> None:
    old, new = pair
    assert [i for i in new if i.item_id in set(ids(old))] == old
    assert len(new) - len(old) <= 3


@given(history_edits(ops=[EditOp.DELETE]))
def test_deletes_only_remove(pair: tuple[list[RealtimeItem], list[RealtimeItem]]) -> None:
    old, new = pair
    assert [i for i in old if i.item_id in set(ids(new))] == new


@given(history_edits(ops=["edit"], min_size=1))
def test_edits_change_items_under_their_ids_in_place(
    pair: tuple[list[RealtimeItem], list[RealtimeItem]],
) -> None:
    old, new = pair
    assert ids(old) == ids(new)


def test_a_reorder_shrinks_to_a_swap_of_two_messages() -> None:
    old, new = find(history_edits(ops=["reorder"]), lambda pair: ids(pair[1]) != ids(pair[0]))
    assert sorted(ids(old)) == ["a", "b"]
    assert ids(new) == ids(old)[::-1]
    assert all(isinstance(i, MessageItem) for i in old)


def test_bad_arguments_raise_usage_error_naming_the_argument() -> None:
    with pytest.raises(UsageError, match=r"^ops: must name at least one EditOp"):
        history_edits(ops=[])
    with pytest.raises(UsageError, match=r"^ops: 'shuffle' is not a valid EditOp \(choose from"):
        history_edits(ops=["shuffle"])
    with pytest.raises(UsageError, match=r"^max_inserts=-1: must be 0 or more"):
        history_edits(max_inserts=-1)
    with pytest.raises(
        UsageError, match=r"^min_size=3, max_size=1: need 0 <= min_size <= max_size"
    ):
        histories(min_size=3, max_size=1)
    with pytest.raises(UsageError, match=r"^min_size=1, max_size=0: need 1 <= min_size"):
        uncreatable_histories(max_size=0)
    with pytest.raises(UsageError, match=r"^kinds: 'video' is not a valid ItemKind"):
        items(kinds=["video"])
    with pytest.raises(UsageError, match=r"^kinds: must name at least one ItemKind"):
        items(kinds=[])
    # UsageError is a ValueError: code that caught the old bare ValueError still works.
    assert issubclass(UsageError, ValueError)


@given(st.data())
def test_edits_of_a_given_history(data: st.DataObject) -> None:
    fixed = data.draw(histories(min_size=2, max_size=3))
    old, _new = data.draw(history_edits(old=st.just(fixed)))
    assert old == fixed
