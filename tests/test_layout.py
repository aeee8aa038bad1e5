"""The package layout holds: no import cycle, no private name used across modules, data flows one way.

Every module of ``journeylib`` is parsed with :mod:`ast` (nothing is imported), and every
``import`` / ``from ... import`` that names a journeylib module is an edge, at module level
and inside functions alike (a function-level import still ties the two modules together);
only imports under ``if TYPE_CHECKING:`` are skipped (they never run).

* no import cycle between journeylib modules;
* no private name (``_x``) imported from, or read off, another journeylib module;
* the analysis families (journeys, retention, experiments, loyalty) never import report or
  simulate (reports and the simulator use the analyses, not the other way round);
* core imports nothing outside core (it is shared by every family).

Each test prints its offenders as ``file:line  what`` so a failure says what to fix.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "journeylib"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / PACKAGE
FAMILIES = ("journeys", "retention", "experiments", "loyalty")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(SOURCE.rglob("*.py"))}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def family(module: str) -> str:
    """``journeylib.loyalty.clv`` -> ``loyalty``; the top-level package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported journeylib module (a package's __init__ when a name is not a module)
    names: tuple[str, ...]  # names taken from it (empty for ``import x.y``)
    line: int

    def where(self) -> str:
        return f"{MODULES[self.source].relative_to(ROOT)}:{self.line}"


def _resolve(module: str, level: int, target: str | None) -> str:
    """Absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def parse(module: str) -> ast.AST:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))


def imports_of(module: str) -> tuple[list[Import], dict[str, str], ast.AST]:
    """The journeylib imports of ``module``, and the local names bound to journeylib modules."""
    tree = parse(module)
    found: list[Import] = []
    bound: dict[str, str] = {}
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module)
            if base != PACKAGE and not base.startswith(PACKAGE + "."):
                continue
            by_target: dict[str, list[str]] = defaultdict(list)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    by_target[sub].append(alias.name)
                    bound[alias.asname or alias.name] = sub
                else:
                    by_target[base].append(alias.name)
            found += [Import(module, t, tuple(names), node.lineno) for t, names in by_target.items()]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    found.append(Import(module, alias.name, (), node.lineno))
                    if alias.asname:
                        bound[alias.asname] = alias.name
    return found, bound, tree


IMPORTS: dict[str, list[Import]] = {}
BOUND: dict[str, dict[str, str]] = {}
TREES: dict[str, ast.AST] = {}
for _m in MODULES:
    IMPORTS[_m], BOUND[_m], TREES[_m] = imports_of(_m)


def cycles() -> list[list[str]]:
    """Strongly connected components of the import graph with more than one module (or a self-import)."""
    graph = {m: sorted({i.target for i in IMPORTS[m] if i.target in MODULES}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                out.append(sorted(component))

    for m in graph:
        if m not in index:
            visit(m)
    return out


def report(title: str, offenders: list[str]) -> str:
    text = f"{title} ({len(offenders)}):\n  " + "\n  ".join(offenders)
    print(text)
    return text


def test_every_module_is_found_and_parsed():
    assert {"journeylib", "journeylib.core.load", "journeylib.core.health", "journeylib.report.runner",
            "journeylib.simulate.datasets"} <= set(MODULES)
    assert {family(m) for m in MODULES} >= {"core", *FAMILIES, "report", "simulate"}


def test_no_import_cycle():
    offenders = []
    for component in cycles():
        inside = set(component)
        edges = [f"{i.where()}  {i.source} -> {i.target}" for m in component for i in IMPORTS[m]
                 if i.target in inside]
        offenders.append("cycle: " + ", ".join(component) + "\n    " + "\n    ".join(edges))
    assert not offenders, report("import cycles between journeylib modules", offenders)


def test_no_private_name_is_imported_across_modules():
    offenders = []
    for m in MODULES:
        for imp in IMPORTS[m]:
            private = [n for n in imp.names if is_private(n)]
            private += [seg for seg in imp.target.split(".") if is_private(seg)]
            if private:
                offenders.append(f"{imp.where()}  {m} imports {', '.join(private)} from {imp.target}")
    assert not offenders, report("private names imported across modules", offenders)


def test_no_private_name_is_read_off_another_module():
    offenders = []
    for m in MODULES:
        bound = BOUND[m]
        for node in ast.walk(TREES[m]):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and bound[node.value.id] != m and is_private(node.attr)):
                offenders.append(f"{MODULES[m].relative_to(ROOT)}:{node.lineno}  {m} uses "
                                 f"{node.value.id}.{node.attr} of {bound[node.value.id]}")
    assert not offenders, report("private names of other modules used", offenders)


def test_analysis_families_do_not_import_report_or_simulate():
    offenders = [f"{i.where()}  {i.source} imports {i.target}" for m in MODULES if family(m) in FAMILIES
                 for i in IMPORTS[m] if family(i.target) in ("report", "simulate")]
    assert not offenders, report("families importing report/simulate", offenders)


def test_core_imports_only_core():
    offenders = [f"{i.where()}  {i.source} imports {i.target}" for m in MODULES if family(m) == "core"
                 for i in IMPORTS[m] if family(i.target) != "core"]
    assert not offenders, report("core importing outside core", offenders)


def test_the_top_level_re_exports_every_familys_public_api():
    import types

    import journeylib as jl

    families = ("core", "journeys", "retention", "experiments", "loyalty", "simulate")
    for name in (*families, "report"):
        assert isinstance(getattr(jl, name), types.ModuleType) and getattr(jl, name).__name__ == f"{PACKAGE}.{name}"
    offenders = [f"jl.{n} is not {fam}.{n}" for fam in families for n in getattr(jl, fam).__all__
                 if getattr(jl, n, None) is not getattr(getattr(jl, fam), n)]
    offenders += [f"jl.{n} is not report.{n}" for n in ("record", "setup_notebook", "pseudonymize")
                  if getattr(jl, n, None) is not getattr(jl.report, n)]
    offenders += [f"jl.__all__ lists {n} twice" for n in set(jl.__all__) if jl.__all__.count(n) > 1]
    offenders += [f"jl.__all__ lists {n}, which jl lacks" for n in jl.__all__ if not hasattr(jl, n)]
    offenders += [f"{fam}.__all__ lists private {n}" for fam in families for n in getattr(jl, fam).__all__
                  if is_private(n)]
    assert not offenders, report("top-level API", offenders)
    assert jl.record is jl.core.health.record and jl.load_table is jl.core.load.load_table
