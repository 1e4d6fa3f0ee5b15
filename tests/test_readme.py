"""Every fenced code block of README.md, run the way the README promises it runs.

The convention (CONTRIBUTING.md, "README code blocks"), in short:

- ```sh / ```bash / ```console / ```shell: each line is a shell command, run in order in one
  ``bash`` (so ``cd`` and ``export`` carry over), in a fresh temporary project holding a copy
  of ``cassettes/`` and every earlier ``file`` block, with this venv's ``python`` and
  ``realtime-harness`` first on ``PATH`` and no ``OPENAI_API_KEY``. Each line must exit 0, or
  N where it ends with ``# exits N``. A line found verbatim in ``.ci/run`` is what CI runs (the
  README's test command): the test checks it is there instead of running it again.
- ```python: run as a script (``python block.py``) there; ``<!-- readme: file PATH -->``
  instead writes it to PATH for later blocks (checked to compile).
- ```text preceded by ``<!-- readme: output -->`` right after a shell (or python) block: that
  block's expected output, stdout and stderr as a terminal shows them, line by line, ``…``
  matching any run of characters (and a line ``...`` alone, any run of lines).
- ```json / ```jsonl: parsed; a JSONL block that starts with a cassette header is read by the
  cassette reader.
- ``<!-- readme: skip REASON -->``: not run, skipped with the reason.
  ``<!-- readme: repo -->``: run in a copy of the repository's tracked files (``git
  ls-files``) instead of a fresh project, for the commands a newcomer runs in a clone.
- ``<!-- readme: checked-by tests/FILE.py::test_name -->`` (one line per test): another test
  checks the block as pasted (a sample it produces with the real code, a JS snippet it runs
  under node, a synopsis it compares with the parser). It is not run here; its case passes
  once each named test exists (``ast``) and reads README.md: it, or a module-level function
  or fixture it uses, calls ``checked_block(s)`` (``tests/_readme_blocks.py``: the blocks
  whose directive names the calling test) or ``recipe_block(LANG, NEEDLE)`` finding this
  block.
- Any other block (```js, ```text without ``output``, no language) is shown, not run: it is
  skipped with that reason, so the summary lists it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _readme_blocks import (
    README,
    ROOT,
    SHELLS,
    Block,
    ReadmeError,
    checked_block,
    is_run,
    output_matches,
    parse_blocks,
)

from harness.cassette import load_cassette

pytest_plugins = ["pytester"]

CI_SCRIPT = ROOT / ".ci" / "run"
RUN_TIMEOUT = 60.0  # a block here takes a few seconds; a server waiting for Ctrl-C, forever
REPO_TIMEOUT = 600.0  # creates a venv and installs the package: about 25 s here
_EXITS = re.compile(r"#\s*exits\s+(?P<code>\d+)\s*$")
# What a checked-by test calls to read its block from README.md (the test, or a module-level
# function or fixture it uses): the directive's own lookup, or the recipes' by content.
README_READERS = frozenset({"checked_blocks", "checked_block", "recipe_block"})


@dataclass(frozen=True, slots=True)
class Command:
    """One shell command: its README line, its text, the exit status it must have."""

    lineno: int
    text: str
    status: int


def commands(block: Block) -> list[Command]:
    """The block's shell commands: ``\\`` continues a line; blank and comment lines go."""
    found: list[Command] = []
    pending: list[str] = []
    start = 0
    for offset, line in enumerate(block.text.splitlines()):
        if not pending:
            start = block.lineno + 1 + offset
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        text = "\n".join(pending) if len(pending) == 1 else " ".join(p.strip() for p in pending)
        exits = _EXITS.search(text)
        found.append(Command(start, text.strip(), int(exits["code"]) if exits else 0))
        pending = []
    if pending:
        raise ReadmeError(f"README.md:{start}: the last command ends with a backslash")
    return found


def ci_lines() -> set[str]:
    return {line.strip() for line in CI_SCRIPT.read_text().splitlines() if line.strip()}


# -- what each block becomes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One test: a block (and, for a command CI runs, that command)."""

    block: Block
    kind: str  # "run", "ci", "file", "json", "checked", "skip"
    command: Command | None = None
    reason: str = ""

    @property
    def id(self) -> str:
        suffix = f"-line{self.command.lineno}" if self.command else ""
        return f"{self.block.where}-{self.block.lang or 'plain'}-{self.kind}{suffix}"


def cases(blocks: list[Block], ci: set[str]) -> Iterator[Case]:
    for block in blocks:
        skip = block.directive("skip")
        if skip is not None:
            yield Case(block, "skip", reason=f"{block.where}: not run: {skip or 'no reason'}")
        elif block.checked_by:
            yield Case(block, "checked")
        elif block.directive("file") is not None:
            yield Case(block, "file")
        elif block.lang in SHELLS:
            cmds = commands(block)
            for command in cmds:
                if command.text in ci:
                    yield Case(block, "ci", command)
            if any(c.text not in ci for c in cmds) or block.output is not None:
                yield Case(block, "run")
        elif block.lang == "python":
            yield Case(block, "run")
        elif block.lang in ("json", "jsonl"):
            yield Case(block, "json")
        else:
            shown = f"```{block.lang}" if block.lang else "a block without a language"
            if block.lang == "text":
                shown += " without <!-- readme: output -->"
            yield Case(block, "skip", reason=f"{block.where}: {shown} is shown, not run")


BLOCKS = parse_blocks(README.read_text(encoding="utf-8"))
CASES = list(cases(BLOCKS, ci_lines()))


# -- running a block -----------------------------------------------------------------------------


def fresh_project(root: Path, before: Block) -> Path:
    """A directory with a copy of ``cassettes/`` and every ``file`` block above ``before``."""
    shutil.copytree(ROOT / "cassettes", root / "cassettes")
    for block in BLOCKS:
        if block.lineno >= before.lineno:
            break
        target = block.directive("file")
        if target:
            path = root / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
    return root


def repo_copy(root: Path) -> Path:
    """The repository's tracked files (``git ls-files``), as a fresh clone has them."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"a repo block needs a git checkout to copy ({exc})", pytrace=False)
    for name in listed.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def environment() -> dict[str, str]:
    """The user's shell: this venv first on PATH, no API key, no outer pytest settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        and not key.startswith("PYTEST_")
    }
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_bounded(argv: list[str], cwd: Path, timeout: float, where: str) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr merged; on timeout kill its whole process group."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as process:
        try:
            out, _ = process.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
            timed_out = True
    text = out.decode("utf-8", "replace")
    if timed_out:
        pytest.fail(
            f"{where}: still running after {timeout:g} s (killed); output so far:\n{text}",
            pytrace=False,
        )
    return process.returncode, text


def run_shell(block: Block, cwd: Path, ci: set[str], timeout: float) -> str:
    """Run the block's commands in one bash, in order; fail naming the first that misbehaved."""
    status_file = cwd.parent / f"status-{block.lineno}"
    script = [f"exec 3>{shlex.quote(str(status_file))}"]
    todo = [c for c in commands(block) if c.text not in ci]
    for command in todo:
        script.append(command.text)
        script.append(
            f'__readme_status=$?; echo "{command.lineno} $__readme_status" >&3; '
            f'[ "$__readme_status" -eq {command.status} ] || exit 97'
        )
    _, output = run_bounded(["bash", "-c", "\n".join(script)], cwd, timeout, block.where)
    statuses = dict(
        (int(n), int(s)) for n, s in (line.split() for line in status_file.read_text().splitlines())
    )
    for command in todo:
        got = statuses.get(command.lineno)
        if got != command.status:
            what = "did not finish" if got is None else f"exited {got}"
            pytest.fail(
                f"README.md:{command.lineno}: `{command.text}` {what} (expected "
                f"{command.status}); its block's output:\n{output}",
                pytrace=False,
            )
    return output


def check_output(block: Block, output: str) -> None:
    if block.output is None:
        return
    if not output_matches(block.output.text, output):
        pytest.fail(
            f"{block.output.where}: the output of the block at {block.where} differs.\n"
            f"--- expected (README, … matches anything)\n{block.output.text}"
            f"--- received\n{output}",
            pytrace=False,
        )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_readme_block(case: Case, tmp_path: Path) -> None:
    block = case.block
    if case.kind == "skip":
        pytest.skip(case.reason)
    if case.kind == "ci":
        assert case.command is not None
        assert case.command.text in ci_lines(), (
            f"README.md:{case.command.lineno}: `{case.command.text}` must be a line of .ci/run"
        )
        pytest.skip(
            f"README.md:{case.command.lineno}: `{case.command.text}` runs this very suite: "
            ".ci/run runs it verbatim (checked), so it is not run again here"
        )
    if case.kind == "checked":
        for target in block.checked_by:
            check_checked_by(block, target)
        return
    if case.kind == "file":
        check_file(block)
        return
    if case.kind == "json":
        check_json(block, tmp_path)
        return
    if block.directive("repo") is not None:
        cwd = repo_copy(tmp_path / "repo")
        timeout = REPO_TIMEOUT
    else:
        cwd = fresh_project(tmp_path / "project", block)
        timeout = RUN_TIMEOUT
    if block.lang == "python":
        (cwd / "block.py").write_text(block.text, encoding="utf-8")
        status, output = run_bounded([sys.executable, "block.py"], cwd, timeout, block.where)
        if status != 0:
            pytest.fail(
                f"{block.where}: `python block.py` exited {status}:\n{output}", pytrace=False
            )
    else:
        output = run_shell(block, cwd, ci_lines(), timeout)
    check_output(block, output)


def check_file(block: Block) -> None:
    """A ``file`` block: it must at least compile (or parse); later blocks run it."""
    target = block.directive("file") or ""
    if not target:
        pytest.fail(f"{block.where}: <!-- readme: file PATH --> needs a PATH", pytrace=False)
    try:
        if target.endswith(".py"):
            compile(block.text, f"{block.where} ({target})", "exec")
        elif target.endswith(".toml"):
            tomllib.loads(block.text)
        elif target.endswith(".json"):
            json.loads(block.text)
        return
    except (SyntaxError, ValueError) as exc:
        problem = str(exc)
    pytest.fail(f"{block.where}: {target} does not parse: {problem}", pytrace=False)


def check_checked_by(block: Block, target: str, root: Path = ROOT) -> None:
    """The test ``checked-by`` names exists and reads the README (through its block helpers).

    The test, or a module-level function or fixture it uses, must call one of
    :data:`README_READERS`; where it finds a block by content (``recipe_block(LANG,
    NEEDLE)``), the call must find this block. Running the test is the test's own business.
    """
    where = f"{block.where}: checked-by {target}"
    path_text, _, qualname = target.partition("::")
    path = root / path_text
    if not path.is_file() or not path.name.startswith("test_"):
        pytest.fail(f"{where}: there is no test module {path_text}", pytrace=False)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    function = _find_test(tree, qualname.split("::"))
    if function is None:
        pytest.fail(f"{where}: {path_text} defines no test {qualname}", pytrace=False)
    calls = _reader_calls(tree, function)
    if not calls:
        pytest.fail(
            f"{where}: {qualname} does not read README.md: it (or a function or fixture of its "
            f"module it uses) must call one of {', '.join(sorted(README_READERS))}",
            pytrace=False,
        )
    by_content = [args for args in calls if len(args) == 2]
    if by_content and not any(
        lang == block.lang and needle in block.text for lang, needle in by_content
    ):
        pytest.fail(
            f"{where}: {qualname} reads other blocks ({by_content}), not this ```{block.lang} one",
            pytrace=False,
        )


_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _find_test(tree: ast.Module, names: list[str]) -> _Function | None:
    scope: list[ast.stmt] = tree.body
    for depth, name in enumerate(names):
        last = depth == len(names) - 1
        found = [
            node
            for node in scope
            if isinstance(node, (_Function if last else ast.ClassDef)) and node.name == name
        ]
        if not found:
            return None
        if last:
            function = found[0]
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            return function if name.startswith("test") else None
        scope = found[0].body
    return None


def _reader_calls(tree: ast.Module, function: _Function) -> list[tuple[str, ...]]:
    """The README reader calls ``function`` makes, itself or through the module's own names.

    Each is its literal string arguments (``("js", "process.env")`` for ``recipe_block``).
    """
    defined: dict[str, ast.AST] = {}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined[statement.name] = statement
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defined[target.id] = statement
    calls: list[tuple[str, ...]] = []
    seen: set[int] = set()
    todo: list[ast.AST] = [function]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        used = [a.arg for a in node.args.args] if isinstance(node, _Function) else []
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                callee = child.func
                called = callee.attr if isinstance(callee, ast.Attribute) else None
                called = callee.id if isinstance(callee, ast.Name) else called
                if called in README_READERS:
                    calls.append(
                        tuple(
                            a.value
                            for a in child.args
                            if isinstance(a, ast.Constant) and isinstance(a.value, str)
                        )
                    )
            if isinstance(child, ast.Name):
                used.append(child.id)
        todo.extend(defined[name] for name in used if name in defined)
    return calls


def check_json(block: Block, tmp_path: Path) -> None:
    """A JSON block parses; a JSONL block parses line by line, and a cassette reads."""
    lines = block.text.splitlines() if block.lang == "jsonl" else [block.text]
    values = []
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
            continue
        except ValueError as exc:
            problem = str(exc)
        where = block.lineno + 1 + offset if block.lang == "jsonl" else block.lineno
        pytest.fail(f"README.md:{where}: not JSON: {problem}", pytrace=False)
    first = values[0] if values else None
    if isinstance(first, dict) and first.get("format") == "realtime-harness-cassette":
        path = tmp_path / "block.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        load_cassette(path)  # raises CassetteError naming the line


# -- the README's own promises -------------------------------------------------------------------


def _block(target: str) -> Block:
    found = [b for b in BLOCKS if b.directive("file") == target]
    assert len(found) == 1, f"README.md has {len(found)} blocks written to {target}"
    return found[0]


def test_the_example_contract_is_run_from_the_readme() -> None:
    contract = _block("tests/test_example_contract.py")
    runs = [b for b in BLOCKS if b.lineno > contract.lineno and b.lang in SHELLS and is_run(b)]
    assert any(
        "python -m pytest" in c.text and "tests/test_example_contract.py" in c.text
        for b in runs[:1]
        for c in commands(b)
    ), "the shell block after the contract must run it"
    # one source of truth: the repository holds no second copy that could drift
    assert not (ROOT / "tests" / "test_example_contract.py").exists()


def test_the_readme_contract_catches_a_fahrenheit_regression_with_the_diff_it_shows(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    contract = _block("tests/test_example_contract.py")
    assert contract.text.count('"temperature_c": 18') == 1
    broken = contract.text.replace('"temperature_c": 18', '"temperature_c": 64')  # Fahrenheit!
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_example_contract.py").write_text(broken, encoding="utf-8")
    (pytester.path / "cassettes").mkdir()
    shutil.copy(ROOT / "cassettes" / "function_call.jsonl", pytester.path / "cassettes")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)

    result.assert_outcomes(failed=1)  # once: no error at teardown
    result.stdout.no_fnmatch_line("*ERROR*")
    result.stdout.fnmatch_lines(["E * AssertionError: the API refused: *cassette_mismatch*"])
    # ... and beside it, the report the README shows, line for line
    sample = checked_block(request)  # the ```text block after the contract
    assert sample.lineno > contract.lineno
    result.stdout.re_match_lines(
        [re.escape(line) for line in sample.text.splitlines()], consecutive=True
    )


def test_the_convention_is_enforced_by_the_parser() -> None:
    parsed = parse_blocks(
        "\n".join(
            [
                "<!-- readme: file tests/x.py -->",
                "```python",
                "x = 1",
                "```",
                "",
                "```sh",
                "echo hi",
                "false  # exits 1",
                "echo a \\",
                "  b",
                "```",
                "<!-- readme: output -->",
                "```text",
                "hi",
                "a b",
                "```",
                "  ```js",
                "  indented();",
                "  ```",
            ]
        )
    )
    assert [(b.lineno, b.lang, b.directive("file")) for b in parsed] == [
        (2, "python", "tests/x.py"),
        (6, "sh", None),
        (17, "js", None),
    ]
    assert parsed[2].text == "indented();\n"
    assert parsed[1].output is not None and parsed[1].output.text == "hi\na b\n"
    assert commands(parsed[1]) == [
        Command(7, "echo hi", 0),
        Command(8, "false  # exits 1", 1),
        Command(9, "echo a b", 0),
    ]
    assert output_matches("took … s\nPASS", "took 0.12 s\nPASS")
    assert not output_matches("took … s", "took 0.12 s\nPASS")  # line counts differ
    assert not output_matches("PASS", "FAIL")
    assert output_matches("head\n  ...\ntail …", "head\n  a\n  b\ntail 7")  # ... = any lines
    assert output_matches("head\n...\ntail", "head\ntail")  # ... = none, too
    assert not output_matches("head\n...\ntail", "head\nmiddle")

    with pytest.raises(ReadmeError, match=r"README.md:2: unknown readme directive 'fiel x'"):
        parse_blocks("<!-- readme: fiel x -->\n```python\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:3: an output block must come right after"):
        parse_blocks("text\n<!-- readme: output -->\n```text\nhi\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:1: the code block is never closed"):
        parse_blocks("```sh\necho\n")
    with pytest.raises(ReadmeError, match=r"README.md:1: a readme directive must be right before"):
        parse_blocks("<!-- readme: skip x -->\n\n```sh\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:2: write <!-- readme: checked-by tests/"):
        parse_blocks("<!-- readme: checked-by test_x -->\n```text\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:3: a checked-by block .* takes no skip"):
        parse_blocks(
            "<!-- readme: checked-by tests/t.py::test_x -->\n<!-- readme: skip why -->\n"
            "```text\n```\n"
        )


def test_a_checked_by_block_names_a_test_that_reads_it(tmp_path: Path) -> None:
    [shown, recipe] = parse_blocks(
        "\n".join(
            [
                "<!-- readme: checked-by tests/test_t.py::test_sample -->",
                "<!-- readme: checked-by tests/test_t.py::Test::test_via_a_fixture -->",
                "```text",
                "PASS",
                "```",
                "<!-- readme: checked-by tests/test_t.py::test_recipe -->",
                "```js",
                "connect(url);",
                "```",
            ]
        )
    )
    assert shown.checked_by == (
        "tests/test_t.py::test_sample",
        "tests/test_t.py::Test::test_via_a_fixture",
    )
    assert [c.kind for c in cases([shown, recipe], set())] == ["checked", "checked"]
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_t.py").write_text(
        "\n".join(
            [
                "import pytest",
                "from _readme_blocks import assert_sample, checked_block",
                "from e2e._readme import recipe_block",
                "def _sample(request):",
                "    return checked_block(request)",
                "def test_sample(request):",
                "    assert_sample(_sample(request), 'PASS')",
                "@pytest.fixture",
                "def block(request):",
                "    return checked_block(request)",
                "class Test:",
                "    def test_via_a_fixture(self, block):",
                "        assert block",
                "def test_recipe():",
                "    assert recipe_block('js', 'connect(')",
                "def test_other_recipe():",
                "    assert recipe_block('js', 'fetch(')",
                "def test_blind():",
                "    assert 'PASS'",
            ]
        ),
        encoding="utf-8",
    )
    check_checked_by(shown, "tests/test_t.py::test_sample", tmp_path)
    check_checked_by(shown, "tests/test_t.py::Test::test_via_a_fixture", tmp_path)
    check_checked_by(recipe, "tests/test_t.py::test_recipe", tmp_path)
    failures = {
        "tests/test_nope.py::test_sample": "there is no test module tests/test_nope.py",
        "tests/test_t.py::test_missing": "tests/test_t.py defines no test test_missing",
        "tests/test_t.py::Test::test_sample": "defines no test Test::test_sample",
        "tests/test_t.py::block": "defines no test block",  # a fixture is no test
        "tests/test_t.py::test_blind": "test_blind does not read README.md",
        "tests/test_t.py::test_other_recipe": "reads other blocks",
    }
    for target, message in failures.items():
        block = recipe if "recipe" in target else shown
        with pytest.raises(pytest.fail.Exception, match=re.escape(message)):
            check_checked_by(block, target, tmp_path)
