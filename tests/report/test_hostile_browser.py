"""Reports built from hostile names, opened in headless Chromium with the network blocked (issue 22).

A small simulated shop has every text field renamed to a payload: Markdown links (also
``javascript:``), Markdown images pointing at a local canary server, ``<script>``,
``<img onerror>``, ``# heading``, TeX, ``{{template}}`` and very long names, in channels,
event names (through the journey definition's event roles), stages, segment values,
experiment and variant names, and the journey's own name. Notebooks 00-02 run on it
with :func:`journeylib.report.runner.run_notebook`; each HTML must then hold no tag
with an external ``src``/``href``, no ``javascript:`` link, no ``onerror`` attribute and
no script that came from the data, and Chromium, whose every request goes through the
canary (``--proxy-server``, loopback included), must make no request and run no script
from the data (a payload that ran would mark ``<body data-xss=...>``).

Notebook 03 (A/B test) is not in the list yet: it is being reworked (issue 23) and did
not run when this test was written; add "03_ab_test" (it shows the experiment and variant
names, already hostile in these data) once it does.
"""
from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import journeylib as jl
from journeylib.report.runner import run_notebook

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None)
NOTEBOOKS = ["00_journey_overview", "01_stage_attribution", "02_retention_survival"]
# Chromium's own background services (updates, clock, accounts) also go through the proxy;
# they are not the report's requests.
BROWSER_SERVICES = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com)(:\d+)?$")

MARK = "document.body.setAttribute('data-xss','{}')"
XSS_IMG = f'<img src=x onerror="{MARK.format("img")}">'
XSS_SCRIPT = f"<script>{MARK.format('script')}</script>"
XSS_LINK = f"[win](javascript:{MARK.format('link')})"
LONG = " ".join(["long"] * 60)


def hostile_names(port: int) -> dict[str, dict[str, str]]:
    """Replacement names per field; images and links point at the canary on ``port``."""
    img = f"![i](http://127.0.0.1:{port}/x.png)"
    return {
        "stage": {"awareness": f"{XSS_LINK} aware", "consideration": f"{img} consider", "cart": "# cart $a$b_{x}^$",
                  "purchase": f"{XSS_SCRIPT} buy", "repeat": "{{template}} repeat", "advocacy": f"advocacy {LONG}"},
        "channel": {"email": XSS_IMG, "referral": f"[ref](http://127.0.0.1:{port}/r)",
                    "search": "$TeX^{x}$ search a$b_{x}^$", "paid_ads": "{{template}} *ads* `code`",
                    "social": "social " + " ".join(["very long name"] * 20), "direct": "# direct"},
        "segment": {"standard": "a|b | c", "premium": f"{XSS_SCRIPT} prem", "budget": f"{img} $x^2$"},
        "event": {"landing": f"{XSS_SCRIPT} landing", "product_view": f"{XSS_LINK} view", "add_to_cart": "# cart event",
                  "purchase": f"![p](http://127.0.0.1:{port}/p.png) purchase", "review": "$r$ review"},
    }


class Canary:
    """A local HTTP server used as the browser's proxy: it records every request and answers 404."""

    def __init__(self) -> None:
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                seen.append(self.requestline)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_CONNECT = _record

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def report_requests(self, since: int) -> list[str]:
        """Requests after the first ``since`` that are not Chromium's own background services."""
        out = []
        for line in self.requests[since:]:
            target = line.split(" ")[1] if " " in line else line
            host = re.sub(r"^[a-z]+://", "", target).split("/")[0]
            if not BROWSER_SERVICES.search(host):
                out.append(line)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canary():
    c = Canary()
    yield c
    c.close()


@pytest.fixture(scope="module")
def hostile_journey(tmp_path_factory, canary) -> SimpleNamespace:
    names = hostile_names(canary.port)
    sim = jl.simulate_journeys(400, seed=11)
    ev = sim.events.replace({f: names[f] for f in ("stage", "channel", "event")})
    cu = sim.customers.replace({"segment": names["segment"], "acquisition_channel": names["channel"]})
    asg = sim.assignments.copy()
    asg["experiment"] = asg["experiment"].map(lambda e: f"[{e}](javascript:{MARK.format('exp')}) $e$")
    asg["variant"] = asg["variant"].where(asg["variant"] == "control", asg["variant"].map(lambda v: f"{XSS_IMG} {v}"))
    folder = jl.SimulatedData(ev, cu, asg, sim.ground_truth).write(tmp_path_factory.mktemp("hostile_shop"))
    roles = {"purchase": "purchase", "cart": "add_to_cart", "review": "review"}
    definition = {
        "version": 1, "name": f"Hostile shop {XSS_LINK}",
        "sources": {t: {"path": f"{t}.parquet"} for t in ("events", "customers", "assignments")},
        "stages": {"order": list(names["stage"].values()), "column": "stage"},
        "events": {"revenue": "revenue", **{role: names["event"][e] for role, e in roles.items()}},
        "touchpoints": {"column": "channel"}, "segments": ["segment", "acquisition_channel"]}
    path = Path(folder) / "journey.yml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False))
    return SimpleNamespace(path=path, names=names)


@pytest.fixture(scope="module")
def reports(hostile_journey, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile_reports")
    return {nb: run_notebook(nb, {"journey": str(hostile_journey.path)}, out, new_run_folder=False, timeout=300)
            for nb in NOTEBOOKS}


def markup_from_data(page: str) -> list[str]:
    """Tags a name could have become: external src/href, javascript: links, event handlers, scripts
    with a source or carrying a payload."""
    bad = re.findall(r"<[a-zA-Z][^>]*\s(?:src|href|action|formaction|poster|data)\s*=\s*[\"']?\s*(?:https?:)?//[^>]*>",
                     page, re.I)
    bad += re.findall(r"<[a-zA-Z][^>]*\s(?:src|href)\s*=\s*[\"']?\s*javascript:[^>]*>", page, re.I)
    bad += re.findall(r"<[a-zA-Z][^>]*\son[a-z]+\s*=[^>]*>", page, re.I)
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script\s*>", page, re.I | re.S):
        if "src=" in attrs.lower() or "data-xss" in body or "alert(" in body:
            bad.append(f"<script{attrs}>{body[:80]}")
    return bad


def open_in_chromium(page: Path, canary: Canary, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
             f"--proxy-server=http://127.0.0.1:{canary.port}", "--proxy-bypass-list=<-loopback>",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-domain-reliability", "--no-pings",
             "--disable-client-side-phishing-detection", "--virtual-time-budget=5000",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([CHROMIUM, *flags, "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)


def test_the_checks_catch_live_markup(canary, tmp_path):
    """The same checks flag a page where the payloads are live (so passing means something)."""
    names = hostile_names(canary.port)
    live = (f"<html><body><p>{XSS_IMG}</p><a href=\"javascript:{MARK.format('link')}\">x</a>"
            f"<img src=\"http://127.0.0.1:{canary.port}/x.png\">{XSS_SCRIPT}</body></html>")
    assert len(markup_from_data(live)) == 4
    assert not markup_from_data(html_lib.escape(live) + html_lib.escape(str(names)))
    if not CHROMIUM:
        pytest.skip("no chromium binary: the browser half of the check needs one")
    page = tmp_path / "live.html"
    page.write_text(live)
    before = len(canary.requests)
    dom = open_in_chromium(page, canary, tmp_path / "profile")
    assert re.search(r"<body[^>]*data-xss", dom.stdout), dom.stdout[:500]
    assert any(f"127.0.0.1:{canary.port}/x.png" in r for r in canary.report_requests(before))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_report_from_hostile_names_requests_nothing_and_runs_no_script(notebook, reports, hostile_journey,
                                                                         canary, tmp_path):
    res = reports[notebook]
    assert res.ok, res.error
    page = res.html.read_text()
    assert not markup_from_data(page)
    # the names are in the report, as text
    names = hostile_journey.names
    shown = {"00_journey_overview": names["channel"]["email"], "01_stage_attribution": names["stage"]["cart"],
             "02_retention_survival": names["segment"]["premium"]}[notebook]
    assert html_lib.escape(shown, quote=False) in page or html_lib.escape(shown) in page
    assert XSS_IMG not in page and XSS_SCRIPT not in page
    if not CHROMIUM:
        pytest.skip("no chromium binary: the report's static HTML checks passed, the browser check needs one")
    before = len(canary.requests)
    dom = open_in_chromium(res.html, canary, tmp_path / "profile")
    assert dom.returncode == 0 and "</body>" in dom.stdout, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body and "data-xss" not in body.group(0), f"a script from the data ran: {body.group(0)}"
    assert not markup_from_data(dom.stdout)
    assert not canary.report_requests(before), "the report made network requests"
    errors = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and "Uncaught" in ln]
    assert not errors, errors
