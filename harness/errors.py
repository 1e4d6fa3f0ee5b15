"""The one exception hierarchy of realtime-harness.

Every error the harness raises on purpose is a :class:`HarnessError`. Where a
standard exception already says the same thing, ours subclasses it too, so
``except ValueError`` keeps working for users who do not know us::

    HarnessError
    ├── UsageError(HarnessError, ValueError)          bad arguments, unknown record mode
    ├── CassetteError(HarnessError, ValueError)       the file is wrong: .path .lineno .reason
    │   └── CassetteNotFound(CassetteError, FileNotFoundError)
    ├── CassetteMismatch(HarnessError, AssertionError) replay diverged: .expected .received .diff
    │   └── UnplayedFrames(CassetteMismatch)
    ├── RedactionError(HarnessError)
    ├── RecordingError(HarnessError)                  a recording was not sound: .path .failed_path
    ├── ConversationError(HarnessError)               .error_event: the API error payload
    ├── HistoryError(HarnessError, ValueError)        reset_history refused the histories
    ├── HistoryPropertyError(HarnessError, AssertionError) reset_history broke the property
    ├── NetworkBlocked(HarnessError)                  a replaying test tried to leave loopback
    └── TransportError(HarnessError)
        ├── TransportNotConnected(TransportError)     sending while disconnected
        └── TransportClosed(TransportError)           .code .reason

Messages name the file, line, frame index, side and event type at fault, and never
contain a secret: callers pass already-redacted text.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

__all__ = [
    "CassetteError",
    "CassetteMismatch",
    "CassetteNotFound",
    "ConversationError",
    "HarnessError",
    "HistoryError",
    "HistoryPropertyError",
    "NetworkBlocked",
    "RecordingError",
    "RedactionError",
    "TransportClosed",
    "TransportError",
    "TransportNotConnected",
    "UnplayedFrames",
    "UsageError",
]


class HarnessError(Exception):
    """Base class of every error realtime-harness raises on purpose."""


class UsageError(HarnessError, ValueError):
    """An argument, option or configuration value is not one we accept."""


class CassetteError(HarnessError, ValueError):
    """A cassette file is malformed; the message reads ``path:line: reason``."""

    def __init__(
        self, path: str | os.PathLike[str] | None, lineno: int | None, reason: str
    ) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.lineno = lineno
        self.reason = reason
        where = self.path if self.path is not None else "<cassette>"
        if lineno is not None:
            where = f"{where}:{lineno}"
        super().__init__(f"{where}: {reason}")


class CassetteNotFound(CassetteError, FileNotFoundError):
    """The cassette file does not exist (and the record mode does not allow creating it)."""

    def __init__(self, path: str | os.PathLike[str], reason: str | None = None) -> None:
        super().__init__(path, None, reason or "no such cassette")


class CassetteMismatch(HarnessError, AssertionError):
    """Replay diverged from the cassette.

    Attributes:
        expected: the recorded frame the server wanted (or ``None``).
        received: what the client sent instead (or ``None``).
        diff: the readable, multi-line report; also ``str(self)``.
    """

    def __init__(self, diff: str, *, expected: Any = None, received: Any = None) -> None:
        self.diff = diff
        self.expected = expected
        self.received = received
        super().__init__(diff)


class UnplayedFrames(CassetteMismatch):
    """Recorded frames were never played before the connection closed."""


class RedactionError(HarnessError):
    """A redaction rule is invalid, or a secret could not be scrubbed."""


class RecordingError(HarnessError):
    """A recording was not sound, so the cassette was left as it was.

    Sound means: at least one connection completed its handshake with the upstream, and
    nothing failed inside the harness. The message is one line: the cassette, what went
    wrong (the upstream's refusal: status and reason, redacted), and where the attempt is.

    Attributes:
        path: the cassette that was to be written (unchanged, or still absent).
        failed_path: the side file holding the failed attempt, or ``None`` when nothing
            was recorded at all.
        reasons: what went wrong, one redacted line each.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        reasons: list[str] | tuple[str, ...],
        *,
        failed_path: str | os.PathLike[str] | None = None,
        existed: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.failed_path = os.fspath(failed_path) if failed_path is not None else None
        self.reasons = tuple(reasons)
        kept = "is unchanged" if existed else "was not written"
        where = "" if self.failed_path is None else f"; the attempt is in {self.failed_path}"
        why = "; ".join(" ".join(reason.split()) for reason in self.reasons)
        super().__init__(f"{self.path}: recording failed: {why}; the cassette {kept}{where}")


class ConversationError(HarnessError):
    """The simulated conversation refused a client event.

    Attributes:
        error_event: the API ``error`` server event that describes the refusal.
    """

    def __init__(self, message: str, error_event: dict[str, Any]) -> None:
        self.error_event = error_event
        super().__init__(message)


class HistoryError(HarnessError, ValueError):
    """``reset_history`` refused the histories before sending anything.

    Mirrors the reference's ``UserError`` for items the API cannot create.
    """


class HistoryPropertyError(HarnessError, AssertionError):
    """``reset_history(old, new)`` did not leave the conversation equal to ``new``.

    Raised by :mod:`harness.checker`; the message is the side-by-side report (``old``,
    ``new``, the events sent, the conversation they left, what was expected).

    Attributes:
        report: the report; also ``str(self)``.
    """

    def __init__(self, report: str) -> None:
        self.report = report
        super().__init__(report)


class NetworkBlocked(HarnessError):
    """A test that replays tried to reach a non-loopback address (``--realtime-block-network``).

    Raised by the pytest plugin's guard before anything is sent. Not an :class:`OSError`,
    on purpose: client libraries retry or swallow ``OSError`` (``except OSError``), and the
    point is that the test fails at once, with this message.
    """


class TransportError(HarnessError):
    """The transport could not do what was asked of it."""


class TransportNotConnected(TransportError):
    """An event was sent while the WebSocket is not connected."""


class TransportClosed(TransportError):
    """The connection closed; ``code`` and ``reason`` are the close frame's."""

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(message)


class _HarnessWarning(UserWarning):
    """Deprecated, never raised: the harness logs what it carries on from (``logging``)."""


_HarnessWarning.__name__ = _HarnessWarning.__qualname__ = "HarnessWarning"


def __getattr__(name: str) -> Any:
    # Deprecated names (README: "Deprecated names"), until 0.3.
    if name == "HarnessWarning":
        warnings.warn(
            "harness.errors.HarnessWarning is deprecated: the harness never issues it",
            DeprecationWarning,
            stacklevel=2,
        )
        return _HarnessWarning
    raise AttributeError(f"module 'harness.errors' has no attribute {name!r}")
