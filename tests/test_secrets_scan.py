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
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

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
