"""The README's browser recipe: headless Chromium plays a cassette against ``serve``.

A page (``tests/e2e/browser/player.html`` + ``player.js``), served from 127.0.0.1 by a tiny
static server, opens a WebSocket to ``python -m harness serve --once`` with the browser's
subprotocol handshake (``realtime``, ``openai-insecure-api-key.KEY``), plays the cassette's
client side in causal order and shows the verdict. The test reads the page's verdict and
what it saw, and serve's own verdict. Nothing leaves loopback (``_browser.chromium_page``
aborts and lists any request that would). The README's own commands for it (serve, copy,
``python -m http.server``, open the page) run as pasted too, the folder a temporary one,
the page server's port a free one, the browser headless. Skipped, with the reason, where
chromium or playwright is absent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from _browser import chromium_missing, chromium_page
from _serve import serve

from harness.cassette import Side, load_cassette

from ._node import install_js_sdk, node_missing
from ._readme import ROOT, recipe_block

PLAYER = Path(__file__).resolve().parent / "browser"
CASSETTES = sorted((ROOT / "cassettes").glob("*.jsonl"))
KEY = "sk-browser-not-a-real-key"
PAGE_WAIT_MS = 30_000  # the longest the test waits for the page's verdict


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    reason = chromium_missing()
    if reason is not None:
        pytest.skip(reason)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The player, served from 127.0.0.1: its base URL, and the folder it serves."""
    for name in ("player.html", "player.js"):
        shutil.copy(PLAYER / name, tmp_path / name)
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


async def _play_in_browser(base: str, cassette_name: str, ws_url: str) -> tuple[str, Any]:
    """Open the player on ``cassette_name``; the page's verdict and what it saw."""
    query = urlencode({"cassette": cassette_name, "url": ws_url, "key": KEY})
    return await _open(f"{base}/player.html?{query}", "window.playerResult ?? null")


async def _open(address: str, result: str) -> tuple[str, Any]:
    """Open a page that shows a verdict; the verdict, and the ``result`` expression's value."""
    async with chromium_page() as (page, outside):
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(address)
        await page.wait_for_function(
            "!document.getElementById('verdict').textContent.startsWith('playing')",
            timeout=PAGE_WAIT_MS,
        )
        verdict = await page.text_content("#verdict")
        seen = await page.evaluate(result)
        assert problems == [], f"the page raised: {problems}"
    assert outside == [], f"requests left loopback: {outside}"
    assert verdict is not None
    return verdict, seen


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
async def test_browser_plays_a_bundled_cassette(path: Path, site: tuple[str, Path]) -> None:
    base, folder = site
    shutil.copy(path, folder / path.name)
    frames = [f for f in load_cassette(path).frames if f.conn == 0]
    async with serve(str(path), "--once") as served:
        verdict, seen = await _play_in_browser(base, path.name, served.url)
        status, out, err = await served.finish()

    assert verdict == f"PASS: {path.name}: {len(frames)} frames played on 1 connection"
    [conn] = seen["connections"]
    assert conn["protocol"] == "realtime"  # the server selected the subprotocol offered
    assert conn["received"] == [
        f.event_type for f in frames if f.side is Side.SERVER and f.close_code is None
    ]
    assert conn["sent"] == sum(1 for f in frames if f.side is Side.CLIENT and f.event)
    server_close = [f for f in frames if f.side is Side.SERVER and f.close_code is not None]
    if server_close:
        assert conn["close"]["code"] == server_close[0].close_code  # e.g. 1011 reached the page
    assert status == 0, out + err
    assert out.splitlines()[-1] == f"PASS: {path}: 1 connection played every recorded frame"
    assert KEY not in out + err  # the key the page sent is never printed


async def test_a_page_that_diverges_fails_on_both_sides(site: tuple[str, Path]) -> None:
    base, folder = site
    path = ROOT / "cassettes" / "function_call.jsonl"
    # the page plays a copy whose user asks about Rome; serve expects Paris
    (folder / "changed.jsonl").write_text(
        path.read_text(encoding="utf-8").replace(
            "What's the weather in Paris?", "What's the weather in Rome?"
        ),
        encoding="utf-8",
    )
    async with serve(str(path), "--once") as served:
        verdict, _seen = await _play_in_browser(base, "changed.jsonl", served.url)
        status, out, _err = await served.finish()

    # the API's error event arrived where the recorded item.added was due
    assert verdict == "FAIL: line 8: expected server conversation.item.added, received error"
    assert status == 1
    assert f"FAIL: {path}" in out
    assert "at $.item.content[0].text" in out
    assert json.dumps("What's the weather in Rome?") in out


async def test_js_sdk_in_the_browser_plays_the_function_call_cassette(
    site: tuple[str, Path],
) -> None:
    reason = node_missing()
    if reason is not None:
        pytest.skip(reason)
    bundle = install_js_sdk() / "@openai" / "agents-realtime" / "dist" / "bundle"
    base, folder = site
    shutil.copy(PLAYER / "sdk.js", folder / "sdk.js")
    shutil.copy(PLAYER / "sdk.html", folder / "sdk.html")
    for part in bundle.glob("*.mjs"):  # the SDK's own browser build, imported by sdk.js
        shutil.copy(part, folder / part.name)
    path = ROOT / "cassettes" / "function_call.jsonl"
    async with serve(str(path), "--once") as served:
        query = urlencode({"url": served.url, "key": KEY})
        verdict, seen = await _open(f"{base}/sdk.html?{query}", "window.sdkResult ?? null")
        status, out, err = await served.finish()

    assert verdict == "PASS: It's 18°C and sunny in Paris right now."
    assert seen["tools"] == [["get_weather", '{"city":"Paris"}']]
    assert status == 0, out + err
    assert out.splitlines()[-1] == f"PASS: {path}: 1 connection played every recorded frame"
    assert KEY not in out + err


async def test_the_recipe_commands_play_the_cassette_as_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's four commands, in a clone: its folder is a temporary one here, the page
    # server's port a free one instead of 8000, and the browser headless.
    start, copy, static, browse = recipe_block("sh", "http.server").strip().splitlines()
    folder = tmp_path / "player"
    monkeypatch.chdir(ROOT)
    argv = shlex.split(start, comments=True)
    assert argv[:4] == ["python", "-m", "harness", "serve"], start
    async with serve(*argv[4:]) as served:
        printed = start.partition("# prints url: ")[2]
        assert re.fullmatch(
            re.escape(printed).replace("PORT", r"\d+").replace(r"\.\.\.", ".*"), served.url
        )
        done = subprocess.run(
            ["bash", "-c", copy.replace("/tmp/player", str(folder))], timeout=30, check=False
        )
        assert done.returncode == 0, copy
        assert {p.name for p in folder.iterdir()} == {
            "player.html",
            "player.js",
            "function_call.jsonl",
        }
        page_server = shlex.split(static.replace("/tmp/player", str(folder)))
        assert page_server[:3] == ["python", "-m", "http.server"] and page_server[-1] == "8000"
        http = await asyncio.create_subprocess_exec(
            sys.executable,
            *page_server[1:-1],
            "0",
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert http.stdout is not None
        try:
            async with asyncio.timeout(30):
                serving = (await http.stdout.readline()).decode()
            found = re.match(r"Serving HTTP on 127\.0\.0\.1 port (\d+) ", serving)
            assert found, serving
            browser, address = shlex.split(browse)
            assert browser == "chromium"
            ws_port = str(urlsplit(served.url).port)
            address = address.replace(":8000/", f":{found[1]}/").replace("PORT", ws_port)
            verdict, seen = await _open(address, "window.playerResult ?? null")
        finally:
            http.kill()
            await http.wait()
        status, out, err = await served.finish()
    frames = load_cassette(ROOT / "cassettes" / "function_call.jsonl").frames
    assert verdict == f"PASS: function_call.jsonl: {len(frames)} frames played on 1 connection"
    assert seen["connections"][0]["protocol"] == "realtime"
    assert status == 0, out + err
    assert out.splitlines()[-1] == (
        "PASS: cassettes/function_call.jsonl: 1 connection played every recorded frame"
    )


def test_readme_excerpt_is_the_page_code() -> None:
    excerpt = recipe_block("js", "openai-insecure-api-key.")
    page = (PLAYER / "player.js").read_text(encoding="utf-8")
    for line in excerpt.strip().splitlines():
        if line.strip() and not line.lstrip().startswith("//"):
            assert line.strip() in page, f"README excerpt line not in player.js: {line!r}"
