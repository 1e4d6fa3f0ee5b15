"""harness.report without a browser: the data the page is built from, limits, errors.

What a person sees is tested in tests/test_report_browser.py (real Chromium); here the
page's embedded data is read back and compared with the cassette, recomputed independently
(tests/_report_cassettes.py).
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import signal
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest
from _report_cassettes import (
    BUNDLED,
    CASSETTES,
    expected_streams,
    frame_count,
    pcm16,
    tone,
    write_audio_cassette,
)

from harness.cassette import CassetteWriter, Header, load_cassette
from harness.errors import CassetteError, UsageError
from harness.inspect import AudioFormat, audio_format
from harness.replay import Replay, prepare_cassette
from harness.report import ReportLimits, g711_to_pcm16, write_html

pytestmark = pytest.mark.usefixtures("planted_cassettes_removed")

PCM = {"type": "audio/pcm", "rate": 24000}


def levels(wave: str) -> list[float]:
    """A stream's waveform as levels in [-1, 1] (base64 of signed bytes, x/127)."""
    return [b / 127 for b in array("b", base64.b64decode(wave))]


def page_data(path: Path) -> tuple[dict[str, Any], list[list[Any]], dict[int, str]]:
    text = path.read_text()
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    rows = re.search(
        r'<script type="application/json" id="report-frames">(.*?)</script>', text, re.S
    )
    assert data and rows
    audio = dict(
        (int(i), b)
        for i, b in re.findall(
            r'<script type="application/octet-stream" id="audio-(\d+)">(.*?)</script>', text, re.S
        )
    )
    return json.loads(data.group(1)), json.loads(rows.group(1)), audio


def test_audio_formats_ga_and_beta() -> None:
    assert audio_format({"type": "audio/pcm", "rate": 24000}) == AudioFormat("pcm16", 24000)
    assert audio_format({"type": "audio/pcm", "rate": 16000}) == AudioFormat("pcm16", 16000)
    assert audio_format({"type": "audio/pcmu"}) == AudioFormat("g711_ulaw", 8000)
    assert audio_format({"type": "audio/pcma"}) == AudioFormat("g711_alaw", 8000)
    assert audio_format("pcm16") == AudioFormat("pcm16", 24000)
    assert audio_format("g711_ulaw") == AudioFormat("g711_ulaw", 8000)
    assert audio_format("g711_alaw") == AudioFormat("g711_alaw", 8000)
    assert audio_format({"type": "audio/ogg"}) is None
    assert AudioFormat("pcm16", 24000).duration(48000) == 1.0
    assert AudioFormat("g711_ulaw", 8000).duration(4000) == 0.5


def test_g711_decoding_matches_the_itu_tables() -> None:
    # ITU-T G.711 reference points: mu-law 0xFF/0x7F are the two zeros, 0x00/0x80 the peaks;
    # A-law 0xD5/0x55 are the smallest steps (+8/-8), 0xAA/0x2A the peaks.
    assert g711_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80, 0xF0]), "g711_ulaw") == [
        0,
        0,
        -32124,
        32124,
        120,
    ]
    assert g711_to_pcm16(bytes([0xD5, 0x55, 0xAA, 0x2A]), "g711_alaw") == [8, -8, 32256, -32256]
    ulaw = g711_to_pcm16(bytes(range(256)), "g711_ulaw")
    assert len(set(ulaw)) == 255  # 256 codes, two of them zero


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: p.stem)
def test_every_frame_is_a_row_and_every_stream_is_measured(cassette: Path, tmp_path: Path) -> None:
    out = write_html(cassette, tmp_path / "r.html")
    data, rows, audio = page_data(out)
    assert len(rows) == frame_count(cassette) == data["frames"]
    recorded = load_cassette(cassette).frames
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        (f.conn, 0 if f.side == "client" else 1, f.t, f.lineno) for f in recorded
    ]
    expected = expected_streams(cassette)
    got = [(s["who"], s["bytes"], s["rate"], s["duration"]) for s in data["streams"]]
    assert got == [(e["who"], e["bytes"], e["rate"], e["duration"]) for e in expected]
    for stream in data["streams"]:  # small cassettes: every byte is in the player
        assert len(base64.b64decode(audio[stream["i"]])) == stream["bytes"]
    assert data["header"]["made"] == "synthesized"
    assert data["header"]["endpoint"] == "/v1/realtime?model=gpt-realtime"


def test_function_call_cassette_gives_the_conversation_with_the_tool_call(tmp_path: Path) -> None:
    data, _, _ = page_data(write_html(CASSETTES / "function_call.jsonl", tmp_path / "r.html"))
    chat = [
        (b["kind"], b["text"], b.get("name"), b.get("arguments"), b.get("output"))
        for b in data["chat"]
    ]
    assert chat == [
        ("user_text", "What's the weather in Paris?", None, None, None),
        (
            "tool_call",
            "",
            "get_weather",
            '{"city":"Paris"}',
            '{"city": "Paris", "temperature_c": 18, "conditions": "sunny"}',
        ),
        ("assistant", "It's 18\u00b0C and sunny in Paris right now.", None, None, None),
    ]
    turns = data["conns"][0]["turns"]
    assert [(t["t0"], t["t1"], t["status"]) for t in turns] == [
        (0.319, 0.719, "completed"),
        (1.006, 1.39, "completed"),
    ]


def test_interruption_marks_speech_truncation_and_the_cancelled_turn(tmp_path: Path) -> None:
    data, rows, _ = page_data(write_html(CASSETTES / "interruption.jsonl", tmp_path / "r.html"))
    types = data["types"]
    marked = {(types[r[3]], r[4]) for r in rows if r[4] not in ("", "audio")}
    assert {
        ("input_audio_buffer.speech_started", "speech"),
        ("input_audio_buffer.speech_stopped", "speech"),
        ("conversation.item.truncate", "truncate"),
        ("conversation.item.truncated", "truncate"),
        ("response.created", "turn"),
        ("response.done (cancelled)", "turn"),
        ("close 1000", "close"),
    } <= marked
    assert data["conns"][0]["turns"][0]["status"] == "cancelled (turn_detected)"
    assistant = [b for b in data["chat"] if b["kind"] == "assistant"]
    assert assistant[0]["truncated"] == "150 ms"
    assert assistant[0]["status"] == "cancelled (turn_detected)"
    assert assistant[0]["text"] == "Once upon a time, on a rocky "


def test_server_close_and_error_are_marked(tmp_path: Path) -> None:
    _, rows, _ = page_data(write_html(CASSETTES / "server_close_1011.jsonl", tmp_path / "a.html"))
    assert rows[-1][4] == "close"
    data, rows, _ = page_data(write_html(CASSETTES / "server_error.jsonl", tmp_path / "b.html"))
    assert [r[4] for r in rows if r[4]] == ["error", "close"]
    assert [b["kind"] for b in data["chat"]] == ["error"]


def test_a_refused_handshake_is_marked_as_a_refusal(tmp_path: Path) -> None:
    path = tmp_path / "refused.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.write_close("server", 0.0, 0, 4502, "handshake refused: HTTP 502 Bad Gateway\n{}")
    data, rows, _ = page_data(write_html(path, tmp_path / "r.html"))
    assert rows[0][4] == "refusal"
    assert data["types"][rows[0][3]] == "refused: HTTP 502 Bad Gateway"


def test_frame_details_elide_audio_and_keep_redaction_placeholders(tmp_path: Path) -> None:
    cassette = write_audio_cassette(
        tmp_path / "c.jsonl",
        in_format=PCM,
        out_format=PCM,
        user_audio=pcm16(tone(0.2, 24000)),
        model_audio=pcm16(tone(0.1, 24000)),
        extra_events=(
            (
                "client",
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "metadata": {"key": "<redacted:openai_api_key>"},
                    },
                },
            ),
        ),
        redactions=("openai_api_key",),
    )
    data, rows, _ = page_data(write_html(cassette, tmp_path / "r.html"))
    details = [r[6] for r in rows]
    appends = [d for d in details if d.get("type") == "input_audio_buffer.append"]
    assert appends and all(
        re.fullmatch(r"<audio: \d+ base64 chars elided>", d["audio"]) for d in appends
    )
    assert details[1]["session"]["metadata"]["key"] == "<redacted:openai_api_key>"
    assert data["header"]["redactions"] == ["openai_api_key"]


def test_g711_streams_are_measured_at_8_khz(tmp_path: Path) -> None:
    cassette = write_audio_cassette(
        tmp_path / "g711.jsonl",
        in_format={"type": "audio/pcmu"},
        out_format={"type": "audio/pcma"},
        user_audio=bytes(range(256)) * 32,  # 8192 bytes: 1.024 s
        model_audio=bytes([0xD5, 0x2A]) * 2000,  # 4000 bytes: 0.5 s
        chunk=800,
    )
    data, _, _ = page_data(write_html(cassette, tmp_path / "r.html"))
    got = [
        (s["who"], s["codec"], s["rate"], s["duration"], s["transcript"]) for s in data["streams"]
    ]
    assert got == [
        ("user", "g711_ulaw", 8000, 1.024, "Hello there."),
        ("assistant", "g711_alaw", 8000, 0.5, "Hi, how can I help?"),
    ]
    user = levels(data["streams"][0]["wave"])
    assert min(user) == pytest.approx(-32124 / 32768, abs=1 / 127)
    assert max(user) == pytest.approx(32124 / 32768, abs=1 / 127)
    model = levels(data["streams"][1]["wave"])  # A-law 0xD5 (+8) and 0x2A (-32256)
    assert (min(model), max(model)) == (pytest.approx(-32256 / 32768, abs=1 / 127), 0.0)


def test_limits_cap_players_and_waveforms_and_say_so(tmp_path: Path) -> None:
    cassette = write_audio_cassette(
        tmp_path / "long.jsonl",
        in_format=PCM,
        out_format=PCM,
        user_audio=pcm16(tone(3.0, 24000)),
        model_audio=pcm16(tone(2.0, 24000)),
    )
    limits = ReportLimits(wave_points=50, audio_seconds_per_stream=1.0, audio_bytes_total=60_000)
    data, _, audio = page_data(write_html(cassette, tmp_path / "r.html", limits=limits))
    user, model = data["streams"]
    assert user["duration"] == 3.0 and user["kept_duration"] == 1.0
    assert user["keeps"] == "the first 1.0 s"
    # the report's 60,000 bytes: 48,000 to the user, 12,000 (0.25 s) left for the model
    assert model["kept_bytes"] == 12_000
    assert model["keeps"] == "the first 0.2 s (the report's audio budget ran out)"
    assert len(base64.b64decode(audio[1])) == 12_000
    for stream in data["streams"]:
        wave = levels(stream["wave"])
        assert 25 * 2 <= len(wave) <= 50 * 2  # downsampled, never past the cap
        assert max(wave) == pytest.approx(0.5, abs=0.02)  # the tone's peak survives
        assert min(wave) == pytest.approx(-0.5, abs=0.02)


def test_detail_budget_drops_later_details_not_rows(tmp_path: Path) -> None:
    cassette = CASSETTES / "audio_turn.jsonl"
    data, rows, _ = page_data(
        write_html(cassette, tmp_path / "r.html", limits=ReportLimits(detail_bytes_total=3000))
    )
    assert len(rows) == frame_count(cassette)
    dropped = [r for r in rows if r[6] is None]
    assert dropped and data["details_dropped"] == len(dropped)
    assert rows[0][6] is not None


def test_script_end_tags_in_text_cannot_break_out_of_the_data(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    evil = "</script><script>window.pwned=1</script>"
    with CassetteWriter(path, Header(client=evil)) as w:
        w.event(
            "client",
            0.0,
            0,
            {
                "type": "conversation.item.create",
                "item": {
                    "id": "i1",
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": evil}],
                },
            },
        )
    text = write_html(path, tmp_path / "r.html").read_text()
    assert "window.pwned=1</script>" not in text
    data, _, _ = page_data(tmp_path / "r.html")
    assert data["header"]["client"] == evil and data["chat"][0]["text"] == evil


def test_a_bad_cassette_names_its_line_and_leaves_the_old_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = (CASSETTES / "text_turn.jsonl").read_text().splitlines(keepends=True)
    bad.write_text("".join(good[:4]) + '{"side": "proxy", "t": 1, "conn": 0, "event": {}}\n')
    out = tmp_path / "r.html"
    out.write_text("old report")
    with pytest.raises(CassetteError, match=r"bad\.jsonl:5: unknown side 'proxy'"):
        write_html(bad, out)
    assert out.read_text() == "old report"
    assert {p.name for p in tmp_path.iterdir()} == {"bad.jsonl", "r.html"}  # no temp left


def test_a_new_report_replaces_the_old_one_whole_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r.html"
    out.write_text("old report")
    assert write_html(CASSETTES / "audio_turn.jsonl", out) == out
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>\n") and text.endswith("</body>\n</html>\n")
    _, rows, _ = page_data(out)
    assert len(rows) == frame_count(CASSETTES / "audio_turn.jsonl")
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_a_failure_while_writing_names_the_report_and_leaves_the_old_one(
    tmp_path: Path,
) -> None:
    # A real write failure (EFBIG, as a full disk would give ENOSPC): the child may write
    # 32 KiB per file; the report of audio_turn.jsonl is some 90 KiB.
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))

    out = tmp_path / "r.html"
    out.write_text("old report")
    command = ["inspect", str(CASSETTES / "audio_turn.jsonl"), "--html", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "harness", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_file_size,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: {out}: File too large\n"
    assert out.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # the temporary file is gone


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes into a read-only directory: chmod cannot refuse it"
)
def test_an_unwritable_folder_names_the_report_and_leaves_the_old_one(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    out = folder / "r.html"
    out.write_text("old report")
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            write_html(CASSETTES / "text_turn.jsonl", out)
        assert info.value.filename == str(out)
        assert out.read_text() == "old report"
        assert [p.name for p in folder.iterdir()] == ["r.html"]
    finally:
        folder.chmod(0o755)


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(UsageError, match="wave_points"):
        ReportLimits(wave_points=1)
    with pytest.raises(UsageError, match="audio limits"):
        ReportLimits(audio_bytes_total=-1)


def test_a_run_marks_the_mismatch_and_greys_the_unplayed_frames(tmp_path: Path) -> None:
    cassette = CASSETTES / "text_turn.jsonl"
    script = prepare_cassette(cassette)
    replay = Replay(script.frames(0), cassette=str(cassette))
    replay.connect(now=0.0)
    while replay.next_to_send() is not None:
        pass
    recorded = [f for f in load_cassette(cassette).frames if f.side == "client"]
    for frame in recorded[:2]:  # the two session.updates, as recorded
        assert frame.event is not None
        replay.receive_event(frame.event, now=0.0)
        while replay.next_to_send() is not None:
            pass
    wrong = json.loads(json.dumps(recorded[2].event))
    wrong["item"]["content"][0]["text"] = "What is the capital of Germany?"
    replay.receive_event(wrong, now=0.1)
    result = replay.finish()
    assert result.unplayed is not None
    data, rows, _ = page_data(
        write_html(
            cassette,
            tmp_path / "r.html",
            mismatches=result.mismatches,
            unplayed=[result.unplayed],
            title="t",
        )
    )
    run = data["run"]
    assert not run["ok"]
    (m,) = run["mismatches"]
    assert m["lineno"] == recorded[2].lineno
    assert m["diff"] == [
        {
            "path": "$.item.content[0].text",
            "expected": '"What is the capital of France?"',
            "received": '"What is the capital of Germany?"',
        }
    ]
    assert m["received"]["item"]["content"][0]["text"] == "What is the capital of Germany?"
    flagged = {r[5]: r[4] for r in rows}
    assert "mismatch" in flagged[recorded[2].lineno].split()
    unplayed_lines = set(result.unplayed.read_lines)
    rest = result.unplayed.rest_from
    greyed = {r[5] for r in rows if "unplayed" in r[4].split()} | {
        r[5] for r in rows if rest and r[5] >= rest
    }
    assert len(greyed) == result.unplayed.count
    assert unplayed_lines <= greyed
    played = {r[5] for r in rows} - greyed
    assert all(line < recorded[2].lineno for line in played)  # nothing after the mismatch played


# -- the CLI: inspect --html ---------------------------------------------------------------


def test_cli_inspect_html_writes_the_report_and_says_where(tmp_path: Path) -> None:
    from io import StringIO

    from harness.cli import main

    out = StringIO()
    target = tmp_path / "sub" / "audio_turn.html"
    cassette = CASSETTES / "audio_turn.jsonl"
    assert main(["inspect", str(cassette), "--html", str(target)], out=out) == 0
    assert re.fullmatch(
        rf"{re.escape(str(target))}: HTML report of {re.escape(str(cassette))} \(\d+ KiB\)\n",
        out.getvalue(),
    )
    _, rows, _ = page_data(target)
    assert len(rows) == frame_count(cassette)


def test_cli_inspect_html_of_a_bad_cassette_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "realtime-harness-cassette", "version": 2}\n')
    target = tmp_path / "r.html"
    assert main(["inspect", str(bad), "--html", str(target)], prog="realtime-harness") == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: {bad}:1: unsupported cassette version 2 (this harness reads version 1)"
    ]
    assert not target.exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(bad), "--html", str(target), "--json"])
    assert exit_info.value.code == 2


# -- the plugin: --realtime-report=all on a passing replay ---------------------------------

pytest_plugins = ["pytester"]

PASSING_TEST = """
import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


@pytest.mark.realtime_cassette("tiny.jsonl")
async def test_tiny(realtime_server):
    async with asyncio.timeout(10):
        async with connect(
            realtime_server.url, additional_headers={"Authorization": "Bearer test-key"}
        ) as ws:
            assert "session.created" in await ws.recv()
            with pytest.raises(ConnectionClosed):
                await ws.recv()
"""


def test_option_all_reports_a_passing_replay_too(pytester: pytest.Pytester) -> None:
    with CassetteWriter(pytester.path / "tiny.jsonl", Header()) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "event_id": "e1", "session": {}})
        w.write_close("server", 0.01, 0, 1000, "bye")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_inner=PASSING_TEST)
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--realtime-report=all", f"--realtime-report-dir={reports}"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"realtime-harness: 1 HTML report in {reports}"])
    (report,) = reports.iterdir()
    data, rows, _ = page_data(report)
    assert data["run"]["ok"] is True
    assert data["run"]["title"] == "test_inner.py::test_tiny: passed"
    assert [r[4] for r in rows] == ["", "close"]  # nothing greyed, nothing highlighted

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--realtime-report-dir={reports}2"
    )
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports2").exists()  # failed (the default): none for a pass


def test_no_secret_reaches_a_report(tmp_path: Path) -> None:
    key = "sk-proj-REPORTtest0123456789abcdefghijkl"
    path = tmp_path / "leaky.jsonl"  # hand-made: never went through the recorder
    with CassetteWriter(path, Header(client=f"made with {key}")) as w:
        w.event("server", 0.0, 0, {"type": "session.created", "session": {}})
        w.event(
            "client",
            0.01,
            0,
            {
                "type": "session.update",
                "session": {
                    "instructions": f"use {key}",
                    "tools": [{"type": "mcp", "authorization": "Bearer hunter2-secret"}],
                },
            },
        )
        w.write_close("client", 0.02, 0, 1000)
    script = prepare_cassette(path)
    replay = Replay(script.frames(0), cassette=str(path))
    replay.connect(now=0.0)
    while replay.next_to_send() is not None:
        pass
    replay.receive_event(
        {"type": "session.update", "session": {"instructions": f"now {key}"}}, now=0.1
    )
    result = replay.finish()
    text = write_html(
        path, tmp_path / "r.html", mismatches=result.mismatches, title="t"
    ).read_text()
    (mismatch,) = result.mismatches
    assert key not in mismatch.report and "now <redacted:openai_api_key>" in mismatch.report
    assert key not in text  # patterns: everywhere, the run's report and diff included
    _, rows, _ = page_data(tmp_path / "r.html")
    # key paths: in every frame shown (the diff quotes the cassette's own text as it is)
    assert rows[1][6]["session"]["tools"][0]["authorization"] == "<redacted:mcp_authorization>"
