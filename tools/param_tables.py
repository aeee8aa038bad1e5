"""Write the docs' notebook parameter tables from the notebooks themselves.

The tables are what ``papermill --help-notebook`` prints (papermill's own parser), so
the docs page (``docs/reports.md``, section "Notebook parameters"),
``journeylib run NOTEBOOK -p NAME VALUE`` and papermill always agree.
``python tools/param_tables.py`` rewrites the block between the two markers in
docs/reports.md; ``tests/test_docs.py`` fails when the block is out of date.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- parameters:start -->", "<!-- parameters:end -->"
PAGE = ROOT / "docs" / "reports.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def tables() -> str:
    from journeylib.report.runner import notebook_parameters

    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        params = notebook_parameters(nb)
        source = next("".join(c["source"]) for c in json.loads(nb.read_text())["cells"]
                      if "parameters" in c.get("metadata", {}).get("tags", []))
        order = re.findall(r"^(\w+)\s*:", source, flags=re.M)
        out += [f"### `{nb.stem}`", "", "| parameter | type | default | meaning |", "|---|---|---|---|"]
        for name in sorted(params, key=lambda n: order.index(n) if n in order else len(order)):
            p = params[name]
            default = json.dumps(p["default"], ensure_ascii=False)
            out.append(f"| `{name}` | {p['type']} | `{_cell(default)}` | {_cell(p['help'])} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def rewrite(page: Path = PAGE) -> bool:
    text = page.read_text()
    a, b = text.index(START) + len(START), text.index(END)
    new = text[:a] + "\n" + tables() + text[b:]
    if new != text:
        page.write_text(new)
    return new != text


if __name__ == "__main__":
    sys.exit(0 if not rewrite() else print(f"{PAGE.relative_to(ROOT)}: parameter tables rewritten") or 0)
