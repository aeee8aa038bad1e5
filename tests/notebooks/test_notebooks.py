"""Every notebook in notebooks/: committed clean, parameters parseable, runs on small data."""
import re
from pathlib import Path

import nbformat
import pytest

from journeylib import report
from journeylib.paths_config import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
IDS = [nb.stem for nb in NOTEBOOKS]


def test_there_are_notebooks():
    assert [nb.stem[:2] for nb in NOTEBOOKS][:1] == ["00"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_parameters_cell_and_every_line_parses(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = [ln.split(":")[0].split("=")[0].strip() for ln in tagged[0].source.splitlines()
                if re.match(r"^\w+\s*[:=]", ln)]
    declared = report.notebook_parameters(path)
    assert sorted(declared) == sorted(assigned), "papermill could not parse some lines ('=' in a help comment?)"
    assert "data_dir" in declared
    assert all(p["help"] for p in declared.values()), "every parameter needs a # help comment"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_on_small_data_and_renders_html(path, small_dir, tmp_path):
    res = report.run_notebook(path, {"data_dir": str(small_dir)}, tmp_path, new_run_folder=False)
    assert res.ok, res.error
    html = res.html.read_text()
    nb = nbformat.read(path, as_version=4)
    headings = [ln.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                for ln in c.source.splitlines() if ln.startswith("#")]
    for h in headings:
        assert h.replace("&", "&amp;") in html or h in html, f"heading {h!r} missing from the HTML"
    executed = nbformat.read(res.ipynb, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    stderr = [o.text for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert not [t for t in stderr if "Error" in t or "Traceback" in t], stderr
    assert html.count("<img") >= 1, "expected at least one figure"
