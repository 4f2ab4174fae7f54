"""The report's page (scoring/ops/report/page.py): the served section's sums, the HTML page
(images inlined, text escaped), and the page `skipcache report` writes, in a headless browser."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import REPLAYED_NIGHTS, REPORT_CHARTS, run_cli

from scoring.ops.report.page import Block, render_html, render_markdown, served_blocks

NIGHTS = REPLAYED_NIGHTS


def test_served_section_sums_counts_and_recomputes_rates():
    assert served_blocks(None) == [] and served_blocks(pd.DataFrame()) == []
    served = pd.DataFrame({
        "decision_date": pd.to_datetime(["2024-12-30", "2024-12-31", "2024-12-31"]),
        "endpoint": ["abtest", "abtest", "naive"], "arm": ["model", "model", None],
        "answers": pd.array([10, 30, 5], dtype="int64"),
        "listened_answers": pd.array([4, 6, 1], dtype="int64"),
        "cache_hits": pd.array([2, 6, 1], dtype="int64"),
        "cache_hit_rate": [0.5, 1.0, 1.0], "accuracy": [0.25, 0.5, 1.0],
    })  # fmt: skip
    blocks = served_blocks(served)
    assert blocks[0].text == "What was served"
    table = blocks[-1]
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.items}
    assert rows["model"]["answers"] == "40" and rows["model"]["listened_answers"] == "10"
    assert rows["model"]["cache_hit_rate"] == "80.0%"  # 8 / 10, not the mean of 50% and 100%
    assert rows["model"]["accuracy"] == "40.0%"  # (0.25 * 4 + 0.5 * 6) / 10
    assert "(no arm)" in rows


def test_page_inlines_images_and_escapes_text(tmp_path: Path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    blocks = [Block("h1", "T"), Block("p", "**Bold** <b>not html</b>"),
              Block("img", "A chart", items=["a.png"])]  # fmt: skip
    page = render_html(blocks, tmp_path)
    assert "<strong>Bold</strong> &lt;b&gt;not html&lt;/b&gt;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in page
    assert "![A chart](a.png)" in render_markdown(blocks)


def test_report_html_is_self_contained_and_says_the_same(report):
    import base64
    import html
    import re

    page = (report / "index.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"[^>]*data-file="([^"]+)"', page)
    assert [file for _, file in images] == [f"{c}.png" for c in REPORT_CHARTS]
    for encoded, file in images:
        assert base64.b64decode(encoded) == (report / file).read_bytes(), file
    # nothing to fetch: no script, no link, no source other than the inlined images
    assert "<script" not in page and "<link" not in page
    assert not re.findall(r'(?:src|href)="(?!data:)', page)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for paragraph in (report / "summary.md").read_text().split("\n\n"):
        plain = paragraph.strip().replace("**", "")
        if plain and not plain.startswith(("|", "#", "!", "-")):
            assert plain in text, plain[:80]


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "chromium is absent: install it with `apt-get install -y --no-install-recommends "
            "chromium` (.ci/run does so in CI) to render the report in a real browser"
        )
    return found


def test_report_renders_in_headless_chromium(report, tmp_path: Path):
    """Open index.html in real headless Chromium: every image loads and decodes, and the
    screenshot shows a rendered page."""
    import re
    import subprocess

    from PIL import Image

    browser = _chromium()
    # a copy with a probe that writes, once loaded, how many images decoded into the DOM
    probe = (
        "<script>window.addEventListener('load', () => {"
        "const images = Array.from(document.images);"
        "document.body.dataset.images = images.length;"
        "document.body.dataset.decoded = images.filter("
        "i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;});</script>"
    )
    page = tmp_path / "index.html"
    page.write_text((report / "index.html").read_text().replace("</body>", probe + "</body>"))

    def run(*extra: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
             *extra, page.as_uri()],
            capture_output=True, text=True, timeout=180, check=True,
        )  # fmt: skip

    dom = run("--dump-dom").stdout
    assert f'data-images="{len(REPORT_CHARTS)}"' in dom, dom[-500:]
    assert f'data-decoded="{len(REPORT_CHARTS)}"' in dom
    assert len(re.findall(r"<img ", dom)) == len(REPORT_CHARTS)
    shot = tmp_path / "shot.png"
    run(f"--screenshot={shot}", "--window-size=1280,2400")
    image = Image.open(shot)
    assert image.size == (1280, 2400)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, tables and charts, not a blank page


def test_report_on_an_empty_warehouse_is_a_clear_error(tmp_path: Path):
    proc = run_cli("report", "--warehouse", str(tmp_path / "none.duckdb"), check=False)
    assert proc.returncode == 2 and "no warehouse there" in proc.stderr
