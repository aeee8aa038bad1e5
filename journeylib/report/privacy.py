"""Privacy default: reports show pseudonyms, never raw customer ids.

Notebooks take ``show_ids: bool = False``; any per-customer table goes through
:func:`pseudonymize` before it is displayed. Pseudonyms are stable within one Python
process (one report), so rows can be cross-referenced inside a report, but they use a
random salt per process, so they cannot be reversed by hashing guessed ids.
:func:`pseudonym` and the salt live in :mod:`journeylib.core.privacy` (error messages use
them too); they are re-exported here unchanged.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from ..core.checks import flag
from ..core.privacy import PERSONAL_COLUMNS, pseudonym

__all__ = ["PERSONAL_COLUMNS", "pseudonym", "pseudonymize"]


def pseudonymize(df: pd.DataFrame, *, show_ids: bool = False,
                 columns: Iterable[str] = PERSONAL_COLUMNS) -> pd.DataFrame:
    """Copy of ``df`` with personal columns replaced by pseudonyms (unless ``show_ids``).

    ``customer_id`` becomes a pseudonym; other personal columns present (email, name,
    phone, address, ip) are dropped. The input is not modified.

    Parameters
    ----------
    df
        A per-customer table.
    show_ids
        ``True`` returns ``df`` unchanged (the notebook parameter ``show_ids``).
    columns
        The personal columns to handle.

    Returns
    -------
    pd.DataFrame
        The table safe to show in a report.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.report.privacy import pseudonymize
    >>> df = pd.DataFrame({"customer_id": ["u1"], "email": ["ann@example.com"], "orders": [3]})
    >>> out = pseudonymize(df)
    >>> list(out.columns), out["customer_id"].iloc[0].startswith("cust-")
    (['customer_id', 'orders'], True)
    """
    if flag(show_ids, "show_ids"):  # a truthy string such as "no" would show every id
        return df
    out = df.copy()
    for col in columns:
        if col in out.columns:
            if col == "customer_id":
                out[col] = out[col].map(pseudonym)
            else:
                out = out.drop(columns=col)
    if out.index.name == "customer_id":
        out.index = out.index.map(pseudonym)
    return out
