"""Regenerate docs/report.png: the HTML report of cassettes/interruption.jsonl in Chromium.

Run:  .venv/bin/python docs/_screenshot.py   (needs /usr/bin/chromium and the test extra)
"""

from __future__ import annotations

import os
import sys
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from harness.report import write_html  # noqa: E402
from tests._report_browser import CHROMIUM, FLAGS  # noqa: E402


def main() -> None:
    os.chdir(ROOT)  # the page names the cassette as given: cassettes/interruption.jsonl
    with tempfile.TemporaryDirectory() as folder:
        report = write_html("cassettes/interruption.jsonl", Path(folder) / "r.html")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(report.as_uri())
            page.wait_for_function("window.__report && window.__report.ready")
            page.wait_for_function(
                "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)"
            )
            page.locator('.mark[data-line="24"]').click()  # the client's truncate
            page.mouse.move(0, 0)
            png = page.screenshot(full_page=True)
            browser.close()
    image = Image.open(BytesIO(png)).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    image.save(ROOT / "docs" / "report.png", optimize=True)
    print(f"docs/report.png: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
