"""A refused handshake, as a cassette records it: a close frame with the HTTP response.

Part of the cassette format (v1). When the upstream refuses a client's opening handshake,
the recorder writes that connection as one frame: a ``server`` ``close`` frame with code
``4000 + HTTP status`` (4401, 4502, ...) and the reason ``"handshake refused: HTTP 401
Unauthorized"``, a newline, and the (redacted) response body. The fake server replays it as
the same HTTP response, and the drivers expect it. :func:`refusal_frame` writes one,
:func:`parse_refusal` reads one back (``None`` for any other frame).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.cassette import Frame, Side

__all__ = ["Refusal", "parse_refusal", "refusal_frame"]

# A refused handshake is recorded as a server close frame: code 4000 + HTTP status, reason
# this prefix, the status line, a newline and the (redacted) response body.
_REFUSAL_PREFIX = "handshake refused: HTTP "


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upstream that refused the opening handshake, as recorded in a cassette.

    Attributes:
        status: the HTTP status the client received (401, 502, ...).
        reason_phrase: the status text (``"Unauthorized"``).
        body: the response body, redacted.
    """

    status: int
    reason_phrase: str
    body: str


def refusal_frame(conn: int, t: float, refusal: Refusal) -> Frame:
    """The close frame that records a refused handshake (code ``4000 + status``)."""
    reason = f"{_REFUSAL_PREFIX}{refusal.status} {refusal.reason_phrase}\n{refusal.body}"
    return Frame.of_close(Side.SERVER, t, conn, 4000 + refusal.status, reason)


def parse_refusal(frame: Frame) -> Refusal | None:
    """Return the refusal a frame records, or ``None`` if it is an ordinary frame."""
    if (
        frame.side is not Side.SERVER
        or frame.close_code is None
        or frame.event is not None
        or frame.binary is not None
        or not frame.close_reason.startswith(_REFUSAL_PREFIX)
    ):
        return None
    status_line, _, body = frame.close_reason[len(_REFUSAL_PREFIX) :].partition("\n")
    code, _, phrase = status_line.partition(" ")
    if not code.isdigit() or frame.close_code != 4000 + int(code):
        return None
    return Refusal(int(code), phrase, body)
