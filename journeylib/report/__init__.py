"""Report: run notebooks with papermill, export HTML, the index, the CLI, notebook set-up, privacy.

``run_notebook`` and ``run_all`` load on first use: the runner imports nbformat and
papermill (about a second), which a notebook kernel importing journeylib does not need.
"""
from ..core.health import record
from .notebook import section, setup_notebook, show_findings, show_note, show_table
from .privacy import pseudonymize

__all__ = ["run_notebook", "run_all", "setup_notebook", "section", "show_table", "show_findings", "show_note", "pseudonymize", "record"]


def __getattr__(name: str):
    if name in ("run_notebook", "run_all"):
        from . import runner
        return getattr(runner, name)
    raise AttributeError(f"module 'journeylib.report' has no attribute {name!r}")
