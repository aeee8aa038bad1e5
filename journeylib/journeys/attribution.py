"""Channel attribution: rule-based models, exact Markov removal effect, Shapley, bootstrap.

Input is a path table ``path, conversions, conversion_value, null_count`` (paths are
touchpoints joined by ``" > "``; see :func:`journeylib.journeys.paths.path_table`) or an
event log, from which the path table is built in the engine. Everything below works
on the distinct paths, so it scales with the number of distinct paths, not events.

Models (``model`` column of the result):

* ``first_touch``, ``last_touch``: All credit of a conversion to the first / last touch.
* ``last_non_direct``: Last touch that is not ``direct`` (all-direct paths credit ``direct``).
* ``linear``: Equal credit to every touch (a channel touched twice gets two shares).
* ``position_based``: 40% first, 40% last, 20% spread over the middle (configurable); a two-touch
  path splits 50/50, one touch gets all.
* ``time_decay``: Weight ``2 ** (-(conversion time - touch time) / half_life)``, normalised per
  journey. Needs timestamps, so only when built from events; the credit fractions
  of a path are the average over its converting journeys.
* ``markov``: First-order Markov chain over ``start, channels, conversion, null``; removal
  effect ``RE_c = 1 - P(conversion | c removed) / P(conversion)`` computed
  *exactly* from the absorbing chain (``(I - Q) x = r``), not by simulation.
  Conversions are attributed in proportion to ``RE_c`` (so they sum to the total);
  value uses the same chain with value-weighted absorption rewards.
* ``shapley``: Shapley value over the set of distinct channels of each path. Default
  ``shapley_value="conversions"``: coalition worth = conversions of journeys whose
  channel set lies inside the coalition; its Shapley value has the closed form
  ``sum over channel sets T containing c of conversions(T) / |T|`` (exact for any
  number of channels). ``shapley_value="rate"``: worth = conversion rate of
  journeys touching exactly that set (incremental, rewards channels that raise the
  rate); exact enumeration of all coalitions up to 15 channels, beyond that
  ``n_permutations`` random orderings (documented Monte-Carlo fallback). Shares
  are the positive Shapley values normalised to 1 (a channel whose presence
  lowers the conversion rate gets no credit; efficiency ``sum phi = v(all)``
  holds for the raw ``shapley`` values, which rests on a rarely seen coalition).

Bootstrap: journeys are resampled with replacement (multinomially over the
converting and non-converting units of every path) ``n_boot`` times and every model
is refitted; percentile intervals of each share are reported (``ci_low``, ``ci_high``).
"""
from __future__ import annotations

import html
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from math import factorial
from typing import Any, Sequence

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pandas as pd
from scipy import sparse

from . import plots
from ..core import buckets, engine
from ..core.checks import whole_number
from ..core.display import html_table
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import DEFAULT_STAGES, OUTBOUND_EVENTS, PURCHASE_EVENT
from ..core.time import epoch_us
from .common import check_stages, events_table, findings_html, model_words, window_seconds
from .paths import (BUILT_PATHS, SEP, fetch_with_first_conversions, journey_aggregate, path_table, path_table_of,
                    sorted_path_table, touch_rows_expr)

__all__ = [
    "RULE_MODELS", "ALL_MODELS", "AttributionResult", "attribute", "as_path_table", "markov_removal_effects",
    "shapley_values", "rule_based_credit", "stage_attribution", "StageAttributionResult",
]

RULE_MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
ALL_MODELS = RULE_MODELS + ("time_decay", "markov", "shapley")
PATH_COLUMNS = ("path", "conversions", "conversion_value", "null_count")
SHAPLEY_EXACT_MAX = 15


# --------------------------------------------------------------------------- path table
def as_path_table(table: pd.DataFrame) -> pd.DataFrame:
    """Validate a path table (``path, conversions, conversion_value, null_count``).

    ``conversion_value`` may be missing (taken as 0). Rows with the same path are
    summed; rows with neither conversions nor nulls are dropped. Separators written
    loosely (``a>b``, ``a >b``) become ``" > "``, except in a table built by
    :func:`journeylib.journeys.paths.path_table` (``attrs[BUILT_PATHS]``), whose
    touchpoint names may hold ``>`` themselves.

    Parameters
    ----------
    table
        A path table, e.g. from :func:`journeylib.journeys.paths.path_table` or a
        tool's export.

    Returns
    -------
    pandas.DataFrame
        ``path, conversions, conversion_value, null_count``, one row per distinct path.

    Raises
    ------
    JourneyDataError
        When a column is missing or a count is negative or not a number.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.attribution import as_path_table
    >>> as_path_table(pd.DataFrame({"path": ["search>email", "search > email", "email"],
    ...                             "conversions": [1, 2, 0], "null_count": [0, 1, 3]}))
                 path  conversions  conversion_value  null_count
    0           email            0               0.0           3
    1  search > email            3               0.0           1
    """
    if not isinstance(table, pd.DataFrame):
        raise JourneyParameterError(f"path table: expected a pandas DataFrame, got {type(table).__name__}")
    pt = table.copy()
    if "conversion_value" not in pt.columns:
        pt["conversion_value"] = 0.0
    missing = [c for c in PATH_COLUMNS if c not in pt.columns]
    if missing:
        raise JourneyDataError(f"path table: missing column(s) {missing}; expected columns {list(PATH_COLUMNS)}")
    for col in ("conversions", "null_count", "conversion_value"):
        vals = pd.to_numeric(pt[col], errors="coerce")
        bad = vals.isna() | (vals < 0)
        if bad.any():
            raise JourneyDataError(
                f"column '{col}' of the path table: {int(bad.sum())} of {len(pt)} rows invalid; "
                f"expected non-negative numbers.\n" + pt.loc[bad].head(5).to_string(index=False)
            )
        pt[col] = vals
    bad = pt["path"].isna() | (pt["path"].astype(str).str.strip() == "")
    if bad.any():
        raise JourneyDataError(f"column 'path' of the path table: {int(bad.sum())} of {len(pt)} rows are empty; "
                               f"expected touchpoints joined by '{SEP}'")
    if not table.attrs.get(BUILT_PATHS):
        sep = SEP.strip()
        arr = pa.array(pt["path"].astype(str).to_numpy(dtype=object), type=pa.string())
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, rf"\s*{re.escape(sep)}\s*", SEP))
        pt["path"] = arr.to_numpy(zero_copy_only=False)
    pt = pt.groupby("path", as_index=False, sort=True)[["conversions", "conversion_value", "null_count"]].sum()
    pt = pt[(pt["conversions"] + pt["null_count"]) > 0].reset_index(drop=True)
    if pt["conversions"].sum() <= 0:
        raise JourneyDataError("path table: no conversions at all; attribution needs converting paths")
    pt.attrs[BUILT_PATHS] = True
    return pt


def _is_path_table(x: Any) -> bool:
    return isinstance(x, pd.DataFrame) and "path" in x.columns and "null_count" in x.columns


class ParsedPaths:
    """Distinct paths parsed once: channel index arrays and sparse incidence matrices.

    ``channels`` (sorted), ``conv``, ``value`` and ``null`` per path of the path table ``pt``
    (:func:`as_path_table`), and the arrays the models read.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.attribution import ParsedPaths, as_path_table
    >>> paths = ParsedPaths(as_path_table(pd.DataFrame({"path": ["search > email", "email"],
    ...                                                 "conversions": [2, 1], "null_count": [0, 1]})))
    >>> paths.channels, paths.conv.tolist(), paths.null.tolist()
    (['email', 'search'], [1.0, 2.0], [1.0, 0.0])
    """

    def __init__(self, pt: pd.DataFrame):
        self.pt = pt
        # Vectorised parsing: one flat array of channel codes plus path lengths
        # (a Python loop over tens of thousands of distinct paths dominated the run time).
        lists = pc.split_pattern(pa.array(pt["path"].to_numpy(dtype=object), type=pa.string()), SEP)
        lengths = pc.list_value_length(lists).to_numpy().astype(np.int64)
        flat = pc.list_flatten(lists)
        self.channels = sorted(pc.unique(flat).to_pylist())
        codes = pc.index_in(flat, value_set=pa.array(self.channels, type=pa.string())).to_numpy().astype(np.int64)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        self._codes, self._ends = codes, ends
        self.k = len(self.channels)
        self.conv = pt["conversions"].to_numpy(float)
        self.value = pt["conversion_value"].to_numpy(float)
        self.null = pt["null_count"].to_numpy(float)
        # Markov transitions: states 0 = start, 1..k channels; columns of Q are 0..k
        # (start never re-entered). Through-transitions are taken by every journey.
        rows = np.repeat(np.arange(len(lengths)), lengths)
        src = np.concatenate([[0], codes + 1])[:-1]
        src[starts] = 0
        dst = codes + 1
        self.through = sparse.csr_matrix(
            (np.ones(len(codes)), (rows, src * (self.k + 1) + dst)),
            shape=(len(lengths), (self.k + 1) ** 2),
        )
        self.last = codes[ends - 1] + 1
        sets = np.zeros((len(lengths), self.k), dtype=bool)
        sets[rows, codes] = True
        self.sets = sets


# --------------------------------------------------------------------------- rule based
def rule_based_credit(paths: ParsedPaths, model: str, *, direct: str = "direct",
                      position_weights: tuple[float, float] = (0.4, 0.4)) -> np.ndarray:
    """Credit fractions per path (rows) and channel (columns); rows sum to 1.

    Parameters
    ----------
    paths
        The distinct paths parsed once (:class:`ParsedPaths` of an
        :func:`as_path_table` table); columns follow ``paths.channels``.
    model
        ``first_touch``, ``last_touch``, ``last_non_direct``, ``linear`` or ``position_based``.
    direct
        Touchpoint skipped by ``last_non_direct``.
    position_weights
        (first, last) weights of ``position_based``; the rest goes to the middle.

    Returns
    -------
    numpy.ndarray
        Paths x channels credit fractions.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys import attribution
    >>> table = attribution.as_path_table(pd.DataFrame(
    ...     {"path": ["search > email > email", "email"], "conversions": [1, 1], "null_count": [0, 0]}))
    >>> paths = attribution.ParsedPaths(table)
    >>> paths.channels
    ['email', 'search']
    >>> attribution.rule_based_credit(paths, "position_based")
    array([[1. , 0. ],
           [0.6, 0.4]])
    """
    if model not in RULE_MODELS:
        raise JourneyParameterError(f"models: unknown rule-based model '{model}'; expected one of {RULE_MODELS}")
    # One weight per touch of the flattened paths, summed per (path, channel): no loop over paths.
    codes, ends = paths._codes, paths._ends
    n, k = len(ends), paths.k
    lengths = np.diff(ends, prepend=0)
    starts = ends - lengths
    at = np.arange(len(codes))
    pos = at - np.repeat(starts, lengths)  # position of each touch within its path
    size = np.repeat(lengths, lengths)
    first_w, last_w = position_weights
    if model == "first_touch":
        w = (pos == 0).astype(float)
    elif model == "last_touch":
        w = (pos == size - 1).astype(float)
    elif model == "last_non_direct":
        d = paths.channels.index(direct) if direct in paths.channels else -1
        last_nd = np.maximum.reduceat(np.where(codes != d, at, -1), starts) if n else starts
        w = np.zeros(len(codes))
        w[np.where(last_nd >= starts, last_nd, ends - 1)] = 1.0
    elif model == "linear":
        w = 1.0 / size
    else:  # position_based
        middle = (1.0 - first_w - last_w) / np.maximum(size - 2, 1)
        w = np.select([size == 1, size == 2, pos == 0, pos == size - 1], [1.0, 0.5, first_w, last_w], middle)
    return np.bincount(np.repeat(np.arange(n), lengths) * k + codes, weights=w, minlength=n * k).reshape(n, k)


def rule_credits(paths: ParsedPaths, models: Sequence[str], *, direct: str = "direct",
                 position_weights: tuple[float, float] = (0.4, 0.4)) -> dict[str, np.ndarray]:
    """:func:`rule_based_credit` of each rule-based model among ``models``.

    Parameters
    ----------
    paths
        The distinct paths parsed once.
    models
        Model names; those that are not rule-based (Markov, Shapley) are skipped.
    direct, position_weights
        As in :func:`rule_based_credit`.

    Returns
    -------
    dict
        ``{model: paths x channels credit fractions}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.attribution import ParsedPaths, as_path_table, rule_credits
    >>> paths = ParsedPaths(as_path_table(pd.DataFrame({"path": ["search > email", "email", "search"],
    ...                                                 "conversions": [2, 1, 0], "null_count": [0, 1, 3]})))
    >>> credit = rule_credits(paths, ["last_touch", "markov"])
    >>> list(credit), paths.channels
    (['last_touch'], ['email', 'search'])
    """
    return {m: rule_based_credit(paths, m, direct=direct, position_weights=position_weights)
            for m in models if m in RULE_MODELS}


def credit_by_model(paths: ParsedPaths, models: Sequence[str], credit: dict[str, np.ndarray], conv: np.ndarray,
                    value: np.ndarray, null: np.ndarray, *, shapley_value: str = "conversions",
                    rng: np.random.Generator | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Conversions and value credited to each channel by each model, for one weighting of the paths.

    A bootstrap resample or a month weights the same distinct paths again; a path of weight 0
    credits nothing, so the result is what :func:`attribute` gives on that weighting's own path table.

    Parameters
    ----------
    paths
        The distinct paths parsed once.
    models
        Model names (rule-based, ``markov``, ``shapley``).
    credit
        The rule-based fractions (:func:`rule_credits`).
    conv, value, null
        Conversions, their value and non-converting journeys per row of ``paths``.
    shapley_value
        ``"conversions"`` or ``"rate"`` (see the module docstring).
    rng
        Random generator of the sampled Shapley value (``"rate"`` with many channels).

    Returns
    -------
    dict
        ``{model: (conversions, value)}``, each an array over ``paths.channels``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from journeylib.journeys.attribution import ParsedPaths, as_path_table, credit_by_model, rule_credits
    >>> paths = ParsedPaths(as_path_table(pd.DataFrame({"path": ["search > email", "email", "search"],
    ...                                                 "conversions": [2, 1, 0], "null_count": [0, 1, 3]})))
    >>> paths.channels
    ['email', 'search']
    >>> credit = rule_credits(paths, ["last_touch"])
    >>> got = credit_by_model(paths, ["last_touch", "markov"], credit, paths.conv, paths.value, paths.null)
    >>> {m: c.tolist() for m, (c, v) in got.items()}
    {'last_touch': [3.0, 0.0], 'markov': [2.0, 1.0]}
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    out = {}
    for m in models:
        if m in credit:
            c, v = conv @ credit[m], value @ credit[m]
        elif m == "markov":
            _, _, re, rev = _absorb(paths, conv + null, conv, value, null)
            c = conv.sum() * re / re.sum() if re.sum() > 0 else np.zeros(paths.k)
            v = value.sum() * rev / rev.sum() if rev.sum() > 0 else np.zeros(paths.k)
        else:  # shapley
            phi = _shapley(paths, conv, null, shapley_value, 500, rng)
            sh = _shapley_share(phi)
            phv = _shapley(paths, value, null, shapley_value, 500, rng) if shapley_value == "conversions" else phi
            shv = _shapley_share(phv)
            c, v = sh * conv.sum(), shv * value.sum()
        out[m] = (c, v)
    return out


# --------------------------------------------------------------------------- markov
def _absorb(paths: ParsedPaths, w_all: np.ndarray, conv: np.ndarray, value: np.ndarray, null: np.ndarray):
    """Exact conversion probability, expected value and removal effects (per channel)."""
    k = paths.k
    counts = np.asarray(paths.through.T @ w_all).reshape(k + 1, k + 1)
    to_conv = np.bincount(paths.last, weights=conv, minlength=k + 1)
    to_val = np.bincount(paths.last, weights=value, minlength=k + 1)
    to_null = np.bincount(paths.last, weights=null, minlength=k + 1)
    out = counts.sum(axis=1) + to_conv + to_null
    safe = np.where(out > 0, out, 1.0)
    Q = counts / safe[:, None]
    r = to_conv / safe
    rv = to_val / safe
    eye = np.eye(k + 1)
    base = np.linalg.solve(eye - Q, np.column_stack([r, rv]))[0]
    re = np.zeros(k)
    rev = np.zeros(k)
    for c in range(k):
        s = c + 1
        Qc = Q.copy()
        Qc[:, s] = 0.0  # every move into the removed channel ends the journey without conversion
        rc, rvc = r.copy(), rv.copy()
        rc[s] = rvc[s] = 0.0
        p = np.linalg.solve(eye - Qc, np.column_stack([rc, rvc]))[0]
        re[c] = 1 - p[0] / base[0] if base[0] > 0 else 0.0
        rev[c] = 1 - p[1] / base[1] if base[1] > 0 else 0.0
    return base[0], base[1], re, rev


def markov_removal_effects(path_table: pd.DataFrame) -> pd.DataFrame:
    """Exact first-order Markov removal effects of a path table.

    Returns
    -------
    pandas.DataFrame
        ``channel, removal_effect, removal_effect_value, conversions, value, share``
        with ``attrs["conversion_probability"]`` (probability that a journey from
        ``start`` is absorbed in conversion) and ``attrs["expected_value"]``.

    Parameters
    ----------
    path_table
        A path table (see :func:`as_path_table`).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.attribution import markov_removal_effects
    >>> events = jl.load_dataset("sample").events
    >>> effects = markov_removal_effects(jl.path_table(events))
    >>> effects[["channel", "removal_effect", "share"]].round(3)
        channel  removal_effect  share
    0    direct           0.300  0.153
    1     email           0.218  0.111
    2  paid_ads           0.364  0.186
    3  referral           0.254  0.130
    4    search           0.446  0.227
    5    social           0.381  0.194
    >>> round(effects.attrs["conversion_probability"], 4)
    0.2584
    """
    paths = ParsedPaths(as_path_table(path_table))
    n_all = paths.conv + paths.null
    p, v, re, rev = _absorb(paths, n_all, paths.conv, paths.value, paths.null)
    total_c, total_v = paths.conv.sum(), paths.value.sum()
    out = pd.DataFrame({"channel": paths.channels, "removal_effect": re, "removal_effect_value": rev})
    out["conversions"] = total_c * re / re.sum() if re.sum() > 0 else 0.0
    out["value"] = total_v * rev / rev.sum() if rev.sum() > 0 else 0.0
    out["share"] = out["conversions"] / total_c
    out.attrs["conversion_probability"] = float(p)
    out.attrs["expected_value"] = float(v)
    return out


# --------------------------------------------------------------------------- shapley
def _shapley_additive(sets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    size = sets.sum(axis=1)
    return (sets / np.maximum(size, 1)[:, None] * weights[:, None]).sum(axis=0)


def _shapley_rate(sets: np.ndarray, conv: np.ndarray, n_all: np.ndarray, *, n_permutations: int = 2000,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    k = sets.shape[1]
    code = sets.astype(np.int64) @ (1 << np.arange(k, dtype=np.int64))
    c_by = np.bincount(code, weights=conv, minlength=1 << k if k <= SHAPLEY_EXACT_MAX else 0)
    if k <= SHAPLEY_EXACT_MAX:
        n_by = np.bincount(code, weights=n_all, minlength=1 << k)
        v = np.divide(c_by, n_by, out=np.zeros_like(c_by), where=n_by > 0)
        subsets = np.arange(1 << k)
        popcount = np.array([bin(s).count("1") for s in subsets])
        wt = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
        phi = np.zeros(k)
        for c in range(k):
            bit = 1 << c
            without = subsets[(subsets & bit) == 0]
            phi[c] = np.sum(wt[popcount[without]] * (v[without | bit] - v[without]))
        return phi
    # Monte-Carlo fallback: average marginal contributions over random orderings
    rng = rng or np.random.default_rng(0)
    uniq, inv = np.unique(code, return_inverse=True)
    cc = np.bincount(inv, weights=conv)
    nn = np.bincount(inv, weights=n_all)
    rate = dict(zip(uniq.tolist(), np.divide(cc, nn, out=np.zeros_like(cc), where=nn > 0).tolist()))
    phi = np.zeros(k)
    for _ in range(n_permutations):
        s, prev = 0, 0.0
        for c in rng.permutation(k):
            s |= 1 << int(c)
            cur = rate.get(s, 0.0)
            phi[c] += cur - prev
            prev = cur
    return phi / n_permutations


def shapley_values(path_table: pd.DataFrame, *, value: str = "conversions", n_permutations: int = 2000,
                   seed: int = 0) -> pd.DataFrame:
    """Shapley attribution over distinct channel sets; see the module docstring.

    Returns ``channel, shapley, conversions, share``.

    Parameters
    ----------
    path_table
        A path table (see :func:`as_path_table`).
    value
        ``"conversions"`` (closed form) or ``"rate"`` (incremental conversion rate).
    n_permutations
        Random orderings when ``value="rate"`` and more than 15 channels.
    seed
        Random seed of those orderings.

    Returns
    -------
    pandas.DataFrame
        ``channel, shapley, conversions, share``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.attribution import shapley_values
    >>> events = jl.load_dataset("sample").events
    >>> shapley_values(jl.path_table(events)).round(3).head(2)
      channel  shapley  conversions  share
    0  direct   164.20       164.20  0.127
    1   email   167.95       167.95  0.130
    """
    paths = ParsedPaths(as_path_table(path_table))
    phi = _shapley(paths, paths.conv, paths.null, value, n_permutations, np.random.default_rng(seed))
    total = paths.conv.sum()
    share = _shapley_share(phi)
    return pd.DataFrame({"channel": paths.channels, "shapley": phi, "conversions": share * total, "share": share})


def _shapley_share(phi: np.ndarray) -> np.ndarray:
    """Shares from Shapley values; negative values (channels that lower the rate) get no credit."""
    pos = np.clip(phi, 0.0, None)
    return pos / pos.sum() if pos.sum() > 0 else np.zeros_like(phi)


def _shapley(paths: ParsedPaths, conv, null, value: str, n_permutations: int, rng) -> np.ndarray:
    if value == "conversions":
        return _shapley_additive(paths.sets, conv)
    if value == "rate":
        return _shapley_rate(paths.sets, conv, conv + null, n_permutations=n_permutations, rng=rng)
    raise JourneyParameterError(f"shapley_value: expected 'conversions' or 'rate', got {value!r}")


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AttributionResult(Result):
    """Credit per channel and model, with bootstrap intervals.

    ``summary``: ``channel, model, conversions, value, share, ci_low, ci_high,
    journeys_reached, per_1000_reached`` (conversions and value sum to the totals
    within each model; ``ci_low``/``ci_high`` are the bootstrap percentile interval of
    ``share`` at ``confidence_level``, missing without a bootstrap; ``per_1000_reached``
    = credited conversions per 1,000 journeys that touched the channel, which compares
    channels fairly when they are touched with different frequencies).
    ``removal_effects``: Markov removal effects per channel.
    ``incremental``: the headline ranking by incremental effect: credited conversions per
    1,000 journeys that touched the channel under the Markov removal effect (Shapley when
    Markov was not fitted), with bootstrap intervals (``ci_low``, ``ci_high``) and the
    interval of the channel's rank. Volume (share of all conversions) is in ``summary``.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.attribute(jl.path_table(events), models=["last_touch", "markov"], n_boot=20, seed=1)
    >>> result.incremental[["rank", "channel", "per_1000_reached"]].round(1).head(2)
       rank   channel  per_1000_reached
    0     1     email             156.7
    1     2  referral             143.6
    >>> print(result.findings[0].text)
    email brings the most conversions per 1,000 customers reached: 157 (148 to 168) by the Markov model, against 115 (108 to 122) for direct.
    """

    models: tuple[str, ...]
    total_conversions: float
    total_value: float
    conversion_probability: float
    n_boot: int
    confidence_level: float
    _summary: pd.DataFrame = field(repr=False)
    _removal: pd.DataFrame = field(repr=False)
    path_table: pd.DataFrame = field(repr=False)
    _per_reach: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def incremental_model(self) -> str | None:
        """The model of the headline ranking: Markov when fitted, else Shapley; ``None`` without either."""
        return next((m for m in ("markov", "shapley") if m in self.models), None)

    @property
    def incremental(self) -> pd.DataFrame:
        """Channels ranked by incremental effect (see the class docstring), strongest first.

        Columns ``rank, channel, model, journeys_reached, conversions, per_1000_reached,
        ci_low, ci_high`` (interval of ``per_1000_reached``), ``rank_ci_low, rank_ci_high``
        (bootstrap interval of the rank; 1 = strongest). Empty without Markov or Shapley.
        """
        cols = ["rank", "channel", "model", "journeys_reached", "conversions", "per_1000_reached", "ci_low",
                "ci_high", "rank_ci_low", "rank_ci_high"]
        model = self.incremental_model
        if model is None or self._per_reach is None:
            return pd.DataFrame(columns=cols)
        part = self._per_reach[self._per_reach["model"] == model]
        part = part.sort_values("per_1000_reached", ascending=False, kind="stable").reset_index(drop=True)
        part.insert(0, "rank", np.arange(1, len(part) + 1))
        return part[cols]

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Planted vs estimated rank of each channel by incremental effect (1 = strongest).

        ``truth``: the simulator's ground truth (``truth["channels"]["conversion_weight"]``,
        the planted noisy-OR effect of each channel), or its ``"channels"`` part. Estimate:
        the channel's rank in :attr:`incremental`; interval: its bootstrap rank interval.
        A :func:`journeylib.core.result.truth_table`.
        """
        ch = truth.get("channels", truth) if isinstance(truth, dict) else None
        weights = ch.get("conversion_weight") if isinstance(ch, dict) else None
        if not weights:
            raise JourneyParameterError("truth: expected the ground truth with channels.conversion_weight "
                                        "(the planted effect per channel)")
        inc = self.incremental.set_index("channel")
        if inc.empty:
            raise JourneyParameterError("against_truth: needs the markov or shapley model (models=...)")
        planted = sorted(weights, key=weights.get, reverse=True)
        rows = [(f"rank of {c} by incremental effect", float(i + 1), float(inc.loc[c, "rank"]),
                 float(inc.loc[c, "rank_ci_low"]), float(inc.loc[c, "rank_ci_high"]))
                for i, c in enumerate(planted) if c in inc.index]
        return truth_table(rows)

    @property
    def removal_effects(self) -> pd.DataFrame:
        return self._removal.copy()

    @property
    def headline_model(self) -> str:
        """The model the findings quote: Markov when fitted, else Shapley, else the first model."""
        return next((m for m in ("markov", "shapley") if m in self.models), self.models[0])

    def shares(self) -> pd.DataFrame:
        """Share of conversions, channels x models."""
        return self._summary.pivot(index="channel", columns="model", values="share")[list(self.models)]

    def display_shares(self) -> pd.DataFrame:
        """:meth:`shares` for people: a ``channel`` column and one column per model, named in words.

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.journeys.attribution import attribute
        >>> from journeylib.journeys.paths import path_table
        >>> result = attribute(path_table(jl.load_dataset("sample").events), models=["last_non_direct", "markov"],
        ...                    n_boot=0)
        >>> list(result.display_shares().columns)
        ['channel', 'last non-direct', 'Markov']
        """
        out = self.shares().rename(columns=model_words).reset_index()
        out.columns.name = None
        return out

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Incremental effect first (:attr:`incremental`: the strongest and the weakest channel per 1,000
        reached, and the ranking), then volume apart (the channel with the largest share of
        conversions), then where the models disagree."""
        model = self.headline_model
        name = model_words(model)
        out = list(self._incremental_findings())
        part = self._summary[self._summary["model"] == model].sort_values("share", ascending=False, kind="stable")
        r = next(part.itertuples(index=False))
        ci = f" ({r.ci_low:.0%} to {r.ci_high:.0%})" if np.isfinite(r.ci_low) and np.isfinite(r.ci_high) else ""
        lead = "By volume, " if out else ""
        out.append(Finding(f"{lead}{r.channel} brings the largest share of conversions: {r.share:.0%}{ci} by the "
                           f"{name} model, from {int(r.journeys_reached):,} customers reached (volume mixes effect "
                           "with reach).", float(r.share), _finite(r.ci_low), _finite(r.ci_high)))
        if len(self.models) > 1:
            sh = self.shares()
            spread = (sh.max(axis=1) - sh.min(axis=1)).sort_values(ascending=False, kind="stable")
            ch = spread.index[0]
            lo_m, hi_m = sh.loc[ch].idxmin(), sh.loc[ch].idxmax()
            out.append(Finding(
                f"Models disagree most on {ch}: from {sh.loc[ch, lo_m]:.0%} ({model_words(lo_m)}) to "
                f"{sh.loc[ch, hi_m]:.0%} ({model_words(hi_m)}) of conversions.", float(spread.iloc[0]),
                action=f"Before moving budget to or from {ch}, decide which model matches how it is used."))
        return tuple(out)

    def _incremental_findings(self) -> tuple[Finding, ...]:
        inc = self.incremental
        if len(inc) < 2:
            return ()
        name = model_words(str(inc["model"].iloc[0]))
        top, low = inc.iloc[0], inc.iloc[-1]

        def num(r) -> str:
            v = f"{r['per_1000_reached']:,.0f}"
            if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
                v += f" ({r['ci_low']:,.0f} to {r['ci_high']:,.0f})"
            return v

        separated = np.isfinite(top["ci_low"]) and np.isfinite(low["ci_high"]) and top["ci_low"] > low["ci_high"]
        action = (f"Move budget from {low['channel']} toward {top['channel']}, then confirm with a holdout test."
                  if separated else "The intervals overlap: do not move budget on this ranking alone.")
        first = Finding(
            f"{top['channel']} brings the most conversions per 1,000 customers reached: {num(top)} by the {name} "
            f"model, against {num(low)} for {low['channel']}.", float(top["per_1000_reached"]),
            _finite(top["ci_low"]), _finite(top["ci_high"]), action=action)
        ranking = ", ".join(f"{r.channel} {r.per_1000_reached:,.0f}" for r in inc.itertuples(index=False))
        ratio = top["per_1000_reached"] / low["per_1000_reached"] if low["per_1000_reached"] > 0 else float("nan")
        ratio_text = (f"; the strongest brings {ratio:.2f} times as many as the weakest" if np.isfinite(ratio)
                      else "")
        second = Finding(f"Ranked by conversions per 1,000 customers reached ({name} model): {ranking}{ratio_text}.",
                         float(ratio) if np.isfinite(ratio) else None)
        return first, second

    def plot_incremental(self, ax=None):
        """Channels ranked by incremental effect with intervals (:func:`journeylib.journeys.plots.plot_incremental`)."""
        return plots.plot_incremental(self, ax=ax)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Warns when the shares have no bootstrap interval."""
        if self.n_boot:
            return (Check("attribution: bootstrap intervals", "pass",
                          f"{self.n_boot} resamples, {self.confidence_level:.0%} intervals"),)
        return (Check("attribution: bootstrap intervals", "warn",
                      "no bootstrap resamples: the shares have no interval"),)

    def __repr__(self) -> str:
        head = (f"AttributionResult({len(self.models)} models, {self.total_conversions:,.0f} conversions, "
                f"value {self.total_value:,.2f}, P(conversion)={self.conversion_probability:.3f}, "
                f"n_boot={self.n_boot})")
        return head + "\n" + self.shares().round(3).to_string()

    def _repr_html_(self) -> str:
        note = (f"{self.total_conversions:,.0f} conversions, value {self.total_value:,.2f}; "
                f"share of conversions per model")
        if self.n_boot:
            note += f" ({self.confidence_level:.0%} bootstrap intervals in summary, {self.n_boot} resamples)"
        return (findings_html(self) + f"<h4>Attribution</h4><p>{html.escape(note)}</p>"
                + html_table(self.shares().reset_index(), "{:.1%}"))

    def plot(self, ax=None):
        """Grouped bars with intervals (:func:`journeylib.journeys.plots.plot_attribution`); returns the Axes."""
        return plots.plot_attribution(self, ax=ax)


def _finite(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _paths_and_decay(events: Any, half_life: float, path_kwargs: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The path table and the time-decay credit per ``(path, label)``, from one engine query.

    Both come from one :func:`journeylib.journeys.paths.journey_aggregate`: the credit is computed
    from each converting journey's collected touches, so the journeys are built once (at
    10^7 events the credit adds 0.8 s to the path table's 1.8 s; rebuilt from the touch
    rows with a join and a window it added 1.8 s). Per customer bucket over 20 million
    events, as :func:`journeylib.journeys.paths.path_table` is.
    """
    cols = ["_kind", "path", "label", "credit", "conversions", "conversion_value", "null_count"]

    def both(ev, **kw):
        agg = journey_aggregate(touch_rows_expr(ev, **kw))
        pt = path_table_of(agg).mutate(
            _kind=ibis.literal("path"), label=ibis.null("string"), credit=ibis.null("float64"))
        td = _time_decay_of(agg, half_life).mutate(
            _kind=ibis.literal("credit"), conversions=ibis.null("int64"), conversion_value=ibis.null("float64"),
            null_count=ibis.null("int64"))
        return pt.select(*cols).union(td.select(*cols))

    def build(ev):
        return fetch_with_first_conversions(ev, both, path_kwargs)

    out = buckets.summed_per_bucket(engine.to_table(events), build, ["_kind", "path", "label"], cols[3:])
    is_path = out["_kind"] == "path"
    pt = sorted_path_table(out.loc[is_path, ["path", "conversions", "conversion_value", "null_count"]]
                            .reset_index(drop=True))
    return pt, out.loc[~is_path, ["path", "label", "credit"]]


def _time_decay_credit(agg: pd.DataFrame, channels: list[str], pt: pd.DataFrame) -> np.ndarray:
    """Per-path time-decay credit fractions from the credit summed per ``(path, label)``."""
    idx_p = {p: i for i, p in enumerate(pt["path"])}
    idx_c = {c: i for i, c in enumerate(channels)}
    C = np.zeros((len(pt), len(channels)))
    for p, lab, cr in agg.itertuples(index=False):
        if p in idx_p and lab in idx_c:
            C[idx_p[p], idx_c[lab]] += cr
    rs = C.sum(axis=1, keepdims=True)
    return np.divide(C, rs, out=np.zeros_like(C), where=rs > 0)


def _time_decay_of(agg: ibis.Table, half_life: float) -> ibis.Table:
    """Engine expression: time-decay credit summed per (path, touchpoint) over converting journeys.

    From the journeys' collected touches (:func:`journeylib.journeys.paths.journey_aggregate`): a
    touch ``d`` days before the journey's first conversion weighs ``2 ** (-d / half_life)``,
    and each journey's weights are normalized to sum to one.
    """
    def weight(conv_e, e):
        return 2.0 ** (-((conv_e - e).cast("float64") / 1e6) / (half_life * 86400.0))

    c = agg.filter(agg.conversions > 0)
    c = c.select("path", _ce=c._conv_e, _it=c._items.unnest(),
                 _wsum=c._items.map(lambda s: weight(c._conv_e, s.e)).sums())
    t = c.select("path", label=c._it.l, _wn=weight(c._ce, c._it.e) / c._wsum)
    return t.group_by(["path", "label"]).aggregate(credit=t._wn.sum())


def attribute(
    source: Any,
    *,
    models: Sequence[str] | None = None,
    half_life: float = 7.0,
    position_weights: tuple[float, float] = (0.4, 0.4),
    direct: str = "direct",
    shapley_value: str = "conversions",
    n_boot: int = 200,
    confidence_level: float = 0.95,
    seed: int = 0,
    **path_kwargs: Any,
) -> AttributionResult:
    """Attribute conversions and value to channels with several models.

    Parameters
    ----------
    source
        A path table (``path, conversions, conversion_value, null_count``) or an
        event log (DataFrame, Ibis table or path); events are turned into a path
        table with :func:`journeylib.journeys.paths.path_table` and ``path_kwargs``
        (``touch_col, conversion_event, cut_at_conversion, session_gap, lookback,
        collapse_repeats``).
    models
        Subset of :data:`ALL_MODELS` (default: all that the input supports;
        ``time_decay`` needs events).
    half_life
        Time-decay half-life in days.
    position_weights
        (first, last) weights of the position-based model; the rest goes to the middle.
    direct
        Touchpoint name skipped by ``last_non_direct``.
    shapley_value
        ``"conversions"`` or ``"rate"``; see the module docstring.
    n_boot, confidence_level, seed
        Bootstrap resamples (0 = none), interval level and random seed.

    Returns
    -------
    AttributionResult

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.attribute(jl.path_table(events), models=["last_touch", "markov"], n_boot=20, seed=1)
    >>> result.summary[["channel", "model", "conversions", "share"]].round(3).head(3)
        channel       model  conversions  share
    0    direct  last_touch        174.0  0.135
    1     email  last_touch        156.0  0.121
    2  paid_ads  last_touch        228.0  0.176
    """
    from_events = not _is_path_table(source)
    if not from_events and path_kwargs:
        raise JourneyParameterError(
            f"{sorted(path_kwargs)}: path-building options only apply when events are given, not a path table")
    if models is None:
        models = ALL_MODELS if from_events else tuple(m for m in ALL_MODELS if m != "time_decay")
    models = tuple(models)
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise JourneyParameterError(f"models: unknown {unknown}; expected a subset of {list(ALL_MODELS)}")
    if "time_decay" in models and not from_events:
        raise JourneyParameterError("models: 'time_decay' needs touch timestamps; pass events, not a path table")
    if half_life <= 0:
        raise JourneyParameterError(f"half_life: expected a positive number of days, got {half_life}")
    n_boot = whole_number(n_boot, "n_boot", minimum=0, expected="a whole number of bootstrap resamples (0: none)")
    decay = None
    if not from_events:
        pt = as_path_table(source)
    elif "time_decay" in models:
        pt, decay = _paths_and_decay(source, half_life, path_kwargs)
        pt = as_path_table(pt)
    else:
        pt = as_path_table(path_table(source, **path_kwargs))
    fw, lw = position_weights
    if fw < 0 or lw < 0 or fw + lw > 1:
        raise JourneyParameterError(f"position_weights: expected two non-negative weights summing to <= 1, got {position_weights}")
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level: expected a number in (0, 1), got {confidence_level}")

    paths = ParsedPaths(pt)
    credit = rule_credits(paths, models, direct=direct, position_weights=(fw, lw))
    if "time_decay" in models:
        credit["time_decay"] = _time_decay_credit(decay, paths.channels, pt)
    rng = np.random.default_rng(seed)

    def fit(conv, value, null):
        return credit_by_model(paths, models, credit, conv, value, null, shapley_value=shapley_value, rng=rng)

    point = fit(paths.conv, paths.value, paths.null)
    boot = {m: [] for m in models}
    boot_rate = {m: [] for m in models}  # credited conversions per 1,000 journeys reached, per resample
    if n_boot:
        units = np.concatenate([paths.conv, paths.null])
        n_units = int(round(units.sum()))
        prob = units / units.sum()
        mean_val = np.divide(paths.value, paths.conv, out=np.zeros_like(paths.value), where=paths.conv > 0)
        n = len(paths.conv)
        for _ in range(int(n_boot)):
            draw = rng.multinomial(n_units, prob).astype(float)
            bc, bn = draw[:n], draw[n:]
            if bc.sum() == 0:
                continue
            reach_b = paths.sets.T.astype(float) @ (bc + bn)
            for m, (c, _) in fit(bc, bc * mean_val, bn).items():
                boot[m].append(c / c.sum() if c.sum() else c)
                boot_rate[m].append(1000 * c / np.maximum(reach_b, 1))
    alpha = (1 - confidence_level) / 2
    frames = []
    for m in models:
        c, v = point[m]
        b = np.array(boot[m]) if boot[m] else None
        frames.append(pd.DataFrame({
            "channel": paths.channels, "model": m, "conversions": c, "value": v,
            "share": c / c.sum() if c.sum() else c,
            "ci_low": np.quantile(b, alpha, axis=0) if b is not None else np.nan,
            "ci_high": np.quantile(b, 1 - alpha, axis=0) if b is not None else np.nan,
        }))
    summary = pd.concat(frames, ignore_index=True)
    reach = (paths.sets * (paths.conv + paths.null)[:, None]).sum(axis=0)
    summary["journeys_reached"] = np.tile(reach, len(models))
    summary["per_1000_reached"] = 1000 * summary["conversions"] / np.maximum(summary["journeys_reached"], 1)
    p, _, re, rev = _absorb(paths, paths.conv + paths.null, paths.conv, paths.value, paths.null)
    removal = pd.DataFrame({"channel": paths.channels, "removal_effect": re, "removal_effect_value": rev})
    per_reach = []
    for m in models:
        c = point[m][0]
        rate = 1000 * c / np.maximum(reach, 1)
        b = np.array(boot_rate[m]) if boot_rate[m] else None
        if b is not None:
            # rank 1 = the most conversions per 1,000 reached, in each resample (ties: the average rank)
            ranks = pd.DataFrame(-b).rank(axis=1, method="average").to_numpy()
        per_reach.append(pd.DataFrame({
            "channel": paths.channels, "model": m, "journeys_reached": reach, "conversions": c,
            "per_1000_reached": rate,
            "ci_low": np.quantile(b, alpha, axis=0) if b is not None else np.nan,
            "ci_high": np.quantile(b, 1 - alpha, axis=0) if b is not None else np.nan,
            "rank_ci_low": np.floor(np.quantile(ranks, alpha, axis=0)) if b is not None else np.nan,
            "rank_ci_high": np.ceil(np.quantile(ranks, 1 - alpha, axis=0)) if b is not None else np.nan,
        }))
    return AttributionResult(models, float(paths.conv.sum()), float(paths.value.sum()), float(p), int(n_boot),
                             float(confidence_level), summary, removal, pt, pd.concat(per_reach, ignore_index=True))


# --------------------------------------------------------------------------- per stage
@dataclass(frozen=True)
class StageAttributionResult(Result):
    """Attribution per stage transition.

    ``summary``: ``transition, channel, model, conversions, share, ci_low, ci_high,
    journeys_reached, per_1000_reached`` (as :class:`AttributionResult`, per transition);
    ``totals``: journeys, conversions and conversion rate per transition.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.attribution import stage_attribution
    >>> events = jl.load_dataset("sample").events
    >>> result = stage_attribution(events, models=["last_touch", "markov"])
    >>> result.totals[["transition", "journeys", "conversions"]]
                      transition  journeys  conversions
    0  awareness → consideration      5000         3186
    1       consideration → cart      3186         1875
    2            cart → purchase      1913         1285
    """

    transitions: tuple[tuple[str, str], ...]
    _summary: pd.DataFrame = field(repr=False)
    _totals: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def totals(self) -> pd.DataFrame:
        """Journeys and conversions per transition."""
        return self._totals.copy()

    @property
    def default_model(self) -> str:
        """The model shown by default: Markov when fitted, else the first model."""
        s = self._summary
        return "markov" if "markov" in set(s["model"]) else s["model"].iloc[0]

    def shares(self, model: str | None = None) -> pd.DataFrame:
        """Share of each transition's conversions per channel (channels x transitions) under ``model``."""
        model = model or self.default_model
        s = self._summary
        if model not in set(s["model"]):
            raise JourneyParameterError(f"model: '{model}' was not fitted; expected one of {sorted(set(s['model']))}")
        s = s[s["model"] == model]
        order = [f"{a} → {b}" for a, b in self.transitions]
        return s.pivot(index="channel", columns="transition", values="share").reindex(columns=order)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Per transition (up to four), the channel with the most credit under the default model."""
        model = self.default_model
        name = model.replace("_", " ").replace("markov", "Markov").replace("shapley", "Shapley")
        s = self._summary[self._summary["model"] == model]
        out = []
        for a, b in self.transitions:
            part = s[s["transition"] == f"{a} → {b}"].sort_values("share", ascending=False, kind="stable")
            if part.empty:
                continue
            r = part.iloc[0]
            ci = (f" ({r['ci_low']:.0%} to {r['ci_high']:.0%})"
                  if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]) else "")
            out.append(Finding(f"From {a} to {b}, {r['channel']} gets the most credit: {r['share']:.0%} of the "
                               f"conversions{ci} by the {name} model.", float(r["share"]),
                               _finite(r["ci_low"]), _finite(r["ci_high"])))
        return tuple(out[:4])

    @property
    def checks(self) -> tuple[Check, ...]:
        """Warns about transitions without any conversion (left out of the summary)."""
        empty = self._totals[self._totals["conversions"] == 0]["transition"].tolist()
        if empty:
            return (Check("stage attribution: transitions with conversions", "warn",
                          f"no conversion, so no attribution, for {', '.join(empty)}"),)
        return (Check("stage attribution: transitions with conversions", "pass",
                      f"all {len(self.transitions)} transitions have conversions"),)

    def __repr__(self) -> str:
        return "StageAttributionResult\n" + self.shares().round(3).to_string()

    def _repr_html_(self) -> str:
        return (findings_html(self)
                + "<h4>Attribution per stage transition (share of conversions, "
                + html.escape(self.default_model.replace("_", " ")) + ")</h4>"
                + html_table(self._totals, formats={"conversion_rate": "{:.1%}"})
                + html_table(self.shares().reset_index(), "{:.1%}"))

    def plot(self, ax=None, *, model: str | None = None):
        """Heat map of channel shares per transition (:func:`journeylib.journeys.plots.plot_stage_attribution`)."""
        return plots.plot_stage_attribution(self, ax=ax, model=model)


def stage_path_table(events: Any, from_stage: str, to_stage: str, *, touch_col: str = "channel",
                     window: Any = None, exclude_events: Sequence[str] | None = None) -> pd.DataFrame:
    """Path table for one stage transition.

    A journey starts at the customer's first event in ``from_stage``; it converts
    when the customer first reaches ``to_stage`` at or after that time (within
    ``window`` days if given). Its path is the touches from the start up to and
    including the converting event (or all later touches if it never converts).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event, stage`` and ``touch_col``.
    from_stage, to_stage
        The transition.
    touch_col
        Column whose non-null values are the touchpoints.
    window
        Days allowed for the transition (``None``: no limit).
    exclude_events
        Event names that are never touches (default: outbound events).

    Returns
    -------
    pandas.DataFrame
        A path table ``path, conversions, conversion_value, null_count``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.attribution import stage_path_table
    >>> events = jl.load_dataset("sample").events
    >>> table = stage_path_table(events, "awareness", "consideration")
    >>> len(table), int(table.conversions.sum())
    (469, 3186)
    """
    pair = (from_stage, to_stage)
    return _stage_path_tables(events, [pair], touch_col, window, exclude_events)[pair]


def _stage_path_tables(events: Any, transitions: Sequence[tuple[str, str]], touch_col: str, window: Any,
                       exclude_events: Sequence[str] | None) -> dict[tuple[str, str], pd.DataFrame]:
    """:func:`stage_path_table` of several transitions, sharing one grouped pass per customer bucket."""
    win = window_seconds(window)
    win = None if win is None else int(round(win * 1_000_000))  # times are epoch microseconds
    t = events_table(events, ("customer_id", "ts", "event", "stage"))
    if touch_col not in t.columns:
        raise JourneyParameterError(f"touch_col='{touch_col}': not a column of events")
    excl = list(OUTBOUND_EVENTS if exclude_events is None else exclude_events)
    if excl:
        t = t.filter(~t.event.isin(excl))
    # the distinct (event, label) pairs of the touches, once for all customer buckets (see _stage_paths)
    pairs = engine.to_pandas(t.filter(t[touch_col].notnull()).select(
        "event", label=t[touch_col].cast("string")).distinct())
    pairs = sorted(zip(pairs["event"], pairs["label"]))
    out = buckets.summed_per_bucket(t, lambda tb: _stage_paths(tb, transitions, touch_col, win, pairs=pairs),
                                    ["_from", "_to", "path"], ["conversions", "null_count"])
    out["conversion_value"] = 0.0
    cols = ["path", "conversions", "conversion_value", "null_count"]
    tables = {(a, b): out[(out["_from"] == a) & (out["_to"] == b)][cols].reset_index(drop=True)
              for a, b in transitions}
    for pt in tables.values():
        pt.attrs[BUILT_PATHS] = True
    return tables


def _stage_paths(t, transitions: Sequence[tuple[str, str]], touch_col: str, win: int | None, *,
                 pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """``_from, _to, path, conversions, null_count`` of ``t``.

    One grouped pass gives every customer's first and last time at each stage involved
    (a table of its own); every transition's journey starts follow from it
    (:func:`_stage_starts`), stacked as one table with the transition's number ``_k``; then
    ONE path query joins the touches to the starts of all transitions, so the events are
    read once for all of them (one query per transition read them once each: at 10^7
    events and three transitions the path queries took two thirds of the time).

    A touch is collected as ``{e, c}``: its time and the rank ``c`` of its (event, label)
    pair among the distinct ``pairs`` of the log in text order, so the touches sort exactly as
    :func:`journeylib.journeys.paths.touch_item` sorts them (time, then event and label)
    while the collected lists hold two numbers instead of two strings (a third less
    memory at 10^7 events). The paths come back as ranks and get their labels here.
    """
    t = t.mutate(_e=epoch_us(t))
    names = sorted({s for pair in transitions for s in pair})

    def at(s):
        return ibis.ifelse(t.stage == s, t._e, ibis.null("int64"))

    firsts = t.group_by(_ca=t.customer_id).aggregate(**{f"_lo{i}": at(s).min() for i, s in enumerate(names)},
                                                     **{f"_hi{i}": at(s).max() for i, s in enumerate(names)})
    touches = t.filter(t[touch_col].notnull()).select("customer_id", "_e", "event", label=t[touch_col].cast("string"))
    if not pairs:
        return pd.DataFrame(columns=["_from", "_to", "path", "conversions", "null_count"])
    code = ibis.cases(*[((touches.event == ev) & (touches.label == lab), i) for i, (ev, lab) in enumerate(pairs)],
                      else_=None).cast("int32")
    touches = touches.select("customer_id", "_e", _c=code)
    with engine.materialized(firsts) as firsts:
        parts, exact = [], False
        for k, (a, b) in enumerate(transitions):
            starts, tangled = _stage_starts(t, firsts, names.index(a), names.index(b), b, win)
            parts.append(starts.mutate(_k=ibis.literal(k, "int64")))
            exact |= tangled
        # the exact starts of tangled customers read the events: a table of their own, so the
        # path query reads the events once (DuckDB materializes an input read twice in one query)
        with (engine.materialized(ibis.union(*parts)) if exact else nullcontext(ibis.union(*parts))) as starts:
            j = touches.join(starts, touches.customer_id == starts._ca)
            end_ok = ibis.ifelse(j._tb.isnull(), ibis.literal(True) if win is None else j._e <= j._ta + (win or 0),
                                 j._e <= j._tb)
            j = j.filter((j._e >= j._ta) & end_ok)
            per = j.group_by(["customer_id", "_k"]).aggregate(_items=ibis.struct({"e": j._e, "c": j._c}).collect(),
                                                               _conv=j._tb.notnull().max())
            per = per.mutate(_p=per._items.sort().map(lambda x: x.c.cast("string")).join(SEP),
                             _n=per._conv.cast("int64"))
            pt = per.group_by(["_k", "_p"]).aggregate(conversions=per._n.sum(), null_count=(1 - per._n).sum())
            out = engine.to_pandas(pt)
    # ranks -> labels; two pairs with one label give one path, so the counts are summed again
    ranks = pc.split_pattern(pa.array(out["_p"].to_numpy(dtype=object), type=pa.string()), SEP)
    labels = pa.array([lab for _, lab in pairs], type=pa.string()).take(
        pc.cast(pc.list_flatten(ranks), pa.int64()))
    out["path"] = pc.binary_join(pa.ListArray.from_arrays(ranks.offsets, labels), SEP).to_numpy(zero_copy_only=False)
    out = out.groupby(["_k", "path"], as_index=False, sort=True)[["conversions", "null_count"]].sum()
    k = out["_k"].to_numpy(dtype=np.int64)
    out["_from"] = np.array([a for a, _ in transitions], dtype=object)[k]
    out["_to"] = np.array([b for _, b in transitions], dtype=object)[k]
    return out[["_from", "_to", "path", "conversions", "null_count"]]


def _stage_starts(t, firsts, ia: int, ib: int, to_stage: str, win: int | None) -> tuple[ibis.Table, bool]:
    """Per customer with a from-stage event: ``_ca``, the start ``_ta`` (first such event)
    and ``_tb``, the first to-stage event at or after it (within ``win``; null: none);
    and whether any customer needed the events (then the table reads them).

    ``firsts`` has each customer's first and last time at each stage (``_lo{i}``,
    ``_hi{i}``). As in the funnel (:func:`journeylib.journeys.stages.funnel`), the first
    to-stage event at or after ``_ta`` is simply the first one unless the customer has
    to-stage events on both sides of ``_ta``; only those "tangled" customers need the
    join of their to-stage events onto their start.
    """
    ta, lo, hi = firsts[f"_lo{ia}"], firsts[f"_lo{ib}"], firsts[f"_hi{ib}"]
    reached = lo >= ta
    if win is not None:
        reached &= lo <= ta + win
    p = firsts.filter(ta.notnull()).select(
        "_ca", _ta=ta, _tb=ibis.ifelse(reached.fill_null(False), lo, ibis.null("int64")),
        _tangled=((lo < ta) & (hi >= ta)).fill_null(False))
    starts = p.filter(~p._tangled).select("_ca", "_ta", "_tb")
    if not int(p._tangled.cast("int64").sum().execute() or 0):
        return starts, False
    ids = p.filter(p._tangled).select("_ca", "_ta")
    b = t.filter(t.stage == to_stage).select(_cb=t.customer_id, _e2=t._e)
    ab = ids.join(b, (ids._ca == b._cb) & (b._e2 >= ids._ta))
    if win is not None:
        ab = ab.filter(ab._e2 <= ab._ta + win)
    ab = ab.group_by(_cc="_ca").aggregate(_tb=ab._e2.min())
    exact = ids.left_join(ab, ids._ca == ab._cc).select("_ca", "_ta", "_tb")
    return starts.union(exact), True


def stage_attribution(
    events: Any,
    transitions: Sequence[tuple[str, str]] | None = None,
    *,
    stages: Sequence[str] | None = None,
    models: Sequence[str] = ("first_touch", "last_touch", "linear", "position_based", "markov", "shapley"),
    touch_col: str = "channel",
    window: Any = None,
    n_boot: int = 0,
    seed: int = 0,
) -> StageAttributionResult:
    """Which touchpoints move customers across each stage transition.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event, stage`` and ``touch_col``.
    transitions
        Pairs ``(from_stage, to_stage)``; default: consecutive pairs of ``stages``
        up to the purchase stage (e.g. awareness -> consideration -> cart -> purchase).
    stages
        Stage order used for the default transitions (default ``DEFAULT_STAGES``).
    models
        Models of :func:`attribute` (``time_decay`` is not available here).
    window
        Optional days allowed for the transition.
    n_boot, seed
        Bootstrap resamples per transition.

    Returns
    -------
    StageAttributionResult

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.attribution import stage_attribution
    >>> events = jl.load_dataset("sample").events
    >>> result = stage_attribution(events, models=["last_touch", "markov"])
    >>> print(result.findings[0].text)
    From awareness to consideration, search gets the most credit: 23% of the conversions by the Markov model.
    """
    if transitions is None:
        st = check_stages(stages or DEFAULT_STAGES)
        upto = st.index(PURCHASE_EVENT) + 1 if PURCHASE_EVENT in st else len(st)
        transitions = list(zip(st[: upto - 1], st[1:upto]))
    transitions = tuple((str(a), str(b)) for a, b in transitions)
    if not transitions:
        raise JourneyParameterError("transitions: expected at least one (from_stage, to_stage) pair")
    frames, totals = [], []
    tables = _stage_path_tables(events, transitions, touch_col, window, None)
    for a, b in transitions:
        pt = tables[(a, b)]
        label = f"{a} → {b}"
        if pt.empty or pt["conversions"].sum() == 0:
            totals.append({"transition": label, "journeys": int(pt["null_count"].sum()) if len(pt) else 0,
                           "conversions": 0, "conversion_rate": 0.0})
            continue
        res = attribute(pt, models=models, n_boot=n_boot, seed=seed)
        s = res.summary.drop(columns="value")
        s.insert(0, "transition", label)
        frames.append(s)
        nj = int(pt["conversions"].sum() + pt["null_count"].sum())
        totals.append({"transition": label, "journeys": nj, "conversions": int(pt["conversions"].sum()),
                       "conversion_rate": pt["conversions"].sum() / nj})
    if not frames:
        raise JourneyDataError("stage attribution: no transition has any conversion; check the stage names")
    return StageAttributionResult(transitions, pd.concat(frames, ignore_index=True), pd.DataFrame(totals))
