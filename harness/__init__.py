"""realtime-harness: record-and-replay testing for the OpenAI Realtime API.

``import harness`` gives the public face; it pulls in neither hypothesis nor pytest
(import ``harness.strategies`` and the plugin by name).
"""

from __future__ import annotations

from harness.errors import *  # noqa: F403
from harness.errors import __all__ as _errors_all

__all__ = [*_errors_all]
