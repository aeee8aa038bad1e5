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
    """A finite real number (``True``/``False`` are not numbers here)."""
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and bool(np.isfinite(value)))


def whole_number(value: Any, name: str, *, minimum: int, expected: str) -> int:
    """``value`` as an ``int`` if it is a whole number >= ``minimum`` (``90.0`` counts); else a
    :class:`JourneyParameterError` saying ``expected``."""
    if not is_number(value) or not float(value).is_integer() or value < minimum:
        raise JourneyParameterError(f"{name}={value!r}; expected {expected}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    """A True/False option; anything else is an error rather than Python's truthiness."""
    if not isinstance(value, (bool, np.bool_)):
        raise JourneyParameterError(f"{name}={value!r}; expected True or False")
    return bool(value)


def event_note(events: Any, name: str, param: str) -> str:
    """``""`` when an event called ``name`` occurs in ``events`` (an Ibis table); otherwise
    a note naming the log's events, for a warning or error about a misspelt event name."""
    from .engine import distinct_values

    names = distinct_values(events, "event")
    if name in names:
        return ""
    return f"{param}={name!r} does not occur in the events; events in the log: {names[:20]}"


def warn_missing_event(events: Any, name: str, param: str, consequence: str, stacklevel: int = 3) -> None:
    """A :class:`JourneyDataWarning` (``consequence``: what it leads to) when no event is called ``name``."""
    note = event_note(events, name, param)
    if note:
        warnings.warn(f"{consequence}: {note}", JourneyDataWarning, stacklevel=stacklevel + 1)


def no_event_error(events: Any, name: str, param: str, message: str) -> JourneyDataError:
    """``message`` as a :class:`JourneyDataError`, with the log's event names when ``name`` is not one."""
    note = event_note(events, name, param)
    role = param.removesuffix("_event")  # purchase_event -> the journey definition's events: purchase:
    return JourneyDataError(message + (f"\nWhat to do: {note}; name your {role} event in the journey definition "
                                       f"(events: {role}: <your event name>) or pass {param}= with the name your "
                                       "log uses" if note else ""))
