"""The one shape of an analysis result: ``summary``, ``findings``, ``checks``, ``plot``, HTML.

Every public analysis returns a small frozen result (a ``@dataclass(frozen=True)``
that inherits :class:`Result`):

* ``summary`` — a tidy DataFrame, always a fresh copy (changing it never changes the
  result); intervals are ``ci_low`` / ``ci_high``.
* ``findings`` — a tuple of :class:`Finding`: short plain sentences with their number
  and its interval, for the findings box at the top of a report.
* ``checks`` — a tuple of :class:`Check`: what the analysis verified or warned about
  (sample ratio, convergence, proportional hazards, ...).
* ``plot(ax=None)`` — draws on ``ax`` (or the current Axes) and returns it; the drawing
  itself lives in the family's ``plots`` module.
* ``_repr_html_`` — findings, then the summary table, escaped (names from data never
  become markup).

Hypothesis tests add scipy's names: ``statistic``, ``pvalue`` and
``confidence_interval(confidence_level=0.95)`` returning ``(low, high)``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from .display import format_pvalue, html_table

INTERVAL_COLUMNS = ("ci_low", "ci_high")


@dataclass(frozen=True)
class Finding:
    """One plain-language statement with its number and uncertainty.

    ``text`` is a full sentence for a reader who has two minutes (no Markdown, no
    parameter names); ``value``, ``ci_low`` and ``ci_high`` are the number it quotes
    (``None`` when the sentence has no single number); ``action`` says what to do
    about it, if anything.

    Parameters
    ----------
    text
        The sentence, plain text.
    value, ci_low, ci_high
        The number quoted and its interval (``None`` when there is none).
    action
        What to do about it (empty when the number does not support an action).

    Examples
    --------
    >>> from journeylib.core.result import Finding
    >>> f = Finding("Email brings 31% of conversions (27% to 35%).", 0.31, 0.27, 0.35,
    ...             action="Keep the email budget.")
    >>> print(f)
    Email brings 31% of conversions (27% to 35%). Keep the email budget.
    """

    text: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    action: str = ""

    def __str__(self) -> str:
        return self.text + (f" {self.action}" if self.action else "")


@dataclass(frozen=True)
class Check:
    """One check an analysis ran: ``status`` is ``"pass"``, ``"warn"`` or ``"fail"``.

    Parameters
    ----------
    name
        What was checked, in a few words.
    status
        ``"pass"``, ``"warn"`` or ``"fail"``.
    detail
        The evidence, plain text (shown next to a warning or failure).

    Examples
    --------
    >>> from journeylib.core.result import Check
    >>> c = Check("sample ratio", "warn", "52% of users in A; 50% planned")
    >>> c.passed, c.status
    (False, 'warn')
    """

    name: str
    status: Literal["pass", "warn", "fail"]
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class Result:
    """Mixin for the frozen result dataclasses: the shared parts of the protocol.

    Subclasses define ``summary`` (returning a copy), and usually ``findings``,
    ``checks`` and ``plot``; the defaults here give an empty tuple and a readable
    ``_repr_html_`` and ``__repr__``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import pandas as pd
    >>> from journeylib.core.result import Finding, Result
    >>> @dataclass(frozen=True)
    ... class Share(Result):
    ...     table: pd.DataFrame
    ...     @property
    ...     def summary(self):
    ...         return self.table.copy()
    ...     @property
    ...     def findings(self):
    ...         return (Finding("Email brings 31% of conversions.", 0.31),)
    >>> r = Share(pd.DataFrame({"channel": ["email"], "share": [0.31]}))
    >>> [str(f) for f in r.findings], r.checks
    (['Email brings 31% of conversions.'], ())
    >>> "<table" in r._repr_html_()  # findings, failed checks, then the escaped summary
    True
    """

    @property
    def summary(self) -> pd.DataFrame:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    @property
    def findings(self) -> tuple[Finding, ...]:
        return ()

    @property
    def checks(self) -> tuple[Check, ...]:
        return ()

    def _float_format(self) -> str:
        return "{:.3g}"

    def _repr_html_(self) -> str:
        """Findings, the checks that did not pass, and the table: the result's ``display_table()``
        (the summary for people) where it has one, else the summary. Findings and check
        details are plain text: HTML-escaped here, never read as Markdown (a name from data
        such as ``[x](javascript:...)`` shows as typed)."""
        parts = [f"<p>{html.escape(str(f))}</p>" for f in self.findings]
        failed = [c for c in self.checks if c.status != "pass"]
        parts += [f"<p><b>{html.escape(c.status)}:</b> {html.escape(c.name)}"
                  f"{' — ' + html.escape(c.detail) if c.detail else ''}</p>" for c in failed]
        people = getattr(self, "display_table", None)
        table = people() if callable(people) else self.summary
        for col in [c for c in table.columns if is_pvalue_column(c)]:  # "< 0.001", never 2.31e-10 or 0
            table[col] = [format_pvalue(p, prefix=False) for p in table[col]]
        return "".join(parts) + html_table(table, self._float_format())

    def __repr__(self) -> str:
        head = type(self).__name__
        lines = [str(f) for f in self.findings]
        return "\n".join([head, *lines, self.summary.to_string(index=False, max_rows=20)])


def is_pvalue_column(name: object) -> bool:
    """Whether a summary column holds p-values (``pvalue``, ``p_holm``, ``pvalue_holm``, ``rel_pvalue``...).

    Parameters
    ----------
    name
        The column name.

    Returns
    -------
    bool

    Examples
    --------
    >>> from journeylib.core.result import is_pvalue_column
    >>> [is_pvalue_column(c) for c in ("pvalue", "p_holm", "pvalue_holm", "srm_pvalue", "power", "p")]
    [True, True, True, True, False, True]
    """
    name = str(name)
    return (name in ("p", "pvalue", "p_value") or name.startswith(("p_", "pvalue_"))
            or name.endswith("_pvalue"))


TRUTH_COLUMNS = ("quantity", "planted", "estimate", "ci_low", "ci_high", "covered")


def truth_table(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """The one way to hold an estimate against planted truth (simulated data).

    ``rows`` are ``(quantity, planted, estimate, ci_low, ci_high)``; the table adds
    ``covered``: the planted value lies inside the interval. Every result's
    ``against_truth(truth)`` returns this table.

    Parameters
    ----------
    rows
        One tuple ``(quantity, planted, estimate, ci_low, ci_high)`` per quantity.

    Returns
    -------
    pd.DataFrame
        Columns ``quantity, planted, estimate, ci_low, ci_high, covered``.

    Examples
    --------
    >>> from journeylib.core.result import truth_table
    >>> truth_table([("conversion rate", 0.30, 0.31, 0.27, 0.35),
    ...              ("lift", 0.05, 0.01, -0.02, 0.04)])
              quantity  planted  estimate  ci_low  ci_high  covered
    0  conversion rate     0.30      0.31    0.27     0.35     True
    1             lift     0.05      0.01   -0.02     0.04    False
    """
    out = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS[:-1]))
    out["covered"] = (out["ci_low"] <= out["planted"]) & (out["planted"] <= out["ci_high"])
    return out
