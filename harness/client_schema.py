"""What a client may send in ``session.update``, ``response.create`` and items, as data.

The fake server's simulate mode (:mod:`harness.conversation`) checks every client event
against these specs before it changes anything, and answers what does not fit with the API's
own ``error`` event naming the parameter (``unknown_parameter``, ``invalid_type``,
``invalid_value``, ...), so a simulated session always stays a valid one. Pure core.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from harness._json import JSONObject

__all__ = [
    "ITEM_SPECS",
    "PART_SPECS",
    "RESPONSE_SPEC",
    "SESSION_SPEC",
    "Nullable",
    "apply_update",
    "kind_of",
    "refusal_of",
]
#
# What a client may put in ``session.update`` and ``response.create``, as data: the GA
# session shape (Realtime API reference, "session.update"; the same fields the official
# ``openai`` package's ``RealtimeSessionCreateRequest`` declares, which tests/
# test_hostile_simulate.py checks every simulated event against). A value that does not
# fit is refused with the API's own error (``unknown_parameter``, ``invalid_type``,
# ``invalid_value``) and changes nothing, so the session always stays a valid one.
# Objects marked ``merge`` take an update key by key; every other value (a string, a list,
# a union of objects told apart by ``type`` such as ``turn_detection``) is replaced whole,
# as the API replaces it, a tagged object getting that variant's defaults for what it
# omits.


@dataclass(frozen=True, slots=True)
class _Scalar:
    kinds: tuple[type, ...]
    label: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class _Enum:
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _List:
    item: Any


@dataclass(frozen=True, slots=True)
class _Object:
    fields: Mapping[str, Any]
    required: frozenset[str] = frozenset()
    merge: bool = False
    any_keys: bool = False  # a JSON schema, metadata: any keys (values: ``fields["*"]``)


@dataclass(frozen=True, slots=True)
class _Tagged:
    variants: Mapping[str, _Object]
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _OneOf:
    options: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Nullable:
    spec: Any


_JSON_ANY: Final = object()  # any JSON value
_STR: Final = _Scalar((str,), "a string")
_BOOL: Final = _Scalar((bool,), "a boolean")
_INT: Final = _Scalar((int,), "an integer", 0)
_UNIT: Final = _Scalar((int, float), "a number", 0, 1)
_OPEN: Final = _Object({"*": _JSON_ANY}, any_keys=True)
_STRINGS: Final = _Object({"*": _STR}, any_keys=True)

_AUDIO_FORMAT: Final = _Tagged(
    {
        "audio/pcm": _Object({"type": _STR, "rate": _Scalar((int,), "24000", 24000, 24000)}),
        "audio/pcmu": _Object({"type": _STR}),
        "audio/pcma": _Object({"type": _STR}),
    },
    {"audio/pcm": {"rate": 24000}},
)
_VAD_COMMON: Final = {"type": _STR, "create_response": _BOOL, "interrupt_response": _BOOL}
_TURN_DETECTION: Final = Nullable(
    _Tagged(
        {
            "server_vad": _Object(
                {
                    **_VAD_COMMON,
                    "threshold": _UNIT,
                    "prefix_padding_ms": _INT,
                    "silence_duration_ms": _INT,
                    "idle_timeout_ms": Nullable(_INT),
                }
            ),
            "semantic_vad": _Object(
                {**_VAD_COMMON, "eagerness": _Enum(("low", "medium", "high", "auto"))}
            ),
        },
        {
            "server_vad": {
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 200,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
            "semantic_vad": {
                "eagerness": "auto",
                "create_response": True,
                "interrupt_response": True,
            },
        },
    )
)
_OUTPUT_MODALITIES: Final = _List(_Enum(("text", "audio")))
_MAX_OUTPUT_TOKENS: Final = _OneOf((_Scalar((int,), "an integer", 1, 4096), _Enum(("inf",))))
# openai's realtime_tools_config_union.Mcp; "authorization" and "headers" are secrets the
# recorder redacts (README: Redaction), so they are checked like any other field here.
_MCP_TOOL_FILTER: Final = _Object(
    {"read_only": Nullable(_BOOL), "tool_names": Nullable(_List(_STR))}
)
_MCP_TOOL: Final = _Object(
    {
        "type": _STR,
        "server_label": _STR,
        "allowed_callers": Nullable(_List(_Enum(("direct", "programmatic")))),
        "allowed_tools": Nullable(_OneOf((_List(_STR), _MCP_TOOL_FILTER))),
        "authorization": Nullable(_STR),
        "connector_id": Nullable(
            _Enum(
                (
                    "connector_dropbox",
                    "connector_gmail",
                    "connector_googlecalendar",
                    "connector_googledrive",
                    "connector_microsoftteams",
                    "connector_outlookcalendar",
                    "connector_outlookemail",
                    "connector_sharepoint",
                )
            )
        ),
        "defer_loading": Nullable(_BOOL),
        "headers": Nullable(_STRINGS),
        "require_approval": Nullable(
            _OneOf(
                (
                    _Enum(("always", "never")),
                    _Object(
                        {"always": Nullable(_MCP_TOOL_FILTER), "never": Nullable(_MCP_TOOL_FILTER)}
                    ),
                )
            )
        ),
        "server_description": Nullable(_STR),
        "server_url": Nullable(_STR),
        "tunnel_id": Nullable(_STR),
    },
    frozenset({"server_label"}),
)
_TOOLS: Final = _List(
    _Tagged(
        {
            "function": _Object(
                {"type": _STR, "name": _STR, "description": _STR, "parameters": _OPEN}
            ),
            "mcp": _MCP_TOOL,
        }
    )
)
_TOOL_CHOICE: Final = _OneOf(
    (
        _Enum(("auto", "none", "required")),
        _Tagged(
            {
                "function": _Object({"type": _STR, "name": _STR}, frozenset({"name"})),
                "mcp": _Object(
                    {"type": _STR, "server_label": _STR, "name": Nullable(_STR)},
                    frozenset({"server_label"}),
                ),
            }
        ),
    )
)
_VOICE: Final = _STR
SESSION_SPEC: Final = _Object(
    {
        "type": _Enum(("realtime",)),
        "model": _STR,
        "instructions": _STR,
        "output_modalities": _OUTPUT_MODALITIES,
        "max_output_tokens": _MAX_OUTPUT_TOKENS,
        "tools": _TOOLS,
        "tool_choice": _TOOL_CHOICE,
        "tracing": Nullable(
            _OneOf(
                (
                    _Enum(("auto",)),
                    _Object({"workflow_name": _STR, "group_id": _STR, "metadata": _OPEN}),
                )
            )
        ),
        "prompt": Nullable(
            _Object({"id": _STR, "version": Nullable(_STR), "variables": _OPEN}, frozenset({"id"}))
        ),
        "include": Nullable(_List(_Enum(("item.input_audio_transcription.logprobs",)))),
        "truncation": _OneOf(
            (
                _Enum(("auto", "disabled")),
                _Tagged(
                    {
                        "retention_ratio": _Object(
                            {
                                "type": _STR,
                                "retention_ratio": _UNIT,
                                "token_limits": _Object({"post_instructions": _INT}),
                            },
                            frozenset({"retention_ratio"}),
                        )
                    }
                ),
            )
        ),
        "audio": _Object(
            {
                "input": _Object(
                    {
                        "format": _AUDIO_FORMAT,
                        "transcription": Nullable(
                            _Object({"model": _STR, "language": _STR, "prompt": _STR})
                        ),
                        "noise_reduction": Nullable(
                            _Object(
                                {"type": _Enum(("near_field", "far_field"))}, frozenset({"type"})
                            )
                        ),
                        "turn_detection": _TURN_DETECTION,
                    },
                    merge=True,
                ),
                "output": _Object(
                    {
                        "format": _AUDIO_FORMAT,
                        "voice": _VOICE,
                        "speed": _Scalar((int, float), "a number", 0.25, 1.5),
                    },
                    merge=True,
                ),
            },
            merge=True,
        ),
    },
    merge=True,
)
# response.create's "response": the per-response overrides the simulator honours.
RESPONSE_SPEC: Final = _Object(
    {
        "conversation": _Enum(("auto", "none")),
        "metadata": Nullable(_STRINGS),
        "output_modalities": _OUTPUT_MODALITIES,
        "max_output_tokens": _MAX_OUTPUT_TOKENS,
        "instructions": _STR,
        "tools": _TOOLS,
        "tool_choice": _TOOL_CHOICE,
        "input": _List(_OPEN),
        "prompt": SESSION_SPEC.fields["prompt"],
        "audio": _Object(
            {"output": _Object({"format": _AUDIO_FORMAT, "voice": _VOICE}, merge=True)},
            merge=True,
        ),
    }
)

_Refusal = tuple[str, str, str]  # (code, message, param)


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _expected(spec: Any) -> str:
    if isinstance(spec, _Scalar):
        return spec.label
    if isinstance(spec, _Enum):
        return "a string"
    if isinstance(spec, _List):
        return "an array"
    if isinstance(spec, Nullable):
        return _expected(spec.spec) + " or null"
    if isinstance(spec, _OneOf):
        return " or ".join(dict.fromkeys(_expected(o) for o in spec.options))
    return "an object"


def _shape_fits(value: Any, spec: Any) -> bool:
    """Whether ``value`` is of the JSON kind ``spec`` describes (not yet its details)."""
    if spec is _JSON_ANY:
        return True
    if isinstance(spec, Nullable):
        return value is None or _shape_fits(value, spec.spec)
    if isinstance(spec, _OneOf):
        return any(_shape_fits(value, o) for o in spec.options)
    if isinstance(spec, _Scalar):
        if isinstance(value, bool):
            return bool in spec.kinds
        return isinstance(value, spec.kinds) and bool not in spec.kinds
    if isinstance(spec, _Enum):
        return isinstance(value, str)
    if isinstance(spec, _List):
        return isinstance(value, list)
    return isinstance(value, dict)


def _supported(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def refusal_of(value: Any, spec: Any, param: str) -> _Refusal | None:
    """Why the API would refuse ``value`` at ``param`` (``None``: it fits ``spec``)."""
    if spec is _JSON_ANY:
        return None
    if not _shape_fits(value, spec):
        return (
            "invalid_type",
            f"Invalid type for '{param}': expected {_expected(spec)}, but got "
            f"{kind_of(value)} instead.",
            param,
        )
    if isinstance(spec, Nullable):
        return None if value is None else refusal_of(value, spec.spec, param)
    if isinstance(spec, _OneOf):
        fitting = [o for o in spec.options if _shape_fits(value, o)]
        refusals = [refusal_of(value, o, param) for o in fitting]
        return None if any(r is None for r in refusals) else refusals[0]
    if isinstance(spec, _Scalar):
        number = "integer" if float not in spec.kinds else "decimal"
        if spec.minimum is not None and value < spec.minimum:
            return (
                f"{number}_below_min_value",
                f"Invalid '{param}': expected a value >= {spec.minimum:g}, but got "
                f"{value!r} instead.",
                param,
            )
        if spec.maximum is not None and value > spec.maximum:
            return (
                f"{number}_above_max_value",
                f"Invalid '{param}': expected a value <= {spec.maximum:g}, but got "
                f"{value!r} instead.",
                param,
            )
        return None
    if isinstance(spec, _Enum):
        if value in spec.values:
            return None
        return (
            "invalid_value",
            f"Invalid value: '{value}'. Supported values are: {_supported(spec.values)}.",
            param,
        )
    if isinstance(spec, _List):
        for index, item in enumerate(value):
            refusal = refusal_of(item, spec.item, f"{param}[{index}]")
            if refusal is not None:
                return refusal
        return None
    if isinstance(spec, _Tagged):
        tag = value.get("type")
        if tag is None:
            return (
                "missing_required_parameter",
                f"Missing required parameter: '{param}.type'.",
                f"{param}.type",
            )
        if not isinstance(tag, str) or tag not in spec.variants:
            return refusal_of(tag, _Enum(tuple(spec.variants)), f"{param}.type")
        return refusal_of(value, spec.variants[tag], param)
    assert isinstance(spec, _Object)
    for key, child in value.items():
        sub = spec.fields.get(key, spec.fields.get("*") if spec.any_keys else None)
        if sub is None:
            return ("unknown_parameter", f"Unknown parameter: '{param}.{key}'.", f"{param}.{key}")
        refusal = refusal_of(child, sub, f"{param}.{key}")
        if refusal is not None:
            return refusal
    for key in sorted(spec.required - value.keys()):
        return (
            "missing_required_parameter",
            f"Missing required parameter: '{param}.{key}'.",
            f"{param}.{key}",
        )
    return None


def apply_update(into: JSONObject, update: Mapping[str, Any], spec: _Object) -> None:
    """Merge a valid ``update`` into ``into`` as the API does (see the schema's comment)."""
    for key, value in update.items():
        sub = spec.fields.get(key)
        if isinstance(sub, Nullable) and value is not None:
            sub = sub.spec
        if isinstance(sub, _OneOf) and isinstance(value, dict):
            sub = next(o for o in sub.options if _shape_fits(value, o))
        current = into.get(key)
        if isinstance(sub, _Object) and sub.merge and isinstance(current, dict):
            apply_update(current, value, sub)
        elif isinstance(sub, _Tagged) and isinstance(value, dict):
            tag = value["type"]
            into[key] = {"type": tag, **sub.defaults.get(tag, {}), **copy.deepcopy(value)}
        else:
            into[key] = copy.deepcopy(value)


_STATUS: Final = _Enum(("completed", "in_progress", "incomplete"))
_ITEM_COMMON: Final = {
    "id": _STR,
    "type": _STR,
    "object": _Enum(("realtime.item",)),
    "status": _STATUS,
}
# The fields of each creatable item (API reference, "conversation.item.create"); a message's
# role and content parts are checked first, with their own messages (_check_item).
ITEM_SPECS: Final[Mapping[str, _Object]] = {
    "message": _Object({**_ITEM_COMMON, "role": _STR, "content": _List(_JSON_ANY)}),
    "function_call": _Object(
        {**_ITEM_COMMON, "call_id": Nullable(_STR), "name": _STR, "arguments": _STR},
        frozenset({"name", "arguments"}),
    ),
    "function_call_output": _Object(
        {**_ITEM_COMMON, "call_id": _STR, "output": _STR}, frozenset({"call_id", "output"})
    ),
    "mcp_approval_response": _Object(
        {
            "id": _STR,
            "type": _STR,
            "approval_request_id": _STR,
            "approve": _BOOL,
            "reason": Nullable(_STR),
        },
        frozenset({"approval_request_id", "approve"}),
    ),
}
_OPT_STR: Final = Nullable(_STR)
PART_SPECS: Final[Mapping[str, _Object]] = {
    "input_text": _Object({"type": _STR, "text": _OPT_STR}),
    "output_text": _Object({"type": _STR, "text": _OPT_STR}),
    "input_audio": _Object({"type": _STR, "audio": _OPT_STR, "transcript": _OPT_STR}),
    "output_audio": _Object({"type": _STR, "audio": _OPT_STR, "transcript": _OPT_STR}),
    "input_image": _Object(
        {"type": _STR, "image_url": _OPT_STR, "detail": Nullable(_Enum(("auto", "low", "high")))}
    ),
}
