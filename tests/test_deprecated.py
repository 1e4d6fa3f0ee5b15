"""Deprecated names (README: "Deprecated names") still work for one release, and warn."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import harness.recorder

MOVED = [
    ("Refusal", "harness.refusal"),
    ("parse_refusal", "harness.refusal"),
    ("refusal_frame", "harness.refusal"),
    ("side_files", "harness.recording"),
    ("TransportTap", "harness.tap"),
    ("add_record_arguments", "harness.cli"),
    ("run_record", "harness.cli"),
]


@pytest.mark.parametrize(("name", "module"), MOVED)
def test_a_name_moved_out_of_the_recorder_warns_and_is_the_same_object(
    name: str, module: str
) -> None:
    with pytest.warns(DeprecationWarning, match=rf"harness\.recorder\.{name} is deprecated: "):
        old = getattr(harness.recorder, name)
    assert old is getattr(importlib.import_module(module), name)


def test_from_import_of_a_moved_name_warns_at_the_importer() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from harness.recorder import parse_refusal  # noqa: F401
    assert caught[0].filename == __file__  # stacklevel=2: the line that used the old name


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        harness.recorder.nothing_here  # noqa: B018


def test_importing_the_recorder_warns_nothing_and_loads_no_moved_module() -> None:
    code = (
        "import sys, warnings; warnings.simplefilter('error'); import harness.recorder; "
        "loaded = [m for m in ('harness.tap', 'harness.cli', 'harness.transport') "
        "if m in sys.modules]; assert not loaded, loaded"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("module", ["harness", "harness.errors"])
def test_harness_warning_is_deprecated_and_out_of_all(module: str) -> None:
    mod = importlib.import_module(module)
    assert "HarnessWarning" not in mod.__all__
    with pytest.warns(DeprecationWarning, match=rf"{module}\.HarnessWarning is deprecated"):
        cls = mod.HarnessWarning
    assert issubclass(cls, UserWarning) and cls.__name__ == "HarnessWarning"


RENAMED_IN_REPLAY = [
    ("Script", "PreparedCassette"),
    ("ReplayScript", "PreloadedCassette"),
    ("StreamingScript", "StreamedCassette"),
    ("load_script", "prepare_cassette"),
]


@pytest.mark.parametrize(("old", "new"), RENAMED_IN_REPLAY)
def test_a_renamed_replay_name_warns_at_the_caller_and_is_the_same_object(
    old: str, new: str
) -> None:
    import harness.replay

    with pytest.warns(DeprecationWarning, match=rf"harness\.replay\.{old} is deprecated") as w:
        value = getattr(harness.replay, old)
    assert value is getattr(harness.replay, new)
    assert w[0].filename == __file__


async def test_the_server_s_old_spellings_warn_and_answer_as_the_new_ones() -> None:
    from pathlib import Path

    from websockets.asyncio.client import connect

    from harness.errors import CassetteMismatch
    from harness.server import FakeRealtimeServer

    cassette = Path(__file__).parent.parent / "cassettes" / "text_turn.jsonl"
    async with FakeRealtimeServer(cassette) as server:
        with pytest.warns(DeprecationWarning, match=r"FakeRealtimeServer\.script is deprecated"):
            assert server.script is server.cassette
        headers = {"Authorization": "Bearer test"}
        async with connect(server.url, additional_headers=headers, open_timeout=10) as ws:
            await ws.send('{"type": "not.recorded"}')  # a mismatch, answered with an error
            await ws.recv()
    with (
        pytest.warns(DeprecationWarning, match=r"assert_played\(\) is deprecated"),
        pytest.raises(CassetteMismatch),
    ):
        server.assert_played()
    mismatch = server.mismatches[0]
    with pytest.warns(DeprecationWarning, match=r"Mismatch\.connection is deprecated"):
        assert mismatch.connection == mismatch.serial == 0
    unplayed = server.unplayed[0]
    with pytest.warns(DeprecationWarning, match=r"Unplayed\.connection is deprecated"):
        assert unplayed.connection == unplayed.serial == 0
