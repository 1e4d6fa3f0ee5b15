"""realtime-harness: record-and-replay testing for the OpenAI Realtime API.

``import harness`` gives the public face; it pulls in neither hypothesis nor pytest
(import ``harness.strategies`` and ``harness.checker`` by name). The classes that do I/O
(:class:`FakeRealtimeServer`, :class:`OpenAIRealtimeWebSocket`, :class:`RecordingProxy`,
:class:`TransportTap`) load on first use (PEP 562), so ``import harness.server`` or
``from harness import load_cassette`` does not load the transport or ``websockets``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from harness import errors as _errors
from harness.cassette import (
    Cassette,
    CassetteReader,
    CassetteWriter,
    Frame,
    Header,
    Side,
    load_cassette,
    open_cassette,
)
from harness.conversation import Conversation, SimulatedSession
from harness.errors import *  # noqa: F403
from harness.errors import __all__ as _errors_all
from harness.history import ResetPlan, diff_realtime_history, plan_reset_history
from harness.inspect import Inspection, inspect_cassette
from harness.items import (
    FunctionCallItem,
    InputAudio,
    InputImage,
    InputText,
    McpApprovalRequestItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    OutputAudio,
    OutputText,
    RealtimeItem,
    item_from_json,
    item_to_json,
)
from harness.matching import MatchRules
from harness.modes import RecordMode
from harness.redaction import RedactionRule, RedactionRules
from harness.scrub import scrub_cassette
from harness.validate import validate_cassette

if TYPE_CHECKING:  # loaded on first use, see __getattr__
    from harness.recorder import RecordingProxy
    from harness.server import FakeRealtimeServer
    from harness.tap import TransportTap
    from harness.transport import OpenAIRealtimeWebSocket

__version__ = "0.2.0"

__all__ = [
    *_errors_all,
    "Cassette",
    "CassetteReader",
    "CassetteWriter",
    "Conversation",
    "FakeRealtimeServer",
    "Frame",
    "FunctionCallItem",
    "Header",
    "InputAudio",
    "InputImage",
    "InputText",
    "Inspection",
    "MatchRules",
    "McpApprovalRequestItem",
    "McpCallItem",
    "McpListToolsItem",
    "MessageItem",
    "OpenAIRealtimeWebSocket",
    "OutputAudio",
    "OutputText",
    "RealtimeItem",
    "RecordMode",
    "RecordingProxy",
    "RedactionRule",
    "RedactionRules",
    "ResetPlan",
    "SimulatedSession",
    "Side",
    "TransportTap",
    "diff_realtime_history",
    "inspect_cassette",
    "item_from_json",
    "item_to_json",
    "load_cassette",
    "open_cassette",
    "plan_reset_history",
    "scrub_cassette",
    "validate_cassette",
]

# The I/O classes and the module that defines each; `from harness import X` imports it then.
_LAZY: dict[str, str] = {
    "FakeRealtimeServer": "harness.server",
    "OpenAIRealtimeWebSocket": "harness.transport",
    "RecordingProxy": "harness.recorder",
    "TransportTap": "harness.tap",
}


def __getattr__(name: str) -> Any:
    if name == "HarnessWarning":  # deprecated (README: "Deprecated names"), until 0.3
        warnings.warn(
            "harness.HarnessWarning is deprecated: the harness never issues it",
            DeprecationWarning,
            stacklevel=2,
        )
        return _errors._HarnessWarning
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
