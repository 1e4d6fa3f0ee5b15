"""harness._b64: the one base64 size the transport and inspect share, and where they part."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._b64 import b64_size, b64decode
from harness.cassette import CassetteWriter, Header
from harness.inspect import inspect_cassette
from harness.inspection import base64_size
from harness.transport import payloads
from harness.transport.payloads import AudioEvent


@given(st.binary(max_size=64), st.booleans())
def test_regular_and_unpadded_base64_measure_as_the_bytes_they_decode_to(
    data: bytes, padded: bool
) -> None:
    text = base64.b64encode(data).decode()
    if not padded:
        text = text.rstrip("=")  # as atob accepts it
    assert b64_size(text) == b64_size(text, decode_irregular=False) == len(data)
    assert len(b64decode(text)) == len(data)
    assert payloads.b64_size(text) == base64_size(text) == len(data)


def test_nothing_measures_0() -> None:
    assert b64_size(None) == b64_size("") == base64_size("") == 0


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("QU\n\nJD", 3),  # whitespace the lenient decoder skips
        ("QUJDRA==\n", 4),  # a trailing newline
        ("QQ==QQ", 1),  # padding inside: decoding stops at it
    ],
)
def test_irregular_base64_is_decoded_by_the_transport_and_estimated_by_inspect(
    text: str, decoded: int
) -> None:
    estimate = len(text) * 3 // 4 - (2 if text.endswith("==") else 1 if text.endswith("=") else 0)
    assert estimate != decoded
    assert b64_size(text) == payloads.b64_size(text) == decoded
    # the transport reports the size a listener reads as AudioEvent.data
    event = AudioEvent.from_base64(text, "r")
    assert repr(event) == f"AudioEvent(<{decoded} bytes>, 'r')"
    assert len(event.data) == decoded
    assert b64_size(text, decode_irregular=False) == base64_size(text) == estimate


def test_undecodable_base64_raises_for_the_transport_and_is_estimated_for_inspect(
    tmp_path: Path,
) -> None:
    text = "QUJDR"  # 5 characters: one more than a multiple of 4 decodes to nothing
    with pytest.raises(binascii.Error):
        b64_size(text)
    assert base64_size(text) == 3
    # inspect reads whatever a cassette holds without failing on it
    path = tmp_path / "odd.jsonl"
    with CassetteWriter(path, Header()) as w:
        w.event("client", 0.1, 0, {"type": "input_audio_buffer.append", "audio": text})
        w.event("client", 0.2, 0, {"type": "input_audio_buffer.append", "audio": "QU\n\nJD"})
    (conn,) = inspect_cassette(path).connections
    (run,) = conn.user_audio
    assert (run.bytes, run.chunks) == (3 + 4, 2)
