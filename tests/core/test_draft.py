"""`journeylib init` (journeylib.core.draft) and `journeylib check`: a draft that loads, never an overwrite."""
import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import journeylib as jl
from journeylib.core import draft
from journeylib.core.schema import MAX_SEGMENT_GROUPS
from journeylib.core.errors import JourneyParameterError
from journeylib.report import cli

FIX = Path(__file__).parents[1] / "fixtures"
SAMPLE = Path(__file__).parents[2] / "data" / "sample"
SHOP = FIX / "journeys" / "shop" / "events.csv"
CLICKS = FIX / "draft" / "events.csv"  # user,time,action,amount; day-first text times; 11 event names


@pytest.fixture
def shop(tmp_path):
    """The shop clickstream alone in a folder (init writes its draft beside the data)."""
    folder = tmp_path / "shop"
    folder.mkdir()
    shutil.copy(SHOP, folder / "events.csv")
    return folder


def test_init_writes_a_draft_that_read_journey_accepts_and_load_journey_loads(shop, capsys):
    assert cli.main(["init", str(shop)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {shop / 'journey.yml'}" in out and "top event names (12 distinct):" in out
    raw = pd.read_csv(SHOP)
    assert f"{len(raw):,} events of {raw['user_id'].nunique():,} customers" in out
    d = jl.read_journey(shop / "journey.yml")
    assert dict(d.sources["events"].columns) == {"user_id": "customer_id", "event_time": "ts", "event_name": "event"}
    assert d.sources["events"].timestamp_format == "%d/%m/%Y %H:%M"  # 13/03/2025: day-first
    assert d.roles["purchase"] == ("payment_done",) and d.revenue_column == "amount"
    assert d.stages == ("awareness", "consideration", "cart", "purchase", "repeat")
    journey = jl.load_journey(shop / "journey.yml")  # strict: every rule and role event matches the data
    ev = journey.events.to_pyarrow().to_pandas()
    payments = raw[raw["event_name"] == "payment_done"]
    assert (ev["event"] == "purchase").sum() == len(payments)
    # the first payment of each customer is the purchase stage, the later ones repeat
    staged = ev[ev["event"] == "purchase"]["stage"].value_counts().to_dict()
    assert staged == {"purchase": payments["user_id"].nunique(),
                      "repeat": len(payments) - payments["user_id"].nunique()}
    assert ev["revenue"].sum() == pytest.approx(payments["amount"].sum())
    assert not [c for c in journey.checks if c.status == "fail"]


def test_init_on_a_european_export_reads_its_dates_and_decimal_commas(tmp_path, capsys):
    """The shop's export as a German system writes it: ';' between fields, dates 13.03.2025 14:05, amounts
    12,50 in a column "Order Value (EUR)". The draft states the date format and the decimal comma, maps the
    amount column as the revenue, and loads with the same revenue as the original."""
    raw = pd.read_csv(SHOP)
    german = pd.DataFrame({
        "Customer ID": raw["user_id"], "Event Time": pd.to_datetime(raw["event_time"], format="%d/%m/%Y %H:%M")
        .dt.strftime("%d.%m.%Y %H:%M"), "Event Name": raw["event_name"],
        "Order Value (EUR)": raw["amount"].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}".replace(",", "_")
                                               .replace(".", ",").replace("_", "."))})
    folder = tmp_path / "de"
    folder.mkdir()
    german.to_csv(folder / "events.csv", sep=";", index=False)
    assert cli.main(["init", str(folder)]) == 0
    capsys.readouterr()
    d = jl.read_journey(folder / "journey.yml")
    assert d.sources["events"].timestamp_format == "%d.%m.%Y %H:%M"
    assert d.sources["events"].decimal == "," and d.revenue_column == "Order Value (EUR)"
    text = (folder / "journey.yml").read_text()
    assert re.search(r'decimal: ","  # guess: amounts such as \d+,\d\d are written with a decimal comma', text)
    ev = jl.load_journey(folder / "journey.yml").events.to_pyarrow().to_pandas()
    assert ev["revenue"].sum() == pytest.approx(raw["amount"].sum())
    assert ev["ts"].min() == pd.to_datetime(raw["event_time"], format="%d/%m/%Y %H:%M", utc=True).min()


def test_every_guess_has_a_comment_and_unplaced_names_are_listed(shop):
    text = draft.write_draft(shop).text
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    guesses = [ln for ln in body if ln.lstrip().startswith(("- {stage", "user_id:", "event_time:", "event_name:",
                                                            "purchase:", "revenue:", "cart:", "timestamp_format:"))]
    assert guesses and all("# " in ln for ln in guesses), [ln for ln in guesses if "# " not in ln]
    unplaced = text[text.index("# Event names no rule places"):]
    for name in ("delivery_choice", "payment_choice", "account", "confirmation", "contacts"):
        assert f"#   {name}: " in unplaced
    assert "channel attribution needs touchpoints" in text  # no channel column: said, not guessed


def test_init_refuses_a_header_that_names_a_column_twice(tmp_path, capsys):
    """Read as revenue and revenue_1, one of the two would be guessed as the order value without a word."""
    folder = tmp_path / "twice"
    folder.mkdir()
    (folder / "events.csv").write_text("customer_id,ts,event,revenue,score,revenue\n"
                                       "c1,2025-01-01 10:00:00,purchase,12.5,,999\n")
    assert cli.main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "has the column name(s) ['revenue'] more than once in its header" in err
    assert "What to do: rename or remove the repeated column(s)" in err
    assert not (folder / "journey.yml").exists()


def test_init_never_overwrites(shop, capsys):
    target = shop / "journey.yml"
    target.write_text("# mine\n")
    assert cli.main(["init", str(shop)]) == 2
    err = capsys.readouterr().err
    assert f"{target} already exists and is never overwritten" in err
    assert target.read_text() == "# mine\n"
    with pytest.raises(JourneyParameterError, match="already exists"):
        draft.write_draft(shop / "events.csv", out=target)


def test_check_exit_codes(shop, capsys):
    draft.write_draft(shop)
    path = shop / "journey.yml"
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no stage (no rule matched)" in out and "no check failed" in out
    # a rule that matches nothing is a failed check: exit 1, naming the rule
    path.write_text(path.read_text().replace("{stage: cart, event: cart}", "{stage: cart, event: basket}"))
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: stage rule stages.rules[2]: event basket -> cart" in out and "1 check(s) failed" in out
    # a definition error (unknown key) is a journeylib error: exit 2
    path.write_text(path.read_text().replace("stages:", "stagez:"))
    assert cli.main(["check", str(path)]) == 2
    assert "stagez" in capsys.readouterr().err
    assert cli.main(["check", str(shop / "missing.yml")]) == 2


def test_a_clickstream_with_other_column_names(tmp_path):
    """user/time/action/amount are mapped; a message event gets its role, not a stage."""
    d = draft.write_draft(CLICKS, out=tmp_path / "j.yml")
    assert d.profile.format == "canonical"  # a customer, a time and an amount, but also an event column
    assert {k: v[0] for k, v in d.profile.mapping.items()} == {
        "customer_id": "user", "ts": "time", "event": "action", "revenue": "amount"}
    spec = yaml.safe_load(d.text)
    assert spec["events"]["message_open"] == ["email_open"] and spec["events"]["review"] == ["review"]
    assert spec["sources"]["events"]["path"] == str(CLICKS.resolve())  # not beside the data: absolute
    journey = jl.load_journey(tmp_path / "j.yml")
    raw = pd.read_csv(CLICKS)
    assert int(journey.events.count().execute()) == len(raw)
    assert [c.status for c in journey.checks if c.name.startswith("stage rule")] == ["pass"] * 6


@pytest.mark.parametrize("name, stage", [
    ("page_view", "awareness"), ("main", "awareness"), ("landing", "awareness"), ("session_start", "awareness"),
    ("view_item", "consideration"), ("product", "consideration"), ("catalog", "consideration"),
    ("search", "consideration"), ("viewItemList", "consideration"),
    ("add_to_cart", "cart"), ("basket", "cart"), ("begin_checkout", "cart"),
    ("purchase", "purchase"), ("order_completed", "purchase"), ("payment_done", "purchase"),
    ("checkout_complete", "purchase"), ("Order Completed", "purchase"),
    ("review", "advocacy"), ("rating", "advocacy"), ("referral", "advocacy"), ("share", "advocacy"),
    ("remove_from_cart", None), ("refund", None), ("email_open", None), ("delivery_choice", None),
])
def test_stage_guesses(name, stage):
    assert draft.guess_stage(name)[0] == stage


def test_role_guesses():
    roles = draft.guess_roles(["page_view", "add_to_cart", "purchase", "order_completed", "email_send",
                               "email_open", "push_click", "review", "referral", "remove_from_cart"])
    assert roles == {"cart": ["add_to_cart"], "purchase": ["purchase", "order_completed"],
                     "message_sent": ["email_send"], "message_open": ["email_open"], "message_click": ["push_click"],
                     "review": ["review"], "referral": ["referral"]}


@pytest.mark.parametrize("values, fmt, word", [
    (["13/03/2025 09:02", "01/04/2025 10:00"], "%d/%m/%Y %H:%M", "day-first"),
    (["03/13/2025 09:02:11", "04/01/2025 10:00:00"], "%m/%d/%Y %H:%M:%S", "month-first"),
    (["03/04/2025", "01/02/2025"], "%d/%m/%Y", "AMBIGUOUS"),
    (["1/5/2025 2:30 PM", "1/13/2025 11:05 AM"], "%m/%d/%Y %I:%M %p", "month-first"),
    (["13/05/2025 02:30:10 PM"], "%d/%m/%Y %I:%M:%S %p", "day-first"),
    (["2025-03-13 09:02", "2025-04-01"], None, None),
])
def test_timestamp_format_guess(values, fmt, word):
    got, note = draft.timestamp_format(pd.Series(values))
    assert got == fmt
    assert (note is None) if word is None else note.startswith(word)


@pytest.mark.parametrize("fmt", ["ga4", "segment", "mixpanel", "posthog", "orders"])
def test_init_on_simulated_exports_writes_a_draft_that_check_accepts(fmt, tmp_path):
    from journeylib.simulate.exports import write_export

    folder = write_export(jl.simulate_journeys(300, seed=1), fmt, tmp_path / fmt)
    d = draft.write_draft(folder, out=tmp_path / "draft.yml")
    assert d.profile.format == fmt  # detected from the columns
    journey = jl.load_journey(d.path)
    assert not [c for c in journey.checks if c.status == "fail"]
    assert jl.read_journey(d.path).roles["purchase"] == ("purchase",)
    assert int(journey.events.filter(journey.events.stage == "purchase").count().execute()) > 0


SHOP_ORDERS = FIX / "exports" / "shop_orders.csv"  # client_ref;placed;total_eur, day-first text dates


def _stage_counts_by_pandas(orders: pd.DataFrame, customer: str, when: pd.Series) -> dict[str, int]:
    """First order of each customer -> purchase, later ones -> repeat (an independent computation)."""
    order = orders.assign(_when=when).sort_values([customer, "_when"])
    nth = order.groupby(customer).cumcount()
    return {"purchase": int((nth == 0).sum()), "repeat": int((nth > 0).sum())}


def test_init_on_an_orders_table_with_its_own_column_names_writes_a_draft_check_accepts(tmp_path, capsys):
    folder = tmp_path / "x"
    folder.mkdir()
    shutil.copy(SHOP_ORDERS, folder / "shop_orders.csv")
    target = folder / "journey.yml"
    assert cli.main(["init", str(folder / "shop_orders.csv"), "--out", str(target)]) == 0
    out = capsys.readouterr().out
    assert "read as an orders export" in out and "orders columns guessed: client_ref -> customer_id, " \
        "placed -> ts, total_eur -> revenue" in out
    spec = yaml.safe_load(target.read_text())
    assert spec["sources"]["events"] == {"path": "shop_orders.csv", "format": "orders", "timezone": "UTC",
                                         "columns": {"client_ref": "customer_id", "placed": "ts",
                                                     "total_eur": "revenue"},
                                         "timestamp_format": "%d/%m/%Y %H:%M"}
    assert spec["stages"]["order"] == ["purchase", "repeat"] and spec["events"]["purchase"] == ["purchase"]
    text = target.read_text()
    for their in ("client_ref: customer_id", "placed: ts", "total_eur: revenue", "timestamp_format:"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(their))
        assert "  # guess: " in line, line
    assert cli.main(["check", str(target)]) == 0
    out = capsys.readouterr().out
    assert "no check failed" in out
    raw = pd.read_csv(SHOP_ORDERS, sep=";")
    when = pd.to_datetime(raw["placed"], format="%d/%m/%Y %H:%M")
    expected = _stage_counts_by_pandas(raw, "client_ref", when)
    assert expected == {"purchase": 2, "repeat": 1}
    journey = jl.load_journey(target)
    ev = journey.events.to_pyarrow().to_pandas()
    assert ev["stage"].value_counts().to_dict() == expected
    assert sorted(ev["ts"].dt.tz_convert("UTC").dt.tz_localize(None)) == sorted(when)  # read day-first
    assert ev["revenue"].sum() == pytest.approx(raw["total_eur"].sum())
    for stage, n in expected.items():  # the check table states the same counts
        assert re.search(rf"^\s*{stage}\s+{n}\s", out, re.M), out


def test_init_on_a_european_orders_table_reads_its_decimal_commas(tmp_path, capsys):
    """The shop's orders with amounts written 10,00 and 1.022,50: the draft says decimal: ',' and the journey
    loads the same revenue as the amounts with a decimal point."""
    raw = pd.read_csv(SHOP_ORDERS, sep=";")
    euro = raw.assign(total_eur=[f"{v + 1000 * (i == 1):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
                                 for i, v in enumerate(raw["total_eur"])])
    folder = tmp_path / "de"
    folder.mkdir()
    euro.to_csv(folder / "shop_orders.csv", sep=";", index=False)
    assert "1.022,50" in (folder / "shop_orders.csv").read_text()
    assert cli.main(["init", str(folder / "shop_orders.csv"), "--out", str(folder / "journey.yml")]) == 0
    capsys.readouterr()
    spec = yaml.safe_load((folder / "journey.yml").read_text())
    assert spec["sources"]["events"]["decimal"] == "," and spec["sources"]["events"]["format"] == "orders"
    assert spec["sources"]["events"]["columns"]["total_eur"] == "revenue"
    ev = jl.load_journey(folder / "journey.yml").events.to_pyarrow().to_pandas()
    assert ev["revenue"].sum() == pytest.approx(raw["total_eur"].sum() + 1000)


def test_an_orders_table_whose_time_column_is_known_by_its_values(tmp_path):
    """No time word in 'erfasst' (recorded): its values (13.01.2025, day-first) make it the order time."""
    rng = np.random.default_rng(5)
    n = 400
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D") \
        + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    orders = pd.DataFrame({"customer_no": rng.integers(1, 120, n).astype(str),
                           "erfasst": days.strftime("%d.%m.%Y %H:%M:%S"), "total": rng.gamma(2.0, 20.0, n).round(2)})
    orders.to_csv(tmp_path / "bestellungen.csv", index=False)
    d = draft.write_draft(tmp_path / "bestellungen.csv", out=tmp_path / "journey.yml")
    assert d.profile.format == "orders"
    # the reader is told only what it would not find itself ('total' is one of its own names)
    assert {k: v[0] for k, v in d.profile.source_mapping.items()} == {"customer_id": "customer_no", "ts": "erfasst"}
    assert d.profile.source_mapping["ts"][1] == "its values are dates"
    assert yaml.safe_load(d.text)["sources"]["events"]["columns"] == {"customer_no": "customer_id", "erfasst": "ts"}
    assert d.profile.timestamp_format == "%d.%m.%Y %H:%M:%S" and d.profile.timestamp_note.startswith("day-first")
    journey = jl.load_journey(d.path)
    assert not [c for c in journey.checks if c.status == "fail"]
    ev = journey.events.to_pyarrow().to_pandas()
    when = pd.to_datetime(orders["erfasst"], format="%d.%m.%Y %H:%M:%S")
    assert ev["stage"].value_counts().to_dict() == _stage_counts_by_pandas(orders, "customer_no", when)
    assert ev["ts"].min().tz_convert("UTC").tz_localize(None) == when.min()


def test_a_table_with_an_event_column_is_not_an_orders_table():
    assert draft.guess_orders_columns(str(CLICKS)) is None  # user, time, action, amount: a clickstream
    assert draft.guess_orders_columns(str(SHOP_ORDERS)) == {
        "customer_id": ("client_ref", "a user/customer/client id"),
        "ts": ("placed", "a time/timestamp/date/placed column"),
        "revenue": ("total_eur", "an amount/revenue/total/price column")}


# one clickstream written by a German, a French and a Spanish shop system: column names, event names
LANGUAGES = {
    "de": (("Kunden-Nr.", "Zeitpunkt", "Ereignis", "Kanal", "Bestellwert"),
           ("Seitenaufruf", "Produkt angesehen", "In den Warenkorb gelegt", "Bestellung abgeschlossen",
            "Bewertung abgegeben", "Newsletter geöffnet", "Artikel entfernt")),
    "fr": (("Identifiant client", "Date", "Événement", "Canal", "Montant"),
           ("Page vue", "Produit consulté", "Ajout au panier", "Commande validée", "Avis publié", "E-mail ouvert",
            "Commande annulée")),
    "es": (("ID de cliente", "Fecha", "Evento", "Canal", "Importe"),
           ("Página vista", "Producto visto", "Añadir al carrito", "Compra", "Reseña", "Correo abierto",
            "Pedido cancelado")),
}


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_init_reads_an_export_in_german_french_or_spanish(lang, tmp_path):
    """Column and event names in the shop's own language are mapped and placed as the English ones are: the
    draft loads with every stage rule matching and the same purchases and revenue as the file."""
    (cid, ts, event, channel, amount), names = LANGUAGES[lang]
    page, product, cart, order, review, opened, undo = names
    rng = np.random.default_rng(3)
    rows = []
    for k in range(60):
        t = pd.Timestamp("2025-03-01") + pd.Timedelta(hours=int(rng.integers(0, 2000)))
        steps = [page, product, cart, order, review, opened, undo][: 2 + k % 6] + [page, order][: k % 3]
        for i, name in enumerate(steps):
            rows.append({cid: f"K{k:03d}", ts: t + pd.Timedelta(minutes=7 * i), event: name,
                         channel: ["E-Mail", "Suche", "Direkt"][k % 3],
                         amount: round(float(rng.gamma(2.0, 30.0)), 2) if name == order else None})
    raw = pd.DataFrame(rows)
    raw.to_csv(tmp_path / "export.csv", index=False)
    d = draft.write_draft(tmp_path / "export.csv", out=tmp_path / "journey.yml")
    assert {k: v[0] for k, v in d.profile.mapping.items()} == {
        "customer_id": cid, "ts": ts, "event": event, "channel": channel, "revenue": amount}
    spec = yaml.safe_load(d.text)
    assert spec["events"]["purchase"] == [order] and spec["events"]["cart"] == [cart]
    assert spec["events"]["review"] == [review] and spec["events"]["message_open"] == [opened]
    assert [draft.guess_stage(n)[0] for n in names] == [
        "awareness", "consideration", "cart", "purchase", "advocacy", None, None]
    journey = jl.load_journey(d.path)
    assert not [c for c in journey.checks if c.status == "fail"]
    ev = journey.events.to_pyarrow().to_pandas()
    assert (ev["event"] == "purchase").sum() == (raw[event] == order).sum()
    assert ev["revenue"].sum() == pytest.approx(raw[amount].sum())


@pytest.mark.parametrize("unit, scale, suffix", [("s", 1, ".csv"), ("ms", 1_000, ".parquet")])
def test_init_on_unix_times_states_their_unit(unit, scale, suffix, tmp_path):
    """An export whose time column holds Unix times (text in a CSV, integers in Parquet): the draft states the
    unit with an example, writes no time-zone guess (a Unix time is UTC), and the journey loads the same
    instants as pandas reads them."""
    raw = pd.read_csv(CLICKS)
    when = pd.to_datetime(raw["time"], format="%d/%m/%Y %H:%M", utc=True)
    raw["time"] = (when.astype("int64") // 1_000_000_000 * scale).astype("int64")
    path = tmp_path / f"events{suffix}"
    raw.to_csv(path, index=False) if suffix == ".csv" else raw.to_parquet(path, index=False)
    d = draft.write_draft(path, out=tmp_path / "journey.yml")
    assert d.profile.timestamp_format == f"unix_{unit}"
    assert re.search(rf"timestamp_format: unix_{unit}  # guess: Unix times in \w+: \d+ is \d{{4}}-\d\d-\d\d "
                     r"\d\d:\d\d UTC", d.text)
    assert "timezone:" not in d.text and d.profile.time_range[0] == when.min()
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert sorted(ev["ts"]) == sorted(when)


@pytest.mark.parametrize("written, fmt", [
    ("%b %-d, %Y %-I:%M %p", "%b %d, %Y %I:%M %p"),  # Jan 5, 2025 9:00 AM (US tools)
    ("%d-%b-%Y %H:%M", "%d-%b-%Y %H:%M"),  # 05-Jan-2025 09:00 (a spreadsheet's date style)
    ("%A, %B %-d, %Y %H:%M", "%A, %B %d, %Y %H:%M"),  # Sunday, January 5, 2025 09:00
    ("%-d %B %Y, %H:%M", "%d %B %Y, %H:%M"),  # 5 January 2025, 09:00
    ("%Y-%m-%d %-I:%M %p", "%Y-%m-%d %I:%M %p"),  # 2025-01-05 9:00 AM: year-first with a 12-hour clock
])
def test_init_on_dates_that_name_the_month(written, fmt, tmp_path):
    """Text dates with an English month name: DuckDB's sniffer reads some of them for the profile, but loading
    reads text with a format only. init states the format, the journey loads the instants pandas reads, and a
    hand-written definition without the key reads them too (a month name leaves no day-month doubt), in the
    source's time zone."""
    raw = pd.read_csv(CLICKS)
    when = pd.to_datetime(raw["time"], format="%d/%m/%Y %H:%M")
    raw["time"] = when.dt.strftime(written)
    raw.to_csv(tmp_path / "events.csv", index=False)
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert d.profile.timestamp_format == fmt and f'timestamp_format: "{fmt}"  # guess: no doubt about day and month' in d.text
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert sorted(ev["ts"]) == sorted(when.dt.tz_localize("UTC"))
    (tmp_path / "journey.yml").write_text(re.sub(r"\n +timestamp_format: .*", "", d.text)
                                          .replace("timezone: UTC", "timezone: Asia/Tokyo"))
    ev = jl.load_journey(tmp_path / "journey.yml").events.to_pyarrow().to_pandas()
    assert sorted(ev["ts"]) == sorted(when.dt.tz_localize("Asia/Tokyo").dt.tz_convert("UTC"))


@pytest.mark.parametrize("suffix, names, date_fmt, time_fmt, sep", [
    (".csv", ("Date", "Time"), "%Y-%m-%d", "%H:%M:%S", ","),  # ISO date, a TIME column to DuckDB
    (".csv", ("Datum", "Uhrzeit"), "%d.%m.%Y", "%H:%M", ";"),  # a German till: day-first, semicolons
    (".csv", ("Order Date", "Order Time"), "%m/%d/%Y", "%I:%M %p", ","),  # a US export: month-first, AM/PM
    (".xlsx", ("Date", "Time"), None, None, None),  # date and time cells
])
def test_init_joins_a_date_column_and_its_time_of_day(suffix, names, date_fmt, time_fmt, sep, tmp_path):
    """An export that splits each moment into a date and a time column: read alone, the date put every event of
    a day at midnight (its order within the day lost) and the draft guessed the time column as ts for a workbook.
    init maps the time of day as ts_time, the profile's range has the times, and the journey loads the instants
    pandas reads, in the zone given."""
    raw = pd.read_csv(CLICKS)
    when = pd.to_datetime(raw.pop("time"), format="%d/%m/%Y %H:%M")
    date_col, time_col = names
    if suffix == ".xlsx":
        raw.insert(1, date_col, when.dt.normalize())
        raw.insert(2, time_col, when.dt.time)
        raw.to_excel(tmp_path / "events.xlsx", index=False)
    else:
        raw.insert(1, date_col, when.dt.strftime(date_fmt))
        raw.insert(2, time_col, when.dt.strftime(time_fmt))
        raw.to_csv(tmp_path / "events.csv", index=False, sep=sep)
    d = draft.write_draft(tmp_path / f"events{suffix}", out=tmp_path / "journey.yml")
    assert d.profile.mapping["ts"][0] == date_col and d.profile.mapping["ts_time"][0] == time_col
    assert f"{_yaml_key(time_col)}: ts_time  # guess: the time of day of {date_col}" in d.text
    assert d.profile.time_range == (when.min(), when.max())
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert sorted(ev["ts"]) == sorted(when.dt.tz_localize("UTC"))
    (tmp_path / "journey.yml").write_text(d.text.replace("timezone: UTC", "timezone: Asia/Tokyo"))
    ev = jl.load_journey(tmp_path / "journey.yml").events.to_pyarrow().to_pandas()
    assert sorted(ev["ts"]) == sorted(when.dt.tz_localize("Asia/Tokyo").dt.tz_convert("UTC"))


def _yaml_key(name: str) -> str:
    return f'"{name}"' if " " in name else name


def test_init_on_times_of_day_without_dates_maps_no_timestamp(tmp_path):
    """A time column with no date beside it is not taken for the timestamps (its range would be today's)."""
    (tmp_path / "events.csv").write_text("Customer,Time,Event\nc1,09:00,landing\nc1,09:05,purchase\n")
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert "ts" not in d.profile.mapping and d.profile.time_range == (None, None)
    assert "'Time' holds times of day without their dates: map the date column as ts" in "\n".join(d.profile.notes)


@pytest.mark.parametrize("name", ["events.jsonl", "events.json", "events.ndjson.gz"])
def test_a_canonical_json_export_loads_as_its_draft_says(name, tmp_path):
    """Events as JSON lines (or one JSON array, or gzipped lines): init profiled them, but loading stopped on
    the file type. The journey now loads the same events as the CSV of the same rows, day-first text dates
    with the format init states, a nested object kept as a column."""
    raw = pd.read_csv(CLICKS)
    raw["props"] = [{"page": f"/p{i % 3}"} for i in range(len(raw))]
    records = [{k: v for k, v in r.items() if v == v} for r in raw.to_dict("records")]  # no amount: no key
    if name == "events.json":
        (tmp_path / name).write_text(json.dumps(records))
    else:
        text = "".join(json.dumps(r) + "\n" for r in records)
        (tmp_path / name).write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    d = draft.write_draft(tmp_path / name, out=tmp_path / "journey.yml")
    assert d.profile.timestamp_format == "%d/%m/%Y %H:%M"
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    want = pd.to_datetime(raw["time"], format="%d/%m/%Y %H:%M", utc=True)
    assert sorted(ev["ts"]) == sorted(want) and len(ev) == len(raw)
    assert ev["revenue"].sum() == pytest.approx(raw["amount"].sum()) and "props" in ev.columns


def test_init_maps_the_columns_of_assignments_and_messages(tmp_path):
    """An A/B tool's assignments (GrowthBook's user_id, experiment_id, variation_id, timestamp) and an email
    tool's message log (Email, Date Sent, Campaign Name, Event Type) beside the events: the draft named the files
    but mapped none of their columns, so check stopped on them. It maps them now, and the journey loads every
    assignment and message; a column no name tells is left to fill in."""
    shutil.copy(FIX / "journeys" / "shop" / "events.csv", tmp_path / "events.csv")
    users = sorted(pd.read_csv(tmp_path / "events.csv")["user_id"].unique())
    pd.DataFrame({"user_id": users, "experiment_id": "checkout-button", "variation_id": [i % 2 for i in range(len(users))],
                  "timestamp": "2025-03-03 10:00:00"}).to_csv(tmp_path / "assignments.csv", index=False)
    pd.DataFrame({"Email": users[:3] * 2, "Date Sent": ["2025-03-10 08:00"] * 3 + ["2025-03-10 09:00"] * 3,
                  "Campaign Name": "spring", "Channel": "email", "Event Type": ["send"] * 3 + ["open"] * 3}
                 ).to_csv(tmp_path / "messages.csv", index=False)
    d = draft.write_draft(tmp_path)
    for line in ("user_id: customer_id", "timestamp: assigned_at", "experiment_id: experiment",
                 "variation_id: variant", "Email: customer_id", '"Date Sent": ts', '"Campaign Name": campaign',
                 '"Event Type": action'):
        assert f"      {line}  # guess: " in d.text
    journey = jl.load_journey(d.path)
    a = journey.assignments.to_pandas()
    assert len(a) == len(users) and sorted(a["variant"].unique()) == ["0", "1"]
    m = journey.messages.to_pandas()
    assert m.groupby("action").size().to_dict() == {"open": 3, "send": 3}
    pd.DataFrame({"user_id": users, "test_name": "x", "cell": "a", "at": "2025-03-03"}).to_csv(
        tmp_path / "assignments.csv", index=False)
    d = draft.write_draft(tmp_path, out=tmp_path / "j2.yml")
    assert "      # ???: variant  # could not guess which column is variant: fill in" in d.text
    assert "      test_name: experiment  # guess" in d.text


def test_init_finds_and_maps_spend_and_reviews_beside_the_events(tmp_path):
    """costs.* / spend.* and feedback.* / reviews.* beside the events: the draft left them out, so the budget
    report had no spend and the map no feedback. They are named and mapped now, and load as written."""
    shutil.copy(FIX / "journeys" / "shop" / "events.csv", tmp_path / "events.csv")
    (tmp_path / "spend.csv").write_text("Month,Channel,Campaign,Cost\n2025-03,email,spring,120.50\n"
                                        "2025-04,email,spring,99.00\n")
    (tmp_path / "reviews.csv").write_text("Customer,Date,Rating,Review,Type\nu001,2025-03-20,5,Great,review\n"
                                          "u002,2025-03-21,3,ok,review\n")
    d = draft.write_draft(tmp_path)
    for line in ("Month: period", "Channel: channel", "Cost: spend", "Customer: customer_id", "Date: ts",
                 "Rating: score", "Review: text", "Type: kind"):
        assert f"      {line}  # guess: " in d.text
    journey = jl.load_journey(d.path)
    costs = journey.costs.to_pandas()
    assert costs["spend"].sum() == pytest.approx(219.5) and sorted(costs["channel"].unique()) == ["email"]
    fb = journey.feedback.to_pandas()
    assert sorted(fb["score"]) == [3, 5] and set(fb["kind"]) == {"review"}



def test_a_review_export_without_a_kind_gets_it_from_its_file_name(tmp_path):
    """A review site's export has stars but no kind: reviews.* gets values: {kind: review}, and loads as reviews;
    a spend report without a channel (Meta's: one platform) is left to fill in, with the values key named, and
    check says which key; its reporting range reads as its first day, its totals row is left out."""
    shutil.copy(FIX / "journeys" / "shop" / "events.csv", tmp_path / "events.csv")
    (tmp_path / "reviews.csv").write_text("Customer,Date,Stars\nu001,2025-03-20,5\nu002,2025-03-21,3\n")
    (tmp_path / "costs.csv").write_text(  # as Meta's Ads Manager exports it, with its totals row
        "Reporting starts,Reporting ends,Campaign name,Amount spent (EUR)\n2025-03-01,2025-03-31,spring,12.5\n"
        "2025-04-01,2025-04-30,spring,7.5\nTotal,,,20.0\n")
    d = draft.write_draft(tmp_path)
    assert "    values: {kind: review}  # guess: the file is named reviews" in d.text
    assert ("      # ???: channel  # could not guess which column is channel: fill in, or give every row one channel "
            "under values: {channel: paid_search}") in d.text
    with pytest.raises(jl.JourneyDataError, match=r"(?s)sources\.costs\.columns: costs has no column channel.*"
                       r"under sources\.costs\.values, e\.g\. \{channel: paid_search\}"):
        jl.load_journey(d.path)
    d.path.write_text(d.text.replace("  costs:\n", "  costs:\n    values: {channel: search}\n"))
    journey = jl.load_journey(d.path)
    fb = journey.feedback.to_pandas()
    assert fb["kind"].tolist() == ["review", "review"] and sorted(fb["score"]) == [3, 5]
    assert journey.costs.to_pandas()[["channel", "period", "spend"]].values.tolist() == [
        ["search", pd.Timestamp("2025-03-01"), 12.5], ["search", pd.Timestamp("2025-04-01"), 7.5]]
    assert "1 summary row(s) left out" in next(c.detail for c in journey.checks if c.name.endswith("summary rows left out"))


def test_init_on_an_excel_workbook(tmp_path):
    """A clickstream saved from Excel: the draft maps its columns and revenue as for the CSV, and the journey
    loads every event and the same revenue."""
    raw = pd.read_csv(CLICKS)
    raw.to_excel(tmp_path / "export.xlsx", index=False)
    d = draft.write_draft(tmp_path / "export.xlsx", out=tmp_path / "journey.yml")
    assert {k: v[0] for k, v in d.profile.mapping.items()} == {
        "customer_id": "user", "ts": "time", "event": "action", "revenue": "amount"}
    assert d.profile.timestamp_format == "%d/%m/%Y %H:%M"
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert len(ev) == len(raw) and ev["revenue"].sum() == pytest.approx(raw["amount"].sum())


def test_init_on_a_csv_that_is_not_utf8_writes_its_encoding(tmp_path, capsys):
    """Excel's plain "CSV" in Europe is Windows-1252 (€ is byte 0x80, the en dash 0x96, which Latin-1 would not
    read): init writes encoding: cp1252 and the journey loads the names and amounts as written. A file in neither
    encoding is named with the ways out, without a traceback."""
    text = ("Kunde;Zeit;Aktion;Kanal;Betrag\nKühne;05.01.2025 10:00;Besuch;E-Mail – Newsletter;\n"
            "Kühne;06.01.2025 11:00;Kauf;;12,50 €\nMüller;07.01.2025 10:00;Besuch;Suche;\n")
    (tmp_path / "events.csv").write_bytes(text.encode("cp1252"))
    before = (tmp_path / "events.csv").read_bytes()
    assert cli.main(["init", str(tmp_path)]) == 0
    draft_text = (tmp_path / "journey.yml").read_text()
    assert "    encoding: cp1252  # guess: the file is not UTF-8" in draft_text and 'decimal: ","' in draft_text
    ev = jl.load_journey(tmp_path / "journey.yml").events.to_pandas().sort_values("ts")
    assert ev["customer_id"].tolist() == ["Kühne", "Kühne", "Müller"]
    assert ev["channel"].iloc[0] == "E-Mail – Newsletter" and ev["revenue"].dropna().tolist() == [12.5]
    assert (tmp_path / "events.csv").read_bytes() == before
    (tmp_path / "journey.yml").unlink()
    (tmp_path / "events.csv").write_bytes(b"customer_id;ts;event\nK\x81hne;2025-01-05 10:00;landing\n")
    assert cli.main(["init", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "init: events.csv: line 2 is not UTF-8" in err and "encoding: cp1252 in journey.yml" in err
    assert "Traceback" not in err and not (tmp_path / "journey.yml").exists()


@pytest.mark.parametrize("codec, expected", [("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
                                             ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32")])
def test_init_on_a_utf16_export_writes_its_encoding(tmp_path, capsys, codec, expected):
    """Excel's "Unicode Text" is UTF-16 with a byte-order mark, tab-separated; other tools write it without the
    mark. Read as UTF-8 or as Windows-1252 its names have a NUL between letters (init stopped with DuckDB's parser
    error). init names the encoding from the bytes and the journey loads the names as written; without the key
    the loader's error names the encoding to give, not Windows-1252."""
    text = ("Kunde\tZeit\tAktion\tKanal\tBetrag\nKühne\t05.01.2025 10:00\tBesuch\tE-Mail\t\n"
            "Kühne\t06.01.2025 11:00\tKauf\t\t12,50\nMüller\t07.01.2025 10:00\tBesuch\tSuche\t\n")
    (tmp_path / "events.txt").write_bytes(text.encode(codec))
    before = (tmp_path / "events.txt").read_bytes()
    assert cli.main(["init", str(tmp_path / "events.txt"), "--out", str(tmp_path / "journey.yml")]) == 0
    draft_text = (tmp_path / "journey.yml").read_text()
    assert f"    encoding: {expected}  # guess: the file has two or more bytes per character" in draft_text
    ev = jl.load_journey(tmp_path / "journey.yml").events.to_pandas().sort_values("ts")
    assert ev["customer_id"].tolist() == ["Kühne", "Kühne", "Müller"]
    assert ev["revenue"].dropna().tolist() == [12.5] and (tmp_path / "events.txt").read_bytes() == before
    (tmp_path / "journey.yml").write_text(draft_text.replace(f"    encoding: {expected}", "    # no encoding"))
    with pytest.raises(jl.JourneyDataError) as err:
        jl.load_journey(tmp_path / "journey.yml")
    assert f"events.txt is {expected.upper()}" in str(err.value) and f"encoding: {expected} in journey.yml" in str(err.value)
    assert "cp1252" not in str(err.value) and "/" not in str(err.value).split("\n")[0]


def test_init_maps_an_amount_written_with_thousands_commas(tmp_path):
    """A US export's "Order Total" written 1,234.50: mapped as the revenue with no decimal key (a dot is the
    default), and loaded as the numbers."""
    raw = pd.read_csv(CLICKS)
    raw["Order Total"] = raw.pop("amount").map(lambda v: "" if pd.isna(v) else f"{v * 100:,.2f}")
    raw.to_csv(tmp_path / "events.csv", index=False)
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert d.profile.mapping["revenue"][0] == "Order Total" and "decimal:" not in d.text
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert ev["revenue"].sum() == pytest.approx(pd.read_csv(CLICKS)["amount"].sum() * 100)


@pytest.mark.parametrize("decimal, written", [
    (".", lambda v: f"${v:,.2f}"),  # a US sheet formatted as currency: $1,234.50
    (",", lambda v: f"{v:,.2f} €".replace(",", "\u00a0").replace(".", ",")),  # French: 1 234,50 € (no-break spaces)
])
def test_init_maps_an_amount_written_with_its_currency(decimal, written, tmp_path):
    """An amount column written with its currency is mapped as the revenue (with decimal: ',' for 1 234,50 €), the
    Currency column beside it is named as the revenue's currency, and the journey loads the numbers."""
    raw = pd.read_csv(CLICKS)
    amount = raw.pop("amount")
    raw["Amount"] = amount.map(lambda v: "" if pd.isna(v) else written(v * 100))
    raw["Currency"] = amount.map(lambda v: "" if pd.isna(v) else "EUR")
    raw.to_csv(tmp_path / "events.csv", index=False, encoding="utf-8")
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert d.profile.mapping["revenue"][0] == "Amount" and ('decimal: ","' in d.text) == (decimal == ",")
    assert "  currency: Currency  # guess" in d.text
    ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    assert ev["revenue"].sum() == pytest.approx(amount.sum() * 100)


@pytest.mark.parametrize("columns, customer", [
    (["Event Name", "Time", "Distinct ID"], "Distinct ID"),  # a product-analytics table export
    (["event", "timestamp", "person_id", "distinct_id"], "distinct_id"),  # PostHog: the exact name first
    (["Contact ID", "Activity Date", "Activity Type"], "Contact ID"),  # a CRM's activities
    (["Visitor Id", "Visit Time", "Action"], "Visitor Id"),
])
def test_the_customer_column_of_common_exports_is_guessed(columns, customer):
    mapping, _ = draft._guess_columns(columns, {})
    assert mapping["customer_id"][0] == customer


def test_init_on_a_shopify_orders_export(tmp_path):
    """The draft reads it as orders keyed by the customer's email (the order Id is no customer), writes no time
    zone guess (the times carry offsets), and the journey has one purchase per paid order at its total."""
    from test_readers import SHOPIFY

    (tmp_path / "orders_export.csv").write_text(SHOPIFY)
    with pytest.warns(jl.JourneyDataWarning):
        d = draft.write_draft(tmp_path, out=tmp_path / "journey.yml")
    spec = yaml.safe_load(d.text)
    assert spec["sources"]["events"]["format"] == "orders" and "timezone" not in spec["sources"]["events"]
    assert "Id" not in (spec["sources"]["events"].get("columns") or {})
    with pytest.warns(jl.JourneyDataWarning):
        ev = jl.load_journey(d.path).events.to_pyarrow().to_pandas()
    # ann: 59.50 and #1004's 27.00 less its 7.00 refund
    assert ev.groupby("customer_id")["revenue"].sum().to_dict() == {"ann@example.com": 79.5, "bob@example.com": 1296.0}
    assert ev["stage"].tolist().count("repeat") == 1  # ann's second paid order


def test_init_on_a_clickstream_with_its_messages_and_day_first_dates(tmp_path):
    """Klaviyo-style message events ("Received Email", "Opened Email", "Clicked Email") get their roles and the
    campaign column (here French, "Campagne") is named; the draft's time range is the data's, not that of the
    first rows it sampled (25,000 day-first rows spanning two years); the journey's message log is those events."""
    n = 25_000
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * (730 * 86400 // n), unit="s")
    kinds = np.array(["Received Email", "Opened Email", "Clicked Email", "landing", "purchase"])[np.arange(n) % 5]
    pd.DataFrame({"customer": [f"c{i % 900}" for i in range(n)], "Date": ts.strftime("%d/%m/%Y %H:%M"),
                  "event": kinds, "Campagne": np.where(np.arange(n) % 5 < 3, "rentrée", ""),
                  "amount": np.where(kinds == "purchase", 10.0, np.nan)}).to_csv(tmp_path / "events.csv", index=False)
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert {r: d.text.count(f'{r}: ["{e}"]') for r, e in (("message_sent", "Received Email"),
            ("message_open", "Opened Email"), ("message_click", "Clicked Email"))} == \
        {"message_sent": 1, "message_open": 1, "message_click": 1}
    assert "  campaign_column: Campagne  # guess" in d.text
    lo, hi = d.profile.time_range
    assert (pd.Timestamp(lo), pd.Timestamp(hi).floor("D")) == (ts[0], ts[-1].floor("D"))
    m = jl.load_journey(d.path).messages.to_pandas()
    assert m.groupby("action").size().to_dict() == {"click": n // 5, "open": n // 5, "send": n // 5}
    assert set(m["campaign"]) == {"rentrée"}


def test_init_on_text_times_with_offsets_it_cannot_parse_does_not_stop(tmp_path):
    """Day-first times with mixed offsets (05/01/2025 10:00:00 -0500): no format is guessed, and the draft is
    written without a time-zone guess (the profile had stopped on pandas' mixed offsets)."""
    pd.DataFrame({"customer": ["a", "b"], "time": ["05/01/2025 10:00:00 -0500", "13/01/2025 11:00:00 +0100"],
                  "event": ["landing", "purchase"]}).to_csv(tmp_path / "events.csv", index=False)
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert d.profile.timestamp_format is None and not d.profile.naive_time
    assert "timezone:" not in d.text


@pytest.mark.parametrize("suffix", [" UTC", "+01", " Europe/Paris"])
def test_init_does_not_call_times_that_end_in_their_zone_zoneless(tmp_path, suffix):
    """BigQuery's CSV writes 2024-05-01 13:45:00 UTC, PostgreSQL's 13:45:00+01: the times carry their zone,
    so the draft guesses no timezone (it said they carry none, and suggested setting one)."""
    pd.DataFrame({"customer": ["a", "b"], "time": [f"2025-01-05 10:00:00{suffix}", f"2025-01-13 11:00:00{suffix}"],
                  "event": ["landing", "purchase"]}).to_csv(tmp_path / "events.csv", index=False)
    d = draft.write_draft(tmp_path / "events.csv", out=tmp_path / "journey.yml")
    assert not d.profile.naive_time and "timezone:" not in d.text
    (tmp_path / "plain.csv").write_text("customer,time,event\na,2025-01-05 10:00:00,landing\n")
    plain = draft.write_draft(tmp_path / "plain.csv", out=tmp_path / "plain.yml")
    assert plain.profile.naive_time and "    timezone: UTC  # guess: the timestamps carry no zone" in plain.text


def test_the_command_line_prints_the_kits_warnings_as_one_line_each(tmp_path, capsys):
    """A warning of init or check reads `journeylib: warning: ...`, not Python's form with the kit's
    source file, line and code."""
    (tmp_path / "orders.csv").write_text(
        "Order Number,Order Status,Order Date,Customer Email,Order Total\n"
        "1001,Completed,2025-01-05 10:01,ann@example.com,59.50\n1002,Refunded,2025-01-07 12:00,bob@example.com,20\n"
        "1003,Completed,2025-02-01 09:00,ann@example.com,27.00\n")
    assert cli.main(["init", str(tmp_path / "orders.csv")]) == 0
    err = capsys.readouterr().err
    assert ("journeylib: warning: orders: 1 order refunded, voided or cancelled left out (as their Order Status column "
            "says: no customer paid for them)") in err
    assert ".py:" not in err and "JourneyDataWarning" not in err


def test_personal_columns_of_a_customers_export_are_never_guessed_as_segments(tmp_path):
    """A shop's customers export (Shopify's: names, email, phone, address) beside the events: the draft splits
    reports by the columns with few values, but never by a person's name, contact or address, whose values every
    report would show, even in a small table where they have few values."""
    shutil.copy(FIX / "journeys" / "shop" / "events.csv", tmp_path / "events.csv")
    users = sorted(pd.read_csv(tmp_path / "events.csv")["user_id"].unique())
    n = len(users)
    pd.DataFrame({"Customer ID": users, "First Name": [["Ann", "Bo", "Cy"][i % 3] for i in range(n)],
                  "Last Name": [["Li", "Ng"][i % 2] for i in range(n)], "Email": [f"{u}@x.org" for u in users][:n],
                  "Phone": [["+1 555 0100", "+1 555 0101"][i % 2] for i in range(n)],
                  "Default Address Zip": [["10115", "80331"][i % 2] for i in range(n)],
                  "Accepts Email Marketing": [["subscribed", "not subscribed"][i % 2] for i in range(n)],
                  "Country": [["DE", "FR", "IT"][i % 3] for i in range(n)]}).to_csv(tmp_path / "customers.csv",
                                                                                   index=False)
    d = draft.write_draft(tmp_path)
    line = next(l for l in d.text.splitlines() if l.startswith("segments:"))
    assert line.startswith('segments: ["Accepts Email Marketing", Country]'), line


def test_a_column_with_more_values_than_a_report_compares_is_not_guessed_as_a_segment(tmp_path):
    """A store number with 25 values splits customers into groups of a few each, and a 'cohort' of two people's
    emails would print them in every report: reports refuse such splits, so the draft does not propose them; a
    plan with two values is proposed."""
    ids = [f"c{i:03d}" for i in range(100)]
    (tmp_path / "events.csv").write_text("user_id,timestamp,event\n" + "".join(
        f"{c},2025-03-{1 + i % 28:02d} 10:00:00,page_view\n" for i, c in enumerate(ids)))
    pd.DataFrame({"user_id": ids, "Store": [f"S{i % (MAX_SEGMENT_GROUPS + 5)}" for i in range(100)],
                  "cohort": [["ann@corp.example", "bo@corp.example", ""][i % 3] for i in range(100)],
                  "Plan": ["pro" if i % 2 else "basic" for i in range(100)]}).to_csv(tmp_path / "customers.csv",
                                                                                     index=False)
    line = next(l for l in draft.write_draft(tmp_path).text.splitlines() if l.startswith("segments:"))
    assert line.startswith("segments: [Plan]"), line


def test_a_payments_export_is_read_per_customer_not_per_charge(tmp_path):
    """Stripe's payments export has the charge's own ``id`` first and ``Customer ID`` later: the customer column is
    Customer ID (the bare id would make every charge a customer of its own and no purchase a repeat), and the
    refunds in Amount Refunded come off each order (a charge refunded in full, or failed, is left out)."""
    (tmp_path / "payments.csv").write_text(
        "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,Customer Email\n"
        "ch_1,2025-01-05 10:00:00,40.00,0.00,usd,Paid,cus_1,a@x.org\n"
        "ch_2,2025-01-06 10:00:00,25.00,5.00,usd,Paid,cus_1,a@x.org\n"
        "ch_3,2025-01-07 10:00:00,12.00,12.00,usd,Refunded,cus_2,b@x.org\n"
        "ch_4,2025-01-08 10:00:00,9.50,0.00,usd,Failed,cus_2,b@x.org\n"
        "ch_5,2025-02-08 10:00:00,19.50,0.00,usd,Paid,cus_2,b@x.org\n")
    d = draft.write_draft(tmp_path / "payments.csv", out=tmp_path / "journey.yml")
    assert '      "Customer ID": customer_id  # guess' in d.text and "id: customer_id" not in d.text
    with pytest.warns(jl.JourneyDataWarning, match="1 order partly refunded"):
        ev = jl.load_journey(d.path).events.to_pandas()
    assert ev.groupby("customer_id")["revenue"].sum().to_dict() == {"cus_1": 60.0, "cus_2": 19.5}


def test_a_customers_export_with_a_loyalty_join_date_feeds_the_loyalty_reports(tmp_path):
    """A shop's customers export names the programme its own way ("VIP Member Since"): init maps it to
    loyalty_joined_at, and the loaded customers get loyalty_member (has a join date), which the journey map's
    member comparison splits by; the sample's own columns give the same membership."""
    sample = pd.read_parquet(SAMPLE / "customers.parquet")
    (tmp_path / "events.parquet").write_bytes((SAMPLE / "events.parquet").read_bytes())
    sample[["customer_id", "segment", "loyalty_joined_at"]].rename(
        columns={"customer_id": "Customer ID", "loyalty_joined_at": "VIP Member Since"}).to_csv(
        tmp_path / "customers.csv", index=False)
    d = draft.write_draft(tmp_path)
    assert '      "VIP Member Since": loyalty_joined_at  # guess: a loyalty/member join date column' in d.text
    assert '      "Customer ID": customer_id  # guess: the id column' in d.text
    cu = jl.load_journey(d.path).customers.to_pandas().set_index("customer_id").sort_index()
    want = sample.set_index("customer_id").sort_index()
    assert cu["loyalty_member"].tolist() == want["loyalty_member"].tolist()
    assert (cu["loyalty_joined_at"].dropna() == want["loyalty_joined_at"].dropna()).all()


def test_an_email_tools_log_without_a_channel_gets_one_for_every_row(tmp_path):
    """HubSpot's email events (Recipient, Created, Type, Email Campaign Id) carry no channel: the draft names
    values: {channel: email}; with it the message log loads, its sends, opens and clicks read, the rest left out."""
    shutil.copy(FIX / "journeys" / "shop" / "events.csv", tmp_path / "events.csv")
    users = sorted(pd.read_csv(tmp_path / "events.csv")["user_id"].unique())[:2]
    (tmp_path / "messages.csv").write_text(
        "Recipient,Created,Type,Email Campaign Id\n"
        + "".join(f"{u},2025-03-10 08:0{i},{t},spring\n" for u in users
                  for i, t in enumerate(["SENT", "DELIVERED", "OPEN", "CLICK"])))
    d = draft.write_draft(tmp_path)
    assert ("      # ???: channel  # could not guess which column is channel: fill in, or give every row one channel "
            "under values: {channel: email}") in d.text
    d.path.write_text(d.text.replace("  messages:\n", "  messages:\n    values: {channel: email}\n"))
    with pytest.warns(jl.JourneyDataWarning, match=r"left out 2 rows of other actions: delivered \(2\)"):
        m = jl.load_journey(d.path).messages.to_pandas()
    assert m.groupby("action").size().to_dict() == {"click": 2, "open": 2, "send": 2}
    assert set(m["channel"]) == {"email"} and set(m["campaign"]) == {"spring"}


def test_several_exports_of_one_table_are_listed_and_read_as_that_table(tmp_path):
    """A review site's export, an NPS tool's and a survey tool's; one spend report per ad platform: init lists
    every file of a table under its source (each with its own columns and values; a spend report's channel to
    fill in), and once the channels are named the journey's feedback and spend are the sample's."""
    sample = jl.load_journey("sample")
    pd.read_parquet(SAMPLE / "events.parquet").to_parquet(tmp_path / "events.parquet")
    costs = pd.read_parquet(SAMPLE / "costs.parquet")
    for ch in sorted(costs.channel.unique()):
        costs[costs.channel == ch].drop(columns="channel").rename(columns={"period": "Month", "spend": "Cost"}).to_csv(
            tmp_path / f"spend_{ch}.csv", index=False)
    fb = pd.read_parquet(SAMPLE / "feedback.parquet")
    fb[fb.kind == "review"].drop(columns="kind").rename(columns={"customer_id": "Customer", "score": "Stars"}).to_csv(
        tmp_path / "reviews_trustpilot.csv", index=False)
    fb[fb.kind == "nps"].drop(columns="kind").to_csv(tmp_path / "nps.csv", index=False)
    fb[fb.kind == "survey"].to_parquet(tmp_path / "surveys.parquet")
    d = draft.write_draft(tmp_path)
    assert "  feedback:  # 3 exports of this table" in d.text and "  costs:  # 3 exports of this table" in d.text
    assert d.text.count("# ???: channel") == 3
    text = d.text
    for ch in sorted(costs.channel.unique()):
        at = text.index(f"- path: spend_{ch}.csv")
        i = text.index("# ???: channel", at)
        text = text[:text.rindex("\n", 0, i) + 1] + f"      values: {{channel: {ch}}}\n" + text[text.index("\n", i) + 1:]
    (tmp_path / "journey.yml").write_text(text)
    j = jl.load_journey(tmp_path / "journey.yml")
    key = ["channel", "period", "spend"]
    got = j.costs.to_pandas().sort_values(key).reset_index(drop=True)
    want = sample.costs.to_pandas().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[key], want[key], check_dtype=False)
    cols = ["customer_id", "ts", "kind", "score"]
    got = j.feedback.to_pandas()[cols].sort_values(cols).reset_index(drop=True)
    want = sample.feedback.to_pandas()[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
