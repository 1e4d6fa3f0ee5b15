"""JSON at one boundary: every encode and decode in the harness goes through here.

``orjson`` errors are mapped to :class:`ValueError` subclasses the callers turn into
their own errors with a location; nothing from orjson reaches a user unwrapped.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import orjson

__all__ = ["JSON", "JSONDecodeError", "JSONObject", "dig", "dumps", "dumps_str", "loads"]

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
JSONObject: TypeAlias = "dict[str, Any]"


class JSONDecodeError(ValueError):
    """The text is not JSON; the message says where, as orjson reports it."""


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON bytes."""
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    try:
        return orjson.dumps(value, option=option)
    except TypeError as exc:  # orjson.JSONEncodeError subclasses TypeError
        raise ValueError(f"cannot encode as JSON: {exc}") from exc


def dumps_str(value: Any, *, sort_keys: bool = False) -> str:
    """Encode ``value`` as a compact JSON ``str``."""
    return dumps(value, sort_keys=sort_keys).decode()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON text; raise :class:`JSONDecodeError` (a ``ValueError``) if it is not."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JSONDecodeError(str(exc)) from exc


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or ``None`` where a step is not an object or lacks the key."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
