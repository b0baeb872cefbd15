"""Open built pages of the site in headless Chromium and check what a reader sees.

    mkdocs build --strict -d /tmp/site && python docs/render_check.py /tmp/site

For the home page, a tutorial and an API page: Chromium renders the page (``--dump-dom``
gives the DOM after its scripts ran, ``--screenshot`` a PNG), and the check asserts that
the page has its headings, its code blocks, and that every image it shows exists as a real
PNG; the screenshot must not be blank. Needs ``chromium`` (Debian: ``apt-get install
chromium``); ``tests/test_docs.py`` runs this when it is installed.
"""

from __future__ import annotations

import html.parser
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

PAGES = {  # page -> (headings it must show, least code blocks, least images)
    "index.html": (["rnnkit", "Where to start"], 2, 0),
    "tutorials/gradients/index.html": (
        ["Vanishing and exploding gradients, seen", "The gradient flow heatmap",
         "Truncated BPTT"], 4, 3),
    "reference/api/cells/index.html": (["rnnkit.cells", "LSTMCell", "GRUCell"], 1, 0),
}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class _Page(html.parser.HTMLParser):
    """Headings' text, code blocks and image sources of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.headings: list[str] = []
        self.code_blocks = 0
        self.images: list[str] = []
        self._heading = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "pre":
            self.code_blocks += 1
        elif tag == "img" and a.get("src"):
            self.images.append(a["src"])

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(" ".join("".join(self._heading).split()).rstrip("¶ "))
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def _run(browser: str, args: list[str], url: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="rnnkit-chromium-")
    try:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args, url],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_page(browser: str, site: Path, page: str, out: Path) -> list[str]:
    """Problems found on one page (empty: it renders)."""
    headings, least_code, least_images = PAGES[page]
    path = site / page
    url = path.resolve().as_uri()
    dom = _run(browser, ["--dump-dom"], url)
    if dom.returncode != 0 or "<html" not in dom.stdout:
        return [f"{page}: chromium --dump-dom failed: {dom.stderr[-500:]}"]
    parsed = _Page()
    parsed.feed(dom.stdout)
    problems = [f"{page}: no heading {h!r} (has {parsed.headings[:8]})"
                for h in headings if not any(h in x for x in parsed.headings)]
    if parsed.code_blocks < least_code:
        problems.append(f"{page}: {parsed.code_blocks} code blocks, expected >= {least_code}")
    shown = [s for s in parsed.images if not s.startswith(("http", "data:"))]
    if len(shown) < least_images:
        problems.append(f"{page}: {len(shown)} images, expected >= {least_images}")
    for src in shown:
        target = (path.parent / unquote(urlparse(src).path)).resolve()
        if not target.is_file() or target.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            problems.append(f"{page}: image {src} is not a PNG file at {target}")
    shot = out / (page.replace("/", "_").replace(".html", ".png"))
    _run(browser, [f"--screenshot={shot}", "--window-size=1280,1600"], url)
    if not shot.is_file() or shot.stat().st_size < 10_000:
        problems.append(f"{page}: no screenshot, or a blank one ({shot})")
    return problems


def main(site: str | Path, out: str | Path | None = None) -> list[str]:
    browser = chromium()
    if browser is None:
        raise SystemExit("no chromium: apt-get install chromium")
    site = Path(site)
    out = Path(out or tempfile.mkdtemp(prefix="rnnkit-render-"))
    out.mkdir(parents=True, exist_ok=True)
    problems = []
    for page in PAGES:
        problems += check_page(browser, site, page, out)
    return problems


if __name__ == "__main__":
    found = main(sys.argv[1] if len(sys.argv) > 1 else "site",
                 sys.argv[2] if len(sys.argv) > 2 else None)
    print("\n".join(found) or f"{len(PAGES)} pages render: headings, code and images",
          file=sys.stderr)
    sys.exit(1 if found else 0)
