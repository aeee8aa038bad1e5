"""Tables for notebooks and HTML reports: formatted, and safe for strings from data."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd


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

    Notes
    -----
    ``Styler`` does not escape HTML by default, so a channel named
    ``<script>...</script>`` would run in the report; every journeylib table goes through here.
    """
    sty = df.style.format(dict(formats or {}), escape="html", na_rep=na_rep)
    sty = sty.format_index(escape="html", axis=1)
    if index:
        sty = sty.format_index(escape="html", axis=0)
    else:
        sty = sty.hide(axis="index")
    if caption:
        import html

        sty = sty.set_caption(html.escape(caption))
    return sty


def markdown(text: str):
    """IPython ``Markdown`` for report prose that may contain strings from data.

    The text is HTML-escaped first: Markdown passes raw HTML through, so a segment named
    ``<script>...</script>`` would otherwise run in the report. Markdown syntax
    (``**bold**``, lists, backticks) is unaffected.
    """
    import html

    from IPython.display import Markdown

    return Markdown(html.escape(str(text), quote=False))
