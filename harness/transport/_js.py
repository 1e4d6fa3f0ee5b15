"""The reference's JavaScript semantics, on JSON values (``?.``, ``??``, truthiness).

Absent keys are :data:`harness.items.UNSET` (JavaScript's ``undefined``); ``None`` is
JSON ``null``. One sentinel for the whole package, shared with :mod:`harness.items`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.items import UNSET

__all__ = ["UNSET", "coalesce", "drop_unset", "is_truthy", "lookup"]


def lookup(obj: object, key: str) -> Any:
    """``obj?.[key]``: :data:`UNSET` when ``obj`` is not a mapping or lacks ``key``."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(key, UNSET)
    return UNSET


def coalesce(value: Any, fallback: Any) -> Any:
    """``value ?? fallback``."""
    return fallback if value is None or value is UNSET else value


def is_truthy(value: object) -> bool:
    """JavaScript truthiness of a JSON value (an empty object or array is truthy)."""
    if value is None or value is UNSET or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def drop_unset(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Drop :data:`UNSET` values, as ``JSON.stringify`` drops ``undefined``, recursively."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is UNSET:
            continue
        out[key] = drop_unset(value) if isinstance(value, dict) else value
    return out
