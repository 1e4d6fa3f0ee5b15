"""The transport's payload values, without a socket: audio's base64 on both paths."""

from __future__ import annotations

import base64
import binascii

from hypothesis import example, given
from hypothesis import strategies as st

from harness.transport import AudioEvent


def lenient_stdlib_decode(text: str) -> bytes:
    """What the transport decoded before pybase64 (``atob``: padding optional)."""
    missing = -len(text) % 4
    if missing and missing < 3:
        text += "=" * missing
    return binascii.a2b_base64(text)


base64_like = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n*-_"
)


@given(st.binary(max_size=300))
def test_audio_data_round_trips(data: bytes) -> None:
    wire = base64.b64encode(data).decode()
    event = AudioEvent.from_base64(wire, "resp_1")
    assert event.data == data
    assert event.to_json() == {"type": "audio", "data": wire, "responseId": "resp_1"}
    assert AudioEvent(data, "resp_1").to_json()["data"] == wire


@given(base64_like)
@example("QU")  # unpadded, as atob accepts
@example("Q U*J=D")  # junk and padding mid-text: the lenient decoder's reading
@example("QUI=QUI=")
def test_irregular_base64_decodes_as_the_standard_library_does(text: str) -> None:
    try:
        expected: bytes | type[Exception] = lenient_stdlib_decode(text)
    except binascii.Error:
        expected = binascii.Error
    try:
        got: bytes | type[Exception] = AudioEvent.from_base64(text, "r").data
    except binascii.Error:
        got = binascii.Error
    assert got == expected


def test_audio_events_decode_lazily_and_compare_by_value() -> None:
    lazy = AudioEvent.from_base64("AAEC", "r1")
    assert repr(lazy) == "AudioEvent(<3 bytes>, 'r1')"
    assert lazy.to_json() == {"type": "audio", "data": "AAEC", "responseId": "r1"}
    assert lazy == AudioEvent(b"\x00\x01\x02", "r1")
    assert lazy.data == b"\x00\x01\x02"
    assert hash(lazy) == hash(AudioEvent(b"\x00\x01\x02", "r1"))
    assert AudioEvent(b"\x00", "r1") != AudioEvent(b"\x00", "r2")
    # Irregular base64 (no padding) is measured by decoding it.
    assert repr(AudioEvent.from_base64("AAE", "r")) == "AudioEvent(<2 bytes>, 'r')"


@given(base64_like.filter(lambda text: len(text) % 4 == 0))
@example("AB=C")
@example("AB==")
@example("ABC=")
def test_the_played_length_counts_regular_base64_as_b64_size_does(text: str) -> None:
    from harness.transport import RealtimeProtocol
    from harness.transport.payloads import b64_size

    try:
        expected = b64_size(text)
    except binascii.Error:
        return  # irregular and undecodable: the audio event reports it when read
    protocol = RealtimeProtocol(clock=lambda: 0.0)
    protocol.open()
    delta = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "item_id": "i",
        "content_index": 0,
        "output_index": 0,
        "response_id": "r",
        "delta": text,
    }
    protocol._on_audio_delta(delta)
    # no format known: pcm16 at 24 kHz, 48 bytes a millisecond
    assert protocol._audio_length_ms == expected / 24 / 2
