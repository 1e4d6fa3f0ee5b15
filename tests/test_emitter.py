"""EventEmitter: node's on/off/once/emit semantics, with no event loop."""

from __future__ import annotations

from typing import Any

import pytest

from harness.emitter import EventEmitter
from harness.errors import UsageError


def test_listeners_run_in_registration_order_with_the_arguments() -> None:
    emitter = EventEmitter()
    calls: list[tuple[str, tuple[Any, ...]]] = []
    emitter.on("x", lambda *a: calls.append(("first", a)))
    emitter.on("x", lambda *a: calls.append(("second", a)))
    assert emitter.emit("x", 1, "two") is True
    assert calls == [("first", (1, "two")), ("second", (1, "two"))]


def test_emit_without_listeners_returns_false_even_for_error() -> None:
    emitter = EventEmitter()
    assert emitter.emit("nothing") is False
    assert emitter.emit("error", RuntimeError("unheard")) is False  # node would throw


def test_once_runs_once_and_is_not_reentered() -> None:
    emitter = EventEmitter()
    calls: list[int] = []

    def listener(n: int) -> None:
        calls.append(n)
        emitter.emit("x", n + 1)

    emitter.once("x", listener)
    emitter.emit("x", 1)
    emitter.emit("x", 5)
    assert calls == [1]
    assert emitter.listener_count("x") == 0


def test_off_removes_the_latest_registration_and_ignores_unknown_listeners() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def listener() -> None:
        calls.append("l")

    emitter.on("x", listener).on("x", listener)
    emitter.off("x", listener)
    emitter.emit("x")
    assert calls == ["l"]
    emitter.off("x", listener)
    emitter.off("x", listener)
    emitter.off("never", listener)
    assert emitter.emit("x") is False
    assert not emitter.has_listeners("x")


def test_off_finds_a_once_listener_by_its_function() -> None:
    emitter = EventEmitter()
    calls: list[str] = []
    listener = calls.append
    emitter.once("x", listener)
    emitter.off("x", listener)
    emitter.emit("x", "no")
    assert calls == []


def test_listeners_added_or_removed_during_emit_do_not_change_that_emit() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def late() -> None:
        calls.append("late")

    def second() -> None:
        calls.append("second")

    def first() -> None:
        calls.append("first")
        emitter.on("x", late)
        emitter.off("x", second)

    emitter.on("x", first).on("x", second)
    emitter.emit("x")
    assert calls == ["first", "second"]
    calls.clear()
    emitter.emit("x")
    assert calls == ["first", "late"]


def test_a_raising_listener_stops_the_rest_and_propagates() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def boom() -> None:
        raise ValueError("listener failed")

    emitter.on("x", boom)
    emitter.on("x", lambda: calls.append("after"))
    with pytest.raises(ValueError, match="listener failed"):
        emitter.emit("x")
    assert calls == []


def test_an_awaitable_goes_to_the_hook() -> None:
    handed: list[Any] = []
    emitter = EventEmitter(on_awaitable=handed.append)

    async def listener(n: int) -> int:
        return n

    emitter.on("x", listener)
    emitter.emit("x", 3)
    assert len(handed) == 1
    handed[0].close()


def test_an_awaitable_without_a_hook_is_closed_and_refused() -> None:
    emitter = EventEmitter()

    async def listener() -> None:
        return None

    emitter.on("x", listener)
    with pytest.raises(UsageError) as info:
        emitter.emit("x")
    assert str(info.value) == (
        "a listener returned an awaitable, but this emitter has no event loop to run it; "
        "use a plain function, or register the listener on a transport"
    )


def test_a_listener_must_be_callable() -> None:
    emitter = EventEmitter()
    with pytest.raises(UsageError) as info:
        emitter.on("x", "not callable")  # type: ignore[arg-type]
    assert str(info.value) == "listener must be callable, got str"
