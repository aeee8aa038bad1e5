"""Whether each experiment arm's customers are in the event log.

An arm whose ids the log does not know (the assignments export another id column, or the
ids carry a prefix) reads as an arm whose customers never did anything: a large and false
effect. A sample of each arm's customers is looked up in the events; an arm found less than
a tenth as often as the best arm of its experiment (when the best finds at least half) is
missing. Ids written another way are (almost) never found; a real effect on who comes back
does not divide that share by ten, even in a log of orders only, where "found" means "ever
ordered". Loading a journey records the check for every report; the A/B readout marks such
an experiment invalid, as it does a failed sample-ratio check.
"""
from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from . import engine
from .result import Check

__all__ = ["ARM_SAMPLE", "arm_coverage", "arm_check"]

ARM_SAMPLE = 200
"""Assigned customers per experiment arm looked up in the events."""

CHECK_NAME = "assignments: every arm's customers are in the events"

MISSING_RATIO = 10
"""An arm found this many times less often than its experiment's best arm is missing from the events."""


def arm_coverage(assignments: Any, events: Any) -> pd.DataFrame:
    """Per experiment arm, the share of a sample of its customers found in the event log.

    Parameters
    ----------
    assignments
        Table with ``customer_id``, ``experiment`` and ``variant``.
    events
        The event log (``customer_id``).

    Returns
    -------
    pandas.DataFrame
        ``experiment, variant, sampled, found`` (the share of the sampled customers found) and
        ``missing`` (found less than a tenth as often as the experiment's best arm, which finds
        at least half). Up to :data:`ARM_SAMPLE` customers per arm (the first ids in text order),
        fewer when there are many arms (one look-up of at most 5,000 ids).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.arms import arm_coverage
    >>> a = pd.DataFrame({"customer_id": ["c1", "c2", "u_c3", "u_c4"], "experiment": "hero",
    ...                   "variant": ["control", "control", "b", "b"]})
    >>> ev = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "ts": pd.Timestamp("2025-01-01", tz="UTC"),
    ...                    "event": "visit"})
    >>> arm_coverage(a, ev)
      experiment  variant  sampled  found  missing
    0       hero        b        2    0.0     True
    1       hero  control        2    1.0    False
    """
    assignments, events = engine.to_table(assignments), engine.to_table(events)
    a = assignments.select("experiment", "variant", v=assignments.customer_id.cast("string"))
    a = a.mutate(_k=ibis.row_number().over(group_by=[a.experiment, a.variant], order_by=a.v))
    picked = engine.to_pandas(a.filter(a._k < ARM_SAMPLE).select("experiment", "variant", "v"))
    cols = ["experiment", "variant", "sampled", "found", "missing"]
    if picked.empty:
        return pd.DataFrame(columns=cols)
    n_arms = picked.groupby(["experiment", "variant"]).ngroups
    picked = picked.groupby(["experiment", "variant"]).head(max(20, 5_000 // n_arms))  # a short IN list, however many arms
    ids = events.customer_id.cast("string")
    known = set(engine.to_pandas(events.filter(ids.isin(picked["v"].unique().tolist())).select(v=ids).distinct())["v"])
    out = (picked.assign(found=picked["v"].isin(known)).groupby(["experiment", "variant"])["found"]
           .agg(sampled="size", found="mean").reset_index())
    best = out.groupby("experiment")["found"].transform("max")
    out["missing"] = (best >= 0.5) & (out["found"] < best / MISSING_RATIO)
    return out[cols]


def arm_check(coverage: pd.DataFrame) -> Check:
    """The check of :func:`arm_coverage`'s table: ``fail`` naming the missing arms, else ``pass``.

    Parameters
    ----------
    coverage
        What :func:`arm_coverage` returned.

    Returns
    -------
    Check

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.arms import arm_check
    >>> arm_check(pd.DataFrame({"experiment": ["hero"] * 2, "variant": ["b", "control"], "sampled": [2, 2],
    ...                         "found": [0.0, 1.0], "missing": [True, False]})).status
    'fail'
    """
    if coverage.empty:
        return Check(CHECK_NAME, "pass", "no assignments")
    best = coverage.groupby("experiment")["found"].max()
    odd = [f"{r.experiment}: {r.variant} {r.found:.0%} against {best[r.experiment]:.0%}"
           for r in coverage[coverage["missing"]].itertuples(index=False)]
    if odd:
        return Check(CHECK_NAME, "fail", "the customers of some arms are missing from the event log, so their readout "
                     "counts customers the log does not know as customers who did nothing (share of a sample of "
                     f"each arm's customers found in the events: {'; '.join(odd)}). What to do: check that the "
                     "assignments' customer ids are the event log's")
    return Check(CHECK_NAME, "pass", f"every arm's customers are found in the events ({len(coverage)} arms)")
