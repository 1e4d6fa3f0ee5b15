"""harness.scrub and ``redact``: secrets out of existing cassettes, in place, atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from harness.cassette import CassetteWriter, Header, load_cassette
from harness.cli import main
from harness.redaction import RedactionRule, RedactionRules
from harness.scrub import scrub_cassette
from harness.validate import FindingKind, validate_cassette

pytestmark = pytest.mark.usefixtures("planted_cassettes_removed")

KEY = "sk-" + "proj" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3"  # built, so no scanner mistakes this file
EPHEMERAL = "ek_" + "68af" + "0123456789abcdefABCD"


def leaky(path: Path) -> None:
    header = Header(query={"model": "gpt-realtime", "api_key": KEY}, note=f"made with {KEY}")
    with CassetteWriter(path, header) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1"})
        w.event(
            "client",
            0.1,
            0,
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "instructions": f"use {KEY} or {KEY}",
                    "metadata": {"customer": "ACME-42"},
                },
            },
        )
        w.binary("client", 0.2, 0, f"bin {EPHEMERAL}".encode())
        w.write_close("server", 0.3, 0, 1011, f"bad key {KEY}")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out, prog="realtime-harness"), out.getvalue()


def test_redact_replaces_every_secret_reports_counts_and_updates_the_header(
    tmp_path: Path,
) -> None:
    path = tmp_path / "leaky.jsonl"
    leaky(path)
    before = path.read_bytes().splitlines(keepends=True)
    status, text = run("redact", str(path), "--redact-path", "customer=session.metadata.customer")
    assert status == 0
    assert text == (
        f"{path}: replaced 7 values (api_key_query x1, customer x1, ephemeral_key x1, "
        "openai_api_key x4) on lines 1, 3, 4, 5\n"
    )
    data = path.read_bytes()
    assert KEY.encode() not in data and EPHEMERAL.encode() not in data
    assert b"ACME-42" not in data and KEY not in text
    after = data.splitlines(keepends=True)
    assert after[1] == before[1]  # an untouched line is kept byte for byte
    cassette = load_cassette(path)
    assert cassette.header.query["api_key"] == "<redacted:api_key_query>"
    assert cassette.header.note == "made with <redacted:openai_api_key>"
    assert cassette.header.redactions == (*RedactionRules.default().names, "customer")
    session = cassette.frames[1].event
    assert session is not None
    assert session["session"]["metadata"]["customer"] == "<redacted:customer>"
    assert cassette.frames[3].close_reason == "bad key <redacted:openai_api_key>"
    secrets = [f for f in validate_cassette(path) if f.kind is FindingKind.SECRET]
    assert secrets == []  # and validate's scan agrees
    assert sorted(os.listdir(tmp_path)) == ["leaky.jsonl"]  # no temporary file left


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leaky.jsonl"
    leaky(path)
    scrub_cassette(path)
    stamp = path.read_bytes(), path.stat().st_mtime_ns
    report = scrub_cassette(path)
    assert (report.replaced, report.lines, report.rewritten) == ({}, (), False)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == stamp
    assert run("redact", str(path)) == (0, f"{path}: no secret in 4 frames; unchanged\n")


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leaky.jsonl"
    leaky(path)
    before = path.read_bytes()
    status, text = run("redact", str(path), "--dry-run")
    assert status == 0 and text.startswith(f"{path}: would replace 6 values (")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["leaky.jsonl"]


def test_the_header_gains_the_rules_even_with_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "clean.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1"})
    status, text = run("redact", str(path))
    assert (status, text) == (
        0,
        f"{path}: no secret in 1 frame; the header now lists the rules that ran\n",
    )
    assert load_cassette(path).header.redactions == RedactionRules.default().names


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b'{"side": "server", "t": 0.5, "co', "torn last line"),
        (b'{"side": "sever", "t": 0.5, "conn": 0, "event": {"type": "a"}}\n', "unknown side"),
    ],
)
def test_a_bad_line_leaves_the_original_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: bytes, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    leaky(path)
    with open(path, "ab") as f:
        f.write(tail)
    before = path.read_bytes()
    status, text = run("redact", str(path))
    assert (status, text) == (2, "")
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:6: ")
    assert message in err and err.endswith("(the file is untouched)\n")
    assert KEY not in err
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


def test_the_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "leaky.jsonl"
    leaky(path)
    path.chmod(0o640)
    assert scrub_cassette(path).rewritten
    assert path.stat().st_mode & 0o777 == 0o640


def test_several_files_each_reported_a_missing_one_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, missing = tmp_path / "one.jsonl", tmp_path / "missing.jsonl"
    leaky(one)
    status, text = run("redact", str(missing), str(one))
    assert status == 2
    assert text.startswith(f"{one}: replaced 6 values")
    assert capsys.readouterr().err == (
        f"error: {missing}: no such cassette (the file is untouched)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--redact-path", "nameonly"], "redaction rule 'nameonly': write NAME=VALUE"),
        (["--redact-pattern", "x=("], "x"),
        (["--redact-path", "openai_api_key=a.b"], "openai_api_key"),
    ],
)
def test_a_bad_rule_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    path = tmp_path / "leaky.jsonl"
    leaky(path)
    before = path.read_bytes()
    assert run("redact", str(path), *argv) == (2, "")
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1
    assert path.read_bytes() == before


def test_a_rule_value_redacts_with_the_library_rules() -> None:
    rules = RedactionRules.default().with_rules(RedactionRule.pattern("x", "y"))
    assert rules.names[-1] == "x"
