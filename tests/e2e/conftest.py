"""Fixtures shared by the recipe tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._node import install_js_sdk, node_missing


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The pinned JS SDK's ``node_modules`` (``npm ci``'d once); skips where node is absent."""
    reason = node_missing()
    if reason is not None:
        pytest.skip(reason)
    return install_js_sdk()
