"""Tables for notebooks and HTML reports: formatted, and safe for strings from data."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Mapping

import pandas as pd

from .errors import JourneyParameterError


def styled(df: pd.DataFrame, formats: Mapping[str, Any] | None = None, *, caption: str | None = None,
           na_rep: str = "–", index: bool = False):
    """A pandas ``Styler`` with number formats, HTML-escaped cells and headers.

    Parameters
    ----------
    df
        Table to show (not modified).
    formats
        ``{column: format string or callable}``, e.g. ``{"share": "{:.1%}"}``.
    caption
        Optional caption (a sentence with units helps the reader).
    na_rep
        Text shown for missing values.
    index
        Show the index (hidden by default: tidy tables carry their keys as columns).

    Returns
    -------
    pandas.io.formats.style.Styler
        The styled table; a notebook shows it, ``.to_html()`` gives the markup.

    Notes
    -----
    ``Styler`` does not escape HTML by default, so a channel named
    ``<script>...</script>`` would run in the report; every journeylib table goes through here.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.display import styled
    >>> df = pd.DataFrame({"channel": ["<b>email</b>", "search"], "share": [0.31, 0.69]})
    >>> html = styled(df, {"share": "{:.1%}"}).to_html()
    >>> "&lt;b&gt;email" in html, "31.0%" in html
    (True, True)
    """
    if not isinstance(df, pd.DataFrame):
        raise JourneyParameterError(f"styled: expected a pandas DataFrame, got a {type(df).__name__}; "
                                    "a result object's table is its .summary")
    sty = df.style.format({c: _plain(f) for c, f in dict(formats or {}).items()}, escape="html", na_rep=na_rep)
    short = [c for c in df.columns if df[c].astype(str).str.len().max() <= _NOWRAP_CHARS] if len(df) else []
    if short:  # "2024-01" or "+4.8% (-8.8% to +18.4%)" read badly broken over two lines
        sty = sty.set_properties(subset=short, **{"white-space": "nowrap"})
    sty = sty.format_index(escape="html", axis=1)
    if index:
        sty = sty.format_index(escape="html", axis=0)
    else:
        sty = sty.hide(axis="index")
    if caption:
        import html

        sty = sty.set_caption(html.escape(caption))
    return sty


_NOWRAP_CHARS = 40


def _plain(spec):
    """A cell format that never shows scientific notation, ``inf`` or ``nan`` (``"{:.3g}"`` of
    4.6e-05 becomes ``"0.0000460"``, an infinite value ``"–"``)."""
    def fmt(v):
        text = spec.format(v) if isinstance(spec, str) else spec(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and _SCIENTIFIC.search(str(text)):
            return format_number(v)
        return unsigned_zero(text) if isinstance(text, str) else text

    return fmt


def unsigned_zero(text: str) -> str:
    """A formatted number that rounds to zero, without its minus sign (-0.0004 as ``"-0.0%"``).

    Parameters
    ----------
    text
        The formatted value, e.g. ``"-0.00"``, ``"-0.0%"``, ``"-0.0 pts"``.

    Returns
    -------
    str
        ``text`` without the sign when it shows a zero, else ``text``.

    Examples
    --------
    >>> from journeylib.core.display import unsigned_zero
    >>> unsigned_zero("-0.00"), unsigned_zero("-0.0 pts"), unsigned_zero("-0.01"), unsigned_zero("+0.0%")
    ('0.00', '0.0 pts', '-0.01', '+0.0%')
    """
    return text[1:] if _NEGATIVE_ZERO.fullmatch(text) else text
_SCIENTIFIC = re.compile(r"\d[eE][-+]?\d|inf|nan", re.I)
_NEGATIVE_ZERO = re.compile(r"-0(?:[.,]0*)?(?:%| ?[a-z]+)?")


_HEADER_WORDS = {"ci_low": "low", "ci_high": "high", "pvalue": "p-value", "p_holm": "p-value (Holm)",
                 "p_bh": "p-value (BH)", "pvalue_holm": "p-value (Holm)", "rel_pvalue": "p-value",
                 "rel_lift": "relative lift", "srm_passed": "split as planned"}


def header_words(column: object) -> object:
    """A column name as a reader reads it: ``ci_low`` -> ``low``, ``pvalue_holm`` ->
    ``p-value (Holm)``, ``n_members`` -> ``members``, other underscores -> spaces.

    Parameters
    ----------
    column
        A column label; labels that are not text are returned as they are.

    Returns
    -------
    object
        The label in words.

    Examples
    --------
    >>> [header_words(c) for c in ["ci_low", "pvalue_holm", "n_members", "median_days", 3]]
    ['low', 'p-value (Holm)', 'members', 'median days', 3]
    """
    if not isinstance(column, str):
        return column
    if column in _HEADER_WORDS:
        return _HEADER_WORDS[column]
    words = re.sub(r"^n_(?=[a-z])", "", column)
    words = re.sub(r"_ci_low$", ", low", re.sub(r"_ci_high$", ", high", words))
    words = re.sub(r"\bpvalue\b", "p-value", words)
    return words.replace("_", " ")


def html_table(df: pd.DataFrame, float_format: str | Callable[[float], str] | None = None, *,
               formats: Mapping[str, str] | None = None, index: bool = False, na_rep: str = "–") -> str:
    """``df`` as escaped HTML for a result's ``_repr_html_``.

    Integer columns get thousands separators, other floats ``float_format`` (a format
    string like ``"{:.3f}"`` or a callable; ``None``: pandas' display precision), and
    ``formats`` sets single columns (``{"share": "{:.1%}"}``). Missing values show as
    ``na_rep``. Cells up to 40 characters do not wrap (a wide table scrolls instead).

    Parameters
    ----------
    df
        Table to show (not modified).
    float_format
        Format of float cells: a format string or a callable.
    formats
        ``{column: format string}`` for single columns.
    index
        Include the index.
    na_rep
        Text shown for missing values.

    Returns
    -------
    str
        An HTML ``<div>`` holding the table; every string from data is escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.display import html_table
    >>> df = pd.DataFrame({"channel": ["<b>email</b>"], "users": [1234]})
    >>> html = html_table(df)
    >>> "&lt;b&gt;email&lt;/b&gt;" in html, "1,234" in html
    (True, True)
    """
    def fmt(spec):
        return lambda v: na_rep if pd.isna(v) else spec.format(v)

    cols = {c: fmt("{:,}") for c in df.columns
            if pd.api.types.is_integer_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])}
    cols.update({c: fmt(spec) for c, spec in (formats or {}).items() if c in df.columns})
    cols.update({c: (lambda v: na_rep if pd.isna(v) else ("yes" if v else "no")) for c in df.columns
                 if pd.api.types.is_bool_dtype(df[c]) and c not in cols})
    shown = df.copy()
    if not index:  # a columns name (a pivot's) would head a column of its own, shifting the others
        shown.columns.name = None
    for c, f in cols.items():  # formatted here: to_html skips formatters for pandas' NA
        shown[c] = [f(v) for v in df[c]]
    base = float_format.format if isinstance(float_format, str) else float_format

    def floats(v):  # never scientific notation, inf or nan in a report ("{:.3g}" gives 2.31e-10)
        text = base(v) if base is not None else f"{v:.6g}"
        return format_number(v) if _SCIENTIFIC.search(text) or not math.isfinite(v) else text

    if not isinstance(shown.columns, pd.MultiIndex):
        shown.columns = [header_words(c) for c in shown.columns]
    body = shown.to_html(index=index, escape=True, float_format=floats, na_rep=na_rep)
    # Headers, numbers and labels stay on one line (a squeezed table breaks "2024-01" at
    # the hyphen); only long text wraps.
    body = re.sub(r"<(td|th)>(.{0,%d}?)</\1>" % _NOWRAP_CHARS, r'<\1 style="white-space: nowrap">\2</\1>', body)
    return f'<div style="overflow-x: auto">{body}</div>'


# Every ASCII punctuation character may be backslash-escaped in CommonMark; '<', '>' and
# '&' are left to the HTML escaping in :func:`markdown` (a backslash before them would
# show up as a literal "&lt;").
_MD_SPECIAL = re.compile(r"([!-%'-/:;=?@\[-`{-~])")


def escape_markdown(value: object) -> str:
    r"""A string from data, made inert for a Markdown cell: no link, image, heading, list,
    emphasis, code span, table cell or TeX (``$``) can start inside it.

    Use it on every name from data (event, channel, stage, variant, segment, file name)
    interpolated into Markdown prose; :func:`markdown` then HTML-escapes the whole text.
    Line breaks become spaces, so a name cannot begin a new block, and runs of white space
    become one space with none at either end (leading spaces would start a code block at the
    beginning of a line, and spaces inside ``**...**`` would break the bold around a name).

    Parameters
    ----------
    value
        The name from data (converted with ``str``).

    Returns
    -------
    str
        The text with every Markdown punctuation character backslash-escaped.

    Examples
    --------
    >>> from journeylib.core.display import escape_markdown
    >>> print(escape_markdown("[win](javascript:alert(1))"))
    \[win\]\(javascript\:alert\(1\)\)
    """
    text = re.sub(r"[ \r\n\t\v\f\u2028\u2029]+", " ", str(value)).strip(" ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def markdown(text: str):
    r"""IPython ``Markdown`` for report prose that may contain strings from data.

    The text is HTML-escaped first: Markdown passes raw HTML through, so a segment named
    ``<script>...</script>`` would otherwise run in the report. Markdown syntax
    (``**bold**``, lists, backticks) is unaffected.

    Parameters
    ----------
    text
        Markdown prose; names from data in it should have gone through :func:`escape_markdown`.

    Returns
    -------
    IPython.display.Markdown
        The object a notebook cell displays.

    Examples
    --------
    >>> from journeylib.core.display import escape_markdown, markdown
    >>> markdown(f"**{escape_markdown('<b>email</b>')}** converts best").data
    '**&lt;b&gt;email&lt;\\/b&gt;** converts best'
    """
    import html

    from IPython.display import Markdown

    return Markdown(html.escape(str(text), quote=False))


# --- numbers for people ---------------------------------------------------------------
# One place for how a report writes a number: thousands separators, "p < 0.001", never
# scientific notation, "inf" or "nan" ("–" for a missing or infinite value).

MISSING = "–"


def _finite(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def format_pvalue(p: float | None, prefix: bool = True) -> str:
    """A p-value for people: ``"p < 0.001"``, ``"p = 0.032"``, ``"p = 0.48"`` (``"p = –"`` when missing);
    ``prefix=False`` for a table cell: ``"< 0.001"``, ``"0.032"``.

    Parameters
    ----------
    p
        The p-value (``None`` or ``nan`` when missing).
    prefix
        Start with ``"p = "`` / ``"p "`` (prose) or not (a table cell).

    Returns
    -------
    str
        Three decimals below 0.1, two above, ``"< 0.001"`` below 0.001.

    Examples
    --------
    >>> from journeylib.core.display import format_pvalue
    >>> format_pvalue(0.0004), format_pvalue(0.0321), format_pvalue(0.48, prefix=False)
    ('p < 0.001', 'p = 0.032', '0.48')
    """
    v = _finite(p)
    head = "p " if prefix else ""
    eq = "= " if prefix else ""
    if v is None:
        return f"{head}{eq}{MISSING}"
    if v < 0.001:
        return f"{head}< 0.001"
    return f"{head}{eq}{v:.3f}" if v < 0.1 else f"{head}{eq}{v:.2f}"


def format_number(x: float | None, digits: int = 3) -> str:
    """A number for a table cell with about ``digits`` significant digits, thousands separators and
    never scientific notation (``1,234``, ``47.96``, ``0.00123``); ``"–"`` when missing or infinite.

    Parameters
    ----------
    x
        The number.
    digits
        Significant digits kept (whole numbers keep all of theirs).

    Returns
    -------
    str
        The formatted number.

    Examples
    --------
    >>> from journeylib.core.display import format_number
    >>> format_number(1234.5), format_number(47.9612), format_number(4.6e-05), format_number(float("inf"))
    ('1,234', '48.0', '0.0000460', '–')
    >>> format_number(-1e-15)
    '0'
    """
    v = _finite(x)
    if v is None:
        return MISSING
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    text = f"{v:,.{min(decimals, 12)}f}"
    return text if text.strip("-0.,") else "0"  # 1e-15 (rounding noise) is 0, not 0.000000000000


def format_percent(x: float | None, digits: int = 1) -> str:
    """A share (0.1234) as a percentage with ``digits`` decimals: ``"12.3%"``; ``"–"`` when missing.

    Parameters
    ----------
    x
        The share, as a fraction.
    digits
        Decimals shown.

    Returns
    -------
    str
        The percentage.

    Examples
    --------
    >>> from journeylib.core.display import format_percent
    >>> format_percent(0.1234), format_percent(0.5, digits=0), format_percent(None)
    ('12.3%', '50%', '–')
    """
    v = _finite(x)
    return MISSING if v is None else f"{v * 100:,.{int(digits)}f}%"


def format_count(n: float | None) -> str:
    """A count with thousands separators: ``"12,345"``; ``"–"`` when missing.

    Parameters
    ----------
    n
        The count (rounded to a whole number).

    Returns
    -------
    str
        The formatted count.

    Examples
    --------
    >>> from journeylib.core.display import format_count
    >>> format_count(12345.0), format_count(float("nan"))
    ('12,345', '–')
    """
    v = _finite(n)
    return MISSING if v is None else f"{round(v):,}"


def format_interval(lo: float | None, hi: float | None, kind: str = "percent", digits: int = 1) -> str:
    """An interval for people: ``"27.0% to 35.0%"`` (``kind="percent"``, shares as fractions) or
    ``"1,234 to 1,560"`` (``kind="number"``); a missing or infinite bound shows as ``"–"``.

    Parameters
    ----------
    lo, hi
        The bounds (``ci_low``, ``ci_high``).
    kind
        ``"percent"`` (bounds are fractions) or ``"number"``.
    digits
        Decimals of a percentage.

    Returns
    -------
    str
        ``"<low> to <high>"``.

    Examples
    --------
    >>> from journeylib.core.display import format_interval
    >>> format_interval(0.27, 0.35), format_interval(1234, 1560, kind="number")
    ('27.0% to 35.0%', '1,234 to 1,560')
    """
    if kind not in ("percent", "number"):
        raise JourneyParameterError(f"kind={kind!r}; expected 'percent' or 'number'")
    if kind == "percent":
        return f"{format_percent(lo, digits)} to {format_percent(hi, digits)}"
    return f"{format_number(lo)} to {format_number(hi)}"


def format_value(x: object) -> str:
    """Any cell for people: a count for whole numbers, :func:`format_number` for other numbers,
    ``"–"`` for missing values, the text itself otherwise.

    Parameters
    ----------
    x
        A cell value of any type.

    Returns
    -------
    str
        The formatted cell.

    Examples
    --------
    >>> from journeylib.core.display import format_value
    >>> format_value(1234.0), format_value(0.01234), format_value(None), format_value("email")
    ('1,234', '0.0123', '–', 'email')
    """
    if x is None or (not isinstance(x, str) and _is_na(x)):
        return MISSING
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iu"):
        return format_count(x)
    if isinstance(x, float) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") == "f"):
        v = float(x)
        return format_count(v) if math.isfinite(v) and v.is_integer() and abs(v) >= 1000 else format_number(v)
    return str(x)


def _is_na(x: object) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as a CSV for a spreadsheet may hold it: a text cell (or column name) that starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so Excel, LibreOffice and
    Google Sheets show it as text instead of running it as a formula (OWASP's advice on CSV injection).
    Numbers are untouched.

    Parameters
    ----------
    table
        A frame about to be written as CSV (not modified).

    Returns
    -------
    pandas.DataFrame
        A copy with such text cells prefixed.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.display import spreadsheet_safe
    >>> spreadsheet_safe(pd.DataFrame({"channel": ["=HYPERLINK(1)", "email"], "lift": [-0.5, 1.0]})).values.tolist()
    [["'=HYPERLINK(1)", -0.5], ['email', 1.0]]
    """
    def safe(v: object) -> object:
        return f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_START) else v

    out = table.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            out[col] = s.astype(object).map(safe)
    out.columns = [safe(c) for c in out.columns]
    return out
