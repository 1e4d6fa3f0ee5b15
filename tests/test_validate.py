"""harness.validate and ``validate``: events against the openai types, and the secret scan."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cassette import CassetteWriter, Frame, Header
from harness.cli import main
from harness.redaction import placeholder
from harness.validate import FindingKind, validate_cassette, validate_frame

pytestmark = pytest.mark.usefixtures("planted_cassettes_removed")

CASSETTES = sorted((Path(__file__).parent.parent / "cassettes").glob("*.jsonl"))
KEY = "sk-" + "proj" + "A1b2C3d4E5f6G7h8I9j0"  # built, so no scanner mistakes this file


def findings(side: str, event: dict[str, Any]) -> list[tuple[FindingKind, str]]:
    frame = Frame(side=Frame.of_event(side, 0, 0, event).side, t=0, event=event, lineno=7)
    return [(f.kind, str(f)) for f in validate_frame("x.jsonl", frame)]


def test_an_unknown_event_type() -> None:
    assert findings("client", {"type": "conversation.item.creat", "item": {}}) == [
        (
            FindingKind.UNKNOWN_TYPE,
            "x.jsonl:7: unknown client event type 'conversation.item.creat' "
            "(not in openai's RealtimeClientEvent)",
        )
    ]


def test_a_beta_era_field_at_depth() -> None:
    event = {"type": "response.create", "response": {"modalities": ["text"]}}
    assert findings("client", event) == [
        (
            FindingKind.UNKNOWN_FIELD,
            "x.jsonl:7: client response.create: $.response.modalities: unknown field (openai's "
            "ResponseCreateEvent does not declare it: a beta-era or misspelt field?)",
        )
    ]


def test_a_wrong_field_type_and_a_missing_field() -> None:
    event = {"type": "conversation.item.truncate", "item_id": "i", "audio_end_ms": "late"}
    assert findings("client", event) == [
        (
            FindingKind.SCHEMA,
            "x.jsonl:7: client conversation.item.truncate: $.audio_end_ms: input should be a "
            "valid integer, unable to parse string as an integer (got 'late')",
        ),
        (
            FindingKind.SCHEMA,
            "x.jsonl:7: client conversation.item.truncate: $.content_index: field required",
        ),
    ]


def test_a_union_reports_the_member_that_came_closest() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 5}]}
    assert findings("client", {"type": "conversation.item.create", "item": item}) == [
        (
            FindingKind.SCHEMA,
            "x.jsonl:7: client conversation.item.create: $.item.content[0].text: input should "
            "be a valid string (got 5)",
        )
    ]


def test_server_events_need_their_event_id() -> None:
    ((kind, text),) = findings("server", {"type": "input_audio_buffer.cleared"})
    assert kind is FindingKind.SCHEMA and text.endswith("$.event_id: field required")


def test_an_unredacted_key_is_found_and_never_printed() -> None:
    event = {"type": "session.update", "session": {"type": "realtime", "instructions": KEY}}
    ((kind, text),) = findings("client", event)
    assert kind is FindingKind.SECRET
    assert text == (
        "x.jsonl:7: unredacted secret in client session.update (rule openai_api_key): "
        "run 'redact' on this cassette"
    )
    assert KEY not in text


def test_a_placeholder_is_not_a_secret() -> None:
    tools = [
        {"type": "mcp", "server_label": "s", "authorization": placeholder("mcp_authorization")}
    ]
    event = {"type": "session.update", "session": {"type": "realtime", "tools": tools}}
    assert [k for k, _ in findings("client", event)] == []


def test_a_wrong_value_shown_in_a_message_is_redacted() -> None:
    event = {
        "type": "conversation.item.truncate",
        "item_id": "i",
        "content_index": 0,
        "audio_end_ms": KEY,
    }
    texts = [text for _, text in findings("client", event)]
    assert len(texts) == 2 and not any(KEY in t for t in texts)
    assert "(got '<redacted:openai_api_key>')" in texts[0]


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_every_bundled_cassette_validates_clean(path: Path) -> None:
    validation = validate_cassette(path)
    assert list(validation) == []
    assert validation.frames > 0


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out, prog="realtime-harness"), out.getvalue()


def test_the_command_prints_each_finding_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    with CassetteWriter(bad, Header(note=f"key {KEY}")) as w:
        w.event("client", 0.0, 0, {"type": "conversation.item.creat"})
        w.write_close("server", 0.1, 0, 1011, f"leaked {KEY}")
    status, text = run("validate", str(CASSETTES[0]), str(bad))
    assert status == 1
    assert text.splitlines() == [
        f"{CASSETTES[0]}: OK, 37 frames valid, no secret found",
        f"{bad}:1: unredacted secret in the header (rule openai_api_key): run 'redact' on "
        "this cassette",
        f"{bad}:2: unknown client event type 'conversation.item.creat' (not in openai's "
        "RealtimeClientEvent)",
        f"{bad}:3: unredacted secret in server close 1011 (rule openai_api_key): run 'redact' "
        "on this cassette",
        f"{bad}: 3 findings in 2 frames",
    ]
    assert KEY not in text


def test_a_bad_file_exits_2_after_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"
    status, text = run("validate", str(missing), str(CASSETTES[0]))
    assert status == 2
    assert text == f"{CASSETTES[0]}: OK, 37 frames valid, no secret found\n"
    assert capsys.readouterr().err == f"error: {missing}: no such cassette\n"


def test_without_the_openai_package_one_line_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['openai'] = None\n"
        "from harness.cli import main\n"
        f"raise SystemExit(main(['validate', {str(CASSETTES[0])!r}], prog='realtime-harness'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "error: validate needs the openai package's event types: "
        "pip install 'realtime-harness[validate]'\n"
    )
