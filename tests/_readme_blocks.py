"""README.md's fenced code blocks, parsed one way for every test that reads them.

``tests/test_readme.py`` runs the blocks by the convention (CONTRIBUTING.md, "README code
blocks"). A block another test checks as pasted says so with
``<!-- readme: checked-by tests/FILE.py::test_name -->``; that test reads it with
:func:`checked_blocks` (the blocks naming it) and compares what the real code printed with
:func:`assert_sample`. Import it as ``from _readme_blocks import ...`` (``tests/`` is on
``sys.path``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELLS = frozenset({"sh", "bash", "console", "shell"})
DIRECTIVES = ("file", "output", "skip", "repo", "checked-by")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^`]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*readme:\s*(?P<body>.*?)\s*-->\s*$")
_TEST_ID = re.compile(r"^tests/[\w/.-]+\.py(?:::\w+)+$")
_ELIDED = "..."  # a sample line alone: any run of lines (none included)


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

    @property
    def checked_by(self) -> tuple[str, ...]:
        """The tests (``tests/FILE.py::test_name``) its ``checked-by`` directives name."""
        return tuple(
            rest.strip()
            for word, _, rest in (d.partition(" ") for d in self.directives)
            if word == "checked-by"
        )


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with the ``<!-- readme: ... -->`` lines right before it.

    A text block marked ``output`` is attached to the block before it (``Block.output``).

    Raises:
        ReadmeError: an unclosed fence, an unknown directive, an output block not right after
            a block that runs, or an output block with no fence after it; a ``checked-by``
            that names no test, or that comes with a directive that runs or skips the block.
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
        _check_directives(directives, i + 1)
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
            if not blocks or any(line.strip() for line in between) or not is_run(blocks[-1]):
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


def _check_directives(directives: list[str], lineno: int) -> None:
    words = [directive.split(" ", 1)[0] for directive in directives]
    for directive, word in zip(directives, words, strict=True):
        if word not in DIRECTIVES:
            raise ReadmeError(f"README.md:{lineno}: unknown readme directive {directive!r}")
        if word == "checked-by" and not _TEST_ID.match(directive.partition(" ")[2].strip()):
            raise ReadmeError(
                f"README.md:{lineno}: write <!-- readme: checked-by tests/FILE.py::test_name -->"
                f", not {directive!r}"
            )
    others = sorted({w for w in words if w != "checked-by"})
    if "checked-by" in words and others:
        raise ReadmeError(
            f"README.md:{lineno}: a checked-by block is checked by that test instead of being "
            f"run here: it takes no {', '.join(others)}"
        )


def _directive_before_fence(lines: list[str], i: int) -> bool:
    while i < len(lines) and _DIRECTIVE.match(lines[i]):
        i += 1
    return i < len(lines) and _FENCE.match(lines[i]) is not None


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def is_run(block: Block) -> bool:
    """A shell or python block that is run (not written to a file)."""
    return block.directive("file") is None and (block.lang in SHELLS or block.lang == "python")


def output_matches(expected: str, actual: str) -> bool:
    """Line by line (trailing spaces ignored), ``…`` matching any run of characters.

    A line that is ``...`` alone matches any run of lines, none included (a sample that
    leaves out the middle of a long report).
    """
    want = [line.rstrip() for line in expected.rstrip("\n").splitlines()]
    got = [line.rstrip() for line in actual.rstrip("\n").splitlines()]
    return _lines_match(want, got)


def _lines_match(want: list[str], got: list[str]) -> bool:
    if not want:
        return not got
    if want[0].strip() == _ELIDED:
        return any(_lines_match(want[1:], got[skip:]) for skip in range(len(got) + 1))
    if not got:
        return False
    regex = ".*".join(re.escape(part) for part in want[0].split("…"))
    return re.fullmatch(regex, got[0]) is not None and _lines_match(want[1:], got[1:])


@functools.cache
def readme_blocks() -> tuple[Block, ...]:
    """README.md's blocks (parsed once per process)."""
    return tuple(parse_blocks(README.read_text(encoding="utf-8")))


def checker_id(request: pytest.FixtureRequest) -> str:
    """The requesting test as a ``checked-by`` directive names it: ``tests/F.py::[Class::]name``."""
    node = request.node
    assert isinstance(node, pytest.Function), node
    parts = [Path(node.path).resolve().relative_to(ROOT).as_posix()]
    if node.cls is not None:
        parts.append(node.cls.__name__)
    parts.append(node.originalname)
    return "::".join(parts)


def checked_blocks(request: pytest.FixtureRequest) -> list[Block]:
    """The README blocks whose ``checked-by`` names the requesting test; fails if none does."""
    me = checker_id(request)
    found = [block for block in readme_blocks() if me in block.checked_by]
    if not found:
        pytest.fail(f"no README.md block says <!-- readme: checked-by {me} -->", pytrace=False)
    return found


def checked_block(request: pytest.FixtureRequest) -> Block:
    """The one README block whose ``checked-by`` names the requesting test."""
    found = checked_blocks(request)
    if len(found) != 1:
        where = ", ".join(block.where for block in found)
        pytest.fail(f"{checker_id(request)} checks one README block, but {where} name it")
    return found[0]


def assert_sample(block: Block, actual: str) -> None:
    """``actual`` (what the real code printed) is the block's text, by :func:`output_matches`."""
    if not output_matches(block.text, actual):
        raise AssertionError(
            f"{block.where}: the README's sample differs from what the code prints.\n"
            f"--- README (… matches any characters, a line ... any lines)\n{block.text}"
            f"--- printed\n{actual.rstrip()}\n"
        )
