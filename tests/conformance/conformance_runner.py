"""Run one conformance scenario against a transport and capture what it did.

A scenario (``scenarios/*.json``) is a list of steps played against a capture server on
127.0.0.1 by one client, either the reference under node (``driver.mjs``) or our
``harness.OpenAIRealtimeWebSocket`` in process. Steps:

* ``{"call": "<method>", ...}``: the client calls a transport method (see ``driver.mjs``
  for each call's fields); the runner then waits for the client's sync marker, so every
  frame the call caused has reached the server.
* ``{"server": {...}}``: the server sends that event, then a ``__sync__`` event, and
  waits for the client to answer it (after the client's event loop has run what the
  event queued).
* ``{"server_raw": "text"}``: the same with a raw text frame (e.g. not JSON).
* ``{"server_binary": "text"}``: the same with a binary frame holding that text (UTF-8).
* ``{"server_close": {"code": 1011, "reason": "..."}}``: the server closes; the runner
  waits for the client to report ``disconnected``.
* ``{"clock": ms}``: set the client's clock (``Date.now()`` / the ``clock`` option).
* ``{"use": "<prelude>"}``: the steps of ``scenarios/_preludes.json`` under that name.

Scenario keys: ``name``, ``description``, ``construct`` (constructor options, camelCase),
``redirect`` (connect through the ``createWebSocket`` hook, recording the URL asked for),
``handshake`` (``"accept"``, ``{"status": 403}`` or ``"drop"``), ``loose_errors``
(compare that exceptions happened, not their text), ``deviation`` (why we deliberately
differ: the test then asserts the results differ). ``$SERVER`` in any string is the
capture server's ``ws://127.0.0.1:PORT``.

The result, a JSON value both sides are normalised to: per connection the handshake
(path, query, ``Authorization``, which identification headers were sent) and every
client frame; every event the transport emitted (items as ``item_to_json``, payloads as
the reference's camelCase JSON, bytes as ``{"$bytes": base64}``, exceptions as
``{"$error": message}``); each call's outcome.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import json
import logging
import os
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

import harness.transport as transport_module
from harness.items import item_from_json, item_to_json
from harness.transport import ErrorEvent, OpenAIRealtimeWebSocket

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
DRIVER = HERE / "driver.mjs"
NODE_DIR = HERE / ".node"
TIMEOUT = 10.0
START_CLOCK = 1_000_000


# --------------------------------------------------------------------------- scenarios


def load_scenarios() -> list[dict[str, Any]]:
    """Every scenario, preludes expanded, sorted by file name."""
    preludes = json.loads((SCENARIOS / "_preludes.json").read_text())
    out = []
    for path in sorted(SCENARIOS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        scenario = json.loads(path.read_text())
        scenario.setdefault("name", path.stem)
        steps: list[dict[str, Any]] = []
        for step in scenario["steps"]:
            if "use" in step:
                steps.extend(copy.deepcopy(preludes[step["use"]]))
            else:
                steps.append(step)
        scenario["steps"] = steps
        out.append(scenario)
    return out


def substitute(value: Any, server: str) -> Any:
    if isinstance(value, str):
        return value.replace("$SERVER", server)
    if isinstance(value, list):
        return [substitute(v, server) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, server) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- capture server


@dataclasses.dataclass
class Captured:
    path: str
    query: dict[str, list[str]]
    headers: Headers
    frames: list[Any] = dataclasses.field(default_factory=list)
    connection: ServerConnection | None = None
    closed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "query": self.query,
            "authorization": self.headers.get("Authorization"),
            "user_agent_sent": "User-Agent" in self.headers,
            "sdk_header_sent": "X-OpenAI-Agents-SDK" in self.headers,
            "subprotocol": self.headers.get("Sec-WebSocket-Protocol"),
            "frames": self.frames,
        }


class CaptureServer:
    """A WebSocket server on 127.0.0.1 that records every client frame."""

    def __init__(self, handshake: Any = "accept") -> None:
        self.handshake = handshake
        self.connections: list[Captured] = []
        self.markers: set[str] = set()
        self.changed = asyncio.Event()
        self._server: Any = None
        self._tcp: asyncio.Server | None = None
        self.url = ""
        self.attempts = 0

    async def __aenter__(self) -> CaptureServer:
        if self.handshake == "drop":
            # Accept the TCP connection, read the upgrade request, close: the handshake
            # never completes.
            self._tcp = await asyncio.start_server(self._drop, "127.0.0.1", 0)
            port = self._tcp.sockets[0].getsockname()[1]
        else:
            self._server = await serve(
                self._handler,
                "127.0.0.1",
                0,
                process_request=self._process_request,
                max_size=None,
                compression=None,
            )
            port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def _drop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        self._notify()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts += 1
        if isinstance(self.handshake, dict) and "status" in self.handshake:
            self._notify()
            return connection.respond(HTTPStatus(self.handshake["status"]), "refused\n")
        return None

    async def _handler(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        parts = urlsplit(request.path)
        captured = Captured(parts.path, parse_qs(parts.query), request.headers)
        captured.connection = connection
        self.connections.append(captured)
        self._notify()
        try:
            async for message in connection:
                event = json.loads(message)
                if isinstance(event, dict) and event.get("type") == "__sync__":
                    self.markers.add(event.get("event_id", ""))
                else:
                    captured.frames.append(event)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            captured.closed.set()
            self._notify()

    def _notify(self) -> None:
        self.changed.set()

    async def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"capture server: timed out waiting for {what}") from None

    @property
    def current(self) -> Captured | None:
        if self.connections and not self.connections[-1].closed.is_set():
            return self.connections[-1]
        return None


# --------------------------------------------------------------------------- normalising


def normalize_py(value: Any) -> Any:
    """Our payloads as the JSON the reference's would serialise to."""
    if isinstance(value, ErrorEvent):
        return {"type": "error", "error": normalize_py(value.error)}
    if isinstance(value, transport_module.AudioEvent):
        return {
            "type": "audio",
            "data": {"$bytes": base64.b64encode(value.data).decode()},
            "responseId": value.response_id,
        }
    if isinstance(value, BaseException):
        return {"$error": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_json"):
            return normalize_py(value.to_json())
        return normalize_py(item_to_json(value))  # type: ignore[arg-type]
    if isinstance(value, dict):
        return {str(k): normalize_py(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize_py(v) for v in value]
    return value


def loosen(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$error"}:
            return {"$error": "*"}
        return {k: loosen(v) for k, v in value.items()}
    if isinstance(value, list):
        return [loosen(v) for v in value]
    return value


# --------------------------------------------------------------------------- clients


class Client:
    """What the runner needs from either side."""

    events: list[Any]
    changed: asyncio.Event

    logs: list[str]

    async def start(self) -> None: ...
    async def construct(self, options: dict[str, Any], redirect: str | None) -> None: ...
    async def call(self, index: int, step: dict[str, Any]) -> dict[str, Any]: ...
    async def set_clock(self, ms: int) -> None: ...
    async def stop(self) -> None: ...

    async def wait_event(self, predicate: Callable[[Any], bool], what: str) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while not any(predicate(e) for e in self.events):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"client: timed out waiting for {what}") from None


class NodeClient(Client):
    """The reference, under node, through driver.mjs."""

    def __init__(self) -> None:
        self.events = []
        self.changed = asyncio.Event()
        self._acks: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr = b""
        self._next = 0
        self.logs = []

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(DRIVER),
            str(NODE_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            if msg["kind"] == "event":
                self.events.append([msg["name"], *msg["args"]])
                self.changed.set()
            elif msg["kind"] == "ack":
                future = self._acks.pop(msg["id"], None)
                if future is not None and not future.done():
                    future.set_result(msg)
        for future in self._acks.values():
            if not future.done():
                future.set_exception(AssertionError("node driver exited"))

    async def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        self._next += 1
        command["id"] = self._next
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[self._next] = future
        self._proc.stdin.write((json.dumps(command) + "\n").encode())
        await self._proc.stdin.drain()
        try:
            async with asyncio.timeout(TIMEOUT):
                return await future
        except TimeoutError:
            raise AssertionError(f"node driver did not answer {command}") from None

    async def construct(self, options: dict[str, Any], redirect: str | None) -> None:
        await self._send({"op": "construct", "options": options, "redirect": redirect})

    async def call(self, index: int, step: dict[str, Any]) -> dict[str, Any]:
        ack = await self._send({"op": "call", "step": step})
        return {
            "ok": ack["ok"],
            "error": ack.get("error"),
            "status": ack["status"],
            "result": ack.get("result"),
            "marker": ack.get("marker"),
        }

    async def set_clock(self, ms: int) -> None:
        await self._send({"op": "clock", "ms": ms})

    async def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.write(b'{"op": "exit"}\n')
                await proc.stdin.drain()
        try:
            async with asyncio.timeout(TIMEOUT):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader
        if proc.stderr is not None:
            self._stderr = await proc.stderr.read()
        self.logs = [line for line in self._stderr.decode(errors="replace").splitlines() if line]


_CAMEL_CONSTRUCT = {
    "apiKey": "api_key",
    "url": "url",
    "model": "model",
    "useInsecureApiKey": "use_insecure_api_key",
    "skipOpenEventListeners": "skip_open_event_listeners",
}


class _LogCapture(logging.Handler):
    """What our transport logs at WARNING and above (the reference warns on stderr)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


class PyClient(Client):
    """Our transport, in this process."""

    def __init__(self) -> None:
        self.events = []
        self.changed = asyncio.Event()
        self.now = START_CLOCK
        self.t: OpenAIRealtimeWebSocket | None = None
        self._listeners: dict[str, Callable[..., None]] = {}
        self.logs = []
        self._handler = _LogCapture(self.logs)

    async def start(self) -> None:
        logger = logging.getLogger("harness.transport")
        logger.addHandler(self._handler)

    def _record(self, name: str, *args: Any) -> None:
        self.events.append([name, *[normalize_py(a) for a in args]])
        self.changed.set()

    async def construct(self, options: dict[str, Any], redirect: str | None) -> None:
        kwargs: dict[str, Any] = {_CAMEL_CONSTRUCT[k]: v for k, v in options.items()}
        if redirect is not None:

            async def create_websocket(o: transport_module.CreateWebSocketOptions) -> Any:
                self._record("__create_websocket__", o.url)
                parts = urlsplit(o.url)
                target = redirect + parts.path + (f"?{parts.query}" if parts.query else "")
                return await ws_connect(
                    target,
                    additional_headers={"Authorization": o.headers["Authorization"]},
                    user_agent_header=None,
                    proxy=None,
                )

            kwargs["create_websocket"] = create_websocket
        t = OpenAIRealtimeWebSocket(**kwargs, clock=lambda: float(self.now))
        original = t.emit

        def emit(name: str, *args: Any) -> bool:
            if name == "*" and isinstance(args[0], dict) and args[0].get("type") == "__sync__":
                event_id = args[0].get("event_id")
                asyncio.get_running_loop().call_soon(self._answer_sync, event_id)
                return original(name, *args)
            self._record(name, *args)
            return original(name, *args)

        t.emit = emit  # type: ignore[method-assign]
        t.on("error", lambda _event: None)
        self.t = t

    def _answer_sync(self, event_id: Any) -> None:
        assert self.t is not None
        with contextlib.suppress(Exception):
            self.t.send_event({"type": "__sync__", "event_id": event_id})

    async def call(self, index: int, step: dict[str, Any]) -> dict[str, Any]:
        ok, error, result = True, None, None
        try:
            result = await self._call(step)
        except Exception as exc:
            ok, error = False, str(exc)
        for _ in range(3):
            await asyncio.sleep(0)  # let what the call scheduled run (the reference's flush)
        assert self.t is not None
        marker = None
        if self.t.status == "connected":
            marker = f"call_{index}"
            try:
                self.t.send_event({"type": "__sync__", "event_id": marker})
            except Exception:
                marker = None
        return {
            "ok": ok,
            "error": error,
            "status": self.t.status,
            "result": result,
            "marker": marker,
        }

    async def _call(self, step: dict[str, Any]) -> Any:
        t = self.t
        assert t is not None
        name = step["call"]
        if name == "connect":
            o = step.get("options", {})
            kwargs: dict[str, Any] = {}
            if "apiKey" in o:
                kwargs["api_key"] = o["apiKey"]
            if "apiKeyFunction" in o:
                value = o["apiKeyFunction"]

                async def key() -> str:
                    return str(value)

                kwargs["api_key"] = key
            for camel, snake in (
                ("model", "model"),
                ("url", "url"),
                ("callId", "call_id"),
                ("initialSessionConfig", "initial_session_config"),
            ):
                if camel in o:
                    kwargs[snake] = o[camel]
            await t.connect(**kwargs)
            return None
        if name == "close":
            t.close()
            return None
        if name == "send_event":
            t.send_event(step["event"])
            return None
        if name == "send_message":
            kw = (
                {"trigger_response": step["trigger_response"]} if "trigger_response" in step else {}
            )
            t.send_message(step["message"], step.get("other", {}), **kw)
            return None
        if name == "add_image":
            kw = (
                {"trigger_response": step["trigger_response"]} if "trigger_response" in step else {}
            )
            t.add_image(step["image"], **kw)
            return None
        if name == "send_audio":
            kw = {"commit": step["commit"]} if "commit" in step else {}
            t.send_audio(base64.b64decode(step["audio_b64"]), **kw)
            return None
        if name == "update_session_config":
            t.update_session_config(step["config"])
            return None
        if name == "send_function_call_output":
            if "start_response" in step:
                t.send_function_call_output(
                    step["tool_call"], step["output"], step["start_response"]
                )
            else:
                t.send_function_call_output(step["tool_call"], step["output"])
            return None
        if name == "send_mcp_response":
            request = step["approval_request"]
            if "reason" in step:
                t.send_mcp_response(request, step["approved"], step["reason"])
            else:
                t.send_mcp_response(request, step["approved"])
            return None
        if name == "request_response":
            if "response" in step:
                t.request_response(step["response"])
            else:
                t.request_response()
            return None
        if name == "interrupt":
            if "cancel" in step:
                t.interrupt(step["cancel"])
            else:
                t.interrupt()
            return None
        if name == "_interrupt":
            if "cancel" in step:
                t._interrupt(step["elapsed"], step["cancel"])
            else:
                t._interrupt(step["elapsed"])
            return None
        if name == "_cancel_response":
            t._cancel_response()
            return None
        if name == "mute":
            t.mute(step["muted"])
            return None
        if name == "reset_history":
            old = [item_from_json(i) for i in step["old"]]
            new = [item_from_json(i) for i in step["new"]]
            t.reset_history(old, new)
            return None
        if name == "set_current_model":
            t.current_model = step["model"]
            return None
        if name == "set_tracing_config":
            t._tracing_config = step["value"]
            return None
        if name == "props":
            return {
                "status": t.status,
                "currentModel": t.current_model,
                "muted": t.muted,
                "connectionStatus": t.connection_state.status,
            }
        if name == "emit":
            return t.emit(step["event"], *step.get("args", []))
        if name in ("on", "once"):
            label, event = step["label"], step["event"]

            def listener(*args: Any) -> None:
                self._record("__listener__", label, event, *args)

            self._listeners[label] = listener
            getattr(t, name)(event, listener)
            return None
        if name == "off":
            t.off(step["event"], self._listeners[step["label"]])
            return None
        raise AssertionError(f"unknown call {name}")

    async def set_clock(self, ms: int) -> None:
        self.now = ms

    async def stop(self) -> None:
        try:
            if self.t is not None:
                async with asyncio.timeout(TIMEOUT):
                    await self.t.aclose()
        finally:
            logging.getLogger("harness.transport").removeHandler(self._handler)


# --------------------------------------------------------------------------- running


async def run_scenario(scenario: dict[str, Any], client: Client) -> dict[str, Any]:
    """Play ``scenario`` with ``client``; return the normalised result."""
    acks: list[dict[str, Any]] = []
    async with CaptureServer(scenario.get("handshake", "accept")) as server:
        steps = substitute(scenario["steps"], server.url)
        await client.start()
        try:
            redirect = server.url if scenario.get("redirect") else None
            await client.construct(substitute(scenario.get("construct", {}), server.url), redirect)
            sync = 0
            for index, step in enumerate(steps, 1):
                if "call" in step:
                    ack = await client.call(index, step)
                    marker = ack.pop("marker")
                    if marker is not None:
                        await server.wait_for(
                            lambda m=marker: m in server.markers, f"marker {marker}"
                        )
                    if ack["status"] == "disconnected" and server.connections:
                        last = server.connections[-1]
                        await server.wait_for(last.closed.is_set, "the connection to close")
                    acks.append({"call": step["call"], **ack})
                elif "server" in step or "server_raw" in step or "server_binary" in step:
                    current = server.current
                    assert current is not None and current.connection is not None, (
                        f"step {index}: no open connection to send on"
                    )
                    if "server_binary" in step:
                        await current.connection.send(step["server_binary"].encode())
                    elif "server_raw" in step:
                        await current.connection.send(step["server_raw"])
                    else:
                        await current.connection.send(json.dumps(step["server"]))
                    sync += 1
                    marker = f"sync_{sync}"
                    await current.connection.send(
                        json.dumps({"type": "__sync__", "event_id": marker})
                    )
                    await server.wait_for(lambda m=marker: m in server.markers, f"marker {marker}")
                elif "server_close" in step:
                    current = server.current
                    assert current is not None and current.connection is not None
                    await current.connection.close(
                        step["server_close"].get("code", 1000),
                        step["server_close"].get("reason", ""),
                    )
                    await client.wait_event(
                        lambda e: e[:2] == ["connection_change", "disconnected"], "disconnected"
                    )
                elif "clock" in step:
                    await client.set_clock(step["clock"])
                else:
                    raise AssertionError(f"step {index}: unknown step {step}")
        finally:
            await client.stop()
    result = {
        "connections": [c.summary() for c in server.connections],
        "handshake_attempts": server.attempts,
        "events": client.events,
        "calls": acks,
        "logs": client.logs,
    }
    if scenario.get("loose_errors"):
        result = loosen(result)
        for ack in result["calls"]:
            if ack["error"] is not None:
                ack["error"] = "*"
    return result


def node_available() -> str | None:
    """Why the reference cannot run here, or ``None`` if it can."""
    import shutil

    if shutil.which("node") is None:
        return "node is not installed (the conformance suite runs the reference under node)"
    if shutil.which("npm") is None:
        return "npm is not installed (needed to install @openai/agents-realtime 0.20.0)"
    return None


def install_reference() -> None:
    """``npm ci`` the pinned reference into .node/ (git-ignored), once."""
    import shutil
    import subprocess

    marker = NODE_DIR / "node_modules" / "@openai" / "agents-realtime" / "package.json"
    lock = HERE / "package-lock.json"
    stamp = NODE_DIR / ".installed-from"
    wanted = lock.read_text()
    if marker.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    NODE_DIR.mkdir(exist_ok=True)
    shutil.copy(HERE / "package.json", NODE_DIR / "package.json")
    shutil.copy(lock, NODE_DIR / "package-lock.json")
    env = dict(os.environ, npm_config_fund="false", npm_config_audit="false")
    proc = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm ci failed in {NODE_DIR}:\n{proc.stdout}\n{proc.stderr}")
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    """``python tests/conformance/conformance_runner.py NAME``: run one scenario, both sides.

    Prints the reference's result and, where ours differs, each difference.
    """
    reason = node_available()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    install_reference()
    wanted = argv[1:] or [s["name"] for s in load_scenarios()]
    by_name = {s["name"]: s for s in load_scenarios()}
    failed = 0

    async def one(name: str) -> list[str]:
        reference = await run_scenario(by_name[name], NodeClient())
        ours = await run_scenario(by_name[name], PyClient())
        if len(wanted) == 1:
            print(json.dumps(reference, indent=1))
        return _differences(reference, ours)

    for name in wanted:
        differences = asyncio.run(one(name))
        verdict = "same" if not differences else f"{len(differences)} difference(s)"
        if by_name[name].get("deviation"):
            verdict += " (deliberate deviation)"
        print(f"{name}: {verdict}")
        for line in differences:
            print(f"  {line}")
        failed += bool(differences) and not by_name[name].get("deviation")
    return 1 if failed else 0


def _differences(reference: Any, ours: Any, path: str = "$") -> list[str]:
    """Where two results differ, as JSON paths with both values."""
    if type(reference) is not type(ours):
        return [f"{path}: reference {json.dumps(reference)[:300]}, ours {json.dumps(ours)[:300]}"]
    if isinstance(reference, dict):
        out = []
        for key in dict.fromkeys([*reference, *ours]):
            if key not in reference or key not in ours:
                out.append(f"{path}.{key}: only in {'ours' if key in ours else 'reference'}")
            else:
                out += _differences(reference[key], ours[key], f"{path}.{key}")
        return out
    if isinstance(reference, list):
        out = []
        for i in range(max(len(reference), len(ours))):
            if i >= len(reference) or i >= len(ours):
                side, extra = ("ours", ours[i]) if i < len(ours) else ("reference", reference[i])
                out.append(f"{path}[{i}]: only in {side}: {json.dumps(extra)[:300]}")
            else:
                out += _differences(reference[i], ours[i], f"{path}[{i}]")
        return out
    if reference != ours:
        return [f"{path}: reference {json.dumps(reference)[:300]}, ours {json.dumps(ours)[:300]}"]
    return []


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv))
