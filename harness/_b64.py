"""Base64 as the wire carries audio: decoded as ``atob`` does, encoded, and measured.

pybase64 decodes and encodes base64 with SIMD, ~10x the standard library on audio
deltas; the standard library stands in where pybase64 cannot be installed. Pure core:
the transport (:mod:`harness.transport.payloads`) and ``inspect``
(:mod:`harness.inspection`) share it.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

__all__ = ["b64_size", "b64decode", "b64encode"]

_b64decode_strict: Callable[..., bytes] | None
_b64encode_fast: Callable[[bytes | bytearray | memoryview], bytes] | None
try:
    from pybase64 import b64decode as _b64decode_strict
    from pybase64 import b64encode as _b64encode_fast
except ImportError:  # pragma: no cover - pybase64 is a dependency
    _b64decode_strict = _b64encode_fast = None


def b64decode(text: str) -> bytes:
    """Decode base64 as ``atob`` does: the ``=`` padding may be left out.

    Raises:
        binascii.Error: ``text`` is not base64, even leniently read.
    """
    if _b64decode_strict is not None:
        try:
            # The SIMD fast path, for the well-formed base64 the API sends.
            return _b64decode_strict(text, validate=True)
        except ValueError:  # binascii.Error: irregular input, decoded leniently below
            pass
    missing = -len(text) % 4
    if missing and missing < 3:
        text += "=" * missing
    return binascii.a2b_base64(text)


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """Base64 of ``data``, without a newline."""
    if _b64encode_fast is not None:
        return _b64encode_fast(data).decode("ascii")
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64_size(text: str | None, *, decode_irregular: bool = True) -> int:
    """How many bytes base64 ``text`` decodes to.

    Regular base64 (a multiple of 4 characters) is measured from its length and padding,
    never decoded. Irregular base64 (its padding left out, or characters outside the
    alphabet) is:

    - with ``decode_irregular`` (the transport, whose :class:`AudioEvent` decodes it so):
      decoded by :func:`b64decode`, the size of what a listener gets; raises
      :class:`binascii.Error` where that does;
    - without (``inspect``, over whatever a cassette holds): estimated from its length and
      padding, exact for base64 that only leaves out its padding; never raises.
    """
    if not text:
        return 0
    size = len(text)
    pad = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    if size % 4 == 0:
        return size // 4 * 3 - pad
    if decode_irregular:
        return len(b64decode(text))
    return size * 3 // 4 - pad
