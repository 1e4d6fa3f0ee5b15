"""The error hierarchy: exact messages, standard bases, no secret in any message."""

from __future__ import annotations

import pytest

from harness import errors


def test_cassette_error_names_file_and_line() -> None:
    exc = errors.CassetteError("cassettes/x.jsonl", 14, "time goes backwards")
    assert str(exc) == "cassettes/x.jsonl:14: time goes backwards"
    assert (exc.path, exc.lineno, exc.reason) == ("cassettes/x.jsonl", 14, "time goes backwards")
    assert isinstance(exc, ValueError)


def test_cassette_error_without_line() -> None:
    assert str(errors.CassetteError("a.jsonl", None, "empty file")) == "a.jsonl: empty file"


def test_cassette_not_found_is_a_file_not_found_error() -> None:
    exc = errors.CassetteNotFound("missing.jsonl")
    assert isinstance(exc, FileNotFoundError)
    assert str(exc) == "missing.jsonl: no such cassette"


def test_transport_closed_keeps_code_and_reason() -> None:
    exc = errors.TransportClosed("connection closed", code=1011, reason="internal error")
    assert (exc.code, exc.reason, str(exc)) == (1011, "internal error", "connection closed")
    assert isinstance(exc, errors.TransportError)


def test_mismatch_is_an_assertion_error_carrying_its_diff() -> None:
    exc = errors.UnplayedFrames("2 frames never played", expected=["a"], received=None)
    assert isinstance(exc, AssertionError) and isinstance(exc, errors.CassetteMismatch)
    assert exc.diff == str(exc) == "2 frames never played"


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_rooted_in_the_hierarchy(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.HarnessError)
