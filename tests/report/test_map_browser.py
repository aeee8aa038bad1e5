"""The journey map of report 05, opened in headless Chromium at 1280 px (issue 24).

The map is a figure; whether its texts overlap each other is checked on the figure itself
(tests/journeys/test_map_layout.py). This test checks what only a browser can: in the
rendered report at 1280 px the map is shown whole (not cut at either edge, no horizontal
scrolling), is not shrunk below 75% of its drawn size (its smallest text stays readable), and
nothing on the page lies on top of it (every point of a grid over the image hits the image).
A copy of the report gets a measuring script (the report itself carries none); Chromium runs
it and the DOM is dumped. The screenshot of the map is kept for a person to look at.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from journeylib.core.locations import NOTEBOOKS_DIR
from journeylib.report.runner import run_notebook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
WIDTH = 1280
MIN_SCALE = 0.75
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000"]
MAP_ALT = "Customer journey map"

MEASURE = """
<script>
window.addEventListener('load', function () {
  var img = Array.from(document.images).find(function (i) { return (i.alt || '').indexOf('%s') >= 0; });
  var out = {found: !!img, scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth};
  if (img) {
    out.pageBottom = img.getBoundingClientRect().bottom + window.scrollY;
    img.scrollIntoView({block: 'start'});
    var r = img.getBoundingClientRect();
    out.rect = [r.left, r.top, r.width, r.height];
    out.natural = [img.naturalWidth, img.naturalHeight];
    var covered = [];
    for (var i = 1; i < 12; i++) {
      for (var j = 1; j < 8; j++) {
        var x = r.left + r.width * i / 12, y = r.top + r.height * j / 8;
        if (y < 0 || y >= window.innerHeight) continue;
        var hit = document.elementFromPoint(x, y);
        if (hit !== img) covered.push([Math.round(x), Math.round(y), hit ? hit.tagName + '.' + hit.className : null]);
      }
    }
    out.covered = covered;
  }
  var pre = document.createElement('pre');
  pre.id = 'jl-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
""" % MAP_ALT

pytestmark = pytest.mark.slow


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    res = run_notebook(NOTEBOOKS_DIR / "05_journey_map.ipynb", output_dir=tmp_path_factory.mktemp("map"))
    assert res.ok and res.status != "partial", res.error
    return Path(res.html)


def test_the_map_is_whole_readable_and_uncovered_at_1280_px(report, tmp_path):
    if not CHROMIUM:
        pytest.skip("no chromium binary")
    page = report.read_text(encoding="utf-8")
    assert MAP_ALT in page
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    # 1,400 px tall: the whole map fits on one screen once scrolled to it
    done = chromium(f"--window-size={WIDTH},1400", "--dump-dom", probe.as_uri(), profile=tmp_path / "p1")
    m = re.search(r'<pre id="jl-measure">(.*?)</pre>', done.stdout, re.S)
    assert m, done.stderr[-2000:]
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert got["found"]
    assert got["scrollWidth"] <= got["viewport"], got  # no horizontal scrolling
    left, top, width, height = got["rect"]
    assert left >= 0 and left + width <= got["viewport"], got  # not cut at either edge
    assert width / got["natural"][0] >= MIN_SCALE, got  # not shrunk below readability
    assert abs(height / width - got["natural"][1] / got["natural"][0]) < 0.01, got  # not distorted
    assert got["covered"] == [], got  # nothing lies on top of the map

    # the report down to the map's bottom as a reader sees it at this width, kept with the test's files
    shot = tmp_path / "map.png"
    tall = int(got["pageBottom"]) + 40
    chromium(f"--window-size={WIDTH},{tall}", f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "p2")
    assert shot.exists() and shot.stat().st_size > 10_000
