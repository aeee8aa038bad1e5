"""The README's parameter tables are the notebooks' own parameters (what papermill prints)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("param_tables", ROOT / "tools" / "param_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_parameter_tables_match_the_notebooks():
    tool = _tool()
    text = (ROOT / "README.md").read_text()
    block = text[text.index(tool.START) + len(tool.START):text.index(tool.END)]
    assert block.strip() == tool.tables().strip(), "README parameter tables are stale: run python tools/param_tables.py"


def test_readme_links_the_design_section():
    assert "docs/design.md" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "design.md").is_file()
