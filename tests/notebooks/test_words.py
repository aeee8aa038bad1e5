"""Tables in the notebooks carry words for people, not raw column or parameter names (issue 23).

Fast and static: no papermill. Each notebook's code cells are parsed with ``ast`` and every
``show_table(...)`` / ``styled(...)`` call is inspected. The rule:

1. The ``formats`` of a table (``formats=`` of ``show_table``, the second positional argument
   of ``styled``) name the columns as the reader sees them, so no key may be a raw name from
   ``RAW_NAMES`` (``ci_low``, ``pvalue``, ``recovery_rate``...): a table formatting ``ci_low``
   shows ``ci_low`` as its header.
2. A table taken straight from a result (its source text contains one of ``RAW_SOURCES``:
   ``.summary``, ``against_truth(``, ``srm_summary``...) is renamed inside the call
   (``.rename(columns=...)``), unless it is a property documented to have reader-facing
   column names (``READER_FACING``, e.g. a result's ``display_table()`` or ``display_kpis()``).
3. A raw name from ``RAW_NAMES`` written as a string in the shown frame's expression is a key
   of a ``rename(columns={...})`` in that same expression (a column selected by its raw name
   is renamed before it is shown).
4. ``against_truth`` tables turn their True/False ``covered`` column into "yes"/"no"
   (``.map({True: "yes", False: "no"})``) in the call.

Frames built in earlier statements and passed by variable name are checked only through rule 1.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))

RAW_NAMES = frozenset({
    "ci_low", "ci_high", "pvalue", "rel_pvalue", "seq_pvalue", "p_holm", "p_bh", "srm_pvalue", "srm_passed",
    "observed_share", "planned_share", "expected_users", "n_control", "n_variant", "mean_control", "mean_variant",
    "rel_lift", "rel_ci_low", "rel_ci_high", "true_rel_lift", "chance_to_beat", "expected_loss",
    "detectable_rel_lift", "power_at_mde", "pre_correlation", "variance_reduction", "pre_balance_pvalue", "theta",
    "recovery_rate", "median_days_to_recovery", "churn_rate", "review_rate", "median_days_to_review",
    "promoter_share", "detractor_share", "n_touches", "customer_id", "p_alive", "expected_purchases",
    "expected_spend", "value_at_stake", "days_inactive", "last_active", "models_agree", "index",
})
RAW_SOURCES = (".summary", "against_truth(", "srm_summary", "decision_table", "cuped_summary", ".fatigue",
               ".kpis", "kpis")
# documented to return reader-facing column names: every result's display_*() method (display_table(),
# JourneyMap.display_kpis(), BudgetResult.display_models()...), JourneyMap.table,
# stage_transitions(...).summary (move, transitions, share)
READER_FACING = (".display_", "jm.table", "tr.summary")
TABLE_CALLS = {"show_table", "styled"}


def _calls(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name in TABLE_CALLS and node.args:
                    yield cell.get("id"), name, node, src


def _formats(name: str, call: ast.Call):
    fmt = next((k.value for k in call.keywords if k.arg == "formats"), None)
    if fmt is None and name == "styled" and len(call.args) > 1:
        fmt = call.args[1]
    keys = set()
    for node in ast.walk(fmt) if fmt is not None else ():
        if isinstance(node, ast.Dict):
            keys |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        elif isinstance(node, ast.DictComp):  # {c: ... for c in ("planted", "low")}
            for gen in node.generators:
                keys |= {e.value for e in ast.walk(gen.iter) if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return keys


def _renamed(frame: ast.AST) -> set[str]:
    keys = set()
    for node in ast.walk(frame):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "rename":
            for kw in node.keywords:
                if kw.arg == "columns" and isinstance(kw.value, ast.Dict):
                    keys |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
    return keys


CASES = [(p, *c) for p in NOTEBOOKS for c in _calls(p)]


def test_the_notebooks_have_table_calls():
    assert len(NOTEBOOKS) >= 8
    assert len(CASES) >= 40  # every key table goes through show_table or styled


@pytest.mark.parametrize("path, cell_id, name, call, src", CASES,
                         ids=[f"{p.stem}-{c}-{i}" for i, (p, c, *_) in enumerate(CASES)])
def test_table_headers_are_words(path, cell_id, name, call, src):
    frame = call.args[0]
    text = ast.get_source_segment(src, frame) or ""
    raw_formats = _formats(name, call) & RAW_NAMES
    assert not raw_formats, f"{path.name} cell {cell_id}: formats name raw columns {sorted(raw_formats)}"
    if any(s in text for s in RAW_SOURCES) and not any(s in text for s in READER_FACING):
        assert ".rename(" in text, f"{path.name} cell {cell_id}: {text[:80]!r} is shown with its raw column names"
    strings = {n.value for n in ast.walk(frame) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    unrenamed = (strings & RAW_NAMES) - _renamed(frame)
    # names used only to look a column up ("t['covered']", selection then rename) are fine when renamed
    assert not unrenamed, f"{path.name} cell {cell_id}: raw columns shown without a rename: {sorted(unrenamed)}"
    if "against_truth(" in text:
        assert '"yes"' in text and '"no"' in text, f"{path.name} cell {cell_id}: covered shows True/False"


def test_the_rule_catches_a_raw_table(tmp_path):
    """The check fails on the tables this issue found (a raw ``carts.summary``)."""
    src = 'jl.show_table(carts.summary, "Cart recovery rates", formats={"recovery_rate": "{:.1%}"})'
    call = ast.parse(src).body[0].value
    assert _formats("show_table", call) & RAW_NAMES == {"recovery_rate"}
    assert ".rename(" not in ast.get_source_segment(src, call.args[0])
    renamed = ast.parse('t.rename(columns={"ci_low": "low"})').body[0].value
    assert _renamed(renamed) == {"ci_low"}
