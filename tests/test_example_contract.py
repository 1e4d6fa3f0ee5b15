"""The README's example: a conversation contract for a tool-calling agent, as a user writes it.

It replays the bundled ``cassettes/function_call.jsonl`` through the pytest plugin's
``realtime_server`` fixture (record mode ``none``: no network, no key) and drives our
transport the way an application does; the fixture fails the test if the agent sends
anything the cassette did not record, or leaves recorded frames unplayed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import CassetteMismatch, FakeRealtimeServer, OpenAIRealtimeWebSocket
from harness.transport import ErrorEvent, ToolCallEvent, TurnDoneEvent

CASSETTE = Path(__file__).resolve().parent.parent / "cassettes" / "function_call.jsonl"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 18, "conditions": "sunny"}


async def run_agent(
    url: str, weather: Callable[[str], dict[str, Any]]
) -> tuple[list[ToolCallEvent], str]:
    """The application under test: a text agent with one tool, on our transport."""
    transport = OpenAIRealtimeWebSocket(api_key="test")  # any key: nothing leaves the machine
    calls: list[ToolCallEvent] = []
    turns: asyncio.Queue[TurnDoneEvent | ErrorEvent] = asyncio.Queue()
    text: list[str] = []

    def on_function_call(call: ToolCallEvent) -> None:
        calls.append(call)
        result = weather(**json.loads(call.arguments))
        transport.send_function_call_output(call, json.dumps(result))

    transport.on("function_call", on_function_call)
    transport.on("output_text_delta", lambda event: text.append(event.delta))
    transport.on("turn_done", turns.put_nowait)
    transport.on("error", turns.put_nowait)  # the API refused something: stop there
    await transport.connect(
        url=url,
        model="gpt-realtime",
        initial_session_config={
            "instructions": "Use the tools to answer weather questions.",
            "output_modalities": ["text"],
            "tools": [WEATHER_TOOL],
        },
    )
    try:
        transport.send_message("What's the weather in Paris?")
        for _ in range(2):  # the turn that called the tool, the one that used its result
            turn = await turns.get()
            if isinstance(turn, ErrorEvent):
                raise AssertionError(f"the API answered with an error: {turn.error}")
    finally:
        await transport.aclose()
    return calls, "".join(text)


@pytest.mark.realtime_cassette("../cassettes/function_call.jsonl")
async def test_the_agent_answers_a_weather_question_with_its_tool(realtime_server: Any) -> None:
    async with asyncio.timeout(10):
        calls, answer = await run_agent(realtime_server.url, get_weather)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert answer == "It's 18°C and sunny in Paris right now."


async def test_a_regression_in_the_tool_fails_the_contract_with_a_diff() -> None:
    def broken_weather(city: str) -> dict[str, Any]:
        return {"city": city, "temperature_c": 64, "conditions": "sunny"}  # Fahrenheit!

    async with FakeRealtimeServer(CASSETTE) as server, asyncio.timeout(10):
        # the fake API answers the unrecorded frame as the API would refuse it
        with pytest.raises(AssertionError, match="'code': 'cassette_mismatch'"):
            await run_agent(server.url, broken_weather)
    with pytest.raises(CassetteMismatch) as info:
        server.verdict()
    report = str(info.value)
    assert "does not match (conversation.item.create)" in report
    assert "at $.item.output" in report
    assert '\\"temperature_c\\": 64' in report
