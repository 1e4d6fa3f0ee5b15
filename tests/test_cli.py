"""``python -m harness replay|check``: timeline, verdict, exit status, no tracebacks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cassette import CassetteWriter, Header, load_cassette
from harness.cli import main
from harness.drivers import DRIVERS, ClientKind
from harness.refusal import Refusal, refusal_frame

CASSETTES = sorted((Path(__file__).parent.parent / "cassettes").glob("*.jsonl"))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out, prog="realtime-harness")
    return status, out.getvalue()


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_replay_of_each_bundled_cassette_passes_with_a_timeline(path: Path) -> None:
    status, text = run("replay", str(path))
    frames = load_cassette(path).frames
    lines = text.splitlines()
    assert status == 0, text
    assert lines[-1].startswith(f"PASS: {path}: {len(frames)} frames played on 1 connection")
    timeline = lines[:-1]
    assert len(timeline) == len(frames)
    for line, frame in zip(timeline, frames, strict=True):
        t, conn, side, label = line.split(None, 4)[0], *line.split(None, 4)[2:]
        float(t)
        assert (conn, side) == ("0", str(frame.side))
        assert label.startswith(frame.describe())  # error events add their code


def test_quiet_prints_only_the_verdict() -> None:
    status, text = run("replay", str(CASSETTES[0]), "--quiet", "--speed", "0")
    assert status == 0
    assert text.count("\n") == 1 and text.startswith("PASS: ")


def test_frames_never_played_fail_with_the_report_and_status_1(tmp_path: Path) -> None:
    path = tmp_path / "after_close.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1"})
        w.write_close("client", 0.1, 0, 1000, "")
        w.event("server", 0.2, 0, {"type": "response.done", "event_id": "e2"})
    status, text = run("replay", str(path))
    assert status == 1
    lines = text.splitlines()
    assert lines[2] == f"FAIL: {path}"
    assert lines[3] == f"{path}:4: 1 recorded frame never played on conn 0 (connection 0)"
    assert lines[4] == "  line 4: server response.done (t=0.200)"


def test_a_bad_cassette_exits_2_with_the_message_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"format": "realtime-harness-cassette", "version": 1}\n'
        '{"side": "server", "t": 0, "conn": 0, "event": {"type": "a"}}\n'
        '{"side": "sever", "t": 0, "conn": 0, "event": {"type": "b"}}\n'
    )
    status, text = run("replay", str(path))
    assert (status, text) == (2, "")
    err = capsys.readouterr().err
    assert err == (f"error: {path}:3: unknown side 'sever' (expected 'client' or 'server')\n")


def test_check_counts_frames(capsys: pytest.CaptureFixture[str]) -> None:
    path = next(p for p in CASSETTES if p.stem == "text_turn")
    status, text = run("check", str(path))
    assert status == 0
    assert text == (
        f"{path}: OK, 23 frames (5 client, 18 server) on 1 connection; "
        "made synthesized, model gpt-realtime\n"
    )


def test_check_names_the_torn_line_and_what_read_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "torn.jsonl"
    path.write_text(
        '{"format": "realtime-harness-cassette", "version": 1}\n'
        '{"side": "server", "t": 0, "conn": 0, "event": {"type": "a"}}\n'
        '{"side": "server", "t": 0.5, "co'
    )
    status, _ = run("check", str(path))
    assert status == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith(f"error: {path}:3: torn last line")
    assert err.endswith("(1 complete frame before it read fine)")


def test_missing_cassette_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert run("check", str(missing))[0] == 2
    assert capsys.readouterr().err == (f"error: {missing}: no such cassette\n")


def test_bad_speed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", str(CASSETTES[0]), "--speed", "-2"], prog="realtime-harness")
    assert info.value.code == 2
    assert "speed must be 0 (no pacing) or a positive factor" in capsys.readouterr().err


def test_every_client_kind_has_a_driver() -> None:
    assert set(DRIVERS) == set(ClientKind)


def test_python_dash_m_harness_runs() -> None:
    path = next(p for p in CASSETTES if p.stem == "server_error")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "replay", str(path), "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"PASS: {path}: 8 frames played")


def test_a_recorded_refusal_replays_as_a_refused_handshake(tmp_path: Path) -> None:
    path = tmp_path / "refused.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.write(refusal_frame(0, 0.0, Refusal(401, "Unauthorized", '{"error": {}}')))
        w.event("server", 0.0, 1, {"type": "session.created", "event_id": "e"})
    status, text = run("replay", str(path))
    assert status == 0, text
    assert text.splitlines()[0].split(None, 4)[1:] == [
        "conn",
        "0",
        "server",
        "handshake refused: HTTP 401",
    ]
    assert "session.created" in text.splitlines()[1]


def test_check_warns_about_server_events_without_event_id(tmp_path: Path) -> None:
    path = tmp_path / "no_ids.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created"})
        w.event("server", 0.1, 0, {"type": "session.updated", "event_id": "e"})
    status, text = run("check", str(path))
    assert status == 0
    assert text.splitlines()[1] == (
        "warning: 1 server event(s) without an event_id (lines 2): the SDKs ignore or reject "
        "such events"
    )


def test_replay_takes_the_rules_the_cassette_was_recorded_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(CASSETTES[0])
    rules = ("--redact-path", "customer=session.metadata.customer")
    status, text = run("replay", path, "--quiet", *rules, "--redact-pattern", "t=tok_[0-9]+")
    assert status == 0 and text.startswith("PASS: "), text
    assert run("replay", path, "--redact-pattern", "nameonly") == (2, "")
    err = capsys.readouterr().err
    assert err == "error: redaction rule 'nameonly': write NAME=VALUE\n"
