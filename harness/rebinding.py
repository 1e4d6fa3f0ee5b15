"""Ids the client mints, rebound during a replay (pure core: no I/O).

Clients mint some ids afresh on every run: item ids (``item.id`` of
``conversation.item.create``), the ``previous_item_id`` they point at, their ``event_id``.
The default match rules ignore them, so a replay matches; but the server side of a
cassette echoes the *recorded* ids (``conversation.item.added`` / ``.done``,
``response.output_item.*``, truncations, deletes, ``error.event_id``), which a client that
tracks its items by id has never seen.

Theory of operation (one :class:`IdBindings` per replayed connection):

1. **Bind.** When a client frame matches a recorded one, the two events are walked side by
   side; wherever a string under a key named ``id`` or ``*_id`` differs (the recording has
   ``item_1``, the client sent ``msg_7f3a``), the recorded id is bound to the client's. A
   redaction placeholder, ``"root"`` (a position, not an id) and empty strings are never
   bound. A later binding of the same recorded id replaces the earlier one.
2. **Outbound.** Every later server event in which a bound recorded id is a whole JSON
   string value (``"item_1"``, at any depth, under any key: ``item.id``, ``item_id``,
   ``previous_item_id``, an id inside ``response.output``...) is sent with the client's id
   there instead. Only such events are re-encoded; an event without a bound id is sent as
   the very bytes it was (pre-encoded or sliced from the cassette line). Whether an event
   mentions one is told, for a preloaded cassette, by looking its decoded strings up in the
   map (Python keeps each string's hash: a 4 KB audio delta costs as little as a small
   event); for a streamed one, by one regular-expression scan of its bytes.
3. **Inbound.** A client event that names an id it was given (a ``conversation.item.delete``
   of ``msg_7f3a``) is compared with the recording as if it named the recorded id
   (``item_1``): the reverse map is applied before matching.
4. Nothing is rebound while no client frame brought a new id: the map stays empty and both
   directions cost one truth test.
"""

from __future__ import annotations

import re
from typing import Any

from harness import _json
from harness.redaction import PLACEHOLDER_PREFIX

__all__ = ["IdBindings", "minted_ids"]

_NEVER_BOUND = frozenset({"", "root"})


def _is_id_key(key: object) -> bool:
    return isinstance(key, str) and (key == "id" or key.endswith("_id"))


def minted_ids(recorded: Any, received: Any) -> list[tuple[str, str]]:
    """The ``(recorded id, client id)`` pairs where a matched client event differs (rule 1).

    Args:
        recorded: the recorded client event.
        received: the event the client sent, which matched it.
    """
    pairs: list[tuple[str, str]] = []
    stack: list[tuple[Any, Any]] = [(recorded, received)]
    while stack:
        old, new = stack.pop()
        if isinstance(old, dict) and isinstance(new, dict):
            for key, value in old.items():
                if key not in new:
                    continue
                other = new[key]
                if isinstance(value, str):
                    if (
                        isinstance(other, str)
                        and value != other
                        and _is_id_key(key)
                        and value not in _NEVER_BOUND
                        and other not in _NEVER_BOUND
                        and not value.startswith(PLACEHOLDER_PREFIX)
                    ):
                        pairs.append((value, other))
                elif isinstance(value, dict | list):
                    stack.append((value, other))
        elif isinstance(old, list) and isinstance(new, list):
            stack.extend(zip(old, new, strict=False))
    return pairs


def _mentions(value: Any, mapping: dict[str, str]) -> bool:
    """Whether a string equal to a key of ``mapping`` is anywhere in ``value``."""
    if isinstance(value, dict):
        # A flat event (every audio or text delta): one C-level pass over its values.
        try:
            return not mapping.keys().isdisjoint(value.values())
        except TypeError:  # a nested object or list: walk it
            pass
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for child in item.values():
                if isinstance(child, str):
                    if child in mapping:
                        return True
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(item, list):
            for child in item:
                if isinstance(child, str):
                    if child in mapping:
                        return True
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(item, str) and item in mapping:
            return True
    return False


def _replace_strings(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` with every string equal to a key of ``mapping`` replaced (copied as needed)."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            new = _replace_strings(item, mapping)
            changed = changed or new is not item
            out[key] = new
        return out if changed else value
    if isinstance(value, list):
        items = [_replace_strings(item, mapping) for item in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return items
        return value
    return value


class IdBindings:
    """One connection's map from recorded ids to the ids its client minted.

    Example::

        ids = IdBindings()
        ids.bind(recorded_event, received_event)   # after a match
        data = ids.outbound(data)                  # before sending a server event
        event = ids.inbound(event)                 # before matching a client event
    """

    __slots__ = ("_forward", "_reverse", "_scan")

    def __init__(self) -> None:
        self._forward: dict[str, str] = {}
        self._reverse: dict[str, str] = {}
        self._scan: re.Pattern[bytes] | None = None

    def __bool__(self) -> bool:
        return bool(self._forward)

    @property
    def bound(self) -> dict[str, str]:
        """A copy of the map: recorded id -> client id."""
        return dict(self._forward)

    def bind(self, recorded: dict[str, Any], received: dict[str, Any]) -> None:
        """Bind every id the client minted where the matched recording had another."""
        for old, new in minted_ids(recorded, received):
            if self._forward.get(old) == new:
                continue
            previous = self._forward.get(old)
            if previous is not None:
                self._reverse.pop(previous, None)
            self._forward[old] = new
            self._reverse[new] = old
            self._scan = None

    def outbound(self, data: bytes, event: dict[str, Any] | None = None) -> bytes:
        """A server event's JSON with every bound recorded id replaced by the client's.

        Args:
            data: the event as it would be sent (UTF-8 JSON).
            event: the same event decoded, when the caller holds it (a preloaded cassette):
                then its strings are looked up in the map (their hashes are computed once
                and kept by Python), which costs the same for a 4 KB audio delta as for a
                small event; without it the bytes are scanned.
        """
        if not self._forward:
            return data
        if event is not None:
            if not _mentions(event, self._forward):
                return data
        else:
            scan = self._scan
            if scan is None:
                # Whole JSON strings only: '"item_1"'; the longest first, so a bound id
                # that is a prefix of another cannot hide it.
                spelled = sorted((_json.dumps(old) for old in self._forward), key=len)
                scan = self._scan = re.compile(b"|".join(re.escape(s) for s in reversed(spelled)))
            if scan.search(data) is None:
                return data
            event = _json.loads(data)
        rebound = _replace_strings(event, self._forward)
        return data if rebound is event else _json.dumps(rebound)

    def inbound(self, event: dict[str, Any]) -> dict[str, Any]:
        """A client event with the ids it was given mapped back to the recorded ones."""
        if not self._reverse:
            return event
        mapped: dict[str, Any] = _replace_strings(event, self._reverse)
        return mapped
