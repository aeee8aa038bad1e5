"""Privacy default: reports show pseudonyms, never raw customer ids.

Notebooks take ``show_ids: bool = False``; any per-customer table goes through
:func:`pseudonymize` before it is displayed. Pseudonyms are stable within one Python
process (one report), so rows can be cross-referenced inside a report, but they use a
random salt per process, so they cannot be reversed by hashing guessed ids.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Iterable

import pandas as pd

from ..core.checks import flag

_SALT = secrets.token_bytes(16)
PERSONAL_COLUMNS: tuple[str, ...] = ("customer_id", "email", "name", "phone", "address", "ip")


def pseudonym(value: object) -> str:
    """Stable (per process), irreversible short pseudonym of one id."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return "cust-" + hashlib.sha256(_SALT + str(value).encode()).hexdigest()[:10]


def pseudonymize(df: pd.DataFrame, *, show_ids: bool = False,
                 columns: Iterable[str] = PERSONAL_COLUMNS) -> pd.DataFrame:
    """Copy of ``df`` with personal columns replaced by pseudonyms (unless ``show_ids``).

    ``customer_id`` becomes a pseudonym; other personal columns present (email, name,
    phone, address, ip) are dropped. The input is not modified.
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
