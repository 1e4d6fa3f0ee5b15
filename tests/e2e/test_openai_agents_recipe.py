"""The README's ``openai-agents`` recipe: a ``RealtimeAgent`` with a function tool, replayed.

Runs in the second CI environment (``.ci/run`` builds ``.venv-ws16`` with websockets 16 and
``openai-agents``, which pins ``websockets<17``); elsewhere it is skipped with the reason.

Two promises are tested: the README block runs as pasted (against the bundled
``cassettes/function_call.jsonl``, made by another client), and the workflow the README
describes, recording the SDK's own session through ``RecordingProxy`` and replaying it with
the default (strict) rules, passes, and fails with the cassette's diff when the tool changes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import FakeRealtimeServer, RecordingProxy
from harness.cassette import Side, load_cassette
from harness.matching import DEFAULT_RULES

from ._readme import ROOT, recipe_block, run_python_block

agents = pytest.importorskip(
    "agents",
    reason="openai-agents is not installed here; .ci/run tests it in its websockets-16 venv",
)
agents_realtime = pytest.importorskip("agents.realtime")

FUNCTION_CALL = ROOT / "cassettes" / "function_call.jsonl"
ANSWER = "It's 18°C and sunny in Paris right now."


def test_readme_recipe_runs_as_pasted(tmp_path: Path) -> None:
    stdout = run_python_block(recipe_block("python", "RealtimeRunner"), tmp_path)
    assert stdout.splitlines()[-1] == f"PASS: {ANSWER}"


@dataclass
class Seen:
    tools: list[tuple[str, str, Any]] = field(default_factory=list)
    answer: str | None = None
    errors: list[Any] = field(default_factory=list)


async def _ask_about_paris(url: str, celsius: int) -> Seen:
    """One agent turn with a tool, as an app would run it; what the SDK saw."""

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return json.dumps({"city": city, "temperature_c": celsius, "conditions": "sunny"})

    agent = agents_realtime.RealtimeAgent(
        name="weather", instructions="Use the tool.", tools=[get_weather]
    )
    runner = agents_realtime.RealtimeRunner(
        agent, config={"model_settings": {"output_modalities": ["text"]}}
    )
    seen = Seen()
    session = await runner.run(model_config={"url": url, "api_key": "sk-agents-not-real"})
    history: list[Any] = []
    async with asyncio.timeout(15), session:
        await session.send_message("What's the weather in Paris?")
        async for event in session:
            if event.type == "error":
                seen.errors.append(event.error)
                break
            if event.type == "tool_end":
                seen.tools.append((event.tool.name, event.arguments, event.output))
            if event.type == "history_updated":
                history = event.history
            if event.type == "agent_end" and seen.tools:
                break
    texts = [part.text for part in getattr(history[-1], "content", []) if history]
    seen.answer = "".join(t for t in texts if t) or None
    return seen


async def _record_the_sdk(cassette: Path) -> Seen:
    """Record the SDK through the proxy, in front of a stand-in for the API.

    The stand-in replays the bundled session, ignoring the SDK's connect-time config (the
    one event the SDK spells differently); the proxy writes what the SDK really sent.
    """
    stand_in_rules = DEFAULT_RULES.ignoring("session.update:session")
    async with FakeRealtimeServer(FUNCTION_CALL, rules=stand_in_rules) as api:
        async with RecordingProxy(api.url, cassette) as proxy:
            seen = await _ask_about_paris(proxy.url, celsius=18)
    api.verdict()
    return seen


async def test_a_session_recorded_from_the_sdk_replays_strictly(tmp_path: Path) -> None:
    cassette = tmp_path / "weather_agent.jsonl"
    recorded = await _record_the_sdk(cassette)
    assert recorded.errors == []
    assert recorded.answer == ANSWER

    # the cassette holds the SDK's own config: its tool schema, as the SDK builds it
    frames = load_cassette(cassette).frames
    [config] = [
        f.event
        for f in frames
        if f.side is Side.CLIENT and f.event_type == "session.update" and f.event
        if "tools" in f.event["session"]
    ]
    [tool] = config["session"]["tools"]
    assert tool["name"] == "get_weather"
    assert tool["parameters"]["properties"]["city"]["type"] == "string"

    async with FakeRealtimeServer(cassette) as server:  # DEFAULT_RULES: every field counts
        replayed = await _ask_about_paris(server.url, celsius=18)
    server.verdict()
    assert replayed.errors == []
    assert [(name, args) for name, args, _ in replayed.tools] == [
        ("get_weather", '{"city":"Paris"}')
    ]
    assert replayed.answer == ANSWER


async def test_a_changed_tool_fails_the_replay_with_the_diff(tmp_path: Path) -> None:
    cassette = tmp_path / "weather_agent.jsonl"
    await _record_the_sdk(cassette)

    async with FakeRealtimeServer(cassette) as server:
        replayed = await _ask_about_paris(server.url, celsius=64)  # the tool changed
    [error] = replayed.errors  # the API's own error event reached the SDK
    assert "cassette_mismatch" in json.dumps(error, default=str)
    [mismatch] = server.mismatches
    assert mismatch.expected is not None and mismatch.expected.event is not None
    assert mismatch.expected.event["item"]["type"] == "function_call_output"
    assert "at $.item.output" in mismatch.report
    # the diff shows both outputs (JSON text inside a JSON string, so its quotes escaped)
    assert 'temperature_c\\": 18' in mismatch.report
    assert 'temperature_c\\": 64' in mismatch.report
