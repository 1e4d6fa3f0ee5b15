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
    format_value,
)
from harness.redaction import RedactionRules


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


# -- what a diff shows: redacted (matching itself unchanged) -------------------------------

SHOWN = RedactionRules.default()
KEY = "sk-proj-MATCHtest0123456789abcdefghijklmnop"
TOKEN = "opaque-mcp-token-5d1c"


def session_update(*tools: dict, **session: object) -> dict:
    return {"type": "session.update", "session": {"tools": list(tools), **session}}


def mcp(authorization: str, **fields: object) -> dict:
    return {"type": "mcp", "server_label": "s", "authorization": authorization, **fields}


def shown(diffs: object) -> str:
    return repr(diffs)


def test_a_secret_at_its_own_path_shows_as_its_placeholder_on_both_sides() -> None:
    recorded = session_update(mcp("recorded-literal"))
    received = session_update(mcp(TOKEN))
    plain = compare_events(recorded, received)
    result = compare_events(recorded, received, redaction=SHOWN)
    assert plain.ok == result.ok is False  # matching is the same
    (diff,) = result.differences
    assert diff.path == "$.session.tools[0].authorization"
    assert diff.expected == '"<redacted:mcp_authorization>"'
    assert diff.received == '"<redacted:mcp_authorization>" (a different value, redacted)'
    assert TOKEN in shown(plain.differences)  # without redaction the value is shown


def test_a_container_holding_a_secret_shows_the_placeholder_inside_it() -> None:
    recorded = session_update(mcp("<redacted:mcp_authorization>"), instructions="a")
    received = session_update(mcp(TOKEN, headers={"X-Key": "header-secret-1"}), instructions="b")
    result = compare_events(recorded, received, redaction=SHOWN)
    assert [(d.path, d.expected, d.received) for d in result.differences] == [
        ("$.session.tools[0].headers", "<absent>", '{"X-Key":"<redacted:mcp_headers>"}'),
        ("$.session.instructions", '"a"', '"b"'),
    ]
    # a whole tools array of another shape: shown with its secrets redacted
    other = {"type": "session.update", "session": {"tools": "none", "instructions": "b"}}
    (diff,) = compare_events(other, received, redaction=SHOWN).differences
    assert TOKEN not in diff.received and "<redacted:mcp_authorization>" in diff.received
    assert "header-secret-1" not in diff.received


def test_a_recorded_placeholder_still_matches_any_value_with_redaction_on() -> None:
    recorded = session_update(mcp("<redacted:mcp_authorization>"))
    assert compare_events(recorded, session_update(mcp(TOKEN)), redaction=SHOWN).ok


def test_pattern_secrets_are_redacted_before_a_long_value_is_cut() -> None:
    # The key starts before the 120th character: cut first, its start would stay readable.
    text = "x" * 100 + KEY
    result = compare_events(
        {"type": "a", "v": "y"}, {"type": "a", "v": text, KEY: 1}, redaction=SHOWN
    )
    assert KEY[:12] not in shown(result.differences)
    assert [d.path for d in result.differences] == ["$.v", "$.<redacted:openai_api_key>"]
    assert result.differences[0].received.startswith('"' + "x" * 100 + "<redacted:")
    assert KEY[:12] in format_value(text)  # what the cut alone would have shown
    assert KEY[:12] not in format_value(text, redaction=SHOWN)


def test_the_type_and_ignored_paths_are_redacted_too() -> None:
    (diff,) = compare_events({"type": "a"}, {"type": KEY}, redaction=SHOWN).differences
    assert diff.received == '"<redacted:openai_api_key>"'
    rules = DEFAULT_RULES.ignoring("extra.*")
    result = compare_events(
        {"type": "a", "extra": {}, "v": 1},
        {"type": "a", "extra": {KEY: 1}, "v": 2},
        rules,
        redaction=SHOWN,
    )
    assert result.ignored == ("extra.<redacted:openai_api_key>",)
