"""Differential: the reference's resetHistory under node against the history property.

The reference (@openai/agents-realtime 0.20.0) runs in one node process
(``tests/differential/reset_history_driver.mjs``) that reads (old, new) pairs as JSON
lines and answers with the events its ``resetHistory`` sent, its warnings, or its
refusal. Hypothesis generates the pairs; the events are applied to our conversation
model seeded with ``old`` (:func:`harness.checker.verify_reset`).

* The reference breaks the property, and the smallest pair hypothesis shrinks to is a
  swap of two items: ``old=[a, b], new=[b, a]`` (it sends nothing when only the order
  changes). That test fails if the reference does NOT break, and checks that what it
  prints is the README's sample (the items' kinds and order aside: see :func:`by_id`).
* Wherever no item moves, the reference keeps the property and our plan sends exactly
  its events (same types, fields, order, event-id spelling aside).

The package is installed into ``tests/conformance/.node/`` (shared with the transport's
conformance suite) on first use. Skipped, with the reason, only where node is absent.
"""

from __future__ import annotations

import dataclasses
import os
import re
import selectors
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _readme_blocks import assert_sample, checked_block
from hypothesis import HealthCheck, Phase, find, given, settings

from harness._json import dumps_str, loads
from harness.checker import ResetRun, apply_events, describe_item, verify_reset
from harness.errors import HistoryError, HistoryPropertyError
from harness.history import plan_reset_history
from harness.items import InputText, MessageItem, RealtimeItem, item_to_json
from harness.strategies import EditOp, ItemKind, history_edits

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parent
DRIVER = ROOT / "differential" / "reset_history_driver.mjs"
NODE_DIR = ROOT / "conformance" / ".node"
PACKAGE = "@openai/agents-realtime@0.20.0"
MARKER = NODE_DIR / "node_modules" / "@openai" / "agents-realtime" / "package.json"
ANSWER_TIMEOUT = 30.0


def _install() -> None:
    if MARKER.exists():
        return
    if shutil.which("npm") is None:
        pytest.skip(f"npm is not installed (needed once to install {PACKAGE})")
    proc = subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), PACKAGE, "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, npm_config_fund="false", npm_config_audit="false"),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm install {PACKAGE} failed:\n{proc.stdout}\n{proc.stderr}")


class Reference:
    """The reference's resetHistory, one pair per line, in one node process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(DRIVER), str(NODE_DIR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.calls = 0

    def run(self, old: Sequence[RealtimeItem], new: Sequence[RealtimeItem]) -> ResetRun:
        pair = {"old": [item_to_json(i) for i in old], "new": [item_to_json(i) for i in new]}
        answer = self._ask(pair)
        return ResetRun(tuple(answer["events"]), tuple(answer["warnings"]), answer["refused"])

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(dumps_str(request).encode() + b"\n")
        self.proc.stdin.flush()
        if not self.selector.select(timeout=ANSWER_TIMEOUT):
            raise TimeoutError(f"the node driver did not answer within {ANSWER_TIMEOUT}s")
        line = self.proc.stdout.readline()
        if not line:
            stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"the node driver exited: {stderr}")
        answer: dict[str, Any] = loads(line)
        if "crash" in answer:
            raise RuntimeError(f"the node driver crashed: {answer['crash']}")
        self.calls += 1
        return answer

    def run_sequence(
        self, pairs: Sequence[tuple[Sequence[RealtimeItem], Sequence[RealtimeItem]]]
    ) -> list[ResetRun]:
        """Successive resets on one transport, none answered: later ones see pending requests."""
        request = {
            "sequence": [
                {"old": [item_to_json(i) for i in old], "new": [item_to_json(i) for i in new]}
                for old, new in pairs
            ]
        }
        answer = self._ask(request)
        return [
            ResetRun(tuple(r["events"]), tuple(r["warnings"]), r["refused"]) for r in answer["runs"]
        ]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.selector.close()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the differential test runs the reference under node)")
    _install()
    ref = Reference()
    try:
        yield ref
    finally:
        ref.close()


def ids(history: Sequence[RealtimeItem]) -> list[str]:
    return [item.item_id for item in history]


_DESCRIBED = re.compile(r"(?P<id>[a-z]+) (?:user|assistant|system|function_call|mcp_\w+)\b.*")


def by_id(report: str) -> str:
    """``report`` with every item shown by an id alone, the table's padding collapsed.

    Hypothesis shrinks the failure to a swap of two items reliably, but not always to the
    same kinds (``a user [completed] input_text:''`` one run, ``a assistant [completed]
    output_text:''`` the next) nor the same order (``old=[a, b]`` or ``old=[b, a]``): so each
    item's description goes, and its id becomes the order it first appears in (``#1``,
    ``#2``). The rest (the lines, the titles, the message, the events) is kept.
    """
    labels: dict[str, str] = {}

    def label(item: str) -> str:
        described = _DESCRIBED.fullmatch(item.strip())
        if described is None:
            return item.strip()
        return labels.setdefault(described["id"], f"#{len(labels) + 1}")

    lines = []
    for line in report.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        if listed := re.fullmatch(r"(\s*(?:old|new) = \[)(.*)\]", line):
            items = [label(item) for item in listed[2].split(", ") if item]
            line = f"{listed[1]}{', '.join(items)}]"
        elif " | " in line:
            line = indent + " | ".join(label(cell) for cell in line.split(" | "))
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_by_id_keeps_everything_but_the_item_descriptions() -> None:
    a, b = "a user [completed] input_text:''", "b assistant [completed] output_text:''"
    report = f"  old = [{b}, {a}]\n  {'old (wanted)':<40} | x\n  {a:<40} | {b}\n  events (0):"
    assert by_id(report) == "  old = [#1, #2]\n  old (wanted) | x\n  #2 | #1\n  events (0):\n"


def test_the_reference_breaks_the_property_and_shrinks_to_a_swap(
    reference: Reference, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    reports: list[str] = []

    def breaks(pair: tuple[list[RealtimeItem], list[RealtimeItem]]) -> bool:
        run = reference.run(*pair)
        try:
            verify_reset(*pair, run)
        except HistoryPropertyError as failure:
            reports.append(str(failure))
            return True
        return False

    search = settings(
        database=None, max_examples=2000, phases=[Phase.generate, Phase.shrink], deadline=None
    )
    old, new = find(history_edits(), breaks, settings=search)
    report = reports[-1]  # the last failure hypothesis saw is the shrunk one
    shown = "\n".join(
        [
            "smallest pair where @openai/agents-realtime 0.20.0 breaks the history property:",
            "  old = [" + ", ".join(describe_item(i) for i in old) + "]",
            "  new = [" + ", ".join(describe_item(i) for i in new) + "]",
            *("  " + line for line in report.splitlines()),
        ]
    )
    with capsys.disabled():
        print(f"\n{shown}\n  ({reference.calls} pairs run through the reference)")
    sample = checked_block(request)  # the README shows this, the items' kinds aside
    assert_sample(dataclasses.replace(sample, text=by_id(sample.text)), by_id(shown))
    assert len(old) == len(new) == 2
    assert ids(new) == ids(old)[::-1]
    assert old[0] == new[1] and old[1] == new[0]  # same items: only the order changed
    assert "events sent (0):" in report
    assert report.splitlines()[0].endswith("the conversation's order is not new's order")


# mcp_list_tools is no RealtimeItem in the reference (it adds nothing for one), so pairs
# holding it are where we deliberately differ; every other kind is compared.
COMPARED_KINDS = [k for k in ItemKind if k is not ItemKind.MCP_LIST_TOOLS]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(history_edits(ops=[EditOp.INSERT, EditOp.DELETE, EditOp.EDIT], kinds=COMPARED_KINDS))
def test_without_moves_the_reference_keeps_the_property_and_we_send_its_events(
    reference: Reference, pair: tuple[list[RealtimeItem], list[RealtimeItem]]
) -> None:
    old, new = pair
    theirs = reference.run(old, new)
    verify_reset(old, new, theirs)
    try:
        plan = plan_reset_history(old, new)
    except HistoryError as refusal:
        assert theirs.refused is not None
        # same message, but for the method's name and the error class
        assert theirs.refused == "UserError: " + str(refusal).replace(
            "reset_history()", "updateHistory()"
        )
        return
    assert theirs.refused is None
    without_ids = [{k: v for k, v in e.items() if k != "event_id"} for e in theirs.events]
    assert without_ids == [request.event for request in plan.requests]
    assert list(theirs.warnings or ()) == list(plan.warnings)
    kinds = [e["event_id"].split("_")[1] for e in theirs.events]
    assert kinds == [request.kind.value for request in plan.requests]


# Pending requests: resets sent before the server answered the previous ones. The
# session passes its confirmed history as old (realtimeSession.ts, updateHistory).


def _user(item_id: str) -> MessageItem:
    return MessageItem(item_id, "user", [InputText(item_id)], status="completed")


def _events_without_ids(run: ResetRun) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "event_id"} for e in run.events]


def test_the_reference_loses_an_unchanged_item_whose_delete_is_pending(
    reference: Reference,
) -> None:
    a, b = _user("a"), _user("b")
    first, second = reference.run_sequence([([a, b], [a]), ([a, b], [a, b])])
    assert _events_without_ids(first) == [{"type": "conversation.item.delete", "item_id": "b"}]
    # b's delete is in flight, b is wanted back: the reference sends nothing, so b is lost
    assert second.events == ()
    conversation, refusals = apply_events([a, b], [*first.events, *second.events])
    assert [i["id"] for i in conversation] == ["a"] and refusals == []
    # ours re-creates it
    plan = plan_reset_history([a, b], [a, b], pending={"b": False})
    conversation, refusals = apply_events(
        [a, b], [*first.events, *(r.event for r in plan.requests)]
    )
    assert [i["id"] for i in conversation] == ["a", "b"] and refusals == []


def test_the_reference_creates_twice_an_item_whose_create_is_pending(
    reference: Reference,
) -> None:
    a, b = _user("a"), _user("b")
    first, second = reference.run_sequence([([a], [a, b]), ([a], [a, b])])
    assert [e["type"] for e in second.events] == ["conversation.item.create"]
    _, refusals = apply_events([a], [*first.events, *second.events])
    assert [e["error"]["code"] for _, e in refusals] == ["item_create_duplicate_item_id"]
    # ours replaces the item in flight, whose content it cannot know
    plan = plan_reset_history([a], [a, b], pending={"b": True})
    conversation, refusals = apply_events([a], [*first.events, *(r.event for r in plan.requests)])
    assert [i["id"] for i in conversation] == ["a", "b"] and refusals == []
