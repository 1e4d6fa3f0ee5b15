"""The README's recipe for the official ``openai`` client runs as pasted, and proves its point.

(The ``openai-agents``, node and browser recipes have their own modules: they need an SDK,
node or chromium, and skip with the reason where those are absent.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._readme import recipe_block, run_python_block

pytest.importorskip(
    "openai", reason="the `openai` client is in the test extra: pip install -e '.[test]'"
)


def test_openai_client_recipe_runs_as_pasted(tmp_path: Path) -> None:
    block = recipe_block("python", "AsyncOpenAI")
    assert "websocket_base_url=server.base_url" in block
    stdout = run_python_block(block, tmp_path)
    assert stdout.splitlines()[-1] == "PASS: the server holds Hello!"


def test_openai_client_recipe_fails_when_its_assertion_does(tmp_path: Path) -> None:
    # The block's check is real: the same block expecting other content exits non-zero.
    block = recipe_block("python", "AsyncOpenAI").replace(
        'assert item["content"] == [{"type": "input_text", "text": "Hello!"}]',
        'assert item["content"] == [{"type": "input_text", "text": "Goodbye!"}]',
    )
    with pytest.raises(AssertionError, match="AssertionError"):
        run_python_block(block, tmp_path)
