"""History planning: the events that turn the server's conversation ``old`` into ``new``.

Port of ``@openai/agents-realtime`` 0.20.0 ``diffRealtimeHistory`` (utils.ts) and
``resetHistory`` (openaiRealtimeBase.ts), corrected where the reference breaks the
history property (design.md, "The history property"). The transport sends what
:func:`plan_reset_history` returns; nothing here touches a socket.

Theory of operation
-------------------

1. Items are matched by id, through a dict: :func:`diff_realtime_history` is O(n)
   (the reference's is O(n²)). Two items with the same id differ when any field but
   ``previous_item_id`` differs: position is the list order, never a field. A history
   that repeats an id is refused (the reference's ``Array.some`` matching is undefined
   there).
2. Refusals come first, before any event is planned, in the reference's order: an
   assistant ``output_audio`` message to add or update, then an MCP item to add or
   update (or an MCP item replaced by another type under its id). We add one: an item
   of either kind that would have to *move* (see 4) is refused the same way, since
   moving means deleting and re-creating it.
3. Deletes: every ``old`` item absent from ``new`` (old order), then every item to
   re-create (new order): updated, moved, or of unknown state (see 6). The reference
   sends the first two groups in that order; the third is ours.
4. Moves. The items that are in both lists with equal content keep their place only if
   they are in the same relative order in both. We keep the largest such set, the
   longest increasing subsequence of their old positions taken in new order, and
   delete and re-create the rest. The reference keeps all of them, so a pure reorder
   sends nothing and leaves the server in the old order. The subsequence is weighted:
   an item the API cannot re-create (MCP, assistant ``output_audio``) outweighs any
   number of function calls, and a function call outweighs any number of messages, so
   a message moves around a function call rather than the other way round.
5. Creates walk ``new`` in order, each naming the item it follows: ``"root"`` before
   the first kept item, else the last kept or created item; a create after the last
   kept item is a plain append (no ``previous_item_id``), as in the reference. A
   function call cannot be created (the reference warns and skips it, and so do we); a
   skipped item anchors nothing. Its old copy is deleted all the same when it changed
   or had to move, so the conversation ends as ``new`` without the skipped items.
6. ``pending`` is the transport's unacknowledged requests, projected as item id ->
   present-after. An item with a pending delete (``False``) is already on its way
   out: it is not deleted again, and it is created if ``new`` holds it. An item with a
   pending create (``True``) is on the server with content and place we cannot know,
   so it is deleted, and re-created if ``new`` holds it; so is one neither history
   holds. The reference instead trusts the pending create to match ``new`` (creating
   an added item twice), and does not re-create an unchanged item whose delete is
   pending, which loses it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise
from typing import Final

from harness._json import JSONObject
from harness.errors import HistoryError
from harness.items import (
    FunctionCallItem,
    McpApprovalRequestItem,
    MessageItem,
    RealtimeItem,
    has_assistant_output_audio,
    is_mcp_item,
    item_to_wire,
)

__all__ = [
    "CONVERSATION_ROOT",
    "FUNCTION_CALL_WARNING",
    "HistoryDiff",
    "HistoryRequest",
    "RequestKind",
    "ResetPlan",
    "diff_realtime_history",
    "plan_reset_history",
    "same_item",
]

CONVERSATION_ROOT: Final = "root"
"""``previous_item_id`` that places a created item first in the conversation."""

FUNCTION_CALL_WARNING: Final = (
    "Function calls cannot be manually added or updated at the moment. Ignoring."
)
"""The reference's warning for a function call it cannot create (logged, verbatim)."""


class RequestKind(StrEnum):
    """What a history request does to its item; the reference's spelling."""

    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class HistoryDiff:
    """How two histories differ, by item id.

    Attributes:
        removals: items of ``old`` whose id is not in ``new``, in old order.
        additions: items of ``new`` whose id is not in ``old``, in new order.
        updates: items of ``new`` whose id is in ``old`` with different content, in
            new order.
    """

    removals: tuple[RealtimeItem, ...]
    additions: tuple[RealtimeItem, ...]
    updates: tuple[RealtimeItem, ...]


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """One client event of a reset, before the transport gives it an ``event_id``.

    Attributes:
        item_id: the item the event creates or deletes.
        kind: :attr:`RequestKind.CREATE` or :attr:`RequestKind.DELETE`.
        event: the ``conversation.item.create`` / ``conversation.item.delete`` event.
    """

    item_id: str
    kind: RequestKind
    event: JSONObject


@dataclass(frozen=True, slots=True)
class ResetPlan:
    """What ``reset_history(old, new)`` sends, and what it has to say about it.

    Attributes:
        requests: the events to send, in order.
        warnings: one message per skipped item; the transport warns with each.
        skipped: ids of items of ``new`` the plan leaves out of the conversation (function
            calls, which cannot be created), in new order.
        moved: ids of unchanged items deleted and re-created to fix their place.
    """

    requests: tuple[HistoryRequest, ...]
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()


# --------------------------------------------------------------------------- diff


def same_item(a: RealtimeItem, b: RealtimeItem) -> bool:
    """Tell whether two items have the same content, ignoring ``previous_item_id``.

    The reference compares ``JSON.stringify`` of both, so key order and a stale
    ``previousItemId`` make it re-create an unchanged item; position is the list order.
    """
    if a is b or a == b:
        return True
    if type(a) is not type(b) or isinstance(a, McpApprovalRequestItem):
        return False  # different kinds, or no previous_item_id field to set aside
    if a.previous_item_id == b.previous_item_id:
        return False
    return replace(a, previous_item_id=b.previous_item_id) == b


def _index(history: Sequence[RealtimeItem], name: str) -> dict[str, int]:
    index = {item.item_id: position for position, item in enumerate(history)}
    if len(index) != len(history):
        # reference: the diff matches ids with Array.some, which a repeated id
        # confuses; we refuse instead.
        first: dict[str, int] = {}
        for position, item in enumerate(history):
            seen = first.setdefault(item.item_id, position)
            if seen != position:
                raise HistoryError(
                    f"{name} history has two items with itemId {item.item_id!r} "
                    f"(positions {seen} and {position}); item ids must be unique"
                )
    return index


def _output_audio_error(item: RealtimeItem) -> HistoryError:
    # reference: utils.ts, diffRealtimeHistory (message verbatim but for the method name)
    return HistoryError(
        f"Assistant output_audio history item {item.item_id} cannot be replayed through "
        "OpenAI Realtime. Convert its transcript to output_text content or remove the item "
        "before calling reset_history()."
    )


def _diff(
    old: Sequence[RealtimeItem],
    new: Sequence[RealtimeItem],
    old_index: Mapping[str, int],
    new_index: Mapping[str, int],
) -> HistoryDiff:
    removals = tuple(item for item in old if item.item_id not in new_index)
    additions: list[RealtimeItem] = []
    updates: list[RealtimeItem] = []
    for item in new:
        position = old_index.get(item.item_id)
        if position is None:
            additions.append(item)
        elif not same_item(old[position], item):
            updates.append(item)
    for item in (*additions, *updates):
        if has_assistant_output_audio(item):
            raise _output_audio_error(item)
    return HistoryDiff(removals, tuple(additions), tuple(updates))


def diff_realtime_history(old: Iterable[RealtimeItem], new: Iterable[RealtimeItem]) -> HistoryDiff:
    """Compare two histories by item id, in O(n).

    Args:
        old: the history the server has.
        new: the history wanted.

    Returns:
        The removals, additions and updates, as the reference's ``diffRealtimeHistory``.

    Raises:
        HistoryError: an assistant message with ``output_audio`` would be added or
            updated (the API cannot replay it), or a history repeats an item id.
    """
    old_items = tuple(old)
    new_items = tuple(new)
    return _diff(old_items, new_items, _index(old_items, "old"), _index(new_items, "new"))


# --------------------------------------------------------------------------- moves

# Weights of the kept-in-place subsequence (rule 4): an item the API cannot re-create
# outweighs every function call together, a function call every message together.
_CREATABLE, _SKIPPABLE, _REFUSED = 0, 1, 2


def _tier(item: RealtimeItem) -> int:
    if is_mcp_item(item) or has_assistant_output_audio(item):
        return _REFUSED
    if isinstance(item, FunctionCallItem):
        return _SKIPPABLE
    return _CREATABLE


def _longest_increasing(positions: Sequence[int]) -> list[int]:
    """Indices into ``positions`` of a longest strictly increasing subsequence."""
    tails: list[int] = []  # smallest tail value of an increasing run of each length
    tail_at: list[int] = []  # index of that tail
    parent = [-1] * len(positions)
    for i, value in enumerate(positions):
        length = bisect_left(tails, value)
        if length:
            parent[i] = tail_at[length - 1]
        if length == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[length] = value
            tail_at[length] = i
    chosen: list[int] = []
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        chosen.append(i)
        i = parent[i]
    chosen.reverse()
    return chosen


def _heaviest_increasing(positions: Sequence[int], weights: Sequence[int], size: int) -> list[int]:
    """Indices of a maximum-weight strictly increasing subsequence, in O(n log n).

    A Fenwick tree over the positions (``0 <= position < size``) holds, for each
    prefix, the best total weight of a subsequence ending there.
    """
    best_value = [0] * (size + 1)
    best_at = [-1] * (size + 1)
    parent = [-1] * len(positions)
    total = [0] * len(positions)
    for i, position in enumerate(positions):
        value, at, k = 0, -1, position  # best over positions < position
        while k > 0:
            if best_value[k] > value:
                value, at = best_value[k], best_at[k]
            k -= k & -k
        total[i] = value + weights[i]
        parent[i] = at
        k = position + 1
        while k <= size:
            if total[i] > best_value[k]:
                best_value[k], best_at[k] = total[i], i
            k += k & -k
    chosen: list[int] = []
    i = max(range(len(positions)), key=total.__getitem__, default=-1)
    while i >= 0:
        chosen.append(i)
        i = parent[i]
    chosen.reverse()
    return chosen


def _keep_in_place(
    candidates: Sequence[RealtimeItem], positions: Sequence[int], size: int
) -> set[str]:
    """Ids of the candidates that keep their place (rule 4)."""
    if all(a < b for a, b in pairwise(positions)):
        return {item.item_id for item in candidates}  # nothing moved: the common case
    tiers = [_tier(item) for item in candidates]
    if not any(tiers):
        chosen = _longest_increasing(positions)
    else:
        unit = len(candidates) + 1
        weights = [unit**tier for tier in tiers]
        chosen = _heaviest_increasing(positions, weights, size)
    return {candidates[i].item_id for i in chosen}


# --------------------------------------------------------------------------- plan


def _mcp_error(item: RealtimeItem, replaced: RealtimeItem | None) -> HistoryError:
    # reference: openaiRealtimeBase.ts, resetHistory (message verbatim but the method)
    if replaced is not None and is_mcp_item(replaced):
        detail = (
            f"itemId {item.item_id} replaces an existing '{replaced.type}' item with a "
            f"'{item.type}' item"
        )
    else:
        detail = f"a '{item.type}' item (itemId: {item.item_id}) would be added or updated"
    return HistoryError(
        f"MCP items cannot be added or updated via reset_history(). Found {detail}. Leave "
        "existing MCP items unchanged, or remove them from history entirely, before calling "
        "reset_history()."
    )


def _move_error(item: RealtimeItem, why: str) -> HistoryError:
    kind = (
        "an assistant output_audio message"
        if has_assistant_output_audio(item)
        else (f"a '{item.type}' item")
    )
    return HistoryError(
        f"reset_history() cannot {why} {kind} (itemId: {item.item_id}): the API cannot "
        "re-create it once deleted. Keep such items in their old order relative to each "
        "other, or remove them from the new history."
    )


def plan_reset_history(
    old: Iterable[RealtimeItem],
    new: Iterable[RealtimeItem],
    *,
    pending: Mapping[str, bool] | None = None,
) -> ResetPlan:
    """Plan the events that make the server's conversation ``old`` equal ``new``.

    Args:
        old: the history the server has (the reference's ``oldHistory``).
        new: the history wanted.
        pending: the sender's unacknowledged history requests, projected in send order
            as item id -> present after them (``True`` for a create, ``False`` for a
            delete), as the reference's ``#pendingHistoryRequests``.

    Returns:
        The requests to send in order, a warning per function call skipped, and the
        ids skipped and moved. Nothing is planned for an item that did not change and
        did not move.

    Raises:
        HistoryError: before anything is sent, when an item the API cannot create
            (assistant ``output_audio``, MCP) would have to be created, updated or
            moved, or when a history repeats an item id.
    """
    old_items = tuple(old)
    new_items = tuple(new)
    old_index = _index(old_items, "old")
    new_index = _index(new_items, "new")
    pending = pending or {}

    # Rule 2: the reference's refusals, in its order.
    diff = _diff(old_items, new_items, old_index, new_index)
    for item in (*diff.additions, *diff.updates):
        position = old_index.get(item.item_id)
        replaced = old_items[position] if position is not None else None
        if is_mcp_item(item) or (replaced is not None and is_mcp_item(replaced)):
            raise _mcp_error(item, replaced)
    updated = {item.item_id for item in diff.updates}

    # Rule 4 (and 6): which items already on the server keep their place. An item with
    # a request in flight is no candidate: a pending delete takes it away, a pending
    # create holds content and a place we cannot know.
    # reference: resetHistory lets an unchanged item with a pending create survive,
    # trusting that create to match; and it neither keeps nor re-creates an unchanged
    # item whose delete is pending, so that item is lost. Both are re-created here.
    candidates: list[RealtimeItem] = []
    positions: list[int] = []
    for item in new_items:
        position = old_index.get(item.item_id)
        if position is not None and item.item_id not in updated and item.item_id not in pending:
            candidates.append(item)
            positions.append(position)
    keep = _keep_in_place(candidates, positions, len(old_items))
    moved = [item for item in candidates if item.item_id not in keep]
    moved_ids = {item.item_id for item in moved}
    for item in new_items:
        # Additions and updates were refused above with the reference's messages; what
        # is left is a move, or a re-creation because of a pending request.
        if item.item_id not in keep and _tier(item) == _REFUSED:
            raise _move_error(item, "move" if item.item_id in moved_ids else "re-create")

    requests: list[HistoryRequest] = []

    # Rule 3: deletes.
    def delete(item_id: str) -> None:
        requests.append(
            HistoryRequest(
                item_id,
                RequestKind.DELETE,
                {"type": "conversation.item.delete", "item_id": item_id},
            )
        )

    for item in diff.removals:
        # reference: resetHistory deletes again an item whose delete is in flight,
        # which earns an error event; we leave it to the first delete.
        if pending.get(item.item_id) is not False:
            delete(item.item_id)
    for item in new_items:
        item_id = item.item_id
        state = pending.get(item_id)
        if item_id in moved_ids or state is True:
            delete(item_id)  # moved, or a create in flight whose content we cannot know
        elif item_id in updated and state is not False:
            delete(item_id)
    for item_id, present in pending.items():
        # A create in flight for an item neither history knows: it must go too.
        if present and item_id not in old_index and item_id not in new_index:
            delete(item_id)

    # Rule 5: creates, each after the item it follows.
    last_kept = -1
    for position, item in enumerate(new_items):
        if item.item_id in keep:
            last_kept = position
    anchor = CONVERSATION_ROOT
    warned: list[str] = []
    skipped: list[str] = []
    for position, item in enumerate(new_items):
        if item.item_id in keep:
            anchor = item.item_id
            continue
        if isinstance(item, MessageItem):
            event: JSONObject = {"type": "conversation.item.create"}
            if position < last_kept:
                event["previous_item_id"] = anchor
            event["item"] = item_to_wire(item)
            requests.append(HistoryRequest(item.item_id, RequestKind.CREATE, event))
            anchor = item.item_id
        else:
            # reference: resetHistory warns and skips a function call; not created,
            # so it anchors nothing.
            warned.append(FUNCTION_CALL_WARNING)
            skipped.append(item.item_id)
    return ResetPlan(
        tuple(requests),
        tuple(warned),
        tuple(skipped),
        tuple(item.item_id for item in moved),
    )
