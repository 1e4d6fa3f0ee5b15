"""Headless Chromium for the report tests: Debian's /usr/bin/chromium driven by playwright.

Never ``playwright install``: the browser builds it downloads cannot be fetched here, and
the system browser is what CI has. Every request the page makes is logged (``requests``)
and anything but the page's own file and its in-page ``blob:`` audio is aborted, so a test
can assert the page never reached for the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _browser import CHROMIUM_ARGS, chromium_missing, chromium_path

# One launch setup for every browser test (tests/_browser.py): the same executable, the
# same quiet flags, the same reason to skip.
CHROMIUM = chromium_path() or "/usr/bin/chromium"
FLAGS = list(CHROMIUM_ARGS)
TIMEOUT_MS = 20_000


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    return chromium_missing()


@dataclass
class Loaded:
    """A report page loaded in the browser, with what it logged."""

    page: Any
    url: str
    console: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        """Requests for anything but the page itself and its in-page blob: audio."""
        return [u for u in self.requests if u != self.url and not u.startswith("blob:")]

    def problems(self) -> list[tuple[str, str]]:
        """Console errors and warnings, and uncaught page errors."""
        return [(kind, text) for kind, text in self.console if kind in ("error", "warning")]


class Browser:
    """One Chromium for a test module; :meth:`load` opens a report in a fresh page."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    @contextmanager
    def load(self, path: Path, *, width: int = 1280, height: int = 900) -> Iterator[Loaded]:
        context = self._browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        loaded = Loaded(page, path.resolve().as_uri())

        def route(r: Any) -> None:
            url = r.request.url
            loaded.requests.append(url)
            if url == loaded.url or url.startswith("blob:"):
                r.continue_()
            else:
                r.abort()

        context.route("**/*", route)
        page.on("request", lambda request: loaded.requests.append(request.url))
        page.on("console", lambda message: loaded.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: loaded.console.append(("error", str(error))))
        try:
            page.goto(loaded.url)
            page.wait_for_function("window.__report && window.__report.ready")
            yield loaded
        finally:
            context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=TIMEOUT_MS)
        try:
            yield Browser(chromium)
        finally:
            chromium.close()
