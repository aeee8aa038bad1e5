"""Errors and warnings a user can act on.

Every data problem is raised as :class:`JourneyDataError` (a ``ValueError``) whose
message names the column, how many rows fail, shows a few offending rows and says
what was expected, so nobody has to read a pandas traceback to fix their file.
"""
from __future__ import annotations

import pandas as pd

MAX_EXAMPLES = 5


class JourneyError(Exception):
    """Base class of every error journeylib raises on purpose."""


class JourneyDataError(JourneyError, ValueError):
    """The input data does not fit the expected schema or values."""


class JourneyParameterError(JourneyError, ValueError):
    """A function or notebook parameter has an invalid value."""


class JourneyFitError(JourneyError, RuntimeError):
    """A model could not be fitted (did not converge, degenerate data)."""


class JourneyDataWarning(UserWarning):
    """Something in the data was fixed up (e.g. duplicates dropped); the result is still valid."""


def _format_examples(examples: pd.DataFrame | None) -> str:
    if examples is None or len(examples) == 0:
        return ""
    text = examples.head(MAX_EXAMPLES).to_string(index=False, max_colwidth=60)
    return "\nFirst offending rows:\n" + text


def data_error(
    column: str | None,
    n_bad: int,
    n_total: int | None,
    expected: str,
    examples: pd.DataFrame | None = None,
    *,
    table: str = "events",
    hint: str | None = None,
) -> JourneyDataError:
    """Build a :class:`JourneyDataError` with the standard message layout."""
    where = f"column '{column}' of {table}" if column else table
    rows = f"{n_bad:,} of {n_total:,} rows" if n_total is not None else f"{n_bad:,} rows"
    msg = f"{where}: {rows} invalid; expected {expected}."
    msg += _format_examples(examples)
    if hint:
        msg += f"\nWhat to do: {hint}"
    return JourneyDataError(msg)
