"""The ``openai-agents`` Python SDK (which pins ``websockets<17``) against simulate mode.

This module runs in the second CI environment (``.ci/run`` builds it with websockets 16 and
``openai-agents``); in an environment without the SDK it is skipped with the reason printed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness import FakeRealtimeServer

agents_realtime = pytest.importorskip(
    "agents.realtime",
    reason="openai-agents is not installed here; .ci/run tests it in its websockets-16 venv",
)


async def _run_session(server: FakeRealtimeServer, text: str) -> list[str]:
    agent = agents_realtime.RealtimeAgent(name="assistant", instructions="Be brief.")
    runner = agents_realtime.RealtimeRunner(agent)
    seen: list[str] = []
    session = await runner.run(model_config={"api_key": "sk-agents-not-real", "url": server.url})
    async with session:
        await session.send_message(text)
        async for event in session:
            seen.append(event.type)
            if event.type == "error":
                raise AssertionError(f"the SDK reported an error: {event}")
            if event.type == "history_added" and _has_user_text([event.item], text):
                # the item round-tripped through the server and back into the SDK's history
                break
    return seen


def _has_user_text(history: list[Any], text: str) -> bool:
    for item in history:
        if getattr(item, "role", None) != "user":
            continue
        for part in getattr(item, "content", []):
            if getattr(part, "text", None) == text:
                return True
    return False


async def test_openai_agents_session_round_trips_a_message() -> None:
    async with FakeRealtimeServer.simulate() as server:
        async with asyncio.timeout(15):
            seen = await _run_session(server, "hello from the SDK")
    assert "history_added" in seen
    [session] = server.sessions
    users = [i for i in session.conversation.items if i.get("role") == "user"]
    assert [u["content"][0]["text"] for u in users] == ["hello from the SDK"]
