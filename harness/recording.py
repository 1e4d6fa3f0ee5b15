"""A recording in progress: its staging file, the redacted lines written to it, the verdict.

The part of recording that is file I/O and no network, shared by
:class:`~harness.recorder.RecordingProxy` and :class:`~harness.tap.TransportTap`: frames are
redacted and appended to ``NAME.recording.jsonl`` beside the cassette, which replaces the
cassette atomically only when the recording is sound; otherwise it is kept as
``NAME.failed.jsonl`` and :class:`~harness.errors.RecordingError` says why. See
:class:`RecordingSink` and :func:`side_files`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

from harness import _json
from harness._files import fsync_directory
from harness.cassette import (
    MAX_DEPTH,
    CassetteWriter,
    Frame,
    Header,
    Made,
    Side,
    StrPath,
    encode_event_frame,
    encode_frame,
    exceeds_depth,
    open_cassette,
)
from harness.errors import HarnessError, RecordingError, UsageError
from harness.redaction import RedactionRules
from harness.refusal import Refusal, refusal_frame

__all__ = ["RecordingSink", "side_files", "starting_conn"]


def side_files(cassette_path: StrPath) -> tuple[str, str]:
    """The two files a recording keeps beside its cassette: ``(staging, failed)``.

    ``cassettes/greeting.jsonl`` is recorded into ``cassettes/greeting.recording.jsonl``
    (replacing the cassette only when the recording is sound); a recording that is not
    sound is kept as ``cassettes/greeting.failed.jsonl``.
    """
    path = os.fspath(cassette_path)
    base = path[: -len(".jsonl")] if path.endswith(".jsonl") else path
    return f"{base}.recording.jsonl", f"{base}.failed.jsonl"


class RecordingSink:
    """Redacts frames and appends their lines to a staging file that replaces the cassette.

    Theory of operation (nothing a user runs may destroy or corrupt a cassette):

    1. :meth:`reserve` (when the proxy starts, or at the tap's first connection) creates
       the staging file beside the cassette, exclusively: a second recorder, or the one a
       ``kill -9`` left behind, is refused with the file's name, never overwritten. When
       appending, the staging file starts as a byte-for-byte copy of the cassette.
    2. :meth:`open` opens a :class:`CassetteWriter` on the staging file at the first
       connection (it writes the header, or cuts a torn tail off a copied cassette), and
       every frame goes through it: :meth:`write_lines` hands it the lines of every frame
       one read brought (:meth:`CassetteWriter.write_lines`, a single ``write`` call). A
       recorder killed at any instant leaves every complete frame readable there and the
       cassette untouched; a write that fails part way is cut back to whole lines.
    3. :meth:`finish` decides. The recording is *sound* when at least one connection
       completed its handshake with the upstream and nothing failed inside the harness
       (:attr:`errors`: a write that failed, a relay that broke, an upstream the proxy
       could not reach). Sound: the staging file is fsync'd and atomically replaces the
       cassette (``os.replace``, then the directory is fsync'd). Not sound: the cassette
       is left byte-identical, the staging file is renamed to the ``.failed.jsonl`` side
       file, and :class:`~harness.errors.RecordingError` says why (the upstream's
       refusal: status and reason, redacted) and where the attempt is.

    The lines are encoded once, by :mod:`harness.cassette` (:func:`encode_event_frame`,
    :func:`encode_frame`), the one owner of the layout, so readers take their fast path;
    no :class:`Frame` is made per relayed message (that cost the proxy ~10% more CPU per
    audio event, ``bench/bench_recorder.py``). The writer checks each batch's ``t``; it
    cannot go backwards here (the event loop's monotonic clock minus the connection's
    origin, each connection's frames written in the order they are timed), and if it
    did, the recording would fail rather than write a cassette the reader refuses.
    """

    def __init__(
        self,
        path: StrPath,
        redaction: RedactionRules,
        *,
        by: str,
        note: str,
        append: bool,
    ) -> None:
        self.path = os.fspath(path)
        self.staging, self.failed_path = side_files(self.path)
        self.redaction = redaction
        self.by = by
        self.note = note
        self.append = append
        self.writer: CassetteWriter | None = None
        self.reserved = False
        self.opened = False
        self.handshakes = 0
        """Connections whose handshake the upstream completed (HTTP 101)."""
        self.refusals: list[str] = []
        """The upstream's refusals, one redacted line each (``conn 0: HTTP 401 ...``)."""
        self.errors: list[str] = []
        """What failed inside the harness, one redacted line each."""
        self.write_error: BaseException | None = None
        self.done = False

    def reserve(self) -> None:
        """Create the staging file, exclusively (a copy of the cassette when appending).

        Raises:
            UsageError: the cassette path is a directory, or the staging file exists
                (another recorder is writing it, or a killed one left it), or it cannot
                be created.
        """
        if self.reserved:
            return
        if self.path.endswith(("/", os.sep)) or os.path.isdir(self.path):
            raise UsageError(
                f"{self.path} is a directory: give the cassette's file name, e.g. "
                f"{os.path.join(self.path, 'session.jsonl')}"
            )
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.staging, "xb") as staging:
                try:
                    if self.append and os.path.exists(self.path):
                        with open(self.path, "rb") as old:
                            shutil.copyfileobj(old, staging)
                except BaseException:
                    os.unlink(self.staging)
                    raise
        except FileExistsError:
            raise UsageError(
                f"{self.staging} exists: another recorder is writing {self.path}, or one was "
                "killed and left its frames there; move it away (or delete it) to record again"
            ) from None
        except OSError as exc:
            raise UsageError(
                f"{self.path}: cannot record here: {exc.strerror or exc}"
                + (f": {exc.filename}" if exc.filename else "")
            ) from None
        self.reserved = True

        # Keys split across the text deltas of one stream (README: Redaction).
        self.streams = self.redaction.stream()

    def open(
        self,
        path: str,
        query: Iterable[tuple[str, str]],
        client: str,
        headers: Iterable[tuple[str, str]] | None,
        subprotocols: Sequence[str],
    ) -> None:
        """Write the header (once) from the first connection's handshake."""
        if self.writer is not None:
            return
        if self.done:
            raise UsageError(f"{self.path}: the recording is finished; start a new one")
        self.reserve()
        rules = self.redaction
        extra: dict[str, Any] = {"recorder": self.by}
        if headers is not None:
            kept = [(k, v) for k, v in headers if k.lower() != "sec-websocket-key"]
            extra["handshake"] = {
                "headers": dict(rules.redact_headers(kept).value),
                "subprotocols": rules.redact_subprotocols(subprotocols).value,
            }
        header = Header(
            made=Made.RECORDED,
            created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            path=rules.redact_free_text(path).value,
            query=dict(rules.redact_query(query).value),
            client=rules.redact_text(client).value,
            redactions=rules.names,
            note=rules.redact_text(self.note).value,
            extra=extra,
        )
        # "a": the staging file is new (the header goes first) or a copy of the cassette
        # being appended to (its header stays; a torn tail left by a crash is cut off).
        self.writer = CassetteWriter(self.staging, header, mode="a")
        self.opened = True

    def write_lines(self, conn: int, t: float, lines: Sequence[bytes]) -> None:
        """Append the lines of frames on ``conn`` at ``t`` (encoded, without newlines).

        One unbuffered write through :meth:`CassetteWriter.write_lines`. A failed write
        (disk full, ...) is kept in :attr:`errors`: the recording is no longer sound.
        Once the recording is finished, nothing more is written (a tap closed before
        its transport: the transport's closing frames are not recorded).
        """
        writer = self.writer
        if writer is None:
            assert self.done, "write_lines before open"
            return
        try:
            writer.write_lines(conn, t, lines)
        except Exception as exc:
            if self.write_error is None:
                self.write_error = exc
                self.errors.append(
                    self.redaction.redact_free_text(
                        f"writing {self.staging} failed: {type(exc).__name__}: {exc}"
                    ).value
                )
            raise

    def message_line(self, side: Side, t: float, conn: int, text: bool, data: bytes) -> bytes:
        """The redacted line of a message (``text``: a text frame's UTF-8 bytes).

        Raises:
            UnicodeDecodeError: a text frame that is not UTF-8 (the relay fails it, 1007).
        """
        if not text:
            redacted = self.redaction.redact_bytes(data).value
            return encode_frame(Frame.of_binary(side, t, conn, redacted))
        return encode_event_frame(
            side, t, conn, self.event_of(data, strict=True, stream=(conn, side))
        )

    def message(self, side: Side, t: float, conn: int, message: str | bytes) -> None:
        """Record one message: ``str`` is a text frame, ``bytes`` a binary frame."""
        if isinstance(message, str):
            self.text(side, t, conn, message)
        else:
            self.binary(side, t, conn, message)

    def text(self, side: Side, t: float, conn: int, data: str | bytes) -> None:
        """Record a text frame (given decoded or as its UTF-8 bytes)."""
        event = self.event_of(data, stream=(conn, side))
        self.write_lines(conn, t, [encode_event_frame(side, t, conn, event)])

    def binary(self, side: Side, t: float, conn: int, data: bytes) -> None:
        """Record a binary frame."""
        self.write_lines(conn, t, [self.message_line(side, t, conn, False, data)])

    def event_of(
        self, text: str | bytes, *, strict: bool = False, stream: object = None
    ) -> dict[str, Any]:
        """The redacted event a text frame carries.

        Anything but a JSON object is kept as a ``harness.non_json_text`` event; bytes that
        are not UTF-8 raise :class:`UnicodeDecodeError` if ``strict``, else are shown with
        replacement characters. ``stream`` (``(conn, side)``) names where the frame came
        from, for keys split across text deltas (:class:`~harness.redaction.StreamRedactor`).
        """
        try:
            event = _json.loads(text)
        except _json.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or exceeds_depth(event, MAX_DEPTH, text):
            # The API only speaks JSON objects; keep anything else visible, never dropped.
            # An object nested deeper than a cassette event may be (MAX_DEPTH) is kept as
            # its text too: written as an event, the cassette could not be read back.
            if isinstance(text, str):
                shown = text
            else:
                shown = text.decode("utf-8", "strict" if strict else "replace")
            # Key paths cannot be followed in text: each path rule runs by its key name
            # (redact_event_text), then the rules that prose can show.
            shown = self.redaction.redact_event_text(shown).value
            return {
                "type": "harness.non_json_text",
                "text": self.redaction.redact_free_text(shown).value,
            }
        redacted: dict[str, Any] = self.streams.redact_event(event, stream).value
        return redacted

    def write_close(self, side: Side, t: float, conn: int, code: int | None, reason: str) -> None:
        """Record a close frame (reason redacted)."""
        reason = self.redaction.redact_free_text(reason).value
        frame = Frame.of_close(side, t, conn, code, reason)
        self.write_lines(conn, t, [encode_frame(frame)])

    def refusal(
        self,
        conn: int,
        t: float,
        status: int,
        phrase: str,
        body: bytes | str,
        *,
        by_proxy: str | None = None,
    ) -> None:
        """Record a refused handshake (body redacted).

        ``by_proxy``: the proxy refused the client itself (the upstream was unreachable or
        timed out), for this reason: a failure inside the harness, not the upstream's word.
        """
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        refusal = Refusal(status, phrase, self.redaction.redact_free_text(text).value)
        if by_proxy is not None:
            self.errors.append(f"conn {conn}: {by_proxy} (the client got HTTP {status})")
        else:
            self.refusals.append(
                f"conn {conn}: the upstream refused the handshake: {_refusal_summary(refusal)}"
            )
        self.write_lines(conn, t, [encode_frame(refusal_frame(conn, t, refusal))])

    def finish(self) -> bool:
        """Replace the cassette with the recording if it is sound; else keep it aside.

        Returns:
            whether the cassette was replaced (``False``: nothing was recorded while
            appending, so there was nothing to add and the cassette is untouched).

        Raises:
            RecordingError: the recording is not sound (or, when not appending, nothing was
                recorded); the cassette is byte-identical to what it was.
        """
        if not self.reserved:
            return False
        self.reserved = False
        self.done = True
        existed = os.path.exists(self.path)
        writer, self.writer = self.writer, None
        if not self.opened:
            os.unlink(self.staging)
            if self.append:
                return False
            raise RecordingError(
                self.path, ["nothing was recorded: no client connected"], existed=existed
            )
        assert writer is not None
        reasons: list[str] = []
        if self.handshakes == 0:
            reasons.append("no connection completed its handshake with the upstream")
        reasons += self.errors
        if not reasons:
            try:
                writer.sync()
            finally:
                writer.close()
            os.replace(self.staging, self.path)
            fsync_directory(self.path)
            return True
        writer.close()
        if self.handshakes == 0:
            reasons += self.refusals
        os.replace(self.staging, self.failed_path)
        raise RecordingError(self.path, reasons, failed_path=self.failed_path, existed=existed)


def _refusal_summary(refusal: Refusal) -> str:
    """``HTTP 401 Unauthorized: Incorrect API key`` (the API's error message, if any)."""
    shown = f"HTTP {refusal.status} {refusal.reason_phrase}".rstrip()
    try:
        error = _json.loads(refusal.body)["error"]
        message = error.get("message") or error.get("code")
    except (_json.JSONDecodeError, KeyError, TypeError, AttributeError):
        message = None
    if isinstance(message, str) and message:
        message = " ".join(message.split())
        shown += f": {message[:200]}" + ("..." if len(message) > 200 else "")
    return shown


def starting_conn(path: StrPath, append: bool, given: int | None) -> int:
    """The first ``conn`` to record: as given, else 0, or after the last one when appending."""
    if given is not None:
        return given
    return _last_conn(os.fspath(path)) + 1 if append else 0


def _last_conn(path: str) -> int:
    """The highest ``conn`` in the cassette's readable frames (-1: none, or no cassette).

    A file that cannot be read is not an error here: reserving the staging file reports it.
    """
    last = -1
    with contextlib.suppress(OSError, HarnessError), open_cassette(path) as reader:
        for frame in reader:
            last = max(last, frame.conn)
    return last
