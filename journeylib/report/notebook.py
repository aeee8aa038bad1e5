"""One call at the top of every notebook: readable figures and readable warnings."""
from __future__ import annotations

import sys
import warnings

from ..core.errors import JourneyDataWarning

_original_showwarning = warnings.showwarning


def _show(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, JourneyDataWarning):
        # In a report a warning is for the reader: one plain line, no source path.
        print(f"Warning: {message}", file=sys.stdout)
    else:
        _original_showwarning(message, category, filename, lineno, file, line)


def setup_notebook() -> None:
    """Seaborn theme, sharper figures, and journeylib warnings as one plain line each.

    Every journeylib warning is also recorded in the report's health panel.
    """
    import matplotlib as mpl
    import pandas as pd
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.titleweight": "bold"})
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 160)
    warnings.showwarning = _show
    warnings.simplefilter("always", JourneyDataWarning)
