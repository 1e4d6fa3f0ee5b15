"""Redact an existing cassette in place, atomically: what ``realtime-harness redact`` does.

The recorder redacts before a byte reaches disk; a cassette written before a rule existed
(or by hand, or by another tool) is scrubbed here with the same rules
(:class:`~harness.redaction.RedactionRules`): every event (:meth:`redact_event`), binary
frame, close reason, and the header's endpoint query, client and note.

The file is rewritten beside itself (a temporary file in the same directory, flushed and
``fsync``-ed, then ``os.replace``-d over the original, and the directory ``fsync``-ed), so
a reader sees the old file or the new one, never half of either; on any error (a bad line,
a full disk, Ctrl-C) the temporary file is removed and the original is untouched. Lines no
rule touched are copied byte for byte. The header's ``redactions`` gains the names of the
rules that ran (the header lists the rules that ran, see :mod:`harness.redaction`).

The :class:`ScrubReport` counts the values replaced per rule; it never holds a secret.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from harness import _json
from harness._files import fsync_directory
from harness.cassette import Frame, Header, StrPath, encode_frame, parse_frame_line
from harness.errors import CassetteError, CassetteNotFound
from harness.redaction import RedactionRules, placeholder

__all__ = ["ScrubReport", "scrub_cassette"]


@dataclass(frozen=True, slots=True)
class ScrubReport:
    """What :func:`scrub_cassette` did to one file.

    Attributes:
        path: the cassette.
        replaced: values replaced, per rule name (only rules that fired).
        lines: the lines changed (the header counts as line 1).
        frames: the frames read.
        rewritten: whether the file was replaced (``False`` when nothing changed, or on a
            dry run).
    """

    path: str
    replaced: Mapping[str, int]
    lines: tuple[int, ...]
    frames: int
    rewritten: bool

    @property
    def total(self) -> int:
        """Values replaced, all rules together."""
        return sum(self.replaced.values())


def _count(before: bytes, after: bytes, names: tuple[str, ...], counts: dict[str, int]) -> None:
    for name in names:
        mark = placeholder(name).encode()
        added = after.count(mark) - before.count(mark)
        if added > 0:
            counts[name] = counts.get(name, 0) + added


def _scrub_frame(frame: Frame, rules: RedactionRules) -> Frame | None:
    """The frame with every rule applied, or ``None`` if no rule changed it."""
    if frame.event is not None:
        result = rules.redact_event(frame.event)
        if not result.fired or result.value == frame.event:
            return None
        return dataclasses.replace(frame, event=result.value)
    if frame.binary is not None:
        data = rules.redact_bytes(frame.binary)
        return dataclasses.replace(frame, binary=data.value) if data.fired else None
    text = rules.redact_text(frame.close_reason)
    return dataclasses.replace(frame, close_reason=text.value) if text.fired else None


def _scrub_header(header: Header, rules: RedactionRules) -> Header:
    query = rules.redact_query(list(header.query.items())).value
    names = tuple(dict.fromkeys((*header.redactions, *rules.names)))
    return dataclasses.replace(
        header,
        query=dict(query),
        client=rules.redact_text(header.client).value,
        note=rules.redact_text(header.note).value,
        redactions=names,
    )


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise CassetteNotFound(path) from None
    except IsADirectoryError:
        raise CassetteError(path, None, "is a directory, not a cassette file") from None
    with file:
        yield from enumerate(file, 1)


def scrub_cassette(
    path: StrPath, rules: RedactionRules | None = None, *, dry_run: bool = False
) -> ScrubReport:
    """Apply ``rules`` (default: :meth:`RedactionRules.default`) to the cassette at ``path``.

    Raises:
        CassetteNotFound, CassetteError: the file is missing or malformed (it is untouched).
        OSError: the directory cannot be written (the file is untouched).
    """
    rules = rules if rules is not None else RedactionRules.default()
    name = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(name))
    counts: dict[str, int] = {}
    changed: list[int] = []
    frames = 0
    tmp: IO[bytes] | None = None
    tmp_name = ""
    try:
        if not dry_run:
            tmp = tempfile.NamedTemporaryFile(
                "wb",
                dir=directory,
                prefix=f".{os.path.basename(name)}.",
                suffix=".redact",
                delete=False,
            )
            tmp_name = tmp.name
        header_seen = False
        for lineno, raw in _lines(name):
            if not raw.endswith(b"\n"):
                try:
                    _json.loads(raw)
                except _json.JSONDecodeError:  # refused, not scrubbed: the file is untouched
                    raise CassetteError(
                        name,
                        lineno,
                        "torn last line: it ends without a newline and is not complete JSON "
                        "(the writer was probably interrupted)",
                    ) from None
            if not header_seen:
                if not raw.strip():
                    out = raw
                else:
                    try:
                        header = Header.from_json(_json.loads(raw), path=name, lineno=lineno)
                    except _json.JSONDecodeError as exc:
                        raise CassetteError(name, lineno, f"not JSON: {exc}") from None
                    header_seen = True
                    new_header = _scrub_header(header, rules)
                    out = raw
                    if new_header != header:
                        out = _json.dumps(new_header.to_json()) + b"\n"
                        _count(raw, out, rules.names, counts)
                        changed.append(lineno)
            elif not raw.strip():
                out = raw
            else:
                frame = parse_frame_line(raw, path=name, lineno=lineno)
                frames += 1
                scrubbed = _scrub_frame(frame, rules)
                out = raw
                if scrubbed is not None:
                    out = encode_frame(scrubbed) + b"\n"
                    if frame.binary is not None and scrubbed.binary is not None:
                        _count(frame.binary, scrubbed.binary, rules.names, counts)
                    else:
                        _count(raw, out, rules.names, counts)
                    changed.append(lineno)
            if tmp is not None:
                tmp.write(out)
        if not header_seen:
            raise CassetteError(name, 1, "empty file: expected the cassette header line")
        rewritten = False
        if tmp is not None:
            tmp.flush()
            os.fsync(tmp.fileno())
            tmp.close()
            if changed:
                os.chmod(tmp_name, stat.S_IMODE(os.stat(name).st_mode))
                os.replace(tmp_name, name)
                tmp_name = ""
                fsync_directory(name)
                rewritten = True
    finally:
        if tmp is not None and not tmp.closed:
            tmp.close()
        if tmp_name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
    return ScrubReport(name, counts, tuple(changed), frames, rewritten)
