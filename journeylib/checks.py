"""Parameter checks shared by the analyses: numbers, whole numbers and True/False options.

Python's own tests are too lenient for report parameters: ``True`` is an ``int``, and a
string such as ``"no"`` is truthy, so an option passed as text would silently mean yes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import JourneyParameterError


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
