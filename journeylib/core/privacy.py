"""Ids never leave a run in the clear: pseudonyms for reports and for error messages.

Pseudonyms are stable within one Python process (one report), so rows can be
cross-referenced inside a report, but use a random salt per process, so they cannot be
reversed by hashing guessed ids.

Showing raw ids is one process-wide switch, :func:`show_ids`: the environment variable
``JOURNEYLIB_SHOW_IDS=1``. The report runner sets it in a kernel's environment when the
notebook runs with ``show_ids=True``; :func:`set_show_ids` sets it for this process (a
notebook run by hand). Every message quoting offending rows goes through
:func:`scrub_examples` (:func:`journeylib.core.errors.data_error` does it for you).
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import secrets
from typing import Iterable

import pandas as pd

ENV_VAR = "JOURNEYLIB_SHOW_IDS"
PERSONAL_COLUMNS: tuple[str, ...] = ("customer_id", "email", "name", "phone", "address", "ip")
PSEUDONYMISED_NOTE = "(ids pseudonymised; run with show_ids to see them)"

_SALT = secrets.token_bytes(16)
_ID_COLUMNS: set[str] = set()  # source names mapped onto customer_id (see register_id_column)
# a source's own name for the id: user, user_id, client_ref, buyer email, account no, ...
_WHO_WORDS = {"user", "customer", "client", "buyer", "shopper", "member", "account", "person", "visitor", "anonymous"}
_KEY_WORDS = {"id", "ref", "reference", "key", "code", "number", "no", "uuid", "email", "name"}
_CONTACT_WORDS = {"email", "mail", "phone", "mobile", "userid", "customerid", "clientid", "anonymousid",
                  "ip", "address"}


def pseudonym(value: object) -> str:
    """Stable (per process), irreversible short pseudonym of one id.

    Parameters
    ----------
    value
        The id (any type; converted with ``str``).

    Returns
    -------
    str
        ``"cust-"`` and 10 hex digits of a salted SHA-256; ``""`` for a missing id.

    Examples
    --------
    >>> from journeylib.core.privacy import pseudonym
    >>> p = pseudonym("u1")
    >>> p.startswith("cust-"), len(p), p == pseudonym("u1"), pseudonym(None)
    (True, 15, True, '')
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return "cust-" + hashlib.sha256(_SALT + str(value).encode()).hexdigest()[:10]


def show_ids() -> bool:
    """True when raw ids may be shown (``JOURNEYLIB_SHOW_IDS=1``, see :func:`set_show_ids`).

    Returns
    -------
    bool
        Whether the environment variable is ``1``, ``true`` or ``yes``.

    Examples
    --------
    >>> from journeylib.core.privacy import show_ids
    >>> show_ids()  # the default: pseudonyms
    False
    """
    return os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def set_show_ids(value: bool) -> None:
    """Show raw ids in this process (and the kernels it starts) or not.

    Parameters
    ----------
    value
        ``True`` to show raw ids, ``False`` for pseudonyms.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        When ``value`` is not a bool.

    Examples
    --------
    >>> from journeylib.core.privacy import scrub_value, set_show_ids
    >>> set_show_ids(True)
    >>> scrub_value("u1")
    'u1'
    >>> set_show_ids(False)
    >>> scrub_value("u1").startswith("cust-")
    True
    """
    if not isinstance(value, bool):
        raise TypeError(f"show_ids={value!r}; expected True or False")
    if value:
        os.environ[ENV_VAR] = "1"
    else:
        os.environ.pop(ENV_VAR, None)


def register_id_column(name: str) -> None:
    """Treat ``name`` (a source's column mapped onto ``customer_id``) as personal in messages.

    Parameters
    ----------
    name
        The source's column name (case does not matter).

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core.privacy import is_personal_column, register_id_column
    >>> is_personal_column("shopper_tag")
    False
    >>> register_id_column("shopper_tag")
    >>> is_personal_column("shopper_tag")
    True
    """
    _ID_COLUMNS.add(str(name).lower())


def is_personal_column(name: object, extra: Iterable[str] = ()) -> bool:
    """A column holding ids or contact details: ``customer_id``, email, phone, name, address, ip,
    a registered or given id column, or a source name made of id words (``user_id``, ``Client Email``).

    Parameters
    ----------
    name
        The column name.
    extra
        More column names to treat as personal.

    Returns
    -------
    bool
        Whether values of the column must be pseudonymised in messages.

    Examples
    --------
    >>> from journeylib.core.privacy import is_personal_column
    >>> [is_personal_column(c) for c in ("customer_id", "Client Email", "userId", "channel")]
    [True, True, True, False]
    """
    low = str(name).strip().lower()
    if low in PERSONAL_COLUMNS or low in _ID_COLUMNS or low in {str(e).lower() for e in extra}:
        return True
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name)).lower())) - {""}
    if words & _CONTACT_WORDS or low in ("id", "ipaddress"):
        return True
    return bool(words & _WHO_WORDS) and (len(words) == 1 or bool(words & _KEY_WORDS))


def scrub_examples(examples: pd.DataFrame, *, id_columns: Iterable[str] = (),
                   keep: Iterable[str] = ()) -> tuple[pd.DataFrame, bool]:
    """``examples`` with every personal column's values replaced by pseudonyms, unless :func:`show_ids`.

    Returns the (copied) frame and whether anything was pseudonymised (so a message can say so).
    Unlike :func:`journeylib.report.privacy.pseudonymize`, no column is dropped: the row
    still shows which value is wrong. Columns in ``keep`` are left as they are.

    Parameters
    ----------
    examples
        Offending rows to quote in a message.
    id_columns
        More columns to treat as personal.
    keep
        Columns never pseudonymised.

    Returns
    -------
    tuple
        ``(frame, changed)``: the scrubbed copy and whether any value was replaced.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.privacy import scrub_examples
    >>> rows = pd.DataFrame({"user_id": ["u1"], "revenue": [-5.0]})
    >>> out, changed = scrub_examples(rows)
    >>> out["user_id"].iloc[0].startswith("cust-"), out["revenue"].tolist(), changed
    (True, [-5.0], True)
    """
    if show_ids():
        return examples, False
    extra, kept = tuple(id_columns), set(keep)
    out, changed = examples.copy(), False
    for col in out.columns:
        if col not in kept and is_personal_column(col, extra):
            out[col] = out[col].map(pseudonym).astype(object)
            changed = True
    if out.index.name is not None and is_personal_column(out.index.name, extra):
        out.index = out.index.map(pseudonym)
        changed = True
    return out, changed


def scrub_value(value: object) -> str:
    """One id for a message: its pseudonym unless :func:`show_ids`.

    Parameters
    ----------
    value
        The id.

    Returns
    -------
    str
        The pseudonym (or the id itself when ids may be shown).

    Examples
    --------
    >>> from journeylib.core.privacy import pseudonym, scrub_value
    >>> scrub_value("u1") == pseudonym("u1")
    True
    """
    return str(value) if show_ids() else pseudonym(value)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses replaced by pseudonyms, unless :func:`show_ids`.

    For messages journeylib did not write (a library's exception quoting a value), where the
    columns are unknown: addresses are the ids that can be recognised in free text.

    Parameters
    ----------
    text
        Free text, e.g. an exception message.

    Returns
    -------
    str
        The text with addresses pseudonymised.

    Examples
    --------
    >>> from journeylib.core.privacy import scrub_text
    >>> scrub_text("bounced: ann@example.com").startswith("bounced: cust-")
    True
    """
    return text if show_ids() else _EMAIL.sub(lambda m: pseudonym(m.group(0)), text)


PERSONAL_WORDS = {"surname", "vorname", "nachname", "prenom", "street", "strasse", "zip", "postcode", "postal",
                  "plz", "birthday", "birthdate", "dob", "geburtsdatum"}
"""Words of a column name that holds personal details besides ids and contact details."""
_CONSENT_WORDS = {"accepts", "consent", "marketing", "subscribed", "optin", "opted"}


def is_personal_detail(name: object) -> bool:
    """A customers column whose values identify a person: an id or contact detail
    (:func:`is_personal_column`), a name, an address or a birthday; never a segment, whose values
    every report shows. A yes/no column about a contact channel (``Accepts Email Marketing``) is not.

    Parameters
    ----------
    name
        The column name.

    Returns
    -------
    bool
        Whether the column must not split a report.

    Examples
    --------
    >>> from journeylib.core.privacy import is_personal_detail
    >>> [is_personal_detail(c) for c in ("First Name", "Email", "Default Address Zip", "Accepts Email Marketing",
    ...                                  "Country")]
    [True, True, True, False, False]
    """
    plain = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()  # prénom -> prenom
    w = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", plain).lower())) - {""}
    if w & _CONSENT_WORDS:
        return False
    return (is_personal_column(name) or bool(w & PERSONAL_WORDS)
            or "name" in w and bool(w & {"first", "last", "full", "given", "family", "middle"}))


_PHONE = re.compile(r"^\s*\+\d[\d\s().-]{6,}\d\s*$")


def personal_values(values: Iterable[object]) -> str | None:
    """What kind of personal detail a column's values are, whatever the column is called: ``"email
    addresses"`` or ``"phone numbers"`` (international, ``+49 30 1234567``) when any value is one, else ``None``.

    Parameters
    ----------
    values
        Some of the column's values (its distinct values, say).

    Returns
    -------
    str or None
        The kind, for a message; ``None`` when no value looks like a contact detail.

    Examples
    --------
    >>> from journeylib.core.privacy import personal_values
    >>> personal_values(["gold", "ann.lee@corp.example"]), personal_values(["+49 30 1234567"]), personal_values(["B2B"])
    ('email addresses', 'phone numbers', None)
    """
    text = [str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if any(_EMAIL.search(v) for v in text):
        return "email addresses"
    if any(_PHONE.match(v) for v in text):
        return "phone numbers"
    return None
