"""What counts as a secret, and how it is scrubbed before anything is written.

Theory of operation:

1. Redaction is data. A :class:`RedactionRule` is a frozen value with a name and one
   target: a key path into an event (``session.tools[*].authorization``), a regular
   expression matched inside every string (``sk-...``), a handshake header, a URL query
   parameter, or a subprotocol prefix. :meth:`RedactionRules.default` is on unless a
   user says otherwise; users add rules with :meth:`RedactionRules.with_rules`.
2. A redacted value becomes the placeholder ``"<redacted:RULE_NAME>"``: a key-path rule
   replaces the whole value, a pattern rule replaces only the matched text inside the
   string. :func:`matches_redacted` is how a replay matcher accepts any received value
   where the recorded one holds placeholders.
3. Every rule is applied before a byte reaches disk: to every event on both sides
   (:meth:`RedactionRules.redact_event`), to binary frames (the pattern rules, as bytes),
   to the handshake's headers, query and subprotocols, and to any free text the recorder
   writes (close reasons, refusal bodies). Pattern rules also run over header, query and
   subprotocol values, so a key planted anywhere is caught. What a replay *shows* of a
   client's mismatching frame is redacted the same way: key paths alone
   (:meth:`RedactionRules.redact_paths`) so a diff can walk the copy beside the original,
   and text that should have been an event but does not parse by each key-path rule's
   last key name (:meth:`RedactionRules.redact_event_text`).
4. The cassette header's ``redactions`` lists the rules that *ran* (every rule of the
   active set, in order), not only those that fired: the header is written first, before
   the frames are known, and it tells a reader what was guaranteed scrubbed. Where a rule
   fired, its placeholder is in the file.

This module is pure: no I/O, no clock, no asyncio.
"""

from __future__ import annotations

import bisect
import logging
import re
import traceback
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.errors import RedactionError

__all__ = [
    "EPHEMERAL_KEY_PATTERN",
    "LOG_RULES_ATTRIBUTE",
    "OPENAI_API_KEY_PATTERN",
    "PLACEHOLDER_PREFIX",
    "Redacted",
    "RedactingFilter",
    "RedactionRule",
    "RedactionRules",
    "RuleKind",
    "StreamRedactor",
    "is_placeholder",
    "matches_redacted",
    "placeholder",
    "redact_log_record",
    "redact_url",
    "redacting_logger",
]

PLACEHOLDER_PREFIX = "<redacted:"
"""Every placeholder starts with this text and ends with ``>``."""

_RULE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_PLACEHOLDER = re.compile(r"<redacted:[A-Za-z0-9_.-]+>")


def placeholder(rule_name: str) -> str:
    """Return the text that stands for a value the rule ``rule_name`` redacted."""
    return f"{PLACEHOLDER_PREFIX}{rule_name}>"


def is_placeholder(value: object) -> bool:
    """Tell whether ``value`` is exactly one redaction placeholder."""
    return isinstance(value, str) and _PLACEHOLDER.fullmatch(value) is not None


def matches_redacted(recorded: str, received: str) -> bool:
    """Tell whether ``received`` equals ``recorded`` once its placeholders are wildcards.

    A placeholder stands for any non-empty text: ``"Bearer <redacted:openai_api_key>"``
    accepts ``"Bearer sk-..."``. A string without placeholders must be equal.

    Args:
        recorded: the value from the cassette.
        received: the value the client sent during replay.
    """
    if PLACEHOLDER_PREFIX not in recorded:
        return recorded == received
    parts = _PLACEHOLDER.split(recorded)
    regex = ".+?".join(re.escape(part) for part in parts)
    return re.fullmatch(regex, received, re.DOTALL) is not None


class RuleKind(StrEnum):
    """What a rule looks at; the values are the spellings users write."""

    PATH = "path"
    """A key path into an event: the value there is replaced whole."""
    PATTERN = "pattern"
    """A regular expression: every match inside every string is replaced."""
    HEADER = "header"
    """An HTTP header of the opening handshake (case-insensitive name)."""
    QUERY = "query"
    """A query parameter of the connection URL."""
    SUBPROTOCOL = "subprotocol"
    """A WebSocket subprotocol starting with this prefix."""


# A parsed key path step: ("key", name), ("any_key", ""), ("index", n), ("any_index", "").
_Step: TypeAlias = tuple[str, "str | int"]
_PATH_SEGMENT = re.compile(r"(\*|[^.\[\]*]+)((?:\[(?:\*|\d+)\])*)")
_PATH_INDEX = re.compile(r"\[(\*|\d+)\]")


def _parse_path(name: str, path: str) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    for segment in path.split("."):
        match = _PATH_SEGMENT.fullmatch(segment)
        if match is None:
            raise RedactionError(
                f"redaction rule {name!r}: bad key path {path!r} at segment {segment!r}; "
                "write keys separated by dots, '*' for any key, '[*]' or '[2]' for list items, "
                "e.g. 'session.tools[*].authorization'"
            )
        key, indexes = match.group(1), match.group(2)
        steps.append(("any_key", "") if key == "*" else ("key", key))
        for index in _PATH_INDEX.findall(indexes):
            steps.append(("any_index", "") if index == "*" else ("index", int(index)))
    return tuple(steps)


_CONTAINERS = (dict, list)
# Characters that stand for themselves in a regular expression (outside a class).
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _top_level_alternation(pattern: str) -> bool:
    """Whether ``pattern`` has a ``|`` outside every group and character class."""
    depth = 0
    in_class = False
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def _literal_prefix(pattern: str) -> str:
    """The plain literal text every match of ``pattern`` starts with (may be empty).

    Only trusted when the pattern has no top-level alternation: every match then starts
    with that text (``sk-`` in ``sk-(?:...|...)[A-Za-z0-9_-]{16,}``).
    """
    if _top_level_alternation(pattern):
        return ""
    end = 0
    while end < len(pattern) and pattern[end] in _PLAIN:
        end += 1
    if end < len(pattern) and pattern[end] in "*+?{":
        end -= 1  # a quantifier makes the last character optional
    return pattern[:end]


def _required_char(pattern: str) -> str | None:
    """A character every match of ``pattern`` contains, or None if we cannot tell.

    Taken from the plain literal text the pattern opens with (:func:`_literal_prefix`).
    A punctuation character is preferred: a single character is found at ``memchr``
    speed, and ``-`` or ``_`` never occur in base64 audio, so most strings are cleared in
    ~0.05 us instead of a ~2.6 us scan by the regex.
    """
    prefix = _literal_prefix(pattern)
    if not prefix:
        return None
    return next((c for c in prefix if not c.isalnum()), prefix[0])


# -- escaped text: JSON ``\uXXXX`` / ``\n`` escapes and URL ``%XX`` escapes -------------------

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|%([0-9A-Fa-f]{2})|\\([\"\\/bfnrt])")
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_ESCAPE_ROUNDS = 3  # "%5Cu0073" is "\u0073" is "s": escapes of escapes, a few levels deep


@dataclass(frozen=True, slots=True)
class _Unescaped:
    """Text with its escapes decoded, and the way back to the escaped text's offsets.

    ``starts[k]`` is where the k-th escape's character sits in ``text``; ``origins[k]``
    where that escape starts in the escaped text, ``widths[k]`` how long it is there.
    """

    text: str
    starts: list[int]
    origins: list[int]
    widths: list[int]

    def origin(self, position: int) -> int:
        """Where the character at ``position`` of the decoded text starts, escaped."""
        k = bisect.bisect_right(self.starts, position) - 1
        if k < 0:
            return position
        if self.starts[k] == position:
            return self.origins[k]
        return self.origins[k] + self.widths[k] + position - self.starts[k] - 1

    def origin_end(self, end: int) -> int:
        """Where the decoded span ending (exclusive) at ``end`` ends, escaped."""
        last = end - 1
        k = bisect.bisect_right(self.starts, last) - 1
        width = self.widths[k] if k >= 0 and self.starts[k] == last else 1
        return self.origin(last) + width


def _unescape(text: str) -> _Unescaped | None:
    """Decode every JSON and URL escape of ``text`` once; None when it has none."""
    parts: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    widths: list[int] = []
    last = 0
    position = 0
    for match in _ESCAPE.finditer(text):
        begin, end = match.span()
        parts.append(text[last:begin])
        position += begin - last
        hex4, hex2, simple = match.groups()
        if hex4 is not None:
            parts.append(chr(int(hex4, 16)))
        elif hex2 is not None:
            parts.append(chr(int(hex2, 16)))
        else:
            parts.append(_SIMPLE_ESCAPES[simple])
        starts.append(position)
        origins.append(begin)
        widths.append(end - begin)
        position += 1
        last = end
    if not starts:
        return None
    parts.append(text[last:])
    return _Unescaped("".join(parts), starts, origins, widths)


def _may_be_escaped(text: str) -> bool:
    return "\\" in text or "%" in text


def _replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Replace each ``(start, end, replacement)`` span; overlapping spans are merged."""
    spans.sort()
    out: list[str] = []
    position = 0
    merged: list[tuple[int, int, str]] = []
    for start, end, replacement in spans:
        if merged and start <= merged[-1][1]:
            first, last, kept = merged[-1]
            merged[-1] = (first, max(last, end), kept)
        else:
            merged.append((start, end, replacement))
    for start, end, replacement in merged:
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class RedactionRule:
    """One thing to scrub, by name. Build rules with the class methods.

    Attributes:
        name: shown in placeholders and in the cassette header (letters, digits, ``_.-``).
        kind: what the rule looks at.
        target: the key path, regular expression, header name, query parameter name or
            subprotocol prefix.
    """

    name: str
    kind: RuleKind
    target: str
    _steps: tuple[_Step, ...] = field(default=(), init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _bytes_regex: re.Pattern[bytes] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _needle: str | None = field(default=None, init=False, repr=False, compare=False)
    _prefix: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or _RULE_NAME.fullmatch(self.name) is None:
            raise RedactionError(
                f"redaction rule name {self.name!r} is not allowed: use letters, digits, '_', "
                "'.' or '-', e.g. 'my_token'"
            )
        try:
            kind = RuleKind(self.kind)
        except ValueError:
            kinds = ", ".join(k.value for k in RuleKind)
            raise RedactionError(
                f"redaction rule {self.name!r}: unknown kind {self.kind!r}; use one of {kinds}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.target, str) or not self.target:
            raise RedactionError(
                f"redaction rule {self.name!r}: the target must be a non-empty str"
            )
        if kind is RuleKind.PATH:
            object.__setattr__(self, "_steps", _parse_path(self.name, self.target))
        elif kind is RuleKind.PATTERN:
            try:
                regex = re.compile(self.target)
                bytes_regex = re.compile(self.target.encode())
            except re.error as exc:
                raise RedactionError(
                    f"redaction rule {self.name!r}: bad regular expression {self.target!r}: {exc}"
                ) from None
            if regex.search("") is not None:
                raise RedactionError(
                    f"redaction rule {self.name!r}: the pattern {self.target!r} matches the "
                    "empty string, so it would redact everywhere; make it match at least one "
                    "character"
                )
            object.__setattr__(self, "_regex", regex)
            object.__setattr__(self, "_bytes_regex", bytes_regex)
            object.__setattr__(self, "_needle", _required_char(self.target))
            object.__setattr__(self, "_prefix", _literal_prefix(self.target))

    @classmethod
    def path(cls, name: str, path: str) -> RedactionRule:
        """Replace the value at a key path of every event, e.g. ``session.tools[*].headers.*``.

        ``*`` matches any key of an object, ``[*]`` any item of a list, ``[2]`` one item.
        """
        return cls(name, RuleKind.PATH, path)

    @classmethod
    def pattern(cls, name: str, regex: str) -> RedactionRule:
        """Replace every match of ``regex`` in every string of every event and handshake."""
        return cls(name, RuleKind.PATTERN, regex)

    @classmethod
    def header(cls, name: str, header: str) -> RedactionRule:
        """Replace the value of an opening-handshake header (name matched case-insensitively)."""
        return cls(name, RuleKind.HEADER, header)

    @classmethod
    def query(cls, name: str, parameter: str) -> RedactionRule:
        """Replace the value of a query parameter of the connection URL."""
        return cls(name, RuleKind.QUERY, parameter)

    @classmethod
    def subprotocol(cls, name: str, prefix: str) -> RedactionRule:
        """Replace what follows ``prefix`` in any offered or selected subprotocol."""
        return cls(name, RuleKind.SUBPROTOCOL, prefix)

    @property
    def placeholder(self) -> str:
        """The text this rule writes instead of the secret."""
        return placeholder(self.name)


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Redacted(Generic[_T]):
    """A redacted value and the names of the rules that fired on it (in rule order)."""

    value: _T
    fired: tuple[str, ...] = ()


# A key: the literal, then 16 or more key characters. Glued right after a letter
# ("QUJDsk-proj-...") it is still a key if those characters hold a digit, as any real key's
# do; without one it is prose ("task-management-...", "ask-abcdef..."). The literal comes
# first (the look-arounds after it) so `re` scans for it at memchr speed: a 6 kB base64
# audio chunk is searched in ~2 us instead of ~200 us.
_KEY = r"(?:(?<![A-Za-z]{lit})|(?=[A-Za-z_-]*[0-9]))[A-Za-z0-9_-]{{16,}}"
OPENAI_API_KEY_PATTERN = "sk-" + _KEY.format(lit="sk-")
"""The ``openai_api_key`` rule's regular expression (``sk-...`` keys, anywhere)."""
EPHEMERAL_KEY_PATTERN = "ek_" + _KEY.format(lit="ek_")
"""The ``ephemeral_key`` rule's regular expression (``ek_...`` ephemeral keys, anywhere)."""

_DEFAULT_RULES = (
    RedactionRule.header("authorization_header", "Authorization"),
    RedactionRule.header("api_key_header", "api-key"),
    RedactionRule.header("cookie_header", "Cookie"),
    RedactionRule.header("set_cookie_header", "Set-Cookie"),
    RedactionRule.subprotocol("api_key_subprotocol", "openai-insecure-api-key."),
    RedactionRule.query("api_key_query", "api_key"),
    RedactionRule.pattern("openai_api_key", OPENAI_API_KEY_PATTERN),
    RedactionRule.pattern("ephemeral_key", EPHEMERAL_KEY_PATTERN),
    # MCP tools in session.update / response.create, echoed in session.created/updated.
    RedactionRule.path("mcp_authorization", "*.tools[*].authorization"),
    RedactionRule.path("mcp_headers", "*.tools[*].headers.*"),
)


@dataclass(frozen=True, slots=True)
class RedactionRules:
    """An ordered set of :class:`RedactionRule`; the recorder applies all of them.

    Use :meth:`default` (what the recorder does unless told otherwise), add rules with
    :meth:`with_rules`, or build ``RedactionRules(())`` to turn redaction off.
    """

    rules: tuple[RedactionRule, ...] = ()
    _patterns: tuple[RedactionRule, ...] = field(default=(), init=False, repr=False, compare=False)
    _paths: tuple[RedactionRule, ...] = field(default=(), init=False, repr=False, compare=False)
    _free: tuple[tuple[re.Pattern[str], RedactionRule, bool], ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    # For text that does not parse: each key-path rule's last key name (None: any key),
    # how it is written as a key, and the rule's name.
    _keys: tuple[tuple[str | None, re.Pattern[str], str], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        seen: set[str] = set()
        for rule in rules:
            if not isinstance(rule, RedactionRule):
                raise RedactionError(
                    f"RedactionRules takes RedactionRule values, got {type(rule).__name__}; "
                    "build them with RedactionRule.path(...) or RedactionRule.pattern(...)"
                )
            if rule.name in seen:
                raise RedactionError(
                    f"two redaction rules are named {rule.name!r}; give each rule its own name"
                )
            seen.add(rule.name)
        object.__setattr__(self, "rules", rules)
        patterns = tuple(r for r in rules if r.kind is RuleKind.PATTERN)
        object.__setattr__(self, "_patterns", patterns)
        object.__setattr__(self, "_paths", tuple(r for r in rules if r.kind is RuleKind.PATH))
        object.__setattr__(self, "_free", tuple(_free_text_regexes(rules)))
        keys: dict[str | None, tuple[str | None, re.Pattern[str], str]] = {}
        for rule in rules:
            if rule.kind is RuleKind.PATH:
                name = _last_key(rule._steps)
                keys.setdefault(name, (name, _key_regex(name), rule.name))
        object.__setattr__(self, "_keys", tuple(keys.values()))

    @classmethod
    def default(cls) -> RedactionRules:
        """The rules on by default: API keys and ephemeral keys anywhere, the Authorization,
        api-key, Cookie and Set-Cookie headers, the ``openai-insecure-api-key.`` subprotocol, the
        ``api_key`` query parameter, and MCP tools' ``authorization`` and ``headers``."""
        return cls(_DEFAULT_RULES)

    def with_rules(self, *rules: RedactionRule) -> RedactionRules:
        """Return these rules followed by ``rules``."""
        return RedactionRules((*self.rules, *rules))

    @property
    def names(self) -> tuple[str, ...]:
        """The names of every rule, in order: what the cassette header's ``redactions`` lists."""
        return tuple(rule.name for rule in self.rules)

    def _of_kind(self, kind: RuleKind) -> Iterator[RedactionRule]:
        return (rule for rule in self.rules if rule.kind is kind)

    # -- strings and bytes ---------------------------------------------------------------

    def redact_text(self, text: str) -> Redacted[str]:
        """Replace every pattern match in ``text`` with its rule's placeholder.

        A match hidden behind JSON escapes (``\\u0073k-...``) or URL escapes
        (``sk%2Dproj...``) is found too: the escaped text is decoded (a few levels deep)
        and the escaped span of each match is replaced.
        """
        fired: list[str] = []
        return Redacted(self._scrub(text, fired), tuple(fired))

    def _scrub(self, text: str, fired: list[str]) -> str:
        # Escaped text first, whole: "sk-0123...%2D4567" must go as one key, not leave
        # "%2D4567" behind once "sk-0123..." was replaced. Base64 audio holds neither.
        if self._patterns and _may_be_escaped(text):
            spans = self._escaped_spans(text, _ESCAPE_ROUNDS)
            if spans:
                fired.extend(_unique(name for _, _, name in spans))
                text = _replace_spans(text, [(a, b, placeholder(n)) for a, b, n in spans])
        for rule in self._patterns:
            # A string without the one character every match needs cannot match: the
            # check costs a memchr, the search a scan by the regex engine.
            if rule._needle is not None and rule._needle not in text:
                continue
            regex = rule._regex
            assert regex is not None
            # One search per pattern, not one alternation of all: each pattern keeps the
            # literal-prefix scan `re` gives it, which an alternation loses.
            if regex.search(text) is not None:
                text = regex.sub(rule.placeholder, text)
                fired.append(rule.name)
        return text

    def _escaped_spans(self, text: str, rounds: int) -> list[tuple[int, int, str]]:
        """The spans of ``text`` that are pattern matches once its escapes are decoded."""
        decoded = _unescape(text)
        if decoded is None:
            return []
        spans: list[tuple[int, int, str]] = []
        for rule in self._patterns:
            if rule._needle is not None and rule._needle not in decoded.text:
                continue
            assert rule._regex is not None
            spans.extend(
                (m.start(), m.end(), rule.name) for m in rule._regex.finditer(decoded.text)
            )
        if rounds > 1 and _may_be_escaped(decoded.text):
            spans.extend(self._escaped_spans(decoded.text, rounds - 1))
        return [(decoded.origin(a), decoded.origin_end(b), name) for a, b, name in spans]

    def redact_bytes(self, data: bytes) -> Redacted[bytes]:
        """Replace every pattern match in a binary frame with its rule's placeholder.

        Escaped matches are found as in :meth:`redact_text` (the bytes read as Latin-1,
        one character per byte, so offsets stay those of the bytes).
        """
        fired: list[str] = []
        if self._patterns and (b"\\" in data or b"%" in data):
            text = data.decode("latin-1")
            spans = self._escaped_spans(text, _ESCAPE_ROUNDS)
            if spans:
                fired.extend(_unique(name for _, _, name in spans))
                text = _replace_spans(text, [(a, b, placeholder(n)) for a, b, n in spans])
                data = text.encode("latin-1")
        for rule in self._patterns:
            if rule._needle is not None and rule._needle.encode() not in data:
                continue
            assert rule._bytes_regex is not None
            data, count = rule._bytes_regex.subn(rule.placeholder.encode(), data)
            if count:
                fired.append(rule.name)
        return Redacted(data, _unique(fired))

    def redact_free_text(self, text: str) -> Redacted[str]:
        """Redact text of unknown shape: a log line, an exception message, a refusal body.

        Every rule that can be recognised in prose runs: a header rule's header written
        as ``Name: value`` (or ``"Name": "value"``, ``('Name', 'value')``), any
        ``Bearer <token>`` when an ``Authorization`` rule is active, what follows a
        subprotocol rule's prefix, a query rule's ``name=value``; then the pattern rules
        (escapes included, as in :meth:`redact_text`). Key-path rules need an event and do
        not run here.
        """
        fired: list[str] = []
        for regex, rule, keep_scheme in self._free:
            if regex.search(text) is None:
                continue
            text, hit = _sub_values(regex, text, rule.placeholder, keep_scheme)
            if hit:
                fired.append(rule.name)
        text = self._scrub(text, fired)
        return Redacted(text, _unique(fired))

    def stream(self) -> StreamRedactor:
        """A redactor for one recording that also catches keys split across text deltas."""
        return StreamRedactor(self)

    # -- events ---------------------------------------------------------------------------

    def redact_event(self, event: dict[str, Any]) -> Redacted[dict[str, Any]]:
        """Return ``event`` with every rule applied; the input is never modified.

        Key-path rules run first (they replace whole values), then pattern rules scan every
        string left, keys included. When nothing fires, the same object is returned.
        """
        fired: list[str] = []
        value: Any = self._apply_paths(event, fired)
        if self._patterns:
            names: list[str] = []
            value = self._redact_strings(value, names)
            if names:
                fired.extend(rule.name for rule in self._patterns if rule.name in names)
        return Redacted(value, tuple(fired))

    def redact_paths(self, event: Any) -> Redacted[Any]:
        """Return ``event`` with only the key-path rules applied (the input is never modified).

        Keys are never renamed and containers keep their shape, except where a rule replaced
        a whole value by its placeholder: so a copy can be walked beside the original (what
        a mismatch's diff does, :func:`harness.matching.compare_events`). When nothing
        fires, the same object is returned.
        """
        fired: list[str] = []
        value = self._apply_paths(event, fired)
        return Redacted(value, tuple(fired))

    def _apply_paths(self, event: Any, fired: list[str]) -> Any:
        value: Any = event
        if self._paths:
            # A path of two steps or more reaches through a top-level object or array; an
            # event without one (an audio delta, most server events) cannot match it.
            nested = not isinstance(event, dict) or _has_container(event)
            for rule in self._paths:
                if len(rule._steps) > 1 and not nested:
                    continue
                value, hit = _redact_path(value, rule._steps, rule.placeholder)
                if hit:
                    fired.append(rule.name)
        return value

    def redact_event_text(self, text: str) -> Redacted[str]:
        """Redact text that may hold a JSON event but did not decode as one (cut, malformed).

        Key paths cannot be followed in text that does not parse, so each key-path rule
        runs by its last key name: wherever that name is written as a key (``"name":``,
        quoted either way, JSON escapes included), the value after it (a string, an object
        or an array up to its end, else up to the next ``,``, ``}`` or ``]``) becomes
        ``"<redacted:RULE>"``. A value the text cuts off is redacted up to the end. This
        redacts more than the rule would in an event (``headers`` whole, not its values
        only; the key anywhere, not only at the rule's path): never less. Then the pattern
        rules run (:meth:`redact_text`).
        """
        fired: list[str] = []
        if self._keys:
            spans = _key_value_spans(text, self._keys)
            decoded = _unescape(text) if _may_be_escaped(text) else None
            if decoded is not None:  # "\u0061uthorization": a key spelled with escapes
                spans += [
                    (decoded.origin(a), decoded.origin_end(b), name)
                    for a, b, name in _key_value_spans(decoded.text, self._keys)
                ]
            if spans:
                fired.extend(_unique(name for _, _, name in spans))
                quoted = [(a, b, f'"{placeholder(n)}"') for a, b, n in spans]
                text = _replace_spans(text, quoted)
        text = self._scrub(text, fired)
        return Redacted(text, _unique(fired))

    def _redact_strings(self, value: Any, fired: list[str]) -> Any:
        if isinstance(value, str):
            return self._scrub(value, fired)
        if isinstance(value, dict):
            new: dict[Any, Any] | None = None
            for index, (key, item) in enumerate(value.items()):
                new_key = self._scrub(key, fired) if isinstance(key, str) else key
                if isinstance(item, str):
                    new_item = self._scrub(item, fired)
                elif isinstance(item, _CONTAINERS):
                    new_item = self._redact_strings(item, fired)
                else:
                    new_item = item
                if new is None and (new_key is not key or new_item is not item):
                    new = dict(list(value.items())[:index])
                if new is not None:
                    new[new_key] = new_item
            return value if new is None else new
        if isinstance(value, list):
            items = [self._redact_strings(item, fired) for item in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                return items
            return value
        return value

    # -- the opening handshake ------------------------------------------------------------

    def redact_headers(self, headers: Iterable[tuple[str, str]]) -> Redacted[list[tuple[str, str]]]:
        """Redact handshake headers: the value of each header rule's header, then the rest.

        Other headers' values are redacted as free text (:meth:`redact_free_text`), so the
        raw ``Sec-WebSocket-Protocol`` loses an ``openai-insecure-api-key.`` key too.

        Returns a :class:`Redacted` whose value is a list of ``(name, value)`` pairs.
        """
        header_rules = {rule.target.lower(): rule for rule in self._of_kind(RuleKind.HEADER)}
        fired: list[str] = []
        out: list[tuple[str, str]] = []
        for name, value in headers:
            rule = header_rules.get(name.lower())
            if rule is not None:
                value = _keep_scheme(value, rule.placeholder)
                fired.append(rule.name)
            else:
                # Sec-WebSocket-Protocol repeats the subprotocols (an opaque key after
                # openai-insecure-api-key. included), a Referer may carry ?api_key=...
                result = self.redact_free_text(value)
                value = result.value
                fired.extend(result.fired)
            out.append((name, value))
        return Redacted(out, _unique(fired))

    def redact_subprotocols(self, subprotocols: Sequence[str]) -> Redacted[list[str]]:
        """Redact what follows each subprotocol rule's prefix, then patterns.

        Returns a :class:`Redacted` whose value is a list of subprotocols.
        """
        prefixes = tuple(self._of_kind(RuleKind.SUBPROTOCOL))
        fired: list[str] = []
        out: list[str] = []
        for subprotocol in subprotocols:
            for rule in prefixes:
                if subprotocol.startswith(rule.target) and len(subprotocol) > len(rule.target):
                    subprotocol = rule.target + rule.placeholder
                    fired.append(rule.name)
                    break
            else:
                result = self.redact_free_text(subprotocol)
                subprotocol = result.value
                fired.extend(result.fired)
            out.append(subprotocol)
        return Redacted(out, _unique(fired))

    def redact_query(self, query: Iterable[tuple[str, str]]) -> Redacted[list[tuple[str, str]]]:
        """Redact URL query parameters (decoded ``(name, value)`` pairs), then patterns.

        Returns a :class:`Redacted` whose value is a list of ``(name, value)`` pairs.
        """
        query_rules = {rule.target: rule for rule in self._of_kind(RuleKind.QUERY)}
        fired: list[str] = []
        out: list[tuple[str, str]] = []
        for name, value in query:
            rule = query_rules.get(name)
            if rule is not None and value:
                value = rule.placeholder
                fired.append(rule.name)
            else:
                result = self.redact_free_text(value)
                value = result.value
                fired.extend(result.fired)
            out.append((name, value))
        return Redacted(out, _unique(fired))


def _has_container(event: dict[str, Any]) -> bool:
    for item in event.values():  # a loop, not any(): this runs for every recorded event
        if isinstance(item, _CONTAINERS):
            return True
    return False


def _keep_scheme(value: str, replacement: str) -> str:
    # "Bearer sk-..." -> "Bearer <redacted:...>": the scheme is not a secret and says how
    # the client authenticated.
    scheme, sep, _ = value.partition(" ")
    if sep and scheme.isalpha():
        return f"{scheme} {replacement}"
    return replacement


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _redact_path(value: Any, steps: tuple[_Step, ...], replacement: str) -> tuple[Any, bool]:
    """Replace what ``steps`` reach in ``value``; copy only along changed branches."""
    if not steps:
        if value is None or value == "" or value == replacement:
            return value, False
        return replacement, True
    (kind, arg), rest = steps[0], steps[1:]
    if kind in ("key", "any_key"):
        if not isinstance(value, dict):
            return value, False
        keys = list(value) if kind == "any_key" else [arg] if arg in value else []
        new_dict: dict[Any, Any] | None = None
        for key in keys:
            item, hit = _redact_path(value[key], rest, replacement)
            if hit:
                if new_dict is None:
                    new_dict = dict(value)
                new_dict[key] = item
        return (value, False) if new_dict is None else (new_dict, True)
    if not isinstance(value, list):
        return value, False
    if kind == "index":
        assert isinstance(arg, int)
        indexes = [arg] if arg < len(value) else []
    else:
        indexes = list(range(len(value)))
    new_list: list[Any] | None = None
    for index in indexes:
        item, hit = _redact_path(value[index], rest, replacement)
        if hit:
            if new_list is None:
                new_list = list(value)
            new_list[index] = item
    return (value, False) if new_list is None else (new_list, True)


# -- key-path rules over text that does not parse ---------------------------------------------

_KEY_COLON = r"[ \t\r\n]*:[ \t\r\n]*"
# Any quoted key and its colon, for a rule whose every key step is "*".
_ANY_KEY = re.compile(r"""(["'])(?:(?!\1)[^\\]|\\.)*\1""" + _KEY_COLON)


def _key_regex(name: str | None) -> re.Pattern[str]:
    """How a key named ``name`` (None: any key) is written before its value: quoted, colon."""
    if name is None:
        return _ANY_KEY
    return re.compile(r"""(["'])""" + re.escape(name) + r"\1" + _KEY_COLON)


_SCALAR_END = re.compile(r"[,}\]\r\n]")


def _last_key(steps: tuple[_Step, ...]) -> str | None:
    """The name of a path's last literal key (None when every key step is ``*``)."""
    for kind, arg in reversed(steps):
        if kind == "key":
            assert isinstance(arg, str)
            return arg
    return None


def _value_end(text: str, start: int) -> int:
    """Where the JSON-ish value starting at ``start`` ends (exclusive); cut off: the end."""
    if start >= len(text):
        return start
    first = text[start]
    if first in "\"'":
        return _string_end(text, start)
    if first in "{[":
        depth = 0
        position = start
        while position < len(text):
            char = text[position]
            if char in "\"'":
                position = _string_end(text, position)
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return position + 1
            position += 1
        return len(text)
    found = _SCALAR_END.search(text, start)
    end = found.start() if found is not None else len(text)
    while end > start and text[end - 1] in " \t":
        end -= 1
    return end


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == quote:
            return position + 1
        position += 1
    return len(text)


def _key_value_spans(
    text: str, keys: tuple[tuple[str | None, re.Pattern[str], str], ...]
) -> list[tuple[int, int, str]]:
    """``(start, end, rule name)`` of each value written after a key a rule names."""
    spans: list[tuple[int, int, str]] = []
    for name, regex, rule in keys:
        if name is not None and name not in text:
            continue
        for match in regex.finditer(text):
            start = match.end()
            end = _value_end(text, start)
            if end > start and text[start:end] not in ("null", '""', "''"):
                spans.append((start, end, rule))
    return spans


# -- free text ---------------------------------------------------------------------------------

# A credential after "Bearer " in prose: a b64token (RFC 6750 2.1) of 8 characters or more
# with a digit or punctuation in it, so that "Missing bearer or basic authentication" (the
# API's own 401 message) is left alone.
_BEARER = (
    r"(?i)(?P<lead>(?<![A-Za-z0-9_-])bearer[ \t]+)"
    r"(?P<value>(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,})"
)


def _free_text_regexes(
    rules: Iterable[RedactionRule],
) -> Iterator[tuple[re.Pattern[str], RedactionRule, bool]]:
    """For each handshake rule, how its secret looks in prose: ``(regex, rule, keep_scheme)``.

    Each regex has the groups ``lead`` (kept) and ``value`` (replaced).
    """
    for rule in rules:
        name = re.escape(rule.target)
        if rule.kind is RuleKind.HEADER:
            # "Name: value" (a header line: up to the end of the line), "Name": "value",
            # 'Name': 'value', ('Name', 'value'): up to the closing quote; in prose, up to
            # a parenthesis ("(i.e. Authorization: Bearer YOUR_KEY), or ...", the API's own
            # 401 message, keeps its end; tokens and cookies hold none in practice).
            yield (
                re.compile(
                    rf"(?i)(?P<lead>(?<![A-Za-z0-9_-]){name}"
                    r"(?:[\"']?[ \t]*[:=][ \t]*[\"']?|[\"'],[ \t]*[\"']))"
                    r"(?P<value>[^\r\n\"'()]+)"
                ),
                rule,
                True,
            )
            if rule.target.lower() == "authorization":
                yield re.compile(_BEARER), rule, False
        elif rule.kind is RuleKind.SUBPROTOCOL:
            yield re.compile(rf"(?P<lead>{name})(?P<value>[^\s,;\"'<>()\[\]]+)"), rule, False
        elif rule.kind is RuleKind.QUERY:
            yield (
                re.compile(
                    rf"(?P<lead>(?<![A-Za-z0-9_]){name}(?:=|[\"']?[ \t]*:[ \t]*[\"']?))"
                    r"(?P<value>[^&\s#\"'<>,;]+)"
                ),
                rule,
                False,
            )


def _sub_values(
    regex: re.Pattern[str], text: str, replacement: str, keep_scheme: bool
) -> tuple[str, bool]:
    """Replace the ``value`` group of every match; also tell whether any value changed."""
    hits: list[bool] = []

    def replace(match: re.Match[str]) -> str:
        value = match.group("value")
        new = _keep_scheme(value, replacement) if keep_scheme else replacement
        if new != value:
            hits.append(True)
        return match.group("lead") + new

    return regex.sub(replace, text), bool(hits)


# -- keys split across text deltas ---------------------------------------------------------------

_DELTA_WINDOW = 512
"""Characters of each text stream remembered: a key is ~50-200 characters."""
_DELTA_STREAMS = 256
"""Text streams remembered per recording (the oldest is forgotten first)."""
# What a key could still become: letters only, so a key glued after a letter (which needs a
# digit, see _KEY) is held to the characters seen so far.
_FILLER = "a" * 64
_STREAM_FIELDS = ("response_id", "item_id", "output_index", "content_index", "call_id")


class StreamRedactor:
    """Redacts the events of one recording; also catches keys split across text deltas.

    Theory of operation:

    1. Every event is redacted by :meth:`RedactionRules.redact_event` first.
    2. A text delta (an event type ending in ``.delta`` with a string ``delta``, audio
       deltas excepted) belongs to a stream: the same connection and side (``stream``), the
       same type, response, item, output and content index, call id. The last
       ``_DELTA_WINDOW`` characters of each stream are remembered, unredacted, in memory.
    3. Each pattern rule is run over the remembered end and the new delta together; the
       part of every match that falls in the new delta is replaced. A stream that *ends*
       with what may still become a key (the rule's literal, ``sk-``, then only key
       characters so far) has that part replaced too, before the rest arrives: nothing of
       a key after its literal reaches the file.
    4. Each delta is written before the next one arrives, so a delta is never changed
       after the fact; a stream's first delta is judged from itself alone.
    """

    def __init__(self, rules: RedactionRules) -> None:
        self.rules = rules
        self._tails: OrderedDict[tuple[object, ...], str] = OrderedDict()

    def redact_event(
        self, event: dict[str, Any], stream: object = None
    ) -> Redacted[dict[str, Any]]:
        """Redact ``event``, one of ``stream``'s (e.g. ``(conn, side)``), in order."""
        result = self.rules.redact_event(event)
        kind = event.get("type")
        delta = event.get("delta")
        if (
            not isinstance(delta, str)
            or not isinstance(kind, str)
            or not kind.endswith(".delta")
            or kind.endswith("audio.delta")  # base64: 'sk-' cannot occur in it
            or not self.rules._patterns
        ):
            return result
        key: tuple[object, ...] = (stream, kind, *map(event.get, _STREAM_FIELDS))
        try:
            tail = self._tails.pop(key, "")
        except TypeError:  # an id that is a list or an object: compared by its spelling
            key = (stream, kind, *(repr(event.get(name)) for name in _STREAM_FIELDS))
            tail = self._tails.pop(key, "")
        self._tails[key] = (tail + delta)[-_DELTA_WINDOW:]
        if len(self._tails) > _DELTA_STREAMS:
            self._tails.popitem(last=False)
        spans = self._carried_spans(tail, delta)
        if not spans:
            return result
        fired = list(result.fired)
        redacted = self.rules._scrub(
            _replace_spans(delta, [(a, b, placeholder(n)) for a, b, n in spans]), fired
        )
        fired.extend(name for _, _, name in spans)
        value = dict(result.value)
        value["delta"] = redacted
        return Redacted(value, _unique(fired))

    def _carried_spans(self, tail: str, delta: str) -> list[tuple[int, int, str]]:
        text = tail + delta
        base = len(tail)
        spans: list[tuple[int, int, str]] = []
        for rule in self.rules._patterns:
            if rule._needle is not None and rule._needle not in text:
                continue
            regex = rule._regex
            assert regex is not None
            for found in regex.finditer(text):
                if found.end() > base:
                    spans.append((max(found.start(), base) - base, found.end() - base, rule.name))
            if rule._prefix:
                start = text.rfind(rule._prefix)
                if start >= 0:
                    match = regex.match(text + _FILLER, start)
                    if match is not None and match.end() > len(text):
                        spans.append((max(start, base) - base, len(delta), rule.name))
        return spans


# -- logs --------------------------------------------------------------------------------------

LOG_RULES_ATTRIBUTE = "harness_redaction"
"""A log record attribute holding the :class:`RedactionRules` to scrub it with (optional)."""


def redact_log_record(record: logging.LogRecord, rules: RedactionRules) -> None:
    """Scrub a log record in place: its message, its traceback and its stack.

    The message is rendered (``msg % args``) and redacted as free text; a traceback is
    rendered to ``exc_text`` and redacted (``exc_info`` is cleared, so no handler renders
    the unredacted original).
    """
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what was logged, redacted
        message = f"{record.msg!r} % {record.args!r}"
    record.msg = rules.redact_free_text(message).value
    record.args = ()
    if record.exc_info:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = rules.redact_free_text(text).value
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = rules.redact_free_text(record.exc_text).value
    if record.stack_info:
        record.stack_info = rules.redact_free_text(record.stack_info).value


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs every record it sees (it never drops one).

    Installed on every logger of ours and on the loggers handed to ``websockets``. A record
    carrying rules in its :data:`LOG_RULES_ATTRIBUTE` attribute is scrubbed with those
    (a recorder's own rules), any other with ``rules`` (the defaults unless given).
    """

    def __init__(self, rules: RedactionRules | None = None) -> None:
        super().__init__()
        self.rules = rules if rules is not None else RedactionRules.default()

    def filter(self, record: logging.LogRecord) -> bool:
        rules = getattr(record, LOG_RULES_ATTRIBUTE, None)
        redact_log_record(record, rules if isinstance(rules, RedactionRules) else self.rules)
        return True


def redacting_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with a :class:`RedactingFilter` installed (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


def redact_url(url: str, rules: RedactionRules) -> str:
    """A URL as it may be shown (in a log or an error): never a secret in it.

    The query goes through the rules' query rules (``api_key=<redacted:...>``), the
    user and password are dropped from the host part, and the result goes through the
    text rules (a key pasted in the path). The fragment is dropped. A string that is not
    a URL at all (``http://[::1``) shows as ``<invalid URL>``.
    """
    try:
        split = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    query = rules.redact_query(parse_qsl(split.query, keep_blank_values=True)).value
    netloc = split.netloc.rpartition("@")[2]  # never show user:password
    shown = urlunsplit((split.scheme, netloc, split.path, urlencode(query, safe="<>:"), ""))
    return rules.redact_text(shown).value
