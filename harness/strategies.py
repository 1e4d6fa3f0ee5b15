"""Hypothesis strategies for conversation items, histories and their edits.

Import by name (``import harness`` does not pull in hypothesis)::

    from hypothesis import given
    from harness.strategies import histories, history_edits

    @given(history_edits(max_size=6))
    def test_my_reset(pair):
        old, new = pair
        ...

Every strategy shrinks towards short histories of plain user text messages with ids
``"a"``, ``"b"``, ... so a failure reads like ``old=[a, b], new=[b, a]``.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import replace
from enum import StrEnum
from functools import lru_cache
from typing import Final, TypeVar

from hypothesis import strategies as st

from harness.errors import UsageError
from harness.items import (
    FunctionCallItem,
    InputAudio,
    InputImage,
    InputText,
    McpApprovalRequestItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    OutputAudio,
    OutputText,
    RealtimeItem,
)

__all__ = [
    "ALL_KINDS",
    "CREATABLE_KINDS",
    "UNCREATABLE_KINDS",
    "EditOp",
    "HistoryPair",
    "ItemKind",
    "histories",
    "history_edits",
    "item_ids",
    "items",
    "uncreatable_histories",
]


class ItemKind(StrEnum):
    """The kinds of item :func:`items` draws, by how the API treats them."""

    USER = "user"
    """user message: input_text, input_audio (transcript), input_image."""
    ASSISTANT = "assistant"
    """assistant message with output_text only."""
    SYSTEM = "system"
    """system message (input_text)."""
    ASSISTANT_AUDIO = "assistant_audio"
    """assistant message holding output_audio: cannot be replayed (refused)."""
    FUNCTION_CALL = "function_call"
    """function call: cannot be created (skipped with a warning)."""
    MCP_CALL = "mcp_call"
    """mcp_call / mcp_tool_call: cannot be created (refused)."""
    MCP_APPROVAL_REQUEST = "mcp_approval_request"
    """mcp_approval_request: cannot be created (refused)."""
    MCP_LIST_TOOLS = "mcp_list_tools"
    """mcp_list_tools: cannot be created (refused)."""


CREATABLE_KINDS: Final = (ItemKind.USER, ItemKind.ASSISTANT, ItemKind.SYSTEM)
"""Kinds ``reset_history`` can always create."""

UNCREATABLE_KINDS: Final = (
    ItemKind.ASSISTANT_AUDIO,
    ItemKind.FUNCTION_CALL,
    ItemKind.MCP_CALL,
    ItemKind.MCP_APPROVAL_REQUEST,
    ItemKind.MCP_LIST_TOOLS,
)
"""Kinds the API cannot create: ``reset_history`` refuses or skips them."""

ALL_KINDS: Final = (*CREATABLE_KINDS, *UNCREATABLE_KINDS)


class EditOp(StrEnum):
    """One way :func:`history_edits` changes a history."""

    INSERT = "insert"
    DELETE = "delete"
    EDIT = "edit"
    REORDER = "reorder"


HistoryPair = tuple[list[RealtimeItem], list[RealtimeItem]]
"""``(old, new)``, as :func:`history_edits` draws it."""

_ID_ALPHABET: Final = string.ascii_lowercase
_TEXT: Final = st.text(alphabet="xyz", max_size=3)
_STATUS: Final = st.sampled_from(["completed", "incomplete", "in_progress"])
_B64: Final = st.sampled_from(["AAAA", "UklGRg==", "AAECAw=="])


def _column_name(n: int) -> str:
    # 0 -> "a", 25 -> "z", 26 -> "aa", ... as spreadsheet columns
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, len(_ID_ALPHABET))
        name = _ID_ALPHABET[rest] + name
    return name


def item_ids() -> st.SearchStrategy[str]:
    """Short lowercase ids: ``"a"``, ``"b"``, ... ``"zz"``; they shrink towards ``"a"``."""
    return st.integers(min_value=0, max_value=701).map(_column_name)


def _optional_text() -> st.SearchStrategy[str | None]:
    return st.one_of(_TEXT, st.none())


def _user_content() -> st.SearchStrategy[list[InputText | InputAudio | InputImage]]:
    part = st.one_of(
        st.builds(InputText, _TEXT),
        st.builds(InputAudio, audio=st.one_of(st.none(), _B64), transcript=_optional_text()),
        st.builds(
            InputImage,
            st.sampled_from(["https://example.com/cat.png", "data:image/png;base64,AAAA"]),
            detail=st.sampled_from(["auto", "low", "high"]),
        ),
    )
    return st.lists(part, min_size=1, max_size=2)


def _message(kind: ItemKind, ids: st.SearchStrategy[str]) -> st.SearchStrategy[RealtimeItem]:
    if kind is ItemKind.USER:
        return st.builds(MessageItem, ids, st.just("user"), _user_content(), _STATUS)
    if kind is ItemKind.SYSTEM:
        return st.builds(
            MessageItem,
            ids,
            st.just("system"),
            st.lists(st.builds(InputText, _TEXT), min_size=1, max_size=2),
        )
    if kind is ItemKind.ASSISTANT:
        return st.builds(
            MessageItem,
            ids,
            st.just("assistant"),
            st.lists(st.builds(OutputText, _TEXT), min_size=1, max_size=2),
            _STATUS,
        )
    # assistant audio: at least one output_audio part
    audio = st.builds(OutputAudio, audio=st.one_of(st.none(), _B64), transcript=_optional_text())
    parts = st.tuples(audio, st.lists(st.one_of(audio, st.builds(OutputText, _TEXT)), max_size=1))
    return st.builds(
        MessageItem,
        ids,
        st.just("assistant"),
        parts.map(lambda p: [p[0], *p[1]]),
        _STATUS,
    )


def _item_of(kind: ItemKind, ids: st.SearchStrategy[str]) -> st.SearchStrategy[RealtimeItem]:
    if kind in (ItemKind.USER, ItemKind.SYSTEM, ItemKind.ASSISTANT, ItemKind.ASSISTANT_AUDIO):
        return _message(kind, ids)
    if kind is ItemKind.FUNCTION_CALL:
        return st.builds(
            FunctionCallItem,
            ids,
            st.sampled_from(["get_weather", "lookup"]),
            st.sampled_from(["{}", '{"city":"Paris"}']),
            output=st.one_of(st.none(), _TEXT),
            status=_STATUS,
        )
    if kind is ItemKind.MCP_CALL:
        return st.builds(
            McpCallItem,
            ids,
            st.sampled_from(["mcp_call", "mcp_tool_call"]),
            st.sampled_from(["search", "fetch"]),
            st.sampled_from(["{}", '{"q":"x"}']),
            output=st.one_of(st.none(), _TEXT),
            status=_STATUS,
        )
    if kind is ItemKind.MCP_APPROVAL_REQUEST:
        return st.builds(
            McpApprovalRequestItem,
            ids,
            st.just("docs"),
            st.sampled_from(["search", "fetch"]),
            st.dictionaries(st.sampled_from(["q", "n"]), _TEXT, max_size=1),
            approved=st.one_of(st.none(), st.booleans()),
        )
    return st.builds(
        McpListToolsItem,
        ids,
        st.just("docs"),
        st.lists(st.builds(dict, name=st.sampled_from(["search", "fetch"])), max_size=2).map(tuple),
    )


_E = TypeVar("_E", bound=StrEnum)


def _enum_args(enum: type[_E], values: Collection[_E | str], argument: str) -> tuple[_E, ...]:
    """``values`` as members of ``enum``, or a UsageError naming the argument and the choices."""
    chosen = []
    for value in values:
        try:
            chosen.append(enum(value))
        except ValueError:
            choices = ", ".join(repr(member.value) for member in enum)
            raise UsageError(
                f"{argument}: {value!r} is not a valid {enum.__name__} (choose from {choices})"
            ) from None
    return tuple(chosen)


def _check_sizes(min_size: int, max_size: int, *, least: int = 0) -> None:
    if not least <= min_size <= max_size:
        raise UsageError(
            f"min_size={min_size}, max_size={max_size}: need {least} <= min_size <= max_size"
        )


def _kinds(kinds: Collection[ItemKind | str] | None) -> tuple[ItemKind, ...]:
    if kinds is None:
        return CREATABLE_KINDS
    chosen = _enum_args(ItemKind, kinds, "kinds")
    if not chosen:
        raise UsageError("kinds: must name at least one ItemKind, e.g. kinds=CREATABLE_KINDS")
    return chosen


def items(
    *,
    kinds: Collection[ItemKind | str] | None = None,
    ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[RealtimeItem]:
    """Draw one conversation item.

    Args:
        kinds: which :class:`ItemKind` to draw from; default :data:`CREATABLE_KINDS`
            (user, assistant text and system messages). Use :data:`ALL_KINDS` to mix in
            items the API cannot create. Earlier kinds are what failures shrink to.
        ids: the item ids; default :func:`item_ids`.
    """
    chosen = _kinds(kinds)
    if ids is None:
        return _items_with_default_ids(chosen)
    return st.one_of(*[_item_of(kind, ids) for kind in chosen])


@lru_cache(maxsize=64)
def _items_with_default_ids(kinds: tuple[ItemKind, ...]) -> st.SearchStrategy[RealtimeItem]:
    # Built once per set of kinds: strategies are values, and building them is costly.
    ids = item_ids()
    return st.one_of(*[_item_of(kind, ids) for kind in kinds])


def histories(
    *,
    min_size: int = 0,
    max_size: int = 8,
    kinds: Collection[ItemKind | str] | None = None,
) -> st.SearchStrategy[list[RealtimeItem]]:
    """Draw a history: a list of items with unique ids.

    Args:
        min_size: fewest items.
        max_size: most items.
        kinds: as for :func:`items`.
    """
    _check_sizes(min_size, max_size)
    return st.lists(
        items(kinds=kinds),
        min_size=min_size,
        max_size=max_size,
        unique_by=lambda item: item.item_id,
    )


@st.composite
def _with_uncreatable(draw: st.DrawFn, min_size: int, max_size: int) -> list[RealtimeItem]:
    rest = draw(histories(min_size=max(min_size - 1, 0), max_size=max_size - 1, kinds=ALL_KINDS))
    taken = {item.item_id for item in rest}
    odd = draw(items(kinds=UNCREATABLE_KINDS))
    if odd.item_id in taken:
        free = next(_column_name(n) for n in range(len(taken) + 1) if _column_name(n) not in taken)
        odd = replace(odd, item_id=free)
    rest.insert(draw(st.integers(0, len(rest))), odd)
    return rest


def uncreatable_histories(
    *, min_size: int = 1, max_size: int = 8
) -> st.SearchStrategy[list[RealtimeItem]]:
    """Draw a history holding at least one item the API cannot create.

    Args:
        min_size: fewest items (at least 1).
        max_size: most items.
    """
    _check_sizes(max(min_size, 1), max_size, least=1)
    return _with_uncreatable(min_size, max_size)


_KEEP, _DELETE, _EDIT = "keep", "delete", "edit"


@st.composite
def _fate(
    draw: st.DrawFn,
    item: RealtimeItem,
    ops: tuple[EditOp, ...],
    kinds: tuple[ItemKind, ...],
    max_slot: int,
) -> tuple[RealtimeItem, str, RealtimeItem | None, int | None]:
    """What happens to one item of ``old``: kept, deleted or edited; moved or not."""
    fates = [_KEEP]
    if EditOp.DELETE in ops:
        fates.append(_DELETE)
    if EditOp.EDIT in ops:
        fates.append(_EDIT)
    fate = draw(st.sampled_from(fates))
    edited = None
    if fate == _EDIT:
        # Same id, other content (an equal draw is kept as it is: a no-op edit).
        edited = replace(draw(items(kinds=kinds)), item_id=item.item_id)
    slot = None
    if EditOp.REORDER in ops and fate != _DELETE and draw(st.booleans()):
        slot = draw(st.integers(0, max_slot))
    return item, fate, edited, slot


@st.composite
def _entry(
    draw: st.DrawFn, ops: tuple[EditOp, ...], kinds: tuple[ItemKind, ...], max_slot: int
) -> tuple[RealtimeItem, str, RealtimeItem | None, int | None]:
    return draw(_fate(draw(items(kinds=kinds)), ops, kinds, max_slot))


@st.composite
def _edited(
    draw: st.DrawFn,
    old_strategy: st.SearchStrategy[list[RealtimeItem]] | None,
    sizes: tuple[int, int, int],
    ops: tuple[EditOp, ...],
    kinds: tuple[ItemKind, ...],
) -> HistoryPair:
    # The draw is flat, one entry per item of old holding everything that happens to
    # it, so that removing an entry removes an item and all its edits: failures shrink
    # to the fewest items (a swap shrinks to old=[a, b], new=[b, a]).
    min_size, max_size, max_inserts = sizes
    if old_strategy is None:
        entries = draw(
            st.lists(
                _entry(ops, kinds, max_size),
                min_size=min_size,
                max_size=max_size,
                unique_by=lambda entry: entry[0].item_id,
            )
        )
    else:
        given = draw(old_strategy)
        entries = [draw(_fate(item, ops, kinds, len(given))) for item in given]
    old = [entry[0] for entry in entries]
    inserts: list[tuple[RealtimeItem, int]] = []
    if EditOp.INSERT in ops and max_inserts:
        used = {item.item_id for item in old}
        drawn = draw(
            st.lists(
                st.tuples(items(kinds=kinds), st.integers(0, max(len(old), 0))),
                max_size=max_inserts,
                unique_by=lambda pair: pair[0].item_id,
            )
        )
        inserts = [pair for pair in drawn if pair[0].item_id not in used]  # ids stay unique
    # New order: an item keeps its old slot unless moved; a moved or inserted item goes
    # just before whatever holds its slot (slot len(old) = the end).
    placed: list[tuple[tuple[int, int, int], RealtimeItem]] = []
    for index, (item, fate, edited, slot) in enumerate(entries):
        if fate == _DELETE:
            continue
        final = edited if edited is not None else item
        key = (index, 1, index) if slot is None else (min(slot, len(old)), 0, index)
        placed.append((key, final))
    for number, (item, slot) in enumerate(inserts):
        placed.append(((min(slot, len(old)), 0, len(old) + number), item))
    placed.sort(key=lambda entry: entry[0])
    return old, [item for _, item in placed]


def history_edits(
    *,
    min_size: int = 0,
    max_size: int = 8,
    ops: Sequence[EditOp | str] = tuple(EditOp),
    max_inserts: int = 3,
    kinds: Collection[ItemKind | str] | None = None,
    old: st.SearchStrategy[list[RealtimeItem]] | None = None,
) -> st.SearchStrategy[HistoryPair]:
    """Draw ``(old, new)``: a history and an edit of it.

    Each item of ``old`` is kept, deleted or edited (same id, new content, possibly
    another kind), and may move to another place; up to ``max_inserts`` new items are
    inserted anywhere. Any mix of these can happen at once; nothing happening gives
    ``new == old``. Failures shrink to the fewest items and changes, e.g. a swap to
    ``old=[a, b], new=[b, a]``.

    Args:
        min_size: fewest items in ``old``.
        max_size: most items in ``old``.
        ops: the :class:`EditOp` to mix (insert, delete, edit, reorder).
        max_inserts: most items inserted.
        kinds: kinds of items in ``old`` and of those inserted or edited in.
        old: draw ``old`` from this instead (``min_size`` / ``max_size`` then unused).
    """
    chosen_ops = _enum_args(EditOp, ops, "ops")
    if not chosen_ops:
        raise UsageError("ops: must name at least one EditOp, e.g. ops=['reorder']")
    if max_inserts < 0:
        raise UsageError(f"max_inserts={max_inserts}: must be 0 or more")
    _check_sizes(min_size, max_size)
    return _edited(old, (min_size, max_size, max_inserts), chosen_ops, _kinds(kinds))
