"""Never two ``response.create`` in flight (reference: responseCreateSequencer.ts).

Sans-I/O: the sequencer sends through a callable and asks its owner to call
:meth:`ResponseCreateSequencer.pump` once the current synchronous work is done, which is
where the reference's waiting promises resume (its microtasks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness._json import JSONObject

__all__ = ["ResponseCreateSequencer"]


@dataclass(slots=True)
class _PendingCreate:
    event: JSONObject
    event_id: str
    request_version: int
    target_version: int
    manual: bool


@dataclass(slots=True)
class _Waiter:
    event: JSONObject
    manual: bool
    request_version: int
    generation: int


class ResponseCreateSequencer:
    """Never two ``response.create`` in flight (reference: responseCreateSequencer.ts).

    Sans-I/O: ``send_now`` sends a frame, ``schedule_pump`` asks the owner to call
    :meth:`pump` once the current synchronous work is done, which is where the
    reference's waiting promises resume (its microtasks).
    """

    def __init__(
        self,
        send_now: Callable[[JSONObject], None],
        on_error: Callable[[BaseException], None],
        schedule_pump: Callable[[], None],
    ) -> None:
        self._send_now = send_now
        self._on_error = on_error
        self._schedule_pump = schedule_pump
        self.ongoing_response = False
        self.response_control: Literal["free", "create_requested", "cancel_requested"] = "free"
        self._request_version = 0
        self._event_counter = 0
        self._pending_versions: set[int] = set()
        self._manual_versions: set[int] = set()
        self._pending: _PendingCreate | None = None
        self._waiters: list[_Waiter] = []
        self._generation = 0

    @property
    def pending_response_create_event_id(self) -> str | None:
        return self._pending.event_id if self._pending is not None else None

    def request_response_create(self, event: JSONObject, *, manual: bool = False) -> None:
        version = self._reserve(manual)
        generation = self._generation
        pending = self._try_prepare(event, manual, version)
        if pending is not None:
            self._dispatch(pending, generation)
            return
        self._waiters.append(_Waiter(event, manual, version, generation))

    def mark_response_created(self) -> None:
        self.ongoing_response = True
        self._clear_accepted()
        self.response_control = "free"
        self._notify()

    def mark_response_done(self) -> None:
        self.ongoing_response = False
        self._clear_accepted()
        self.response_control = "free"
        self._notify()

    def release_waiters(self) -> None:
        self._generation += 1
        self.ongoing_response = False
        self._pending_versions.clear()
        self._manual_versions.clear()
        self._pending = None
        self.response_control = "free"
        self._waiters.clear()

    def begin_cancel_response(self) -> bool:
        if not self.ongoing_response or self.response_control == "cancel_requested":
            return False
        self.response_control = "cancel_requested"
        self._notify()
        return True

    def handle_response_create_error(self, event: Mapping[str, Any]) -> bool:
        error = event.get("error")
        linked = error.get("event_id") if isinstance(error, Mapping) else None
        if isinstance(linked, str) and linked:
            return self._clear_pending(linked)
        if self._is_response_create_like_error(error):
            return self._clear_pending(None)
        return False

    def pump(self) -> None:
        """Resume the waiting requests, oldest first (the reference's microtasks)."""
        for waiter in list(self._waiters):
            if waiter not in self._waiters:
                continue
            if (
                waiter.generation != self._generation
                or waiter.request_version not in self._pending_versions
            ):
                self._waiters.remove(waiter)
                continue
            pending = self._try_prepare(waiter.event, waiter.manual, waiter.request_version)
            if pending is not None:
                self._waiters.remove(waiter)
                self._dispatch(pending, waiter.generation)

    # internals, in the reference's order

    def _reserve(self, manual: bool) -> int:
        self._request_version += 1
        version = self._request_version
        self._pending_versions.add(version)
        if manual:
            self._manual_versions.add(version)
        self._notify()
        return version

    def _dispatch(self, pending: _PendingCreate, generation: int) -> None:
        if generation != self._generation:
            return
        try:
            self._send_now(pending.event)
        except Exception as error:
            self._clear_pending(pending.event_id)
            self._on_error(error)

    def _try_prepare(self, event: JSONObject, manual: bool, version: int) -> _PendingCreate | None:
        if version not in self._pending_versions:
            return None
        if (
            self.ongoing_response
            or self.response_control != "free"
            or min(self._pending_versions) != version
        ):
            return None
        self.response_control = "create_requested"
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            self._event_counter += 1
            # reference: responseCreateSequencer.ts, #nextResponseCreateEventId. The same
            # ids, so frames compare equal with the reference's.
            event_id = f"agents_js_response_create_{self._event_counter}"
        target = version if manual else self._auto_target_version(version)
        pending = _PendingCreate({**event, "event_id": event_id}, event_id, version, target, manual)
        self._pending = pending
        return pending

    def _clear_pending(self, event_id: str | None) -> bool:
        pending = self._pending
        if self.response_control != "create_requested" or pending is None:
            return False
        if event_id and pending.event_id != event_id:
            return False
        for version in range(pending.request_version + 1, pending.target_version + 1):
            self._pending_versions.add(version)
        self._pending_versions.discard(pending.request_version)
        if pending.manual:
            self._manual_versions.discard(pending.request_version)
        self._pending = None
        self.response_control = "free"
        self._notify()
        return True

    def _clear_accepted(self) -> None:
        pending = self._pending
        if pending is None:
            return
        for version in range(pending.request_version, pending.target_version + 1):
            self._pending_versions.discard(version)
            self._manual_versions.discard(version)
        self._pending = None

    def _auto_target_version(self, version: int) -> int:
        later_manual = [v for v in self._manual_versions if v >= version]
        if later_manual:
            limit = min(later_manual)
            eligible = [v for v in self._pending_versions if v < limit]
        else:
            eligible = list(self._pending_versions)
        return max(eligible)

    @staticmethod
    def _is_response_create_like_error(error: Any) -> bool:
        code = error.get("code") if isinstance(error, Mapping) else None
        if isinstance(code, str) and "response_create" in code:
            return True
        message = error.get("message") if isinstance(error, Mapping) else None
        return isinstance(message, str) and "response.create" in message

    def _notify(self) -> None:
        if self._waiters:
            self._schedule_pump()
