"""The CLI as a Unix user meets it: its name, --version, --help, one-line errors, exit 2."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

CASSETTES = Path(__file__).parent.parent / "cassettes"
TEXT_TURN = str(CASSETTES / "text_turn.jsonl")
SCRIPT = Path(sys.executable).parent / "realtime-harness"
COMMANDS = ["replay", "serve", "inspect", "validate", "redact", "check", "record"]


def run(*argv: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "harness"]
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, timeout=60, check=False
    )


def one_line_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")
@pytest.mark.parametrize("script", [False, True], ids=["python -m harness", "realtime-harness"])
def test_help_and_errors_name_the_command_the_user_typed(script: bool) -> None:
    prog = "realtime-harness" if script else "python -m harness"
    helped = run("--help", script=script)
    assert helped.returncode == 0
    assert helped.stdout.startswith(f"usage: {prog} [-h] [--version] COMMAND")
    wrong = run("replay", TEXT_TURN, "--timeout", "0", script=script)
    assert wrong.stderr.startswith(f"{prog} replay: error: argument --timeout:")


def test_version_comes_from_the_package_metadata() -> None:
    proc = run("--version")
    assert (proc.returncode, proc.stdout) == (
        0,
        f"python -m harness {metadata.version('realtime-harness')}\n",
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_a_help_with_exit_statuses_and_an_example(command: str) -> None:
    proc = run(command, "--help")
    assert proc.returncode == 0
    text = proc.stdout
    assert text.startswith(f"usage: python -m harness {command} ")
    summary = text.split("\n\n")[1]
    assert "\n" not in summary and summary.endswith(".")  # a one-line summary first
    assert "\nexit status:\n  0  " in text
    assert f"\nexample:\n  python -m harness {command} " in text


def test_no_command_is_a_one_line_usage_error() -> None:
    one_line_error(run(), "python -m harness: error: the following arguments are required")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["replay", TEXT_TURN, "--timeout", "0"],
            "argument --timeout: must be a number of seconds > 0, got '0'",
        ),
        (["replay", TEXT_TURN, "--timeout", "nan"], "must be a number of seconds > 0"),
        (
            ["replay", TEXT_TURN, "--client", "bogus"],
            "argument --client: invalid choice: 'bogus' (choose from 'raw', 'transport')",
        ),
        (["replay", TEXT_TURN, "--speed", "-1"], "speed must be 0 (no pacing)"),
        (
            ["serve", TEXT_TURN, "--port", "99999"],
            "argument --port: port 99999 is out of range: give 1-65535, or 0 for any free port",
        ),
        (["serve", TEXT_TURN, "--port", "http"], "argument --port: not a port number: 'http'"),
        (["serve"], "give at least one CASSETTE to serve, or --simulate"),
        (["serve", TEXT_TURN, "--simulate"], "--simulate serves no cassette"),
        (["serve", "nope.jsonl"], "error: nope.jsonl: no such cassette"),
        (["replay", "--mode", "all", TEXT_TURN], "unrecognized arguments: --mode"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_status_2(argv: list[str], message: str) -> None:
    one_line_error(run(*argv), message)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--json", "--html", "OUT"], "argument --html: not allowed with argument --json"),
        (["--html", "OUT", "--json"], "argument --json: not allowed with argument --html"),
    ],
)
def test_inspect_json_with_html_is_one_line_naming_both_and_writes_nothing(
    tmp_path: Path, given: list[str], message: str
) -> None:
    out = str(tmp_path / "r.html")
    proc = run("inspect", TEXT_TURN, *(out if part == "OUT" else part for part in given))
    one_line_error(proc, f"python -m harness inspect: error: {message} (see ")
    assert list(tmp_path.iterdir()) == []


def test_a_non_loopback_host_warns_then_a_bind_failure_is_one_line() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning, then the bind error.
    proc = run("serve", TEXT_TURN, "--host", "192.0.2.1")
    assert proc.returncode == 2
    warning, error = proc.stderr.splitlines()
    assert warning.startswith("warning: listening on 192.0.2.1, not a loopback address")
    assert error.startswith("error: cannot listen on 192.0.2.1:0: ")


def test_check_takes_several_files_and_reports_each(tmp_path: Path) -> None:
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"format": "realtime-harness-cassette", "version": 1}\n{"side": "ser')
    missing = tmp_path / "missing.jsonl"
    proc = run("check", TEXT_TURN, str(torn), str(missing), str(CASSETTES / "audio_turn.jsonl"))
    assert proc.returncode == 2
    out = proc.stdout.splitlines()
    assert [line.split(": OK, ")[0] for line in out] == [
        TEXT_TURN,
        str(CASSETTES / "audio_turn.jsonl"),
    ]
    first, second = proc.stderr.splitlines()
    assert first.startswith(f"error: {torn}:2: torn last line")
    assert first.endswith("(0 complete frames before it read fine)")
    assert second == f"error: {missing}: no such cassette"


def test_check_of_good_files_exits_0() -> None:
    paths = sorted(str(p) for p in CASSETTES.glob("*.jsonl"))
    proc = run("check", *paths)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert len(proc.stdout.splitlines()) == len(paths)
