"""The README's JS SDK recipe: ``@openai/agents-realtime`` under node, against ``serve``.

The recipe's script (the README's ```js block, run as pasted) connects the SDK's
``OpenAIRealtimeWebSocket`` to the URL ``python -m harness serve --once`` printed, asks about
the weather, answers the tool call and prints what it saw; serve prints the verdict. The
recipe's ```sh block runs as pasted too: its serve command, and its node command with the
port serve printed in place of ``PORT``; its ``npm install`` must name the version the
committed lockfile pins, which is what is installed here (``npm ci``). Skipped, with the
reason, where node or npm is absent.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _serve import WAIT, serve

from ._node import NODE_PROJECT, run_bounded
from ._readme import ROOT, recipe_block

pytestmark = pytest.mark.node

FUNCTION_CALL = ROOT / "cassettes" / "function_call.jsonl"
ANSWER = "It's 18°C and sunny in Paris right now."


def _script(tmp_path: Path, node_modules: Path, source: str) -> Path:
    """The script as a file beside a ``node_modules`` link, as in the user's own project."""
    (tmp_path / "node_modules").symlink_to(node_modules, target_is_directory=True)
    script = tmp_path / "agent.mjs"
    script.write_text(source, encoding="utf-8")
    return script


async def _run_node(script: Path, url: str) -> tuple[int, str, str]:
    return await run_bounded(["node", script.name], script.parent, WAIT, env={"REALTIME_URL": url})


def _recipe() -> str:
    return recipe_block("js", "process.env.REALTIME_URL")


async def _run_shell(command: str, cwd: Path) -> tuple[int, str, str]:
    """One README shell line in ``bash``, bounded."""
    return await run_bounded(["bash", "-c", command], cwd, WAIT)


async def test_js_sdk_recipe_plays_the_function_call_cassette(
    tmp_path: Path, node_modules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install, start, said, run = recipe_block("sh", "node agent.mjs").strip().splitlines()
    # npm install: the version the lockfile pins (npm ci'd into node_modules here)
    package = json.loads((NODE_PROJECT / "package.json").read_text(encoding="utf-8"))
    pinned = package["dependencies"]["@openai/agents-realtime"]
    assert install == f"npm install @openai/agents-realtime@{pinned}"
    script = _script(tmp_path, node_modules, _recipe())
    argv = shlex.split(start)
    assert argv[:4] == ["python", "-m", "harness", "serve"], start
    monkeypatch.chdir(ROOT)  # where cassettes/ is, as in the user's project
    async with serve(*argv[4:]) as served:
        shown = re.escape(said.removeprefix("# url: ").split()[0]).replace("PORT", r"\d+")
        assert re.fullmatch(shown, served.url), (said, served.url)
        port = str(urlsplit(served.url).port)
        status, out, err = await _run_shell(run.replace("PORT", port), script.parent)
        assert status == 0, err
        assert out.splitlines() == ['tool: get_weather {"city":"Paris"}', f"answer: {ANSWER}"]
        verdict_status, verdict, _ = await served.finish()
    assert verdict_status == 0, verdict
    assert verdict.splitlines()[-1] == (
        "PASS: cassettes/function_call.jsonl: 1 connection played every recorded frame"
    )


async def test_a_changed_tool_fails_both_sides(tmp_path: Path, node_modules: Path) -> None:
    source = _recipe()
    changed = source.replace('"temperature_c": 18', '"temperature_c": 64')
    assert changed != source
    script = _script(tmp_path, node_modules, changed)
    async with serve(str(FUNCTION_CALL), "--once") as served:
        status, out, err = await _run_node(script, served.url)
        verdict_status, verdict, _ = await served.finish()
    # the SDK got the API's own error event, and the script failed on it
    assert status != 0
    assert "cassette_mismatch" in err
    assert "answer:" not in out
    # serve names the frame at fault, with the diff
    assert verdict_status == 1
    assert verdict.startswith(f"FAIL: {FUNCTION_CALL}")
    assert f"{FUNCTION_CALL}:22: client frame" in verdict
    assert "at $.item.output" in verdict
