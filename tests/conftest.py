"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def planted_cassettes_removed(tmp_path: Path) -> Iterator[None]:
    """Remove the test's cassettes once it is done: they hold keys planted on purpose.

    The session's secret scan (``tests/test_secrets_scan.py``) reads every cassette the suite
    wrote under pytest's temporary directory and fails on any key it finds. A module whose
    tests write keys into cassettes on purpose (to show that ``validate`` finds them, that
    ``redact`` removes them, that a report never shows them) says
    ``pytestmark = pytest.mark.usefixtures("planted_cassettes_removed")``.
    """
    yield
    for path in tmp_path.rglob("*.jsonl"):
        path.unlink()
