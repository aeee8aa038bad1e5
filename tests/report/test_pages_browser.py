"""Every report of one run-all on the bundled sample, opened in headless Chromium (issue 23).

The findings box is on the first screen (1,000 px at 1280 px wide), the title says what the
report is (never "Notebook"), and the page shows no raw Python reprs, no absolute paths, no
number in scientific notation, requests nothing from another host and stays under 1.5 MB.
Chromium runs without scripts of ours: the DOM is dumped (``--dump-dom``) and the first
screen is checked on a screenshot (the findings box's background colour is in it).
"""
from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from journeylib.core.locations import NOTEBOOKS_DIR
from journeylib.report import runner

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
MAX_BYTES = 1_500_000
FIRST_SCREEN = 1000
FINDINGS_BACKGROUND = (243, 248, 255)  # .jl-findings{background:#f3f8ff} in journeylib.report.html
RAW_REPRS = ("Readout(", "CohortTable(", "<journeylib.", "object at 0x")
ABSOLUTE = ("/work/", "/home/", "/tmp/")
# A number in scientific notation; not a pseudonym's hex part ("cust-9415e97949"), hence no "-" before it.
SCIENTIFIC = re.compile(r"(?<![\w.-])[-+]?\d+(?:\.\d+)?[eE][-+]?\d+\b")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run-all of the notebooks on the bundled sample (their defaults)."""
    results = runner.run_all(NOTEBOOKS_DIR, tmp_path_factory.mktemp("pages") / "reports", jobs=2)
    return results


def visible_text(dom: str) -> str:
    dom = re.sub(r"<(style|script)\b.*?</\1\s*>", " ", dom, flags=re.S | re.I)
    dom = re.sub(r"<[^>]+>", " ", dom)
    return " ".join(html_lib.unescape(dom).split())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)


def external_references(page: str) -> list[str]:
    """src/href/url() pointing at http(s) or protocol-relative addresses (another host)."""
    out = re.findall(r"\b(?:src|href|action|poster|data)\s*=\s*[\"']?\s*(?:https?:)?//[^\s\"'>]+", page, re.I)
    out += re.findall(r"url\(\s*[\"']?(?:https?:)?//[^)]+\)", page, re.I)
    out += re.findall(r"@import\s+[\"']?(?:url\()?\s*[\"']?(?:https?:)?//", page, re.I)
    return out


def test_every_notebook_made_a_report(run):
    assert [r.notebook for r in run] == [nb.name for nb in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))]
    assert all(r.ok for r in run), [r.error for r in run if not r.ok]


@pytest.mark.parametrize("k", range(len(sorted(NOTEBOOKS_DIR.glob("*.ipynb")))))
def test_a_report_page_decides_on_its_first_screen(run, k, tmp_path):
    res = run[k]
    page = res.html.read_text()
    assert res.html.stat().st_size < MAX_BYTES, f"{res.html.name}: {res.html.stat().st_size:,} bytes"
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip()
    assert title != "Notebook" and title.startswith(html_lib.escape(res.title, quote=False)) and " — " in title
    assert not external_references(page), external_references(page)[:3]
    # in the page as built: the findings box comes right after the heading
    body = page[page.index("<body"):]
    assert re.search(r"<h1 class='jl-h1' id='jl-top'>[^<]*</h1><section class='jl-findings'", body), body[:600]
    if not CHROMIUM:
        pytest.skip("no chromium binary: the static checks passed, the browser checks need one")
    dom = chromium("--dump-dom", res.html.resolve().as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0 and "</body>" in dom.stdout, dom.stderr[-2000:]
    text = visible_text(dom.stdout)
    assert not [r for r in RAW_REPRS if r in text], [text[max(0, text.find(r) - 80):text.find(r) + 80]
                                                       for r in RAW_REPRS if r in text]
    assert not [a for a in ABSOLUTE if a in dom.stdout], [dom.stdout[max(0, dom.stdout.find(a) - 80):
                                                                     dom.stdout.find(a) + 80] for a in ABSOLUTE]
    assert not SCIENTIFIC.findall(text), [text[max(0, m.start() - 60):m.end() + 20]
                                          for m in SCIENTIFIC.finditer(text)][:5]
    assert "Findings" in text[:2000]
    # the first screen (1280 x 1000) shows the findings box: its background colour is in the screenshot
    shot = tmp_path / "first.png"
    done = chromium(f"--window-size=1280,{FIRST_SCREEN}", f"--screenshot={shot}", res.html.resolve().as_uri(),
                    profile=tmp_path / "profile2")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1280, FIRST_SCREEN)
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 20)}
    assert FINDINGS_BACKGROUND in colours, "the findings box is not on the first screen"


def test_the_index_names_what_failed_and_stays_small(run, tmp_path):
    index = run[0].html.parent / "index.html"
    page = index.read_text()
    assert index.stat().st_size < MAX_BYTES and not external_references(page)
    assert page.count("<article class='jl-card") == len(run)
    for r in run:
        assert f"<a href='{r.html.name}'>{html_lib.escape(r.title, quote=False)}</a>" in page
        if r.status == "ok, with failed checks":  # visibly not "ok"
            assert "CHECKS FAILED</span> failed checks: " + html_lib.escape(", ".join(r.notes), quote=False) in page
    assert not [a for a in ABSOLUTE if a in page]
