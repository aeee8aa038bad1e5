"""HTML of the reports: the executed notebook as a page that decides, and the index.

A report page opens with what a reader needs in two minutes: a heading naming the report,
the data and its period; a findings box (the results' own headline findings, each with its
number, interval and action, linked to the section that shows the evidence); one status
line (checks passed, warnings, failures named); the data caption; a table of contents when
the page is long. The notebook follows; the run's health (versions, hashes, parameters,
inputs, every check) is a collapsed appendix at the end. No absolute path appears anywhere
(:func:`scrub_paths`), and the page carries only the CSS it uses (:func:`prune_css`).

Functions here build strings; :mod:`journeylib.report.runner` writes them (atomically):
:func:`render_notebook` then :func:`report_page` for a report, :func:`page` for a report
that could not start or was cancelled, :func:`index_page` (or :func:`index_from_record`,
from ``run.json``) for the index of a run.
Everything that comes from data or parameters is escaped; pages load nothing from the
network (nbconvert's CDN scripts are dropped, images are embedded).
"""
from __future__ import annotations

import html
import platform
import re
from importlib import metadata
from typing import Any

import nbformat

from ..core.display import format_count, format_number

KEY_LIBRARIES = ("journeylib", "pandas", "numpy", "ibis-framework", "duckdb", "statsmodels", "lifelines",
                 "scipy", "seaborn", "papermill")


def render_notebook(nb, no_input: bool) -> str:
    """The executed notebook as a page: nbconvert's lab HTML, cleaned for a report.

    No code cells when ``no_input``, no prompts, no papermill error cells (the report's banner
    says what failed), no network scripts (require.js, MathJax and the mermaid loader are
    dropped; images are embedded), and alt text on every figure: the titles recorded by
    :func:`journeylib.report.notebook.register_figure_alt_text`, else "Figure".

    Parameters
    ----------
    nb
        The executed notebook (an ``nbformat`` node or its dict).
    no_input
        ``True`` hides the code cells (the default of ``journeylib run``; ``--with-input``
        shows them).

    Returns
    -------
    str
        A whole HTML document; :func:`report_page` adds the report's header and appendix.

    Examples
    --------
    >>> import nbformat
    >>> from journeylib.report.html import render_notebook
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Retention")])
    >>> body = render_notebook(nb, no_input=True)
    >>> body.startswith("<!DOCTYPE html>"), '<h1 id="Retention">' in body, "<script" in body
    (True, True, False)
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = no_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    # papermill's own "An Exception was encountered" cells and injected-parameters
    # cells are shown in our banner and panel instead.
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    body, _ = exporter.from_notebook_node(nb)
    # Reports must render offline: drop the template's CDN scripts (require.js and
    # MathJax, unused here) and its mermaid loader; images are already embedded as data URIs.
    body = _EXTERNAL_SCRIPT.sub("", body)
    body = _MODULE_SCRIPT.sub("", body)
    body = _MATHJAX_CONFIG.sub("", body)
    return _add_alt_text(body, nb)


_MODULE_SCRIPT = re.compile(r"<script type=\"module\">.*?</script>", re.S | re.I)
_MATHJAX_CONFIG = re.compile(r"<script type=\"text/x-mathjax-config\">.*?</script>", re.S | re.I)
_IMG_PNG = re.compile(r"<img(?: alt=\"[^\"]*\")?((?: class=\"[^\"]*\")?) src=\"data:image/png;base64,")


def _add_alt_text(body: str, nb) -> str:
    """``<img alt="...">`` on every embedded PNG: the figure's alt text recorded by
    :func:`journeylib.report.notebook.register_figure_alt_text` (its titles), else "Figure"."""
    alts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = out.get("data", {}) if isinstance(out, dict) or hasattr(out, "get") else {}
            png = data.get("image/png") if data else None
            if not png:
                continue
            md = (out.get("metadata") or {}).get("image/png") or {}
            alt = md.get("alt") if isinstance(md, dict) else None
            if alt:
                alts["".join(png).strip()[:120]] = str(alt)

    def with_alt(m: re.Match) -> str:
        alt = next((a for key, a in alts.items() if body.startswith(key, m.end())), "Figure")
        return f'<img alt="{html.escape(alt, quote=True)}"{m.group(1)} src="data:image/png;base64,'

    return _IMG_PNG.sub(with_alt, body)


def report_title(nb) -> str:
    """The report's title: the notebook's first Markdown ``# `` heading.

    Parameters
    ----------
    nb
        A notebook (an ``nbformat`` node or its dict).

    Returns
    -------
    str
        The heading's text without the ``#``; "" when the notebook has none.

    Examples
    --------
    >>> from journeylib.report.html import report_title
    >>> nb = {"cells": [{"cell_type": "code", "source": "# a comment, not a title"},
    ...                 {"cell_type": "markdown", "source": ["# Retention and survival"]}]}
    >>> report_title(nb)
    'Retention and survival'
    >>> report_title({"cells": []})
    ''
    """
    for cell in nb.get("cells", []) if hasattr(nb, "get") else nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        for line in source.splitlines():
            if line.startswith("# "):
                return line[2:].strip().strip("#").strip()
    return ""


def caption_of(health: dict[str, Any]) -> dict[str, Any] | None:
    """The data caption the notebook recorded: that of the first dataset it recorded.

    Parameters
    ----------
    health
        The run's health record (what the notebook recorded through
        :mod:`journeylib.core.health`: ``captions``, ``findings``, ``checks``, ``inputs``,
        ``sections``).

    Returns
    -------
    dict or None
        The caption as recorded (``name``, ``simulated``, ``period_start``, ``period_end``,
        ``customers``, ``events``: :attr:`journeylib.core.journey.Journey.caption`); ``None``
        when the notebook recorded no data.

    Examples
    --------
    >>> from journeylib.report.html import caption_of
    >>> caption_of({"captions": [{"name": "Shop export", "customers": 1200}, {"name": "costs"}]})
    {'name': 'Shop export', 'customers': 1200}
    >>> caption_of({}) is None
    True
    """
    caps = [c for c in health.get("captions", []) or [] if isinstance(c, dict)]
    return caps[0] if caps else None


def _period_text(caption: dict[str, Any] | None) -> str:
    if not caption or not caption.get("period_start"):
        return ""
    return f"{caption['period_start']} to {caption.get('period_end') or '?'}"


def _data_name(caption: dict[str, Any] | None) -> str:
    """How a report names its data: the source's name, "simulated sample data" for the bundled sample."""
    if not caption:
        return ""
    name = str(caption.get("name") or "").strip()
    if caption.get("simulated"):
        low = name.lower()
        if not name or low == "sample" or ("sample" in low and "simulated" in low):
            return "Simulated sample data"
        return name if "simulated" in low else f"{name} (simulated data)"
    return name or "data"


def _page_title(title: str, caption: dict[str, Any] | None) -> str:
    """``"<title> — <data name>, <period>"`` (parts that are unknown are left out)."""
    data = ", ".join(x for x in (_data_name(caption), _period_text(caption)) if x)
    return f"{title} — {data}" if data else title


def caption_text(caption: dict[str, Any] | None) -> str:
    """The data caption as one line: data name, period, customers and events.

    The bundled sample is called "Simulated sample data", other simulated data keeps its
    name with "(simulated data)"; parts that are unknown are left out.

    Parameters
    ----------
    caption
        A recorded caption (see :func:`caption_of`), or ``None``.

    Returns
    -------
    str
        The caption's line; "" without a caption.

    Examples
    --------
    >>> from journeylib.report.html import caption_text
    >>> caption_text({"name": "sample", "simulated": True, "period_start": "2024-01-01",
    ...               "period_end": "2025-06-30", "customers": 5000, "events": 56460})
    'Simulated sample data · 2024-01-01 to 2025-06-30 · 5,000 customers · 56,460 events'
    >>> caption_text({"name": "Shop export", "customers": 1200})
    'Shop export · 1,200 customers'
    """
    if not caption:
        return ""
    parts = [_data_name(caption), _period_text(caption)]
    for key, word in (("customers", "customers"), ("events", "events")):
        if isinstance(caption.get(key), (int, float)):
            parts.append(f"{format_count(caption[key])} {word}")
    return " · ".join(p for p in parts if p)


MAX_FINDINGS = 5


def headline_findings(health: dict[str, Any], limit: int = MAX_FINDINGS) -> list[dict[str, Any]]:
    """The findings that open the report.

    Those recorded with ``headline=True``, in order; else the first findings recorded.

    Parameters
    ----------
    health
        The run's health record; its ``findings`` are dicts with ``text``, ``action``,
        ``value``, ``ci_low``, ``ci_high``, ``section`` and ``headline``.
    limit
        At most this many findings (default 5).

    Returns
    -------
    list of dict
        The findings to show, as recorded.

    Examples
    --------
    >>> from journeylib.report.html import headline_findings
    >>> found = [{"text": "4.7% of customers buy."},
    ...          {"text": "Email brings 31% of conversions (27% to 35%).", "headline": True}]
    >>> [f["text"] for f in headline_findings({"findings": found})]
    ['Email brings 31% of conversions (27% to 35%).']
    >>> [f["text"] for f in headline_findings({"findings": found[:1]})]
    ['4.7% of customers buy.']
    """
    found = [f for f in health.get("findings", []) or [] if isinstance(f, dict) and f.get("text")]
    heads = [f for f in found if f.get("headline")]
    return (heads or found)[:limit]


_HEADING = re.compile(r"<h([1-3])\b[^>]*\bid=\"([^\"]+)\"[^>]*>(.*?)</h\1>", re.S | re.I)


def headings(body: str) -> list[tuple[int, str, str]]:
    """The page's h1-h3 headings that carry an id: the contents and the evidence links use them.

    nbconvert gives every Markdown heading an id; the ``¶`` anchor link is not part of the text.

    Parameters
    ----------
    body
        A page's HTML (:func:`render_notebook`).

    Returns
    -------
    list of tuple
        ``(level, id, text)`` of each heading, in page order.

    Examples
    --------
    >>> from journeylib.report.html import headings
    >>> headings('<h1 id="Retention">Retention</h1><h2 id="Who-stays">Who stays'
    ...          '<a class="anchor-link" href="#Who-stays">¶</a></h2><h4 id="note">Note</h4>')
    [(1, 'Retention', 'Retention'), (2, 'Who-stays', 'Who stays')]
    """
    out = []
    for level, hid, inner in _HEADING.findall(body):
        inner = re.sub(r"<a class=.anchor-link.*?</a>", "", inner, flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        out.append((int(level), html.unescape(hid), text))
    return out


def _norm(text: str) -> str:
    text = re.sub(r"^\s*\d+[.)]\s*", "", str(text).lower())
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _section_anchor(section: str, heads: list[tuple[int, str, str]], nb=None) -> str | None:
    """The id of the heading that shows ``section``'s evidence.

    A heading with the section's title (ignoring case, numbering and punctuation), else one
    that contains it (or is contained in it), else the heading above the cell that opens
    ``with jl.section("<section>")`` in the notebook."""
    if not section:
        return None
    want = _norm(section)
    if not want:
        return None
    for _, hid, text in heads:
        if _norm(text) == want:
            return hid
    for _, hid, text in heads:
        n = _norm(text)
        if n and (want in n or n in want) and min(len(n), len(want)) >= 4:
            return hid
    if nb is None:
        return None
    last_heading = None
    quoted = (f'section("{section}"', f"section('{section}'")
    for cell in nb.get("cells", []) if hasattr(nb, "get") else nb.cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "markdown":
            for line in source.splitlines():
                m = re.match(r"^#{1,3}\s+(.*)", line)
                if m:
                    last_heading = m.group(1).strip()
        elif any(q in source for q in quoted) and last_heading:
            n = _norm(last_heading)
            return next((hid for _, hid, text in heads if _norm(text) == n), None)
    return None


def _findings_box(found: list[dict[str, Any]], heads: list[tuple[int, str, str]], nb=None) -> str:
    """The findings box: one sentence per finding (its number and interval are in the text),
    its action, and a link to the section that shows the evidence."""
    esc = html.escape
    if not found:
        return ("<section class='jl-findings' id='jl-findings'><h2>Findings</h2>"
                "<p>This report recorded no findings.</p></section>")
    items = []
    for f in found:
        text = esc(str(f.get("text", "")).strip())
        action = str(f.get("action") or "").strip()
        anchor = _section_anchor(str(f.get("section") or ""), heads, nb)
        link = (f" <a class='jl-evidence' href='#{esc(anchor, quote=True)}'>Evidence: "
                f"{esc(str(f.get('section')))}</a>") if anchor else ""
        items.append(f"<li>{text}{' <strong>' + esc(action) + '</strong>' if action else ''}{link}</li>")
    return (f"<section class='jl-findings' id='jl-findings'><h2>Findings</h2><ol>{''.join(items)}</ol>"
            "</section>")


def _status_line(health: dict[str, Any], error: str | None) -> str:
    """One line: checks passed / warnings / failed with the failed checks named, or the
    sections of a partial report, or that the report failed."""
    esc = html.escape
    checks = health.get("checks", []) or []
    statuses = [_check_status(c) for c in checks]
    n_fail, n_warn = statuses.count("fail"), statuses.count("warn")
    n_pass = len(statuses) - n_fail - n_warn
    words = [f"{n_pass} {'check' if n_pass == 1 else 'checks'} passed",
             f"{n_warn} {'warning' if n_warn == 1 else 'warnings'}", f"{n_fail} failed"]
    text = ", ".join(words)
    failed = [c for c, s in zip(checks, statuses) if s == "fail"]
    if failed:
        text += ": " + "; ".join(f"{c.get('name', '')}" + (f": {c['detail']}" if c.get("detail") else "")
                                  for c in failed)
    status, _ = report_status(error, health)
    cls = STATUS_CLASS.get(status, "fail")
    text += "" if text.endswith((".", "!", "?")) else "."
    parts = [f"<span class='jl-status-word {cls}'>{esc(status_label(status))}</span> {esc(text)}"]
    sections = _failed_sections(health)
    if sections:
        parts.append("Not computed: " + esc("; ".join(
            f"{s.get('name', '')}" + (f" ({s['reason']})" if s.get("reason") else "") for s in sections)) + ".")
    return f"<p class='jl-status {cls}'>{' '.join(parts)}</p>"


TOC_MIN_HEIGHT = 2 * 900
"""A table of contents is shown when the page is estimated longer than two screens (pixels)."""


def _estimated_height(body: str) -> int:
    """A rough height of the page in pixels: figures, table rows and lines of text."""
    images = len(re.findall(r"<img\b", body))
    rows = len(re.findall(r"<tr\b", body))
    text = re.sub(r"<style.*?</style>|<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
    lines = len(" ".join(text.split())) // 110
    return images * 420 + rows * 28 + lines * 24


def table_of_contents(heads: list[tuple[int, str, str]], body: str) -> str:
    """Links to the page's h2/h3 headings, when the page is longer than two screens.

    A page with fewer than three such headings, or estimated shorter than two screens
    (figures, table rows and lines of text), gets no contents.

    Parameters
    ----------
    heads
        The page's headings (:func:`headings`).
    body
        The page's HTML, to estimate its height.

    Returns
    -------
    str
        A ``<nav class='jl-toc'>`` block, or "".

    Examples
    --------
    >>> from journeylib.report.html import table_of_contents
    >>> heads = [(2, "funnel", "Funnel"), (2, "paths", "Paths"), (3, "top", "Top <paths>")]
    >>> table_of_contents(heads, "<p>A short page.</p>")
    ''
    >>> print(table_of_contents(heads, "<img src='figure.png'>" * 5))
    <nav class='jl-toc'><strong>Contents</strong><ul><li class='jl-toc-2'><a href='#funnel'>Funnel</a></li><li
    class='jl-toc-2'><a href='#paths'>Paths</a></li><li
    class='jl-toc-3'><a href='#top'>Top &lt;paths&gt;</a></li></ul></nav>
    """
    esc = html.escape
    entries = [(lvl, hid, text) for lvl, hid, text in heads if lvl in (2, 3) and text]
    if len(entries) < 3 or _estimated_height(body) < TOC_MIN_HEIGHT:
        return ""
    items = "".join(f"<li class='jl-toc-{lvl}'><a href='#{esc(hid, quote=True)}'>{esc(text)}</a></li>"
                    for lvl, hid, text in entries)
    return f"<nav class='jl-toc'><strong>Contents</strong><ul>{items}</ul></nav>"


def _parameter_label(name: str, declared: dict[str, Any] | None) -> str:
    """A parameter as words: the first clause of its help comment, else its name in words."""
    help_text = str(((declared or {}).get(name) or {}).get("help") or "").strip()
    words = re.split(r"[;(]", help_text)[0].strip().rstrip(":,. ") if help_text else ""
    words = words or name.replace("_", " ")
    return words[:1].upper() + words[1:]


def _parameter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) if value else "(none)"
    if isinstance(value, float):  # as given: 0.05, not 0.0500000
        return format_number(value, 6).rstrip("0").rstrip(".") if value != int(value) else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return str(value) if value != "" else "(empty)"


def health_panel(stem, started, seconds, params, health, error, *, declared: dict[str, Any] | None = None) -> str:
    """The report's appendix: run time, versions, parameters, inputs, every check.

    Collapsed (``<details>``) at the end of the page. Parameters are shown in words (the first
    clause of their help comment, else the name) with their value, "(set for this run)" on
    those given; the sections not computed come first.

    Parameters
    ----------
    stem
        The notebook's name without ``.ipynb``.
    started
        UTC start of the run (a ``datetime``).
    seconds
        Run time in seconds.
    params
        The parameters given for this run.
    health
        The run's health record (``checks``, ``inputs``, ``sections``).
    error
        The error that stopped the report, or ``None``.
    declared
        The notebook's declared parameters
        (:func:`journeylib.report.runner.notebook_parameters`); ``None`` lists the given
        parameters by name.

    Returns
    -------
    str
        The ``<details class="jl-health jl-appendix">`` block.

    Examples
    --------
    >>> import re
    >>> from datetime import datetime
    >>> from journeylib.report.html import health_panel
    >>> health = {"checks": [{"name": "enough data", "status": "pass"},
    ...                      {"name": "sample ratio", "status": "fail", "detail": "p < 0.001"}]}
    >>> declared = {"churn_after": {"default": 90, "help": "days without a purchase that count as churn"}}
    >>> panel = health_panel("02_retention_survival", datetime(2025, 7, 1, 6, 0), 12.3, {"churn_after": 60},
    ...                      health, None, declared=declared)
    >>> "Run 2025-07-01 06:00:00 UTC, 12.3 s." in panel
    True
    >>> re.findall(r"<tr><td>.*?</tr>", panel)
    ['<tr><td>Days without a purchase that count as churn</td><td>60 (set for this run)</td></tr>']
    >>> re.findall(r"<li class='fail'>.*?</li>", panel)
    ["<li class='fail'>FAIL: sample ratio — p &lt; 0.001</li>"]
    """
    esc = html.escape
    given = dict(params or {})
    names = list(declared or {}) + [k for k in given if k not in (declared or {})]
    rows = []
    for k in names:
        value = given[k] if k in given else (declared or {}).get(k, {}).get("default")
        note = " (set for this run)" if k in given and declared else ""
        rows.append(f"<tr><td>{esc(_parameter_label(str(k), declared))}</td>"
                    f"<td>{esc(_parameter_value(value))}{esc(note)}</td></tr>")
    params_html = f"<table>{''.join(rows)}</table>" if rows else "<p>defaults of the notebook</p>"
    inputs = health.get("inputs", [])
    inputs_html = "".join(
        f"<tr><td>{esc(str(i['table']))}</td><td>{esc(str(i['source']))}</td><td>{int(i['rows']):,}</td>"
        f"<td><code>{esc(str(i['sha256']))}</code></td><td>{esc(_validation_note(i))}</td></tr>" for i in inputs)
    checks = health.get("checks", [])
    statuses = [_check_status(c) for c in checks]
    checks_html = "".join(
        f"<li class='{s}'>{s.upper()}: "
        f"{esc(c['name'])}{' — ' + esc(c['detail']) if c.get('detail') else ''}</li>" for c, s in zip(checks, statuses))
    versions = ", ".join(f"{esc(n)} {esc(_version(n))}" for n in KEY_LIBRARIES)
    n_fail, n_warn = statuses.count("fail"), statuses.count("warn")
    status, _ = report_status(error, health)
    sections = _failed_sections(health)
    sections_html = ("<details open><summary>Sections not computed</summary><ul>"
                     + "".join(f"<li>{esc(str(s.get('name', '')))}: {esc(str(s.get('reason', '')))}</li>"
                               for s in sections) + "</ul></details>") if sections else ""
    return f"""
<details class="jl-health jl-appendix" id="jl-appendix">
<summary class="jl-title">Report health: {esc(stem)} ({esc(status)}) — run, versions, parameters, inputs, checks</summary>
<p>Run {started:%Y-%m-%d %H:%M:%S} UTC, {seconds:.1f} s. Python {esc(platform.python_version())}; {versions}.</p>
{sections_html}
<details open><summary>Parameters</summary>{params_html}</details>
<details open><summary>Inputs</summary><table><tr><th>table</th><th>source</th><th>rows</th><th>sha256 (16)</th><th>validation</th></tr>{inputs_html}</table></details>
<details open><summary>Checks ({len(checks) - n_fail - n_warn} passed, {n_warn} warnings, {n_fail} failed)</summary><ul>{checks_html or '<li>none raised</li>'}</ul></details>
</details>"""


def report_page(body: str, nb, *, stem: str, started, seconds: float, params: dict[str, Any],
                health: dict[str, Any], error: str | None, declared: dict[str, Any] | None = None,
                bases: tuple[str, ...] = ()) -> str:
    """The report page: the notebook under a header that decides, with the health appendix.

    The header has the heading (the report's title, its data and period), the findings box
    (each headline finding with its action and a link to the section that shows the
    evidence), the status line (checks passed, warnings, failures named), the data caption
    and, on a long page, the contents. The page carries only the CSS it uses
    (:func:`prune_css`) and no absolute path (:func:`scrub_paths`).

    Parameters
    ----------
    body
        The notebook's HTML (:func:`render_notebook`).
    nb
        The executed notebook (its title and ``jl.section`` cells).
    stem
        The notebook's name without ``.ipynb`` (the title when the notebook has none).
    started
        UTC start of the run (a ``datetime``).
    seconds
        Run time in seconds.
    params
        The parameters given for this run.
    health
        The run's health record (captions, findings, checks, inputs, sections).
    error
        The error that stopped the report (it gets the failure banner), or ``None``.
    declared
        The notebook's declared parameters, for the appendix (see :func:`health_panel`).
    bases
        Folders whose paths are shown relative to them (the journey's, the output folder).

    Returns
    -------
    str
        The page's HTML.

    Examples
    --------
    >>> import re
    >>> from datetime import datetime
    >>> from journeylib.report.html import report_page
    >>> nb = {"cells": [{"cell_type": "markdown", "source": "# A/B test"}]}
    >>> body = ('<html><head><title>Notebook</title></head><body><h1 id="A/B-test">A/B test</h1>'
    ...         '<h2 id="Readout">Readout</h2><p>Read from /home/ann/shop/events.csv</p></body></html>')
    >>> health = {"captions": [{"name": "sample", "simulated": True, "period_start": "2024-01-01",
    ...                         "period_end": "2025-06-30"}],
    ...           "findings": [{"text": "Variant B converts 12% better (4% to 20%).",
    ...                         "action": "Roll out B.", "section": "Readout"}],
    ...           "checks": [{"name": "sample ratio", "status": "pass"}]}
    >>> out = report_page(body, nb, stem="03_ab_test", started=datetime(2025, 7, 1, 6, 0), seconds=12.3,
    ...                   params={}, health=health, error=None)
    >>> re.search(r"<title>(.*?)</title>", out).group(1)
    'A/B test — Simulated sample data, 2024-01-01 to 2025-06-30'
    >>> print(re.search(r"<ol>(.*?)</ol>", out).group(1))
    <li>Variant B converts 12% better (4% to 20%). <strong>Roll out B.</strong>
    <a class='jl-evidence' href='#Readout'>Evidence: Readout</a></li>
    >>> "1 check passed, 0 warnings, 0 failed." in out
    True
    >>> "Read from events.csv" in out, "/home/ann" in out
    (True, False)
    """
    esc = html.escape
    title = report_title(nb) or stem
    caption = caption_of(health)
    full_title = _page_title(title, caption)
    body = _drop_first_h1(body, title)
    heads = headings(body)
    top = [banner(error) if error else "",
           f"<h1 class='jl-h1' id='jl-top'>{esc(full_title)}</h1>",
           _findings_box(headline_findings(health), heads, nb),
           _status_line(health, error)]
    if caption:
        top.append(f"<p class='jl-caption'>{esc(caption_text(caption))}</p>")
    top.append(table_of_contents(heads, body))
    header = f"<header class='jl-head'>{''.join(top)}</header>"
    appendix = health_panel(stem, started, seconds, params, health, error, declared=declared)
    page_html = _inject(body, header, appendix)
    page_html = _TITLE.sub(f"<title>{esc(full_title)}</title>", page_html, count=1)
    return prune_css(scrub_paths(page_html, bases))


_TITLE = re.compile(r"<title>.*?</title>", re.S)


def _drop_first_h1(body: str, title: str) -> str:
    """The notebook's own ``# Title`` heading (the page's heading says it, with the data)."""
    m = re.search(r"<h1\b[^>]*>(.*?)</h1>", body, re.S)
    if m and _norm(re.sub(r"<[^>]+>", "", m.group(1)).replace("¶", "")) == _norm(title):
        return body[:m.start()] + body[m.end():]
    return body


# --- no absolute paths -----------------------------------------------------------------------

_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
_ROOTS = ("work", "home", "tmp", "root", "Users", "var", "opt", "usr", "private", "mnt", "srv", "data",
          "scratch", "nfs", "Volumes", "media", "run", "etc", "proc", "lib", "lib64", "bin", "sbin", "app",
          "builds", "workspace", "github", "runner", "usr")
_POSIX_PATH = re.compile(r"(?<![\w.:/~-])/(?:%s)(?:/[^\s\"'<>()\[\],;:|*?]+)+/?" % "|".join(sorted(set(_ROOTS))))
_HOME_PATH = re.compile(r"(?<![\w/])~/(?:[^\s\"'<>()\[\],;:|*?]+/?)+")
_WIN_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\(?:[^\s\"'<>()\[\],;|*?\\]+\\?)+")


def scrub_paths(text: str, bases: tuple[str, ...] = ()) -> str:
    """``text`` with no absolute path in it.

    A path under one of ``bases`` (the journey's folder, the output folder, ...) is shown
    relative to it, any other absolute path (POSIX, ``~/...`` or Windows) by its last part.
    Embedded images (data URIs) are left alone.

    Parameters
    ----------
    text
        A page, an error message, any text a report shows.
    bases
        Absolute folders whose paths are shown relative to them.

    Returns
    -------
    str
        The text with its paths shortened.

    Examples
    --------
    >>> from journeylib.report.html import scrub_paths
    >>> scrub_paths("Read /home/ann/shop/events.csv; wrote /srv/reports/run-1/01.html",
    ...             bases=("/srv/reports",))
    'Read events.csv; wrote run-1/01.html'
    """
    pieces = []
    last = 0
    for m in _DATA_URI.finditer(text):
        pieces.append((False, text[last:m.start()]))
        pieces.append((True, m.group(0)))
        last = m.end()
    pieces.append((False, text[last:]))
    # Only absolute folders: a relative one ("reports") would also match that word in prose.
    clean_bases = sorted({str(b).rstrip("/\\") for b in bases
                          if b and len(str(b).rstrip("/\\")) > 1 and _is_absolute(str(b))}, key=len, reverse=True)

    def fix(chunk: str) -> str:
        for b in clean_bases:
            chunk = chunk.replace(b + "/", "").replace(b + "\\", "").replace(html.escape(b) + "/", "")
            chunk = re.sub(re.escape(b) + r"(?![\w.-])", ".", chunk)
        chunk = _POSIX_PATH.sub(lambda m: _last_part(m.group(0)), chunk)
        chunk = _HOME_PATH.sub(lambda m: _last_part(m.group(0)), chunk)
        return _WIN_PATH.sub(lambda m: _last_part(m.group(0).replace("\\", "/")), chunk)

    return "".join(p if keep else fix(p) for keep, p in pieces)


def _is_absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", path))


def _last_part(path: str) -> str:
    parts = [p for p in path.rstrip("/").split("/") if p]
    return parts[-1] if parts else ""


# --- CSS: only what the page uses ---------------------------------------------------------------

_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
_CLASS_ATTR = re.compile(r"\bclass\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([\w-]+))", re.I)
_FUNCTIONAL = re.compile(r":(?:not|is|where|has|matches|-webkit-any|-moz-any)\((?:[^()]|\([^()]*\))*\)")


def prune_css(page_html: str) -> str:
    """``page_html`` with the CSS rules it cannot use removed.

    A rule stays when one of its selectors needs only classes the page has (JupyterLab's
    stylesheet is about 260 KB, of which a report uses a small part). Fonts and at-rules
    stay, and so do the CSS variables that a kept rule uses; the look is kept.

    Parameters
    ----------
    page_html
        A whole page with its ``<style>`` blocks.

    Returns
    -------
    str
        The page with smaller ``<style>`` blocks.

    Examples
    --------
    >>> from journeylib.report.html import prune_css
    >>> page = ("<html><head><style>.used{color:red} .unused{color:blue} p{margin:0}</style></head>"
    ...         "<body><p class='used'>x</p></body></html>")
    >>> print(prune_css(page))
    <html><head><style>.used{color:red}
    p{margin:0}</style></head><body><p class='used'>x</p></body></html>
    """
    used = set()
    outside = _STYLE_BLOCK.sub("", page_html)
    for m in _CLASS_ATTR.finditer(outside):
        used.update((m.group(1) or m.group(2) or m.group(3) or "").split())

    def keep_selector(sel: str) -> bool:
        bare = _FUNCTIONAL.sub("", sel)
        return all(c in used for c in re.findall(r"\.(-?[_a-zA-Z][\w-]*)", bare))

    def prune(css: str) -> str:
        out, i, n = [], 0, len(css)
        while i < n:
            j = css.find("{", i)
            if j == -1:
                out.append(css[i:])
                break
            prelude = css[i:j]
            depth, k = 1, j + 1
            while k < n and depth:
                if css[k] == "{":
                    depth += 1
                elif css[k] == "}":
                    depth -= 1
                k += 1
            block = css[j + 1:k - 1]
            head = prelude.strip()
            if ";" in head and head.startswith("@"):  # "@import ...; @media" or "@charset ...;"
                semi = head.rfind(";") + 1
                out.append(head[:semi])
                head = head[semi:].strip()
            if head.startswith(("@media", "@supports", "@layer", "@container")):
                inner = prune(block)
                if inner.strip():
                    out.append(f"{head}{{{inner}}}")
            elif head.startswith("@"):
                out.append(f"{head}{{{block}}}")
            else:
                sels = _split_selectors(head)
                kept = [s for s in sels if keep_selector(s)]
                if kept:
                    out.append(f"{','.join(kept)}{{{block.strip()}}}")
            i = k
        return "\n".join(out)

    def one(m: re.Match) -> str:
        css = re.sub(r"/\*.*?\*/", "", m.group(2), flags=re.S)
        return m.group(1) + prune(css) + m.group(3)

    pruned = _STYLE_BLOCK.sub(one, page_html)
    return _drop_unused_variables(pruned)


_VAR_USE = re.compile(r"var\(\s*(--[\w-]+)")
_DECL_BLOCK = re.compile(r"\{([^{}]*--[\w-]+\s*:[^{}]*)\}")


def _drop_unused_variables(page_html: str) -> str:
    """Remove CSS custom properties (``--jp-icon-...: url(data:...)``) that no kept rule uses."""
    css = "".join(m.group(2) for m in _STYLE_BLOCK.finditer(page_html))
    styles_attr = " ".join(re.findall(r"style\s*=\s*\"([^\"]*)\"", _STYLE_BLOCK.sub("", page_html)))
    decls: dict[str, str] = {}
    for block in _DECL_BLOCK.findall(css):
        for d in _split_declarations(block):
            name, sep, value = d.partition(":")
            if sep and name.strip().startswith("--"):
                decls.setdefault(name.strip(), "")
                decls[name.strip()] += " " + value
    plain = _DECL_BLOCK.sub(lambda m: "{" + ";".join(
        d for d in _split_declarations(m.group(1)) if not d.strip().startswith("--")) + "}", css)
    used = set(_VAR_USE.findall(plain + styles_attr))
    todo = list(used)
    while todo:  # variables defined from other variables
        for ref in _VAR_USE.findall(decls.get(todo.pop(), "")):
            if ref not in used:
                used.add(ref)
                todo.append(ref)

    def clean(block_match: re.Match) -> str:
        kept = [d for d in _split_declarations(block_match.group(1))
                if not d.strip().startswith("--") or d.split(":", 1)[0].strip() in used]
        return "{" + ";".join(kept) + "}"

    def one(m: re.Match) -> str:
        return m.group(1) + _DECL_BLOCK.sub(clean, m.group(2)) + m.group(3)

    return _STYLE_BLOCK.sub(one, page_html)


def _split_declarations(block: str) -> list[str]:
    """``a: 1; b: url(data:x;y)`` -> ``["a: 1", " b: url(data:x;y)"]`` (a ``;`` inside parentheses stays)."""
    out, depth, cur = [], 0, []
    for ch in block:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return [d for d in out if d.strip()]


def _split_selectors(prelude: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in prelude:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [s for s in out if s]


def _failed_sections(health: dict[str, Any]) -> list[dict[str, Any]]:
    """Sections a notebook recorded as failed (``journeylib.report.notebook.section``)."""
    return [s for s in health.get("sections", []) or [] if isinstance(s, dict) and s.get("status") == "failed"]


def report_status(error: str | None, health: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Status of one report and the names behind it.

    ``"failed"`` (an error stopped it), ``"partial"`` (it ran to the end but sections could
    not be computed: their names), ``"ok, with failed checks"`` (the failed checks' names),
    ``"ok, with warnings"`` (the warned checks' names) or ``"ok"``.

    Parameters
    ----------
    error
        The error that stopped the report, or ``None``.
    health
        The run's health record (``checks``, ``sections``).

    Returns
    -------
    tuple
        ``(status, names)``.

    Examples
    --------
    >>> from journeylib.report.html import report_status
    >>> checks = [{"name": "enough data", "status": "pass"}, {"name": "sample ratio", "status": "fail"}]
    >>> report_status(None, {"checks": checks})
    ('ok, with failed checks', ('sample ratio',))
    >>> report_status(None, {"sections": [{"name": "Survival", "status": "failed", "reason": "too few"}]})
    ('partial', ('Survival',))
    >>> report_status("KeyError: 'customer_id'", {"checks": checks})
    ('failed', ())
    """
    if error:
        return "failed", ()
    sections = _failed_sections(health)
    if sections:
        return "partial", tuple(str(s.get("name", "")) for s in sections)
    checks = health.get("checks", []) or []
    failed = tuple(str(c.get("name", "")) for c in checks if _check_status(c) == "fail")
    if failed:
        return "ok, with failed checks", failed
    warned = tuple(str(c.get("name", "")) for c in checks if _check_status(c) == "warn")
    return ("ok, with warnings", warned) if warned else ("ok", ())


STATUS_CLASS = {"ok": "pass", "ok, with warnings": "pass", "ok, with failed checks": "warn", "partial": "warn",
                "failed": "fail", "cancelled": "fail"}
"""CSS class of each status in the index: green, amber (ran, but not all is well) or red."""


def _check_status(check: dict[str, Any]) -> str:
    """``pass``, ``warn`` or ``fail`` of one recorded check (older files only have ``passed``)."""
    status = check.get("status")
    if status in ("pass", "warn", "fail"):
        return status
    return "pass" if check.get("passed") else "fail"


def _validation_note(row: dict[str, Any]) -> str:
    """The validation column of the inputs table: checked now or reused, and what was found."""
    how = {"checked": "checked now", "reused": "identical bytes passed before"}.get(row.get("validation"), "")
    found = []
    if row.get("duplicates_dropped"):
        found.append(f"{int(row['duplicates_dropped']):,} duplicate rows dropped")
    if row.get("future_rows"):
        found.append(f"{int(row['future_rows']):,} rows in the future")
    return "; ".join([how, *found] if how else found)


def banner(error: str) -> str:
    """The failed report's banner.

    Parameters
    ----------
    error
        The error, shown as given (the runner scrubs it first, see
        :func:`journeylib.report.runner.error_text`), escaped.

    Returns
    -------
    str
        A ``<div class='jl-banner'>`` block.

    Examples
    --------
    >>> from journeylib.report.html import banner
    >>> print(banner("JourneyDataError: no <customer_id> column"))
    <div class='jl-banner'><strong>This report failed.</strong> JourneyDataError: no &lt;customer_id&gt;
    column<br>The output below stops at the failing cell; fix the input or parameter and re-run.</div>
    """
    todo = ("give the engine more memory as the message says and re-run" if "JourneyMemoryError: " in error
            else "fix the input or parameter and re-run")  # memory: nothing is wrong with the input
    return (f"<div class='jl-banner'><strong>This report failed.</strong> {html.escape(error)}<br>"
            f"The output below stops at the failing cell; {todo}.</div>")


def cancelled_banner() -> str:
    """The banner of a report whose run was cancelled (SIGTERM or Ctrl-C).

    Returns
    -------
    str
        A ``<div class='jl-banner'>`` block.

    Examples
    --------
    >>> from journeylib.report.html import cancelled_banner
    >>> print(cancelled_banner())
    <div class='jl-banner'><strong>This report was cancelled.</strong> The run was stopped (SIGTERM or
    Ctrl-C) before this notebook finished; run it again for its report.</div>
    """
    return ("<div class='jl-banner'><strong>This report was cancelled.</strong> The run was stopped "
            "(SIGTERM or Ctrl-C) before this notebook finished; run it again for its report.</div>")


_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.IGNORECASE)

_CSS = """<style>
body{max-width:1180px;margin:0 auto}
.jl-head{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 16px 8px}
.jl-h1{font-size:26px;line-height:1.25;margin:8px 0 12px}
.jl-findings{border:1px solid #b6d4fe;background:#f3f8ff;border-radius:6px;padding:8px 16px;margin:0 0 10px}
.jl-findings h2{font-size:17px;margin:4px 0}.jl-findings ol{margin:4px 0 4px 20px;padding:0}
.jl-findings li{margin:4px 0;font-size:15px;line-height:1.45}.jl-evidence{font-size:13px;white-space:nowrap}
.jl-status{margin:6px 0;font-size:14px}.jl-status-word{font-weight:bold;padding:1px 6px;border-radius:4px}
.jl-status-word.pass{background:#dafbe1;color:#1a7f37}.jl-status-word.warn{background:#fff8c5;color:#7d4e00}
.jl-status-word.fail{background:#ffebe9;color:#cf222e}
.jl-caption{margin:4px 0 8px;color:#555;font-size:13px}
.jl-toc{font-size:13px;margin:8px 0;columns:2}.jl-toc ul{margin:2px 0;padding-left:18px}.jl-toc-3{margin-left:14px}
.jl-table-note{font-size:12px;color:#555;margin:2px 0 10px}
.jl-health{font-family:system-ui,sans-serif;border:1px solid #ccc;border-radius:6px;padding:8px 16px;margin:16px;
 background:#fafafa;font-size:13px}
.jl-health table{border-collapse:collapse}.jl-health td,.jl-health th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.jl-health .pass{color:#1a7f37}.jl-health .warn{color:#9a6700;font-weight:bold}.jl-health .fail{color:#cf222e;font-weight:bold}
.jl-title{font-size:16px;margin:4px 0;font-weight:bold;cursor:pointer}
.jl-banner{background:#ffebe9;border:2px solid #cf222e;padding:8px;margin-bottom:8px;color:#82071e}
.jl-partial{background:#fff8c5;border:2px solid #9a6700;padding:8px;margin-bottom:8px;color:#4d2d00}
.jp-OutputArea-output pre{white-space:pre-wrap;word-break:normal;overflow-wrap:break-word}
.jl-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px;margin:12px 0}
.jl-card{border:1px solid #d0d7de;border-left:6px solid #1a7f37;border-radius:6px;padding:10px 14px;background:#fff}
.jl-card.warn{border-left-color:#bf8700}.jl-card.fail{border-left-color:#cf222e}
.jl-card h3{font-size:16px;margin:0 0 4px}.jl-card ul{margin:6px 0 6px 18px;padding:0}.jl-card li{margin:4px 0}
.jl-meta{color:#555;font-size:12px}.jl-prev{color:#555;font-size:12px;display:block}
.jl-change-up{color:#1a7f37}.jl-change-down{color:#cf222e}
</style>"""


def _inject(body: str, header: str, appendix: str = "") -> str:
    """``header`` first in the page's body, ``appendix`` last; the report's CSS in the head."""
    head_end = body.find("</head>")
    if head_end != -1:
        body = body[:head_end] + _CSS + body[head_end:]
    i = body.find("<body")
    if i == -1:
        body = header + body
    else:
        j = body.find(">", i) + 1
        body = body[:j] + header + body[j:]
    k = body.rfind("</body>")
    return body[:k] + appendix + body[k:] if k != -1 else body + appendix


def page(title: str, content: str, extra: str) -> str:
    """A page of its own: the report of a notebook that could not start or was cancelled.

    Parameters
    ----------
    title
        The page's title (the notebook's name).
    content
        HTML to show (a :func:`banner` or :func:`cancelled_banner`).
    extra
        More HTML after it ("" for none).

    Returns
    -------
    str
        A whole page with the report's CSS and no absolute path (:func:`scrub_paths`).

    Examples
    --------
    >>> import re
    >>> from journeylib.report.html import banner, page
    >>> out = page("03_ab_test", banner("Could not start: /home/ann/nb/03_ab_test.ipynb not found"), "")
    >>> re.search(r"<title>(.*?)</title>", out).group(1)
    '03_ab_test'
    >>> "Could not start: 03_ab_test.ipynb not found" in out, "/home/ann" in out
    (True, False)
    """
    return scrub_paths(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
                       f"</title>{_CSS}</head><body><div class='jl-health'>{content}{extra}</div></body></html>")


STATUS_LABELS = {"ok": "OK", "ok, with warnings": "OK, with warnings", "ok, with failed checks": "CHECKS FAILED",
                 "partial": "PARTIAL", "failed": "FAILED", "cancelled": "CANCELLED"}


def status_label(status: str) -> str:
    """The status as a page shows it: a report whose checks failed says so, never just "ok".

    Parameters
    ----------
    status
        A report's status (:func:`report_status`, or ``"cancelled"``).

    Returns
    -------
    str
        Its label.

    Examples
    --------
    >>> from journeylib.report.html import status_label
    >>> status_label("ok"), status_label("ok, with failed checks"), status_label("partial")
    ('OK', 'CHECKS FAILED', 'PARTIAL')
    """
    return STATUS_LABELS.get(status, status.upper())


def finding_key(text: str) -> str:
    """A finding's sentence with its numbers masked: the same headline in another run has the same key.

    Parameters
    ----------
    text
        The finding's sentence.

    Returns
    -------
    str
        The sentence in lower case with each number replaced by ``#``.

    Examples
    --------
    >>> from journeylib.report.html import finding_key
    >>> finding_key("Email brings 31% of conversions (27% to 35%).")
    'email brings # of conversions (# to #).'
    """
    return re.sub(r"[-+−]?\d[\d,.]*%?", "#", str(text)).strip().lower()


def previous_finding(finding: dict[str, Any], position: int, previous: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same headline in the previous run.

    The previous finding of the same section with the same sentence (numbers aside, see
    :func:`finding_key`), else the one at the same place when it is of the same section.

    Parameters
    ----------
    finding
        A headline finding of this run (``text``, ``section``, ``value``).
    position
        Its place among this report's headline findings (0 first).
    previous
        The report's headline findings in the previous run.

    Returns
    -------
    dict or None
        The previous finding; ``None`` when there is none.

    Examples
    --------
    >>> from journeylib.report.html import previous_finding
    >>> before = [{"section": "Funnel", "text": "4.5% of customers buy.", "value": 0.045},
    ...           {"section": "Attribution", "text": "Email brings 29% of conversions (25% to 33%).",
    ...            "value": 0.29}]
    >>> now = {"section": "Attribution", "text": "Email brings 31% of conversions (27% to 35%).", "value": 0.31}
    >>> previous_finding(now, 0, before)["text"]
    'Email brings 29% of conversions (25% to 33%).'
    >>> previous_finding({"section": "Funnel", "text": "Most customers leave at the cart."}, 0, before)["text"]
    '4.5% of customers buy.'
    >>> previous_finding({"section": "Paths", "text": "A new finding."}, 0, before) is None
    True
    """
    key = (str(finding.get("section") or ""), finding_key(finding.get("text", "")))
    for p in previous:
        if (str(p.get("section") or ""), finding_key(p.get("text", ""))) == key:
            return p
    if position < len(previous) and str(previous[position].get("section") or "") == key[0]:
        return previous[position]
    return None


def change_text(now: dict[str, Any], before: dict[str, Any]) -> tuple[str, str]:
    """The change of a finding's number since the previous run, in words, and its direction.

    A share (a percentage in the sentence, values within ±1.5) changes in percentage points,
    any other number by its difference.

    Parameters
    ----------
    now
        The finding in this run (``text``, ``value``).
    before
        The same finding in the previous run (:func:`previous_finding`).

    Returns
    -------
    tuple of str
        ``(change, direction)``: direction ``"up"``, ``"down"`` or ""; ``("", "")`` when
        either run has no number.

    Examples
    --------
    >>> from journeylib.report.html import change_text
    >>> change_text({"text": "Email brings 31% of conversions.", "value": 0.31}, {"value": 0.29})
    ('+2.0 points', 'up')
    >>> change_text({"text": "1,180 orders.", "value": 1180}, {"value": 1200})
    ('−20', 'down')
    >>> change_text({"text": "No number.", "value": None}, {"value": 0.3})
    ('', '')
    """
    a, b = now.get("value"), before.get("value")
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return ("", "")
    delta = float(a) - float(b)
    if delta == 0:
        return ("no change", "")
    share = "%" in str(now.get("text", "")) and abs(a) <= 1.5 and abs(b) <= 1.5
    text = f"{delta * 100:+.1f} points".replace("-", "−") if share else ("+" if delta > 0 else "−") + (
        format_count(abs(delta)) if float(delta).is_integer() else format_number(abs(delta)))
    return (text, "up" if delta > 0 else "down")


INDEX_FINDINGS = 3


def index_page(run_folder: str, results: list, previous: dict[str, dict[str, Any]] | None = None) -> str:
    """The index of one run: a card per report.

    Each card has the report's status (failed checks and sections named), its first three
    headline findings, the data caption, the run time, and each headline as the previous run
    in the same output folder had it, with the change of its number. Above the headlines, one
    line says what changed since the last run: "Since the last run: 1 of 3 headline numbers
    changed: <opening words> +2.0 points", or "no headline number changed" (only headlines with
    the same section and sentence, numbers aside, in both runs count; the same sentence is no
    change).

    Parameters
    ----------
    run_folder
        The run's folder name (its UTC start time).
    results
        The notebooks' outcomes (:class:`journeylib.report.runner.RunResult`, or objects with
        the same attributes).
    previous
        ``{notebook: its entry in the previous run's index.json}``; ``None`` for none.

    Returns
    -------
    str
        The index page's HTML.

    Examples
    --------
    >>> import re
    >>> from pathlib import Path
    >>> from journeylib.report.html import index_page
    >>> from journeylib.report.runner import RunResult
    >>> done = RunResult("01_attribution.ipynb", True, 41.5, Path("01_attribution.html"), Path("01.ipynb"),
    ...                  title="Attribution", findings=({"text": "Email brings 31% of conversions."},))
    >>> broke = RunResult("03_ab_test.ipynb", False, 3.2, Path("03_ab_test.html"), Path("03.ipynb"),
    ...                   error="JourneyDataError: assignments: no 'variant' column")
    >>> out = index_page("2025-07-01T06-00-00Z", [done, broke])
    >>> re.findall(r"<p>(Run .*?)</p>", out)
    ['Run 2025-07-01T06-00-00Z: 1 of 2 ran to the end (failed: 1).']
    >>> re.findall(r"<h3>(.*?)</h3>", out)
    ["<a href='01_attribution.html'>Attribution</a>", "<a href='03_ab_test.html'>03_ab_test.ipynb</a>"]
    """
    esc = html.escape
    previous = previous or {}
    cards = []
    for r in results:
        status = _status(r)
        cls = STATUS_CLASS.get(status, "fail")
        before = [f for f in (previous.get(r.notebook) or {}).get("findings", []) or [] if isinstance(f, dict)]
        items = []
        compared, changed = 0, []  # headlines with the same key (section, sentence) in the last run; changed ones
        for k, f in enumerate(list(getattr(r, "findings", ()) or ())[:INDEX_FINDINGS]):
            line = esc(str(f.get("text", "")))
            prev = previous_finding(f, k, before)
            if prev is not None:
                change, direction = change_text(f, prev)
                if change and str(f.get("text", "")) == str(prev.get("text", "")):
                    change, direction = "no change", ""  # the same sentence: a difference below its precision
                if (str(f.get("section") or ""), finding_key(f.get("text", ""))) == (
                        str(prev.get("section") or ""), finding_key(prev.get("text", ""))):
                    compared += 1
                    if change and change != "no change":
                        words = str(f.get("text", "")).split()
                        changed.append(f"{esc(' '.join(words[:5]) + ('…' if len(words) > 5 else ''))} "
                                       f"<span class='jl-change-{direction}'>{esc(change)}</span>")
                line += (f"<span class='jl-prev'>Previous run: {esc(str(prev.get('text', '')))}"
                         + (f" <span class='jl-change-{direction}'>({esc(change)})</span>" if change else "")
                         + "</span>")
            items.append(f"<li>{line}</li>")
        since = ("<p class='jl-meta jl-since'>Since the last run: "
                 + (f"{len(changed)} of {compared} headline numbers changed: {'; '.join(changed)}" if changed
                    else "no headline number changed") + ".</p>") if compared else ""
        caption = getattr(r, "caption", None)
        note = _index_note(r)
        title = getattr(r, "title", "") or r.notebook
        tries = int(getattr(r, "tries", 1) or 1)
        slow = getattr(r, "slowest", None)
        run_time = f"run time {r.seconds:.1f} s" + (
            f" (longest step: {slow['step']}, {slow['seconds']:.1f} s)" if isinstance(slow, dict) and slow else "")
        meta = " · ".join(x for x in (caption_text(caption), run_time, f"{tries} tries" if tries > 1 else "") if x)
        cards.append(
            f"<article class='jl-card {cls}'><h3><a href='{esc(r.html.name, quote=True)}'>{esc(title)}</a></h3>"
            f"<p><span class='jl-status-word {cls}'>{esc(status_label(status))}</span>"
            f"{' ' + esc(note) if note else ''}</p>" + since
            + (f"<ul>{''.join(items)}</ul>" if items else "")
            + f"<p class='jl-meta'>{esc(meta)}<br>{esc(r.notebook)}; {esc(_settings_text(r.parameters))}</p></article>")
    counts = [_status(r) for r in results]
    not_ok = [f"{status_label(s).lower()}: {counts.count(s)}"
              for s in ("partial", "ok, with failed checks", "failed", "cancelled") if counts.count(s)]
    content = ("<h1 class='jl-h1'>journeylib reports</h1>"
               f"<p>Run {esc(run_folder)}: {sum(r.ok for r in results)} of {len(results)} ran to the end"
               + (f" ({esc(', '.join(not_ok))})" if not_ok else "") + ".</p>"
               f"<div class='jl-cards'>{''.join(cards)}</div>")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>journeylib reports — "
            f"{esc(run_folder)}</title>{_CSS}</head><body><main class='jl-head'>{content}</main></body></html>")


def index_from_record(record: dict[str, Any], previous: dict[str, dict[str, Any]] | None = None) -> str:
    """The index of a run rendered from its run record: the same cards as :func:`index_page`.

    Parameters
    ----------
    record
        The run record (``run.json``, see :func:`journeylib.report.runner.run_record`).
    previous
        ``{notebook: its entry in the previous run's index.json}``; ``None`` for none.

    Returns
    -------
    str
        The index page's HTML.

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.html import index_from_record, index_page
    >>> from journeylib.report.runner import RunResult, run_record
    >>> done = RunResult("02_retention_survival.ipynb", True, 41.5, Path("02_retention_survival.html"),
    ...                  Path("02.ipynb"), title="Retention and survival")
    >>> record = run_record(Path("reports/2025-07-01T06-00-00Z"), [done])
    >>> index_from_record(record) == index_page("2025-07-01T06-00-00Z", [done])
    True
    """
    from pathlib import PurePosixPath
    from types import SimpleNamespace

    entries = [SimpleNamespace(**{**e, "html": PurePosixPath(str(e.get("html") or "")),
                                  "notes": tuple(e.get("notes") or ()), "findings": tuple(e.get("findings") or ()),
                                  "seconds": float(e.get("seconds") or 0.0), "tries": int(e.get("tries") or 1)})
               for e in record.get("notebooks", []) if isinstance(e, dict)]
    return index_page(str(record.get("run", "")), entries, previous)


def _settings_text(params: dict[str, Any] | None) -> str:
    """The card's line of settings: the journey is left out (the card's caption names the data)."""
    changed = {k: v for k, v in (params or {}).items() if k != "journey"}
    if not changed:
        return "default settings"
    return "settings: " + "; ".join(f"{k} = {_parameter_value(v)}" for k, v in changed.items())


def _status(r) -> str:
    return getattr(r, "status", "") or ("ok" if r.ok else "failed")


def _status_label(r) -> str:
    return status_label(_status(r))


def _index_note(r) -> str:
    """What failed: the error, or the failed sections / checks behind a not-quite-ok status."""
    if r.error:
        return r.error
    notes = ", ".join(getattr(r, "notes", ()) or ())
    status = _status(r)
    if status == "partial":
        return f"sections not computed: {notes}"
    if status == "ok, with failed checks":
        return f"failed checks: {notes}"
    if status == "ok, with warnings":
        return f"warnings: {notes}"
    return ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"
