"""A bench peer: the ``openai-agents`` SDK's ``OpenAIRealtimeWebSocketModel`` receiving
the workload (run in a virtualenv that has ``openai-agents``, which pins websockets<17).

    python bench/_peer_agents.py <url> <expected audio events>

Connects (its session.update is the server's cue to send), counts the model's audio
events (the SDK decodes every delta's base64 and validates each event with pydantic
before emitting it), and prints one JSON line: events/s by wall clock and per CPU second
of this process, timed from the first event to the last audio event, as
bench_transport.py times ours.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from agents.realtime.model import RealtimeModelListener
from agents.realtime.model_events import RealtimeModelAudioEvent
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel


class Counter(RealtimeModelListener):
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.started = self.cpu_started = self.ended = self.cpu_ended = 0.0
        self.done = asyncio.Event()

    async def on_event(self, event: Any) -> None:
        if self.started == 0.0:
            self.started, self.cpu_started = time.perf_counter(), time.process_time()
        if isinstance(event, RealtimeModelAudioEvent):
            self.count += 1
            if self.count == self.expected:
                self.ended, self.cpu_ended = time.perf_counter(), time.process_time()
                self.done.set()
        elif getattr(event, "type", None) == "connection_status" and event.status == "disconnected":
            self.done.set()


async def main(url: str, expected: int) -> int:
    model = OpenAIRealtimeWebSocketModel()
    counter = Counter(expected)
    model.add_listener(counter)
    await model.connect({"api_key": "bench", "url": url})
    await counter.done.wait()
    await model.close()
    if counter.count != expected:
        print(json.dumps({"error": f"got {counter.count} of {expected} audio events"}))
        return 1
    wall = (expected - 1) / (counter.ended - counter.started)
    cpu = (expected - 1) / (counter.cpu_ended - counter.cpu_started)
    print(json.dumps({"wall": wall, "cpu": cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
