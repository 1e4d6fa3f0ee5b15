"""The README's shown blocks that only a real run can check, each checked as pasted.

Each block says ``<!-- readme: checked-by tests/test_readme_samples.py::TEST -->``; its test
reads it with :func:`_readme_blocks.checked_block` and compares it with what the real code
does: the CLI synopsis with the real argparse parsers, the samples with what a real server,
recorder or pytest run prints (ports and temporary paths normalised, nothing else), the
report options with real pytest runs, the conformance commands by running them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _readme_blocks import ROOT, Block, assert_sample, checked_block, readme_blocks
from websockets.asyncio.client import connect

from harness.cassette import Side, load_cassette
from harness.cli import DISTRIBUTION, _parser
from harness.server import FakeRealtimeServer

pytest_plugins = ["pytester"]

WAIT = 30.0  # seconds: the bound on every wait on a child process or a socket
FAKE_KEY = "sk-proj-READMEsample0123456789abcdefghijklmnop"  # the redaction rules catch it


def _block_before(block: Block) -> Block:
    blocks = readme_blocks()
    return blocks[blocks.index(block) - 1]


def _child_env() -> dict[str, str]:
    """This checkout's ``harness`` first, whatever the child's working directory."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )


# -- the CLI synopsis ----------------------------------------------------------------------------


@dataclass
class Synopsis:
    """One synopsis line, parsed: ``PROG COMMAND POSITIONALS [--opt VALUE] [--a | --b]``."""

    command: str
    positionals: list[str] = field(default_factory=list)  # as written: CASSETTE, CASSETTE...
    values: dict[str, str | None] = field(default_factory=dict)  # option -> VALUE or None
    alternatives: list[set[str]] = field(default_factory=list)  # [--a | --b]: {--a, --b}
    bare: set[str] = field(default_factory=set)  # options outside brackets
    either: set[str] = field(default_factory=set)  # positionals and options in `X | Y`


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split():
        head = word.lstrip("[")
        out += ["["] * (len(word) - len(head))
        body = head.rstrip("]")
        if body:
            out.append(body)
        out += ["]"] * (len(head) - len(body))
    return out


def parse_synopsis(line: str) -> Synopsis:
    """The synopsis of one command (brackets one deep, `` | `` between alternatives)."""
    prog, command, *rest = line.split(None, 2)
    assert prog == DISTRIBUTION, f"{line!r}: a synopsis line starts with {DISTRIBUTION}"
    parsed = Synopsis(command)
    tokens = _tokens(rest[0] if rest else "")
    group: list[set[str]] | None = None  # the alternatives of the open bracket
    top: list[set[str]] = [set()]  # the alternatives outside brackets
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "[":
            assert group is None, f"{line!r}: nested brackets"
            group = [set()]
        elif token == "]":
            assert group is not None, f"{line!r}: ']' without '['"
            if len(group) > 1:
                parsed.alternatives.append(set().union(*group))
            group = None
        elif token == "|":
            (group if group is not None else top).append(set())
        elif token.startswith("-"):
            value = None
            if i < len(tokens) and tokens[i] not in "[]|" and not tokens[i].startswith("-"):
                value = tokens[i]
                i += 1
            assert token not in parsed.values, f"{line!r}: {token} twice"
            parsed.values[token] = value
            (group if group is not None else top)[-1].add(token)
            if group is None:
                parsed.bare.add(token)
        else:
            assert group is None, f"{line!r}: positional {token} in brackets"
            parsed.positionals.append(token)
            top[-1].add(token)
    assert group is None, f"{line!r}: '[' never closed"
    if len(top) > 1:
        parsed.either = set().union(*top)
    return parsed


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def synopsis_problems(synopsis: Synopsis, parser: argparse.ArgumentParser) -> list[str]:
    """Where one synopsis line and its command's parser disagree (empty: they agree)."""
    name = synopsis.command
    problems: list[str] = []
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    positionals = [a for a in actions if not a.option_strings]
    shown = [p.removesuffix("...") for p in synopsis.positionals]
    wanted = [str(a.metavar or a.dest).upper() for a in positionals]
    if shown != wanted:
        problems.append(f"{name}: positionals {synopsis.positionals}, the parser takes {wanted}")
    for token, action in zip(synopsis.positionals, positionals, strict=False):
        many = action.nargs in ("+", "*")
        if token.endswith("...") != many:
            problems.append(f"{name}: {token} but the parser's nargs is {action.nargs!r}")
        if action.nargs == "*" and token not in synopsis.either:
            problems.append(f"{name}: {token} is optional (nargs '*'): write `{token} | ...`")
    options = [a for a in actions if a.option_strings]
    by_string = {s: a for a in options for s in a.option_strings}
    for option in synopsis.values:
        if option not in by_string:
            problems.append(f"{name}: {option} is not an option of `{DISTRIBUTION} {name}`")
    for action in options:
        documented = [s for s in action.option_strings if s in synopsis.values]
        if len(documented) != 1:
            which = "/".join(action.option_strings)
            which = f"one of {which}" if len(action.option_strings) > 1 else which
            problems.append(
                f"{name}: the synopsis must show {which} (shows {documented or 'none'})"
            )
            continue
        [option] = documented
        value = synopsis.values[option]
        if action.nargs == 0:
            if value is not None:
                problems.append(f"{name}: {option} is a flag, shown with a value {value!r}")
        elif value is None:
            problems.append(f"{name}: {option} takes a value, shown without one")
        elif action.choices is not None:
            choices = "|".join(str(c) for c in action.choices)
            if value != choices:
                problems.append(f"{name}: {option} {value}: the choices are {choices}")
        elif action.metavar is not None and value != action.metavar:
            problems.append(f"{name}: {option} {value}: the parser's help says {action.metavar}")
        elif not re.fullmatch(r"[A-Z][A-Z0-9_=]*", value):
            problems.append(f"{name}: {option} {value}: a value is a name in capitals")
        if option in synopsis.bare and not (action.required or option in synopsis.either):
            problems.append(f"{name}: {option} is optional: show it in brackets")
    for group in parser._mutually_exclusive_groups:
        strings = {s for a in group._group_actions for s in a.option_strings}
        together = strings & set(synopsis.values)
        if len(together) > 1 and together not in synopsis.alternatives:
            problems.append(
                f"{name}: {' and '.join(sorted(together))} exclude each other: "
                f"show them as [{' | '.join(sorted(together))}]"
            )
    exclusive = [
        {s for a in g._group_actions for s in a.option_strings if s in synopsis.values}
        for g in parser._mutually_exclusive_groups
    ]
    for alternative in synopsis.alternatives:
        if alternative not in exclusive:
            problems.append(
                f"{name}: [{' | '.join(sorted(alternative))}]: the parser does not make them "
                "exclude each other"
            )
    return problems


def test_the_cli_synopsis_is_the_parsers(request: pytest.FixtureRequest) -> None:
    block = checked_block(request)
    commands = _commands(_parser(DISTRIBUTION))
    lines = [line for line in block.text.splitlines() if line.strip()]
    synopses = [parse_synopsis(line) for line in lines]
    assert [s.command for s in synopses] == list(commands), (
        f"{block.where}: one line per command, in the order `{DISTRIBUTION} --help` lists them"
    )
    problems = [p for s in synopses for p in synopsis_problems(s, commands[s.command])]
    assert not problems, f"{block.where}: the synopsis differs from the parser:\n  " + "\n  ".join(
        problems
    )


def test_the_synopsis_check_catches_drift() -> None:
    replay = _commands(_parser(DISTRIBUTION))["replay"]
    good = (
        "realtime-harness replay CASSETTE [--client raw|transport] [--speed S] "
        "[--timeout SECONDS] [--quiet] [--redact-path NAME=PATH] [--redact-pattern NAME=REGEX]"
    )
    assert synopsis_problems(parse_synopsis(good), replay) == []
    drifted = {
        good.replace(" [--quiet]", ""): "must show one of --quiet/-q (shows none)",
        good + " [--loud]": "--loud is not an option of `realtime-harness replay`",
        good.replace("raw|transport", "raw"): "--client raw: the choices are raw|transport",
        good.replace("[--speed S]", "[--speed]"): "--speed takes a value, shown without one",
        good.replace("[--quiet]", "[--quiet Q]"): "--quiet is a flag, shown with a value 'Q'",
        good.replace("--speed S", "--speed X"): "--speed X: the parser's help says S",
        good.replace("CASSETTE", "FILE"): "positionals ['FILE'], the parser takes ['CASSETTE']",
        good.replace("CASSETTE", "CASSETTE..."): "CASSETTE... but the parser's nargs is None",
        good.replace("[--quiet]", "--quiet"): "--quiet is optional: show it in brackets",
        good.replace("[--speed S] [--timeout SECONDS]", "[--speed S | --timeout SECONDS]"): (
            "the parser does not make them exclude each other"
        ),
    }
    for line, problem in drifted.items():
        assert problem in "\n".join(synopsis_problems(parse_synopsis(line), replay)), line
    inspect = _commands(_parser(DISTRIBUTION))["inspect"]
    apart = "realtime-harness inspect CASSETTE [--json] [--html OUT] [--gap SECONDS]"
    assert synopsis_problems(parse_synopsis(apart), inspect) == [
        "inspect: --html and --json exclude each other: show them as [--html | --json]"
    ]


# -- `record`: what it prints while it listens ---------------------------------------------------


async def test_record_prints_where_clients_connect(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    block = checked_block(request)
    # the command of step 1 as pasted, on a free port, relaying to a simulated API
    [line] = [line for line in _block_before(block).text.splitlines() if " record " in line]
    argv = shlex.split(line, comments=True)
    assert argv[:4] == ["python", "-m", "harness", "record"] and argv[-2:] == ["--port", "8765"]
    (tmp_path / "cassettes").mkdir()
    async with FakeRealtimeServer.simulate() as upstream:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv[1:-1],
            "0",
            "--upstream",
            upstream.url,
            cwd=tmp_path,
            env=_child_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(WAIT):
                printed = [(await proc.stdout.readline()).decode() for _ in range(4)]
                port = re.search(r"ws://127\.0\.0\.1:(\d+)/", printed[1])
                assert port, printed
                assert_sample(block, "".join(printed).replace(f":{port[1]}/", ":8765/"))
                url = printed[1].removeprefix("connect clients to ").strip()
                headers = {"Authorization": f"Bearer {FAKE_KEY}"}
                async with connect(url, additional_headers=headers) as ws:  # a client, recorded
                    assert json.loads(await ws.recv())["type"] == "session.created"
                    await ws.send(json.dumps({"type": "response.create"}))
                    while json.loads(await ws.recv())["type"] != "response.done":
                        pass
                proc.send_signal(signal.SIGINT)  # Ctrl-C
                out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    # what the README says next: it writes the cassette, says so and exits 0
    assert (proc.returncode, out.decode(), err.decode()) == (
        0,
        "recorded 1 connection(s) to cassettes/greeting.jsonl\n",
        "",
    ), err.decode()
    recorded = load_cassette(tmp_path / "cassettes" / "greeting.jsonl")
    sent = [f.event_type for f in recorded.frames if f.side is Side.CLIENT and f.event]
    assert sent == ["response.create"]
    assert FAKE_KEY not in (tmp_path / "cassettes" / "greeting.jsonl").read_text()


# -- a mismatch, as the server reports it ---------------------------------------------------------


async def test_a_replay_mismatch_reads_like_the_readme(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = checked_block(request)
    monkeypatch.chdir(ROOT)  # the report names the cassette as it was given
    cassette = Path("cassettes") / "text_turn.jsonl"
    sent = [f.event for f in load_cassette(cassette).frames if f.side is Side.CLIENT and f.event]
    async with FakeRealtimeServer(cassette) as server:
        headers = {"Authorization": f"Bearer {FAKE_KEY}"}
        async with asyncio.timeout(WAIT), connect(server.url, additional_headers=headers) as ws:
            for event in sent:  # the recorded session, asking about Germany
                text = json.dumps(event)
                await ws.send(text.replace("capital of France", "capital of Germany"))
                if event["type"] == "conversation.item.create":
                    break
            while json.loads(await ws.recv())["type"] != "error":
                pass
    [mismatch] = server.mismatches
    assert_sample(block, mismatch.report)


# -- the pytest plugin's HTML reports -----------------------------------------------------------

CONTRACT_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

# A passing replay (the recorded session, driven in causal order) and a failing one (the
# same session asking about Germany), each on its own copy of cassettes/text_turn.jsonl.
CONTRACT = """
import asyncio
import json
from pathlib import Path

from websockets.asyncio.client import connect

from harness import load_cassette
from harness.cassette import Side
from harness.drivers import drive_raw

CASSETTE = Path(__file__).parent / "cassettes" / "test_contract" / "test_turn.jsonl"


async def test_capital(realtime_server):
    await drive_raw(realtime_server, realtime_server.cassette, lambda entry: None, 10)


async def test_turn(realtime_server):
    sent = [f.event for f in load_cassette(CASSETTE).frames if f.side is Side.CLIENT and f.event]
    headers = {"Authorization": "Bearer test-key"}
    async with asyncio.timeout(10), connect(realtime_server.url, additional_headers=headers) as ws:
        for event in sent:
            await ws.send(json.dumps(event).replace("capital of France", "capital of Germany"))
            if event["type"] == "conversation.item.create":
                break
        while json.loads(await ws.recv())["type"] != "error":
            pass
"""

FAILING = "tests-test_contract.py-test_turn.html"
PASSING = "tests-test_contract.py-test_capital.html"
README_BASETEMP = "/tmp/pytest-of-you/pytest-12"  # what the README shows for pytest's base temp


@pytest.fixture
def contract(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with ``tests/test_contract.py``: ``test_capital`` passes, ``test_turn`` fails."""
    monkeypatch.setenv("PYTHONPATH", _child_env()["PYTHONPATH"])
    pytester.makeini(CONTRACT_INI)
    cassettes = pytester.path / "tests" / "cassettes" / "test_contract"
    cassettes.mkdir(parents=True)
    for name in ("test_capital", "test_turn"):
        (cassettes / f"{name}.jsonl").write_bytes(
            (ROOT / "cassettes" / "text_turn.jsonl").read_bytes()
        )
    (pytester.path / "tests" / "test_contract.py").write_text(CONTRACT, encoding="utf-8")
    return pytester


def _run_contract(project: pytest.Pytester, *options: str) -> pytest.RunResult:
    """``pytest OPTIONS`` in the project, its base temporary directory ``basetemp/``."""
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--basetemp={project.path / 'basetemp'}", *options, timeout=120
    )
    result.assert_outcomes(passed=1, failed=1)
    return result


def _failure(lines: list[str], test: str) -> str:
    """The failure section of ``test`` in pytest's output, without its header."""
    start = lines.index(next(line for line in lines if re.fullmatch(rf"_+ {test} _+", line)))
    section: list[str] = []
    for line in lines[start + 1 :]:
        if re.fullmatch(r"([=_-])\1+ .* \1+", line) or line.startswith("realtime-harness: "):
            break
        section.append(line)
    return "\n".join(section).rstrip() + "\n"


def test_a_failing_contract_ends_with_its_report_as_the_readme_shows(
    request: pytest.FixtureRequest, contract: pytest.Pytester
) -> None:
    block = checked_block(request)
    result = _run_contract(contract)
    failure = _failure(result.stdout.lines, "test_turn")
    assert_sample(block, failure.replace(str(contract.path / "basetemp"), README_BASETEMP))
    report = contract.path / "basetemp" / "realtime-reports" / FAILING
    assert "<title>tests/test_contract.py::test_turn: FAILED" in report.read_text(encoding="utf-8")


def test_each_report_option_does_what_the_readme_says(
    request: pytest.FixtureRequest, contract: pytest.Pytester
) -> None:
    block = checked_block(request)
    default = contract.path / "basetemp" / "realtime-reports"  # as --basetemp names it
    effects: dict[tuple[str, ...], tuple[Path | None, set[str]]] = {
        ("--realtime-report=failed",): (default, {FAILING}),
        ("--realtime-report=all",): (default, {FAILING, PASSING}),
        ("--realtime-report=off",): (None, set()),
        ("--realtime-report-dir=reports",): (Path("reports"), {FAILING}),
    }
    runs = [shlex.split(line, comments=True) for line in block.text.splitlines() if line.strip()]
    assert all(argv[0] == "pytest" for argv in runs), block.text
    assert [tuple(argv[1:]) for argv in runs] == list(effects), (
        f"{block.where}: each line's effect is checked here; a new line needs its own"
    )
    assert "# the default" in block.text.splitlines()[0]
    for options in [*effects, ()]:  # () : no option is --realtime-report=failed
        folder, written = effects.get(options, effects[("--realtime-report=failed",)])
        for old in ("basetemp", "reports"):
            shutil.rmtree(contract.path / old, ignore_errors=True)
        result = _run_contract(contract, *options)
        output = result.stdout.str()
        everywhere = {p.name for p in contract.path.rglob("*.html")}
        assert everywhere == written, (options, output)
        if folder is None:
            assert "HTML report" not in output, output
            continue
        assert {p.name for p in (contract.path / folder).glob("*.html")} == written
        summary = f"realtime-harness: {len(written)} HTML report{'s' * (len(written) > 1)} in "
        assert f"{summary}{folder}" in result.stdout.lines, output  # as the option names it
        assert f"HTML report: {folder / FAILING}" in result.stdout.lines, output


# -- the conformance suite's commands ------------------------------------------------------------


def _run_here(argv: list[str]) -> tuple[int, str]:
    """``argv`` in the checkout (as the README's commands run), bounded; status and output."""
    env = {k: v for k, v in _child_env().items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.node
def test_the_conformance_commands_run(request: pytest.FixtureRequest) -> None:
    block = checked_block(request)
    suite_line, one_line = [
        shlex.split(line, comments=True) for line in block.text.splitlines() if line.strip()
    ]
    # the venv the README's install creates (.ci/run's too); here, this interpreter
    assert suite_line[:3] == [".venv/bin/python", "-m", "pytest"] and len(suite_line) == 4
    assert one_line[0] == ".venv/bin/python" and one_line[2:] == ["NAME"]
    suite, runner = ROOT / suite_line[3], ROOT / one_line[1]
    assert suite.is_dir() and runner.is_file(), block.text
    scenarios = {  # name (the file's, unless it says another) -> scenario
        scenario.get("name", path.stem): scenario
        for path in sorted((suite / "scenarios").glob("*.json"))
        if not path.name.startswith("_")
        for scenario in [json.loads(path.read_text(encoding="utf-8"))]
    }
    # "all scenarios, both sides": pytest collects one test per scenario from that path
    status, output = _run_here(
        [sys.executable, "-m", "pytest", str(suite_line[3]), "--collect-only", "-q"]
    )
    assert status == 0, output
    collected = set(re.findall(r"::test_scenario\[(\w+)\]", output))
    assert collected == set(scenarios), output
    # "one scenario, with a diff": NAME is a scenario's name; it runs both sides
    reason = None if shutil.which("node") and shutil.which("npm") else "node or npm is absent"
    if reason is not None:
        pytest.skip(f"{block.where}: `conformance_runner.py NAME` runs node: {reason}")
    name = next(name for name, scenario in scenarios.items() if not scenario.get("deviation"))
    status, output = _run_here([sys.executable, one_line[1], name])
    assert (status, output.splitlines()[-1]) == (0, f"{name}: same"), output
