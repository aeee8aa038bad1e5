"""A/B test readout: from assignments and events to lifts with CIs, for many experiments and metrics.

Engine half (:func:`variant_stats`): assignments are joined to events in the
analysis window ``[assigned_at, assigned_at + window)`` and, for CUPED, the
pre-period ``[assigned_at - window, assigned_at)``; one value per user and metric
(users without events count as zeros), then per (experiment, variant, entry day)
the sufficient statistics ``n``, sums, sums of squares and cross products. That
small table is all the statistics need.

Stats half (:func:`readout_from_stats`, :func:`ab_readout`): sample-ratio check
first, then per (experiment, metric, variant) an :class:`ABResult` with absolute and
relative lift and CIs (:mod:`journeylib.experiments.statistics`; each interval comes from the
same test as the p-value beside it: the relative lift from the delta-method Welch t test, as
GrowthBook's gbstats, the absolute difference from its Wald z / Welch t test), CUPED, the
always-valid sequential test (:mod:`journeylib.experiments.sequential`), the Bayesian
view (:mod:`journeylib.experiments.bayes`) and power at the MDE
(:mod:`journeylib.experiments.power`); a :class:`Readout` collects them with Holm and
Benjamini-Hochberg adjusted p-values over an explicit family, and its ``checks``
(sample ratio, incomplete windows, CUPED pre-period balance, too few users). Drawing
lives in :mod:`journeylib.experiments.plots`.

Looks (for cumulative lift and the sequential test) are entry days: the look of
day *d* holds every user who entered up to day *d*, each measured over their full
window, i.e. what the analyst sees once those users' windows have closed.
"""
from __future__ import annotations

import dataclasses
import html
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import ibis
import numpy as np
import pandas as pd

from . import bayes, plots, power, sequential, statistics
from ..core.arms import arm_check, arm_coverage
from ..core.checks import flag
from ..core.display import escape_markdown
from ..core.engine import distinct_values, to_pandas, to_table
from ..core.errors import JourneyDataError, JourneyDataWarning, JourneyParameterError, SampleRatioWarning, format_examples
from ..core.result import Check, Finding, Result
from ..core.schema import PURCHASE_EVENT
from ..core.time import DAY_US, epoch_us

KINDS = ("conversion", "count", "sum", "ratio")


# --- metric definitions ---------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """A metric measured per user over the analysis window.

    ``kind``: ``"conversion"`` (1 if ``event`` happened, else 0), ``"count"``
    (number of ``event``), ``"sum"`` (sum of ``value`` over ``event`` rows, e.g.
    revenue), ``"ratio"`` (sum of ``numerator`` / sum of ``denominator`` over users,
    e.g. revenue per order; delta method). Usually made with :func:`conversion`,
    :func:`count_per_user`, :func:`sum_per_user` or :func:`ratio`.

    Attributes
    ----------
    name
        Name shown in readouts (unique within one readout).
    kind
        ``"conversion"``, ``"count"``, ``"sum"`` or ``"ratio"``.
    event
        The event counted (default ``purchase``).
    value
        Numeric events column summed by a ``"sum"`` metric (e.g. ``revenue``).
    numerator, denominator
        ``"count"`` or ``"sum"`` metrics of a ``"ratio"``.
    unit
        Unit in words, for labels.

    Examples
    --------
    >>> from journeylib.experiments.readout import Metric
    >>> Metric("reviews_per_user", "count", event="review").kind
    'count'
    """

    name: str
    kind: str
    event: str = PURCHASE_EVENT
    value: str | None = None
    numerator: "Metric | None" = None
    denominator: "Metric | None" = None
    unit: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise JourneyParameterError(f"metric {self.name!r}: kind={self.kind!r}; expected one of {KINDS}")
        if self.kind == "sum" and not self.value:
            raise JourneyParameterError(f"metric {self.name!r}: kind='sum' needs value= (a numeric events column)")
        if self.kind == "ratio":
            for part in (self.numerator, self.denominator):
                if part is None or part.kind not in ("count", "sum"):
                    raise JourneyParameterError(
                        f"metric {self.name!r}: a ratio needs numerator= and denominator= metrics of kind 'count' or 'sum'")


def conversion(event: str = PURCHASE_EVENT, name: str | None = None) -> Metric:
    """Share of users with at least one ``event`` in the window.

    Parameters
    ----------
    event
        The event that counts as converting.
    name
        Metric name (default ``conversion``, or ``<event>_conversion``).

    Returns
    -------
    Metric
        A ``"conversion"`` metric.

    Examples
    --------
    >>> from journeylib.experiments.readout import conversion
    >>> conversion("add_to_cart").name
    'add_to_cart_conversion'
    """
    return Metric(name or ("conversion" if event == PURCHASE_EVENT else f"{event}_conversion"), "conversion", event,
                  unit="share of users")


def count_per_user(event: str = PURCHASE_EVENT, name: str | None = None) -> Metric:
    """Number of ``event`` per user in the window.

    Parameters
    ----------
    event
        The event counted.
    name
        Metric name (default ``<event>s_per_user``).

    Returns
    -------
    Metric
        A ``"count"`` metric.

    Examples
    --------
    >>> from journeylib.experiments.readout import count_per_user
    >>> count_per_user().name
    'purchases_per_user'
    """
    return Metric(name or f"{event}s_per_user", "count", event, unit=f"{event}s per user")


def sum_per_user(value: str = "revenue", event: str = PURCHASE_EVENT, name: str | None = None) -> Metric:
    """Sum of column ``value`` over the user's ``event`` rows in the window (missing = 0).

    Parameters
    ----------
    value
        Numeric events column.
    event
        The events whose ``value`` is summed.
    name
        Metric name (default ``<value>_per_user``).

    Returns
    -------
    Metric
        A ``"sum"`` metric.

    Examples
    --------
    >>> from journeylib.experiments.readout import sum_per_user
    >>> sum_per_user("revenue").unit
    'revenue per user'
    """
    return Metric(name or f"{value}_per_user", "sum", event, value=value, unit=f"{value} per user")


def ratio(numerator: Metric, denominator: Metric, name: str | None = None) -> Metric:
    """Ratio of sums over users (e.g. revenue per order); users are the randomisation unit.

    Parameters
    ----------
    numerator, denominator
        ``"count"`` or ``"sum"`` metrics.
    name
        Metric name (default ``<numerator>_per_<denominator>``).

    Returns
    -------
    Metric
        A ``"ratio"`` metric (delta-method variance).

    Examples
    --------
    >>> from journeylib.experiments.readout import count_per_user, ratio, sum_per_user
    >>> ratio(sum_per_user("revenue"), count_per_user(), name="revenue_per_order").kind
    'ratio'
    """
    return Metric(name or f"{numerator.name}_per_{denominator.name}", "ratio", numerator=numerator,
                  denominator=denominator, unit=f"{numerator.unit} / {denominator.unit}")


DEFAULT_METRICS: tuple[Metric, ...] = (
    conversion(),
    count_per_user(name="purchases_per_user"),
    sum_per_user("revenue", name="revenue_per_user"),
    ratio(sum_per_user("revenue"), count_per_user(), name="revenue_per_order"),
)
"""conversion, purchases_per_user, revenue_per_user, revenue_per_order."""


def metric_words(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with metric names in words, for a table people read.

    The ``metric`` and ``primary_metric`` columns hold the kit's identifiers
    (``purchases_per_user``); a report shows ``purchases per user``.

    Parameters
    ----------
    table
        Any readout table.

    Returns
    -------
    pandas.DataFrame
        The same table; the two columns (where present) with ``_`` read as a space.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.experiments.readout import metric_words
    >>> metric_words(pd.DataFrame({"metric": ["purchases_per_user"], "rel_lift": [0.1]}))
                   metric  rel_lift
    0  purchases per user       0.1
    """
    out = table.copy()
    for col in ("metric", "primary_metric"):
        if col in out.columns:
            out[col] = [metric_label(v) if isinstance(v, str) else v for v in out[col]]
    return out


def verdict_words(decision_table: pd.DataFrame) -> pd.DataFrame:
    """A readout's ``decision_table`` for a report: metric names in words, the verdict beside the
    variant it judges, and no ``significant`` column (the verdict states it).

    Parameters
    ----------
    decision_table
        An :class:`ABResult`'s ``decision_table``.

    Returns
    -------
    pandas.DataFrame
        The same rows; ``experiment, metric, variant, verdict`` first.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.experiments.readout import ab_readout, verdict_words
    >>> ds = jl.load_dataset("sample")
    >>> table = ab_readout(ds.assignments, ds.events, experiments="personalised_offer").decision_table
    >>> list(verdict_words(table).columns[:4]), "significant" in verdict_words(table)
    (['experiment', 'metric', 'variant', 'verdict'], False)
    """
    table = metric_words(decision_table).drop(columns="significant", errors="ignore")
    cols = [c for c in table.columns if c != "verdict"]
    at = cols.index("variant") + 1 if "variant" in cols else len(cols)
    return table[cols[:at] + ["verdict"] + cols[at:]] if "verdict" in table.columns else table


def metric_label(name: str) -> str:
    """A metric's name in words: ``"purchases_per_user"`` -> ``"purchases per user"``.

    Parameters
    ----------
    name
        The metric's identifier.

    Returns
    -------
    str
        The name for people.

    Examples
    --------
    >>> from journeylib.experiments.readout import metric_label
    >>> metric_label("revenue_per_order")
    'revenue per order'
    """
    return name.replace("_", " ")


def metrics_by_name(names: str | Sequence[str] | None) -> tuple[Metric, ...]:
    """Pick :data:`DEFAULT_METRICS` by name.

    Parameters
    ----------
    names
        A list of names, a comma-separated string, or ``"all"``/``None`` for all.

    Returns
    -------
    tuple of Metric
        In the order asked for; an unknown name is a :class:`JourneyParameterError`.

    Examples
    --------
    >>> from journeylib.experiments.readout import metrics_by_name
    >>> [m.name for m in metrics_by_name("conversion,revenue_per_user")]
    ['conversion', 'revenue_per_user']
    """
    if names is None or names == "all":
        return DEFAULT_METRICS
    if isinstance(names, str):  # "a,b" as well as "a" (handy from a command line)
        names = [x.strip() for x in names.split(",") if x.strip()]
    names = list(names)
    known = {m.name: m for m in DEFAULT_METRICS}
    bad = [n for n in names if n not in known]
    if bad:
        raise JourneyParameterError(f"metrics={bad}: unknown metric; expected names from {list(known)} or 'all'")
    return tuple(known[n] for n in names)


def _check_metrics(metrics: Iterable[Metric]) -> tuple[Metric, ...]:
    metrics = tuple(metrics)
    if not metrics or not all(isinstance(m, Metric) for m in metrics):
        raise JourneyParameterError("metrics: expected a non-empty sequence of Metric (see DEFAULT_METRICS)")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise JourneyParameterError(f"metrics: duplicate names in {names}")
    return metrics


# --- engine half ------------------------------------------------------------------

def _base_key(m: Metric) -> tuple[str, str | None]:
    return (m.event, m.value if m.kind == "sum" else None)


def _raise_repeated_assignments(a: ibis.Table, by: str | None) -> None:
    """A user assigned twice in one experiment would be counted twice (or in two arms)."""
    g = a.group_by(["experiment", "customer_id"]).aggregate(rows=a.count(), variants=a.variant.nunique())
    rep = to_pandas(g.filter(g.rows > 1).order_by(["experiment", "customer_id"]))
    if rep.empty:  # every user once: the extra rows came from the customers join
        raise JourneyDataError(f"customers: customer ids repeat, so joining '{by}' repeats assignments; "
                               "expected one row per customer")
    raise JourneyDataError(
        f"assignments: {len(rep):,} users appear more than once in the same experiment "
        f"({int((rep['variants'] > 1).sum()):,} of them in more than one variant); expected one assignment per "
        f"user and experiment.{format_examples(rep, title='Examples')}\nWhat to do: load_assignments "
        "drops exact duplicate rows; a user in two variants is contaminated: drop or fix those users first")


def variant_stats(
    assignments: Any,
    events: Any,
    metrics: Sequence[Metric] = DEFAULT_METRICS,
    *,
    window_days: float = 28,
    experiments: str | Sequence[str] | None = None,
    customers: Any = None,
    by: str | None = None,
    pre_period: bool = True,
) -> pd.DataFrame:
    """Per (experiment, variant, entry day[, segment], metric) sufficient statistics.

    Parameters
    ----------
    assignments, events
        Canonical tables (DataFrame, Ibis table or path).
    metrics
        :class:`Metric` definitions.
    window_days
        Analysis window after ``assigned_at``; the pre-period (CUPED covariate) is
        the same length before ``assigned_at``.
    experiments
        Experiment name(s) to keep; all when ``None``.
    customers, by
        Optional segment column ``by`` of ``customers`` for breakdowns.
    pre_period
        Compute the pre-period covariate columns.

    Returns
    -------
    pandas.DataFrame
        ``experiment, variant, entry_day, [by], metric, kind, n, n_incomplete, s_y, ss_y,
        s_x, ss_x, s_xy, s_d, ss_d, s_yd``: ``y`` is the metric (the numerator for
        ratios), ``x`` its pre-period value, ``d`` a ratio's denominator;
        ``n_incomplete`` counts users whose window ends after the last event.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> st = jl.variant_stats(ds.assignments, ds.events, experiments="personalised_offer")
    >>> st.shape
    (56, 15)
    >>> st[st["metric"] == "conversion"].groupby("variant")["n"].sum().to_dict()
    {'control': 332, 'treatment': 335}
    """
    metrics = _check_metrics(metrics)
    if not window_days > 0:
        raise JourneyParameterError(f"window_days={window_days!r}; expected a positive number of days")
    a = to_table(assignments, table="assignments")
    ev = to_table(events, table="events")
    for col in ("customer_id", "experiment", "variant", "assigned_at"):
        if col not in a.columns:
            raise JourneyDataError(f"assignments: missing column '{col}'; expected customer_id, experiment, variant, assigned_at")
    if experiments is not None:
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        known = set(distinct_values(a, "experiment"))
        bad = [e for e in names if e not in known]
        if bad:
            raise JourneyParameterError(f"experiments={bad}: not in assignments; available: {sorted(known)}")
        a = a.filter(a.experiment.isin(names))
    keys = ["experiment", "variant", "entry_day"]
    a = a.select("customer_id", "experiment", "variant", "assigned_at")
    plain = a
    if by is not None:
        if customers is None:
            raise JourneyParameterError(f"by={by!r} needs customers= (a table with customer_id and {by!r})")
        cu = to_table(customers, table="customers")
        if by not in cu.columns:
            raise JourneyDataError(f"customers: no column '{by}'; available: {list(cu.columns)}")
        cu = cu.select(cu.customer_id.cast("string").name("seg_customer_id"),
                       cu[by].cast("string").name("seg_value"))
        a = a.left_join(cu, a.customer_id == cu.seg_customer_id)
        a = a.select("customer_id", "experiment", "variant", "assigned_at",
                     segment=ibis.coalesce(a.seg_value, ibis.literal("(missing)")))
        keys.append("segment")

    bases: list[tuple[str, str | None]] = []
    for m in metrics:
        for part in ((m.numerator, m.denominator) if m.kind == "ratio" else (m,)):
            if _base_key(part) not in bases:
                bases.append(_base_key(part))
    for _, value in bases:
        if value is not None and value not in ev.columns:
            raise JourneyDataError(f"events: metric needs column '{value}', which is missing; available: {list(ev.columns)}")
    w_sec = int(round(window_days * 86400))
    w_us = w_sec * 1_000_000
    # All time arithmetic is on epoch microseconds (exact on every engine). Spark adds an
    # interval's days in the *session* time zone (28 days across a DST change is 28 days
    # -1 hour outside UTC) and hands timestamps back as wall-clock time of that zone, and
    # Ibis' epoch_seconds rounds on DuckDB but truncates on Spark; integers do neither.
    # One small round trip: the assignment time range (to prune events before the join)
    # and the last event time (to flag windows that the data do not cover yet).
    a_us, ev_us = epoch_us(a, "assigned_at"), epoch_us(ev, "ts")
    pairs = plain.select("experiment", "customer_id").distinct()
    rng_q = a.aggregate(first=a_us.min(), last_assigned=a_us.max(), n_rows=a.count()).cross_join(
        ev.aggregate(last_ts=ev_us.max())).cross_join(pairs.aggregate(n_pairs=pairs.count()))
    lims = to_pandas(rng_q).iloc[0]
    if pd.isna(lims["first"]):
        raise JourneyDataError("assignments: no rows to analyse (after selecting experiments)")
    if int(lims["n_rows"]) != int(lims["n_pairs"]):
        _raise_repeated_assignments(plain, by)
    first_us, last_assigned_us = int(lims["first"]), int(lims["last_assigned"])
    last_us = None if pd.isna(lims["last_ts"]) else int(lims["last_ts"])
    # pruning bounds as UTC literals computed here (a filter on the raw column keeps
    # Parquet row-group pruning)
    as_lit = lambda us: ibis.literal(pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime(), type="timestamp('UTC')")
    ev = ev.filter(ev.event.isin(sorted({e for e, _ in bases})),
                   ev.ts >= as_lit(first_us - w_us if pre_period else first_us),
                   ev.ts < as_lit(last_assigned_us + w_us))
    values = sorted({v for _, v in bases if v})
    ev = ev.select(ev_customer_id=ev.customer_id, ev_us=epoch_us(ev, "ts"), ev_event=ev.event,
                   **{f"ev_{v}": ev[v] for v in values})
    # Window sums are computed once per distinct (customer, assignment time): users
    # who enter several concurrent experiments at the same moment (the usual case)
    # are joined to their events once, not once per experiment. entry_day is the UTC
    # day number.
    pairs = a.select(p_customer_id=a.customer_id, p_at=a.assigned_at).distinct()
    pairs = pairs.mutate(p_us=epoch_us(pairs, "p_at"))
    pairs = pairs.mutate(p_lo=pairs.p_us - w_us if pre_period else pairs.p_us, p_hi=pairs.p_us + w_us,
                         p_day=(pairs.p_us // DAY_US).cast("int64"),
                         p_incomplete=((pairs.p_us + w_us > last_us).cast("int64")
                                       if last_us is not None else ibis.literal(0, "int64")))
    j = pairs.left_join(ev, [pairs.p_customer_id == ev.ev_customer_id, ev.ev_us >= pairs.p_lo,
                             ev.ev_us < pairs.p_hi])
    inw = j.ev_us >= j.p_us
    aggs = {}
    for i, (event, value) in enumerate(bases):
        val = ibis.literal(1.0) if value is None else j[f"ev_{value}"].cast("float64").fill_null(0.0)
        hit = j.ev_event == event  # NULL for pairs without events: the sums below count 0
        aggs[f"y{i}"] = ibis.ifelse(hit & inw, val, 0.0).sum()
        if pre_period:
            aggs[f"x{i}"] = ibis.ifelse(hit & ~inw, val, 0.0).sum()
    pu = j.group_by(["p_customer_id", "p_at", "p_day", "p_incomplete"]).aggregate(**aggs)
    u = a.join(pu, [a.customer_id == pu.p_customer_id, a.assigned_at == pu.p_at])
    u = u.select(*[k for k in keys if k != "entry_day"], entry_day=u.p_day, n_inc=u.p_incomplete,
                 **{c: u[c].fill_null(0.0) for c in aggs})

    def col(part: Metric, pre: bool) -> ibis.Value:
        c = u[f"{'x' if pre else 'y'}{bases.index(_base_key(part))}"]
        return (c > 0).cast("float64") if part.kind == "conversion" else c

    out = {"n": u.count(), "n_incomplete": u.n_inc.sum()}
    for k, m in enumerate(metrics):
        y = col(m.numerator if m.kind == "ratio" else m, False)
        out[f"m{k}_s_y"], out[f"m{k}_ss_y"] = y.sum(), (y * y).sum()
        if m.kind == "ratio":
            d = col(m.denominator, False)
            out[f"m{k}_s_d"], out[f"m{k}_ss_d"], out[f"m{k}_s_yd"] = d.sum(), (d * d).sum(), (y * d).sum()
        elif pre_period:
            x = col(m, True)
            out[f"m{k}_s_x"], out[f"m{k}_ss_x"], out[f"m{k}_s_xy"] = x.sum(), (x * x).sum(), (x * y).sum()
    wide = to_pandas(u.group_by(keys).aggregate(**out))
    wide["entry_day"] = pd.to_datetime(wide["entry_day"].astype("int64"), unit="D")
    wide = wide.sort_values(keys, kind="mergesort").reset_index(drop=True)
    if by is not None:
        wide = wide.rename(columns={"segment": by})
        keys = keys[:-1] + [by]
    frames = []
    stat_cols = ["s_y", "ss_y", "s_x", "ss_x", "s_xy", "s_d", "ss_d", "s_yd"]
    for k, m in enumerate(metrics):
        f = wide[keys + ["n", "n_incomplete"]].copy()
        f.insert(len(keys), "metric", m.name)
        f.insert(len(keys) + 1, "kind", m.kind)
        for c in stat_cols:
            f[c] = wide[f"m{k}_{c}"].astype(float) if f"m{k}_{c}" in wide else np.nan
        frames.append(f)
    res = pd.concat(frames, ignore_index=True)
    res["n"] = res["n"].astype("int64")
    res["n_incomplete"] = res["n_incomplete"].fillna(0).astype("int64")
    return res


# --- one comparison over looks (vectorised) ----------------------------------------

SUMS = ["n", "s_y", "ss_y", "s_x", "ss_x", "s_xy", "s_d", "ss_d", "s_yd"]


def _compare(kind: str, c: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray], *, use_cuped: bool,
             alternative: str, level: float) -> dict[str, np.ndarray]:
    """Compare variant ``v`` with control ``c`` given arrays of sufficient statistics (one entry per look)."""
    out: dict[str, np.ndarray] = {}
    can_cuped = use_cuped and kind != "ratio" and np.all(np.isfinite(c["s_x"])) and np.all(np.isfinite(v["s_x"]))
    out["cuped_fallback"] = False
    if can_cuped:  # a constant (or empty) pre-period at the final look explains nothing: unadjusted test
        n_all, sx_all, ssx_all = (c[k][-1] + v[k][-1] for k in ("n", "s_x", "ss_x"))
        mx_all, vx_all = statistics.mean_var(n_all, sx_all, ssx_all)
        if statistics.constant_variance(vx_all, mx_all):
            can_cuped, out["cuped_fallback"] = False, True
    if kind == "ratio":
        mc, vc = statistics.ratio_stats(c["n"], c["s_y"], c["s_d"], c["ss_y"], c["ss_d"], c["s_yd"])
        mv, vv = statistics.ratio_stats(v["n"], v["s_y"], v["s_d"], v["ss_y"], v["ss_d"], v["s_yd"])
        se_c, se_v = np.sqrt(vc), np.sqrt(vv)
        res = statistics.z_inference(mv - mc, np.sqrt(vc + vv), alternative=alternative, confidence_level=level)
        res["df"] = np.full_like(mc, np.inf)
        rel_df = res["df"]
        test = "delta-method z"
    else:
        mc, var_c = statistics.mean_var(c["n"], c["s_y"], c["ss_y"])
        mv, var_v = statistics.mean_var(v["n"], v["s_y"], v["ss_y"])
        with np.errstate(divide="ignore", invalid="ignore"):
            out["raw_se"] = np.sqrt(var_c / c["n"] + var_v / v["n"])
        if can_cuped:
            stack = lambda key: np.stack([c[key], v[key]], axis=-1)
            adj_m, adj_v, theta = statistics.cuped_vectorised(*(stack(k) for k in ("n", "s_y", "ss_y", "s_x", "ss_x", "s_xy")))
            out["mean_control_raw"], out["mean_variant_raw"] = mc, mv
            mc, mv, var_c, var_v = adj_m[..., 0], adj_m[..., 1], adj_v[..., 0], adj_v[..., 1]
            out["theta"] = theta
            # pre-period balance between the arms (Welch test on the covariate)
            pxc, pvc = statistics.mean_var(c["n"], c["s_x"], c["ss_x"])
            pxv, pvv = statistics.mean_var(v["n"], v["s_x"], v["ss_x"])
            out["pre_balance_pvalue"] = statistics.welch_test(pxv, pvv, v["n"], pxc, pvc, c["n"])["pvalue"]
            n_all = c["n"] + v["n"]
            _, vy = statistics.mean_var(n_all, c["s_y"] + v["s_y"], c["ss_y"] + v["ss_y"])
            _, vx = statistics.mean_var(n_all, c["s_x"] + v["s_x"], c["ss_x"] + v["ss_x"])
            cxy = statistics.covariance(n_all, c["s_x"] + v["s_x"], c["s_y"] + v["s_y"], c["s_xy"] + v["s_xy"])
            with np.errstate(divide="ignore", invalid="ignore"):
                out["pre_correlation"] = cxy / np.sqrt(vx * vy)
        if kind == "conversion" and not can_cuped:  # per-user variance p(1-p), as gbstats' proportions
            var_c, var_v = mc * (1 - mc), mv * (1 - mv)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_c, se_v = np.sqrt(var_c / c["n"]), np.sqrt(var_v / v["n"])
        rel_df = statistics.welch_df(se_v, v["n"], se_c, c["n"])
        if kind == "conversion" and not can_cuped:
            res = statistics.wald_proportion_test(v["s_y"], v["n"], c["s_y"], c["n"], alternative=alternative,
                                                  confidence_level=level)
            res["df"] = np.full_like(mc, np.inf)
            test = "two-proportion z"
        else:
            res = statistics.welch_test(mv, var_v, v["n"], mc, var_c, c["n"], alternative=alternative,
                                     confidence_level=level)
            test = "Welch t" + (" (CUPED)" if can_cuped else "")
        if can_cuped:
            with np.errstate(divide="ignore", invalid="ignore"):
                out["variance_reduction"] = 1 - res["se"] ** 2 / out["raw_se"] ** 2
    rel = statistics.relative_test(mv, se_v, mc, se_c, df=rel_df, alternative=alternative, confidence_level=level)
    out.update(mean_control=mc, mean_variant=mv, se_control=se_c, se_variant=se_v, estimate=res["estimate"],
               se=res["se"], df=res["df"], statistic=res["statistic"], pvalue=res["pvalue"],
               ci_low=res["ci_low"], ci_high=res["ci_high"], rel_lift=rel["estimate"], rel_se=rel["se"],
               rel_df=rel["df"], rel_statistic=rel["statistic"], rel_pvalue=rel["pvalue"],
               rel_ci_low=rel["ci_low"], rel_ci_high=rel["ci_high"])
    out["test"] = test
    out["cuped"] = can_cuped
    return out


# --- result objects -----------------------------------------------------------------

@dataclass(frozen=True)
class ABResult(Result):
    """Comparison of one variant with control on one metric of one experiment.

    Two tests of the same comparison, each with its own p-value and interval from the
    same distribution (so an interval excludes 0 exactly when its p-value is below
    ``1 - confidence_level``):

    * absolute difference ``estimate`` (variant - control): ``statistic``/``pvalue`` and
      ``ci_low``/``ci_high`` (:meth:`confidence_interval`); unpooled Wald z for conversion
      without CUPED, Welch t for means (CUPED-adjusted when ``cuped``), delta-method z for
      ratios;
    * relative lift ``rel_lift`` (variant / control - 1): ``rel_statistic``/``rel_pvalue`` and
      ``rel_ci_low``/``rel_ci_high``; delta-method variance, Student t with the Welch
      degrees of freedom ``rel_df`` (normal for ratios), per-user variance ``p(1-p)`` for
      conversion: GrowthBook gbstats' convention. Reports show the relative lift with
      this p-value, and decisions (:attr:`significant`, the readout's Holm step) use it.

    ``seq_pvalue`` is the always-valid p-value (``seq_ci_low``/
    ``seq_ci_high`` its confidence sequence); ``chance_to_beat`` the Bayesian posterior
    probability that the variant is better (not a p-value), ``bayes_rel_ci_low``/
    ``bayes_rel_ci_high`` the credible interval of the relative lift.

    Attributes
    ----------
    experiment, metric, kind, variant, control, segment
        What is compared (``segment`` is ``None`` outside segment breakdowns).
    n_control, n_variant, mean_control, mean_variant
        Users and metric means per arm (CUPED-adjusted means when ``cuped``).
    estimate, se, df, statistic, pvalue, ci_low, ci_high
        The absolute difference and its test.
    rel_lift, rel_ci_low, rel_ci_high, rel_df, rel_statistic, rel_pvalue
        The relative lift and its test.
    cuped, variance_reduction, theta, pre_correlation, pre_balance_pvalue
        Whether CUPED ran, what it removed, and the pre-period balance between arms.
    chance_to_beat, expected_loss, bayes_rel_ci_low, bayes_rel_ci_high
        The Bayesian view.
    seq_pvalue, seq_ci_low, seq_ci_high, seq_tau2
        The always-valid sequential test at the last look.
    mde, power_at_mde, detectable_rel_lift
        The relative MDE, the power to detect it, and the lift detectable with 80% power.
    srm_passed
        The experiment passed its sample-ratio check.
    looks
        Per entry day: cumulative estimates (:attr:`sequential`, :meth:`plot_cumulative`).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> r = ro.result("personalised_offer", "conversion")
    >>> r
    ABResult(personalised_offer / conversion: treatment vs control, lift +2.2% [-11.4%, +15.9%], ...)
    >>> r.significant
    False
    >>> print(r.findings[0].text)
    treatment lifts conversion by 2.2% (-11.4% to +15.9%) against control in personalised_offer; not significant.
    """

    experiment: str
    metric: str
    kind: str
    variant: str
    control: str
    segment: str | None
    test: str
    alternative: str
    confidence_level: float
    n_control: int
    n_variant: int
    mean_control: float
    mean_variant: float
    estimate: float
    se: float
    df: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    rel_lift: float
    rel_ci_low: float
    rel_ci_high: float
    rel_df: float
    rel_statistic: float
    rel_pvalue: float
    cuped: bool
    variance_reduction: float
    theta: float
    pre_correlation: float
    pre_balance_pvalue: float
    chance_to_beat: float
    expected_loss: float
    bayes_rel_ci_low: float
    bayes_rel_ci_high: float
    seq_pvalue: float
    seq_ci_low: float
    seq_ci_high: float
    seq_tau2: float
    mde: float
    power_at_mde: float
    detectable_rel_lift: float
    srm_passed: bool
    looks: pd.DataFrame = field(repr=False, compare=False)

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the absolute difference (variant - control) at ``confidence_level`` (same test).

        At the readout's level (``1 - alpha``) these are ``ci_low``/``ci_high``.

        Parameters
        ----------
        confidence_level
            Level of the interval.

        Returns
        -------
        tuple of float
            ``(low, high)``; one bound is infinite for a one-sided test.
        """
        statistics.check_level(confidence_level)
        if np.isclose(confidence_level, self.confidence_level):
            return (self.ci_low, self.ci_high)
        if self.df == np.inf or not np.isfinite(self.df):
            r = statistics.z_inference(self.estimate, self.se, alternative=self.alternative,
                                    confidence_level=confidence_level)
        else:
            a = 1 - confidence_level
            q = statistics.t_ppf(1 - a / 2 if self.alternative == "two-sided" else 1 - a, self.df)
            lo, hi = self.estimate - q * self.se, self.estimate + q * self.se
            r = {"ci_low": lo if self.alternative != "less" else -np.inf,
                 "ci_high": hi if self.alternative != "greater" else np.inf}
        return (float(r["ci_low"]), float(r["ci_high"]))

    @property
    def summary(self) -> pd.DataFrame:
        """One tidy row: the numbers a readout table shows."""
        d = {k: getattr(self, k) for k in (
            "experiment", "segment", "metric", "variant", "control", "n_control", "n_variant", "mean_control",
            "mean_variant", "estimate", "ci_low", "ci_high", "rel_lift", "rel_ci_low", "rel_ci_high", "rel_pvalue",
            "test", "statistic", "pvalue", "cuped", "variance_reduction", "seq_pvalue", "chance_to_beat",
            "expected_loss", "power_at_mde", "detectable_rel_lift", "srm_passed")}
        if self.segment is None:
            d.pop("segment")
        return pd.DataFrame([d])

    @property
    def significant(self) -> bool:
        """The relative lift's p-value (``rel_pvalue``, the test shown beside ``rel_ci_low``/``rel_ci_high``)
        is below ``alpha = 1 - confidence_level`` (not adjusted for multiplicity)."""
        return bool(self.rel_pvalue < 1 - self.confidence_level)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence: the relative lift, its interval and the unadjusted decision (:func:`lift_finding`)."""
        return (lift_finding(self, self.significant),)

    @property
    def checks(self) -> tuple[Check, ...]:
        """The experiment's sample-ratio check, and the CUPED pre-period balance when CUPED ran."""
        out = [Check(f"SRM: {self.experiment}", "pass" if self.srm_passed else "fail",
                     "" if self.srm_passed else f"sample ratio mismatch in {self.experiment}: do not trust its results")]
        if self.cuped:
            out.append(balance_check(self))
        return tuple(out)

    def plot(self, ax=None):
        """Forest plot of the relative lift with its CI."""
        return plots.plot_forest([self], ax=ax)

    def plot_cumulative(self, ax=None):
        """Cumulative relative lift over entry days with the fixed-horizon CI."""
        return plots.plot_cumulative(self, ax=ax)

    def plot_sequential(self, ax=None):
        """Difference over looks with the always-valid confidence sequence."""
        return plots.plot_sequential(self.sequential, ax=ax, xlabel="users entered up to (entry day)")

    @property
    def sequential(self) -> sequential.SequentialResult:
        """The always-valid test of this comparison over its looks (entry days)."""
        return sequential.SequentialResult(self.looks, 1 - self.confidence_level, self.seq_tau2)

    def __repr__(self) -> str:
        seg = f" [{self.segment}]" if self.segment is not None else ""
        return (f"ABResult({self.experiment}{seg} / {self.metric}: {self.variant} vs {self.control}, "
                f"lift {self.rel_lift:+.1%} [{self.rel_ci_low:+.1%}, {self.rel_ci_high:+.1%}], "
                f"{self.test} statistic={self.statistic:.3f}, pvalue={self.pvalue:.4g})")


BALANCE_THRESHOLD = 0.001
"""Pre-period balance p-value below which a CUPED comparison is flagged."""


def balance_check(r: ABResult) -> Check:
    """CUPED pre-period balance of one comparison: ``warn`` below :data:`BALANCE_THRESHOLD`.

    Parameters
    ----------
    r
        A CUPED-adjusted comparison.

    Returns
    -------
    Check
        ``pass`` when the pre-period means of the arms are balanced, else ``warn``.

    Examples
    --------
    >>> from journeylib.experiments.readout import balance_check
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> balance_check(ro.result("personalised_offer", "conversion")).status
    'pass'
    """
    name = f"CUPED pre-period balance: {r.experiment} / {r.metric} / {r.variant}"
    if r.pre_balance_pvalue < BALANCE_THRESHOLD:
        return Check(name, "warn", f"pre-period means differ between arms (p={r.pre_balance_pvalue:.2g}); "
                                   "CUPED-adjusted results may be biased; compare with cuped=False")
    return Check(name, "pass", f"pre-period means balanced (p={r.pre_balance_pvalue:.2g})")


def lift_finding(r: ABResult, significant: bool, adjusted: str = "") -> Finding:
    """The sentence of one comparison: the relative lift, its interval and the decision.

    Parameters
    ----------
    r
        The comparison.
    significant
        The decision rule's verdict (unadjusted for one result, Holm in a readout).
    adjusted
        Words appended to the verdict, e.g. ``" after correcting for 4 comparisons"``.

    Returns
    -------
    Finding
        Plain text, the relative lift with its interval, and the action (roll out, keep
        control, or do not act after a sample ratio mismatch).

    Examples
    --------
    >>> from journeylib.experiments.readout import lift_finding
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> lift_finding(ro.result("personalised_offer", "conversion"), significant=False).action
    'Keep control.'
    """
    where = f" in {r.experiment}" + (f" ({r.segment})" if r.segment is not None else "")
    metric = r.metric.replace("_", " ")
    verb = "lifts" if r.rel_lift >= 0 else "lowers"
    verdict = ("significant" if significant else "not significant") + adjusted
    text = (f"{r.variant} {verb} {metric} by {abs(r.rel_lift):.1%} ({r.rel_ci_low:+.1%} to {r.rel_ci_high:+.1%}) "
            f"against {r.control}{where}; {verdict}.")
    if not r.srm_passed:
        action = "Do not act: the split of users is off plan (sample ratio mismatch)."
    elif significant and r.rel_lift > 0:
        action = f"Roll out {r.variant}."
    else:
        action = f"Keep {r.control}."
    return Finding(text, value=r.rel_lift, ci_low=r.rel_ci_low, ci_high=r.rel_ci_high, action=action)


INVALID = "invalid: sample ratio mismatch"
"""The decision (and verdict) of an experiment that failed its sample-ratio check."""

INVALID_ARMS = "invalid: customers missing from the events"
"""The decision (and verdict) of an experiment with an arm whose customers the event log does not know
(:mod:`journeylib.core.arms`): they would count as customers who did nothing."""


def verdict(srm_passed: bool, significant: bool, rel_lift: float, *, invalid: str = INVALID) -> str:
    """A row's verdict after the multiplicity correction.

    Parameters
    ----------
    srm_passed
        The experiment passed its sample-ratio check.
    significant
        The (adjusted) test is significant.
    rel_lift
        The relative lift (its sign).
    invalid
        Why the experiment is invalid when ``srm_passed`` is False (:data:`INVALID`, :data:`INVALID_ARMS`).

    Returns
    -------
    str
        ``"better"``, ``"worse"``, ``"no clear difference"``, or
        ``"invalid: sample ratio mismatch (do not use)"`` when the sample-ratio check failed.

    Examples
    --------
    >>> from journeylib.experiments.readout import verdict
    >>> verdict(True, True, 0.05), verdict(True, False, 0.05)
    ('better', 'no clear difference')
    """
    if not srm_passed:
        return invalid + " (do not use)"
    if significant and rel_lift > 0:
        return "better"
    if significant and rel_lift < 0:
        return "worse"
    return "no clear difference"


def format_lift(value: float, low: float, high: float) -> str:
    """A relative lift with its interval in one text cell.

    Parameters
    ----------
    value, low, high
        The lift and its interval (0.048 = +4.8%); an infinite bound is ``"no limit"``.

    Returns
    -------
    str
        E.g. ``"+4.8% (-8.8% to +18.4%)"``; ``"–"`` when the lift is undefined (a control mean of 0).

    Examples
    --------
    >>> from journeylib.experiments.readout import format_lift
    >>> format_lift(0.048, -0.088, 0.184)
    '+4.8% (-8.8% to +18.4%)'
    """
    if not np.isfinite(value):
        return "–"
    b = lambda x: f"{x:+.1%}" if np.isfinite(x) else "no limit"
    return f"{value:+.1%} ({b(low)} to {b(high)})"


def decision_action(row: Mapping[str, Any]) -> str:
    """The action sentence of one row of :attr:`Readout.decisions`.

    Parameters
    ----------
    row
        A row (mapping) with ``decision``, ``variant`` and ``more_users_needed``.

    Returns
    -------
    str
        ``"Decision: ..."`` in plain words.

    Examples
    --------
    >>> from journeylib.experiments.readout import decision_action
    >>> decision_action({"decision": "ship", "variant": "treatment", "more_users_needed": None})
    'Decision: ship treatment.'
    """
    d, var = row["decision"], row["variant"]
    if d == "ship":
        return f"Decision: ship {var}."
    if d == "do not ship":
        return "Decision: do not ship; keep control."
    if d == "keep running":
        more = row["more_users_needed"]
        if pd.notna(more):
            return f"Decision: keep running; about {int(more):,} more users are needed before deciding."
        return "Decision: keep running; the users needed cannot be computed (a control mean of zero)."
    if d == INVALID_ARMS:
        return ("Decision: invalid (an arm's customers are missing from the event log): do not use its results; "
                "check that the assignments' customer ids are the event log's.")
    return "Decision: invalid (sample ratio mismatch): do not use its results; find the cause first."


def _users_needed(ro: "Readout", r: ABResult, n_comparisons: int) -> float:
    """Users per arm (control arm) the power analysis asks for to detect ``r.mde`` at 80% power.

    The level is ``alpha / n_comparisons`` (Bonferroni: a p-value below it survives Holm);
    conversion without CUPED uses :func:`power.sample_size_proportions`, other metrics
    :func:`power.sample_size_means` with the per-user standard deviation of the test
    (CUPED-adjusted when CUPED ran). NaN when it cannot be computed.
    """
    if not (np.isfinite(r.mde) and r.mde and r.n_control > 0 and r.n_variant > 0):
        return float("nan")
    a = ro.alpha / max(n_comparisons, 1) if ro.family != "none" else ro.alpha
    ratio = r.n_variant / r.n_control
    try:
        if r.kind == "conversion" and not r.cuped and 0 < r.mean_control < 1:
            return float(power.sample_size_proportions(r.mean_control, r.mde, relative=True, alpha=a, ratio=ratio,
                                                       alternative=r.alternative))
        sd = r.se / np.sqrt(1 / r.n_control + 1 / r.n_variant)
        if not (np.isfinite(sd) and sd > 0 and np.isfinite(r.mean_control) and r.mean_control != 0):
            return float("nan")
        return float(power.sample_size_means(sd, r.mde, baseline=r.mean_control, relative=True, alpha=a, ratio=ratio,
                                             alternative=r.alternative))
    except JourneyParameterError:
        return float("nan")


def _decide(ro: "Readout", exp: str, rows: pd.DataFrame) -> dict[str, Any]:
    """One row of :attr:`Readout.decisions` (the rule is :attr:`Readout.decision_rule`)."""
    srm = next((x for x in ro.srm if x.experiment == exp), None)
    metric = ro.primary_metric or str(rows["metric"].iloc[0])
    prim = rows[rows["metric"] == metric]
    inc = int(dict(ro.incomplete).get(exp, 0))
    out: dict[str, Any] = {"experiment": exp, "primary_metric": metric, "users_per_arm_needed": np.nan,
                           "more_users_needed": np.nan, "incomplete_users": inc}
    name = metric.replace("_", " ")

    def numbers(i):
        r = rows.loc[i]
        out.update(variant=r["variant"], rel_lift=r["rel_lift"], ci_low=r["rel_ci_low"], ci_high=r["rel_ci_high"],
                   rel_pvalue=r["rel_pvalue"], p_holm=r["p_holm"], n_control=int(r["n_control"]),
                   n_variant=int(r["n_variant"]))
        return (f"{r['variant']}: {format_lift(r['rel_lift'], r['rel_ci_low'], r['rel_ci_high'])} on {name}, "
                f"{statistics.format_pvalue(r['p_holm'])} after correction")

    if prim.empty:
        out.update(decision="keep running", variant="", reason=f"no comparison of {name} could be computed")
        return out
    missing = ro._missing_arms_text(exp)
    if missing:
        numbers(prim["rel_pvalue"].fillna(1).idxmin())
        out.update(decision=INVALID_ARMS, reason=f"{missing}; its numbers are not used")
        return out
    if srm is not None and not srm.passed:
        i = prim["rel_pvalue"].fillna(1).idxmin()
        numbers(i)
        out.update(decision=INVALID, reason=f"the split of users is off plan (sample-ratio check "
                                            f"{statistics.format_pvalue(srm.pvalue)}); its numbers are not used")
        return out
    ship = prim[prim["significant_holm"] & (prim["rel_lift"] > 0)]
    if len(ship):
        i = ship["rel_lift"].idxmax()
        out.update(decision="ship", reason=f"{numbers(i)}: better than control")
        return out
    mde = ro._mde
    worse = prim["significant_holm"] & (prim["rel_lift"] < 0)
    futile = prim["rel_ci_high"] < mde if np.isfinite(mde) else pd.Series(False, index=prim.index)
    open_ = prim[~(worse | futile)]
    if open_.empty:
        i = prim["rel_lift"].idxmax()
        why = "significantly worse than control" if worse.loc[i] else f"a lift of +{mde:.0%} or more is ruled out"
        out.update(decision="do not ship", reason=f"{numbers(i)}: {why}")
        return out
    i = open_["rel_pvalue"].fillna(1).idxmin()
    text = numbers(i)
    needs = {j: _users_needed(ro, ro.results[j], len(rows)) for j in open_.index}
    per_arm = max(needs.values()) if all(np.isfinite(v) for v in needs.values()) else float("nan")
    if np.isfinite(per_arm):
        more = 0
        for j in open_.index:
            r = ro.results[j]
            n_req = needs[j]
            more_c = max(0, int(np.ceil(n_req - r.n_control)))
            more_v = max(0, int(np.ceil(n_req * r.n_variant / r.n_control - r.n_variant)))
            more = max(more, more_c + more_v)
        out.update(users_per_arm_needed=int(per_arm), more_users_needed=int(more))
        if more == 0:
            out.update(decision="do not ship",
                       reason=f"{text}: the planned sample for a +{mde:.0%} lift is reached without a significant lift")
            return out
        reason = (f"{text}: not clear yet; about {more:,} more users ({int(per_arm):,} per arm) are needed to detect "
                  f"a +{mde:.0%} lift with 80% power")
    else:
        reason = f"{text}: not clear yet"
    out.update(decision="keep running", reason=reason)
    return out


def _scalar(x, i=-1) -> float:
    a = np.asarray(x, dtype=float)
    return float(a[i]) if a.ndim else float(a)


def _cumulative(em: pd.DataFrame) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Sufficient statistics of one metric summed up to each entry day (one look per day).

    Returns the sorted entry days and ``{variant: {statistic: array over looks}}``; a
    variant without users on a day carries its previous total (plain numpy: this runs
    once per experiment x metric, so pandas' group-by/unstack overhead would dominate).
    """
    day_codes, days = pd.factorize(em["entry_day"], sort=True)
    var_codes, variants = pd.factorize(em["variant"])
    sums = np.zeros((len(variants), len(days), len(SUMS)))
    np.add.at(sums, (var_codes, day_codes), em[SUMS].to_numpy(dtype=float))
    sums = sums.cumsum(axis=1)
    return days.to_numpy(), {v: {k: sums[i, :, j] for j, k in enumerate(SUMS)} for i, v in enumerate(variants)}


def _make_result(exp: str, metric: str, kind: str, control: str, variant: str, segment: str | None,
                 days: Sequence, c: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray], *, cuped: bool,
                 alternative: str, alpha: float, mde: float, srm_passed: bool, min_n: int, seed: int) -> ABResult:
    level = 1 - alpha
    r = _compare(kind, c, v, use_cuped=cuped, alternative=alternative, level=level)
    two = r if alternative == "two-sided" else _compare(kind, c, v, use_cuped=cuped, alternative="two-sided",
                                                        level=level)
    var = two["se"] ** 2
    tau2 = sequential.optimal_tau2(_scalar(var), alpha) if np.isfinite(_scalar(var)) and _scalar(var) > 0 else 1.0
    seq = sequential.msprt(two["estimate"], var, tau2, alpha=alpha, n=np.minimum(c["n"], v["n"]), min_n=min_n)
    looks = pd.DataFrame({
        "look": pd.to_datetime(days), "n_control": c["n"].astype(int), "n_variant": v["n"].astype(int),
        "estimate": two["estimate"], "se": two["se"], "ci_low": two["ci_low"], "ci_high": two["ci_high"],
        "rel_lift": two["rel_lift"], "rel_ci_low": two["rel_ci_low"], "rel_ci_high": two["rel_ci_high"],
        "rel_pvalue": two["rel_pvalue"], "pvalue": two["pvalue"], "seq_pvalue": seq["pvalue"], "seq_ci_low": seq["ci_low"],
        "seq_ci_high": seq["ci_high"],
    })
    mc, mv, se_c, se_v = (_scalar(r[k]) for k in ("mean_control", "mean_variant", "se_control", "se_variant"))
    if kind == "conversion" and not r["cuped"]:
        b = bayes.beta_binomial(int(round(v["s_y"][-1])), int(v["n"][-1]), int(round(c["s_y"][-1])),
                                int(c["n"][-1]), confidence_level=level, seed=seed)
    else:
        b = bayes.normal_posterior(mv, se_v, mc, se_c, confidence_level=level)
    se = _scalar(r["se"])
    pw = power.achieved_power(mde * mc, se, alpha=alpha, alternative=alternative) if mde else float("nan")
    za = statistics.norm_ppf(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha)
    detectable = float((za + statistics.norm_ppf(0.8)) * se / abs(mc)) if mc else float("nan")
    get = lambda k: _scalar(r[k]) if k in r else float("nan")
    return ABResult(
        experiment=exp, metric=metric, kind=kind, variant=variant, control=control, segment=segment,
        test=r["test"], alternative=alternative, confidence_level=level,
        n_control=int(c["n"][-1]), n_variant=int(v["n"][-1]), mean_control=mc, mean_variant=mv,
        estimate=get("estimate"), se=se, df=get("df"), statistic=get("statistic"), pvalue=get("pvalue"),
        ci_low=get("ci_low"), ci_high=get("ci_high"), rel_lift=get("rel_lift"), rel_ci_low=get("rel_ci_low"),
        rel_ci_high=get("rel_ci_high"), rel_df=get("rel_df"), rel_statistic=get("rel_statistic"),
        rel_pvalue=get("rel_pvalue"), cuped=bool(r["cuped"]), variance_reduction=get("variance_reduction"),
        theta=get("theta"), pre_correlation=get("pre_correlation"), pre_balance_pvalue=get("pre_balance_pvalue"),
        chance_to_beat=float(b.chance_to_beat), expected_loss=float(b.expected_loss),
        bayes_rel_ci_low=float(b.rel_ci_low), bayes_rel_ci_high=float(b.rel_ci_high),
        seq_pvalue=float(seq["pvalue"][-1]), seq_ci_low=float(seq["ci_low"][-1]),
        seq_ci_high=float(seq["ci_high"][-1]), seq_tau2=float(tau2), mde=float(mde) if mde else float("nan"), power_at_mde=pw,
        detectable_rel_lift=detectable, srm_passed=srm_passed, looks=looks,
    )


@dataclass(frozen=True)
class Readout(Result):
    """All comparisons of a family of experiments, metrics and variants, with adjusted p-values.

    ``family`` says which comparisons share a multiplicity correction:
    ``"experiment"`` (every metric x variant of one experiment, the default),
    ``"all"`` (everything in the readout) or ``"none"``. ``alpha`` is the decision
    threshold for the Holm-adjusted p-values (intervals are at ``1 - alpha``).
    ``checks``: the sample-ratio check of every experiment (``fail`` below the SRM
    threshold, ``warn`` below the warning level), incomplete analysis windows, CUPED
    pre-period imbalance, comparisons skipped for too few users and experiments left out
    because they have no ``control`` variant (``warn``).
    ``findings``: up to four sentences, one per experiment (SRM failures first), each
    with the experiment's decision as its action.

    Convention (stated in reports): an interval and the p-value beside it come from the
    same test. The relative lift is shown with the p-value of the relative test (delta
    method, Welch t, as GrowthBook's gbstats; see :class:`ABResult`),
    and ``p_holm``/``p_bh`` adjust that p-value (``rel_pvalue``) over the family, so the
    highlighted "significant" rows are the ones whose decision survives the correction.
    The absolute difference keeps its own test (``pvalue``, ``ci_low``/``ci_high``).

    :attr:`decisions`: one row per experiment with its primary metric, the decision rule
    (:attr:`decision_rule`, stated before any number), the decision (``"ship"``,
    ``"do not ship"``, ``"keep running"``, ``"invalid: sample ratio mismatch"``, ``"invalid:
    customers missing from the events"``) and, for "keep running", the users still needed
    from the power analysis.

    Attributes
    ----------
    results
        One :class:`ABResult` per comparison.
    srm
        One sample-ratio check per experiment.
    family, alpha
        Multiplicity family and decision threshold.
    note
        A caution shown with the readout (segment breakdowns).
    checks
        Sample ratio, incomplete windows, CUPED balance, too few users.
    primary_metric
        The metric decisions rest on.
    incomplete
        ``(experiment, users)`` whose analysis window ends after the data.
    missing_arms
        ``(experiment, variant, found, best)``: arms whose customers the event log does not
        know (:func:`journeylib.core.arms.arm_coverage`: the share of a sample found, against
        the experiment's best arm). Their experiment is invalid (:data:`INVALID_ARMS`), as for
        a failed sample-ratio check; :func:`ab_readout` fills it and adds the check.

    Examples
    --------
    The bundled sample plants a sample-ratio mismatch in ``email_send_time``:

    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events)
    >>> ro
    Readout(16 comparisons over 3 experiment(s), family='experiment', SRM problems: ['email_send_time'])
    >>> ro.decisions[["experiment", "decision"]]
               experiment                        decision
    0     email_send_time  invalid: sample ratio mismatch
    1      homepage_video                    keep running
    2  personalised_offer                    keep running
    >>> [c.status for c in ro.checks]  # the campaign experiments (control "holdout") are left out: warn
    ['warn', 'fail', 'pass', 'pass', 'pass']
    """

    results: tuple[ABResult, ...]
    srm: tuple[statistics.SRMResult, ...]
    family: str
    alpha: float
    note: str = ""
    checks: tuple[Check, ...] = ()
    primary_metric: str = ""
    incomplete: tuple[tuple[str, int], ...] = ()
    missing_arms: tuple[tuple[str, str, float, float], ...] = ()

    def _missing_arms_text(self, experiment: str) -> str:
        """The arms of ``experiment`` whose customers the events do not know, in words ("" when none)."""
        arms = [(v, f, b) for e, v, f, b in self.missing_arms if e == experiment]
        if not arms:
            return ""
        return ("the customers of " + "; ".join(f"{v} are missing from the event log ({f:.0%} of a sample found, "
                                               f"against {b:.0%} for the best arm)" for v, f, b in arms)
                + ", so they would count as customers who did nothing")

    @property
    def summary(self) -> pd.DataFrame:
        """Readout table: one row per (experiment, [segment], metric, variant) with ``p_holm`` and ``p_bh``."""
        if not self.results:
            return pd.DataFrame()
        df = pd.concat([r.summary for r in self.results], ignore_index=True)
        fam = {"experiment": df["experiment"], "all": pd.Series("all", index=df.index),
               "none": pd.Series(range(len(df)), index=df.index).astype(str)}[self.family]
        if "segment" in df and self.family == "experiment":
            fam = df["experiment"] + " / segments"
        df.insert(0, "family", fam.values if self.family != "none" else "single")
        df["p_holm"], df["p_bh"] = np.nan, np.nan
        for _, idx in df.groupby(fam.values).groups.items():
            df.loc[idx, "p_holm"] = statistics.adjust_pvalues(df.loc[idx, "rel_pvalue"], "holm")
            df.loc[idx, "p_bh"] = statistics.adjust_pvalues(df.loc[idx, "rel_pvalue"], "fdr_bh")
        df["significant_holm"] = df["p_holm"] < self.alpha
        arms_ok = ~df["experiment"].isin({e for e, *_ in self.missing_arms})
        df["valid"] = df["srm_passed"] & arms_ok
        df["verdict"] = [verdict(ok, sig, lift, invalid=INVALID if arm_ok else INVALID_ARMS) for ok, arm_ok, sig, lift
                         in zip(df["valid"], arms_ok, df["significant_holm"], df["rel_lift"])]
        return df

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence per experiment (at most four; invalid experiments first).

        An arm whose customers are missing from the events, or a failed SRM check, gives the
        "do not act" sentence; otherwise the comparison with
        the smallest Holm-adjusted p-value among the significant ones, or else the first
        metric's comparison with the smallest p-value, with the Holm decision.
        """
        s = self.summary
        if s.empty:
            return ()
        srm = {x.experiment: x for x in self.srm}
        exps = sorted(dict.fromkeys(s["experiment"]), key=lambda e: (
            not self._missing_arms_text(e), e not in srm or srm[e].passed, e))
        dec = self.decisions.set_index("experiment") if "segment" not in s.columns else None
        out = []
        for exp in exps[:4]:
            missing = self._missing_arms_text(exp)
            if missing:
                out.append(Finding(f"Do not act on {exp}: {missing}.", action=decision_action(
                    {"decision": INVALID_ARMS, "variant": "", "more_users_needed": None})))
                continue
            if exp in srm and not srm[exp].passed:
                out.extend(srm[exp].findings)
                continue
            rows = s[s["experiment"] == exp]
            wins = rows[rows["significant_holm"]]
            if len(wins):
                i = wins["p_holm"].idxmin()
            else:
                first = rows[rows["metric"] == rows["metric"].iloc[0]]
                i = first["pvalue"].idxmin() if first["pvalue"].notna().any() else first.index[0]
            n = len(rows)
            adjusted = f" after correcting for {n} comparisons" if n > 1 and self.family != "none" else ""
            f = lift_finding(self.results[i], bool(s.loc[i, "significant_holm"]), adjusted)
            if dec is not None and exp in dec.index:
                f = Finding(f.text, f.value, f.ci_low, f.ci_high, decision_action(dec.loc[exp]))
            out.append(f)
        return tuple(out)

    # --- decisions ---------------------------------------------------------------

    @property
    def decision_rule(self) -> str:
        """The rule every experiment's decision follows, in words (state it before the numbers)."""
        mde = self._mde
        mde_txt = f"{mde:.0%}" if np.isfinite(mde) else "the minimum detectable effect"
        metric = (self.primary_metric or "the first metric").replace("_", " ")
        return (f"Primary metric: {metric}. A variant ships when the sample-ratio check passes and its relative "
                f"lift in {metric} is positive with a p-value below {self.alpha:g} after correcting for all "
                f"comparisons of the experiment (Holm). It does not ship when the lift is significantly negative, "
                f"or when the whole {1 - self.alpha:.0%} interval lies below +{mde_txt} (the smallest lift worth "
                f"shipping). Otherwise the test keeps running until it has the users the power analysis asks for "
                f"(80% power to detect +{mde_txt} at level {self.alpha:g} divided by the number of comparisons). "
                "An experiment that fails the sample-ratio check, or whose arm's customers are missing from the "
                "event log, is invalid: none of its numbers are used.")

    @property
    def _mde(self) -> float:
        vals = [r.mde for r in self.results if np.isfinite(r.mde)]
        return float(vals[0]) if vals else float("nan")

    @property
    def decisions(self) -> pd.DataFrame:
        """One row per experiment: primary metric, decision, the numbers behind it and the users still needed.

        Columns ``experiment, primary_metric, decision, variant, rel_lift, ci_low, ci_high,
        rel_pvalue, p_holm, n_control, n_variant, users_per_arm_needed, more_users_needed,
        incomplete_users, reason``. ``decision`` is ``"ship"``, ``"do not ship"``,
        ``"keep running"`` or ``"invalid: sample ratio mismatch"`` (:attr:`decision_rule`);
        ``variant`` is the variant the decision is about (the best one); for "keep running"
        ``users_per_arm_needed`` is the per-arm size the power analysis asks for
        (:mod:`journeylib.experiments.power`) and ``more_users_needed`` the users still
        missing over all arms compared. Segment breakdowns have no decisions (empty frame).
        """
        cols = ["experiment", "primary_metric", "decision", "variant", "rel_lift", "ci_low", "ci_high",
                "rel_pvalue", "p_holm", "n_control", "n_variant", "users_per_arm_needed", "more_users_needed",
                "incomplete_users", "reason"]
        s = self.summary
        if s.empty or "segment" in s.columns:
            return pd.DataFrame(columns=cols)
        rows = [_decide(self, exp, s[s["experiment"] == exp]) for exp in dict.fromkeys(s["experiment"])]
        return pd.DataFrame(rows, columns=cols)

    @property
    def srm_summary(self) -> pd.DataFrame:
        """One row per experiment and variant: users, observed and planned share, the SRM p-value."""
        return pd.concat([s.summary for s in self.srm], ignore_index=True) if self.srm else pd.DataFrame()

    @property
    def decision_table(self) -> pd.DataFrame:
        """The readout as a reader scans it: the relative lift and its interval in one text column
        (``"+4.8% (-8.8% to +18.4%)"``), raw and adjusted p-values, and ``significant`` (the
        Holm-adjusted p below ``alpha``); ``family`` only when it is not one experiment.
        Numbers for further work: :attr:`summary`."""
        s = self.summary
        if s.empty:
            return s
        lift = [format_lift(v, lo, hi) for v, lo, hi in zip(s["rel_lift"], s["rel_ci_low"], s["rel_ci_high"])]
        level = self.results[0].confidence_level
        keys = [c for c in ("family", "experiment", "segment", "metric", "variant") if c in s.columns]
        if self.family == "experiment":
            keys.remove("family")
        out = s[keys + ["n_control", "n_variant", "mean_control", "mean_variant"]].copy()
        out[f"relative lift ({level:.0%} CI)"] = lift
        sig = (s["significant_holm"] & s["valid"]).rename("significant")
        return pd.concat([out, s[["rel_pvalue", "p_holm", "p_bh"]], sig, s["verdict"]], axis=1)

    @property
    def srm_reading(self) -> str:
        """One line per experiment: ``[ok|CHECK|FAILED]`` and the sample-ratio check in words."""
        return "\n".join(f"[{s.flag}] {s.message()}" for s in self.srm)

    @property
    def cuped_summary(self) -> pd.DataFrame:
        """Per comparison: whether CUPED ran, ``theta``, the pre-period correlation, the share of
        variance it removed and the pre-period balance p-value between arms."""
        cols = ["experiment", "metric", "variant", "cuped", "theta", "pre_correlation", "variance_reduction",
                "pre_balance_pvalue"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.results], columns=cols)

    def result(self, experiment: str, metric: str, variant: str | None = None, segment: str | None = None) -> ABResult:
        """The :class:`ABResult` of one comparison (``variant`` may be omitted when there is one).

        Parameters
        ----------
        experiment, metric
            The experiment and metric names.
        variant
            The variant (the first one when ``None``).
        segment
            The segment, in a segment breakdown.

        Returns
        -------
        ABResult
            A :class:`JourneyParameterError` lists the available comparisons when there is none.
        """
        hits = [r for r in self.results if r.experiment == experiment and r.metric == metric
                and (variant is None or r.variant == variant) and (segment is None or r.segment == segment)]
        if not hits:
            raise JourneyParameterError(
                f"no result for experiment={experiment!r}, metric={metric!r}, variant={variant!r}; "
                f"available: {sorted({(r.experiment, r.metric, r.variant) for r in self.results})}")
        return hits[0]

    def plot(self, ax=None, *, experiment: str | None = None):
        """Forest plot of relative lifts with CIs (all comparisons or one experiment), coloured by the
        Holm decision; experiments that failed the sample-ratio check are drawn as invalid."""
        return plots.plot_forest(self, ax=ax, experiment=experiment)

    def conclusion(self, experiment: str, *, rule: bool = True) -> str:
        """Markdown reading of one experiment: the decision rule (``rule=False`` leaves it out, e.g. when a
        report states it once above), the decision, and what else can and cannot be concluded. Names from
        data are escaped for Markdown; show it with :func:`journeylib.core.display.markdown`."""
        return _conclusion(self, experiment, rule=rule)

    def against_truth(self, truth: Mapping[str, Any]) -> pd.DataFrame:
        """Planted vs estimated relative lift, for data with a simulator's ground truth.

        ``truth``: the ``"experiments"`` part of :func:`journeylib.simulate.simulate_journeys`'
        ground truth. Returns ``experiment, metric, variant, true_rel_lift, estimate,
        ci_low, ci_high, covered`` for each comparison with a planted lift: a number for
        every metric, or a per-metric mapping; conversion's is the planted absolute lift
        over the control rate.

        Parameters
        ----------
        truth
            ``ground_truth["experiments"]`` of simulated data.

        Returns
        -------
        pandas.DataFrame
            One row per comparison with a planted lift.

        Examples
        --------
        >>> import journeylib as jl
        >>> ds = jl.load_dataset("sample")
        >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
        >>> ro.against_truth(ds.ground_truth["experiments"])[["metric", "true_rel_lift", "covered"]]
                       metric  true_rel_lift  covered
        0          conversion       0.132125     True
        1  purchases_per_user       0.300000     True
        2    revenue_per_user       0.300000     True
        """
        rows = []
        for r in self.results:
            t = truth.get(r.experiment)
            if not isinstance(t, Mapping) or "variants" not in t:
                continue
            lift = t.get("true_relative_lift")
            true = lift.get(r.metric) if isinstance(lift, Mapping) else lift
            if r.metric == "conversion" and "true_conversion" in t:
                true = t["true_conversion"]["absolute_lift"] / t["true_conversion"]["control"]
            if true is None:
                continue
            rows.append({"experiment": r.experiment, "metric": r.metric, "variant": r.variant,
                         "true_rel_lift": float(true), "estimate": r.rel_lift, "ci_low": r.rel_ci_low,
                         "ci_high": r.rel_ci_high, "covered": bool(r.rel_ci_low <= true <= r.rel_ci_high)})
        return pd.DataFrame(rows, columns=["experiment", "metric", "variant", "true_rel_lift", "estimate",
                                           "ci_low", "ci_high", "covered"])

    def __repr__(self) -> str:
        exps = sorted({r.experiment for r in self.results})
        bad = [s.experiment for s in self.srm if not s.passed]
        return (f"Readout({len(self.results)} comparisons over {len(exps)} experiment(s), family={self.family!r}, "
                f"SRM problems: {bad or 'none'})")

    def _repr_html_(self) -> str:
        note = f"<p><i>{html.escape(self.note)}</i></p>" if self.note else ""
        return f"<p>{html.escape(repr(self))}</p>{note}" + super()._repr_html_()


# --- stats half entry points ------------------------------------------------------------

def _srm_for(exp: str, counts: pd.Series, planned: Mapping[str, float] | None,
             threshold: float, warn_threshold: float) -> statistics.SRMResult:
    variants = list(counts.index)
    share = None
    if planned is not None:
        missing = [v for v in variants if v not in planned]
        if missing:
            raise JourneyParameterError(f"planned_split[{exp!r}] has no share for variant(s) {missing}; "
                                        f"expected shares for {variants}")
        share = [planned[v] for v in variants]
    return statistics.srm_test(counts.to_numpy(), share, experiment=exp, variants=variants, threshold=threshold,
                               warn_threshold=warn_threshold)


def readout_from_stats(
    stats: pd.DataFrame,
    *,
    control: str = "control",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    cuped: bool = True,
    mde: float = 0.05,
    planned_split: Mapping[str, Mapping[str, float]] | None = None,
    family: str = "experiment",
    srm_threshold: float = 0.001,
    srm_warn: float = 0.05,
    min_n: int = 100,
    seed: int = 0,
    primary_metric: str | None = None,
) -> Readout:
    """Statistics for every (experiment, [segment], metric, variant) of :func:`variant_stats` output.

    Parameters
    ----------
    stats
        Output of :func:`variant_stats`.
    control
        Label of the control variant. Experiments without it are left out (a warning and a
        ``warn`` check say which), unless none has it (:class:`JourneyParameterError`).
        Experiments with a single variant are left out the same way; when no experiment has
        two variants, :class:`JourneyDataError`.
    alpha, alternative
        Test level (CIs are ``1 - alpha``) and ``"two-sided"``, ``"greater"`` or ``"less"``.
    cuped
        Adjust with the pre-period covariate (not for ratio metrics).
    mde
        Relative minimum detectable effect for the power readout (0.05 = 5% lift).
    planned_split
        ``{experiment: {variant: share}}``; equal split when an experiment is missing.
    family
        Multiplicity family: ``"experiment"``, ``"all"`` or ``"none"``.
    srm_threshold, srm_warn
        SRM chi-square p-value below which the experiment fails (results not to be
        trusted) / is flagged as a possible mismatch to investigate.
    min_n
        Smallest arm size before the sequential test starts looking.
    primary_metric
        The metric each experiment's decision rests on (:attr:`Readout.decisions`); the
        first metric of ``stats`` when ``None``.
    seed
        Random seed of the Bayesian Monte Carlo draws.

    Returns
    -------
    Readout
        Every comparison with adjusted p-values, decisions and checks. An experiment that
        fails its sample-ratio check also emits a :class:`JourneyDataWarning`.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> st = jl.variant_stats(ds.assignments, ds.events, experiments="homepage_video")
    >>> ro = jl.readout_from_stats(st, family="all")
    >>> len(ro.results), ro.srm[0].passed
    (8, True)
    """
    statistics.check_alternative(alternative)
    statistics.check_level(alpha, "alpha")
    if family not in ("experiment", "all", "none"):
        raise JourneyParameterError(f"family={family!r}; expected 'experiment', 'all' or 'none'")
    need = {"experiment", "variant", "entry_day", "metric", "kind", *SUMS}
    if not isinstance(stats, pd.DataFrame) or need - set(stats.columns):
        raise JourneyParameterError(f"stats: expected the output of variant_stats() with columns {sorted(need)}")
    cuped = flag(cuped, "cuped")
    unknown = sorted(set(planned_split or {}) - set(stats["experiment"]))
    if unknown:
        raise JourneyParameterError(f"planned_split: no experiment {unknown} in the assignments; "
                                    f"experiments: {sorted(set(stats['experiment']))}")
    if stats.empty:
        raise JourneyDataError("assignments: no assigned users to analyse; expected at least one experiment with users")
    seg_col = [c for c in stats.columns if c not in need | {"n_incomplete"}]
    seg_col = seg_col[0] if seg_col else None
    results, srms, skipped, checks, incomplete, fallback = [], [], [], [], [], []
    # experiments read together may name their control differently (a campaign's "holdout"): those
    # without ``control`` are left out with a warning, unless none has it (then the error below)
    variants_of = stats.groupby("experiment", sort=True)["variant"].agg(lambda v: sorted(set(v)))
    # likewise an experiment with a single variant (all its users in one arm, or one user): nothing to
    # compare, so it is left out with a warning rather than stopping the others' readout
    single = [exp for exp, vs in variants_of.items() if len(vs) < 2]
    no_control = [exp for exp, vs in variants_of.items() if control not in vs and len(vs) >= 2]
    if (single or no_control) and len(single) + len(no_control) < len(variants_of):
        if single:
            msg = ("Only one variant in " + "; ".join(f"{exp} (every user in {variants_of[exp][0]})"
                                                      for exp in single)
                   + ": nothing to compare it with, so left out of this readout. Check the experiment name and "
                   "the variant column, or read it once users are assigned to its other arms")
            warnings.warn(msg, JourneyDataWarning, stacklevel=2)
            checks.append(Check("experiments with a single variant", "warn", msg))
        if no_control:
            msg = (f"No variant named {control!r} (the control) in " + "; ".join(
                f"{exp} (variants {', '.join(map(str, variants_of[exp]))})" for exp in no_control)
                + ": left out of this readout. Read each on its own, naming its untreated arm (such as 'holdout') "
                "as the control")
            warnings.warn(msg, JourneyDataWarning, stacklevel=2)
            checks.append(Check("experiments without the control variant", "warn", msg))
        stats = stats[~stats["experiment"].isin(single + no_control)]
    elif single and len(variants_of) > 1:  # several experiments, none with two variants to compare
        raise JourneyDataError(
            "assignments: no experiment has two variants to compare; " + "; ".join(
                f"{exp}: {'only ' + repr(vs[0]) if len(vs) < 2 else 'no ' + repr(control) + ' among ' + repr(vs)}"
                for exp, vs in variants_of.items())
            + "\nWhat to do: an A/B readout needs the control and at least one other variant with users; check the "
            "variant column (and that the assignments' ids are the event log's), or read the data once users are "
            "assigned to every arm")
    first_metric = stats["metric"].iloc[0]
    known_metrics = list(dict.fromkeys(stats["metric"]))
    if primary_metric in (None, ""):
        primary_metric = first_metric
    elif primary_metric not in known_metrics:
        raise JourneyParameterError(f"primary_metric={primary_metric!r} is not one of the metrics read out; "
                                    f"expected one of {known_metrics}")
    for exp, e in stats.groupby("experiment", sort=True):
        variants = list(dict.fromkeys(e["variant"]))
        if len(variants) < 2:
            raise JourneyDataError(
                f"assignments: experiment {exp!r} has only one variant ({sorted(variants)[0]!r}); an A/B readout "
                "needs the control and at least one other variant. Check the experiment name and the variant column")
        if control not in variants:
            raise JourneyParameterError(f"control={control!r} is not a variant of experiment {exp!r}; "
                                        f"its variants are {sorted(variants)}")
        counts = e[e["metric"] == first_metric].groupby("variant")["n"].sum()
        counts = counts.reindex([control] + sorted(v for v in variants if v != control))
        plan = (planned_split or {}).get(exp)
        srm = _srm_for(exp, counts, plan, srm_threshold, srm_warn)
        srms.append(srm)
        checks.extend(srm.checks)
        if not srm.passed:
            warnings.warn(srm.message(), SampleRatioWarning, stacklevel=2)
        inc = int(e[e["metric"] == first_metric]["n_incomplete"].sum())
        if inc:
            incomplete.append((exp, inc))
            checks.append(Check(f"analysis window complete: {exp}", "warn",
                                f"{inc:,} users' windows end after the last event; their metrics are truncated"))
        segs = [None] if seg_col is None else sorted(e[seg_col].unique())
        for seg in segs:
            es = e if seg is None else e[e[seg_col] == seg]
            for metric, em in es.groupby("metric", sort=False):
                kind = em["kind"].iloc[0]
                has_pre = bool(em["s_x"].notna().all())
                days, cum = _cumulative(em)
                if control not in cum:
                    continue
                c = cum[control]
                for var in counts.index[1:]:
                    if var not in cum:
                        continue
                    v = cum[var]
                    if c["n"][-1] < 2 or v["n"][-1] < 2:
                        skipped.append(f"{exp} / {metric} / {var}{'' if seg is None else f' (segment {seg})'}: "
                                       f"{int(c['n'][-1])} control and {int(v['n'][-1])} {var} users")
                        continue
                    r = _make_result(exp, metric, kind, control, var, seg, days, c, v,
                                     cuped=cuped and has_pre,
                                     alternative=alternative, alpha=alpha, mde=mde, srm_passed=srm.passed,
                                     min_n=min_n, seed=seed)
                    results.append(r)
                    if cuped and has_pre and kind != "ratio" and not r.cuped and (exp, metric) not in fallback:
                        fallback.append((exp, metric))
                    if r.cuped and seg is None and r.pre_balance_pvalue < BALANCE_THRESHOLD:
                        checks.append(balance_check(r))
    if skipped:
        msg = ("no test possible with fewer than 2 users in an arm, skipped: " + "; ".join(skipped[:5])
               + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""))
        if not results:
            raise JourneyDataError(f"assignments: {msg}. Collect more users before reading out")
        warnings.warn(msg, JourneyDataWarning, stacklevel=2)
        checks.append(Check("comparisons with too few users", "warn", msg))
    if fallback:
        msg = (statistics.CONSTANT_PRE_PERIOD + ": " + "; ".join(f"{e} / {m}" for e, m in fallback[:5])
               + (f"; and {len(fallback) - 5} more" if len(fallback) > 5 else ""))
        warnings.warn(msg, JourneyDataWarning, stacklevel=2)
        checks.append(Check("CUPED pre-period", "warn", msg))
    order = {m: i for i, m in enumerate(dict.fromkeys(stats["metric"]))}
    results.sort(key=lambda r: (r.experiment, r.segment or "", order[r.metric], r.variant))
    note = ""
    if seg_col is not None:
        n_seg = len({r.segment for r in results})
        note = (f"Segment breakdown over {n_seg} segments of '{seg_col}': with many segments some will look "
                "significant by chance; use the adjusted p-values (family = all segments of an experiment) and "
                "treat segment differences as hypotheses for a new test, not conclusions.")
    return Readout(tuple(results), tuple(srms), family, alpha, note, tuple(checks), str(primary_metric),
                   tuple(incomplete))


def ab_readout(
    assignments: Any,
    events: Any,
    *,
    metrics: Sequence[Metric] = DEFAULT_METRICS,
    window_days: float = 28,
    experiments: str | Sequence[str] | None = None,
    control: str = "control",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    cuped: bool = True,
    mde: float = 0.05,
    planned_split: Mapping[str, Mapping[str, float]] | None = None,
    family: str = "experiment",
    srm_threshold: float = 0.001,
    srm_warn: float = 0.05,
    min_n: int = 100,
    primary_metric: str | None = None,
) -> Readout:
    """One call from assignments and events to the readout (:func:`variant_stats` + :func:`readout_from_stats`).

    Parameters
    ----------
    assignments, events
        Canonical tables (DataFrame, Ibis table or path).
    metrics
        :class:`Metric` definitions (default :data:`DEFAULT_METRICS`).
    window_days
        Analysis window after ``assigned_at`` (and CUPED pre-period length), in days.
    experiments
        Experiment name(s) to read out; all when ``None``.
    control
        Label of the control variant (experiments without it, or with a single variant, are
        left out, see :func:`readout_from_stats`).
    alpha, alternative
        Decision threshold (intervals at ``1 - alpha``) and ``"two-sided"``, ``"greater"`` or ``"less"``.
    cuped
        Adjust with the pre-period covariate.
    mde
        Relative minimum detectable effect for the power readout (0.05 = 5% lift).
    planned_split
        ``{experiment: {variant: share}}``; equal split when an experiment is missing.
    family
        Multiplicity family: ``"experiment"``, ``"all"`` or ``"none"``.
    srm_threshold, srm_warn
        SRM p-values below which an experiment fails / is flagged.
    min_n
        Smallest arm size before the sequential test starts looking.
    primary_metric
        The metric decisions rest on; the first metric when ``None``.

    Returns
    -------
    Readout
        As :func:`readout_from_stats`.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> ro.decision_table[["metric", "relative lift (95% CI)", "verdict"]]
                   metric    relative lift (95% CI)              verdict
    0          conversion  +2.2% (-11.4% to +15.9%)  no clear difference
    ...
    """
    st = variant_stats(assignments, events, metrics, window_days=window_days, experiments=experiments,
                       pre_period=cuped)
    if st.empty:
        raise JourneyDataError("assignments: no assigned users to analyse; expected at least one experiment with users")
    ro = readout_from_stats(st, control=control, alpha=alpha, alternative=alternative, cuped=cuped, mde=mde,
                            planned_split=planned_split, family=family, srm_threshold=srm_threshold,
                            srm_warn=srm_warn, min_n=min_n, primary_metric=primary_metric)
    cov = arm_coverage(assignments, events)
    cov = cov[cov["experiment"].isin({r.experiment for r in ro.results})].reset_index(drop=True)
    best = cov.groupby("experiment")["found"].transform("max")
    missing = tuple((str(r.experiment), str(r.variant), float(r.found), float(b))
                    for r, b in zip(cov.itertuples(index=False), best) if r.missing)
    return dataclasses.replace(ro, missing_arms=missing, checks=ro.checks + (arm_check(cov),))


def segment_breakdown(
    assignments: Any,
    events: Any,
    customers: Any,
    by: str = "segment",
    *,
    experiments: str | Sequence[str] | None = None,
    metrics: Sequence[Metric] = DEFAULT_METRICS,
    window_days: float = 28,
    control: str = "control",
    alpha: float = 0.05,
    cuped: bool = True,
) -> Readout:
    """Readout per segment of ``customers[by]``, adjusted over all segments x metrics x variants of an experiment.

    Emits a warning about multiplicity: segment results are exploratory.

    Parameters
    ----------
    assignments, events, customers
        Canonical tables (DataFrame, Ibis table or path).
    by
        Column of ``customers`` that names each customer's segment (missing: ``"(missing)"``).
    experiments
        Experiment name(s) to read out; all when ``None``.
    metrics, window_days, control, alpha, cuped
        As in :func:`ab_readout`.

    Returns
    -------
    Readout
        One comparison per segment, metric and variant (``segment`` set); no decisions.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.segment_breakdown(ds.assignments, ds.events, ds.customers, by="segment",
    ...                           experiments="personalised_offer")
    >>> sorted({r.segment for r in ro.results})
    ['budget', 'premium', 'standard']
    """
    st = variant_stats(assignments, events, metrics, window_days=window_days, experiments=experiments,
                       customers=customers, by=by, pre_period=cuped)
    ro = readout_from_stats(st, control=control, alpha=alpha, cuped=cuped)
    warnings.warn(ro.note, UserWarning, stacklevel=2)
    return ro


# --- plain-language reading --------------------------------------------------------------

def _conclusion(ro: Readout, experiment: str, *, rule: bool = True) -> str:
    """Markdown: the decision rule, the decision, then what else can and cannot be concluded.

    Every name from data (experiment, metric, variant) goes through
    :func:`~journeylib.core.display.escape_markdown`; the text is meant for
    :func:`~journeylib.core.display.markdown`, which HTML-escapes the rest.
    """
    md = escape_markdown
    rs = [r for r in ro.results if r.experiment == experiment and r.segment is None]
    if not rs:
        raise JourneyParameterError(f"experiment={experiment!r} not in the readout")
    srm = next(s for s in ro.srm if s.experiment == experiment)
    summ = ro.summary
    summ = summ[(summ["experiment"] == experiment)]
    dec = ro.decisions.set_index("experiment").loc[experiment]
    lines = [f"**Rule.** {md(ro.decision_rule)}"] if rule else []
    if dec["decision"] == INVALID_ARMS:
        why = ro._missing_arms_text(experiment)
        lines.append(f"**Do not act on {md(experiment)}.** {md(why[:1].upper() + why[1:])}. Check that the "
                     "assignments' customer ids are the event log's.")
    elif dec["decision"] == INVALID:
        lines.append(f"**Do not act on {md(experiment)}.** {md(srm.message())}")
    else:
        lines.append(f"**Decision: {md(dec['decision'])}.** {md(dec['reason'])}.")
        if srm.pvalue < srm.warn_threshold:
            lines.append(f"**Caution:** the split of {md(experiment)} is off plan (chi-square "
                         f"{statistics.format_pvalue(srm.pvalue)}); below the usual 0.001 alarm level, but check the "
                         "assignment and logging before relying on it.")
    inc = int(dec["incomplete_users"])
    if inc:
        lines.append(f"**Unfinished windows:** {inc:,} users entered too late for their analysis window to finish "
                     "before the data ends; their metrics count only what happened so far, which pulls both arms "
                     "towards zero. Read the numbers again once the data covers their whole window.")
    wins = summ[summ["significant_holm"]]
    valid = srm.passed and dec["decision"] != INVALID_ARMS
    if len(wins):
        parts = [f"{md(w.metric)} ({md(w.variant)}: {w.rel_lift:+.1%}, CI {_fmt_ci(w.rel_ci_low, w.rel_ci_high)}, "
                 f"Holm-adjusted {statistics.format_pvalue(w.p_holm)})" for w in wins.itertuples()]
        lead = ("After correcting for" if valid else
                f"These numbers are not valid ({'an arm is missing from the events' if srm.passed else 'sample ratio mismatch'}); "
                "for the record, after correcting for")
        lines.append(f"{lead} {len(summ)} comparisons, these differences are statistically significant at "
                     f"{ro.alpha:g}: " + "; ".join(parts) + ".")
    else:
        lines.append(f"None of the {len(summ)} comparisons is significant at {ro.alpha:g} after Holm correction. "
                     "This does not show that there is no effect: effects smaller than the detectable lift below "
                     "may exist.")
    det = ", ".join(f"{md(r.metric.replace('_', ' '))} {r.detectable_rel_lift:.0%}" for r in rs
                    if r.variant == rs[0].variant and np.isfinite(r.detectable_rel_lift))
    if det:
        lines.append(f"With these sample sizes a true lift of about this size would be detected 80% of the time: {det}.")
    lines.append("Intervals and p-values are those of the relative lift (delta method, Welch t), so an interval "
                 "excludes zero exactly when its unadjusted p-value is below the significance level.")
    lines.append("Chance to beat control is the Bayesian probability that the variant is better given the data; "
                 "it is not a p-value and not a guarantee of the size of the effect.")
    return "\n\n".join(lines)


def _fmt_ci(lo: float, hi: float) -> str:
    return f"[{lo:+.1%}, {hi:+.1%}]"
