"""How long the history diff takes: ours (index by id, O(n)) vs the reference's (O(n²)).

Run:  .venv/bin/python bench/bench_history.py   (about a minute; ``--quick`` for a smoke run)

Both are timed in this process, side by side, on the same histories:

- ours: ``harness.history.diff_realtime_history`` on ``RealtimeItem`` values;
- reference: a straight Python port of ``diffRealtimeHistory`` from
  ``@openai/agents-realtime`` 0.20.0 (utils.ts), on the reference's JSON items (dicts):
  ``filter`` + ``some`` over the other list for removals, additions and updates, and
  ``JSON.stringify`` of both items where the ids match.

Each history has n user messages; ``new`` is ``old`` with 1% of the items deleted, 1%
edited and 1% inserted (spread evenly), as a user editing a long session would. The
reference is timed at 1k and 10k items; at 100k it would take many minutes, so its
figure there is extrapolated from 10k by n² and printed as such, never measured.

Also printed: our diff when ``new`` holds equal copies rather than the same objects (no
identity shortcut: every kept item is compared field by field), and our whole
``plan_reset_history`` on the same pair and on a pair where 1% of the items moved (the
longest-increasing-subsequence path).

Targets (issue 4): linear growth; 10k items < 20 ms; >= 100x the reference at 10k.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness._json import dumps_str
from harness.history import diff_realtime_history, plan_reset_history
from harness.items import InputText, MessageItem, RealtimeItem, item_from_json, item_to_json


def reference_diff(
    old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A straight port of the reference's diffRealtimeHistory (quadratic, as written)."""
    removals = [i for i in old if not any(n["itemId"] == i["itemId"] for n in new)]
    additions = [i for i in new if not any(o["itemId"] == i["itemId"] for o in old)]
    updates = [
        i
        for i in new
        if any(o["itemId"] == i["itemId"] and dumps_str(o) != dumps_str(i) for o in old)
    ]
    return removals, additions, updates


def make_pair(n: int, *, moved: float = 0.0) -> tuple[list[RealtimeItem], list[RealtimeItem]]:
    old: list[RealtimeItem] = [
        MessageItem(f"item_{i:06d}", "user", [InputText(f"message {i}")], status="completed")
        for i in range(n)
    ]
    step = 100  # 1%
    new: list[RealtimeItem] = []
    for i, item in enumerate(old):
        if i % step == 0:
            continue  # deleted
        if i % step == 1:
            new.append(MessageItem(item.item_id, "user", [InputText("edited")], status="completed"))
        else:
            new.append(item)
        if i % step == 2:
            new.append(MessageItem(f"new_{i:06d}", "user", [InputText("inserted")]))
    if moved:
        every = int(1 / moved)
        for j in range(0, len(new) - every, every):
            new[j], new[j + every // 2] = new[j + every // 2], new[j]
    return old, new


def best_of(fn: Callable[[], object], *, repeat: int, budget: float = 30.0) -> float:
    """Best wall time of ``repeat`` runs (fewer if the budget runs out), in seconds."""
    best = float("inf")
    start = time.perf_counter()
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1000:10.2f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 10k, fewer repeats")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    repeat = 3 if args.quick else 7
    reference_measured = {1_000, 10_000}

    print("history diff: ours (O(n)) vs a straight port of the reference (O(n²))")
    print("  new = old with 1% deleted, 1% edited, 1% inserted; best of runs, one process\n")
    header = (
        f"{'items':>8} | {'ours: diff':>13} | {'reference: diff':>16} | {'ratio':>9} "
        f"| {'ours: diff, copies':>18} | {'ours: plan':>13} | {'ours: plan, 1% moved':>21}"
    )
    print(header)
    print("-" * len(header))
    ours_at: dict[int, float] = {}
    dict_at: dict[int, float] = {}
    reference_at: dict[int, float] = {}
    for n in sizes:
        old, new = make_pair(n)
        moved_old, moved_new = make_pair(n, moved=0.01)
        old_json = [item_to_json(i) for i in old]
        new_json = [item_to_json(i) for i in new]
        copies = [item_from_json(item_to_json(i)) for i in new]  # equal, never identical
        ours = best_of(lambda o=old, w=new: diff_realtime_history(o, w), repeat=repeat)
        ours_copies = best_of(lambda o=old, w=copies: diff_realtime_history(o, w), repeat=repeat)
        plan = best_of(lambda o=old, w=new: plan_reset_history(o, w), repeat=repeat)
        plan_moved = best_of(
            lambda o=moved_old, w=moved_new: plan_reset_history(o, w), repeat=repeat
        )
        ours_at[n] = ours
        ids = [item.item_id for item in old]
        dict_at[n] = best_of(lambda k=ids: {i: p for p, i in enumerate(k)}, repeat=repeat)
        if n in reference_measured:
            reference = best_of(
                lambda o=old_json, w=new_json: reference_diff(o, w),
                repeat=1 if n >= 10_000 else repeat,
            )
            reference_at[n] = reference
            ref_text, ratio_text = ms(reference), f"{reference / ours:8.0f}x"
        else:
            largest = max(reference_at)
            estimate = reference_at[largest] * (n / largest) ** 2
            ref_text = f"~{estimate:8.0f} s*"
            ratio_text = f"~{estimate / ours:7.0f}x*"
        print(
            f"{n:>8} | {ms(ours):>13} | {ref_text:>16} | {ratio_text:>9} "
            f"| {ms(ours_copies):>18} | {ms(plan):>13} | {ms(plan_moved):>21}"
        )
        sys.stdout.flush()
    if len(sizes) > 2:
        print("\n* extrapolated from the 10k measurement by n² (not run: it would take minutes)")
    growth = ours_at[sizes[-1]] / ours_at[sizes[0]]
    factor = sizes[-1] / sizes[0]
    baseline = dict_at[sizes[-1]] / dict_at[sizes[0]]
    print(
        f"\nours grows {growth:.0f}x for {factor:.0f}x the items (linear = {factor:.0f}x); "
        f"reference {reference_at[10_000] / reference_at[1_000]:.0f}x from 1k to 10k "
        "(quadratic = 100x)"
    )
    print(
        f"baseline: building a plain dict of the same ids grows {baseline:.0f}x over the same "
        "range (past the CPU caches every Python dict does worse than linear)"
    )
    at_10k = ours_at[10_000]
    verdict = "yes" if at_10k < 0.020 else "NO"
    print(
        f"targets: 10k items < 20 ms: {verdict} ({at_10k * 1000:.1f} ms); "
        f">= 100x the reference at 10k: "
        f"{'yes' if reference_at[10_000] / at_10k >= 100 else 'NO'} "
        f"({reference_at[10_000] / at_10k:.0f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
