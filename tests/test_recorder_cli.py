"""`python -m harness record`: the recording proxy as a command."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from recorder_support import API_KEY, unreachable_url, write_good_cassette
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from harness.cassette import (
    load_cassette,
)
from harness.errors import UsageError
from harness.server import FakeRealtimeServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}


async def _record_command(
    *args: str, preexec_fn: Callable[[], None] | None = None
) -> asyncio.subprocess.Process:
    """``python -m harness record ARGS`` in a child process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness",
        "record",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=preexec_fn,
    )


async def _listening(proc: asyncio.subprocess.Process) -> str:
    """Read the four lines the command prints once it listens; the URL clients use."""
    assert proc.stdout is not None
    lines = [(await proc.stdout.readline()).decode() for _ in range(4)]
    assert lines[3] == "stop with Ctrl-C\n", lines
    return lines[1].removeprefix("connect clients to ").strip()


async def _interrupt(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    """SIGINT, as Ctrl-C; what the command then printed (stdout, stderr)."""
    proc.send_signal(signal.SIGINT)
    out, err = await proc.communicate()
    return out.decode(), err.decode()


async def _exits_at_once(*args: str) -> tuple[int | None, str, str]:
    proc = await _record_command(*args)
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_record_command_records_until_interrupted(tmp_path: Path) -> None:
    cassette = tmp_path / "cli.jsonl"
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        for round_ in range(2):  # the second run appends
            extra = ["--append"] if round_ else []
            proc = await _record_command(
                str(cassette),
                "--upstream",
                upstream.url,
                "--port",
                "0",
                "--redact-path",
                "customer=session.metadata.customer",
                *extra,
            )
            assert proc.stdout is not None
            lines = [(await proc.stdout.readline()).decode() for _ in range(4)]
            assert lines[0] == f"recording to {cassette}\n"
            url = lines[1].removeprefix("connect clients to ").strip()
            assert url.startswith("ws://127.0.0.1:") and url.endswith(
                "/v1/realtime?model=gpt-realtime"
            )
            assert lines[2].startswith("  (openai client: websocket_base_url=ws://127.0.0.1:")
            async with connect(
                url, additional_headers={"Authorization": f"Bearer {API_KEY}"}
            ) as ws:
                await ws.recv()
                await ws.send(
                    json.dumps(
                        {"type": "session.update", "session": {"metadata": {"customer": "c-42"}}}
                    )
                )
                await ws.recv()
            proc.send_signal(signal.SIGINT)
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            assert out.decode() == f"recorded 1 connection(s) to {cassette}\n"
    loaded = load_cassette(cassette)
    assert loaded.conns() == (0, 1)
    assert loaded.header.redactions[-1] == "customer"
    text = cassette.read_text()
    assert "c-42" not in text and API_KEY not in text


async def test_record_command_refuses_a_bad_rule_with_a_message(tmp_path: Path) -> None:
    proc = await _record_command(str(tmp_path / "c.jsonl"), "--redact-pattern", "broken")
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert (out, err.decode()) == (b"", "error: redaction rule 'broken': write NAME=VALUE\n")
    assert not (tmp_path / "c.jsonl").exists()


async def test_record_refuses_to_truncate_an_existing_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    status, out, err = await _exits_at_once(str(cassette), "--upstream", await unreachable_url())
    assert (status, out) == (2, "")
    assert err == (
        f"error: {cassette} exists: use --force to overwrite it or --append to add connections\n"
    )
    assert cassette.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--force", "--append"], "argument --append: not allowed with argument --force"),
        (["--append", "--force"], "argument --force: not allowed with argument --append"),
    ],
)
async def test_record_with_force_and_append_is_one_line_naming_both(
    tmp_path: Path, given: list[str], message: str
) -> None:
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    status, out, err = await _exits_at_once(str(cassette), *given)
    assert (status, out) == (2, "")
    assert err == (
        f"python -m harness record: error: {message} (see 'python -m harness record --help')\n"
    )
    assert cassette.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


async def test_run_record_refuses_force_with_append_from_a_namespace_built_in_code(
    tmp_path: Path,
) -> None:
    # The parser refuses the pair; run_record (public, for a program's own parser) too.
    from harness.cli import add_record_arguments, run_record

    parser = argparse.ArgumentParser()
    add_record_arguments(parser)
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    args = parser.parse_args([str(cassette), "--upstream", await unreachable_url()])
    args.force = args.append = True
    with pytest.raises(UsageError, match=r"^--force and --append cannot be used together$"):
        async with asyncio.timeout(20):  # else it would record until SIGINT
            await run_record(args)
    assert cassette.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


async def test_record_with_force_replaces_the_cassette_once_the_recording_is_sound(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        proc = await _record_command(str(cassette), "--upstream", upstream.url, "--force")
        url = await _listening(proc)
        async with connect(url, additional_headers=AUTH) as ws:
            await ws.recv()
        assert cassette.read_bytes() == old  # replaced only at the end
        out, err = await _interrupt(proc)
    assert (proc.returncode, out, err) == (0, f"recorded 1 connection(s) to {cassette}\n", "")
    assert b"ev_old" not in cassette.read_bytes()
    assert load_cassette(cassette).conns() == (0,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


async def test_record_with_append_keeps_the_old_lines_byte_for_byte(tmp_path: Path) -> None:
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        proc = await _record_command(str(cassette), "--upstream", upstream.url, "--append")
        async with connect(await _listening(proc), additional_headers=AUTH) as ws:
            await ws.recv()
        _, err = await _interrupt(proc)
    assert (proc.returncode, err) == (0, "")
    assert cassette.read_bytes().startswith(old)
    assert load_cassette(cassette).conns() == (0, 1)


@pytest.mark.parametrize("force", [False, True], ids=["new", "force"])
async def test_record_with_an_unreachable_upstream_fails_and_keeps_the_attempt(
    tmp_path: Path, force: bool
) -> None:
    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette) if force else None
    upstream = await unreachable_url()
    async with asyncio.timeout(20):
        proc = await _record_command(str(cassette), "--upstream", upstream, "--force")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(await _listening(proc)):
                pass
        assert refused.value.response.status_code == 502
        out, err = await _interrupt(proc)
    assert (proc.returncode, out) == (1, "")
    side = tmp_path / "c.failed.jsonl"
    assert err.startswith(
        f"error: {cassette}: recording failed: no connection completed its handshake with "
        f"the upstream; conn 0: harness.RecordingProxy could not open the upstream "
        f"connection to {upstream}: ConnectionRefusedError"
    )
    kept = "is unchanged" if force else "was not written"
    assert err.endswith(
        f"(the client got HTTP 502); the cassette {kept}; the attempt is in {side}\n"
    )
    assert err.count("\n") == 1
    if old is None:
        assert not cassette.exists()
    else:
        assert cassette.read_bytes() == old
    (frame,) = load_cassette(side).frames
    assert frame.close_code == 4502
    # replay never reports PASS on what a failed recording left: there is no cassette.
    assert not (tmp_path / "c.recording.jsonl").exists()


async def test_record_that_cannot_write_fails_and_leaves_the_cassette(tmp_path: Path) -> None:
    # A real write failure (EFBIG, as a full disk would give ENOSPC): the recording child may
    # write 64 KiB per file; a 100 KiB event cannot be recorded.
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    cassette = tmp_path / "c.jsonl"
    old = write_good_cassette(cassette)
    async with asyncio.timeout(20), FakeRealtimeServer.simulate() as upstream:
        proc = await _record_command(
            str(cassette), "--upstream", upstream.url, "--force", preexec_fn=limit_file_size
        )
        async with connect(await _listening(proc), additional_headers=AUTH, max_size=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "note", "text": "x" * 100_000}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1011
        out, err = await _interrupt(proc)
    assert (proc.returncode, out) == (1, "")
    side = tmp_path / "c.failed.jsonl"
    assert err == (
        f"error: {cassette}: recording failed: writing {tmp_path / 'c.recording.jsonl'} "
        "failed: OSError: [Errno 27] File too large; the cassette is unchanged; the attempt "
        f"is in {side}\n"
    )
    assert cassette.read_bytes() == old
    # The attempt holds every whole frame before the one that could not be written.
    assert [f.event["type"] for f in load_cassette(side).frames if f.event] == ["session.created"]


async def test_record_with_append_and_nobody_connecting_says_nothing_was_recorded(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "good.jsonl"
    old = write_good_cassette(cassette)
    proc = await _record_command(str(cassette), "--upstream", await unreachable_url(), "--append")
    async with asyncio.timeout(20):
        await _listening(proc)
        out, err = await _interrupt(proc)
    assert (proc.returncode, out) == (1, "")
    assert err == (
        f"error: {cassette}: nothing was recorded: no client connected; the cassette is unchanged\n"
    )
    assert cassette.read_bytes() == old


async def test_record_into_a_directory_fails_before_listening(tmp_path: Path) -> None:
    for given in (str(tmp_path), f"{tmp_path}/"):
        status, out, err = await _exits_at_once(given)
        assert (status, out) == (2, "")
        assert err == (
            f"error: {given} is a directory: give the cassette's file name, e.g. "
            f"{Path(given) / 'session.jsonl'}\n"
        )
    missing = tmp_path / "nowhere" / "c.jsonl"
    status, out, err = await _exits_at_once(str(missing))
    assert (status, out) == (2, "")
    assert err == f"error: {missing}: the directory {tmp_path / 'nowhere'} does not exist\n"
    assert list(tmp_path.iterdir()) == []


async def test_record_on_a_busy_or_impossible_port_is_one_line(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, out, err = await _exits_at_once(str(cassette), "--port", str(port))
    assert (status, out) == (2, "")
    assert err == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    status, out, err = await _exits_at_once(str(cassette), "--port", "99999")
    assert (status, out) == (2, "")
    assert err == "error: port 99999 is out of range: give 1-65535, or 0 for any free port\n"
    assert list(tmp_path.iterdir()) == []
