"""HTML of the reports: the executed notebook as a page that decides, and the index.

A report page opens with what a reader needs in two minutes: a heading naming the report,
the data and its period; a findings box (the results' own headline findings, each with its
number, interval and action, linked to the section that shows the evidence); one status
line (checks passed, warnings, failures named); the data caption; a table of contents when
the page is long. The notebook follows; the run's health (versions, hashes, parameters,
inputs, every check) is a collapsed appendix at the end. No absolute path appears anywhere
(:func:`scrub_paths`), and the page carries only the CSS it uses (:func:`prune_css`).

Functions here build strings; :mod:`journeylib.report.runner` writes them (atomically).
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
    """The executed notebook as nbconvert's lab HTML: no code (``no_input``), no prompts, no
    papermill error cells, no network scripts, and alt text on every figure."""
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
    return add_alt_text(body, nb)


_MODULE_SCRIPT = re.compile(r"<script type=\"module\">.*?</script>", re.S | re.I)
_MATHJAX_CONFIG = re.compile(r"<script type=\"text/x-mathjax-config\">.*?</script>", re.S | re.I)
_IMG_PNG = re.compile(r"<img(?: alt=\"[^\"]*\")?((?: class=\"[^\"]*\")?) src=\"data:image/png;base64,")


def add_alt_text(body: str, nb) -> str:
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
    """The notebook's first Markdown ``# `` heading ("" when it has none)."""
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
    """The data caption the notebook recorded (the first dataset it recorded), if any."""
    caps = [c for c in health.get("captions", []) or [] if isinstance(c, dict)]
    return caps[0] if caps else None


def period_text(caption: dict[str, Any] | None) -> str:
    if not caption or not caption.get("period_start"):
        return ""
    return f"{caption['period_start']} to {caption.get('period_end') or '?'}"


def data_name(caption: dict[str, Any] | None) -> str:
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


def page_title(title: str, caption: dict[str, Any] | None) -> str:
    """``"<title> — <data name>, <period>"`` (parts that are unknown are left out)."""
    data = ", ".join(x for x in (data_name(caption), period_text(caption)) if x)
    return f"{title} — {data}" if data else title


def caption_text(caption: dict[str, Any] | None) -> str:
    """``"Simulated sample data · 2024-01-01 to 2025-06-30 · 4,000 customers · 56,460 events"``."""
    if not caption:
        return ""
    parts = [data_name(caption), period_text(caption)]
    for key, word in (("customers", "customers"), ("events", "events")):
        if isinstance(caption.get(key), (int, float)):
            parts.append(f"{format_count(caption[key])} {word}")
    return " · ".join(p for p in parts if p)


MAX_FINDINGS = 5


def headline_findings(health: dict[str, Any], limit: int = MAX_FINDINGS) -> list[dict[str, Any]]:
    """The findings that open the report: those recorded with ``headline=True`` in order,
    else the first findings recorded; at most ``limit``."""
    found = [f for f in health.get("findings", []) or [] if isinstance(f, dict) and f.get("text")]
    heads = [f for f in found if f.get("headline")]
    return (heads or found)[:limit]


_HEADING = re.compile(r"<h([1-3])\b[^>]*\bid=\"([^\"]+)\"[^>]*>(.*?)</h\1>", re.S | re.I)


def headings(body: str) -> list[tuple[int, str, str]]:
    """``(level, id, text)`` of the page's h1-h3 headings that carry an id (nbconvert gives
    Markdown headings one)."""
    out = []
    for level, hid, inner in _HEADING.findall(body):
        inner = re.sub(r"<a class=.anchor-link.*?</a>", "", inner, flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        out.append((int(level), html.unescape(hid), text))
    return out


def _norm(text: str) -> str:
    text = re.sub(r"^\s*\d+[.)]\s*", "", str(text).lower())
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def section_anchor(section: str, heads: list[tuple[int, str, str]], nb=None) -> str | None:
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


def findings_box(found: list[dict[str, Any]], heads: list[tuple[int, str, str]], nb=None) -> str:
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
        anchor = section_anchor(str(f.get("section") or ""), heads, nb)
        link = (f" <a class='jl-evidence' href='#{esc(anchor, quote=True)}'>Evidence: "
                f"{esc(str(f.get('section')))}</a>") if anchor else ""
        items.append(f"<li>{text}{' <strong>' + esc(action) + '</strong>' if action else ''}{link}</li>")
    return (f"<section class='jl-findings' id='jl-findings'><h2>Findings</h2><ol>{''.join(items)}</ol>"
            "</section>")


def status_line(health: dict[str, Any], error: str | None) -> str:
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
    sections = failed_sections(health)
    if sections:
        parts.append("Not computed: " + esc("; ".join(
            f"{s.get('name', '')}" + (f" ({s['reason']})" if s.get("reason") else "") for s in sections)) + ".")
    return f"<p class='jl-status {cls}'>{' '.join(parts)}</p>"


TOC_MIN_HEIGHT = 2 * 900
"""A table of contents is shown when the page is estimated longer than two screens (pixels)."""


def estimated_height(body: str) -> int:
    """A rough height of the page in pixels: figures, table rows and lines of text."""
    images = len(re.findall(r"<img\b", body))
    rows = len(re.findall(r"<tr\b", body))
    text = re.sub(r"<style.*?</style>|<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
    lines = len(" ".join(text.split())) // 110
    return images * 420 + rows * 28 + lines * 24


def table_of_contents(heads: list[tuple[int, str, str]], body: str) -> str:
    """Links to the h2/h3 headings, when the page is longer than two screens."""
    esc = html.escape
    entries = [(lvl, hid, text) for lvl, hid, text in heads if lvl in (2, 3) and text]
    if len(entries) < 3 or estimated_height(body) < TOC_MIN_HEIGHT:
        return ""
    items = "".join(f"<li class='jl-toc-{lvl}'><a href='#{esc(hid, quote=True)}'>{esc(text)}</a></li>"
                    for lvl, hid, text in entries)
    return f"<nav class='jl-toc'><strong>Contents</strong><ul>{items}</ul></nav>"


def parameter_label(name: str, declared: dict[str, Any] | None) -> str:
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
    if isinstance(value, float):
        return format_number(value, 6) if value != int(value) else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return str(value) if value != "" else "(empty)"


def health_panel(stem, started, seconds, params, health, error, *, declared: dict[str, Any] | None = None) -> str:
    """The appendix: run time, versions, parameters (as words), inputs, every check, the
    sections not computed; collapsed (``<details>``) at the end of the page."""
    esc = html.escape
    given = dict(params or {})
    names = list(declared or {}) + [k for k in given if k not in (declared or {})]
    rows = []
    for k in names:
        value = given[k] if k in given else (declared or {}).get(k, {}).get("default")
        note = " (set for this run)" if k in given and declared else ""
        rows.append(f"<tr><td>{esc(parameter_label(str(k), declared))}</td>"
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
    versions = ", ".join(f"{esc(n)} {esc(version(n))}" for n in KEY_LIBRARIES)
    n_fail, n_warn = statuses.count("fail"), statuses.count("warn")
    status, _ = report_status(error, health)
    sections = failed_sections(health)
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
    """The report: heading, findings box, status line, data caption, contents, the notebook,
    and the health appendix; only the CSS it uses, no absolute path (``bases`` are folders
    whose paths are shown relative to them, see :func:`scrub_paths`)."""
    esc = html.escape
    title = report_title(nb) or stem
    caption = caption_of(health)
    full_title = page_title(title, caption)
    body = _drop_first_h1(body, title)
    heads = headings(body)
    top = [banner(error) if error else "",
           f"<h1 class='jl-h1' id='jl-top'>{esc(full_title)}</h1>",
           findings_box(headline_findings(health), heads, nb),
           status_line(health, error)]
    if caption:
        top.append(f"<p class='jl-caption'>{esc(caption_text(caption))}</p>")
    top.append(table_of_contents(heads, body))
    header = f"<header class='jl-head'>{''.join(top)}</header>"
    appendix = health_panel(stem, started, seconds, params, health, error, declared=declared)
    page_html = inject(body, header, appendix)
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
    """``text`` with no absolute path: a path under one of ``bases`` (the journey's folder, the
    output folder, ...) is shown relative to it, any other absolute path by its last part.
    Embedded images (data URIs) are left alone."""
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
    """``page_html`` with the CSS rules it cannot use removed: a rule stays when one of its
    selectors needs only classes the page has (JupyterLab's stylesheet is about 260 KB, of
    which a report uses a small part). Variables, fonts and at-rules stay; the look is kept."""
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


def failed_sections(health: dict[str, Any]) -> list[dict[str, Any]]:
    """Sections a notebook recorded as failed (``journeylib.report.notebook.section``)."""
    return [s for s in health.get("sections", []) or [] if isinstance(s, dict) and s.get("status") == "failed"]


def report_status(error: str | None, health: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Status of one report and the names behind it.

    ``"failed"`` (an error stopped it), ``"partial"`` (it ran to the end but sections could
    not be computed: their names), ``"ok, with failed checks"`` (the failed checks' names),
    ``"ok, with warnings"`` (the warned checks' names) or ``"ok"``.
    """
    if error:
        return "failed", ()
    sections = failed_sections(health)
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
    """The failed report's banner; ``error`` is shown as given (the runner scrubs it, see
    :func:`journeylib.report.runner.error_text`), escaped."""
    return (f"<div class='jl-banner'><strong>This report failed.</strong> {html.escape(error)}<br>"
            "The output below stops at the failing cell; fix the input or parameter and re-run.</div>")


def cancelled_banner() -> str:
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


def inject(body: str, header: str, appendix: str = "") -> str:
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
    """A page of its own (a report that could not start or was cancelled); no absolute path in it."""
    return scrub_paths(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
                       f"</title>{_CSS}</head><body><div class='jl-health'>{content}{extra}</div></body></html>")


STATUS_LABELS = {"ok": "OK", "ok, with warnings": "OK, with warnings", "ok, with failed checks": "CHECKS FAILED",
                 "partial": "PARTIAL", "failed": "FAILED", "cancelled": "CANCELLED"}


def status_label(status: str) -> str:
    """The status as a page shows it: a report whose checks failed says so, never just "ok"."""
    return STATUS_LABELS.get(status, status.upper())


def finding_key(text: str) -> str:
    """A finding's sentence with its numbers masked: the same headline in another run."""
    return re.sub(r"[-+−]?\d[\d,.]*%?", "#", str(text)).strip().lower()


def previous_finding(finding: dict[str, Any], position: int, previous: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same headline in the previous run: same section and sentence (numbers aside), else same place."""
    key = (str(finding.get("section") or ""), finding_key(finding.get("text", "")))
    for p in previous:
        if (str(p.get("section") or ""), finding_key(p.get("text", ""))) == key:
            return p
    if position < len(previous) and str(previous[position].get("section") or "") == key[0]:
        return previous[position]
    return None


def change_text(now: dict[str, Any], before: dict[str, Any]) -> tuple[str, str]:
    """``("+2.1 points", "up")``: the change of a finding's number since the previous run."""
    a, b = now.get("value"), before.get("value")
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return ("", "")
    delta = float(a) - float(b)
    if delta == 0:
        return ("no change", "")
    share = "%" in str(now.get("text", "")) and abs(a) <= 1.5 and abs(b) <= 1.5
    text = f"{delta * 100:+.1f} points" if share else ("+" if delta > 0 else "−") + (
        format_count(abs(delta)) if float(delta).is_integer() else format_number(abs(delta)))
    return (text, "up" if delta > 0 else "down")


INDEX_FINDINGS = 3


def index_page(run_folder: str, results: list, previous: dict[str, dict[str, Any]] | None = None) -> str:
    """The index of one run: a card per report with its status (failed checks and sections
    named), its two or three headline findings, the data period, the run time, and each
    headline as the previous run in the same output folder had it (``previous``:
    ``{notebook: its entry in that run's index.json}``)."""
    esc = html.escape
    previous = previous or {}
    cards = []
    for r in results:
        status = _status(r)
        cls = STATUS_CLASS.get(status, "fail")
        before = [f for f in (previous.get(r.notebook) or {}).get("findings", []) or [] if isinstance(f, dict)]
        items = []
        for k, f in enumerate(list(getattr(r, "findings", ()) or ())[:INDEX_FINDINGS]):
            line = esc(str(f.get("text", "")))
            prev = previous_finding(f, k, before)
            if prev is not None:
                change, direction = change_text(f, prev)
                line += (f"<span class='jl-prev'>Previous run: {esc(str(prev.get('text', '')))}"
                         + (f" <span class='jl-change-{direction}'>({esc(change)})</span>" if change else "")
                         + "</span>")
            items.append(f"<li>{line}</li>")
        caption = getattr(r, "caption", None)
        note = _index_note(r)
        title = getattr(r, "title", "") or r.notebook
        tries = int(getattr(r, "tries", 1) or 1)
        meta = " · ".join(x for x in (caption_text(caption), f"run time {r.seconds:.1f} s",
                                      f"{tries} tries" if tries > 1 else "") if x)
        cards.append(
            f"<article class='jl-card {cls}'><h3><a href='{esc(r.html.name, quote=True)}'>{esc(title)}</a></h3>"
            f"<p><span class='jl-status-word {cls}'>{esc(status_label(status))}</span>"
            f"{' ' + esc(note) if note else ''}</p>"
            + (f"<ul>{''.join(items)}</ul>" if items else "")
            + f"<p class='jl-meta'>{esc(meta)}<br>{esc(r.notebook)}; parameters: "
            f"{esc(_parameters_text(r.parameters))}</p></article>")
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
    """The index of a run rendered from its run record (``run.json``, see
    :func:`journeylib.report.runner.run_record`): the same cards as :func:`index_page`."""
    from pathlib import PurePosixPath
    from types import SimpleNamespace

    entries = [SimpleNamespace(**{**e, "html": PurePosixPath(str(e.get("html") or "")),
                                  "notes": tuple(e.get("notes") or ()), "findings": tuple(e.get("findings") or ()),
                                  "seconds": float(e.get("seconds") or 0.0), "tries": int(e.get("tries") or 1)})
               for e in record.get("notebooks", []) if isinstance(e, dict)]
    return index_page(str(record.get("run", "")), entries, previous)


def _parameters_text(params: dict[str, Any] | None) -> str:
    if not params:
        return "defaults"
    return "; ".join(f"{k} = {_parameter_value(v)}" for k, v in params.items())


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


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"
