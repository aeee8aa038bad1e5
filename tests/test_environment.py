"""environment.yml (conda) and pyproject.toml (pip) must name the same packages."""
import re
import tomllib

import yaml

from journeylib.core.locations import PROJ_ROOT

# pip name -> conda-forge name where they differ
CONDA_NAME = {"duckdb": "python-duckdb", "ibis-framework": "ibis-duckdb"}


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    expected = {CONDA_NAME.get(n, n) for n in pip_names}

    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    conda_names = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    conda_names |= {_name(d) for d in pip_section if not d.startswith("-e")}
    assert conda_names == expected, (
        f"only in environment.yml: {sorted(conda_names - expected)}; "
        f"only in pyproject.toml: {sorted(expected - conda_names)}"
    )


def test_version_bounds_agree():
    """Where both files pin a bound, it is the same bound."""
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    pip_bounds = {CONDA_NAME.get(_name(r), _name(r)): re.sub(r"^[^<>=!~]*(\[.*\])?", "", r.split("#")[0]).strip()
                  for r in reqs}
    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    for dep in env["dependencies"]:
        if isinstance(dep, str) and _name(dep) in pip_bounds:
            conda_bound = dep[len(_name(dep)):].strip()
            assert conda_bound == pip_bounds[_name(dep)], dep
