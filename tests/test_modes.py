"""Record modes: which action each mode takes, as values."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.modes import RecordAction, RecordMode, choose_action, parse_record_mode


@pytest.mark.parametrize(
    ("mode", "exists", "action"),
    [
        ("none", True, RecordAction.REPLAY),
        ("none", False, RecordAction.REPLAY),
        ("once", True, RecordAction.REPLAY),
        ("once", False, RecordAction.RECORD),
        ("new_episodes", True, RecordAction.REPLAY_THEN_RECORD),
        ("new_episodes", False, RecordAction.RECORD),
        ("all", True, RecordAction.RECORD),
        ("all", False, RecordAction.RECORD),
    ],
)
def test_each_mode_chooses_its_action(mode: str, exists: bool, action: RecordAction) -> None:
    assert choose_action(mode, cassette_exists=exists) is action
    assert choose_action(RecordMode(mode), cassette_exists=exists) is action


def test_spellings_are_the_vcrpy_ones() -> None:
    assert [m.value for m in RecordMode] == ["none", "once", "new_episodes", "all"]
    assert RecordMode.NEW_EPISODES == "new_episodes"


def test_unknown_mode_lists_the_choices() -> None:
    with pytest.raises(UsageError) as info:
        parse_record_mode("rewind")
    assert str(info.value) == (
        "unknown record mode 'rewind'; choose one of none, once, new_episodes, all"
    )
