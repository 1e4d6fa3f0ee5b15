"""The HTML report as a person sees it: rendered by Debian's Chromium, driven by playwright.

Skipped with the reason where /usr/bin/chromium or playwright is absent. Each page must load
with no console error and no request but its own file (the in-page ``blob:`` audio aside),
hold one timeline mark per frame, give every audio player the duration its bytes make, and
render to a screenshot that is not blank.
"""

from __future__ import annotations

import json
import re
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from _report_browser import Browser, Loaded, browser
from _report_cassettes import (
    BUNDLED,
    CASSETTES,
    expected_streams,
    frame_count,
    pcm16,
    tone,
    write_audio_cassette,
)

from harness.report import g711_to_pcm16, write_html

__all__ = ["browser"]  # the fixture, imported for this module

pytest_plugins = ["pytester"]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs"

DURATIONS = """
() => Promise.all([...document.querySelectorAll('audio')].map(a =>
  a.readyState >= 1 ? a.duration
  : new Promise(resolve => a.addEventListener('loadedmetadata', () => resolve(a.duration)))))
"""


def _variance(png: bytes) -> float:
    from PIL import Image, ImageStat

    image = Image.open(BytesIO(png)).convert("L")
    return float(ImageStat.Stat(image).var[0])


def _clean(loaded: Loaded) -> None:
    assert loaded.problems() == []
    assert loaded.outside_requests() == []


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: p.stem)
def test_bundled_cassette_report_renders(cassette: Path, browser: Browser, tmp_path: Path) -> None:
    out = write_html(cassette, tmp_path / f"{cassette.stem}.html")
    with browser.load(out) as loaded:
        page = loaded.page
        assert page.locator("svg.timeline .mark").count() == frame_count(cassette)
        expected = expected_streams(cassette)
        durations = page.evaluate(DURATIONS)
        assert sorted(durations) == pytest.approx(sorted(s["duration"] for s in expected), abs=1e-6)
        assert page.locator(".stream").count() == len(expected)
        inked = page.evaluate(
            """() => [...document.querySelectorAll('canvas.wave')].map(c => {
                 const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
                 return n; })"""
        )
        assert all(n > 500 for n in inked), inked  # every waveform drew something
        assert page.locator("#facts").inner_text().startswith("made\nsynthesized")
        png = page.screenshot(full_page=True)
        _clean(loaded)
    assert _variance(png) > 100, f"{cassette.name}: the screenshot looks blank"


def test_clicking_a_mark_shows_its_frame_and_zoom_widens_the_timeline(
    browser: Browser, tmp_path: Path
) -> None:
    cassette = CASSETTES / "function_call.jsonl"
    lines = cassette.read_text().splitlines()
    out = write_html(cassette, tmp_path / "r.html")
    with browser.load(out) as loaded:
        page = loaded.page
        mark = page.locator('.mark[data-line="15"]')
        mark.click()
        shown = json.loads(page.locator("#inspect-json").inner_text())
        assert shown == json.loads(lines[14])["event"]
        assert "cassette line 15" in page.locator("#inspect-what").inner_text()
        assert "selected" in (mark.get_attribute("class") or "")
        svg = page.locator("svg.timeline").first
        before = float(svg.get_attribute("width") or 0)
        page.click("#zoom-in")
        page.click("#zoom-in")
        after = float(svg.get_attribute("width") or 0)
        assert after == pytest.approx(4 * before, rel=0.05)
        page.click("#zoom-fit")
        assert float(svg.get_attribute("width") or 0) == before
        bubbles = page.locator(".bubble").all_inner_texts()
        assert any('get_weather({"city":"Paris"})' in b for b in bubbles)
        assert any("temperature_c" in b and "get_weather" in b for b in bubbles)
        _clean(loaded)


def test_g711_players_last_what_their_bytes_last_and_decode_as_the_itu_tables(
    browser: Browser, tmp_path: Path
) -> None:
    cassette = write_audio_cassette(
        tmp_path / "g711.jsonl",
        in_format={"type": "audio/pcmu"},
        out_format={"type": "audio/pcma"},
        user_audio=bytes(range(256)) * 32,  # 8192 bytes at 8 kHz
        model_audio=bytes([0xD5, 0x2A]) * 2000,  # 4000 bytes
        chunk=800,
    )
    out = write_html(cassette, tmp_path / "r.html")
    with browser.load(out) as loaded:
        page = loaded.page
        assert page.evaluate(DURATIONS) == pytest.approx([8192 / 8000, 4000 / 8000], abs=1e-6)
        for codec in ("g711_ulaw", "g711_alaw"):
            decoded = page.evaluate(
                """codec => {
                  const codes = new Uint8Array([...Array(256).keys()]);
                  return Array.from(new Int16Array(window.__report.toWav(codes, codec, 8000), 44));
                }""",
                codec,
            )
            assert decoded == g711_to_pcm16(bytes(range(256)), codec)  # type: ignore[arg-type]
        transcripts = page.locator(".stream .transcript").all_inner_texts()
        assert transcripts == ["\u201cHello there.\u201d", "\u201cHi, how can I help?\u201d"]
        _clean(loaded)


def test_redacted_values_are_shown_as_redacted(browser: Browser, tmp_path: Path) -> None:
    cassette = write_audio_cassette(
        tmp_path / "c.jsonl",
        in_format={"type": "audio/pcm", "rate": 24000},
        out_format={"type": "audio/pcm", "rate": 24000},
        user_audio=pcm16(tone(0.25, 24000)),
        model_audio=pcm16(tone(0.5, 24000)),
        extra_events=(
            (
                "client",
                {
                    "type": "session.update",
                    "session": {"metadata": {"key": "<redacted:openai_api_key>"}},
                },
            ),
        ),
        redactions=("openai_api_key",),
    )
    out = write_html(cassette, tmp_path / "r.html")
    with browser.load(out) as loaded:
        page = loaded.page
        page.locator('.mark[data-line="3"]').click()
        assert page.locator("#inspect-json .redacted").inner_text() == "<redacted:openai_api_key>"
        assert page.evaluate(DURATIONS) == pytest.approx([0.25, 0.5], abs=1e-6)
        assert "openai_api_key" in page.locator("#facts").inner_text()
        _clean(loaded)


def test_text_from_the_cassette_is_text_never_markup(browser: Browser, tmp_path: Path) -> None:
    cassette = tmp_path / "x.jsonl"
    shutil.copy(CASSETTES / "text_turn.jsonl", cassette)
    evil = '<img src="http://example.invalid/x.png" onerror="window.pwned=1"></script>'
    text = cassette.read_text().replace("What is the capital of France?", evil.replace('"', '\\"'))
    cassette.write_text(text)
    out = write_html(cassette, tmp_path / "r.html")
    with browser.load(out) as loaded:
        page = loaded.page
        assert page.evaluate("window.pwned") is None
        assert any(evil in b for b in page.locator(".bubble").all_inner_texts())
        _clean(loaded)


# -- a failed contract, through the plugin ---------------------------------------------------

INNER_TEST = """
import asyncio
import json

import pytest
from websockets.asyncio.client import connect

LINES = [json.loads(line) for line in open("text_turn.jsonl")][1:]


@pytest.mark.realtime_cassette("text_turn.jsonl")
async def test_contract(realtime_server):
    async with asyncio.timeout(10):
        async with connect(
            realtime_server.url, additional_headers={"Authorization": "Bearer test-key"}
        ) as ws:
            await ws.recv()  # session.created
            sent = 0
            for line in LINES:
                if line["side"] != "client" or "event" not in line:
                    continue
                event = dict(line["event"])
                if event["type"] == "conversation.item.create":
                    event = json.loads(json.dumps(event).replace("France", "Germany"))
                await ws.send(json.dumps(event))
                sent += 1
                if sent == 3:
                    break
            while json.loads(await ws.recv())["type"] != "error":
                pass
"""


def test_a_failed_contract_links_a_report_that_highlights_the_mismatch(
    browser: Browser, pytester: pytest.Pytester
) -> None:
    shutil.copy(CASSETTES / "text_turn.jsonl", pytester.path / "text_turn.jsonl")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_inner=INNER_TEST)
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--realtime-report-dir={reports}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "does not match (conversation.item.create)" in output
    found = re.search(r"HTML report: (\S+\.html)", output)
    assert found, output
    report = Path(found.group(1))
    assert report.parent == reports
    assert re.search(r"realtime-harness: 1 HTML report in ", output)
    unplayed = int(re.search(r"(\d+) recorded frames? never played", output).group(1))  # type: ignore[union-attr]
    lines = (CASSETTES / "text_turn.jsonl").read_text().splitlines()
    mismatched = next(i + 1 for i, line in enumerate(lines) if "conversation.item.create" in line)
    with browser.load(report) as loaded:
        page = loaded.page
        highlighted = page.locator("svg.timeline .mark.mismatch")
        assert highlighted.count() == 1
        assert highlighted.get_attribute("data-line") == str(mismatched)
        assert page.locator("svg.timeline .mark.unplayed").count() == unplayed
        assert page.locator("svg.timeline .mark").count() == len(lines) - 1
        cells = page.locator("#run table.diff td").all_inner_texts()
        assert cells == [
            "$.item.content[0].text",
            '"What is the capital of France?"',
            '"What is the capital of Germany?"',
        ]
        page.locator("#run a.jump").click()
        assert "MISMATCH 1" in page.locator("#inspect-what").inner_text()
        page.locator("svg.timeline .received").click()
        received: dict[str, Any] = json.loads(page.locator("#inspect-json").inner_text())
        assert received["item"]["content"][0]["text"] == "What is the capital of Germany?"
        _clean(loaded)


def test_option_off_writes_no_report(pytester: pytest.Pytester) -> None:
    shutil.copy(CASSETTES / "text_turn.jsonl", pytester.path / "text_turn.jsonl")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_inner=INNER_TEST)
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--realtime-report=off", f"--realtime-report-dir={reports}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "does not match (conversation.item.create)" in result.stdout.str()
    assert "HTML report" not in result.stdout.str()
    assert not reports.exists()


def test_every_connection_gets_its_own_timeline(browser: Browser, tmp_path: Path) -> None:
    from harness.cassette import CassetteWriter, Header

    path = tmp_path / "two.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "session": {}})
        w.write_close("server", 0.5, 0, 1011, "Internal server error")
        w.event("server", 0.0, 1, {"type": "session.created", "session": {}})
        w.binary("client", 0.1, 1, b"\x00\x01\x02")
        w.event("server", 0.2, 1, {"type": "error", "error": {"message": "no binary"}})
        w.write_close("server", 0.9, 2, 4401, "handshake refused: HTTP 401 Unauthorized\n{}")
    out = write_html(path, tmp_path / "r.html")
    with browser.load(out) as loaded:
        page = loaded.page
        assert page.locator("section.conn").count() == 3
        per_conn = [page.locator(f'section.conn[data-conn="{c}"] .mark').count() for c in range(3)]
        assert per_conn == [2, 3, 1]
        assert page.locator(".mark.k-close").count() == 1
        assert page.locator(".mark.k-error").count() == 1
        assert page.locator(".mark.k-refusal").count() == 1
        page.locator('.mark[data-line="5"]').click()
        assert "3 bytes (binary frame, elided)" in page.locator("#inspect-json").inner_text()
        bubbles = page.locator(".bubble.error").all_inner_texts()
        assert len(bubbles) == 2 and any("401" in b for b in bubbles)
        _clean(loaded)
