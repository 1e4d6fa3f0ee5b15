"""Check a cassette's events against the official ``openai`` types, and scan it for secrets.

``check`` asks whether a file is a cassette; ``validate`` asks whether what it recorded is
what the Realtime API speaks. Every client event is validated against the ``openai``
package's ``RealtimeClientEvent`` union and every server event against its
``RealtimeServerEvent`` union, by their ``type`` (the unions' discriminator):

- an unknown type (``conversation.item.creat``) is a finding;
- a missing field or a field of the wrong type, as pydantic reports it, is a finding;
- a field the ``openai`` models do not declare (they accept extras, so pydantic does not
  object) is a finding, at any depth: this is how a beta-era shape such as
  ``response.modalities`` (GA: ``output_modalities``) shows.

Then every event, binary frame, close reason and the header go through the default
redaction rules (:meth:`harness.redaction.RedactionRules.default`): anything a rule would
still replace is an unredacted secret. The finding names the rule, never the secret.

The ``openai`` package is an optional extra (``pip install 'realtime-harness[validate]'``);
without it :func:`event_models` raises :class:`~harness.errors.UsageError` saying so.

Pure: no I/O but reading the cassette in :func:`validate_cassette`.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from harness.cassette import Frame, Header, Side, StrPath, open_cassette
from harness.errors import UsageError
from harness.redaction import RedactionRules

__all__ = [
    "INSTALL_HINT",
    "Finding",
    "FindingKind",
    "Validation",
    "event_models",
    "validate_cassette",
    "validate_frame",
    "validate_header",
]

INSTALL_HINT = "pip install 'realtime-harness[validate]'"
_MAX_ERRORS_PER_EVENT = 5
# Fields the live GA API sends that the openai models do not declare (session.created and
# session.updated carry the session as the API stores it, the models type it as the request):
# not findings. Keyed by event type, then the location.
_SENT_BUT_UNDECLARED: Mapping[str, frozenset[tuple[str, ...]]] = {
    kind: frozenset({("session", "id"), ("session", "object"), ("session", "expires_at")})
    for kind in ("session.created", "session.updated")
}
_SHOWN = 60  # characters of a wrong value shown in a message (after redaction)


class FindingKind(StrEnum):
    """What a :class:`Finding` is about."""

    UNKNOWN_TYPE = "unknown_type"
    SCHEMA = "schema"  # a missing field or a wrong field type
    UNKNOWN_FIELD = "unknown_field"  # a field the openai models do not declare
    SECRET = "secret"  # an unredacted secret


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with a cassette: ``str()`` reads ``path:line: message``."""

    path: str
    line: int
    kind: FindingKind
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@lru_cache(maxsize=1)
def event_models() -> Mapping[Side, Mapping[str, Any]]:
    """The ``openai`` event model of every type, per side (``{side: {type: model}}``).

    Raises:
        UsageError: the ``openai`` package is not installed.
    """
    try:
        from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    except ImportError:
        raise UsageError(
            f"validate needs the openai package's event types: {INSTALL_HINT}"
        ) from None
    return {
        Side.CLIENT: _by_type(RealtimeClientEvent),
        Side.SERVER: _by_type(RealtimeServerEvent),
    }


def _by_type(union: Any) -> dict[str, Any]:
    members = typing.get_args(typing.get_args(union)[0])  # Annotated[Union[...], info]
    models: dict[str, Any] = {}
    for model in members:
        for literal in typing.get_args(model.model_fields["type"].annotation):
            models[literal] = model
    return models


def _secret_rules() -> RedactionRules:
    return RedactionRules.default()


def _where(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _is_tag(part: int | str) -> bool:
    """A union member's name in a pydantic location (``RealtimeConversationItemUserMessage``)."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def _closest(errors: list[Any]) -> list[Any]:
    """Of a union's members, only the errors of the one that came closest (fewest errors)."""
    plain: list[Any] = []
    groups: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        index = next((i for i, part in enumerate(loc) if _is_tag(part)), None)
        if index is None:
            plain.append(error)
        else:
            groups.setdefault(loc[:index], {}).setdefault(str(loc[index]), []).append(error)
    for members in groups.values():
        best: list[Any] = []
        for group in members.values():
            if not best or len(group) < len(best):
                best = group
        plain.extend(best)
    for error in plain:
        error["loc"] = tuple(part for part in error["loc"] if not _is_tag(part))
    return plain


def _shown(value: Any, rules: RedactionRules) -> str:
    text = repr(value)
    text = rules.redact_text(text).value
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _extras(model: Any, loc: tuple[int | str, ...]) -> Iterator[tuple[int | str, ...]]:
    """The location of every field no openai model declares, depth first."""
    extra = getattr(model, "model_extra", None)
    if extra:
        for key in extra:
            yield (*loc, key)
    fields = getattr(type(model), "model_fields", None)
    if fields is None:
        return
    for name in fields:
        yield from _extras_in(getattr(model, name, None), (*loc, name))


def _extras_in(value: Any, loc: tuple[int | str, ...]) -> Iterator[tuple[int | str, ...]]:
    if hasattr(type(value), "model_fields"):
        yield from _extras(value, loc)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _extras_in(item, (*loc, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _extras_in(item, (*loc, key))


def _schema(
    path: str, frame: Frame, event: dict[str, Any], models: Mapping[str, Any], rules: RedactionRules
) -> Iterator[Finding]:
    from pydantic import ValidationError

    kind = event.get("type")
    side = str(frame.side)
    if not isinstance(kind, str):
        yield Finding(path, frame.lineno, FindingKind.SCHEMA, f"{side} event without a type")
        return
    model = models.get(kind)
    if model is None:
        yield Finding(
            path,
            frame.lineno,
            FindingKind.UNKNOWN_TYPE,
            f"unknown {side} event type {kind!r} (not in openai's "
            f"{'RealtimeClientEvent' if frame.side is Side.CLIENT else 'RealtimeServerEvent'})",
        )
        return
    try:
        parsed = model.model_validate(event)
    except ValidationError as exc:
        errors = _closest(list(exc.errors(include_url=False)))
        for error in errors[:_MAX_ERRORS_PER_EVENT]:
            where = _where(tuple(error["loc"]))
            got = "" if error["type"] == "missing" else f" (got {_shown(error['input'], rules)})"
            yield Finding(
                path,
                frame.lineno,
                FindingKind.SCHEMA,
                f"{side} {kind}: {where}: {error['msg'].lower()}{got}",
            )
        if len(errors) > _MAX_ERRORS_PER_EVENT:
            more = len(errors) - _MAX_ERRORS_PER_EVENT
            yield Finding(
                path,
                frame.lineno,
                FindingKind.SCHEMA,
                f"{side} {kind}: {more} more error{'s' if more != 1 else ''} in this event",
            )
        return
    allowed = _SENT_BUT_UNDECLARED.get(kind, frozenset())
    for loc in _extras(parsed, ()):
        if loc in allowed:
            continue
        yield Finding(
            path,
            frame.lineno,
            FindingKind.UNKNOWN_FIELD,
            f"{side} {kind}: {_where(loc)}: unknown field (openai's {model.__name__} does not "
            "declare it: a beta-era or misspelt field?)",
        )


def _secrets(path: str, frame: Frame, rules: RedactionRules) -> Iterator[Finding]:
    fired: tuple[str, ...] = ()
    if frame.event is not None:
        result = rules.redact_event(frame.event)
        if result.fired and result.value != frame.event:  # a placeholder replaced by itself
            fired = result.fired
    elif frame.binary is not None:
        fired = rules.redact_bytes(frame.binary).fired
    elif frame.close_reason:
        fired = rules.redact_text(frame.close_reason).fired
    if fired:
        yield Finding(
            path,
            frame.lineno,
            FindingKind.SECRET,
            f"unredacted secret in {frame.side} {frame.describe()} (rule "
            f"{', '.join(fired)}): run 'redact' on this cassette",
        )


def validate_frame(
    path: str, frame: Frame, *, rules: RedactionRules | None = None
) -> Iterator[Finding]:
    """The findings of one frame: its event against the openai types, then the secret scan."""
    rules = rules if rules is not None else _secret_rules()
    if frame.event is not None:
        yield from _schema(path, frame, frame.event, event_models()[frame.side], rules)
    yield from _secrets(path, frame, rules)


def validate_header(
    path: str, header: Header, *, rules: RedactionRules | None = None
) -> Iterator[Finding]:
    """Secrets in the header's endpoint query, client or note."""
    rules = rules if rules is not None else _secret_rules()
    query = list(header.query.items())
    result = rules.redact_query(query)
    fired = list(result.fired) if result.value != query else []  # placeholders stay as they are
    for text in (header.client, header.note):
        fired.extend(rules.redact_text(text).fired)
    if fired:
        names = ", ".join(dict.fromkeys(fired))
        yield Finding(
            path,
            1,
            FindingKind.SECRET,
            f"unredacted secret in the header (rule {names}): run 'redact' on this cassette",
        )


class Validation:
    """The findings of one cassette, read in one streaming pass as they are iterated.

    Iterate it once for the findings, in line order; :attr:`frames` then says how many
    frames were read.
    """

    def __init__(self, path: StrPath) -> None:
        self.path = str(path)
        self.frames = 0

    def __iter__(self) -> Iterator[Finding]:
        rules = _secret_rules()
        with open_cassette(self.path) as reader:
            yield from validate_header(self.path, reader.header, rules=rules)
            for frame in reader:
                self.frames += 1
                yield from validate_frame(self.path, frame, rules=rules)


def validate_cassette(path: StrPath) -> Validation:
    """The findings of the cassette at ``path`` (iterate the result), in line order.

    Raises:
        UsageError: the ``openai`` package is not installed (at once, before any reading).
        CassetteNotFound, CassetteError: while iterating, the file is missing or malformed
            (the findings before the bad line have been yielded).
    """
    event_models()
    return Validation(path)
