"""The journey definition (journey.yml): parsing, every definition error, loading with stage
rules, role events, time zones, the period, experiments from events, the bundled definitions.

Numbers are checked against an independent pandas computation on the files themselves."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.journey import JourneyDefinition, read_journey
from journeylib.core.schema import MAX_SEGMENT_GROUPS
from journeylib.core.locations import CDNOW_DIR, SAMPLE_DIR

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "journeys" / "shop"
STAGES = ["awareness", "consideration", "cart", "purchase", "repeat"]


def write(tmp_path: Path, text: str, name: str = "journey.yml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


def shop_yml(tmp_path: Path, *, rules: str | None = None, extra: str = "", events_keys: str | None = None) -> Path:
    """The shop fixture's definition with parts replaced (the CSV by absolute path)."""
    rules = rules if rules is not None else """
        - {stage: awareness, event: main}
        - {stage: consideration, events: [catalog, search]}
        - {stage: consideration, column: page, pattern: "^/product/"}
        - {stage: cart, events: [cart, delivery_choice, payment_choice]}
        - {stage: purchase, event: payment_done, occurrence: first}
        - {stage: repeat, event: payment_done}"""
    events_keys = events_keys if events_keys is not None else "{purchase: payment_done, revenue: amount, cart: cart}"
    rules = textwrap.indent(textwrap.dedent(rules).strip("\n"), "    ")
    text = (
        "version: 1\n"
        "sources:\n"
        "  events:\n"
        f"    path: {SHOP / 'events.csv'}\n"
        "    columns: {user_id: customer_id, event_time: ts, event_name: event}\n"
        "    timezone: Europe/Berlin\n"
        "    timestamp_format: \"%d/%m/%Y %H:%M\"\n"
        "stages:\n"
        f"  order: {STAGES}\n".replace("'", "")
        + "  rules:\n" + rules + "\n"
        + f"events: {events_keys}\n" + textwrap.dedent(extra)
    )
    p = tmp_path / "journey.yml"
    p.write_text(text)
    return p


def shop_reference() -> pd.DataFrame:
    """The shop's events with stages, computed independently with pandas."""
    df = pd.read_csv(SHOP / "events.csv")
    df["ts"] = (pd.to_datetime(df["event_time"], format="%d/%m/%Y %H:%M")
                .dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC"))
    names = {"main": "awareness", "catalog": "consideration", "search": "consideration",
             "cart": "cart", "delivery_choice": "cart", "payment_choice": "cart"}
    df["stage"] = df["event_name"].map(names)
    product = df["stage"].isna() & df["page"].str.match(r"^/product/")
    df.loc[product, "stage"] = "consideration"
    pay = df[df["event_name"] == "payment_done"].sort_values(["user_id", "ts"])
    df.loc[pay.index, "stage"] = "repeat"
    df.loc[pay.groupby("user_id").head(1).index, "stage"] = "purchase"
    df["event"] = df["event_name"].replace({"payment_done": "purchase", "cart": "add_to_cart"})
    return df.rename(columns={"user_id": "customer_id", "event_name": "source_event", "amount": "revenue"})


@pytest.fixture(scope="module")
def shop() -> jl.Journey:
    return jl.load_journey(SHOP / "journey.yml")


def frame(j: jl.Journey) -> pd.DataFrame:
    return j.events.to_pandas().sort_values(["customer_id", "ts", "source_event"]).reset_index(drop=True)


# --- the small shop's clickstream: values against pandas ---------------------------------

def test_shop_events_equal_an_independent_computation(shop):
    ref = shop_reference().sort_values(["customer_id", "ts", "source_event"]).reset_index(drop=True)
    got = frame(shop)
    assert len(got) == len(ref) == 272
    cols = ["customer_id", "ts", "event", "source_event", "stage", "revenue", "page"]
    pd.testing.assert_frame_equal(got[cols].fillna(float("nan")), ref[cols], check_dtype=False)
    # day-first local time (CET, then CEST from 2025-03-30) read as UTC
    first = got.iloc[0]
    assert (first["customer_id"], first["ts"]) == ("u001", pd.Timestamp("2025-03-13 08:08", tz="UTC"))


def test_shop_stage_table_counts(shop):
    ref = shop_reference()
    s = shop.summary.set_index("item")
    for stage in STAGES:
        sel = ref[ref["stage"] == stage]
        assert s.loc[stage, "events"] == len(sel), stage
        assert s.loc[stage, "customers"] == sel["customer_id"].nunique(), stage
    unmatched = ref[ref["stage"].isna()]
    row = s.loc["no stage (no rule matched)"]
    assert row["events"] == len(unmatched) == 61
    assert row["customers"] == unmatched["customer_id"].nunique()
    top = unmatched["source_event"].value_counts()
    assert row["detail"] == ", ".join(f"{k} ({v})" for k, v in top.items())
    assert s.loc["customers with no staged event", "customers"] == 0
    assert s.loc["time range", "events"] == 272 and s.loc["time range", "customers"] == 16
    assert s.loc["time range", "detail"] == (f"{ref.ts.min():%Y-%m-%d} to {ref.ts.max():%Y-%m-%d}")
    # repeat buyers and revenue as read from `amount`
    pay = ref[ref["source_event"] == "payment_done"]
    assert s.loc["repeat", "customers"] == (pay.groupby("customer_id").size() > 1).sum() == 6
    got = shop.events.to_pandas()
    assert got.loc[got.event == "purchase", "revenue"].sum() == pytest.approx(pay["revenue"].sum())


def test_shop_settings_checks_and_findings(shop):
    assert shop.stages == STAGES
    assert shop.name == "Small shop clickstream"
    assert shop.segment_by is None and shop.customers is None and shop.assignments is None
    assert shop.touch_col is None  # no channel column: attribution has no touchpoints
    checks = {c.name: c for c in shop.checks}
    assert checks["events without a stage"].status == "warn"
    assert checks["touchpoints"].status == "warn"
    assert checks["role event purchase: payment_done"].detail == "20 events"
    assert checks["stage rule stages.rules[4]: event payment_done and first occurrence -> purchase"].detail == \
        "assigns 14 events"
    texts = [f.text for f in shop.findings]
    assert texts[0] == ("22% of events match no stage rule: delivery_submit (23), confirmation (20), "
                        "account (12), contacts (6).")
    assert shop.findings[0].value == pytest.approx(61 / 272)
    assert "attribution cannot say which channels" in texts[1]
    # the protocol: summary is a copy, HTML is escaped
    table = shop.summary
    table.loc[0, "events"] = -1
    assert shop.summary.loc[0, "events"] == 24
    assert "<h4>Small shop clickstream</h4>" in shop._repr_html_()
    assert shop.inputs[0].source.endswith("events.csv") and shop.inputs[0].rows == 272


def test_period_filter_after_stages(tmp_path):
    p = shop_yml(tmp_path, extra="period: {start: 2025-03-20, end: 2025-04-05}\n")
    j = jl.load_journey(p)
    ref = shop_reference()
    inside = ref[(ref.ts >= pd.Timestamp("2025-03-20", tz="UTC")) & (ref.ts < pd.Timestamp("2025-04-06", tz="UTC"))]
    got = frame(j)
    assert len(got) == len(inside) and len(inside) < len(ref)
    # stages come from the whole log: a first purchase before the period keeps later ones 'repeat'
    assert (got.groupby("stage").size().to_dict() == inside.groupby("stage").size().to_dict())
    s = j.summary.set_index("item")
    assert s.loc["outside the period (dropped)", "events"] == len(ref) - len(inside)
    assert j.period == (pd.Timestamp("2025-03-20", tz="UTC"), pd.Timestamp("2025-04-06", tz="UTC"))
    assert {c.name: c.detail for c in j.checks}["period"] == \
        f"{len(ref) - len(inside)} of 272 events outside the period dropped"


def test_period_last_days(tmp_path):
    j = jl.load_journey(shop_yml(tmp_path, extra="period: {last_days: 7}\n"))
    ref = shop_reference()
    end = ref.ts.max() + pd.Timedelta(microseconds=1)
    inside = ref[ref.ts >= end - pd.Timedelta(days=7)]
    assert len(frame(j)) == len(inside) > 0


def test_sample_rules_reproduce_the_bundled_stage_column(tmp_path):
    p = write(tmp_path, f"""
        sources:
          events: {{path: {SAMPLE_DIR / 'events.parquet'}}}
        stages:
          order: [awareness, consideration, cart, purchase, repeat, advocacy]
          rules:
            - {{stage: awareness, event: landing}}
            - {{stage: consideration, event: product_view}}
            - {{stage: cart, event: add_to_cart}}
            - {{stage: purchase, event: purchase, occurrence: first}}
            - {{stage: repeat, event: purchase}}
            - {{stage: advocacy, event: review}}
        """)
    got = jl.load_journey(p).events.to_pandas()
    bundled = pd.read_parquet(SAMPLE_DIR / "events.parquet")
    keys = ["customer_id", "ts", "event", "channel", "revenue"]
    m = bundled.merge(got, on=keys, how="outer", suffixes=("_bundled", "_rules"), indicator=True)
    assert len(got) == len(bundled) == len(m) and (m["_merge"] == "both").all()
    assert m["stage_bundled"].fillna("-").equals(m["stage_rules"].fillna("-"))


def test_sample_definition_gives_the_sample_dataset():
    j = jl.load_journey("sample")
    ds = jl.load_dataset("sample")
    order = ["customer_id", "ts", "event", "stage"]
    a = j.events.to_pandas().sort_values(order).reset_index(drop=True)
    b = ds.events.to_pandas().sort_values(order).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    ca, cb = (x.customers.to_pandas().sort_values("customer_id").reset_index(drop=True) for x in (j, ds))
    pd.testing.assert_frame_equal(ca, cb)
    aa, ab = (x.assignments.to_pandas().sort_values(["experiment", "customer_id"]).reset_index(drop=True)
              for x in (j, ds))
    pd.testing.assert_frame_equal(aa, ab)
    assert j.ground_truth == ds.ground_truth
    assert [(r.table, r.source, r.rows, r.sha256) for r in j.inputs] == \
        [(r.table, r.source, r.rows, r.sha256) for r in ds.inputs]
    assert j.stages == list(jl.DEFAULT_STAGES)
    assert (j.segment_by, j.touch_col, j.name) == ("segment", "channel", "Simulated shop (sample data)")
    assert j.definition.segments == ("segment", "acquisition_channel")
    s = j.summary.set_index("item")
    assert s.loc["outbound messages (not staged)", "events"] == (b.event == "winback_sent").sum()
    assert s.loc["no stage", "events"] == 0
    assert s.loc["purchase", "customers"] == b.loc[b.stage == "purchase", "customer_id"].nunique()
    assert read_journey(SAMPLE_DIR) == read_journey(SAMPLE_DIR / "journey.yml")


def test_cdnow_definition_first_and_repeat_purchases():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        j = jl.load_journey("cdnow")
    raw = pd.read_csv(CDNOW_DIR / "cdnow_sample_events.csv", dtype={"customer_id": str}).drop_duplicates()
    s = j.summary.set_index("item")
    assert s.loc["purchase", "events"] == raw["customer_id"].nunique() == 2357
    assert s.loc["repeat", "events"] == len(raw) - 2357
    assert s.loc["repeat", "customers"] == (raw.groupby("customer_id").size() > 1).sum()
    assert s.loc["duplicate events (dropped)", "events"] == 21
    assert j.touch_col is None


def test_role_events_are_canonical_and_outbound():
    from journeylib.core.schema import OUTBOUND_EVENTS, ROLE_EVENTS

    assert OUTBOUND_EVENTS == ("winback_sent", "message_sent")
    assert ROLE_EVENTS == {"purchase": "purchase", "cart": "add_to_cart", "review": "review",
                           "referral": "referral", "message_sent": "message_sent",
                           "message_open": "message_open", "message_click": "message_click"}


# --- experiments from events ----------------------------------------------------------

def test_experiments_from_first_exposure(tmp_path):
    (tmp_path / "ev.csv").write_text(textwrap.dedent("""\
        uid,when,what,test,arm
        a,2025-01-02 10:00:00,exposure,hero,B
        a,2025-01-01 09:00:00,exposure,hero,B
        a,2025-01-03 09:00:00,buy,,
        b,2025-01-05 12:00:00,exposure,hero,A
        b,2025-01-04 12:00:00,exposure,price,A
        c,2025-01-06 08:30:00,view,,
        """))
    p = write(tmp_path, """
        sources:
          events: {path: ev.csv, columns: {uid: customer_id, when: ts, what: event}}
        stages:
          order: [purchase]
          rules: [{stage: purchase, event: buy}]
        events: {purchase: buy}
        experiments: {from: events, event: exposure, experiment_column: test, variant_column: arm}
        """)
    j = jl.load_journey(p)
    got = j.assignments.to_pandas().sort_values(["experiment", "customer_id"]).reset_index(drop=True)
    want = pd.DataFrame({"customer_id": ["a", "b", "b"], "experiment": ["hero", "hero", "price"],
                         "variant": ["B", "A", "A"],
                         "assigned_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-05 12:00",
                                                        "2025-01-04 12:00"]).tz_localize("UTC")})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert j.inputs[-1].table == "assignments" and j.inputs[-1].source.endswith("ev.csv (exposures)")
    # a customer exposed to two variants of one experiment is left out of it, with a warning
    with open(tmp_path / "ev.csv", "a") as fh:
        fh.write("a,2025-01-07 10:00:00,exposure,hero,A\n")
    with pytest.warns(jl.JourneyDataWarning, match=r"hero: 1 of 2 \(50\.0%\)"):
        j = jl.load_journey(p)
    got = j.assignments.to_pandas().sort_values(["experiment", "customer_id"])
    assert got[["customer_id", "experiment", "variant"]].values.tolist() == [["b", "hero", "A"], ["b", "price", "A"]]


# --- other formats go through readers.read_export -------------------------------------

def test_other_formats_use_read_export(tmp_path, monkeypatch):
    calls = []

    def read_export(format, path, *, columns=None, timezone="UTC", con=None, messages=None, timestamp_format=None):
        calls.append((format, path, dict(columns=columns, timezone=timezone, messages=messages,
                                         timestamp_format=timestamp_format)))
        return {"events": pd.DataFrame({"customer_id": ["x", "x", "y"],
                                        "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
                                        "event": ["order", "order", "order"], "amount": [10.0, 5.0, 7.5]}),
                "customers": pd.DataFrame({"customer_id": ["x", "y"], "acquisition_channel": ["email", None]})}

    from journeylib.core import readers

    monkeypatch.setattr(readers, "read_export", read_export)
    (tmp_path / "orders.csv").write_text("anything\n1\n")
    (tmp_path / "messages.csv").write_text("anything\n1\n")
    p = write(tmp_path, """
        sources:
          events:
            path: orders.csv
            format: orders
            columns: {client: customer_id}
            timezone: Europe/Paris
          messages: {path: messages.csv}
        stages:
          order: [purchase, repeat]
          rules:
            - {stage: purchase, event: order, occurrence: first}
            - {stage: repeat, event: order}
        events: {purchase: order, revenue: amount}
        segments: acquisition_channel
        """)
    j = jl.load_journey(p)
    assert calls == [("orders", str(tmp_path / "orders.csv"),
                      {"columns": {"client": "customer_id"}, "timezone": "Europe/Paris",
                       "messages": str(tmp_path / "messages.csv"), "timestamp_format": None})]
    ev = j.events.to_pandas().sort_values("ts")
    assert ev["event"].tolist() == ["purchase"] * 3 and ev["source_event"].tolist() == ["order"] * 3
    assert ev["stage"].tolist() == ["purchase", "repeat", "purchase"]
    assert ev["revenue"].tolist() == [10.0, 5.0, 7.5]
    assert [r.table for r in j.inputs] == ["events", "customers"]
    assert j.inputs[0].source.endswith("orders.csv (orders)")
    assert j.segment_by == "acquisition_channel"
    assert j.customers.to_pandas().set_index("customer_id")["acquisition_channel"].to_dict() == \
        {"x": "email", "y": None}
    # an option the reader does not take
    p.write_text(p.read_text().replace("timezone: Europe/Paris", "options: {sheet: 2}"))
    with pytest.raises(JourneyParameterError, match=r"(?s)line 6, sources.events.options.sheet: unknown option "
                                                    r"'sheet' of the orders reader; expected one of columns"):
        jl.load_journey(p)


# --- every definition error names the key and the line --------------------------------

def test_unknown_key_suggests_the_closest(tmp_path):
    p = write(tmp_path, """
        sources:
          events: {path: x.csv}
        stages:
          ordr: [a, b]
          column: stage
        """)
    with pytest.raises(JourneyParameterError) as e:
        read_journey(p)
    msg = str(e.value)
    assert msg.startswith("journey.yml, line 4, stages.ordr: unknown key 'ordr'; expected one of order, column, rules")
    assert "did you mean 'order'?" in msg
    p = write(tmp_path, """
        sources:
          events:
            path: x.csv
            timestamp_fromat: "%d/%m/%Y"
        stages: {column: stage}
        """)
    with pytest.raises(JourneyParameterError, match=r"(?s)line 4, sources.events.timestamp_fromat: unknown key .*"
                                                    r"did you mean 'timestamp_format'\?"):
        read_journey(p)


@pytest.mark.parametrize("rules, key, line, expected", [
    ('[{stage: awareness, event: main}, {stage: purchse, event: payment_done}]', r"stages.rules\[1\].stage", 3,
     r"got 'purchse'; expected a stage of stages.order .*did you mean 'purchase'\?"),
    ('\n  - {stage: awareness, event: main}\n  - {stage: cart, column: page, pattern: "(unclosed"}',
     r"stages.rules\[1\].pattern", 5, r"got '\(unclosed'; expected a regular expression \(missing \)"),
    ('\n  - {stage: cart, column: page}', r"stages.rules\[0\].pattern", 4,
     "got nothing; expected column and pattern together"),
    ('\n  - {stage: cart, occurrence: last, event: cart}', r"stages.rules\[0\].occurrence", 4,
     "got 'last'; expected first"),
    ('\n  - {stage: cart}', r"stages.rules\[0\]", 4, "got \\{'stage': 'cart'\\}; expected at least one condition"),
])
def test_bad_rules(tmp_path, rules, key, line, expected):
    p = write(tmp_path, "stages:\n  order: [awareness, cart, purchase]\n  rules: " + rules.lstrip(" ") +
              "\nsources: {events: {path: x.csv}}\n")
    with pytest.raises(JourneyParameterError, match=rf"(?s)journey.yml, line {line}, {key}: {expected}"):
        read_journey(p)


@pytest.mark.parametrize("period, key, line, expected", [
    ("{start: 2025-04-01, end: 2025-03-01}", "period.end", 4, r"got datetime.date\(2025, 3, 1\); expected a time "
                                                             "after period.start"),
    ("{last_days: 0}", "period.last_days", 4, "got 0; expected a whole number of days >= 1"),
    ("{start: soon}", "period.start", 4, "got 'soon'; expected a date such as 2024-01-01"),
    ("{last_days: 30, end: 2025-01-01}", "period.last_days", 4, "expected either last_days or start/end"),
    ("\n  begin: 2025-01-01", "period.begin", 5, "unknown key 'begin'"),
])
def test_bad_period(tmp_path, period, key, line, expected):
    p = write(tmp_path, "sources: {events: {path: x.csv}}\nstages: {column: stage}\n\nperiod: " + period + "\n")
    with pytest.raises(JourneyParameterError, match=rf"(?s)journey.yml, line {line}, {key}: .*{expected}"):
        read_journey(p)


def test_other_definition_errors(tmp_path):
    cases = [
        ("sources: {events: {path: x.csv, format: ga5}}\nstages: {column: stage}\n",
         r"line 1, sources.events.format: got 'ga5'; expected one of canonical, ga4.*did you mean 'ga4'\?"),
        ("sources: {events: {path: x.csv, timezone: Europe/Berln}}\nstages: {column: stage}\n",
         r"line 1, sources.events.timezone: got 'Europe/Berln'.*did you mean 'Europe/Berlin'\?"),
        ("sources: {events: {path: x.csv, timestamp_format: dd/mm/yyyy}}\nstages: {column: stage}\n",
         r"line 1, sources.events.timestamp_format: got 'dd/mm/yyyy'; expected a strptime format"),
        ("sources: {customers: {path: c.csv}}\nstages: {column: stage}\n",
         r"line 1, sources.events: got nothing; expected 'events' to be given"),
        ("sources: {events: {path: x.csv}}\nstages: {order: [a]}\n",
         r"line 2, stages: got \{'order': \['a'\]\}; expected stages.rules .* or stages.column"),
        ("sources: {events: {path: x.csv}}\nstages: {column: stage}\nevents:\n  purchase: buy\n  cart: [buy]\n",
         r"line 5, events.cart: got 'buy'; expected each event name in one role \(buy is also in events.purchase\)"),
        ("sources: {events: {path: x.csv}}\nstages: {column: stage}\nversion: 2\n",
         r"line 3, version: got 2; expected 1"),
        ("sources: {events: {path: x.csv}}\nstages: {column: stage}\nstages: {column: s}\n",
         r"line 3, stages: the key is given twice"),
        ("sources: {events: {path: x.csv}\nstages: {column: stage}\n",
         r"journey.yml, line 2: not valid YAML"),
        ("sources: {events: {path: x.csv}}\nstages: {column: stage}\nsegments: {a: 1}\n",
         r"line 3, segments: got \{'a': 1\}; expected a customers column name or a list"),
        ("sources: {events: {path: x.csv, decimal: ';'}}\nstages: {column: stage}\n",
         r"line 1, sources.events.decimal: got ';'; expected '.' or ','"),
        ("sources: {events: {path: x.csv, options: {decimal_separator: ','}}}\nstages: {column: stage}\n",
         r"line 1, sources.events.options: got .*; expected no options for a canonical source"),
    ]
    for text, expected in cases:
        p = write(tmp_path, text)
        with pytest.raises(JourneyParameterError, match="(?s)" + expected):
            read_journey(p)
    with pytest.raises(JourneyParameterError, match="journey definition not found"):
        read_journey(tmp_path / "missing.yml")


def test_rule_matching_nothing(tmp_path):
    rules = """
        - {stage: awareness, event: main}
        - {stage: consideration, event: catalogue}
        - {stage: purchase, event: payment_done}"""
    p = shop_yml(tmp_path, rules=rules)
    with pytest.raises(JourneyDataError) as e:
        jl.load_journey(p)
    msg = str(e.value)
    assert msg.startswith("journey.yml, line 12, stages.rules[1]: the rule (event catalogue -> consideration) "
                          "matches no event; expected at least one matching event")
    assert "catalog (50)" in msg
    # not strict: a failed check, as `journeylib check` shows it
    j = jl.load_journey(p, strict=False)
    status = {c.name: c.status for c in j.checks}
    assert status["stage rule stages.rules[1]: event catalogue -> consideration"] == "fail"
    assert j.summary.set_index("item").loc["consideration", "events"] == 0


def test_no_rule_matching_anything_counts_no_staged_event(tmp_path):
    """Every event without a stage (`journeylib check` on rules that all miss): the check table still
    counts zero events and customers per stage, and every customer as one with no staged event."""
    p = shop_yml(tmp_path, rules="- {stage: awareness, event: no_such_event}")
    j = jl.load_journey(p, strict=False)
    s = j.summary.set_index("item")
    assert (s.loc[list(j.definition.stages), ["events", "customers"]] == 0).all().all()
    n = j.stats["customers"]
    assert n > 0 and j.stats["staged_customers"] == 0 and j.stats["unstaged_customers"] == n
    assert s.loc["customers with no staged event", "customers"] == n


def test_rule_on_a_missing_column(tmp_path):
    p = shop_yml(tmp_path, rules="- {stage: consideration, column: path, pattern: ^/product/}")
    with pytest.raises(JourneyDataError, match=r"(?s)line 11, stages.rules\[0\].column: no column 'path' in the "
                                               r"events.*did you mean 'page'\?"):
        jl.load_journey(p)


def test_role_event_that_never_occurs(tmp_path):
    p = shop_yml(tmp_path, events_keys="{purchase: payment_done, revenue: amount, review: [review, rating]}")
    with pytest.raises(JourneyDataError, match=r"(?s)line 17, events.review\[0\]: the review event 'review' never "
                                               r"occurs in the events; expected an event name of the data: "
                                               r"catalog \(50\)"):
        jl.load_journey(p)
    j = jl.load_journey(p, strict=False)
    assert {c.name: c.status for c in j.checks}["role event review: rating"] == "fail"


def test_mapping_to_a_missing_column(tmp_path):
    p = write(tmp_path, f"""
        sources:
          events:
            path: {SHOP / 'events.csv'}
            columns: {{user: customer_id, event_time: ts, event_name: event}}
            timestamp_format: "%d/%m/%Y %H:%M"
        stages: {{rules: [{{stage: awareness, event: main}}]}}
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)line 4, sources.events.columns.user: maps column 'user' to "
                                               r"customer_id, but events has no column 'user'; expected one of its "
                                               r"columns: user_id, event_time.*did you mean 'user_id'\?"):
        jl.load_journey(p)
    p = shop_yml(tmp_path, events_keys="{purchase: payment_done, revenue: value}")
    with pytest.raises(JourneyDataError, match=r"(?s)line 17, events.revenue: maps column 'value' to revenue"):
        jl.load_journey(p)


def test_ambiguous_dates_need_a_format(tmp_path):
    p = write(tmp_path, f"""
        sources:
          events:
            path: {SHOP / 'events.csv'}
            columns: {{user_id: customer_id, event_time: ts, event_name: event}}
        stages: {{rules: [{{stage: awareness, event: main}}]}}
        """)
    with pytest.raises(JourneyDataError) as e:
        jl.load_journey(p)
    msg = str(e.value)
    assert msg.startswith("journey.yml, line 2, sources.events: column 'event_time' of events holds dates such as "
                          "'13/03/2025 09:08' and no timestamp_format is given; they look day-first")
    assert 'set sources.events.timestamp_format: "%d/%m/%Y %H:%M"' in msg
    # both readings fit: DuckDB would silently read 03/04/2025 day-first; here it is an error
    (tmp_path / "amb.csv").write_text("customer_id,ts,event\na,03/04/2025,main\nb,05/06/2025,main\n")
    p = write(tmp_path, """
        sources: {events: {path: amb.csv}}
        stages: {rules: [{stage: awareness, event: main}]}
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)day-first \(%d/%m/%Y\) and month-first \(%m/%d/%Y\) both fit"):
        jl.load_journey(p)
    # with the format: month-first as asked
    p = write(tmp_path, """
        sources: {events: {path: amb.csv, timestamp_format: "%m/%d/%Y"}}
        stages: {rules: [{stage: awareness, event: main}]}
        """)
    ts = jl.load_journey(p).events.to_pandas().sort_values("customer_id")["ts"].tolist()
    assert ts == [pd.Timestamp("2025-03-04", tz="UTC"), pd.Timestamp("2025-05-06", tz="UTC")]
    # a format the text does not fit
    p = write(tmp_path, """
        sources: {events: {path: amb.csv, timestamp_format: "%Y-%m-%d"}}
        stages: {rules: [{stage: awareness, event: main}]}
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)line 1, sources.events.timestamp_format: 2 values of column 'ts' "
                                               r"in events do not fit the format '%Y-%m-%d'"):
        jl.load_journey(p)


def test_stage_column_values_not_in_order(tmp_path):
    (tmp_path / "ev.csv").write_text("customer_id,ts,event,phase\na,2025-01-01,visit,top\na,2025-01-02,buy,bottom\n")
    p = write(tmp_path, """
        sources: {events: {path: ev.csv}}
        stages:
          order: [top, middle]
          column: phase
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)journey.yml, line 3, stages.order: the stage column 'phase' has "
                                               r"values that are not in stages.order \(top, middle\)"):
        jl.load_journey(p)
    p.write_text(p.read_text().replace("[top, middle]", "[top, middle, bottom]"))
    got = jl.load_journey(p).events.to_pandas().sort_values("ts")
    assert got["stage"].tolist() == ["top", "bottom"]


def test_missing_files_and_segments(tmp_path):
    p = write(tmp_path, """
        sources:
          events: {path: nowhere.csv}
        stages: {column: stage}
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)line 2, sources.events.path: file not found: .*nowhere.csv"):
        jl.load_journey(p)
    p = write(tmp_path, f"""
        sources:
          events: {{path: {SAMPLE_DIR / 'events.parquet'}}}
          customers: {{path: {SAMPLE_DIR / 'customers.parquet'}}}
        stages: {{column: stage}}
        segments: [segment, acquisition]
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)line 5, segments\[1\]: no column 'acquisition' in customers.*"
                                               r"did you mean 'acquisition_channel'\?"):
        jl.load_journey(p)


def test_definition_object_and_keys(tmp_path):
    d = read_journey(SHOP / "journey.yml")
    assert isinstance(d, JourneyDefinition)
    assert d.rules[4].occurrence == "first" and d.rules[2].pattern == "^/product/"
    assert d.roles == {"purchase": ("payment_done",), "cart": ("cart",)}
    assert d.revenue_column == "amount" and d.touch_col == "channel" and d.period is None
    assert d.sources["events"].timezone == "Europe/Berlin"
    assert d.where("stages.rules[3].events") == "journey.yml, line 16, stages.rules[3].events"
    # a definition object loads like its file
    assert len(frame(jl.load_journey(d))) == 272


def test_stage_column_that_is_missing(tmp_path):
    (tmp_path / "ev.csv").write_text("customer_id,ts,event,phase\na,2025-01-01,visit,top\n")
    p = write(tmp_path, """
        sources: {events: {path: ev.csv}}
        stages:
          order: [top]
          column: phse
        """)
    with pytest.raises(JourneyDataError, match=r"(?s)journey.yml, line 4, stages.column: maps column 'phse' to "
                                               r"stage, but events has no column 'phse'; expected one of its columns: "
                                               r"customer_id, ts, event, phase.*did you mean 'phase'\?"):
        jl.load_journey(p)
    p.write_text(p.read_text().replace("phse", "stage"))
    with pytest.raises(JourneyDataError, match=r"(?s)journey.yml, line 4, stages.column: no column 'stage' in the "
                                               r"events; expected one of customer_id, ts, event, phase"):
        jl.load_journey(p)


def test_touchpoints_from_event_names(tmp_path):
    j = jl.load_journey(shop_yml(tmp_path, extra="touchpoints: {events: [main, search]}\n"))
    ref = shop_reference()
    got = frame(j)
    assert j.touch_col == "touchpoint" and j.definition.touch_events == ("main", "search")
    want = ref.sort_values(["customer_id", "ts", "source_event"])["source_event"].where(
        ref.sort_values(["customer_id", "ts", "source_event"])["source_event"].isin(["main", "search"]))
    assert got["touchpoint"].fillna("-").tolist() == want.fillna("-").tolist()
    assert got["touchpoint"].notna().sum() == 34
    assert "touchpoints" not in {c.name for c in j.checks}


def test_decimal_comma_amounts(tmp_path):
    """A European export: revenue and cost spend written 1.234,56 are read as 1234.56 with decimal: ','; without
    it, the loader names the decimal comma and the key that reads it."""
    (tmp_path / "ev.csv").write_text(textwrap.dedent("""\
        user;time;action;channel;value
        a;2025-03-01 10:00;visit;email;
        a;2025-03-02 10:00;buy;;1.234,56
        b;2025-03-03 10:00;visit;search;
        b;2025-03-04 10:00;buy;;13,26
        b;2025-03-05 10:00;buy;;7
        """))
    (tmp_path / "costs.csv").write_text("channel;period;spend\nemail;2025-03;1.000,50\nsearch;2025-03;99,9\n")
    text = """
        sources:
          events:
            path: ev.csv
            columns: {{user: customer_id, time: ts, action: event}}{decimal}
          costs:
            path: costs.csv{decimal}
        stages:
          order: [awareness, purchase]
          rules: [{{stage: awareness, event: visit}}, {{stage: purchase, event: buy}}]
        events:
          purchase: [buy]
          revenue: value
        """
    j = jl.load_journey(write(tmp_path, textwrap.dedent(text.format(decimal="\n            decimal: ','"))))
    ev = j.events.to_pandas().sort_values("ts")
    assert ev.loc[ev["event"] == "purchase", "revenue"].tolist() == [1234.56, 13.26, 7.0]
    costs = j.costs.to_pandas() if hasattr(j.costs, "to_pandas") else j.costs
    assert sorted(costs["spend"].tolist()) == [99.9, 1000.5]
    with pytest.raises(JourneyDataError, match=r"(?s)column 'revenue' of events: 2 of 5 rows invalid.*What to do: "
                       r"these amounts use a decimal comma \(1\.234,56\): add decimal: ',' to sources\.events"):
        jl.load_journey(write(tmp_path, textwrap.dedent(text.format(decimal=""))))


def test_amounts_written_with_a_currency_and_the_currency_column(tmp_path):
    """A French export: amounts written 1 234,56 € (a no-break space groups thousands) are read with decimal: ',';
    the definition's events.currency names the column holding each order's currency, and orders in two currencies
    are an error naming both (revenue is added up)."""
    rows = [("a", "2025-03-01 10:00", "visite", ""), ("a", "2025-03-02 10:00", "achat", "1\u00a0234,56 €"),
            ("b", "2025-03-03 10:00", "achat", "13,26 €"), ("b", "2025-03-05 10:00", "achat", "7 €")]
    text = textwrap.dedent("""
        sources:
          events:
            path: ev.csv
            columns: {user: customer_id, time: ts, action: event}
            decimal: ','
        stages:
          order: [awareness, purchase]
          rules: [{stage: awareness, event: visite}, {stage: purchase, event: achat}]
        events:
          purchase: [achat]
          revenue: montant
          currency: Devise
        """)

    def journey(currencies):
        lines = ["user;time;action;montant;Devise"] + [";".join(r) + f";{c}" for r, c in zip(rows, currencies)]
        (tmp_path / "ev.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return jl.load_journey(write(tmp_path, text))

    ev = journey(["", "EUR", "EUR", "eur"]).events.to_pandas().sort_values("ts")
    assert ev.loc[ev["event"] == "purchase", "revenue"].tolist() == [1234.56, 13.26, 7.0]
    assert ev.loc[ev["event"] == "purchase", "currency"].str.upper().tolist() == ["EUR"] * 3
    with pytest.raises(JourneyDataError, match=r"(?s)column 'currency' of events: 1 of 3 rows invalid.*expected one "
                                               r"currency for all revenue.*found EUR 2, CHF 1 priced rows"):
        journey(["", "EUR", "CHF", "EUR"])


def test_unix_times_declared_in_the_definition(tmp_path):
    """timestamp_format: unix_ms reads epoch milliseconds as UTC whatever the source's time zone (a Unix time
    names an instant); a customers' joined-at column of Unix seconds with blanks is read alike."""
    (tmp_path / "ev.csv").write_text("user,time,action\na,1736078400123,visit\na,1736082000000,buy\n"
                                     "b,1736164800000,visit\n")
    (tmp_path / "cu.csv").write_text("user,joined_at\na,1736078400\nb,\n")
    text = textwrap.dedent("""
        sources:
          events:
            path: ev.csv
            columns: {user: customer_id, time: ts, action: event}
            timestamp_format: unix_ms
            timezone: Europe/Paris
          customers:
            path: cu.csv
            columns: {user: customer_id}
            timestamp_format: unix_s
        stages:
          order: [awareness, purchase]
          rules: [{stage: awareness, event: visit}, {stage: purchase, event: buy}]
        events:
          purchase: [buy]
        """)
    j = jl.load_journey(write(tmp_path, text))
    ev = j.events.to_pandas().sort_values("ts")
    assert ev["ts"].tolist() == list(pd.to_datetime([1736078400123, 1736082000000, 1736164800000], unit="ms",
                                                    utc=True))
    cu = j.customers.to_pandas().set_index("customer_id")
    assert cu.loc["a", "joined_at"] == pd.Timestamp(1736078400, unit="s", tz="UTC") and pd.isna(cu.loc["b", "joined_at"])
    with pytest.raises(JourneyParameterError, match=r"timestamp_format: got .unix_ns.*unix_s, unix_ms or unix_us"):
        jl.load_journey(write(tmp_path, text.replace("unix_ms", "unix_ns")))


def test_the_message_log_of_an_orders_export_is_its_message_events(tmp_path):
    """An orders export's message log is read into the events (message_sent, message_click); the journey's message
    log is those events again, row for row as the file has them, so the campaigns report has it."""
    jl.write_export(jl.simulate_journeys(300, seed=5), "orders", tmp_path)
    j = jl.load_journey(tmp_path / "journey.yml")
    got = j.messages.to_pandas()
    raw = pd.read_csv(tmp_path / "messages.csv")
    want = pd.DataFrame({"customer_id": raw["customer"], "ts": pd.to_datetime(raw["time"], utc=True),
                         "campaign": raw["campaign"], "channel": raw["channel"], "action": raw["kind"]})
    key = ["customer_id", "ts", "campaign", "channel", "action"]
    pd.testing.assert_frame_equal(got[key].sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert any(i.source.endswith("(message events)") for i in j.inputs)


def test_message_events_of_a_clickstream_are_its_message_log(tmp_path):
    """Message events with their roles give the message log: the action from the role, the campaign from
    events.campaign_column ("(not set)" where blank), the channel from the touchpoint column. Without message
    events there is no message log; a campaign column that is not in the events is named with the nearest one."""
    (tmp_path / "ev.csv").write_text(textwrap.dedent("""\
        user,time,action,medium,Campaign Name
        a,2025-03-01 10:00,Received Email,email,spring
        a,2025-03-01 11:00,Opened Email,email,spring
        a,2025-03-01 11:05,Clicked Email,email,spring
        a,2025-03-01 11:06,visit,email,spring
        b,2025-03-02 10:00,Received SMS,sms,
        b,2025-03-04 10:00,visit,search,
        """))
    text = """
        sources:
          events:
            path: ev.csv
            columns: {{user: customer_id, time: ts, action: event, medium: channel}}
        stages:
          order: [awareness]
          rules: [{{stage: awareness, event: visit}}]
        events:
          {roles}
          campaign_column: {campaign}
        """
    roles = "message_sent: [Received Email, Received SMS]\n          message_open: Opened Email\n" \
            "          message_click: Clicked Email"
    j = jl.load_journey(write(tmp_path, text.format(roles=roles, campaign='"Campaign Name"')))
    got = j.messages.to_pandas().sort_values("ts")
    assert got[["customer_id", "campaign", "channel", "action"]].values.tolist() == [
        ["a", "spring", "email", "send"], ["a", "spring", "email", "open"], ["a", "spring", "email", "click"],
        ["b", "(not set)", "sms", "send"]]
    assert jl.load_journey(write(tmp_path, text.format(roles="review: visit", campaign='"Campaign Name"'))).messages \
        is None
    with pytest.raises(JourneyDataError, match=r"(?s)events\.campaign_column.*no column 'Campaign' in the events.*did "
                                               r"you mean 'Campaign Name'"):
        jl.load_journey(write(tmp_path, text.format(roles=roles, campaign="Campaign")))


def test_a_source_in_another_encoding(tmp_path):
    """encoding: cp1252 reads Excel's plain CSV (a folder of monthly files too, and an orders export with its message
    log); utf-16 reads Excel's "Unicode text". The input files are never touched; the health panel names them. An
    unknown encoding, a Parquet source and an export read in UTF-8 are errors naming the key."""
    rows = ["customer_id;ts;event;channel", "Kühne;2025-01-05 10:00;visit;E-Mail – Newsletter",
            "Søren;2025-02-06 10:00;visit;Suche"]
    (tmp_path / "events").mkdir()
    for i, month in enumerate(("2025-01", "2025-02")):
        (tmp_path / "events" / f"{month}.csv").write_bytes("\n".join([rows[0], rows[i + 1]]).encode("cp1252") + b"\n")
    text = """
        sources:
          events: {{path: {path}, encoding: {encoding}}}
        stages:
          order: [awareness]
          rules: [{{stage: awareness, event: visit}}]
        """
    before = {f: f.read_bytes() for f in (tmp_path / "events").iterdir()}
    j = jl.load_journey(write(tmp_path, text.format(path="events", encoding="cp1252")))
    ev = j.events.to_pandas().sort_values("ts")
    assert ev["customer_id"].tolist() == ["Kühne", "Søren"] and ev["channel"].iloc[0] == "E-Mail – Newsletter"
    assert {f: f.read_bytes() for f in (tmp_path / "events").iterdir()} == before
    assert [i.source for i in j.inputs] == [str(tmp_path / "events")]
    (tmp_path / "unicode.txt").write_text("\n".join(r.replace(";", "\t") for r in rows) + "\n", encoding="utf-16")
    ev = jl.load_journey(write(tmp_path, text.format(path="unicode.txt", encoding="utf-16"))).events.to_pandas()
    assert sorted(ev["customer_id"]) == ["Kühne", "Søren"]
    (tmp_path / "orders.csv").write_bytes("Kunde;Datum;Betrag\nKühne;2025-01-05 10:00;12,50 €\n".encode("cp1252"))
    (tmp_path / "messages.csv").write_bytes("Kunde;Datum;kind;campaign;channel\n"
                                            "Kühne;2025-01-04 10:00;send;Rückkehr;email\n".encode("cp1252"))
    orders = """
        sources:
          events: {path: orders.csv, format: orders, decimal: ',', encoding: cp1252,
                   columns: {Kunde: customer_id, Datum: ts, Betrag: revenue}}
          messages: {path: messages.csv, encoding: cp1252}
        stages:
          order: [purchase]
          rules: [{stage: purchase, event: purchase}]
        """
    j = jl.load_journey(write(tmp_path, orders))
    assert j.events.to_pandas()["revenue"].dropna().tolist() == [12.5]
    assert j.messages.to_pandas()[["customer_id", "campaign"]].values.tolist() == [["Kühne", "Rückkehr"]]
    with pytest.raises(JourneyParameterError, match=r"sources\.events\.encoding: got 'windows-9999'; expected a text "
                                                    r"encoding such as utf-8, cp1252"):
        jl.load_journey(write(tmp_path, text.format(path="events", encoding="windows-9999")))
    ga4 = Path(__file__).parents[1] / "fixtures" / "exports" / "ga4_events.ndjson"
    with pytest.raises(JourneyParameterError, match=r"sources\.events\.encoding: the ga4 export is read in its own "
                                                    r"encoding"):
        jl.load_journey(write(tmp_path, text.format(path=f"'{ga4}'", encoding="cp1252")
                              .replace("encoding:", "format: ga4, encoding:")))
    pd.DataFrame({"customer_id": ["a"], "ts": ["2025-01-05"], "event": ["visit"]}).to_parquet(tmp_path / "ev.parquet")
    with pytest.raises(JourneyParameterError, match=r"sources\.events\.encoding: events: encoding applies to CSV and "
                                                    r"TSV files; .*ev\.parquet is not one"):
        jl.load_journey(write(tmp_path, text.format(path="ev.parquet", encoding="cp1252")))


# Every way a text time can carry its zone: the source's timezone must not move these instants
ZONED_TIMES = ["2024-01-05 10:00:00+01", "2024-07-05 10:00:00+02:00", "2024-01-05T10:00:00Z",
               "2024-01-05 10:00:00 UTC", "2024-01-05 10:00:00.250 UTC", "2024-01-05 10:00:00 GMT",
               "2024-01-05 10:00:00 Europe/Paris", "2024-01-05 10:00:00-0500"]


def test_a_source_timezone_moves_only_the_times_that_carry_no_zone(tmp_path):
    """PostgreSQL writes 10:00:00+01, BigQuery 10:00:00 UTC: such times are instants and stay put under
    ``timezone: America/New_York``, which applies to the time without a zone alone (10:00 in New York).
    A +01 offset, a UTC or a region name used to be dropped and the time read as New York's: off by hours."""
    naive = "2024-01-05 10:00:00"
    pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(ZONED_TIMES) + 1)], "ts": ZONED_TIMES + [naive],
                  "event": "visit"}).to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "journey.yml").write_text("sources:\n  events: {path: ev.csv, timezone: America/New_York}\n"
                                          "stages:\n  order: [awareness]\n  rules: [{stage: awareness, event: visit}]\n")
    got = jl.load_journey(tmp_path / "journey.yml").events.to_pandas().sort_values("customer_id")["ts"].tolist()
    paris = pd.Timestamp("2024-01-05 10:00:00", tz="Europe/Paris").tz_convert("UTC")
    expected = [pd.Timestamp(t.replace(" UTC", "Z").replace(" GMT", "Z"), tz=None).tz_convert("UTC")
                if "Paris" not in t else paris for t in ZONED_TIMES]
    expected.append(pd.Timestamp(naive, tz="America/New_York").tz_convert("UTC"))
    assert [pd.Timestamp(x) for x in got] == expected


def test_values_give_a_column_the_file_lacks_one_value_for_every_row(tmp_path):
    """A review site's export has no kind and one ad platform's report no channel: sources.<name>.values gives
    every row one value. A value for a column the file has is an error naming it, as is a value that is not
    text or a number, or values on an export format."""
    (tmp_path / "ev.csv").write_text("user,time,action,channel\na,2025-03-01 10:00,visit,paid_search\n"
                                     "a,2025-03-02 10:00,buy,\nb,2025-03-03 10:00,visit,email\n")
    (tmp_path / "reviews.csv").write_text("Reviewer,Review Created (UTC),Stars\na,2025-03-04 09:00,5\n"
                                          "b,2025-03-05 09:30,2\n")
    (tmp_path / "google_ads.csv").write_text("Month,Campaign,Cost\n2025-03,brand,120.5\n2025-03,generic,80\n")
    text = """
        sources:
          events:
            path: ev.csv
            columns: {{user: customer_id, time: ts, action: event}}
          feedback:
            path: reviews.csv
            columns: {{Reviewer: customer_id, "Review Created (UTC)": ts, Stars: score}}
            values: {{kind: review{extra}}}
          costs:
            path: google_ads.csv
            columns: {{Month: period, Campaign: campaign, Cost: spend}}
            values: {{channel: paid_search}}
        stages:
          order: [awareness, purchase]
          rules: [{{stage: awareness, event: visit}}, {{stage: purchase, event: buy}}]
        events:
          purchase: [buy]
        """
    j = jl.load_journey(write(tmp_path, text.format(extra="")))
    fb = j.feedback.to_pandas().sort_values("ts")
    assert fb["kind"].tolist() == ["review", "review"] and fb["score"].tolist() == [5.0, 2.0]
    assert fb["customer_id"].tolist() == ["a", "b"]
    assert fb["ts"].dt.strftime("%d %H:%M").tolist() == ["04 09:00", "05 09:30"]
    costs = j.costs.to_pandas() if hasattr(j.costs, "to_pandas") else j.costs
    assert costs[["channel", "campaign", "spend"]].values.tolist() == [["paid_search", "brand", 120.5],
                                                                      ["paid_search", "generic", 80.0]]
    with pytest.raises(JourneyDataError, match=r"(?s)sources\.feedback\.values\.score.*one score, but the file has a "
                       r"column 'Stars' mapped to score.*What to do: take score out of values"):
        jl.load_journey(write(tmp_path, text.format(extra=", score: 5")))
    with pytest.raises(JourneyParameterError, match=r"sources\.costs\.values.*one value every row gets"):
        jl.load_journey(write(tmp_path, text.format(extra="").replace("{channel: paid_search}",
                                                                      "{channel: [a, b]}")))
    with pytest.raises(JourneyParameterError, match=r"sources\.events\.values.*only for a canonical source"):
        read_journey(write(tmp_path, text.format(extra="").replace(
            "columns: {user: customer_id, time: ts, action: event}",
            "format: orders\n            values: {channel: shop}")))


def test_a_spend_report_with_day_first_dates_reads_them_with_the_source_format(tmp_path):
    """Microsoft's and LinkedIn's reports write periods as numbers (01/03/2025): the costs source's
    timestamp_format reads them; without it, the error names that key."""
    (tmp_path / "ev.csv").write_text("user,time,action,channel\na,2025-03-01 10:00,visit,email\n")
    (tmp_path / "costs.csv").write_text("Date;Channel;Spend\n01/03/2025;email;10,5\n13/03/2025;email;2\n")
    text = """
        sources:
          events:
            path: ev.csv
            columns: {{user: customer_id, time: ts, action: event}}
          costs:
            path: costs.csv
            columns: {{Date: period, Channel: channel, Spend: spend}}
            decimal: ','{fmt}
        stages:
          order: [awareness]
          rules: [{{stage: awareness, event: visit}}]
        """
    with pytest.raises(JourneyDataError, match=r"could be day-first or month-first: add timestamp_format to "
                                               r"sources\.costs"):
        jl.load_journey(write(tmp_path, text.format(fmt="")))
    j = jl.load_journey(write(tmp_path, text.format(fmt='\n            timestamp_format: "%d/%m/%Y"')))
    costs = j.costs.to_pandas()
    assert costs[["period", "spend"]].values.tolist() == [[pd.Timestamp("2025-03-01"), 10.5],
                                                          [pd.Timestamp("2025-03-13"), 2.0]]


SEGMENTS_YML = """
    sources:
      events: {{path: ev.csv, columns: {{user: customer_id, time: ts, action: event}}}}
      customers: {{path: cu.csv, columns: {{user: customer_id}}}}
    stages:
      order: [awareness]
      rules: [{{stage: awareness, event: visit}}]
    segments: {segments}
    """
"""journey.yml of ev.csv and cu.csv in a test's folder, its segments to fill in (line 7)."""


def test_a_segment_that_holds_personal_details_is_refused(tmp_path):
    """segments: [email] would print every customer's email in every report's split: refused, naming the key;
    a yes/no consent column or a country is a segment like any other."""
    (tmp_path / "ev.csv").write_text("user,time,action\na,2025-03-01 10:00,visit\nb,2025-03-02 10:00,visit\n")
    (tmp_path / "cu.csv").write_text("user,Email,Accepts Email Marketing,Country\na,a@x.org,yes,DE\nb,b@x.org,no,FR\n")
    text = SEGMENTS_YML
    with pytest.raises(JourneyParameterError, match=r"(?s)line 7, segments\[1\]: 'Email' holds personal details.*What to "
                                                    r"do: name a column such as"):
        jl.load_journey(write(tmp_path, text.format(segments="[Country, Email]")))
    j = jl.load_journey(write(tmp_path, text.format(segments='[Country, "Accepts Email Marketing"]')))
    assert j.definition.segments == ("Country", "Accepts Email Marketing")


def test_a_report_split_is_checked_where_the_report_asks_for_it(tmp_path):
    """A report's segment_by goes through Journey.segment: empty is the definition's first segment, none no
    split; a personal column, a column the customers lack, or one with more values than a report can compare
    (a store number: every group a few customers, each one's numbers shown) is refused, naming the parameter
    or the journey.yml key, with what to do."""
    n = 2 * MAX_SEGMENT_GROUPS + 2
    ids = [f"c{i}" for i in range(n)]
    (tmp_path / "ev.csv").write_text("user,time,action\n" + "".join(f"{c},2025-03-01 10:00,visit\n" for c in ids))
    (tmp_path / "cu.csv").write_text("user,Phone,Store,Plan\n" + "".join(
        f"{c},+4930{i:05d},{10000 + i // 2},{'pro' if i % 3 else 'basic'}\n" for i, c in enumerate(ids)))
    text = SEGMENTS_YML
    j = jl.load_journey(write(tmp_path, text.format(segments="[Plan]")))
    assert (j.segment(), j.segment("none"), j.segment(" Plan ")) == ("Plan", "", "Plan")
    with pytest.raises(JourneyParameterError, match=rf"(?s)segment_by 'Store': 'Store' has {n // 2} different values; "
                                                    rf"expected at most {MAX_SEGMENT_GROUPS} groups.*What to do: add "
                                                    r"a column that groups"):
        j.segment("Store")
    with pytest.raises(JourneyParameterError, match=r"segment_by 'Phone': 'Phone' holds personal details"):
        j.segment("Phone")
    with pytest.raises(JourneyParameterError, match=r"(?s)segment_by 'plan': no column 'plan' in customers.*did "
                                                    r"you mean 'Plan'"):
        j.segment("plan")
    with pytest.raises(JourneyParameterError, match=rf"journey\.yml, line 7, segments\[1\]: 'Store' has {n // 2} "
                                                    r"different values.*"):
        jl.load_journey(write(tmp_path, text.format(segments="[Plan, Store]")))
    no_customers = jl.load_journey(write(tmp_path, text.format(segments="").replace(
        "customers: {path: cu.csv, columns: {user: customer_id}}", "").replace("segments: ", "")))
    assert no_customers.segment() == ""
    with pytest.raises(JourneyParameterError, match=r"(?s)segment_by 'Plan': a split by segment needs the "
                                                    r"customers table.*set segment_by to none"):
        no_customers.segment("Plan")


def test_a_segment_whose_values_are_contact_details_is_refused_whatever_its_name(tmp_path):
    """A 'cohort' column that holds three people's emails has few values and an innocent name: every report
    would print the addresses as segment names. Refused at load (naming the key) and as a report's split."""
    (tmp_path / "ev.csv").write_text("user,time,action\na,2025-03-01 10:00,visit\nb,2025-03-02 10:00,visit\n")
    (tmp_path / "cu.csv").write_text("user,cohort,desk,Plan\na,ann.lee@corp.example,+49 30 1234567,pro\n"
                                     "b,bo@corp.example,+49 30 7654321,basic\n")
    text = SEGMENTS_YML
    with pytest.raises(JourneyParameterError, match=r"(?s)line 7, segments\[1\]: 'cohort' holds email addresses; "
                                                    r"expected a column that splits.*What to do"):
        jl.load_journey(write(tmp_path, text.format(segments="[Plan, cohort]")))
    j = jl.load_journey(write(tmp_path, text.format(segments="[Plan]")))
    with pytest.raises(JourneyParameterError, match=r"segment_by 'desk': 'desk' holds phone numbers"):
        j.segment("desk")
    assert j.segment() == "Plan"


def test_times_that_end_in_a_zone_abbreviation(tmp_path):
    """'2025-07-05 09:00 BST' was read by DuckDB as Bangladesh time (+06:00): an abbreviation names several zones,
    so without a zone it is an error that says what to do; with the source's timezone the abbreviation is read
    as that zone's (PST in January, PDT in July); init guesses the zone, with a comment to check it."""
    (tmp_path / "events.csv").write_text("user,time,action\na,2025-01-05 09:00:00 PST,visit\n"
                                         "b,2025-07-05 09:00:00 PDT,visit\nc,2025-07-05 10:00:00,visit\n")
    text = """
        sources:
          events:
            path: events.csv
            columns: {{user: customer_id, time: ts, action: event}}{zone}
        stages:
          order: [awareness]
          rules: [{{stage: awareness, event: visit}}]
        """
    with pytest.raises(JourneyDataError, match=r"(?s)2 of 3 rows invalid.*What to do: these times end in a zone "
                                               r"abbreviation.*timezone: America/Los_Angeles for PST and PDT"):
        jl.load_journey(write(tmp_path, text.format(zone="")))
    j = jl.load_journey(write(tmp_path, text.format(zone="\n            timezone: America/Los_Angeles")))
    got = j.events.to_pandas().sort_values("customer_id")["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert got == ["2025-01-05 17:00", "2025-07-05 16:00", "2025-07-05 17:00"]
    bst = pd.DataFrame({"customer_id": ["a"], "ts": ["2025-07-05 09:00:00 BST"], "event": ["visit"]})
    with pytest.raises(JourneyDataError, match="zone abbreviation"):
        jl.load_events(bst)
    from journeylib.core import draft

    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "drafted.yml")
    assert "    timezone: America/Los_Angeles  # guess: the times end in PDT/PST" in d.text
    assert jl.load_journey(d.path).events.to_pandas()["ts"].dt.strftime("%H:%M").tolist().count("17:00") == 2


def _sample_as_several_exports(tmp_path: Path) -> str:
    """The sample's spend, feedback and message log as a company holds them: one spend report per ad platform
    (no channel column, a platform's own names), reviews without a kind beside a survey tool's export, and an
    email tool's log beside the other channels'. Returns the journey.yml text that lists them."""
    costs = pd.read_parquet(SAMPLE_DIR / "costs.parquet")
    for ch, cols in (("email", {"period": "Month", "spend": "Cost"}), ("paid_ads", {"period": "Month", "spend": "Cost"}),
                     ("social", {"period": "Reporting starts", "spend": "Amount spent (EUR)"})):
        part = costs[costs.channel == ch].drop(columns="channel").rename(columns=cols)
        if ch == "social":
            part["Reporting starts"] = part["Reporting starts"] + "-01"
        part.to_csv(tmp_path / f"spend_{ch}.csv", index=False)
    fb = pd.read_parquet(SAMPLE_DIR / "feedback.parquet")
    fb[fb.kind == "review"].drop(columns="kind").rename(columns={"customer_id": "Customer", "score": "Stars"}).to_csv(
        tmp_path / "reviews.csv", index=False)
    fb[fb.kind != "review"].to_parquet(tmp_path / "surveys.parquet")
    ms = pd.read_parquet(SAMPLE_DIR / "messages.parquet")
    ms[ms.channel == "email"].drop(columns="channel").to_parquet(tmp_path / "email.parquet")
    ms[ms.channel != "email"].to_parquet(tmp_path / "other_messages.parquet")
    return f"""
        sources:
          events: {SAMPLE_DIR / 'events.parquet'}
          customers: {SAMPLE_DIR / 'customers.parquet'}
          costs:
            - {{path: spend_email.csv, columns: {{Month: period, Cost: spend}}, values: {{channel: email}}}}
            - {{path: spend_paid_ads.csv, columns: {{Month: period, Cost: spend}}, values: {{channel: paid_ads}}}}
            - path: spend_social.csv
              columns: {{"Reporting starts": period, "Amount spent (EUR)": spend}}
              values: {{channel: social}}
          feedback:
            - {{path: reviews.csv, columns: {{Customer: customer_id, Stars: score}}, values: {{kind: review}}}}
            - surveys.parquet
          messages:
            - {{path: email.parquet, values: {{channel: email}}}}
            - other_messages.parquet
        stages:
          order: [awareness, consideration, cart, purchase, repeat, advocacy]
          column: stage
        """


def test_several_exports_of_one_table_are_read_as_that_table(tmp_path):
    """Spend comes one report per ad platform, feedback from a review site and a survey tool, messages from an
    email tool and another: sources.<name> lists them, each with its own columns and values, and the journey's
    table is their rows together: the sample's tables exactly (spend to the cent, every answer and message)."""
    text = _sample_as_several_exports(tmp_path)
    j = jl.load_journey(write(tmp_path, text))
    key = ["channel", "period"]
    costs = j.costs.to_pandas().sort_values(key).reset_index(drop=True)
    want = pd.read_parquet(SAMPLE_DIR / "costs.parquet").sort_values(key).reset_index(drop=True)
    assert costs[key[0]].tolist() == want[key[0]].tolist()
    assert costs["period"].dt.strftime("%Y-%m").tolist() == want["period"].tolist()
    assert costs["spend"].round(2).tolist() == want["spend"].tolist()
    cols = ["customer_id", "ts", "kind", "score", "stage"]
    fb = j.feedback.to_pandas()[cols].sort_values(cols).reset_index(drop=True)
    want = pd.read_parquet(SAMPLE_DIR / "feedback.parquet")[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(fb, want, check_dtype=False)
    cols = ["customer_id", "ts", "campaign", "channel", "action"]
    ms = j.messages.to_pandas()[cols].sort_values(cols).reset_index(drop=True)
    want = pd.read_parquet(SAMPLE_DIR / "messages.parquet")[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(ms, want, check_dtype=False)
    assert [Path(r.source).name for r in j.inputs if r.table == "costs"] == ["spend_email.csv", "spend_paid_ads.csv",
                                                                 "spend_social.csv"]
    # an error in the third export names it: its key and line
    with pytest.raises(JourneyDataError, match=r"journey\.yml, line 8, sources\.costs\[2\]\.columns\.Amount spent "
                                               r"\(USD\): maps column 'Amount spent \(USD\)' to spend"):
        jl.load_journey(write(tmp_path, text.replace("(EUR)", "(USD)")))
    with pytest.raises(JourneyParameterError, match=r"sources\.customers: got \[.*\]; expected one source \(a list of "
                                                    r"exports only for messages, feedback, costs"):
        jl.load_journey(write(tmp_path, text.replace(
            f"customers: {SAMPLE_DIR / 'customers.parquet'}", f"customers: [{SAMPLE_DIR / 'customers.parquet'}]")))


@pytest.mark.parametrize("theirs, hint", [(lambda i: str(i), "ids start with zeros the other's lack"),
                                          (lambda i: f"{i}.0", "writes the ids as decimals")])
def test_customer_ids_written_another_way_than_the_events_are_an_error(tmp_path, theirs, hint):
    """Events with ids 00001... and a customers export with 1... (a spreadsheet dropped the zeros), or 1.0...: no
    customer matches, so every segment would be unknown and later reports crashed; the load stops, saying how
    each file writes its ids (never the ids themselves) and what to do. Half matching is a warning."""
    (tmp_path / "ev.csv").write_text("user,time,action\n" + "".join(
        f"{i:05d},2025-03-01 10:00,visit\n" for i in range(1, 41)))
    text = f"""
        sources:
          events: {{path: ev.csv, columns: {{user: customer_id, time: ts, action: event}}}}
          customers: {{path: cu.csv, columns: {{user: customer_id}}, values: {{}}}}
        stages:
          order: [awareness]
          rules: [{{stage: awareness, event: visit}}]
        """
    (tmp_path / "cu.csv").write_text("user,plan\n" + "".join(f"{theirs(i)},pro\n" for i in range(1, 41)))
    with pytest.raises(JourneyDataError, match=rf"(?s)sources\.customers: none of the events' customers is in the "
                                               rf"customers table: 0 of 40 .*the events' ids are written like 0000#, .*"
                                               rf"What to do: write the ids the same way in both exports\. One file"
                                               rf"(.s)? {hint}"):
        jl.load_journey(write(tmp_path, text))
    (tmp_path / "cu.csv").write_text("user,plan\n" + "".join(
        f"{i:05d}" + ",pro\n" if i <= 15 else f"{theirs(i)},pro\n" for i in range(1, 41)))
    j = jl.load_journey(write(tmp_path, text))
    (chk,) = [c for c in j.checks if c.name == "customers: ids match the events"]
    assert chk.status == "warn" and chk.detail.startswith("15 of 40 customers of the first events are in the")
    sample = jl.load_journey("sample")
    (chk,) = [c for c in sample.checks if c.name == "customers: ids match the events"]
    assert chk.status == "pass" and chk.detail.startswith("1,000 of 1,000 customers")


def test_placeholder_customer_ids_are_an_error(tmp_path):
    """'NULL', 'N/A', '(not set)' written where an export has no customer: each would be one customer holding
    every anonymous visitor's events. The load stops, counting the events of each placeholder."""
    rows = [("a", "visit"), ("b", "visit"), ("NULL", "visit"), ("NULL", "visit"), ("(not set)", "visit"), ("n/a", "visit")]
    (tmp_path / "ev.csv").write_text("user,time,action\n" + "".join(f"{u},2025-03-01 10:0{i},{e}\n"
                                                                     for i, (u, e) in enumerate(rows)))
    text = """
        sources:
          events: {path: ev.csv, columns: {user: customer_id, time: ts, action: event}}
        stages:
          order: [awareness]
          rules: [{stage: awareness, event: visit}]
        """
    with pytest.raises(JourneyDataError, match=r"(?s)line 2, sources\.events: 4 events have a placeholder for their "
                                               r"customer id: 'NULL' \(2 events\), .*'\(not set\)' \(1 event\).*What "
                                               r"to do: drop those rows"):
        jl.load_journey(write(tmp_path, text))
    (chk,) = [c for c in jl.load_journey("sample").checks if c.name == "events: customer ids"]
    assert chk.status == "pass"


def test_an_id_holding_a_crowds_events_is_a_warning(tmp_path, monkeypatch):
    """An export that writes 0 for every visitor it cannot name: 0 is no known placeholder (it can be a real id),
    but one id with a crowd's events (1% of the customers' own events and 100 times the average customer) is a
    warning that gives its share; the id itself only when ids may be shown. A heavy customer short of that passes."""
    from journeylib.core import privacy

    def load(crowd: int):
        at = [str(pd.Timestamp("2025-03-01") + pd.Timedelta(minutes=k)) for k in range(crowd + 50)]
        rows = [f"c{i},{at[k]},visit\n" for i in range(200) for k in range(2)]
        rows += [f"0,{at[k]},visit\n" for k in range(crowd)] + [f"0,{at[k]},winback_sent\n" for k in range(50)]
        (tmp_path / "ev.csv").write_text("user,time,action\n" + "".join(rows))
        (tmp_path / "journey.yml").write_text("""
            sources:
              events: {path: ev.csv, columns: {user: customer_id, time: ts, action: event}}
            stages:
              order: [awareness]
              rules: [{stage: awareness, event: visit}]
            """)
        j = jl.load_journey(tmp_path / "journey.yml")
        (chk,) = [c for c in j.checks if c.name == "events: no customer id holds a crowd's events"]
        return chk

    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", "")
    privacy.set_show_ids(False)
    chk = load(600)  # 600 of 1,000 own events (outbound sends do not count), 120.6 times the mean of 201 customers
    assert chk.status == "warn" and chk.detail.startswith(
        "one customer id (hidden: ids are pseudonymised in reports) holds 60.0% of the customers' own events "
        "(600 of 1,000, 121 times the average customer)"), chk.detail
    assert "'0'" not in chk.detail and "What to do: if it is such an id, drop its rows" in chk.detail
    privacy.set_show_ids(True)
    try:
        assert load(600).detail.startswith("one customer id, '0', holds 60.0%")
    finally:
        privacy.set_show_ids(False)
    chk = load(200)  # a third of the events, but 67 times the average customer
    assert chk.status == "pass" and chk.detail == ("the most active customer has 200 of 600 customer events "
                                                   "(67 times the average customer)")
    (chk,) = [c for c in jl.load_journey("sample").checks if c.name == "events: no customer id holds a crowd's events"]
    assert chk.status == "pass"


def test_names_written_several_ways(tmp_path):
    """An export writes one event 'purchase', 'purchase ' and 'Purchase', and one channel 'email', ' email ' and
    'Email': spaces at an end are dropped when the log is read, init names every spelling of the order event, and
    what still differs (case) is a warning that counts each spelling, so no purchase goes uncounted unnoticed."""
    from journeylib.core import draft

    rows = [("a", "purchase", "email"), ("b", "purchase ", " email "), ("c", "Purchase", "Email"), ("d", "visit", "ads")]
    (tmp_path / "events.csv").write_text("user_id,timestamp,event,channel,revenue\n" + "".join(
        f"{u},2025-03-0{i + 1} 10:00,{e},{c},{'10' if 'urchase' in e else ''}\n" for i, (u, e, c) in enumerate(rows)))
    d = draft.write_draft(tmp_path)
    line = next(x for x in d.text.splitlines() if x.startswith("  purchase: "))
    assert sorted(yaml.safe_load(line)["purchase"]) == ["Purchase", "purchase"], line
    j = jl.load_journey(tmp_path / "journey.yml")
    ev = j.events.to_pandas()
    assert sorted(ev["event"]) == ["purchase", "purchase", "purchase", "visit"]
    assert sorted(ev["channel"]) == ["Email", "ads", "email", "email"]
    (chk,) = [c for c in j.checks if c.name == "channels: one spelling each"]
    assert chk.status == "warn" and "'Email' (1), 'email' (2)" in chk.detail
    assert not [c for c in j.checks if c.name == "event names: one spelling each"]
    assert not [c for c in jl.load_journey("sample").checks if "one spelling each" in c.name]


def test_yaml_aliases_are_refused_before_they_are_expanded(tmp_path):
    """Nested aliases multiply (a 'billion laughs' of seven levels held 3.3 GB before an error): refused at once,
    naming the line."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = "\n".join(levels) + "\nsources: {events: ev.csv}\nsegments: *a7\n"
    with pytest.raises(JourneyParameterError, match=r"journey\.yml, line 2: the alias \*a0 repeats another value"):
        read_journey(write(tmp_path, text))


def test_an_experiment_arm_whose_customers_the_events_do_not_know_fails_a_check(tmp_path):
    """One arm's ids written another way (prefixed) read as customers who never did anything: the readout then
    claimed video_b lowered conversion by 65%. The journey's checks fail for that arm, naming it; the sample's pass."""
    a = pd.read_parquet(SAMPLE_DIR / "assignments.parquet")
    exp, arm = a["experiment"].iloc[0], sorted(a.loc[a["experiment"] == a["experiment"].iloc[0], "variant"].unique())[-1]
    hit = (a["experiment"] == exp) & (a["variant"] == arm)
    a.loc[hit, "customer_id"] = "ghost-" + a.loc[hit, "customer_id"].astype(str)
    a.to_parquet(tmp_path / "assignments.parquet")
    text = f"""
        sources:
          events: {SAMPLE_DIR / 'events.parquet'}
          assignments: assignments.parquet
        stages:
          order: [awareness, consideration, cart, purchase, repeat, advocacy]
          column: stage
        """
    j = jl.load_journey(write(tmp_path, text))
    (chk,) = [c for c in j.checks if c.name == "assignments: every arm's customers are in the events"]
    assert chk.status == "fail" and f"{exp}: {arm} 0% against 100%" in chk.detail
    (chk,) = [c for c in jl.load_journey("sample").checks if c.name.startswith("assignments: every arm")]
    assert chk.status == "pass"
