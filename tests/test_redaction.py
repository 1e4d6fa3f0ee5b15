"""Redaction rules, as values: no socket, no event loop."""

from __future__ import annotations

import copy

import pytest

from harness.errors import RedactionError
from harness.redaction import (
    RedactionRule,
    RedactionRules,
    RuleKind,
    is_placeholder,
    matches_redacted,
    placeholder,
    redact_url,
)

API_KEY = "sk-proj-TESTabcdefghijklmnopqrstuvwxyz0123456789"
EPHEMERAL = "ek_68af0c3a1b2c3d4e5f60718293a4b5c6"
DEFAULT = RedactionRules.default()


def test_default_rules_are_named_in_order() -> None:
    assert DEFAULT.names == (
        "authorization_header",
        "api_key_header",
        "cookie_header",
        "api_key_subprotocol",
        "api_key_query",
        "openai_api_key",
        "ephemeral_key",
        "mcp_authorization",
        "mcp_headers",
    )


def test_placeholder_spelling() -> None:
    assert placeholder("openai_api_key") == "<redacted:openai_api_key>"
    assert is_placeholder("<redacted:openai_api_key>")
    assert not is_placeholder("Bearer <redacted:openai_api_key>")
    assert not is_placeholder(3)


def test_api_key_anywhere_in_any_string_is_replaced_in_place() -> None:
    event = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"my key is {API_KEY}, keep it"}],
        },
    }
    result = DEFAULT.redact_event(event)
    assert result.value["item"]["content"][0]["text"] == (
        "my key is <redacted:openai_api_key>, keep it"
    )
    assert result.fired == ("openai_api_key",)


def test_the_input_event_is_never_modified() -> None:
    event = {"type": "x", "a": [{"b": API_KEY}], "c": {"d": EPHEMERAL}}
    before = copy.deepcopy(event)
    result = DEFAULT.redact_event(event)
    assert event == before
    assert result.value == {
        "type": "x",
        "a": [{"b": "<redacted:openai_api_key>"}],
        "c": {"d": "<redacted:ephemeral_key>"},
    }
    assert result.fired == ("openai_api_key", "ephemeral_key")


def test_nothing_fires_returns_the_same_object() -> None:
    event = {"type": "response.create", "response": {"instructions": "task-abcdefghijklmnopqrstu"}}
    result = DEFAULT.redact_event(event)
    assert result.value is event
    assert result.fired == ()


def test_key_like_text_inside_a_word_is_not_a_key() -> None:
    text = "ask-abcdefghijklmnopqrstuvwxyz and week_abcdefghijklmnopqrstuvwxyz"
    assert DEFAULT.redact_text(text).value == text


def test_url_encoded_key_is_still_caught() -> None:
    assert DEFAULT.redact_text(f"Bearer%20{API_KEY}").value == "Bearer%20<redacted:openai_api_key>"


def test_keys_of_objects_are_scanned_too() -> None:
    result = DEFAULT.redact_event({"type": "x", "meta": {API_KEY: 1}})
    assert result.value == {"type": "x", "meta": {"<redacted:openai_api_key>": 1}}


def test_mcp_authorization_and_headers_in_session_update() -> None:
    event = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "tools": [
                {"type": "function", "name": "weather"},
                {
                    "type": "mcp",
                    "server_label": "deepwiki",
                    "server_url": "https://mcp.example/sse",
                    "authorization": "opaque-token-123",
                    "headers": {"X-Token": "abc", "X-Other": "def"},
                },
            ],
        },
    }
    result = DEFAULT.redact_event(event)
    tool = result.value["session"]["tools"][1]
    assert tool["authorization"] == "<redacted:mcp_authorization>"
    assert tool["headers"] == {
        "X-Token": "<redacted:mcp_headers>",
        "X-Other": "<redacted:mcp_headers>",
    }
    assert tool["server_url"] == "https://mcp.example/sse"
    assert result.value["session"]["tools"][0] is event["session"]["tools"][0]
    assert result.fired == ("mcp_authorization", "mcp_headers")


def test_mcp_rules_also_cover_response_create_tools() -> None:
    event = {"type": "response.create", "response": {"tools": [{"authorization": "tok"}]}}
    value = DEFAULT.redact_event(event).value
    assert value["response"]["tools"][0]["authorization"] == "<redacted:mcp_authorization>"


def test_absent_or_empty_path_values_do_not_fire() -> None:
    event = {"type": "session.update", "session": {"tools": [{"authorization": ""}, {}]}}
    result = DEFAULT.redact_event(event)
    assert result.value is event
    assert result.fired == ()


def test_path_with_an_index_reaches_one_item() -> None:
    rules = RedactionRules((RedactionRule.path("first", "items[0].secret"),))
    result = rules.redact_event({"items": [{"secret": "a"}, {"secret": "b"}]})
    assert result.value == {"items": [{"secret": "<redacted:first>"}, {"secret": "b"}]}


def test_user_rules_add_to_the_defaults() -> None:
    rules = DEFAULT.with_rules(
        RedactionRule.path("customer_id", "session.metadata.customer"),
        RedactionRule.pattern("phone", r"\+1-\d{3}-\d{4}"),
    )
    event = {
        "type": "session.update",
        "session": {"metadata": {"customer": "c-42"}, "instructions": "call +1-555-0100"},
    }
    result = rules.redact_event(event)
    assert result.value["session"] == {
        "metadata": {"customer": "<redacted:customer_id>"},
        "instructions": "call <redacted:phone>",
    }
    assert result.fired == ("customer_id", "phone")
    assert rules.names[-2:] == ("customer_id", "phone")


def test_binary_frames_are_scanned_as_bytes() -> None:
    data = b"\x00\x01" + API_KEY.encode() + b"\xff"
    result = DEFAULT.redact_bytes(data)
    assert result.value == b"\x00\x01<redacted:openai_api_key>\xff"
    assert result.fired == ("openai_api_key",)


def test_handshake_headers() -> None:
    result = DEFAULT.redact_headers(
        [
            ("Authorization", f"Bearer {API_KEY}"),
            ("api-key", "azure-secret"),
            ("OpenAI-Beta", "realtime=v1"),
            ("X-Custom", f"token {EPHEMERAL}"),
        ]
    )
    assert result.value == [
        ("Authorization", "Bearer <redacted:authorization_header>"),
        ("api-key", "<redacted:api_key_header>"),
        ("OpenAI-Beta", "realtime=v1"),
        ("X-Custom", "token <redacted:ephemeral_key>"),
    ]
    assert result.fired == ("authorization_header", "api_key_header", "ephemeral_key")


def test_subprotocol_key_is_replaced_after_its_prefix() -> None:
    result = DEFAULT.redact_subprotocols(
        ["realtime", f"openai-insecure-api-key.{API_KEY}", "openai-beta.realtime-v1"]
    )
    assert result.value == [
        "realtime",
        "openai-insecure-api-key.<redacted:api_key_subprotocol>",
        "openai-beta.realtime-v1",
    ]
    assert result.fired == ("api_key_subprotocol",)


def test_query_api_key_and_keys_in_other_parameters() -> None:
    result = DEFAULT.redact_query(
        [("model", "gpt-realtime"), ("api_key", "anything"), ("note", API_KEY)]
    )
    assert result.value == [
        ("model", "gpt-realtime"),
        ("api_key", "<redacted:api_key_query>"),
        ("note", "<redacted:openai_api_key>"),
    ]
    assert result.fired == ("api_key_query", "openai_api_key")


def test_no_rules_means_nothing_is_redacted() -> None:
    none = RedactionRules(())
    event = {"type": "x", "text": API_KEY}
    assert none.redact_event(event).value is event
    assert none.redact_headers([("Authorization", API_KEY)]).value == [("Authorization", API_KEY)]
    assert none.names == ()


@pytest.mark.parametrize(
    ("recorded", "received", "expected"),
    [
        ("<redacted:openai_api_key>", API_KEY, True),
        ("Bearer <redacted:authorization_header>", f"Bearer {API_KEY}", True),
        ("Bearer <redacted:authorization_header>", "Basic abc", False),
        ("a <redacted:x> b <redacted:y> c", "a 1 b 2 c", True),
        ("a <redacted:x> b", "a  b", False),
        ("plain", "plain", True),
        ("plain", "other", False),
        ("dots.are*literal <redacted:x>", "dots.are*literal k", True),
        ("dots.are*literal <redacted:x>", "dotsXare*literal k", False),
    ],
)
def test_matches_redacted(recorded: str, received: str, expected: bool) -> None:
    assert matches_redacted(recorded, received) is expected


def test_redaction_is_idempotent() -> None:
    once = DEFAULT.redact_event({"type": "x", "t": f"{API_KEY} {EPHEMERAL}"})
    twice = DEFAULT.redact_event(once.value)
    assert twice.value == once.value
    assert twice.fired == ()


def test_bad_rule_name_teaches_the_fix() -> None:
    with pytest.raises(RedactionError) as info:
        RedactionRule.pattern("my token", "x+")
    assert str(info.value) == (
        "redaction rule name 'my token' is not allowed: use letters, digits, '_', '.' or '-', "
        "e.g. 'my_token'"
    )


def test_bad_regex_names_the_rule() -> None:
    with pytest.raises(RedactionError) as info:
        RedactionRule.pattern("broken", "sk-[")
    assert str(info.value).startswith("redaction rule 'broken': bad regular expression 'sk-[': ")


def test_pattern_matching_empty_string_is_refused() -> None:
    with pytest.raises(RedactionError) as info:
        RedactionRule.pattern("everything", "x*")
    assert "matches the empty string" in str(info.value)


def test_bad_key_path_names_the_segment() -> None:
    with pytest.raises(RedactionError) as info:
        RedactionRule.path("bad", "session..tools")
    assert str(info.value).startswith(
        "redaction rule 'bad': bad key path 'session..tools' at segment ''"
    )


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(RedactionError) as info:
        RedactionRule("r", "regex", "x")  # type: ignore[arg-type]
    assert str(info.value) == (
        "redaction rule 'r': unknown kind 'regex'; use one of path, pattern, header, query, "
        "subprotocol"
    )
    assert RedactionRule("r", "pattern", "x").kind is RuleKind.PATTERN  # type: ignore[arg-type]


def test_duplicate_rule_names_are_refused() -> None:
    with pytest.raises(RedactionError) as info:
        DEFAULT.with_rules(RedactionRule.pattern("openai_api_key", "x+"))
    assert str(info.value) == (
        "two redaction rules are named 'openai_api_key'; give each rule its own name"
    )


def test_rules_are_frozen_values() -> None:
    rule = RedactionRule.pattern("a", "x+")
    assert rule == RedactionRule.pattern("a", "x+")
    with pytest.raises(AttributeError):
        rule.name = "b"  # type: ignore[misc]


def test_redact_url_shows_a_url_with_no_secret_in_it() -> None:
    rules = RedactionRules.default()
    key = "sk-proj-" + "a1B2" * 10
    shown = redact_url(
        f"wss://user:hunter2@api.example.com/v1/{key}/realtime?model=gpt-realtime&api_key={key}#f",
        rules,
    )
    assert key not in shown and "hunter2" not in shown and "user" not in shown
    assert shown.startswith("wss://api.example.com/v1/<redacted:")
    assert "model=gpt-realtime" in shown and "api_key=<redacted:" in shown
    assert not shown.endswith("#f")
    assert redact_url("ws://[::1/realtime", rules) == "<invalid URL>"
    plain = "ws://127.0.0.1:8000/v1/realtime?model=m"
    assert redact_url(plain, rules) == plain
