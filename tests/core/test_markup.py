"""Data is never markup: names from data stay text in readings, HTML and figures (issue 22).

Every reading (Markdown prose a notebook shows with ``core.display.markdown``) of the
journeys, retention and loyalty families is built from a small simulated log whose
stage, channel, segment, exit and covariate names are hostile: Markdown links (also
``javascript:``), images, headings, emphasis, code, tables, TeX, HTML, a line break.
Rendered the way the report renders Markdown (nbconvert's mistune after HTML
escaping), no link, image, heading, script, emphasis or code may come from a name, and
every name must be readable as typed. Findings are plain text: ``_repr_html_`` escapes
them. Figures draw the same names without mathtext (a ``$`` in a channel name used to
crash the notebooks with a mathtext parse error).
"""
from __future__ import annotations

import html
import io
import re
from types import SimpleNamespace

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.text import Text
from nbconvert.filters.markdown_mistune import markdown2html_mistune

import journeylib as jl
from journeylib.core.display import escape_markdown
from journeylib.core.plots import no_mathtext, plot_journey_check
from journeylib.journeys import plots as jplots
from journeylib.journeys.paths import journeys
from journeylib.loyalty import plots as lplots
from journeylib.retention import plots as rplots

# "a$b_{x}^$" is a mathtext parse error if matplotlib reads it as TeX
STAGES = {"awareness": "[aw](javascript:alert(1)) a$b_{x}^$", "consideration": "![co](http://127.0.0.1:9/x.png)",
          "cart": "# cart\nline", "purchase": "$x^2$ purchase", "repeat": "<script>alert(1)</script>",
          "advocacy": "*adv* a|b `c`"}
CHANNELS = {"email": "<img src=x onerror=alert(1)>", "referral": "[ref](http://127.0.0.1:9/r)",
            "search": "_se_ $a$b_{x}^", "paid_ads": "{{template}} e$a_{x}^$", "social": "**so** ~~x~~",
            "direct": "> dir 1. x"}
SEGMENTS = {"standard": "a|b\n| c |", "premium": "- prem [p]: http://127.0.0.1:9/ref",
            "budget": "<b>bud</b> $b_{x}^$"}
EXITS = {"churn": "[churn](javascript:alert(2))", "downgrade": "## down\\grade $c^{2}_$"}
COVARIATE = "acq [c](javascript:alert(3)) $a_{x}^$"  # hostile column names (covariates: text, number)
NUMERIC = "value ![v](http://127.0.0.1:9/v.png) $b_{y}^$"

# tags a name must never produce once rendered (the readings' own **bold** and bullets are fine)
# (and no tag may carry attributes: no href, src or onerror from a name)
FORBIDDEN = re.compile(r"<(a|img|h[1-6]|script|em|code|table|blockquote|del|ol|hr|pre|input)\b|<\w+\s[^>]*>", re.I)


def render(markdown_text: str) -> str:
    """What a report shows for ``core.display.markdown(text)``: HTML-escaped, then nbconvert's mistune."""
    return markdown2html_mistune(html.escape(markdown_text, quote=False))


def visible(rendered: str) -> str:
    """The text a reader sees (tags dropped, entities decoded, whitespace collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rendered)).split())


def words(name: str) -> str:
    return " ".join(str(name).split())


def assert_inert(markdown_text: str, names) -> None:
    out = render(markdown_text)
    bad = FORBIDDEN.search(out)
    assert bad is None, f"markup from a name: {bad.group(0)!r} in {out!r}"
    seen = visible(out)
    for name in names:
        assert words(name) in seen, f"{name!r} not shown as typed in {seen!r}"


# --------------------------------------------------------------------------- the class, for any text
@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn")), max_size=40))
def test_any_escaped_name_renders_as_plain_text(name):
    out = render(f"Of the customers in {escape_markdown(name)}, 12% came back.")
    assert re.findall(r"<(\w+)", out) == ["p"], out
    shown = re.sub(r"[ \r\n\t\v\f]+", " ", name).strip(" ")  # white space collapsed, none at the ends
    assert visible(out) == words(f"Of the customers in {shown}, 12% came back.")


@pytest.mark.parametrize("name", [*STAGES.values(), *CHANNELS.values(), *SEGMENTS.values(), *EXITS.values(),
                                  COVARIATE, "1. first", "+ item", "---", "===", "    indented code",
                                  "<http://127.0.0.1:9/auto>", "www.example.com", "[^1]", "a\\", "&amp; &#60;"])
def test_hostile_names_at_the_start_of_a_line_or_in_bold_stay_text(name):
    assert_inert(f"{escape_markdown(name)} leads.\n\n- **{escape_markdown(name)}**: 3 customers", [name])


# --------------------------------------------------------------------------- hostile data
@pytest.fixture(scope="module")
def hostile():
    sim = jl.simulate_journeys(600, seed=5)
    ev = sim.events.copy()
    ev["stage"] = ev["stage"].map(STAGES).where(ev["stage"].notna(), None)
    ev["channel"] = ev["channel"].map(CHANNELS).where(ev["channel"].notna(), None)
    cu = sim.customers.copy()
    cu["segment"] = cu["segment"].map(SEGMENTS)
    cu["acquisition_channel"] = cu["acquisition_channel"].map(CHANNELS)
    cu[COVARIATE] = cu["acquisition_channel"]
    stages = list(STAGES.values())
    lab = jl.churn_labels(ev, cu, churn_after=60, start_event="purchase")
    lab = lab.merge(jl.first_order_value(ev), on="customer_id", how="left")
    lab[NUMERIC] = lab["first_order_value"]
    lab.loc[lab.index[:7], NUMERIC] = None  # left out of the Cox model: the note names the column
    exits = jl.simulate_exits(800, seed=1).table
    exits["exit_type"] = exits["exit_type"].map(EXITS).where(exits["exit_type"].notna(), None)
    exits["segment"] = exits["segment"].map(SEGMENTS)
    return SimpleNamespace(events=ev, customers=cu, stages=stages, labels=lab, exits=exits)


@pytest.fixture(scope="module")
def results(hostile):
    h = hostile
    st_ = h.stages
    r = SimpleNamespace()
    r.funnel = jl.funnel(h.events, st_)
    r.funnel_by = jl.funnel(h.events, st_, by="segment", customers=h.customers)
    r.next_step = jl.time_to_next_stage(h.events, st_, by="segment", customers=h.customers)
    r.transitions = jl.stage_transitions(h.events, st_)
    r.journey_map = jl.journey_map_data(h.events, st_, funnel_result=r.funnel)
    r.attribution = jl.attribute(h.events, n_boot=0)
    r.stage_attribution = jl.stage_attribution(h.events, [(st_[0], st_[1]), (st_[1], st_[2])])
    r.km = jl.kaplan_meier(h.labels, by="segment", horizons=[30, 90])
    r.logrank = jl.logrank(h.labels, "segment")
    r.cox = jl.cox(h.labels, ["segment", COVARIATE, NUMERIC], missing="drop")
    r.membership = jl.membership_effect(h.labels, "loyalty_joined_at", ["segment"], missing="drop")
    r.winback = jl.winback_rates(h.events, h.customers, inactive_days=75, within_days=30)
    r.winback_by = jl.winback_rates(h.events, h.customers, inactive_days=75, within_days=30,
                                    by=("touch_channel", "segment"))
    r.incidence = jl.cumulative_incidence(h.exits, by="segment", horizons=[90, 180])
    r.incidence_cmp = jl.compare_incidence(h.exits, "segment", horizons=[90, 180])
    r.rfm = jl.rfm_segments(jl.rfm_table(h.events))
    r.repeat = jl.repeat_purchase(h.events, h.customers, by="segment")
    r.cohorts = jl.cohort_table(h.events)
    return r


def _terms(cox, significant: bool = False):
    t = cox.summary
    if significant:
        t = t[t["pvalue"] < 0.05]
    return [part for term in t["term"] for part in str(term).split(": ")]


def test_readings_never_turn_names_into_markup(hostile, results):
    r, segs, stages = results, list(SEGMENTS.values()), hostile.stages
    cases = {
        "funnel": (r.funnel.reading, [stages[0], stages[-1]]),
        "funnel by segment": (r.funnel_by.reading, [*segs, stages[0], stages[-1], "segment"]),
        "time to next stage": (r.next_step.reading, [*stages, *segs]),
        "kaplan-meier": (r.km.reading, segs),
        "log-rank": (r.logrank.reading, [r.logrank.table["group"].iloc[0], "segment"]),
        "cox": (r.cox.reading, _terms(r.cox, significant=True)),
        "membership": (r.membership.reading, []),
        "win-back": (r.winback.reading, [r.winback._ranked()["touch_channel"].iloc[0]]),
        "win-back by channel and segment": (r.winback_by.reading, [r.winback_by._ranked()["segment"].iloc[0]]),
        "competing exits": (r.incidence.reading, [*r.incidence.counts.index, *EXITS.values()]),
        "rfm": (r.rfm.reading, list(r.rfm._top2()["segment"])),
        "cohorts": (r.cohorts.reading, []),
        # plain-text sentences quoting names: the notebook escapes them whole
        "cox note and ph check": (escape_markdown(f"{r.cox.note} {r.cox.ph_reading}"), [NUMERIC]),
    }
    assert any(STAGES["awareness"] in t or escape_markdown(STAGES["awareness"]) in t for t, _ in cases.values())
    for label, (text, names) in cases.items():
        try:
            assert_inert(text, names)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None
    # the notebook 02 summary: the three readings as one Markdown list
    assert_inert("\n".join([r.km.reading, f"- {r.cox.reading}", f"- {r.winback.reading}"]), segs)


def test_readings_still_read_the_same_for_plain_names(small_sim):
    lab = jl.churn_labels(small_sim.events, small_sim.customers, churn_after=60)
    assert "**premium** (" in jl.kaplan_meier(lab, by="segment").reading
    f = jl.funnel(small_sim.events)
    assert "entered at 'awareness'" in f.reading


def test_findings_and_result_html_escape_every_name(results):
    names = [*STAGES.values(), *CHANNELS.values(), *SEGMENTS.values(), *EXITS.values(), COVARIATE, NUMERIC]
    for label, res in vars(results).items():
        out = res._repr_html_()
        bad = re.search(r"<(script|img|a)\b|<[^>]*(onerror|javascript)|<b>bud", out, re.I)
        assert bad is None, f"{label}: {bad.group(0)!r} reached the HTML"
        for f in res.findings:
            assert html.escape(str(f)) in out or html.escape(str(f), quote=False) in out, f"{label}: {f}"
            assert "\\" not in f.text.replace(EXITS["downgrade"], ""), f"{label}: Markdown escapes in plain text"
    for res in (results.funnel_by, results.winback, results.cox, results.incidence):  # names shown, escaped
        out = res._repr_html_()
        assert any(html.escape(n) in out or html.escape(n, quote=False) in out for n in names), type(res).__name__


# --------------------------------------------------------------------------- figures
def _shown(ax) -> tuple[str, list[Text]]:
    """Draw and save the figure (where mathtext would fail), then its texts."""
    fig = ax.figure
    fig.savefig(io.BytesIO(), format="png")
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    return " ".join(words(t.get_text().replace("\u00a0", " ")) for t in texts), texts


def _plots(hostile, results):
    r, stages, segs, chans = results, hostile.stages, list(SEGMENTS.values()), list(CHANNELS.values())
    upper = [s.replace("_", " ").upper() for s in stages]
    transition_labels = list(r.stage_attribution.shares().columns)
    return {
        "journey check": (lambda ax: plot_journey_check(SimpleNamespace(
            stages=stages, summary=pd.DataFrame({"item": [*stages, "no stage (no rule matched)"],
                                                 "events": [5, 4, 3, 2, 1, 1, 7]})), ax=ax), stages),
        "funnel": (lambda ax: jplots.plot_funnel(r.funnel, ax=ax), stages),
        "funnel by segment": (lambda ax: jplots.plot_funnel(r.funnel_by, ax=ax), [*stages, *segs]),
        "transitions": (lambda ax: jplots.plot_transitions(r.transitions, ax=ax), stages),
        "journey map": (lambda ax: jplots.plot_journey_map(r.journey_map, ax=ax), upper),
        "attribution": (lambda ax: jplots.plot_attribution(r.attribution, ax=ax), chans),
        "stage attribution": (lambda ax: jplots.plot_stage_attribution(r.stage_attribution, ax=ax),
                              [*transition_labels, *r.stage_attribution.shares().index]),
        "time to next stage": (lambda ax: jplots.plot_time_to_next_stage(r.next_step, ax=ax), [*stages, *segs]),
        "survival": (lambda ax: rplots.plot_survival(r.km, ax=ax), segs),
        "cumulative hazard": (lambda ax: rplots.plot_cumulative_hazard(r.km, ax=ax), segs),
        "retention bars": (lambda ax: rplots.plot_retention(r.km, ax=ax), segs),
        "log-rank": (lambda ax: rplots.plot_logrank(r.logrank, ax=ax), segs),
        "cox": (lambda ax: rplots.plot_cox(r.cox, ax=ax), _terms(r.cox)),
        "membership": (lambda ax: rplots.plot_membership(r.membership, ax=ax), []),
        "win-back": (lambda ax: rplots.plot_winback(r.winback, ax=ax), list(r.winback.summary["touch_channel"])),
        "cumulative incidence": (lambda ax: rplots.plot_cumulative_incidence(r.incidence, ax=ax),
                                 [*r.incidence.counts.index, *EXITS.values()]),
        "incidence comparison": (lambda ax: rplots.plot_incidence_comparison(r.incidence_cmp, ax=ax),
                                 list(r.incidence_cmp.summary["group"])),
        "repeat rate": (lambda ax: lplots.plot_repeat_rate(r.repeat, ax=ax), segs),
        "purchase gaps": (lambda ax: lplots.plot_purchase_gaps(r.repeat, ax=ax), []),
        "time to second": (lambda ax: lplots.plot_time_to_second(r.repeat, ax=ax), []),
        "cohort heatmap": (lambda ax: lplots.plot_cohort_heatmap(r.cohorts, ax=ax), []),
        "cohort curves": (lambda ax: lplots.plot_cohort_curves(r.cohorts, ax=ax), []),
        "rfm grid": (lambda ax: lplots.plot_rfm_grid(r.rfm, ax=ax), []),
        "rfm segments": (lambda ax: lplots.plot_rfm_segments(r.rfm, ax=ax), list(r.rfm.table["segment"])),
        "paths": (lambda ax: jplots.plot_path_lengths(journeys(hostile.events), ax=ax), []),
    }


def test_every_figure_draws_names_from_data_as_typed_without_mathtext(hostile, results):
    with mpl.rc_context({"text.parse_math": True}):  # a user's default, not the report's setting
        for label, (draw, names) in _plots(hostile, results).items():
            fig, ax = plt.subplots(figsize=(10, 6))
            try:
                assert draw(ax) is ax
                shown, texts = _shown(ax)
            except Exception as exc:  # noqa: BLE001 - name the figure that failed
                raise AssertionError(f"{label}: {type(exc).__name__}: {exc}") from None
            math = [t.get_text() for t in texts if "$" in t.get_text() and t.get_parse_math()]
            assert not math, f"{label}: mathtext on {math}"
            for name in names:
                assert words(name) in shown, f"{label}: {name!r} not drawn as typed"
            plt.close(fig)


def test_a_name_with_dollars_crashes_mathtext_so_the_figures_test_means_something():
    with mpl.rc_context({"text.parse_math": True}):
        fig, ax = plt.subplots()
        ax.set_yticks([0], [STAGES["awareness"]])
        with pytest.raises(ValueError, match="ParseSyntaxException"):
            fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)


def test_no_mathtext_keeps_the_function_and_restores_the_setting():
    @no_mathtext
    def draw(ax=None, *, title="t"):
        """Doc."""
        ax.set_title(title)
        ax.text(0, 0, "$a$b_{x}^")
        assert mpl.rcParams["text.parse_math"] is False
        return ax

    with mpl.rc_context({"text.parse_math": True}):
        fig, ax = plt.subplots()
        assert draw(ax, title="a$b_{x}^$") is ax and draw.__doc__ == "Doc." and draw.__name__ == "draw"
        assert mpl.rcParams["text.parse_math"] is True
        fig.savefig(io.BytesIO(), format="png")
        assert ax.get_title() == "a$b_{x}^$"
        plt.close(fig)


def test_a_very_long_name_from_data_is_cut_on_the_plot():
    """A 100,000-character event name drew a figure 200,000 pixels wide: tick labels, legend entries and
    annotations from data are cut to MAX_LABEL characters, ending in an ellipsis; short names are untouched."""
    from journeylib.core.plots import MAX_LABEL

    long = "checkout_step_" + "x" * 100_000

    @no_mathtext
    def draw(names, ax=None):
        ax = ax if ax is not None else plt.gca()
        ax.barh(range(len(names)), [1] * len(names), label=names[0])
        ax.set_yticks(range(len(names)), names)
        ax.annotate(names[0], (0.5, 0))
        ax.legend()
        return ax

    fig, ax = plt.subplots()
    draw([long, "email"], ax=ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [long[:MAX_LABEL - 1] + "…", "email"]
    assert ax.texts[0].get_text() == labels[0] and ax.get_legend().get_texts()[0].get_text() == labels[0]
    assert fig.get_tightbbox(fig.canvas.get_renderer()).width < 2000
    plt.close(fig)
