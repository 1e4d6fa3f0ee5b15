"""Matching rules: type first, volatile fields ignored, audio by digest, readable diffs."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.matching import (
    DEFAULT_RULES,
    MatchRules,
    compare_binary,
    compare_events,
    digest_text,
    format_path,
)


def item_create(text: str, *, event_id: str = "evt_1", item_id: str = "item_1") -> dict:
    return {
        "type": "conversation.item.create",
        "event_id": event_id,
        "previous_item_id": None,
        "item": {
            "id": item_id,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def test_volatile_client_ids_are_ignored_by_default() -> None:
    result = compare_events(
        item_create("hi", event_id="a", item_id="x"), item_create("hi", event_id="b", item_id="y")
    )
    assert result.ok
    assert result.ignored == ("event_id", "previous_item_id", "item.id")


def test_a_changed_field_is_reported_at_its_path() -> None:
    result = compare_events(item_create("Paris"), item_create("Berlin"))
    assert not result.ok
    (diff,) = result.differences
    assert diff.path == "$.item.content[0].text"
    assert (diff.expected, diff.received) == ('"Paris"', '"Berlin"')


def test_type_is_compared_first_and_alone() -> None:
    result = compare_events({"type": "response.create"}, {"type": "response.cancel", "x": 1})
    assert [(d.path, d.expected, d.received) for d in result.differences] == [
        ("$.type", '"response.create"', '"response.cancel"')
    ]


def test_missing_and_extra_fields_show_absent() -> None:
    result = compare_events({"type": "a", "x": 1}, {"type": "a", "y": 2})
    assert [(d.path, d.expected, d.received) for d in result.differences] == [
        ("$.x", "1", "<absent>"),
        ("$.y", "<absent>", "2"),
    ]


def test_true_is_not_one_but_one_is_one_point_zero() -> None:
    assert not compare_events({"type": "a", "v": True}, {"type": "a", "v": 1}).ok
    assert compare_events({"type": "a", "v": 1}, {"type": "a", "v": 1.0}).ok


def test_array_length_difference_is_reported() -> None:
    result = compare_events({"type": "a", "v": [1, 2]}, {"type": "a", "v": [1]})
    assert [(d.path, d.expected, d.received) for d in result.differences] == [
        ("$.v", "an array of 2 items", "an array of 1 items")
    ]


def test_audio_compares_by_digest_and_shows_it() -> None:
    a = {"type": "input_audio_buffer.append", "audio": "QUFB" * 2000}
    b = {"type": "input_audio_buffer.append", "audio": "QUFC" * 2000}
    assert compare_events(a, dict(a)).ok
    (diff,) = compare_events(a, b).differences
    assert diff.path == "$.audio"
    assert diff.expected == f"{digest_text(a['audio'])[:19]}… (8000 chars)"
    # a recording may store the digest instead of the audio
    assert compare_events(
        {"type": "input_audio_buffer.append", "audio": digest_text(b["audio"])}, b
    ).ok


def test_redaction_placeholders_match_any_value() -> None:
    recorded = {
        "type": "session.update",
        "session": {"key": "<redacted:openai_api_key>", "auth": "Bearer <redacted:bearer>"},
    }
    received = {"type": "session.update", "session": {"key": {"any": 1}, "auth": "Bearer sk-1"}}
    assert compare_events(recorded, received).ok
    strict = MatchRules(redacted_matches_any=False)
    assert not compare_events(recorded, received, strict).ok


def test_rules_are_data_and_overridable() -> None:
    recorded = {"type": "session.update", "session": {"instructions": "a", "voice": "x"}}
    received = {"type": "session.update", "session": {"instructions": "b", "voice": "x"}}
    assert not compare_events(recorded, received).ok
    rules = DEFAULT_RULES.ignoring("session.instructions")
    assert compare_events(recorded, received, rules).ok
    assert rules.comparing("session.instructions") == DEFAULT_RULES
    scoped = DEFAULT_RULES.ignoring("response.create:session.instructions")
    assert not compare_events(recorded, received, scoped).ok
    assert compare_events(
        recorded, received, DEFAULT_RULES.ignoring("session.update:$.session.instructions")
    ).ok


def test_wildcards_in_paths() -> None:
    rules = MatchRules(ignore=("**.text",))
    assert compare_events(item_create("a"), item_create("b", item_id="item_1"), rules).ok
    rules = MatchRules(ignore=("event_id", "item.*", "item.content[*].text"))
    assert compare_events(item_create("a"), item_create("b", item_id="z"), rules).ok
    rules = MatchRules(ignore=("event_id", "item.id", "item.content[1].text"))
    assert not compare_events(item_create("a"), item_create("b"), rules).ok


@pytest.mark.parametrize("bad", ["", "a..b", "a[x]", "a.[", "a.b]"])
def test_bad_rule_paths_teach_the_syntax(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        MatchRules(ignore=(bad,))
    assert "match rule path" in str(info.value)


def test_a_string_is_not_a_tuple_of_paths() -> None:
    with pytest.raises(UsageError, match=r"MatchRules\.ignore must be a tuple of paths"):
        MatchRules(ignore="event_id")  # type: ignore[arg-type]


def test_binary_compares_by_digest() -> None:
    assert compare_binary(b"ab", b"ab").ok
    (diff,) = compare_binary(b"ab", b"abc").differences
    assert diff.expected.endswith("(2 bytes)") and diff.received.endswith("(3 bytes)")


def test_format_path() -> None:
    assert format_path(("item", "content", 0, "text")) == "$.item.content[0].text"
    assert format_path(()) == "$"
