"""The history property, as a function any ``reset_history`` can be checked with.

For any ``old`` and ``new``: start from a conversation equal to ``old``, call
``reset_history(old, new)``, apply every event it sent with the API's rules
(:mod:`harness.conversation`). Then (design.md, "The history property"):

1. Refusal. It must raise, before sending anything, exactly when ``new`` needs an item
   the API cannot create and the reference refuses: an assistant ``output_audio``
   message or an MCP item to add or update, an MCP item replaced under its id, or such
   items out of their old relative order (moving one means re-creating it).
2. Every event sent is accepted (no ``error``).
3. The conversation equals ``new`` (same ids, same order, same content), except for
   function calls, which the API cannot create: the reference skips those with a
   warning, so a function call of ``new`` may be missing, and one added or changed
   must be; a warning is given exactly when one is missing.
4. Minimal: no item gets more than one delete and one create; an item in both
   histories with the same content is touched only to move it, and the items left in
   place are the best possible: the heaviest set in the same relative order in both
   histories, weighing an item the API cannot re-create over any number of function
   calls, and a function call over any number of messages (the rule
   :func:`harness.history.plan_reset_history` follows; computed here independently).

:func:`verify_reset` checks one run; :func:`check_reset_history` runs a subject and
checks it; :func:`check_transport_reset` does it over a real socket against
``FakeRealtimeServer.simulate``; :class:`HistoryStateMachine` chains resets, sends and
deletes on one session. A failure raises :class:`~harness.errors.HistoryPropertyError`
whose message shows ``old``, ``new``, the events and the resulting conversation side by
side.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import warnings as warnings_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from harness._json import JSONObject, dumps_str
from harness.conversation import Conversation
from harness.errors import HistoryError, HistoryPropertyError, UsageError
from harness.history import plan_reset_history
from harness.items import (
    FunctionCallItem,
    InputAudio,
    InputImage,
    McpApprovalRequestItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    OutputAudio,
    RealtimeItem,
    has_assistant_output_audio,
    is_mcp_item,
    item_to_json,
    item_to_wire,
)
from harness.server import FakeRealtimeServer
from harness.strategies import histories, history_edits, item_ids, items
from harness.transport import OpenAIRealtimeWebSocket

__all__ = [
    "HistorySubject",
    "PlanSubject",
    "ResetRun",
    "TransportChecker",
    "apply_events",
    "check_reset_history",
    "check_transport_reset",
    "describe_item",
    "history_state_machine",
    "transport_state_machine",
    "verify_reset",
]


@dataclass(frozen=True, slots=True)
class ResetRun:
    """What one ``reset_history(old, new)`` call did.

    Attributes:
        events: the client events it sent, in order.
        warnings: the warnings it gave; ``None`` when the subject does not report them
            (then clause 3's warning check is skipped).
        refused: the message of the error it raised instead (``HistoryError``, or the
            reference's ``UserError``); ``None`` when it did not raise.
    """

    events: tuple[JSONObject, ...] = ()
    warnings: tuple[str, ...] | None = None
    refused: str | None = None


class HistorySubject(Protocol):
    """Anything with ``reset_history`` and a record of the events it sent.

    ``sent`` is read before and after the call; the events in between are the run's.
    """

    @property
    def sent(self) -> Sequence[JSONObject]:
        """Every client event sent so far, in order."""
        ...

    def reset_history(
        self, old_history: Sequence[RealtimeItem], new_history: Sequence[RealtimeItem]
    ) -> object:
        """Send the events that turn ``old_history`` into ``new_history``."""
        ...


class PlanSubject:
    """:func:`harness.history.plan_reset_history` as a subject: records what it would send.

    Args:
        pending: the projection of unacknowledged requests to plan with.
    """

    def __init__(self, pending: Mapping[str, bool] | None = None) -> None:
        self.pending = dict(pending or {})
        self.sent: list[JSONObject] = []
        self.warnings: list[str] = []

    def reset_history(
        self, old_history: Sequence[RealtimeItem], new_history: Sequence[RealtimeItem]
    ) -> None:
        """Plan the reset and record its events (with event ids) and warnings."""
        plan = plan_reset_history(old_history, new_history, pending=self.pending)
        self.warnings.extend(plan.warnings)
        for request in plan.requests:
            self.sent.append({**request.event, "event_id": f"plan_{len(self.sent) + 1}"})


# --------------------------------------------------------------------------- oracle


def _content(item: RealtimeItem) -> str:
    data = item_to_json(item)
    data.pop("previousItemId", None)
    return dumps_str(data, sort_keys=True)


def _normal(wire: Mapping[str, Any]) -> str:
    """A wire item as compared: no ``object``, and the status the server defaults to."""
    data = {k: v for k, v in wire.items() if k != "object"}
    if data.get("type") in ("message", "function_call"):
        data.setdefault("status", "completed")
    return dumps_str(data, sort_keys=True)


def _tier(item: RealtimeItem) -> int:
    if is_mcp_item(item) or has_assistant_output_audio(item):
        return 2
    return 1 if isinstance(item, FunctionCallItem) else 0


def _best_weight(positions: Sequence[int], weights: Sequence[int]) -> int:
    """Maximum weight of a strictly increasing subsequence, O(n²): an independent oracle."""
    best: list[int] = []
    for i, position in enumerate(positions):
        below = [best[j] for j in range(i) if positions[j] < position]
        best.append(weights[i] + max(below, default=0))
    return max(best, default=0)


def _increasing(values: Sequence[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


@dataclass(frozen=True, slots=True)
class _Oracle:
    removals: frozenset[str]
    additions: frozenset[str]
    updates: frozenset[str]
    unchanged: tuple[RealtimeItem, ...]  # in new order
    refusal: str | None  # why the reference's rules refuse, or None


def _unique(history: Sequence[RealtimeItem], name: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, item in enumerate(history):
        if item.item_id in index:
            raise UsageError(
                f"{name} history repeats item id {item.item_id!r}: the property is defined "
                "for histories with unique ids"
            )
        index[item.item_id] = position
    return index


def _oracle(old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> _Oracle:
    old_index = _unique(old, "old")
    new_index = _unique(new, "new")
    additions, updates, unchanged = set(), set(), []
    refusal = None
    for item in new:
        position = old_index.get(item.item_id)
        if position is None:
            additions.add(item.item_id)
        elif _content(old[position]) != _content(item):
            updates.add(item.item_id)
            if is_mcp_item(old[position]) and refusal is None:
                refusal = f"{item.item_id} replaces an MCP item"
        else:
            unchanged.append(item)
            continue
        if refusal is None and (is_mcp_item(item) or has_assistant_output_audio(item)):
            refusal = f"{item.item_id} ({item.type}) cannot be created"
    fixed = [old_index[i.item_id] for i in unchanged if _tier(i) == 2]
    if refusal is None and not _increasing(fixed):
        refusal = "items the API cannot re-create would have to move"
    removals = frozenset(i.item_id for i in old if i.item_id not in new_index)
    return _Oracle(removals, frozenset(additions), frozenset(updates), tuple(unchanged), refusal)


# --------------------------------------------------------------------------- report


def describe_item(item: RealtimeItem | Mapping[str, Any]) -> str:
    """One short line for an item (or a wire item): id, kind, content."""
    if isinstance(item, Mapping):
        kind = item.get("role") or item.get("type")
        parts = []
        for part in item.get("content") or []:
            text = part.get("text", part.get("transcript", part.get("image_url", "")))
            parts.append(f"{part.get('type')}:{text!r}")
        if item.get("type") == "message":
            status = f" [{item['status']}]" if item.get("status") else ""
            return f"{item.get('id')} {kind}{status} {' '.join(parts)}".rstrip()
        if "name" in item:
            return f"{item.get('id')} {kind} {item['name']}({item.get('arguments', '')})"
        return f"{item.get('id')} {kind}"
    if isinstance(item, MessageItem):
        parts = []
        for part in item.content:
            if isinstance(part, InputAudio | OutputAudio):
                parts.append(f"{part.type}:{part.transcript!r}")
            elif isinstance(part, InputImage):
                parts.append(f"{part.type}:{part.image_url!r}")
            else:
                parts.append(f"{part.type}:{part.text!r}")
        status = f" [{item.status.value}]" if item.status else ""
        return f"{item.item_id} {item.role.value}{status} {' '.join(parts)}".rstrip()
    if isinstance(item, FunctionCallItem | McpCallItem):
        return f"{item.item_id} {item.type} {item.name}({item.arguments})"
    if isinstance(item, McpApprovalRequestItem):
        return f"{item.item_id} {item.type} {item.name}"
    assert isinstance(item, McpListToolsItem)
    return f"{item.item_id} {item.type} {item.server_label}"


def _columns(*columns: tuple[str, Sequence[str]]) -> list[str]:
    width = 40
    height = max(len(rows) for _, rows in columns)
    lines = ["  " + " | ".join(title.ljust(width) for title, _ in columns).rstrip()]
    for row in range(height):
        cells = []
        for _, rows in columns:
            cell = rows[row] if row < len(rows) else ""
            cells.append((cell[: width - 1] + "…" if len(cell) > width else cell).ljust(width))
        lines.append("  " + " | ".join(cells).rstrip())
    return lines


def _report(
    reason: str,
    old: Sequence[RealtimeItem],
    new: Sequence[RealtimeItem],
    run: ResetRun,
    result: Sequence[Mapping[str, Any]] | None,
) -> HistoryPropertyError:
    lines = [f"reset_history broke the history property: {reason}"]
    columns: list[tuple[str, Sequence[str]]] = [
        ("old (server before)", [describe_item(i) for i in old]),
        ("new (wanted)", [describe_item(i) for i in new]),
    ]
    if result is not None:
        columns.append(("conversation after", [describe_item(i) for i in result]))
    lines += _columns(*columns)
    if run.refused is not None:
        lines.append(f"  it refused: {run.refused}")
    lines.append(f"  events sent ({len(run.events)}):")
    lines += [f"    {i}. {dumps_str(event)}" for i, event in enumerate(run.events, 1)] or [
        "    none"
    ]
    if run.warnings:
        lines.append("  warnings: " + "; ".join(run.warnings))
    lines.append(
        "  reproduce: harness.checker.verify_reset(old, new, run) with these lists "
        "(README: The history property)"
    )
    return HistoryPropertyError("\n".join(lines))


# --------------------------------------------------------------------------- checking


def apply_events(
    old: Sequence[RealtimeItem], events: Sequence[Mapping[str, Any]]
) -> tuple[list[JSONObject], list[tuple[int, JSONObject]]]:
    """Apply client events to a conversation seeded with ``old``.

    Returns:
        The resulting wire items, and ``(event number, error event)`` for each refusal.
    """
    conversation = Conversation(item_to_wire(item) for item in old)
    refusals: list[tuple[int, JSONObject]] = []
    for number, event in enumerate(events, 1):
        if not str(event.get("type", "")).startswith("conversation.item."):
            continue  # not about the conversation (e.g. session.update)
        for answer in conversation.apply(event):
            if answer["type"] == "error":
                refusals.append((number, answer))
    return conversation.items, refusals


def _touched(events: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    deletes: dict[str, int] = {}
    creates: dict[str, int] = {}
    for event in events:
        if event.get("type") == "conversation.item.delete":
            item_id = str(event.get("item_id"))
            deletes[item_id] = deletes.get(item_id, 0) + 1
        elif event.get("type") == "conversation.item.create":
            item = event.get("item")
            item_id = str(item.get("id")) if isinstance(item, Mapping) else "None"
            creates[item_id] = creates.get(item_id, 0) + 1
    return deletes, creates


def verify_reset(
    old: Sequence[RealtimeItem],
    new: Sequence[RealtimeItem],
    run: ResetRun,
    *,
    result: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Check the history property for one run (the module's clauses 1-4).

    Args:
        old: the history the conversation started from.
        new: the history asked for.
        run: what ``reset_history`` did.
        result: the conversation a real server was left with (wire items); by default
            the run's events are applied to :class:`~harness.conversation.Conversation`.

    Raises:
        HistoryPropertyError: a clause failed; the message is the side-by-side report.
        UsageError: a history repeats an item id (the property needs unique ids).
    """
    oracle = _oracle(old, new)

    def fail(reason: str, after: Sequence[Mapping[str, Any]] | None = None) -> None:
        raise _report(reason, old, new, run, after)

    # 1. Refusal.
    if oracle.refusal is not None:
        if run.refused is None:
            fail(f"it should have refused ({oracle.refusal}) but did not", result)
        if run.events:
            fail("it refused, but only after sending events")
        return
    if run.refused is not None:
        fail("it refused histories it can reset")

    # 2. Every event accepted.
    if result is None:
        result, refusals = apply_events(old, run.events)
        if refusals:
            number, error = refusals[0]
            fail(f"event {number} was refused: {dumps_str(error['error'])}", result)

    # 3. The conversation equals new, less some function calls.
    wanted = {item.item_id: item for item in new}
    got_ids = [str(item.get("id")) for item in result]
    stray = [i for i in got_ids if i not in wanted]
    if stray:
        fail(f"the conversation holds items not in new: {', '.join(stray)}", result)
    missing = [item for item in new if item.item_id not in set(got_ids)]
    if [i.item_id for i in new if i.item_id in set(got_ids)] != got_ids:
        fail("the conversation's order is not new's order", result)
    for got in result:
        if _normal(got) != _normal(item_to_wire(wanted[str(got["id"])])):
            fail(f"item {got['id']} differs from new", result)
    not_calls = [i.item_id for i in missing if not isinstance(i, FunctionCallItem)]
    if not_calls:
        fail(f"items of new are missing: {', '.join(not_calls)}", result)
    created_calls = [
        i.item_id
        for i in new
        if isinstance(i, FunctionCallItem)
        and (i.item_id in oracle.additions or i.item_id in oracle.updates)
        and i.item_id in set(got_ids)
    ]
    if created_calls:
        fail(f"function calls were created, which the API does not allow: {created_calls}", result)
    if run.warnings is not None and bool(run.warnings) != bool(missing):
        fail(
            "function calls were left out without a warning"
            if missing
            else "it warned, but nothing was left out",
            result,
        )

    # 4. Minimal.
    deletes, creates = _touched(run.events)
    twice = sorted(i for i, n in (*deletes.items(), *creates.items()) if n > 1)
    if twice:
        fail(f"items deleted or created more than once: {', '.join(twice)}", result)
    unknown = sorted((set(deletes) | set(creates)) - {i.item_id for i in old} - set(wanted))
    if unknown:
        fail(f"events name items in neither history: {', '.join(unknown)}", result)
    old_index = {item.item_id: position for position, item in enumerate(old)}
    stay = [i for i in oracle.unchanged if i.item_id not in deletes and i.item_id not in creates]
    units = len(oracle.unchanged) + 1
    weights = [units ** _tier(i) for i in oracle.unchanged]
    best = _best_weight([old_index[i.item_id] for i in oracle.unchanged], weights)
    kept = sum(units ** _tier(i) for i in stay)
    if kept != best:
        moved = [i.item_id for i in oracle.unchanged if i not in stay]
        fail(
            f"not minimal: it moved {', '.join(moved)}; fewer unchanged items had to move",
            result,
        )


def check_reset_history(
    subject: HistorySubject,
    old: Sequence[RealtimeItem],
    new: Sequence[RealtimeItem],
    *,
    refusals: tuple[type[BaseException], ...] = (HistoryError,),
) -> ResetRun:
    """Call ``subject.reset_history(old, new)`` and check the history property.

    Warnings are what the call gives through :mod:`warnings` plus, if the subject has a
    ``warnings`` list, what it adds there.

    Args:
        subject: see :class:`HistorySubject`; e.g. ``PlanSubject()``.
        old: the history the conversation starts from.
        new: the history asked for.
        refusals: exceptions that count as refusing (clause 1).

    Returns:
        The run, for further assertions.

    Raises:
        HistoryPropertyError: the property does not hold; the message says why.
    """
    before = len(subject.sent)
    own: list[str] | None = getattr(subject, "warnings", None)
    own_before = len(own) if own is not None else 0
    refused: str | None = None
    with warnings_module.catch_warnings(record=True) as caught:
        warnings_module.simplefilter("always")
        try:
            subject.reset_history(list(old), list(new))
        except refusals as exc:
            refused = str(exc)
    said = [str(w.message) for w in caught]
    if own is not None:
        said += own[own_before:]
    run = ResetRun(tuple(subject.sent[before:]), tuple(said), refused)
    verify_reset(old, new, run)
    return run


# --------------------------------------------------------------------------- state machine


def _same_conversation(got: Sequence[Mapping[str, Any]], want: Sequence[RealtimeItem]) -> bool:
    return [_normal(item) for item in got] == [_normal(item_to_wire(item)) for item in want]


def history_state_machine(
    *,
    kinds: Sequence[str] | None = None,
    max_size: int = 6,
) -> type[RuleBasedStateMachine]:
    """A state machine that drives one session through resets, sends and deletes.

    Each step either resets the history to an edit of the confirmed one (checked
    against the property at once), resets without waiting for the server to answer
    (so the next reset plans with pending requests), lets the server answer everything
    in flight (then the conversation must equal the last reset's ``new``), sends a
    message, or deletes an item. Use it as ``TestHistory = history_state_machine().TestCase``.

    Args:
        kinds: the :class:`~harness.strategies.ItemKind` values histories are made of
            (default: those the API can create).
        max_size: most items in the first history.
    """
    item_kinds = tuple(kinds) if kinds is not None else None

    class HistoryMachine(RuleBasedStateMachine):
        """One session: the server's conversation and the client's confirmed history."""

        def __init__(self) -> None:
            super().__init__()
            self.server = Conversation()
            self.confirmed: list[RealtimeItem] = []
            self.in_flight: list[JSONObject] = []
            self.target: list[RealtimeItem] | None = None
            self.sequence = 0

        def _send(self, events: Sequence[Mapping[str, Any]]) -> list[JSONObject]:
            stamped = []
            for event in events:
                self.sequence += 1
                stamped.append({**event, "event_id": f"client_{self.sequence}"})
            return stamped

        def _apply(self, events: Sequence[JSONObject]) -> None:
            for event in events:
                for answer in self.server.apply(event):
                    assert answer["type"] != "error", (
                        f"the server refused {dumps_str(event)}: {dumps_str(answer)}"
                    )

        @initialize(history=histories(max_size=max_size, kinds=item_kinds))
        def seed(self, history: list[RealtimeItem]) -> None:
            self.server = Conversation(item_to_wire(item) for item in history)
            self.confirmed = list(history)

        @precondition(lambda self: not self.in_flight)
        @rule(data=st.data())
        def reset(self, data: st.DataObject) -> None:
            old = list(self.confirmed)
            _, new = data.draw(history_edits(old=st.just(old), kinds=item_kinds), label="edit")
            before = len(self.server)
            subject = PlanSubject()
            run = check_reset_history(subject, old, new)
            if run.refused is not None:
                assert len(self.server) == before
                return
            self._apply(self._send(run.events))
            wanted = {item.item_id for item in new}
            present = set(self.server.item_ids)
            self.confirmed = [item for item in new if item.item_id in present & wanted]

        @rule(data=st.data())
        def reset_without_waiting(self, data: st.DataObject) -> None:
            old = list(self.confirmed)
            _, new = data.draw(history_edits(old=st.just(old), kinds=item_kinds), label="edit")
            pending: dict[str, bool] = {}
            for event in self.in_flight:
                if event["type"] == "conversation.item.create":
                    pending[event["item"]["id"]] = True
                else:
                    pending[event["item_id"]] = False
            try:
                plan = plan_reset_history(old, new, pending=pending)
            except HistoryError:
                return  # refused before sending: nothing changes
            self.in_flight += self._send([request.event for request in plan.requests])
            skipped = set(plan.skipped)
            self.target = [item for item in new if item.item_id not in skipped]

        @precondition(lambda self: bool(self.in_flight))
        @rule()
        def server_answers(self) -> None:
            self._apply(self.in_flight)
            self.in_flight = []
            assert self.target is not None
            assert _same_conversation(self.server.items, self.target), (
                "after every reset was answered the conversation is\n  "
                + "\n  ".join(describe_item(i) for i in self.server.items)
                + "\nbut the last reset asked for\n  "
                + "\n  ".join(describe_item(i) for i in self.target)
            )
            self.confirmed, self.target = self.target, None

        @precondition(lambda self: not self.in_flight)
        @rule(item=items(ids=item_ids().map(lambda i: "sent_" + i)))
        def send(self, item: RealtimeItem) -> None:
            if item.item_id in self.server:
                return
            self._apply(
                self._send([{"type": "conversation.item.create", "item": item_to_wire(item)}])
            )
            self.confirmed.append(item)

        @precondition(lambda self: not self.in_flight and bool(self.confirmed))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            item = data.draw(st.sampled_from(self.confirmed), label="delete")
            self._apply(self._send([{"type": "conversation.item.delete", "item_id": item.item_id}]))
            self.confirmed.remove(item)

        @invariant()
        def conversation_is_the_confirmed_history(self) -> None:
            if not self.in_flight:
                assert _same_conversation(self.server.items, self.confirmed)

    return HistoryMachine


# --------------------------------------------------------------------------- over the wire

_BARRIER = "checker_barrier"
_TRANSPORT_LOGGER = "harness.transport"


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class TransportChecker:
    """Our transport against ``FakeRealtimeServer.simulate``, checked after every reset.

    The server's conversation starts as ``history``; each :meth:`reset` calls
    ``OpenAIRealtimeWebSocket.reset_history(current, new)`` over a real socket on
    127.0.0.1, waits until the server has answered every event it sent (a
    ``conversation.item.retrieve`` barrier), and checks the property against the
    conversation the server holds. Use as an async context manager::

        async with TransportChecker(old) as checker:
            await checker.reset(new)

    Args:
        history: the conversation the server starts with.
        timeout: seconds each reset (and the connection) may take.
    """

    def __init__(self, history: Sequence[RealtimeItem], *, timeout: float = 10.0) -> None:
        self.history = list(history)
        self.timeout = timeout
        # Every client event is kept: a reset's are read back from ``received``.
        self.server = FakeRealtimeServer.simulate(
            [item_to_wire(item) for item in history], keep_received=None
        )
        self.transport = OpenAIRealtimeWebSocket(api_key="sk-checker-placeholder")
        self.runs: list[ResetRun] = []
        self._errors: list[JSONObject] = []
        self._barrier = asyncio.Event()
        self._barriers = 0
        self._consumed = 0  # client events of the session already accounted for

    def _seen(self, event: Mapping[str, Any]) -> None:
        if event.get("type") != "error":
            return
        caused_by = (event.get("error") or {}).get("event_id")
        if isinstance(caused_by, str) and caused_by.startswith(_BARRIER):
            self._barrier.set()
        else:
            self._errors.append(dict(event))

    async def __aenter__(self) -> TransportChecker:
        async with asyncio.timeout(self.timeout):
            await self.server.start()
            self.transport.on("*", self._seen)
            self.transport.on("error", lambda *_: None)
            await self.transport.connect(url=self.server.url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.transport.aclose()
        finally:
            await self.server.aclose()

    async def _settle(self) -> None:
        """Wait until the server has answered everything sent so far (a barrier)."""
        self._barriers += 1
        self._barrier.clear()
        self.transport.send_event(
            {
                "type": "conversation.item.retrieve",
                "item_id": _BARRIER,
                "event_id": f"{_BARRIER}_{self._barriers}",
            }
        )
        await self._barrier.wait()

    def _conversation(self) -> list[JSONObject]:
        return self.server.sessions[-1].conversation.items

    async def send(self, item: RealtimeItem) -> None:
        """Append ``item`` with a plain ``conversation.item.create``, as a client would.

        Raises:
            HistoryPropertyError: the server refused it, or its conversation is then not
                the checker's history plus ``item``.
        """
        await self._change(
            {"type": "conversation.item.create", "item": item_to_wire(item)},
            [*self.history, item],
        )

    async def delete(self, item_id: str) -> None:
        """Delete one item with ``conversation.item.delete``, as a client would.

        Raises:
            HistoryPropertyError: the server refused it, or its conversation is then not
                the checker's history without the item.
        """
        await self._change(
            {"type": "conversation.item.delete", "item_id": item_id},
            [item for item in self.history if item.item_id != item_id],
        )

    async def _change(self, event: JSONObject, expected: list[RealtimeItem]) -> None:
        async with asyncio.timeout(self.timeout):
            self._errors.clear()
            self.transport.send_event(event)
            await self._settle()
        self._consumed = self.server.sessions[-1].received_count
        result = self._conversation()
        if self._errors or not _same_conversation(result, expected):
            why = (
                f"the server answered with an error: {dumps_str(self._errors[0]['error'])}"
                if self._errors
                else "the conversation is not the expected history"
            )
            raise _report(why, self.history, expected, ResetRun((event,)), result)
        self.history = expected

    async def reset(self, new: Sequence[RealtimeItem]) -> ResetRun:
        """Reset the history to ``new`` and check the property; return the run.

        Raises:
            HistoryPropertyError: the property does not hold (the server's conversation
                is the ``conversation after`` column of the report).
            TimeoutError: the server did not answer in time.
        """
        old, new = list(self.history), list(new)
        async with asyncio.timeout(self.timeout):
            self._errors.clear()
            said = _Said()
            logger = logging.getLogger(_TRANSPORT_LOGGER)
            logger.addHandler(said)
            refused = None
            try:
                with warnings_module.catch_warnings(record=True) as caught:
                    warnings_module.simplefilter("always")
                    try:
                        self.transport.reset_history(old, new)
                    except HistoryError as exc:
                        refused = str(exc)
            finally:
                logger.removeHandler(said)
            await self._settle()
        # The barrier was answered, so the server has handled everything sent before it.
        session = self.server.sessions[-1]
        before, self._consumed = self._consumed, session.received_count
        events = tuple(
            event
            for event in itertools.islice(session.received, before, None)
            if str(event.get("type", "")).startswith("conversation.item.")
            and not str(event.get("event_id", "")).startswith(_BARRIER)
        )
        run = ResetRun(events, (*said.messages, *(str(w.message) for w in caught)), refused)
        self.runs.append(run)
        result = session.conversation.items
        if self._errors:
            raise _report(
                f"the server answered with an error: {dumps_str(self._errors[0]['error'])}",
                old,
                new,
                run,
                result,
            )
        verify_reset(old, new, run, result=result)
        if refused is None:
            present = {str(item["id"]) for item in result}
            self.history = [item for item in new if item.item_id in present]
        return run


async def check_transport_reset(
    old: Sequence[RealtimeItem], new: Sequence[RealtimeItem], *, timeout: float = 10.0
) -> ResetRun:
    """Check our transport's ``reset_history(old, new)`` over a real socket.

    A ``FakeRealtimeServer.simulate`` seeded with ``old`` on 127.0.0.1, our
    ``OpenAIRealtimeWebSocket`` connected to it; see :class:`TransportChecker`.

    Raises:
        HistoryPropertyError: the property does not hold.
    """
    async with TransportChecker(old, timeout=timeout) as checker:
        return await checker.reset(new)


def transport_state_machine(
    *, kinds: Sequence[str] | None = None, max_size: int = 5
) -> type[RuleBasedStateMachine]:
    """A state machine that drives our transport on one real connection.

    One ``FakeRealtimeServer.simulate`` and one ``OpenAIRealtimeWebSocket`` per run (an
    event loop kept across steps); the steps reset the history (checked with the
    property), send an item and delete one; after each, the server's conversation must
    be the checker's history. Use it as ``TestWire = transport_state_machine().TestCase``.

    Args:
        kinds: the :class:`~harness.strategies.ItemKind` values items are made of.
        max_size: most items in the first history.
    """
    item_kinds = tuple(kinds) if kinds is not None else None

    class TransportMachine(RuleBasedStateMachine):
        """Our transport and the simulated server, one connection for the whole run."""

        def __init__(self) -> None:
            super().__init__()
            self.runner = asyncio.Runner()
            self.checker: TransportChecker | None = None

        @initialize(history=histories(max_size=max_size, kinds=item_kinds))
        def connect(self, history: list[RealtimeItem]) -> None:
            checker = TransportChecker(history)
            self.runner.run(checker.__aenter__())
            self.checker = checker

        @rule(data=st.data())
        def reset(self, data: st.DataObject) -> None:
            assert self.checker is not None
            edits = history_edits(old=st.just(self.checker.history), kinds=item_kinds)
            _, new = data.draw(edits, label="edit")
            self.runner.run(self.checker.reset(new))

        @rule(item=items(ids=item_ids().map(lambda i: "sent_" + i)))
        def send(self, item: RealtimeItem) -> None:
            assert self.checker is not None
            if any(i.item_id == item.item_id for i in self.checker.history):
                return
            self.runner.run(self.checker.send(item))

        @precondition(lambda self: self.checker is not None and bool(self.checker.history))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            assert self.checker is not None
            item = data.draw(st.sampled_from(self.checker.history), label="delete")
            self.runner.run(self.checker.delete(item.item_id))

        def teardown(self) -> None:
            try:
                if self.checker is not None:
                    self.runner.run(self.checker.__aexit__(None, None, None))
            finally:
                self.runner.close()

    return TransportMachine
