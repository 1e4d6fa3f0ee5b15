"""No secret in any cassette: plant keys everywhere, record, then scan every cassette.

1. ``test_planted_secrets_never_reach_the_cassette`` records through the proxy and through
   the transport tap with keys planted in every place the issue names: the Authorization
   header, the ``openai-insecure-api-key.`` subprotocol, the ``api_key`` query parameter,
   API keys and ephemeral keys in event payloads on both sides, and MCP tools'
   ``authorization`` and ``headers`` in ``session.update``.
2. The scan reads every cassette this test session wrote (everything under pytest's base
   temporary directory, pytester runs included) and every cassette in the repository, for
   any API or ephemeral key and any handshake credential that is not a placeholder. It runs
   once when this module's test runs and again when the session ends (a session fixture's
   teardown), so cassettes written by tests that run after this module are scanned too.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from harness.errors import RecordingError
from harness.recorder import RecordingProxy
from harness.server import FakeRealtimeServer
from harness.tap import TransportTap
from harness.transport import OpenAIRealtimeWebSocket

REPO = Path(__file__).resolve().parent.parent

API_KEY = "sk-proj-SCANplanted0123456789abcdefghijklmnopqrstu"
HEADER_KEY = "sk-proj-SCANheader0123456789abcdefghijklmnopqrst"
SUBPROTOCOL_KEY = "sk-proj-SCANsubprotocol0123456789abcdefghijklmn"
QUERY_KEY = "sk-proj-SCANquery0123456789abcdefghijklmnopqrstu"
EPHEMERAL_KEY = "ek_68af0c3a1b2c3d4e5f60718293a4b5c6SCAN"
MCP_TOKEN = "mcp-opaque-token-SCAN-7f3e9a"
MCP_HEADER = "mcp-header-value-SCAN-41c2d8"
PLANTED = (API_KEY, HEADER_KEY, SUBPROTOCOL_KEY, QUERY_KEY, EPHEMERAL_KEY, MCP_TOKEN, MCP_HEADER)

# Any key at all, planted here or not: none may be in a cassette.
KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{16,}|ek_[A-Za-z0-9_-]{16,}")
PLACEHOLDER = re.compile(r"<redacted:[A-Za-z0-9_.-]+>")


def _cassettes(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*.jsonl"):
            if "node_modules" in path.parts or ".venv" in path.parts:
                continue
            yield path


def _leaks(path: Path) -> list[str]:
    """What in this file looks like a secret: each with its line number."""
    found: list[str] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # removed meanwhile (another test's temporary file)
        return found
    for lineno, line in enumerate(text.splitlines(), 1):
        for secret in PLANTED:
            if secret in line:
                found.append(f"{path}:{lineno}: planted secret {secret[:12]}...")
        match = KEY_PATTERN.search(line)
        if match is not None:
            found.append(f"{path}:{lineno}: key-like text {match.group()[:12]}...")
        if lineno == 1:
            found.extend(f"{path}:1: {what}" for what in _header_leaks(line))
    return found


def _header_leaks(line: str) -> list[str]:
    try:
        header = json.loads(line)
    except ValueError:
        return []
    if not isinstance(header, dict) or header.get("format") != "realtime-harness-cassette":
        return []
    found = []
    handshake = header.get("handshake") or {}
    for name, value in (handshake.get("headers") or {}).items():
        if name.lower() in ("authorization", "api-key", "cookie") and not PLACEHOLDER.search(
            str(value)
        ):
            found.append(f"handshake header {name} is not redacted")
    for protocol in handshake.get("subprotocols") or []:
        if str(protocol).startswith("openai-insecure-api-key.") and not PLACEHOLDER.search(
            str(protocol)
        ):
            found.append("handshake subprotocol key is not redacted")
    query = (header.get("endpoint") or {}).get("query") or {}
    if query.get("api_key") and not PLACEHOLDER.fullmatch(str(query["api_key"])):
        found.append("endpoint query api_key is not redacted")
    return found


def _scan(roots: tuple[Path, ...]) -> tuple[int, list[str]]:
    files = sorted(set(_cassettes(*roots)))
    return len(files), [leak for path in files for leak in _leaks(path)]


def _roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    return (tmp_path_factory.getbasetemp(), REPO / "cassettes", REPO / "tests")


@pytest.fixture(scope="session")
def scan_at_session_end(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    count, leaks = _scan(_roots(tmp_path_factory))
    if leaks:
        pytest.fail(
            f"secrets found in {len(leaks)} place(s) of {count} cassettes:\n  "
            + "\n  ".join(leaks),
            pytrace=False,
        )


SESSION_UPDATE = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "instructions": f"the key is {API_KEY}; the ephemeral one {EPHEMERAL_KEY}",
        "tools": [
            {
                "type": "mcp",
                "server_label": "planted",
                "server_url": "https://mcp.example/sse",
                "authorization": MCP_TOKEN,
                "headers": {"X-Api-Token": MCP_HEADER},
            }
        ],
    },
}


async def test_planted_secrets_never_reach_the_cassette(tmp_path: Path) -> None:
    proxied = tmp_path / "proxied.jsonl"
    tapped = tmp_path / "tapped.jsonl"
    async with asyncio.timeout(10), FakeRealtimeServer.simulate() as upstream:
        async with RecordingProxy(upstream.url, proxied) as proxy:
            async with connect(
                f"{proxy.url}&api_key={QUERY_KEY}",
                additional_headers={"Authorization": f"Bearer {HEADER_KEY}"},
                subprotocols=["realtime", f"openai-insecure-api-key.{SUBPROTOCOL_KEY}"],  # type: ignore[list-item]
            ) as ws:
                await ws.recv()  # session.created
                await ws.send(json.dumps(SESSION_UPDATE))
                updated = json.loads(await ws.recv())
                assert updated["type"] == "session.updated"
        with TransportTap(tapped) as tap:
            transport = OpenAIRealtimeWebSocket(api_key=HEADER_KEY, create_websocket=tap)
            answered = asyncio.Event()
            transport.on("session.updated", lambda *_: answered.set())
            await transport.connect(url=f"{upstream.url}&api_key={QUERY_KEY}")
            transport.send_event(SESSION_UPDATE)
            await answered.wait()
            await transport.aclose()
    for cassette in (proxied, tapped):
        text = cassette.read_text()
        assert "<redacted:openai_api_key>" in text
        assert "<redacted:ephemeral_key>" in text
        assert "<redacted:mcp_authorization>" in text
        assert "<redacted:mcp_headers>" in text
        assert "<redacted:authorization_header>" in text
        assert "<redacted:api_key_query>" in text
        assert _leaks(cassette) == []
    assert "openai-insecure-api-key.<redacted:api_key_subprotocol>" in proxied.read_text()


def test_every_cassette_the_suite_wrote_is_free_of_secrets(
    tmp_path_factory: pytest.TempPathFactory, scan_at_session_end: None
) -> None:
    count, leaks = _scan(_roots(tmp_path_factory))
    assert leaks == [], f"secrets found in {len(leaks)} place(s) of {count} cassettes"
    print(f"scanned {count} cassettes now; scanning again at the end of the session")


def test_the_scan_finds_a_planted_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky" / "leak.jsonl"
    leaky.parent.mkdir()
    leaky.write_text(
        json.dumps(
            {
                "format": "realtime-harness-cassette",
                "version": 1,
                "endpoint": {"path": "/v1/realtime", "query": {"api_key": "abc"}},
                "handshake": {"headers": {"Authorization": "Bearer abc"}},
            }
        )
        + "\n"
        + json.dumps({"side": "client", "t": 0, "conn": 0, "event": {"text": API_KEY}})
        + "\n"
    )
    assert _leaks(leaky) == [
        f"{leaky}:1: handshake header Authorization is not redacted",
        f"{leaky}:1: endpoint query api_key is not redacted",
        f"{leaky}:2: planted secret {API_KEY[:12]}...",
        f"{leaky}:2: key-like text {API_KEY[:12]}...",
    ]
    leaky.unlink()  # or the session-end scan would (rightly) report it


# -- every claimed place, through real sockets, with every log at DEBUG ---------------------------
#
# Each planted secret is unique (a tag and a digest), so the scan looks for the secret and
# for every 12-character piece of it: a key cut in two (split deltas, a truncated log line)
# must not leave a recognisable piece behind either.


def _sk(tag: str) -> str:
    return f"sk-proj-{tag}{hashlib.sha256(tag.encode()).hexdigest()[:36]}"


def _ek(tag: str) -> str:
    return f"ek_{tag}{hashlib.sha256(tag.encode()).hexdigest()[:32]}"


def _opaque(tag: str) -> str:
    """A credential of no known shape: only its place (header, subprotocol...) says so."""
    return f"opq{tag}{hashlib.sha256(tag.encode()).hexdigest()[:28]}"


def _escaped(key: str) -> str:
    """The key as JSON text may spell it: its first letter and hyphens as \\u escapes."""
    return f"\\u{ord(key[0]):04x}" + key[1:].replace("-", "\\u002d")


def _pieces(secret: str, size: int = 12) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def _found(secrets: dict[str, str], text: str) -> list[str]:
    """The names of the planted secrets of which a piece is in ``text``."""
    return sorted(
        name for name, secret in secrets.items() if any(p in text for p in _pieces(secret))
    )


# The test's own client and upstream log what they send (the planted secrets themselves):
# they log here, and only here, which the scan leaves out. Every other logger is scanned,
# websockets' default ones included (a connection we forgot to give a logger would show).
PLANTER = "tests.planting"


class _Captured(logging.Handler):
    """Every record any logger but the planter's emits, formatted as a handler writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(PLANTER):
            self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def debug_log() -> Iterator[_Captured]:
    """A handler on the root logger at DEBUG: what a CI log would show with DEBUG on."""
    root = logging.getLogger()
    handler = _Captured()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


PROXY_SECRETS = {
    "authorization (opaque)": _opaque("AUTH"),
    "api-key header (opaque)": _opaque("AZURE"),
    "cookie (opaque)": _opaque("COOKIE"),
    "key in another header": _sk("XHEADER"),
    "subprotocol key (opaque)": _opaque("SUBPROTO"),
    "api_key query (opaque)": _opaque("QUERY"),
    "key in another query parameter": _sk("NOTEQUERY"),
    "key in instructions": _sk("INSTR"),
    "ephemeral key in instructions": _ek("EPHEM"),
    "mcp authorization (opaque)": _opaque("MCPAUTH"),
    "mcp header (opaque)": _opaque("MCPHEAD"),
    "key in message text": _sk("MESSAGE"),
    "key glued after letters": _sk("GLUED"),
    "key JSON-escaped in an event": _sk("ESCEVENT"),
    "key with %2D hyphens": _sk("PERCENT"),
    "key JSON-escaped in a JSON array frame": _sk("ESCARRAY"),
    "key JSON-escaped in a non-JSON text frame": _sk("ESCTEXT"),
    "key in a binary frame": _sk("BINARY"),
    "key JSON-escaped in a binary frame": _sk("ESCBINARY"),
    "key as an object key": _sk("OBJKEY"),
    "ephemeral key in a function output": _ek("TOOLOUT"),
    "key in the close reason": _sk("CLOSE"),
}


def _message(text: str) -> str:
    return json.dumps(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )


async def test_every_claimed_place_is_redacted_in_the_cassette_and_in_debug_logs(
    tmp_path: Path, debug_log: _Captured
) -> None:
    s = PROXY_SECRETS
    cassette = tmp_path / "planted.jsonl"
    session_update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": f"key {s['key in instructions']}, {s['ephemeral key in instructions']}",
            "tools": [
                {
                    "type": "mcp",
                    "server_label": "planted",
                    "server_url": "https://mcp.example/sse",
                    "authorization": s["mcp authorization (opaque)"],
                    "headers": {"X-Token": s["mcp header (opaque)"]},
                }
            ],
        },
    }
    escaped_event = _message("x").replace(
        '"x"', f'"the key: {_escaped(s["key JSON-escaped in an event"])}"'
    )
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        async with RecordingProxy(upstream.url, cassette) as proxy:
            query = (
                f"&api_key={s['api_key query (opaque)']}&note={s['key in another query parameter']}"
            )
            async with connect(
                proxy.url + query,
                additional_headers={
                    "Authorization": f"Bearer {s['authorization (opaque)']}",
                    "api-key": s["api-key header (opaque)"],
                    "Cookie": f"session={s['cookie (opaque)']}; theme=dark",
                    "X-Custom": f"token {s['key in another header']}",
                },
                subprotocols=[  # type: ignore[list-item]
                    "realtime",
                    f"openai-insecure-api-key.{s['subprotocol key (opaque)']}",
                ],
                logger=logging.getLogger(PLANTER),
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                await ws.send(json.dumps(session_update))
                assert json.loads(await ws.recv())["type"] == "session.updated"
                for text in (
                    f"my key is {s['key in message text']}",
                    f"QUJD{s['key glued after letters']}",
                    f"encoded {s['key with %2D hyphens'].replace('-', '%2D')} here",
                ):
                    await ws.send(_message(text))
                    assert json.loads(await ws.recv())["type"] == "conversation.item.added"
                    assert json.loads(await ws.recv())["type"] == "conversation.item.done"
                await ws.send(escaped_event)
                assert json.loads(await ws.recv())["type"] == "conversation.item.added"
                assert json.loads(await ws.recv())["type"] == "conversation.item.done"
                output = {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": "call_1",
                        "output": json.dumps({"token": s["ephemeral key in a function output"]}),
                    },
                    "metadata": {s["key as an object key"]: 1},
                }
                await ws.send(json.dumps(output))
                await ws.recv()  # added, or the API's error: either is recorded
                await ws.send(f'["{_escaped(s["key JSON-escaped in a JSON array frame"])}"]')
                await ws.recv()
                await ws.send(
                    f"not json {_escaped(s['key JSON-escaped in a non-JSON text frame'])}"
                )
                await ws.recv()
                binary = s["key in a binary frame"].encode() + b"\x00\xff"
                await ws.send(binary + _escaped(s["key JSON-escaped in a binary frame"]).encode())
                await ws.recv()
                await ws.close(1000, f"bye {s['key in the close reason']}")
    assert proxy.errors == []
    data = cassette.read_text(encoding="utf-8")
    assert _found(s, data) == []
    assert _found(s, debug_log.text) == []
    for rule in (
        "authorization_header",
        "api_key_header",
        "cookie_header",
        "api_key_subprotocol",
        "api_key_query",
        "openai_api_key",
        "ephemeral_key",
        "mcp_authorization",
        "mcp_headers",
    ):
        assert f"<redacted:{rule}>" in data, rule
    # The raw Sec-WebSocket-Protocol header of the handshake loses the opaque key too.
    header = json.loads(data.splitlines()[0])
    assert header["handshake"]["headers"]["Sec-WebSocket-Protocol"] == (
        "realtime, openai-insecure-api-key.<redacted:api_key_subprotocol>"
    )
    # The log did show the handshakes and frames (the scan above is not vacuous).
    log = debug_log.text
    assert "harness.websockets.server DEBUG < Authorization: Bearer <redacted:" in log
    assert "harness.websockets.client DEBUG > Authorization: Bearer <redacted:" in log
    assert "harness.server DEBUG < Authorization: Bearer <redacted:" in log
    assert "< TEXT" in log and "> BINARY" in log
    assert "< CLOSE 1000 (OK) bye <redacted:openai_api_key>" in log


REFUSAL_SECRETS = {
    "escaped key in the refusal body": _sk("REFUSED"),
    "api_key echoed in the refusal body (opaque)": _opaque("REFQUERY"),
    "set-cookie of the refusal (opaque)": _opaque("SETCOOKIE"),
    "authorization of the refused client (opaque)": _opaque("REFAUTH"),
}


async def test_a_refused_handshake_leaks_nothing_to_the_cassette_or_the_log(
    tmp_path: Path, debug_log: _Captured
) -> None:
    s = REFUSAL_SECRETS
    body = json.dumps(
        {
            "error": {
                "message": "Incorrect API key provided: "
                f"{_escaped(s['escaped key in the refusal body'])} "
                f"(request api_key={s['api_key echoed in the refusal body (opaque)']})",
                "type": "invalid_request_error",
            }
        }
    ).replace("\\\\", "\\")  # the escape as the upstream wrote it, not escaped again

    def refuse(connection: ServerConnection, request: Request) -> Response:
        headers = Headers(
            [
                ("Content-Type", "application/json"),
                ("Set-Cookie", f"__cf_bm={s['set-cookie of the refusal (opaque)']}; HttpOnly"),
            ]
        )
        return Response(401, "Unauthorized", headers, body.encode())

    cassette = tmp_path / "refused.jsonl"
    refused_key = "authorization of the refused client (opaque)"

    async def never(connection: ServerConnection) -> None:  # every handshake is refused
        raise AssertionError("the upstream accepted a connection")

    async with (
        asyncio.timeout(10),
        serve(
            never, "127.0.0.1", 0, process_request=refuse, logger=logging.getLogger(PLANTER)
        ) as upstream,
    ):
        port = next(iter(upstream.sockets)).getsockname()[1]
        # A recording where every handshake was refused is not sound: the cassette is not
        # written, the attempt is kept beside it, and the error says why. All three are
        # scanned: none may hold a secret.
        with pytest.raises(RecordingError) as failed:
            async with RecordingProxy(
                f"ws://127.0.0.1:{port}/v1/realtime?model=m", cassette
            ) as proxy:
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(
                        proxy.url,
                        additional_headers={"Authorization": f"Bearer {s[refused_key]}"},
                        logger=logging.getLogger(PLANTER),
                    ):
                        pass
    assert refused.value.response.status_code == 401
    assert not cassette.exists()
    assert _found(s, str(failed.value)) == []
    data = (tmp_path / "refused.failed.jsonl").read_text(encoding="utf-8")
    assert "handshake refused: HTTP 401 Unauthorized" in data
    assert "<redacted:openai_api_key>" in data and "<redacted:api_key_query>" in data
    assert _found(s, data) == []
    assert "< Set-Cookie: <redacted:set_cookie_header>" in debug_log.text
    assert _found(s, debug_log.text) == []


SPLIT_SECRETS = {
    "key split in two deltas": _sk("TWODELTAS"),
    "key in tiny deltas": _sk("TINYDELTAS"),
    "key in transcript deltas": _sk("TRANSCRIPT"),
    "ephemeral key in argument deltas": _ek("ARGDELTAS"),
}


def _split_cassette(path: Path) -> None:
    """A replayable cassette whose server splits keys across the deltas of a response."""
    s = SPLIT_SECRETS
    frames: list[dict[str, object]] = [
        {"type": "session.created", "event_id": "e0", "session": {"type": "realtime"}},
    ]

    def deltas(kind: str, text: str, cuts: list[int], **ids: object) -> None:
        bounds = [0, *cuts, len(text)]
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            frames.append({"type": kind, "event_id": f"{kind}{i}", **ids, "delta": text[a:b]})

    two = f"Your key is {s['key split in two deltas']}, keep it safe."
    deltas(
        "response.output_text.delta",
        two,
        [two.index("sk-") + 14],
        item_id="item_a",
        content_index=0,
    )
    tiny = f"Here: {s['key in tiny deltas']}."
    deltas(
        "response.output_text.delta",
        tiny,
        list(range(3, len(tiny), 3)),
        item_id="item_b",
        content_index=0,
    )
    spoken = f"read aloud {s['key in transcript deltas']} done"
    deltas(
        "response.output_audio_transcript.delta",
        spoken,
        list(range(4, len(spoken), 5)),
        item_id="item_c",
        content_index=0,
    )
    arguments = json.dumps({"token": s["ephemeral key in argument deltas"]})
    deltas(
        "response.function_call_arguments.delta",
        arguments,
        list(range(2, len(arguments), 7)),
        item_id="item_d",
        call_id="call_d",
    )
    lines = [
        json.dumps(
            {
                "format": "realtime-harness-cassette",
                "version": 1,
                "made": "synthesized",
                "created": "2026-12-02T00:00:00Z",
                "endpoint": {"path": "/v1/realtime", "query": {"model": "gpt-realtime"}},
                "client": "tests/test_secrets_scan.py",
                "redactions": [],
                "note": "keys split across deltas: REMOVED after the test",
            }
        ),
        json.dumps({"side": "server", "t": 0.0, "conn": 0, "event": frames[0]}),
        json.dumps({"side": "client", "t": 0.01, "conn": 0, "event": {"type": "response.create"}}),
        *(json.dumps({"side": "server", "t": 0.02, "conn": 0, "event": f}) for f in frames[1:]),
    ]
    path.write_text("\n".join(lines) + "\n")


async def test_keys_split_across_the_deltas_of_a_stream_are_redacted(
    tmp_path: Path, debug_log: _Captured
) -> None:
    source = tmp_path / "split_source.jsonl"
    _split_cassette(source)
    cassette = tmp_path / "split.jsonl"
    try:
        async with asyncio.timeout(10), FakeRealtimeServer(source) as upstream:
            async with RecordingProxy(upstream.url, cassette) as proxy:
                async with connect(
                    proxy.url,
                    additional_headers={"Authorization": "Bearer x"},
                    logger=logging.getLogger(PLANTER),
                ) as ws:
                    await ws.recv()
                    await ws.send(json.dumps({"type": "response.create"}))
                    received = [json.loads(await ws.recv()) for _ in range(_count_deltas(source))]
        # The client got every delta as the upstream sent it: redaction is for the file.
        assert (
            "".join(e["delta"] for e in received if e.get("item_id") == "item_a").count("sk-") == 1
        )
        upstream.verdict()
    finally:
        source.unlink()  # it holds the keys by design; the session-end scan must not see it
    lines = [json.loads(line) for line in cassette.read_text().splitlines()[1:]]
    events = [line["event"] for line in lines if "event" in line]
    streams: dict[str, str] = {}
    for event in events:
        if "delta" in event:
            streams[event["item_id"]] = streams.get(event["item_id"], "") + event["delta"]
    joined = "\n".join(streams.values())
    assert _found(SPLIT_SECRETS, joined) == []
    assert _found(SPLIT_SECRETS, cassette.read_text()) == []
    assert streams["item_a"].startswith("Your key is <redacted:openai_api_key>")
    assert streams["item_a"].endswith(", keep it safe.")
    assert "<redacted:ephemeral_key>" in streams["item_d"]
    # websockets logs every relayed delta at DEBUG: the log is redacted with the same window.
    assert "harness.websockets.client DEBUG < TEXT" in debug_log.text
    assert _found(SPLIT_SECRETS, debug_log.text) == []


def _count_deltas(path: Path) -> int:
    return sum('"delta"' in line for line in path.read_text().splitlines())


TRANSPORT_SECRETS = {
    "transport api key (opaque)": _opaque("TRANSPORTKEY"),
    "key in a message the transport sends": _sk("TRANSPORTMSG"),
    "tapped api key (opaque)": _opaque("TAPKEY"),
    "key in a message the tap records": _sk("TAPMSG"),
}


async def test_the_transport_and_its_tap_log_no_key_at_debug(
    tmp_path: Path, debug_log: _Captured
) -> None:
    s = TRANSPORT_SECRETS
    tapped = tmp_path / "tapped_debug.jsonl"
    async with asyncio.timeout(10), FakeRealtimeServer.simulate() as upstream:
        for key, text, tap in (
            ("transport api key (opaque)", "key in a message the transport sends", None),
            ("tapped api key (opaque)", "key in a message the tap records", TransportTap(tapped)),
        ):
            transport = OpenAIRealtimeWebSocket(api_key=s[key], create_websocket=tap)
            done = asyncio.Event()
            transport.on("conversation.item.done", lambda *_, done=done: done.set())
            await transport.connect(url=upstream.url)
            transport.send_message(f"remember {s[text]}")
            await done.wait()
            await transport.aclose()
            if tap is not None:
                tap.close()
    assert "harness.websockets.client DEBUG > Authorization: Bearer <redacted:" in debug_log.text
    assert "harness.server DEBUG < TEXT" in debug_log.text
    assert _found(s, debug_log.text) == []
    assert _found(s, tapped.read_text()) == []
    assert "<redacted:openai_api_key>" in tapped.read_text()
