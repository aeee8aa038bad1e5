"""Errors and warnings a user can act on.

Every data problem is raised as :class:`JourneyDataError` (a ``ValueError``) whose
message names the column, how many rows fail, shows a few offending rows and says
what was expected, so nobody has to read a pandas traceback to fix their file. Ids in
those rows are pseudonymised unless ``show_ids`` is on (:mod:`journeylib.core.privacy`).
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

MAX_EXAMPLES = 5


class JourneyError(Exception):
    """Base class of every error journeylib raises on purpose.

    Catch it to handle any deliberate journeylib error; the subclasses say what kind.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyError, JourneyParameterError
    >>> issubclass(JourneyParameterError, JourneyError)
    True
    """


class JourneyDataError(JourneyError, ValueError):
    """The input data does not fit the expected schema or values.

    A ``ValueError``; usually built with :func:`data_error`.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyDataError
    >>> try:
    ...     raise JourneyDataError("column 'ts' of events: missing; expected a timestamp.")
    ... except ValueError as err:
    ...     print(type(err).__name__, err)
    JourneyDataError column 'ts' of events: missing; expected a timestamp.
    """


class JourneyParameterError(JourneyError, ValueError):
    """A function or notebook parameter has an invalid value.

    A ``ValueError``; the message names the parameter, the value and what is expected.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyParameterError
    >>> isinstance(JourneyParameterError("confidence_level=2: expected a number in (0, 1)"), ValueError)
    True
    """


class JourneyFitError(JourneyError, RuntimeError):
    """A model could not be fitted (did not converge, degenerate data).

    A ``RuntimeError``.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyFitError
    >>> isinstance(JourneyFitError("the BG/NBD fit did not converge"), RuntimeError)
    True
    """


class JourneyMemoryError(JourneyError, MemoryError):
    """The engine ran out of the memory it may use for a step; the message says what to give it.

    A ``MemoryError``. Nothing is wrong with the data or the parameters: the same step runs
    with a higher memory limit, fewer notebooks at once or less data.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyMemoryError
    >>> isinstance(JourneyMemoryError("the engine ran out of memory"), MemoryError)
    True
    """


class JourneyDataWarning(UserWarning):
    """Something in the data was fixed up (e.g. duplicates dropped); the result is still valid.

    Examples
    --------
    >>> import warnings
    >>> from journeylib.core.errors import JourneyDataWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("3 duplicate events dropped", JourneyDataWarning)
    >>> caught[0].category.__name__
    'JourneyDataWarning'
    """


class SampleRatioWarning(JourneyDataWarning):
    """An experiment's split is off plan (sample ratio mismatch): its results must not be used.

    A :class:`JourneyDataWarning`, so one filter can silence both; a report that shows the
    split check in its own section silences this one alone.

    Examples
    --------
    >>> from journeylib.core.errors import JourneyDataWarning, SampleRatioWarning
    >>> issubclass(SampleRatioWarning, JourneyDataWarning)
    True
    """


def format_examples(examples: pd.DataFrame | None, *, id_columns: Iterable[str] = (),
                    title: str = "First offending rows", invalid_column: str | None = None) -> str:
    """A message's block of example rows (a title line, then rows): the first :data:`MAX_EXAMPLES` rows, with ids
    and contact details pseudonymised unless ``show_ids`` is on (see :mod:`journeylib.core.privacy`).

    ``id_columns`` names further columns holding ids (a source's own name for the id).
    ``invalid_column`` is a column whose shown values all failed a value check (a blank or
    fractional id): they are nobody's id and the reader needs them, so they stay as they are.
    Every message that quotes rows of the user's data builds them with this function.

    Parameters
    ----------
    examples
        The offending rows (``None`` or empty: no block).
    id_columns
        Further columns holding ids, pseudonymised like ``customer_id``.
    title
        The block's title line.
    invalid_column
        A column whose shown values failed a value check; kept as they are.

    Returns
    -------
    str
        ``"\\n<title>:\\n<rows>"``, or ``""`` when there are no rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.errors import format_examples
    >>> print(format_examples(pd.DataFrame({"event": ["view", "buy"], "revenue": [-1.0, -2.0]})))
    <BLANKLINE>
    First offending rows:
    event  revenue
     view     -1.0
      buy     -2.0
    >>> format_examples(None)
    ''
    """
    from .privacy import PSEUDONYMISED_NOTE, scrub_examples

    if examples is None or len(examples) == 0:
        return ""
    shown, scrubbed = scrub_examples(examples.head(MAX_EXAMPLES), id_columns=id_columns,
                                     keep=() if invalid_column is None else (invalid_column,))
    text = shown.to_string(index=False, max_colwidth=60)
    return f"\n{title}" + (f" {PSEUDONYMISED_NOTE}" if scrubbed else "") + ":\n" + text


def data_error(
    column: str | None,
    n_bad: int,
    n_total: int | None,
    expected: str,
    examples: pd.DataFrame | None = None,
    *,
    table: str = "events",
    hint: str | None = None,
    id_columns: Iterable[str] = (),
) -> JourneyDataError:
    """Build a :class:`JourneyDataError` with the standard message layout.

    The example rows have their ids pseudonymised (see :func:`format_examples`), except the
    values of ``column`` itself when ``n_total`` is given (a value check: those values are
    invalid, not anyone's id); rows quoted for another reason (duplicate keys, ``n_total``
    ``None``) are pseudonymised in full.

    Parameters
    ----------
    column
        The failing column (``None``: the table as a whole).
    n_bad
        How many rows fail.
    n_total
        How many rows were checked (``None``: not a value check).
    expected
        What was expected, in words.
    examples
        A few offending rows (see :func:`format_examples`).
    table
        The table's name in the message.
    hint
        What to do, appended as ``What to do: ...``.
    id_columns
        Further columns holding ids.

    Returns
    -------
    JourneyDataError
        The error, to be raised by the caller.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.errors import data_error
    >>> err = data_error("revenue", 2, 10, "a number >= 0",
    ...                  pd.DataFrame({"event": ["buy", "buy"], "revenue": [-1.0, -2.0]}),
    ...                  hint="fix the export")
    >>> print(err)
    column 'revenue' of events: 2 of 10 rows invalid; expected a number >= 0.
    First offending rows:
    event  revenue
      buy     -1.0
      buy     -2.0
    What to do: fix the export
    """
    where = f"column '{column}' of {table}" if column else table
    rows = f"{n_bad:,} of {n_total:,} rows" if n_total is not None else f"{n_bad:,} rows"
    msg = f"{where}: {rows} invalid; expected {expected}."
    msg += format_examples(examples, id_columns=id_columns,
                           invalid_column=column if n_total is not None else None)
    if hint:
        msg += f"\nWhat to do: {hint}"
    return JourneyDataError(msg)
