"""Regenerate the dashboard's screenshots in docs/images/ (dashboard-*.png).

Stages the same demo state as tests/test_dashboard_browser.py's screenshot test
(tests/dashboard_browser.py: a fake on a manual clock, so every run draws the
same pages) and photographs each main view in headless Chromium. Needs the
distribution's Chromium (``apt-get install -y chromium``) and Playwright for
Python (in the dev extra); run from the repository's root:

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import dashboard_browser  # noqa: E402 - after the path above


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    reason = dashboard_browser.missing()
    if reason is not None:
        print(f"cannot take the screenshots: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = dashboard_browser.launch(playwright)
        try:
            context = browser.new_context(viewport=dashboard_browser.VIEWPORT)
            written = dashboard_browser.screenshots(context.new_page(), args.out)
        finally:
            browser.close()
    for path in written:
        print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
