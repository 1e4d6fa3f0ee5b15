"""A small synchronous event emitter: ``on`` / ``off`` / ``once`` / ``emit``.

The port of the node ``EventEmitter`` the reference transport inherits through
``EventEmitterDelegate`` (reference: @openai/agents-core, lifecycle.ts and node:events),
kept to what the transport uses:

1. Listeners run synchronously, in registration order, inside :meth:`EventEmitter.emit`.
   ``emit`` returns ``True`` when the event had listeners, as node's does.
2. A listener registered while an event is being emitted does not receive that event; one
   removed while it is being emitted still does (node copies the listener array first).
3. ``once`` listeners are removed before they run, so a ``once`` listener that emits the
   same event again is not re-entered.
4. A listener that raises stops the remaining listeners of that event and the exception
   propagates out of ``emit``, as in node.
5. A listener may return an awaitable (an ``async def`` listener). The emitter does no I/O,
   so it hands the awaitable to ``on_awaitable`` (the transport schedules it as a task); with
   no hook set, the awaitable is closed and :class:`~harness.errors.UsageError` is raised.
6. Deviation from node: emitting ``"error"`` with no listener does not raise; the transport
   decides what an unheard error means.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, KeysView
from typing import Any, TypeAlias

from harness.errors import UsageError

__all__ = ["EventEmitter", "Listener"]

Listener: TypeAlias = Callable[..., Any]
"""A callable taking the event's arguments; it may return an awaitable (see rule 5)."""


class _Once:
    """Wraps a ``once`` listener so ``off(event, original)`` still finds it."""

    __slots__ = ("listener",)

    def __init__(self, listener: Listener) -> None:
        self.listener = listener


class EventEmitter:
    """Register listeners by event name and call them when the event is emitted.

    Example:
        >>> emitter = EventEmitter()
        >>> seen = []
        >>> _ = emitter.on("greeting", seen.append)
        >>> emitter.emit("greeting", "hello")
        True
        >>> seen
        ['hello']
    """

    __slots__ = ("_listeners", "listening", "on_awaitable")

    def __init__(self, *, on_awaitable: Callable[[Awaitable[Any]], None] | None = None) -> None:
        """Create an emitter with no listeners.

        Args:
            on_awaitable: called with whatever awaitable a listener returns (rule 5).
        """
        self._listeners: dict[str, list[Listener | _Once]] = {}
        self.on_awaitable = on_awaitable
        #: The events that have at least one listener: a live, read-only view, so a hot
        #: path can test ``name in emitter.listening`` without a call.
        self.listening: KeysView[str] = self._listeners.keys()

    def on(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener`` every time ``event`` is emitted; returns the emitter."""
        _check_listener(listener)
        self._listeners.setdefault(event, []).append(listener)
        return self

    def once(self, event: str, listener: Listener) -> EventEmitter:
        """Call ``listener`` the next time ``event`` is emitted, then forget it."""
        _check_listener(listener)
        self._listeners.setdefault(event, []).append(_Once(listener))
        return self

    def off(self, event: str, listener: Listener) -> EventEmitter:
        """Remove the most recently added registration of ``listener`` for ``event``.

        Removing a listener that is not registered does nothing, as in node.
        """
        entries = self._listeners.get(event)
        if not entries:
            return self
        for index in range(len(entries) - 1, -1, -1):
            entry = entries[index]
            if entry is listener or (isinstance(entry, _Once) and entry.listener is listener):
                del entries[index]
                break
        if not entries:
            del self._listeners[event]
        return self

    def listener_count(self, event: str) -> int:
        """How many listeners ``event`` has."""
        return len(self._listeners.get(event, ()))

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has at least one listener (``event in listening``)."""
        return event in self._listeners

    def emit(self, event: str, *args: Any) -> bool:
        """Call every listener of ``event`` with ``args``; ``True`` if there were any."""
        entries = self._listeners.get(event)
        if not entries:
            return False
        if len(entries) == 1:  # the common case, without the snapshot copy
            entry = entries[0]
            if isinstance(entry, _Once):
                self._remove_entry(event, entry)
                result = entry.listener(*args)
            else:
                result = entry(*args)
            if result is not None and inspect.isawaitable(result):
                self._hand_off(result)
            return True
        for entry in tuple(entries):
            if isinstance(entry, _Once):
                self._remove_entry(event, entry)
                result = entry.listener(*args)
            else:
                result = entry(*args)
            if result is not None and inspect.isawaitable(result):
                self._hand_off(result)
        return True

    def _remove_entry(self, event: str, entry: _Once) -> None:
        entries = self._listeners.get(event)
        if entries is None:
            return
        for index, candidate in enumerate(entries):
            if candidate is entry:
                del entries[index]
                break
        if not entries:
            del self._listeners[event]

    def _hand_off(self, awaitable: Awaitable[Any]) -> None:
        if self.on_awaitable is not None:
            self.on_awaitable(awaitable)
            return
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()  # never awaited: close it so Python does not warn about it
        raise UsageError(
            "a listener returned an awaitable, but this emitter has no event loop to run it; "
            "use a plain function, or register the listener on a transport"
        )


def _check_listener(listener: object) -> None:
    if not callable(listener):
        raise UsageError(f"listener must be callable, got {type(listener).__name__}")
