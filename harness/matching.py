"""Is this client frame the one the cassette expects? Rules, comparison and readable diffs.

A received client event matches a recorded one when, under :class:`MatchRules`:

1. their ``type`` is equal (compared first: a different type is one difference, at ``$.type``);
2. every other field is equal, recursively, except
   - fields at an *ignored* path (volatile values: ``event_id``, ids the client generates),
     which are skipped on both sides;
   - string fields at a *digest* path (audio), which are compared by SHA-256 of their text,
     so a diff shows ``sha256:1a2b3c4d… (5460 chars)`` instead of kilobytes of base64; a
     recorded value already written as ``sha256:<64 hex>`` matches the audio it digests;
   - recorded redaction placeholders (``"<redacted:RULE>"``, as
     :mod:`harness.redaction` writes them): a whole-value placeholder matches any received
     value at that position; a placeholder inside a string (``"Bearer <redacted:key>"``)
     matches any non-empty text there.

Binary frames compare by digest; close frames by kind only, unless
``MatchRules.close_code`` (clients differ: the JS SDK closes with 1005, Python with 1000).

Paths are patterns over the event: ``item.id``, ``item.content[*].audio`` (``[*]`` any array
index), ``*`` any one key, ``**`` any run of keys and indexes (``**.audio`` = an ``audio``
field anywhere). A pattern may be scoped to one event type: ``"conversation.item.create:
item.content[*].text"``. A leading ``$.`` is allowed.

Rules are data: pass ``MatchRules(...)`` or ``DEFAULT_RULES.ignoring("session.instructions")``
to ``FakeRealtimeServer(..., rules=...)``.
"""

from __future__ import annotations

import hashlib
import re
import reprlib
from dataclasses import dataclass, field, replace
from typing import Any

from harness import _json
from harness.errors import UsageError
from harness.items import UNSET
from harness.redaction import (
    PLACEHOLDER_PREFIX,
    RedactionRules,
    is_placeholder,
    matches_redacted,
)

__all__ = [
    "DEFAULT_RULES",
    "Comparison",
    "Difference",
    "MatchRules",
    "compare_binary",
    "compare_events",
    "digest_text",
    "format_path",
    "format_value",
    "is_redacted",
]

# An absent key, as opposed to null: the one absent-key sentinel (harness.items.UNSET).
_MISSING: Any = UNSET
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PART = re.compile(r"(\*\*|\*|[^.\[\]*]+)?((?:\[(?:\*|\d+)\])*)")
_INDEX = re.compile(r"\[(?:\*|\d+)\]")

# Fields whose values the client generates afresh on every run, so they never match a
# recording: event ids, and the item ids an SDK mints for conversation.item.create
# (the reference mints `item_...` ids client-side) and then cites as previous_item_id.
DEFAULT_IGNORE: tuple[str, ...] = ("event_id", "item.id", "previous_item_id")
DEFAULT_DIGEST: tuple[str, ...] = ("**.audio",)


def is_redacted(value: Any) -> bool:
    """Whether ``value`` is a redaction placeholder such as ``"<redacted:api_key>"``."""
    return is_placeholder(value)


def digest_text(text: str) -> str:
    """``sha256:<hex>`` of a string's UTF-8 bytes (how audio fields are compared)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    event_type: str | None
    segments: tuple[str, ...]

    def matches(self, event_type: str | None, path: tuple[str | int, ...]) -> bool:
        if self.event_type is not None and self.event_type != event_type:
            return False
        return _match_segments(self.segments, path)


def _match_segments(pattern: tuple[str, ...], path: tuple[str | int, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_segments(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    step = path[0]
    if head == "[*]":
        ok = isinstance(step, int)
    elif head.startswith("["):
        ok = isinstance(step, int) and step == int(head[1:-1])
    elif head == "*":
        ok = isinstance(step, str)
    else:
        ok = step == head
    return ok and _match_segments(rest, path[1:])


def _compile(text: str) -> _Pattern:
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"match rule path must be a non-empty string, got {text!r}")
    event_type: str | None = None
    body = text
    if ":" in text:
        event_type, body = text.split(":", 1)
        event_type = event_type.strip() or None
    body = body.strip()
    if body.startswith("$."):
        body = body[2:]
    segments: list[str] = []
    for part in body.split("."):
        m = _PART.fullmatch(part)
        if m is None or not (m.group(1) or m.group(2)):
            raise UsageError(
                f"match rule path {text!r} is not a path: write keys separated by dots, [*] "
                "for any array index, * for any key, ** for any depth (e.g. item.content[*].audio)"
            )
        if m.group(1):
            segments.append(m.group(1))
        segments.extend(_INDEX.findall(m.group(2)))
    return _Pattern(text=text, event_type=event_type, segments=tuple(segments))


@dataclass(frozen=True, slots=True)
class MatchRules:
    """How a received client frame is compared with the recorded one (data, not code).

    Attributes:
        ignore: path patterns skipped on both sides (volatile fields).
        digest: path patterns whose string values compare by SHA-256 (audio).
        redacted_matches_any: whether ``"<redacted:...>"`` in the recording matches anything.
        close_code: whether a client close must carry the recorded close code.

    Example::

        rules = DEFAULT_RULES.ignoring("session.instructions", "response.metadata")
        FakeRealtimeServer("cassettes/x.jsonl", rules=rules)
    """

    ignore: tuple[str, ...] = DEFAULT_IGNORE
    digest: tuple[str, ...] = DEFAULT_DIGEST
    redacted_matches_any: bool = True
    close_code: bool = False
    _ignore: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)
    _digest: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("ignore", "digest"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise UsageError(f"MatchRules.{name} must be a tuple of paths, not a string")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "_ignore", tuple(_compile(p) for p in self.ignore))
        object.__setattr__(self, "_digest", tuple(_compile(p) for p in self.digest))

    def ignoring(self, *paths: str) -> MatchRules:
        """A copy that also ignores ``paths``."""
        return replace(self, ignore=(*self.ignore, *paths))

    def comparing(self, *paths: str) -> MatchRules:
        """A copy that no longer ignores ``paths`` (exact pattern texts)."""
        return replace(self, ignore=tuple(p for p in self.ignore if p not in paths))

    def is_ignored(self, event_type: str | None, path: tuple[str | int, ...]) -> bool:
        """Whether the field at ``path`` of an event of ``event_type`` is ignored."""
        return any(p.matches(event_type, path) for p in self._ignore)

    def is_digest(self, event_type: str | None, path: tuple[str | int, ...]) -> bool:
        """Whether the field at ``path`` compares by digest."""
        return any(p.matches(event_type, path) for p in self._digest)


DEFAULT_RULES = MatchRules()


@dataclass(frozen=True, slots=True)
class Difference:
    """One place where the received event differs from the recorded one.

    ``expected``/``received`` are already formatted for display (``<absent>`` when missing).
    """

    path: str
    expected: str
    received: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing a received frame with a recorded one.

    Attributes:
        differences: every difference found (empty when the frames match).
        ignored: the concrete paths skipped because a rule ignores them (for the report).
    """

    differences: tuple[Difference, ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the frames match."""
        return not self.differences


def format_path(path: tuple[str | int, ...]) -> str:
    """``("item", "content", 0, "text")`` -> ``$.item.content[0].text``."""
    out = "$"
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


def _plain_path(path: tuple[str | int, ...]) -> str:
    return format_path(path)[2:] if path else "$"


def format_value(
    value: Any,
    *,
    digest: bool = False,
    limit: int = 120,
    redaction: RedactionRules | None = None,
) -> str:
    """Render a JSON value for a diff line: JSON text, shortened; digests for audio.

    With ``redaction``, its pattern rules run over the JSON text *before* it is shortened,
    so a cut never leaves the first characters of a key behind (key-path rules need the
    event: :func:`compare_events` applies them). A redaction placeholder is never shown as
    a digest.
    """
    if value is _MISSING:
        return "<absent>"
    if digest and isinstance(value, str) and not _DIGEST.match(value) and not is_placeholder(value):
        return f"{digest_text(value)[:19]}… ({len(value)} chars)"
    try:
        text = _json.dumps_str(value)
    except ValueError:
        # Not JSON (bytes, a value nested past the encoder's 254 levels): a bounded
        # description, never repr(), which recurses without limit on nested containers.
        if isinstance(value, dict | list):
            text = f"<{'an object' if isinstance(value, dict) else 'an array'} nested too deep>"
        else:
            text = reprlib.repr(value)
    if redaction is not None:
        text = redaction.redact_text(text).value
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _same_scalar(a: Any, b: Any) -> bool:
    # JSON: true != 1, but 1 == 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


# How a difference is shown: the values, their digests (audio), or two array lengths.
_VALUE, _DIGESTS, _LENGTHS = range(3)
# One difference as the walk finds it: (path, recorded, received, how it is shown).
_Raw = tuple[tuple[str | int, ...], Any, Any, int]


class _Comparer:
    __slots__ = ("diffs", "event_type", "ignored", "rules")

    def __init__(self, rules: MatchRules, event_type: str | None) -> None:
        self.rules = rules
        self.event_type = event_type
        self.diffs: list[_Raw] = []
        self.ignored: list[str] = []

    def walk(self, exp: Any, got: Any, path: tuple[str | int, ...]) -> None:
        rules = self.rules
        if rules.redacted_matches_any and isinstance(exp, str) and PLACEHOLDER_PREFIX in exp:
            if is_placeholder(exp) or (isinstance(got, str) and matches_redacted(exp, got)):
                return
        if isinstance(exp, dict) and isinstance(got, dict):
            for key in [*exp, *(k for k in got if k not in exp)]:
                child = (*path, key)
                if rules.is_ignored(self.event_type, child):
                    self.ignored.append(_plain_path(child))
                    continue
                self.walk(exp.get(key, _MISSING), got.get(key, _MISSING), child)
            return
        if isinstance(exp, list) and isinstance(got, list):
            for i in range(min(len(exp), len(got))):
                self.walk(exp[i], got[i], (*path, i))
            if len(exp) != len(got):
                self.diffs.append((path, exp, got, _LENGTHS))
            return
        digest = (
            isinstance(exp, str) and isinstance(got, str) and rules.is_digest(self.event_type, path)
        )
        if digest:
            got_digest = digest_text(got)
            if exp == got or (_DIGEST.match(exp) and exp == got_digest):
                return
            self.diffs.append((path, exp, got, _DIGESTS))
            return
        if isinstance(exp, dict | list) or isinstance(got, dict | list):
            self.diffs.append((path, exp, got, _VALUE))
            return
        if exp is _MISSING or got is _MISSING or not _same_scalar(exp, got):
            self.diffs.append((path, exp, got, _VALUE))


def _shown_at(shown: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` of a key-path-redacted copy (:meth:`RedactionRules.redact_paths`).

    The copy has the original's shape except where a rule replaced a whole value by its
    placeholder: anything inside that value is shown as the placeholder.
    """
    value = shown
    for step in path:
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        elif isinstance(value, str):
            return value  # the placeholder of a redacted container
        else:
            return _MISSING
    return value


def _difference(
    raw: _Raw, redaction: RedactionRules | None, shown: tuple[Any, Any] = (None, None)
) -> Difference:
    """A difference as shown; ``shown``: the key-path-redacted events (None: unchanged)."""
    path, exp, got, how = raw
    where = format_path(path)
    if redaction is not None:
        where = redaction.redact_text(where).value
    if how == _LENGTHS:
        return Difference(where, f"an array of {len(exp)} items", f"an array of {len(got)} items")
    digest = how == _DIGESTS
    if redaction is None:
        return Difference(where, format_value(exp, digest=digest), format_value(got, digest=digest))
    exp_root, got_root = shown
    if exp_root is not None:
        exp = _shown_at(exp_root, path)
    if got_root is not None:
        got = _shown_at(got_root, path)
    expected = format_value(exp, digest=digest, redaction=redaction)
    received = format_value(got, digest=digest, redaction=redaction)
    if expected == received and PLACEHOLDER_PREFIX in received:
        received += " (a different value, redacted)"  # else the two lines would read equal
    return Difference(where, expected, received)


def compare_events(
    expected: dict[str, Any],
    received: dict[str, Any],
    rules: MatchRules = DEFAULT_RULES,
    *,
    redaction: RedactionRules | None = None,
) -> Comparison:
    """Compare a received client event with the recorded one under ``rules``.

    The ``type`` is compared first: when it differs, that is the only difference reported.

    ``redaction`` only changes how differences are *shown*, never whether events match
    (the walk compares the real values): its key-path rules are applied to both events
    first (:meth:`~harness.redaction.RedactionRules.redact_paths`), so a value at a
    secret's path, or a container holding one, is shown as its placeholder; its pattern
    rules run over every shown value (before it is shortened) and every path. Pass it
    wherever differences are displayed (a mismatch report); matching alone needs none.
    """
    exp_type = expected.get("type")
    got_type = received.get("type")
    ignored: tuple[str, ...] = ()
    if exp_type != got_type:
        diffs: list[_Raw] = [(("type",), exp_type, received.get("type", _MISSING), _VALUE)]
    else:
        comparer = _Comparer(rules, exp_type if isinstance(exp_type, str) else None)
        comparer.walk(expected, received, ())
        diffs = comparer.diffs
        ignored = tuple(dict.fromkeys(comparer.ignored))
        if redaction is not None and ignored:  # concrete paths: a client's key may be one
            ignored = tuple(dict.fromkeys(redaction.redact_text(p).value for p in ignored))
    shown: tuple[Any, Any] = (None, None)
    if redaction is not None and diffs:
        exp_shown = redaction.redact_paths(expected).value
        got_shown = redaction.redact_paths(received).value
        shown = (
            None if exp_shown is expected else exp_shown,
            None if got_shown is received else got_shown,
        )
    return Comparison(tuple(_difference(raw, redaction, shown) for raw in diffs), ignored)


def compare_binary(expected: bytes, received: bytes) -> Comparison:
    """Compare two binary frames by content digest."""
    if expected == received:
        return Comparison()
    exp = "sha256:" + hashlib.sha256(expected).hexdigest()
    got = "sha256:" + hashlib.sha256(received).hexdigest()
    return Comparison(
        (
            Difference(
                "$", f"{exp[:19]}… ({len(expected)} bytes)", f"{got[:19]}… ({len(received)} bytes)"
            ),
        )
    )
