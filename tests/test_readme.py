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
  matching any run of characters.
- ```json / ```jsonl: parsed; a JSONL block that starts with a cassette header is read by the
  cassette reader.
- ``<!-- readme: skip REASON -->``: not run, skipped with the reason.
  ``<!-- readme: repo -->``: run in a copy of the repository's tracked files (``git
  ls-files``) instead of a fresh project, for the commands a newcomer runs in a clone.
- Any other block (```js, ```text without ``output``, no language) is shown, not run: it is
  skipped with that reason, so the summary lists it.
"""

from __future__ import annotations

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

from harness.cassette import load_cassette

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"
SHELLS = frozenset({"sh", "bash", "console", "shell"})
RUN_TIMEOUT = 60.0  # a block here takes a few seconds; a server waiting for Ctrl-C, forever
REPO_TIMEOUT = 600.0  # creates a venv and installs the package: about 25 s here
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^`]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*readme:\s*(?P<body>.*?)\s*-->\s*$")
_EXITS = re.compile(r"#\s*exits\s+(?P<code>\d+)\s*$")


class ReadmeError(ValueError):
    """The README breaks the convention; the message names its line."""


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block: where it starts, its language, its text and its directives."""

    lineno: int
    lang: str
    text: str
    directives: tuple[str, ...]
    output: Block | None = None

    @property
    def where(self) -> str:
        return f"README.md:{self.lineno}"

    def directive(self, name: str) -> str | None:
        """The argument of directive ``name`` ("" if it takes none), or None if absent."""
        for directive in self.directives:
            word, _, rest = directive.partition(" ")
            if word == name:
                return rest.strip()
        return None


@dataclass(frozen=True, slots=True)
class Command:
    """One shell command: its README line, its text, the exit status it must have."""

    lineno: int
    text: str
    status: int


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with the ``<!-- readme: ... -->`` lines right before it.

    A text block marked ``output`` is attached to the block before it (``Block.output``).

    Raises:
        ReadmeError: an unclosed fence, an unknown directive, an output block not right after
            a block that runs, or an output block with no fence after it.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    last_end = -1  # index of the closing fence of the previous block
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            if _DIRECTIVE.match(lines[i]) and not _directive_before_fence(lines, i):
                raise ReadmeError(
                    f"README.md:{i + 1}: a readme directive must be right before a fence"
                )
            i += 1
            continue
        indent, fence, lang = opening["indent"], opening["fence"], opening["lang"].lower()
        directives: list[str] = []
        j = i - 1
        while j >= 0 and (match := _DIRECTIVE.match(lines[j])):
            directives.insert(0, match["body"])
            j -= 1
        for directive in directives:
            if directive.split(" ", 1)[0] not in ("file", "output", "skip", "repo"):
                raise ReadmeError(f"README.md:{i + 1}: unknown readme directive {directive!r}")
        body: list[str] = []
        k = i + 1
        while k < len(lines) and not _closes(lines[k], fence):
            body.append(lines[k][len(indent) :] if lines[k].startswith(indent) else lines[k])
            k += 1
        if k == len(lines):
            raise ReadmeError(f"README.md:{i + 1}: the code block is never closed")
        block = Block(i + 1, lang, "\n".join(body) + "\n", tuple(directives))
        if block.directive("output") is not None:
            between = lines[last_end + 1 : j + 1]
            if not blocks or any(line.strip() for line in between) or not _runs(blocks[-1]):
                raise ReadmeError(
                    f"{block.where}: an output block must come right after the shell or python "
                    "block whose output it is"
                )
            blocks[-1] = Block(
                blocks[-1].lineno, blocks[-1].lang, blocks[-1].text, blocks[-1].directives, block
            )
        else:
            blocks.append(block)
        last_end = k
        i = k + 1
    return blocks


def _directive_before_fence(lines: list[str], i: int) -> bool:
    while i < len(lines) and _DIRECTIVE.match(lines[i]):
        i += 1
    return i < len(lines) and _FENCE.match(lines[i]) is not None


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _runs(block: Block) -> bool:
    return block.directive("file") is None and (block.lang in SHELLS or block.lang == "python")


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
    kind: str  # "run", "ci", "file", "json", "skip"
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


def output_matches(expected: str, actual: str) -> bool:
    want = [line.rstrip() for line in expected.rstrip("\n").splitlines()]
    got = [line.rstrip() for line in actual.rstrip("\n").splitlines()]
    if len(want) != len(got):
        return False
    for pattern, line in zip(want, got, strict=True):
        regex = ".*".join(re.escape(part) for part in pattern.split("…"))
        if re.fullmatch(regex, line) is None:
            return False
    return True


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
    runs = [b for b in BLOCKS if b.lineno > contract.lineno and b.lang in SHELLS and _runs(b)]
    assert any(
        "python -m pytest" in c.text and "tests/test_example_contract.py" in c.text
        for b in runs[:1]
        for c in commands(b)
    ), "the shell block after the contract must run it"
    # one source of truth: the repository holds no second copy that could drift
    assert not (ROOT / "tests" / "test_example_contract.py").exists()


def test_the_readme_contract_catches_a_fahrenheit_regression_with_the_diff_it_shows(
    pytester: pytest.Pytester,
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
    sample = next(b for b in BLOCKS if b.lineno > contract.lineno and "does not match" in b.text)
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

    with pytest.raises(ReadmeError, match=r"README.md:2: unknown readme directive 'fiel x'"):
        parse_blocks("<!-- readme: fiel x -->\n```python\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:3: an output block must come right after"):
        parse_blocks("text\n<!-- readme: output -->\n```text\nhi\n```\n")
    with pytest.raises(ReadmeError, match=r"README.md:1: the code block is never closed"):
        parse_blocks("```sh\necho\n")
    with pytest.raises(ReadmeError, match=r"README.md:1: a readme directive must be right before"):
        parse_blocks("<!-- readme: skip x -->\n\n```sh\n```\n")
