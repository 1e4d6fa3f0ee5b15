"""Record modes, named as vcrpy and pytest-recording name them, and what each one does.

Theory of operation (the unit of a cassette is the *connection*, an ``episode``):

1. ``none``: replay only. A missing cassette, a client frame that does not match, or a
   recorded frame never played is a failure. The CI default.
2. ``once``: record if the cassette does not exist, else replay exactly as ``none``.
3. ``new_episodes``: replay the connections the cassette has, in order; a connection
   beyond the last recorded one is relayed to the upstream and recorded, appended to the
   cassette as the next ``conn``. A recorded connection that diverges is a mismatch, as in
   ``none``: a WebSocket session is stateful, so a half-replayed connection cannot be
   resumed against the real API faithfully; re-record it with ``all``. With no cassette,
   ``new_episodes`` records, as ``once`` does.
4. ``all``: always record, replacing the cassette.

Whatever the mode, a recording replaces (or, with ``new_episodes``, appends to) the cassette
only when it is sound: at least one recorded connection completed its handshake with the
upstream and nothing failed inside the harness. Otherwise the cassette is left
byte-identical, the attempt is kept as ``NAME.failed.jsonl`` beside it, and the test fails
with the refusal (see :class:`harness.errors.RecordingError`).
"""

from __future__ import annotations

from enum import StrEnum

from harness.errors import UsageError

__all__ = ["RecordAction", "RecordMode", "choose_action", "parse_record_mode"]


class RecordMode(StrEnum):
    """How a test uses its cassette; the values are the CLI/pytest spellings."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"


class RecordAction(StrEnum):
    """What to do for one test, given the mode and whether the cassette exists."""

    REPLAY = "replay"
    """Serve the cassette; the upstream is never contacted."""
    RECORD = "record"
    """Relay to the upstream and write a new cassette."""
    REPLAY_THEN_RECORD = "replay_then_record"
    """Replay the recorded connections, record and append any further connection."""


def parse_record_mode(text: str) -> RecordMode:
    """Return the :class:`RecordMode` spelled ``text``; raise UsageError naming the choices."""
    try:
        return RecordMode(text)
    except ValueError:
        choices = ", ".join(mode.value for mode in RecordMode)
        raise UsageError(f"unknown record mode {text!r}; choose one of {choices}") from None


def choose_action(mode: RecordMode | str, *, cassette_exists: bool) -> RecordAction:
    """Decide what a test does with its cassette.

    Args:
        mode: the record mode (a :class:`RecordMode` or its spelling).
        cassette_exists: whether the cassette file is already there.

    Returns:
        :attr:`RecordAction.REPLAY` for ``none`` (even when the cassette is missing: replay
        then reports it) and for ``once`` with a cassette; :attr:`RecordAction.RECORD` for
        ``all``, and for ``once`` / ``new_episodes`` without one;
        :attr:`RecordAction.REPLAY_THEN_RECORD` for ``new_episodes`` with a cassette.
    """
    mode = parse_record_mode(mode) if not isinstance(mode, RecordMode) else mode
    if mode is RecordMode.NONE:
        return RecordAction.REPLAY
    if mode is RecordMode.ALL or not cassette_exists:
        return RecordAction.RECORD
    if mode is RecordMode.ONCE:
        return RecordAction.REPLAY
    return RecordAction.REPLAY_THEN_RECORD
