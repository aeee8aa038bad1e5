"""The documentation: README size and links, the docs site build, its code examples, the parameter tables.

- README.md stays short (at most 12 KB) and every link from it into docs/ resolves (file and anchor).
- ``mkdocs build --strict`` (warnings are errors: a broken link, a missing page, a docstring
  mkdocstrings cannot render) builds the site from docs/ and the package's docstrings.
- Every ```python block of a docs page runs, in page order in one fresh interpreter per page,
  from the repository root against the bundled sample (a block whose first line starts with
  ``# not run`` is skipped and says why).
- The notebook parameter tables in docs/reports.md are what papermill reads from the notebooks.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
SCREENSHOTS = ("docs/img/report.png", "docs/img/index.png")


def _tool():
    spec = importlib.util.spec_from_file_location("param_tables", ROOT / "tools" / "param_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    from markdown.extensions.toc import slugify

    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    return slugify(text.replace("`", "").replace("*", ""), "-")


def _anchors(page: Path) -> set[str]:
    text, fence, out = page.read_text(), False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#{1,6} ", line):
            out.add(_slug(line.lstrip("#").strip()))
    return out


def _readme_links() -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", README.read_text())


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.M | re.S)


def _pages_with_examples() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if _python_blocks(p))


# --- parameter tables ----------------------------------------------------------------------

def test_docs_parameter_tables_match_the_notebooks():
    tool = _tool()
    assert tool.PAGE == DOCS / "reports.md"
    text = tool.PAGE.read_text()
    block = text[text.index(tool.START) + len(tool.START):text.index(tool.END)]
    assert block.strip() == tool.tables().strip(), "parameter tables are stale: run python tools/param_tables.py"
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"### `{nb.stem}`" in block


# --- README ----------------------------------------------------------------------------------

def test_readme_is_at_most_12_kb():
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size:,} bytes; move detail into docs/"


def test_readme_keeps_the_quick_start():
    text = README.read_text()
    for must in ("make report", "make test", "make docs", "journeylib init", "journeylib check",
                 "journeylib run-all", "cron", "systemd"):
        assert must in text, must
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"| `{nb.stem}` |" in text, f"README notebook table lacks {nb.stem}"


def test_readme_links_into_docs_resolve():
    links = [link for link in _readme_links() if link.startswith("docs/")]
    assert "docs/design.md" in links and "docs/reports.md#notebook-parameters" in links
    for link in links:
        path, _, anchor = link.partition("#")
        if path in SCREENSHOTS:
            continue  # test_readme_screenshots
        target = ROOT / path
        assert target.is_file(), f"README links {link}: no file {path}"
        if anchor:
            assert anchor in _anchors(target), f"README links {link}: no heading with that anchor in {path}"


def test_readme_screenshots():
    images = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", README.read_text())
    assert set(SCREENSHOTS) <= {src for _, src in images}
    assert all(alt.strip() for alt, _ in images), "every image needs alt text"
    assert all((ROOT / src).is_file() for _, src in images if src not in SCREENSHOTS)
    missing = [s for s in SCREENSHOTS if not (ROOT / s).is_file()]
    if missing:
        pytest.skip(f"screenshots not produced yet: {missing} (made from reports/latest by the lead)")
    for s in SCREENSHOTS:
        assert (ROOT / s).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{s} is not a PNG"


def test_every_section_moved_out_of_the_readme_has_its_page():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in ("getting-started.md", "your-data.md", "data-reference.md", "guides/journeys.md",
                 "guides/retention.md", "guides/experiments.md", "guides/loyalty.md", "reports.md",
                 "engines.md", "validation.md", "benchmarks/index.md", "design.md",
                 *(f"api/{fam}.md" for fam in ("core", "journeys", "retention", "experiments", "loyalty",
                                               "report", "simulate"))):
        assert (DOCS / page).is_file(), page
        assert page in nav, f"{page} is not in the mkdocs.yml nav"


# --- the site ---------------------------------------------------------------------------------

def test_site_builds_strictly(tmp_path):
    for mod in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(mod, reason=f"{mod} not installed: pip install -e '.[docs]' (make docs does)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "WARNING" not in run.stderr, run.stderr[-4000:]
    # the API reference is generated from the docstrings: a few anchors that must be there
    api = {fam: (site / "api" / fam / "index.html").read_text() for fam in
           ("core", "journeys", "retention", "experiments", "loyalty", "report", "simulate")}
    for fam, name in (("journeys", "journeylib.journeys.stages.funnel"),
                      ("journeys", "journeylib.journeys.attribution.attribute"),
                      ("retention", "journeylib.retention.survival.kaplan_meier"),
                      ("experiments", "journeylib.experiments.readout.ab_readout"),
                      ("loyalty", "journeylib.loyalty.clv.BetaGeoFitter"),
                      ("core", "journeylib.core.journey.load_journey"),
                      ("report", "journeylib.report.runner.run_all"),
                      ("simulate", "journeylib.simulate.journeys.simulate_journeys")):
        assert f'id="{name}"' in api[fam], f"{name} missing from the API reference"
    assert not re.search(r":(func|mod|class|meth):<code>", "".join(api.values())), "Sphinx roles left in the HTML"
    # the data reference is data/README.md itself; the benchmark pages are bench/RESULTS*.md
    assert "Identity stitching" in (site / "your-data" / "index.html").read_text()
    assert "journey definition" in (site / "data-reference" / "index.html").read_text()
    assert "bare scan" in (site / "benchmarks" / "RESULTS" / "index.html").read_text()
    # offline: no web fonts or scripts from another host
    index = (site / "index.html").read_text()
    assert "fonts.googleapis" not in index
    assert not re.search(r"<script[^>]+src=\"https?://", index)


def test_every_docs_page_with_code_has_runnable_examples():
    pages = {p.relative_to(DOCS).as_posix() for p in _pages_with_examples()}
    for page in ("getting-started.md", "your-data.md", "guides/journeys.md", "guides/retention.md",
                 "guides/experiments.md", "guides/loyalty.md"):
        assert page in pages, f"{page} has no python example"


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_docs_python_examples_run(page, tmp_path):
    blocks = [b for b in _python_blocks(page) if not b.lstrip().startswith("# not run")]
    if not blocks:
        pytest.skip(f"{page.name}: every python block is marked '# not run' (with its reason)")
    script = tmp_path / "examples.py"
    script.write_text("\n\n".join(blocks))
    env = {**os.environ, "MPLBACKEND": "Agg", "JOURNEYLIB_CACHE_DIR": ""}
    run = subprocess.run([sys.executable, "-W", "ignore", str(script)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{page.relative_to(ROOT)}: {run.stderr[-3000:]}"
    assert run.stdout.strip(), "the examples print what they show"


def test_srm_is_stated_once_and_as_the_code_does():
    """The sample-ratio check is described in one place (the experiments guide), with the code's thresholds."""
    from journeylib.experiments.readout import ab_readout

    import inspect

    params = inspect.signature(ab_readout).parameters
    guide = (DOCS / "guides" / "experiments.md").read_text()
    assert f"`srm_threshold={params['srm_threshold'].default:g}`" in guide
    assert f"`srm_warn={params['srm_warn'].default:g}`" in guide
    texts = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [README, *DOCS.rglob("*.md")]}
    defining = [name for name, t in texts.items() if "srm_threshold=" in t]
    assert defining == ["docs/guides/experiments.md"], defining
    assert not any("SRM is not detectable" in t for t in texts.values())


def test_every_module_of_the_package_is_in_the_api_reference():
    """A new module gets its ``::: journeylib.family.module`` line in docs/api/<family>.md."""
    listed = set(re.findall(r"^::: (journeylib\.\S+)", "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md")),
                            flags=re.M))
    modules = {f"journeylib.{p.parent.name}.{p.stem}" for p in (ROOT / "journeylib").glob("*/*.py")
               if p.stem != "__init__"}
    assert modules - listed == set()
