"""Parameter checks shared by the analyses: numbers, whole numbers and True/False options.

Python's own tests are too lenient for report parameters: ``True`` is an ``int``, and a
string such as ``"no"`` is truthy, so an option passed as text would silently mean yes.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .errors import JourneyDataError, JourneyDataWarning, JourneyParameterError


def is_number(value: Any) -> bool:
    """A finite real number (``True``/``False`` are not numbers here).

    Parameters
    ----------
    value
        Any value.

    Returns
    -------
    bool
        True for a finite int or float (Python or numpy), not a bool.

    Examples
    --------
    >>> from journeylib.core.checks import is_number
    >>> is_number(3.0), is_number(True), is_number(float("nan")), is_number("3")
    (True, False, False, False)
    """
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and bool(np.isfinite(value)))


def whole_number(value: Any, name: str, *, minimum: int, expected: str) -> int:
    """``value`` as an ``int`` if it is a whole number >= ``minimum`` (``90.0`` counts); else a
    :class:`JourneyParameterError` saying ``expected``.

    Parameters
    ----------
    value
        The parameter's value.
    name
        The parameter's name (for the message).
    minimum
        Smallest value accepted.
    expected
        What the message says is expected, e.g. ``"a whole number of days >= 1"``.

    Returns
    -------
    int
        The value as an ``int``.

    Raises
    ------
    JourneyParameterError
        When the value is not a whole number of at least ``minimum``.

    Examples
    --------
    >>> from journeylib.core.checks import whole_number
    >>> whole_number(90.0, "window_days", minimum=1, expected="a whole number of days >= 1")
    90
    >>> whole_number(0.5, "window_days", minimum=1, expected="a whole number of days >= 1")
    Traceback (most recent call last):
    ...
    journeylib.core.errors.JourneyParameterError: window_days=0.5; expected a whole number of days >= 1
    """
    if not is_number(value) or not float(value).is_integer() or value < minimum:
        raise JourneyParameterError(f"{name}={value!r}; expected {expected}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    """A True/False option; anything else is an error rather than Python's truthiness.

    Parameters
    ----------
    value
        The option's value.
    name
        The option's name (for the message).

    Returns
    -------
    bool
        The value.

    Raises
    ------
    JourneyParameterError
        When the value is not ``True`` or ``False`` (the text ``"no"`` would be truthy).

    Examples
    --------
    >>> from journeylib.core.checks import flag
    >>> flag(True, "show_ids")
    True
    >>> flag("no", "show_ids")
    Traceback (most recent call last):
    ...
    journeylib.core.errors.JourneyParameterError: show_ids='no'; expected True or False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise JourneyParameterError(f"{name}={value!r}; expected True or False")
    return bool(value)


def event_note(events: Any, name: str, param: str) -> str:
    """``""`` when an event called ``name`` occurs in ``events`` (an Ibis table); otherwise
    a note naming the log's events, for a warning or error about a misspelt event name.

    Parameters
    ----------
    events
        The event log (an Ibis table with an ``event`` column).
    name
        The event name looked for.
    param
        The parameter that gave the name (quoted in the note).

    Returns
    -------
    str
        Empty, or the note.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.checks import event_note
    >>> events = jl.load_dataset("sample").events
    >>> event_note(events, "purchase", "purchase_event")
    ''
    >>> print(event_note(events, "order", "purchase_event"))
    purchase_event='order' does not occur in the events; events in the log: ['add_to_cart', 'landing', ...]
    """
    from .engine import distinct_values

    names = distinct_values(events, "event")
    if name in names:
        return ""
    return f"{param}={name!r} does not occur in the events; events in the log: {names[:20]}"


def warn_missing_event(events: Any, name: str, param: str, consequence: str, stacklevel: int = 3) -> None:
    """A :class:`JourneyDataWarning` (``consequence``: what it leads to) when no event is called ``name``.

    Parameters
    ----------
    events
        The event log (an Ibis table with an ``event`` column).
    name
        The event name looked for.
    param
        The parameter that gave the name.
    consequence
        What a missing event leads to (starts the warning).
    stacklevel
        Passed on to ``warnings.warn`` (plus one for this function).

    Returns
    -------
    None

    Examples
    --------
    >>> import warnings
    >>> import journeylib as jl
    >>> from journeylib.core.checks import warn_missing_event
    >>> events = jl.load_dataset("sample").events
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_missing_event(events, "order", "purchase_event", "no purchases counted")
    >>> print(caught[0].message)
    no purchases counted: purchase_event='order' does not occur in the events; ...
    """
    note = event_note(events, name, param)
    if note:
        warnings.warn(f"{consequence}: {note}", JourneyDataWarning, stacklevel=stacklevel + 1)


def no_event_error(events: Any, name: str, param: str, message: str) -> JourneyDataError:
    """``message`` as a :class:`JourneyDataError`, with the log's event names when ``name`` is not one.

    Parameters
    ----------
    events
        The event log (an Ibis table with an ``event`` column).
    name
        The event name that was looked for.
    param
        The parameter that gave the name (``purchase_event``, ...).
    message
        What went wrong.

    Returns
    -------
    JourneyDataError
        The error, to ``raise``; it adds what to do when ``name`` is not in the log.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.checks import no_event_error
    >>> events = jl.load_dataset("sample").events
    >>> print(no_event_error(events, "purchase", "purchase_event", "no purchases in the window"))
    no purchases in the window
    >>> print(no_event_error(events, "order", "purchase_event", "no purchases"))
    no purchases
    What to do: purchase_event='order' does not occur in the events; ... or pass purchase_event= with the name your log uses
    """
    note = event_note(events, name, param)
    role = param.removesuffix("_event")  # purchase_event -> the journey definition's events: purchase:
    return JourneyDataError(message + (f"\nWhat to do: {note}; name your {role} event in the journey definition "
                                       f"(events: {role}: <your event name>) or pass {param}= with the name your "
                                       "log uses" if note else ""))
