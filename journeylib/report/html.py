"""HTML of the reports: the executed notebook as a page, its health panel, the index.

Functions here build strings; :mod:`journeylib.report.runner` writes them (atomically).
Everything that comes from data or parameters is escaped; pages load nothing from the
network (nbconvert's CDN scripts are dropped, images are embedded).
"""
from __future__ import annotations

import html
import json
import platform
import re
from importlib import metadata
from typing import Any

import nbformat

KEY_LIBRARIES = ("journeylib", "pandas", "numpy", "ibis-framework", "duckdb", "statsmodels", "lifelines",
                 "scipy", "seaborn", "papermill")


def render_notebook(nb, no_input: bool) -> str:
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
    # MathJax, unused here); images are already embedded as data URIs.
    return _EXTERNAL_SCRIPT.sub("", body)


def health_panel(stem, started, seconds, params, health, error) -> str:
    esc = html.escape
    shown = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in params.items()}  # no Python reprs
    rows = "".join(f"<tr><td>{esc(str(k))}</td><td><code>{esc(v)}</code></td></tr>" for k, v in shown.items())
    params_html = f"<table>{rows}</table>" if rows else "<p>defaults of the notebook</p>"
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
    failure = banner(error) if error else ""
    status, _ = report_status(error, health)
    sections = failed_sections(health)
    if sections and not error:
        failure = ("<div class='jl-partial'><strong>Part of this report could not be computed.</strong><ul>"
                   + "".join(f"<li>{esc(str(s.get('name', '')))}: {esc(str(s.get('reason', '')))}</li>"
                             for s in sections) + "</ul>The other sections are complete.</div>")
    return f"""
<section class="jl-health">
{failure}
<h2 class="jl-title">Report health: {esc(stem)} ({status})</h2>
<p>Run {started:%Y-%m-%d %H:%M:%S} UTC, {seconds:.1f} s. Python {esc(platform.python_version())}; {versions}.</p>
<details open><summary>Parameters</summary>{params_html}</details>
<details open><summary>Inputs</summary><table><tr><th>table</th><th>source</th><th>rows</th><th>sha256 (16)</th><th>validation</th></tr>{inputs_html}</table></details>
<details open><summary>Checks ({len(checks) - n_fail - n_warn} passed, {n_warn} warnings, {n_fail} failed)</summary><ul>{checks_html or '<li>none raised</li>'}</ul></details>
</section>"""


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
.jl-health{font-family:system-ui,sans-serif;border:1px solid #ccc;border-radius:6px;padding:8px 16px;margin:16px;
 background:#fafafa;font-size:13px}
.jl-health table{border-collapse:collapse}.jl-health td,.jl-health th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.jl-health .pass{color:#1a7f37}.jl-health .warn{color:#9a6700;font-weight:bold}.jl-health .fail{color:#cf222e;font-weight:bold}
.jl-title{font-size:16px;margin:4px 0}
.jl-banner{background:#ffebe9;border:2px solid #cf222e;padding:8px;margin-bottom:8px;color:#82071e}
.jl-partial{background:#fff8c5;border:2px solid #9a6700;padding:8px;margin-bottom:8px;color:#4d2d00}
.jp-OutputArea-output pre{white-space:pre-wrap;word-break:normal;overflow-wrap:break-word}
</style>"""


def inject(body: str, panel: str) -> str:
    head_end = body.find("</head>")
    if head_end != -1:
        body = body[:head_end] + _CSS + body[head_end:]
    i = body.find("<body")
    if i == -1:
        return panel + body
    j = body.find(">", i) + 1
    return body[:j] + panel + body[j:]


def page(title: str, content: str, extra: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{_CSS}"
            f"</head><body><div class='jl-health'>{content}{extra}</div></body></html>")




def index_page(run_folder: str, results: list) -> str:
    """The index of one run: a row per report (status, duration, parameters, error)."""
    esc = html.escape
    rows = "".join(
        f"<tr><td><a href='{esc(r.html.name)}'>{esc(r.notebook)}</a></td>"
        f"<td class='{STATUS_CLASS.get(_status(r), 'fail')}'>{esc(_status_label(r))}</td><td>{r.seconds:.1f} s</td>"
        f"<td><code>{esc(json.dumps(r.parameters, default=str)) if r.parameters else 'defaults'}</code></td>"
        f"<td>{esc(_index_note(r))}</td></tr>" for r in results)
    counts = [_status(r) for r in results]
    not_ok = [f"{counts.count(s)} {s}" for s in ("partial", "ok, with failed checks", "failed", "cancelled")
              if counts.count(s)]
    table = ("<h2 class='jl-title'>journeylib reports</h2>"
             f"<p>Run folder {esc(run_folder)}, {sum(r.ok for r in results)} of {len(results)} succeeded"
             + (f" ({esc(', '.join(not_ok))})" if not_ok else "") + ".</p>"
             "<table><tr><th>report</th><th>status</th><th>duration</th><th>parameters</th><th>error or what failed</th></tr>"
             f"{rows}</table>")
    return page("journeylib reports", table, "")


def _status(r) -> str:
    return getattr(r, "status", "") or ("ok" if r.ok else "failed")


def _status_label(r) -> str:
    status = _status(r)
    return status.upper() if status in ("failed", "cancelled", "partial") else status


def _index_note(r) -> str:
    """The last column: the error, or the failed sections / checks behind a not-quite-ok status."""
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
