"""Readers of real export shapes: each fixture (tests/fixtures/exports, written in the published
shape) read to hand-written canonical rows; identity stitching; the channel mapping; errors."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import readers as R
from journeylib.core.errors import JourneyDataError, JourneyParameterError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CANON = ["customer_id", "ts", "event", "channel", "revenue"]


def _read(fmt, path, **kw):
    out = R.read_export(fmt, path, **kw)
    df = out["events"].to_pandas()
    return df.sort_values(["customer_id", "ts", "event"], kind="mergesort").reset_index(drop=True), out


def _expected(rows, extra=()):
    cols = CANON + list(extra)
    df = pd.DataFrame(rows, columns=cols)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    df["revenue"] = df["revenue"].astype(float)
    return df.sort_values(["customer_id", "ts", "event"], kind="mergesort").reset_index(drop=True)


def _same(got, want):
    got = got[list(want.columns)].copy()
    got["ts"] = got["ts"].astype("datetime64[us, UTC]")
    want = want.copy()
    want["ts"] = want["ts"].astype("datetime64[us, UTC]")
    got = got.astype(object).where(got.notna(), None)
    want = want.astype(object).where(want.notna(), None)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


GA4_ROWS = [
    # customer, ts, event, channel, revenue, source, medium, campaign, currency, page_path, anonymous_id, user_id
    ("U1", "2025-01-05 12:00:00", "page_view", "paid_ads", None, "google", "cpc", "winter_sale", None, "/", "111.222", None),
    ("U1", "2025-01-05 12:01:00.123456", "view_item", None, None, None, None, None, None, "/products/42", "111.222", None),
    ("U1", "2025-01-05 12:10:00.000001", "purchase", None, 59.9, None, None, None, "EUR", "/checkout/thanks", "111.222", "U1"),
    ("333.444", "2025-01-06 12:00:00", "page_view", "social", None, "facebook", "referral", None, None, "/blog/gift-guide",
     "333.444", None),
    ("333.444", "2025-01-06 12:05:00", "purchase", None, 25.0, None, None, None, "USD", None, "333.444", None),
    ("U2", "2025-01-07 12:00:00", "session_start", "direct", None, "(direct)", "(none)", None, None, None, "555.666", None),
    ("U2", "2025-01-07 12:01:00", "login", None, None, None, None, None, None, None, "555.666", "U2"),
    ("U3", "2025-01-07 12:02:00", "login", None, None, None, None, None, None, None, "555.666", "U3"),
    ("U2", "2025-01-07 12:03:00", "page_view", "email", None, "newsletter", "email", "jan_news", None, "/blog", "555.666", None),
]
GA4_EXTRA = ("source", "medium", "campaign", "currency", "page_path", "anonymous_id", "user_id")


def _ga4_parquet(tmp_path: Path) -> Path:
    """The NDJSON fixture as a BigQuery Parquet export (INT64 as int64, nested records)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    value = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()), ("float_value", pa.float64()),
                       ("double_value", pa.float64())])
    schema = pa.schema([
        ("event_date", pa.string()), ("event_timestamp", pa.int64()), ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", value)]))),
        ("event_previous_timestamp", pa.int64()), ("event_value_in_usd", pa.float64()),
        ("event_bundle_sequence_id", pa.int64()), ("user_id", pa.string()), ("user_pseudo_id", pa.string()),
        ("user_first_touch_timestamp", pa.int64()),
        ("traffic_source", pa.struct([("name", pa.string()), ("medium", pa.string()), ("source", pa.string())])),
        ("stream_id", pa.string()), ("platform", pa.string()),
        ("ecommerce", pa.struct([("total_item_quantity", pa.int64()), ("purchase_revenue_in_usd", pa.float64()),
                                 ("purchase_revenue", pa.float64()), ("refund_value_in_usd", pa.float64()),
                                 ("refund_value", pa.float64()), ("shipping_value_in_usd", pa.float64()),
                                 ("shipping_value", pa.float64()), ("tax_value_in_usd", pa.float64()),
                                 ("tax_value", pa.float64()), ("unique_items", pa.int64()),
                                 ("transaction_id", pa.string())])),
        ("collected_traffic_source", pa.struct([(k, pa.string()) for k in (
            "manual_campaign_id", "manual_campaign_name", "manual_source", "manual_medium", "manual_term",
            "manual_content", "gclid", "dclid", "srsltid")])),
    ])

    def typed(v, t):
        if v is None:
            return None
        if pa.types.is_struct(t):
            return {f.name: typed(v.get(f.name), f.type) for f in t}
        if pa.types.is_list(t):
            return [typed(x, t.value_type) for x in v]
        if pa.types.is_int64(t):
            return int(v)
        return v

    rows = [json.loads(line) for line in (FIX / "ga4_events.ndjson").read_text().splitlines()]
    cols = {f.name: [typed(r.get(f.name), f.type) for r in rows] for f in schema}
    out = tmp_path / "events_20250105.parquet"
    pq.write_table(pa.table(cols, schema=schema), out)
    return out


@pytest.mark.parametrize("shape", ["ndjson", "parquet"])
def test_ga4_bigquery_export(shape, tmp_path):
    path = FIX / "ga4_events.ndjson" if shape == "ndjson" else _ga4_parquet(tmp_path)
    got, out = _read("ga4", path)
    _same(got, _expected(GA4_ROWS, GA4_EXTRA))
    assert got["ts"].dt.tz is not None and str(got["ts"].dt.tz) == "UTC"
    assert got.loc[got["event"] == "purchase", "transaction_id"].tolist() == [None, "T1"]
    assert got["session_id"].tolist() == [1736164800] * 2 + [1736078400] * 3 + [1736251200] * 4
    cust = out["customers"].to_pandas().set_index("customer_id")
    assert cust["acquisition_channel"].to_dict() == {"333.444": "social", "U1": "paid_ads", "U2": "direct",
                                                     "U3": "direct"}
    assert cust.loc["U1", ["first_source", "first_medium", "first_campaign"]].tolist() == ["google", "cpc",
                                                                                         "winter_sale"]


def test_identity_stitching_rule():
    """555.666 is seen with U2 (12:01) then U3 (12:02): its anonymous events (12:00, 12:03) go to the
    first user by time, U2; the login carrying U3 stays U3's. 111.222's browsing before the login
    (earlier rows) joins U1; 333.444 never logs in and stays its own customer."""
    got, _ = _read("ga4", FIX / "ga4_events.ndjson")
    owner = got.groupby("customer_id")["anonymous_id"].unique().map(list).to_dict()
    assert owner == {"333.444": ["333.444"], "U1": ["111.222"], "U2": ["555.666"], "U3": ["555.666"]}
    u2 = got[got["customer_id"] == "U2"]
    assert u2["event"].tolist() == ["session_start", "login", "page_view"]
    assert u2["user_id"].tolist() == [None, "U2", None]
    # Segment: an identify call (not an event) and an alias call (previousId -> userId) link too
    seg, _ = _read("segment", FIX / "segment_tracks.jsonl")
    assert sorted(seg["customer_id"].unique()) == ["a-2", "a-4", "u-100", "u-300"]
    assert seg.loc[seg["anonymous_id"] == "a-3", "customer_id"].tolist() == ["u-300"]
    assert not seg["event"].isin(["identify", "alias"]).any() and len(seg) == 6


SEGMENT_ROWS = [
    ("u-100", "2025-01-05 12:00:00", "page_view", "search", None, "google", "organic", None, None, "/", "m-1"),
    ("u-100", "2025-01-05 12:01:00.250", "Product Viewed", None, None, None, None, None, None, "/products/42", "m-2"),
    ("u-100", "2025-01-05 11:06:00", "Order Completed", None, 40.0, None, None, None, "EUR", None, "m-4"),
    ("a-2", "2025-01-06 08:30:00", "Order Completed", "email", 30.0, "newsletter", "email", "jan", "USD", None, "m-5"),
    ("u-300", "2025-01-07 10:00:00.500", "Order Completed", "paid_ads", 30.0, "facebook", "cpc", "retarget", None, None,
     "m-6"),
    ("a-4", "2025-01-08 00:00:00", "screen_view", "social", None, "t.co", "referral", None, None, None, "m-8"),
]


def test_segment_tracks():
    # the one naive timestamp (RudderStack/warehouse style row, 09:30) is Paris time: 08:30 UTC
    got, _ = _read("segment", FIX / "segment_tracks.jsonl", timezone="Europe/Paris")
    _same(got, _expected(SEGMENT_ROWS, ("source", "medium", "campaign", "currency", "page_path", "message_id")))
    utc, _ = _read("segment", FIX / "segment_tracks.jsonl")
    assert utc.loc[utc["message_id"] == "m-5", "ts"].iloc[0] == pd.Timestamp("2025-01-06 09:30", tz="UTC")


AMPLITUDE_ROWS = [
    ("user-1", "2025-01-05 12:00:00.123", "[Amplitude] Page Viewed", "paid_ads", None, "google", "cpc", "brand", None,
     "/", 1736078400000, "d-1", None),
    ("user-1", "2025-01-05 12:03:00", "add_to_cart", None, None, None, None, None, None, None, 1736078400000, "d-1",
     "user-1"),
    ("user-1", "2025-01-05 12:05:30.5", "purchase", None, 99.5, None, None, None, "EUR", None, 1736078400000, "d-1",
     "user-1"),
    ("d-2", "2025-01-06 08:00:00", "purchase", "social", 25.0, "instagram", "social", None, None, None, 1736150400000,
     "d-2", None),
    ("d-3", "2025-01-07 23:59:59.999", "Sign Up", "referral", None, "partner.example", None, None, None, None,
     1736290799000, "d-3", None),
]


def test_amplitude_export():
    got, _ = _read("amplitude", FIX / "amplitude_export.json")
    _same(got, _expected(AMPLITUDE_ROWS, ("source", "medium", "campaign", "currency", "page_path", "session_id",
                                          "anonymous_id", "user_id")))


SNOWPLOW_ROWS = [
    ("sp-user-1", "2025-01-05 12:00:00.123", "page_view", "paid_ads", None, "google", "cpc", "spring", None, "/landing"),
    ("sp-user-1", "2025-01-05 12:01:00", "page_view", None, None, None, None, None, None, "/products/7"),
    ("sp-user-1", "2025-01-05 12:02:00", "add_to_cart", None, None, None, None, None, None, "/products/7"),
    ("sp-user-1", "2025-01-05 12:03:00", "purchase", None, 80.5, None, None, None, "EUR", "/checkout"),
    ("d2", "2025-01-06 09:00:00", "page_view", "direct", None, None, None, None, None, "/"),
    ("d2", "2025-01-06 09:10:00", "page_view", "search", None, None, None, None, None, "/products/8"),
    ("d3", "2025-01-07 07:00:00", "page_view", "email", None, "newsletter", "email", "jan", None, "/"),
]


@pytest.mark.parametrize("shape", ["tsv", "parquet"])
def test_snowplow_enriched_events(shape, tmp_path):
    path = FIX / "snowplow_events.tsv"
    if shape == "parquet":
        # the warehouse shape: typed columns (timestamps naive UTC, tr_total a double)
        df = pd.read_csv(path, sep="\t", dtype=str)
        for c in ("collector_tstamp", "dvce_created_tstamp", "derived_tstamp"):
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ms]")
        df["tr_total"] = df["tr_total"].astype(float)
        path = tmp_path / "atomic_events.parquet"
        df.to_parquet(path, index=False)
    got, _ = _read("snowplow", path)
    _same(got, _expected(SNOWPLOW_ROWS, ("source", "medium", "campaign", "currency", "page_path")))
    assert got.loc[got["event"] == "add_to_cart", ["se_category", "se_label"]].values.tolist() == [["shop", "sku-7"]]
    assert got.loc[got["event"] == "purchase", "transaction_id"].tolist() == ["o-9"]  # its transaction_item dropped


ORDERS_ROWS = [
    ("0042", "2025-01-03 09:00:00", "message_sent", "email", None, "new_year", None, None),
    ("0042", "2025-01-03 10:30:00", "message_open", "email", None, "new_year", None, None),
    ("0042", "2025-01-04 18:00:00", "message_click", "email", None, "new_year", None, None),
    ("0042", "2025-01-05 12:00:00", "purchase", None, 19.9, None, "EUR", "1001"),
    ("0042", "2025-02-01 08:15:30", "purchase", None, 35.0, None, "EUR", "1002"),
    ("0077", "2025-01-19 09:00:00", "message_sent", "push", None, "winter_push", None, None),
    ("0077", "2025-01-20 09:00:00", "purchase", None, 120.5, None, "EUR", "1003"),  # +01:00 offset in the file
]


def test_orders_and_message_log():
    got, _ = _read("orders", FIX / "orders")
    _same(got, _expected(ORDERS_ROWS, ("campaign", "currency", "order_id")))
    only, _ = _read("orders", FIX / "orders" / "orders.csv")
    assert only["event"].tolist() == ["purchase"] * 3  # a file: no message log unless given
    both, _ = _read("orders", FIX / "orders" / "orders.csv", messages=FIX / "orders" / "messages.csv")
    _same(both, _expected(ORDERS_ROWS, ("campaign", "currency", "order_id")))


def test_orders_with_own_column_names_and_day_first_dates():
    cols = {"client_ref": "customer_id", "placed": "ts", "total_eur": "revenue"}
    got, _ = _read("orders", FIX / "shop_orders.csv", columns=cols, timestamp_format="%d/%m/%Y %H:%M",
                   timezone="Europe/Paris")
    _same(got, _expected([("A-1", "2025-01-05 11:00", "purchase", None, 10.0),
                          ("A-1", "2025-01-12 08:30", "purchase", None, 22.5),
                          ("B-2", "2025-03-02 17:45", "purchase", None, 7.25)]))
    with pytest.raises(JourneyDataError, match=r"3 timestamps could not be read \(e\.g\. \['05/01/2025 12:00', "
                                               r"'12/01/2025 09:30', '02/03/2025 18:45'\]\).*timestamp_format"):
        R.read_export("orders", FIX / "shop_orders.csv", columns=cols)
    with pytest.raises(JourneyDataError, match=r"no column for customer_id, ts, revenue.*columns="):
        R.read_export("orders", FIX / "shop_orders.csv")
    with pytest.raises(JourneyDataError, match="'buyer' to 'customer_id'"):
        R.read_export("orders", FIX / "shop_orders.csv", columns={"buyer": "customer_id"})


def test_orders_with_decimal_commas(tmp_path):
    """A European shop's orders: 12,50 and 1.234,00 are amounts with decimal=','; without it they are an error
    that names the decimal comma (TRY_CAST had made them missing revenue without a word)."""
    (tmp_path / "orders.csv").write_text("customer;order_time;total\nc1;2025-01-05 10:00;12,50\n"
                                         "c1;2025-02-01 10:00;1.234,00\nc2;2025-01-07 10:00;7\nc3;2025-01-08 10:00;\n")
    got = R.read_export("orders", tmp_path / "orders.csv", decimal=",")["events"].to_pandas()
    assert got["revenue"].tolist()[:3] == [12.5, 1234.0, 7.0] and np.isnan(got["revenue"].iloc[3])
    with pytest.raises(JourneyDataError, match=r"column \"total\": 2 amounts are not numbers \(e\.g\. \['12,50', "
                                               r"'1\.234,00'\]\).*What to do: these amounts use a decimal comma"):
        R.read_export("orders", tmp_path / "orders.csv")
    (tmp_path / "orders.csv").write_text("customer;order_time;total\nc1;2025-01-05 10:00;12 euros\n")
    with pytest.raises(JourneyDataError, match=r"1 amounts are not numbers \(e\.g\. \['12 euros'\]\).*as numbers "
                                               r"such as 12\.50 \(a currency sign or code beside one"):
        R.read_export("orders", tmp_path / "orders.csv", decimal=",")
    with pytest.raises(JourneyParameterError, match="decimal=';'; expected '.' or ','"):
        R.read_export("ga4", FIX / "ga4_events.ndjson", decimal=";")


def _segment_order(revenue, total=None):
    props = {"order_id": "o1", "revenue": revenue, **({"total": total} if total is not None else {})}
    return json.dumps({"type": "track", "event": "Order Completed", "userId": "u1",
                       "timestamp": "2025-01-05T12:00:00Z", "properties": props})


def _ga4_purchase(value):
    line = (FIX / "ga4_events.ndjson").read_text().splitlines()[2]  # a purchase whose value is the double 59.9
    row = json.loads(line)
    row["ecommerce"]["purchase_revenue"] = None
    for p in row["event_params"]:
        if p["key"] == "value":
            p["value"] = {"string_value": value, "int_value": None, "float_value": None, "double_value": None}
    return json.dumps(row)


def _amplitude_purchase(revenue):
    return json.dumps({"event_type": "purchase", "event_time": "2025-01-05 12:00:00", "user_id": "u1",
                       "event_properties": {"$revenue": revenue}})


def _mixpanel_purchase(revenue):
    return json.dumps({"event": "Purchase", "properties": {"time": 1736078400, "distinct_id": "u1", "revenue": revenue}})


def _posthog_purchase(revenue):
    return json.dumps({"event": "purchase", "distinct_id": "u1", "timestamp": "2025-01-05T12:00:00Z",
                       "properties": {"revenue": revenue}})


def _snowplow_purchase(total):
    head = (FIX / "snowplow_events.tsv").read_text().splitlines()[0]
    cols = head.split("\t")
    row = dict.fromkeys(cols, "")
    row.update(collector_tstamp="2025-01-05 12:03:00", derived_tstamp="2025-01-05 12:03:00", event="transaction",
               domain_userid="d1", tr_orderid="o1", tr_total=total, event_name="transaction")
    return head + "\n" + "\t".join(row[c] for c in cols)


# format, file name, one purchase with a text amount, the field the error names
TEXT_AMOUNTS = [
    ("segment", "tracks.jsonl", _segment_order, "properties.revenue"),
    ("ga4", "events.ndjson", _ga4_purchase, "event_params value"),
    ("amplitude", "export.json", _amplitude_purchase, "event_properties.\\$revenue"),
    ("mixpanel", "export.jsonl", _mixpanel_purchase, "properties.revenue"),
    ("posthog", "events.jsonl", _posthog_purchase, "properties.revenue"),
    ("snowplow", "events.tsv", _snowplow_purchase, "tr_total"),
]


@pytest.mark.parametrize("fmt, name, purchase, field", TEXT_AMOUNTS)
def test_an_export_amount_that_is_no_number_is_an_error(fmt, name, purchase, field, tmp_path):
    """Every export shape reads amounts held as text as the orders reader does: 12,50 with decimal=',' is 12.5,
    without it an error naming the field and the decimal comma; 'EUR 12,50' is 12.5 in EUR; '12 euros' an error in
    any case (TRY_CAST had made both errors a missing revenue without a word)."""
    path = tmp_path / name
    path.write_text(purchase("1.234,50") + "\n")
    got = R.read_export(fmt, path, decimal=",")["events"].to_pandas()
    assert got["revenue"].dropna().tolist() == [1234.5]
    assert "_bad_amount" not in got.columns
    with pytest.raises(JourneyDataError, match=rf"{fmt}: {field}: 1 amounts are not numbers \(e\.g\. \['1\.234,50'\]\)"
                                               r".*What to do: these amounts use a decimal comma \(1\.234,50\)"):
        R.read_export(fmt, path)
    path.write_text(purchase("12.50") + "\n")
    got = R.read_export(fmt, path)["events"].to_pandas()
    assert got["revenue"].dropna().tolist() == [12.5]
    path.write_text(purchase("EUR 12,50") + "\n")
    got = R.read_export(fmt, path, decimal=",")["events"].to_pandas()
    assert got["revenue"].dropna().tolist() == [12.5] and "EUR" in set(got["currency"])
    path.write_text(purchase("12 euros") + "\n")
    for decimal in (".", ","):
        with pytest.raises(JourneyDataError, match=rf"{field}: 1 amounts are not numbers \(e\.g\. \['12 euros'\]\)"
                                                   r".*as numbers such as 12\.50"):
            R.read_export(fmt, path, decimal=decimal)


def test_a_json_number_is_never_read_with_the_decimal_comma(tmp_path):
    """decimal=',' reads text; the JSON number 1.234 stays 1.234 (as text "1.234" it would be 1234)."""
    path = tmp_path / "tracks.jsonl"
    path.write_text(_segment_order(1.234) + "\n" + _segment_order("1.234").replace("u1", "u2") + "\n")
    got = R.read_export("segment", path, decimal=",")["events"].to_pandas().sort_values("customer_id")
    assert got["revenue"].tolist() == [1.234, 1234.0]
    path.write_text(_segment_order(None, total="12,5") + "\n")
    with pytest.raises(JourneyDataError, match=r"properties\.total: 1 amounts are not numbers"):
        R.read_export("segment", path)


def test_message_kinds_are_checked(tmp_path):
    (tmp_path / "orders.csv").write_text("customer,order_time,amount\nc1,2025-01-01 10:00:00,5\n")
    (tmp_path / "messages.csv").write_text("customer,time,kind\nc1,2025-01-01 09:00:00,bounce\n")
    with pytest.raises(JourneyDataError, match="bounce.*expected send, open or click"):
        R.read_export("orders", tmp_path)


def test_detect_format():
    assert R.detect_format(FIX / "ga4_events.ndjson") == "ga4"
    assert R.detect_format(FIX / "segment_tracks.jsonl") == "segment"
    assert R.detect_format(FIX / "amplitude_export.json") == "amplitude"
    assert R.detect_format(FIX / "snowplow_events.tsv") == "snowplow"
    assert R.detect_format(FIX / "orders") == "orders"
    assert R.detect_format(FIX / "orders" / "orders.csv") == "orders"
    with pytest.raises(JourneyDataError, match="cannot tell the export format"):
        R.detect_format(FIX / "shop_orders.csv")
    got, _ = _read("auto", FIX / "amplitude_export.json")
    assert len(got) == 5


def test_parameter_errors():
    with pytest.raises(JourneyParameterError, match="expected one of ga4, segment"):
        R.read_export("heap", FIX / "orders")
    with pytest.raises(JourneyParameterError, match="unknown time zone"):
        R.read_export("orders", FIX / "orders", timezone="Mars/Olympus")
    with pytest.raises(JourneyParameterError, match="messages"):
        R.read_export("ga4", FIX / "ga4_events.ndjson", messages=FIX / "orders" / "messages.csv")
    with pytest.raises(JourneyDataError, match="not a ga4 export: none of its 5 rows has a timestamp or an event name"):
        R.read_export("ga4", FIX / "amplitude_export.json")
    with pytest.raises(JourneyDataError, match="no parquet or json file"):
        R.read_export("ga4", FIX / "missing.parquet")


CHANNEL_CASES = [
    (None, None, None), ("(not set)", "(not set)", None), ("google", "cpc", "paid_ads"),
    ("facebook", "paid_social", "paid_ads"), ("bing", "ppc", "paid_ads"), ("newsletter", "email", "email"),
    ("newsletter", None, "email"), ("google", "organic", "search"), ("duckduckgo", None, "search"),
    ("facebook", "referral", "social"), ("t.co", "referral", "social"), ("instagram", "social", "social"),
    ("partner.example", "referral", "referral"), ("partner.example", "affiliate", "referral"),
    ("(direct)", "(none)", "direct"), ("partner.example", None, "referral"), ("brevo", "SMS", "sms"),
    (" Google ", " CPC ", "paid_ads"),
]


@pytest.mark.parametrize("source, medium, channel", CHANNEL_CASES)
def test_channel_mapping(source, medium, channel):
    assert R.channel_of(source, medium) == channel


def test_channel_sql_equals_channel_of():
    pairs = pd.DataFrame(CHANNEL_CASES, columns=["s", "m", "want"])
    con = duckdb.connect()
    con.register("pairs", pairs)
    got = con.execute(f"SELECT {R.channel_sql('s', 'm')} AS c FROM pairs").fetchdf()["c"]
    assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in pairs["want"]]
    assert np.all([R.channel_of(s, m) == (None if pd.isna(w) else w) for s, m, w in CHANNEL_CASES])


def test_wrong_shape_in_parquet_is_named(tmp_path):
    pd.DataFrame({"customer_id": ["c1"], "ts": ["2025-01-01"], "event": ["x"]}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(JourneyDataError, match="not a GA4 BigQuery export: expected event_name, event_timestamp"):
        R.read_export("ga4", tmp_path / "e.parquet")


@pytest.mark.parametrize("fmt", ["ga4", "segment", "amplitude", "snowplow"])
def test_the_shape_of_an_export_folder_is_its_events_not_the_tables_beside_them(tmp_path, fmt):
    """write_export puts customers/assignments beside the events; detection reads the events."""
    from journeylib.core.readers import detect_format

    jl.write_export(jl.simulate_journeys(120, seed=4), fmt, tmp_path)
    assert detect_format(tmp_path) == fmt


def test_orders_with_unix_times(tmp_path):
    (tmp_path / "orders.csv").write_text("customer,order_time,total\nc1,1736078400,12.5\nc1,1736164800.5,3\n")
    got = R.read_export("orders", tmp_path / "orders.csv", timestamp_format="unix_s", timezone="Europe/Paris")
    ts = got["events"].to_pandas()["ts"].tolist()
    assert ts == [pd.Timestamp(1736078400, unit="s", tz="UTC"), pd.Timestamp(1736164800.5, unit="s", tz="UTC")]
    with pytest.raises(JourneyDataError, match=r"2 timestamps could not be read.*unix_s, unix_ms or unix_us for "
                                               r"Unix times"):
        R.read_export("orders", tmp_path / "orders.csv")


def test_orders_with_dates_that_name_the_month(tmp_path):
    """A shop's orders written Jan 5, 2025 9:00 AM: read without timestamp_format as with it, in the zone given;
    a value in another form is named with the format the others are in."""
    (tmp_path / "orders.csv").write_text('customer,Created at,total\nc1,"Jan 5, 2025 9:00 AM",12.5\n'
                                         'c1,"Dec 12, 2025 11:30 PM",3\n')
    want = [pd.Timestamp("2025-01-05 08:00", tz="UTC"), pd.Timestamp("2025-12-12 22:30", tz="UTC")]
    for fmt in (None, "%b %d, %Y %I:%M %p"):
        got = R.read_export("orders", tmp_path / "orders.csv", timezone="Europe/Paris", timestamp_format=fmt)
        assert sorted(got["events"].to_pandas()["ts"]) == want
    (tmp_path / "orders.csv").write_text('customer,Created at,total\nc1,"Jan 5, 2025 9:00 AM",12.5\n'
                                         'c1,"Dec 12, 2025 11:30 PM",3\nc2,2025-13-01 10:00,4\n')
    with pytest.raises(JourneyDataError, match=r"1 timestamps could not be read \(e\.g\. \['2025-13-01 10:00'\]\); "
                                               r"expected the format '%b %d, %Y %I:%M %p'"):
        R.read_export("orders", tmp_path / "orders.csv")


def test_orders_times_with_their_zone_are_not_moved_by_the_timezone(tmp_path):
    """An orders export from PostgreSQL (+01) or BigQuery (UTC), or with a region name: instants; the
    timezone moves only the time without a zone."""
    times = ["2025-01-05 10:00:00+01", "2025-01-05 10:00:00 UTC", "2025-01-05 10:00:00 Europe/Paris",
             "2025-01-05 10:00:00"]
    (tmp_path / "orders.csv").write_text("customer,order_time,total\n" + "".join(f"c{i},{t},10\n"
                                                                                 for i, t in enumerate(times)))
    got = R.read_export("orders", tmp_path / "orders.csv", timezone="America/New_York")["events"].to_pandas()
    assert got.sort_values("customer_id")["ts"].dt.strftime("%H:%M").tolist() == ["09:00", "10:00", "09:00", "15:00"]


MIXPANEL_ROWS = [
    # customer, ts, event, channel, revenue, source, medium, campaign, currency, page_path, anonymous_id, user_id
    ("u-1", "2025-01-05 12:00:00", "page_view", "paid_ads", None, "google", "cpc", "brand", None, "/", "dev-1", None),
    ("u-1", "2025-01-05 12:01:00", "Product Viewed", None, None, None, None, None, None, "/products/42", "dev-1", None),
    ("u-1", "2025-01-05 12:10:00", "Order Completed", None, 59.9, None, None, None, "EUR", None, "dev-1", "u-1"),
    # original ID merge: before login distinct_id is the device; $identify links it; after, distinct_id is the user
    ("u-2", "2025-01-06 08:00:00", "Signed Up", "email", None, "newsletter", "email", None, None, None, "dev-2", None),
    ("u-2", "2025-01-06 08:01:40.123", "Purchase", None, 25.0, None, None, None, None, None, "dev-2", "u-2"),
    ("dev-3", "2025-01-07 08:00:00", "App Opened", None, None, None, None, None, None, None, None, "dev-3"),
]


def test_mixpanel_export():
    """Simplified ID merge ($device_id / $user_id), original ID merge ($identify), Unix seconds and milliseconds,
    price x quantity on an order event, $mp_web_page_view as page_view; the $identify row itself is dropped."""
    got, _ = _read("mixpanel", FIX / "mixpanel_export.json")
    _same(got, _expected(MIXPANEL_ROWS, ("source", "medium", "campaign", "currency", "page_path", "anonymous_id",
                                         "user_id")))
    assert sorted(got["insert_id"]) == ["i-1", "i-2", "i-3", "i-4", "i-6", "i-7"]
    assert R.detect_format(FIX / "mixpanel_export.json") == "mixpanel"
    paris, _ = _read("mixpanel", FIX / "mixpanel_export.json", timezone="Europe/Paris")  # project time, not UTC
    assert (got["ts"] - paris["ts"]).unique().tolist() == [pd.Timedelta(hours=1)]


POSTHOG_ROWS = [
    # customer, ts, event, channel, revenue, source, medium, campaign, currency, page_path, anonymous_id
    ("ann@example.com", "2025-01-05 12:00:00", "page_view", "paid_ads", None, "google", "cpc", "brand", None, "/",
     "0193a1b2-anon-1"),
    ("ann@example.com", "2025-01-05 12:01:00", "product viewed", None, None, None, None, None, None, "/products/42",
     "0193a1b2-anon-1"),
    ("ann@example.com", "2025-01-05 12:10:00", "order completed", None, 40.0, None, None, None, "EUR", "/checkout",
     "ann@example.com"),
    ("0193a1b2-anon-2", "2025-01-06 08:00:00.250", "page_view", "email", None, "newsletter", "email", None, None, "/blog",
     "0193a1b2-anon-2"),
]


def test_posthog_events(tmp_path):
    """$identify links the anonymous browsing to the identified distinct_id (and is dropped with $set); with a
    person_id column (the warehouse's events table, here as CSV with JSON text properties) the person is the
    customer whatever the distinct_id."""
    got, _ = _read("posthog", FIX / "posthog_events.jsonl")
    _same(got, _expected(POSTHOG_ROWS, ("source", "medium", "campaign", "currency", "page_path", "anonymous_id")))
    assert got.loc[got["customer_id"] == "ann@example.com", "session_id"].tolist() == ["s-1"] * 3
    assert sorted(got["event_uuid"].str[-1]) == ["1", "2", "4", "5"]
    assert R.detect_format(FIX / "posthog_events.jsonl") == "posthog"
    rows = [json.loads(line) for line in (FIX / "posthog_events.jsonl").read_text().splitlines()]
    table = pd.DataFrame({"uuid": [r["uuid"] for r in rows], "event": [r["event"] for r in rows],
                          "distinct_id": [r["distinct_id"] for r in rows],
                          "timestamp": [r["timestamp"] for r in rows],
                          "properties": [json.dumps(r["properties"]) for r in rows],
                          "person_id": ["p-1", "p-1", "p-1", "p-1", "p-2", "p-2"]})
    table.to_csv(tmp_path / "events.csv", index=False)
    assert R.detect_format(tmp_path / "events.csv") == "posthog"
    by_person, _ = _read("posthog", tmp_path / "events.csv")
    assert by_person["customer_id"].tolist() == ["p-1", "p-1", "p-1", "p-2"]
    assert by_person["revenue"].tolist()[2] == 40.0
    assert by_person["page_path"].tolist() == ["/", "/products/42", "/checkout", "/blog"]


def test_orders_in_an_excel_workbook(tmp_path):
    """A shop's orders kept in Excel (date cells, amounts as numbers or as text with a decimal comma) beside a
    CSV message log: the same events as from CSV."""
    orders = pd.DataFrame({"customer": ["c1", "c1", "c2"],
                           "order_time": pd.to_datetime(["2025-01-05 10:00", "2025-02-01 10:00", "2025-01-07 10:00"]),
                           "total": [12.5, 1234.0, 7]})
    orders.to_excel(tmp_path / "orders.xlsx", index=False)
    (tmp_path / "messages.csv").write_text("customer,time,kind\nc1,2025-01-04 09:00:00,send\n")
    got = R.read_export("orders", tmp_path)["events"].to_pandas()
    assert got["event"].tolist() == ["message_sent", "purchase", "purchase", "purchase"]
    assert got["revenue"].dropna().tolist() == [12.5, 1234.0, 7.0]
    assert got.loc[got["event"] == "purchase", "ts"].tolist() == list(orders["order_time"].dt.tz_localize("UTC"))
    assert R.detect_format(tmp_path / "orders.xlsx") == "orders"
    orders.assign(total=["12,50", "1.234,00", "7"]).to_excel(tmp_path / "orders.xlsx", index=False)
    got = R.read_export("orders", tmp_path / "orders.xlsx", decimal=",")["events"].to_pandas()
    assert got["revenue"].tolist() == [12.5, 1234.0, 7.0]


def test_orders_with_commas_grouping_thousands(tmp_path):
    (tmp_path / "orders.csv").write_text('customer,order_time,total\nc1,2025-01-05 10:00,"1,234.50"\n'
                                         'c1,2025-02-01 10:00,12.00\nc2,2025-01-07 10:00,"2,000"\n')
    got = R.read_export("orders", tmp_path / "orders.csv")["events"].to_pandas()
    assert got["revenue"].tolist() == [1234.5, 12.0, 2000.0]


def test_orders_with_amounts_written_with_their_currency(tmp_path):
    """Square-style amounts ($1,234.50) are read, and the currency they are written with becomes the order's currency
    where the export has no currency column, so that loading the journey stops on orders in two currencies."""
    (tmp_path / "orders.csv").write_text('customer,order_time,total\nc1,2025-01-05 10:00,"$1,234.50"\n'
                                         'c1,2025-02-01 10:00,$12.00\nc2,2025-01-07 10:00,"$ 2,000"\n', encoding="utf-8")
    got = R.read_export("orders", tmp_path / "orders.csv")["events"].to_pandas()
    assert got["revenue"].tolist() == [1234.5, 12.0, 2000.0] and set(got["currency"]) == {"$"}
    (tmp_path / "orders.csv").write_text("customer;order_time;total\nc1;2025-01-05 10:00;1\u00a0234,50\u00a0€\n"
                                         "c2;2025-01-07 10:00;12,00 €\n", encoding="utf-8")
    got = R.read_export("orders", tmp_path / "orders.csv", decimal=",")["events"].to_pandas()
    assert got["revenue"].tolist() == [1234.5, 12.0] and set(got["currency"]) == {"€"}
    (tmp_path / "orders.csv").write_text("customer,order_time,total\nc1,2025-01-05 10:00,$5.00\n"
                                         "c2,2025-01-07 10:00,€7.00\nc3,2025-01-08 10:00,$1.00\n", encoding="utf-8")
    (tmp_path / "journey.yml").write_text("sources:\n  events: {path: orders.csv, format: orders}\nstages:\n"
                                          "  order: [purchase]\n  rules: [{stage: purchase, event: purchase}]\n")
    with pytest.raises(JourneyDataError, match=r"(?s)column 'currency' of events: 1 of 3 rows invalid.*expected one "
                                               r"currency for all revenue.*found \$ 2, € 1 priced rows"):
        jl.load_journey(tmp_path / "journey.yml")


def test_an_export_with_revenue_in_two_currencies_is_an_error(tmp_path):
    """The Segment fixture's orders are in EUR and USD (and one names none): the reader keeps each event's currency,
    and loading stops, naming both with their counts; with the USD order in EUR it loads."""
    events = R.read_export("segment", FIX / "segment_tracks.jsonl")["events"]
    with pytest.raises(JourneyDataError, match=r"(?s)column 'currency' of events: 1 of 2 rows invalid.*expected one "
                                               r"currency for all revenue.*found EUR 1, USD 1 priced rows"):
        jl.load_events(events)
    one = tmp_path / "tracks.jsonl"
    one.write_text((FIX / "segment_tracks.jsonl").read_text().replace('"currency":"USD"', '"currency":"EUR"'))
    assert jl.load_events(R.read_export("segment", one)["events"]).to_pandas()["revenue"].sum() == 100.0


SHOPIFY = '''Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Taxes,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Id,Refunded Amount
#1001,ann@example.com,paid,2025-01-05 10:01:00 -0500,USD,50.00,5.00,4.50,59.50,2025-01-05 10:00:00 -0500,1,Blue Mug,20.00,5551001,0.00
#1001,ann@example.com,,,,,,,,2025-01-05 10:00:00 -0500,1,Red Mug,30.00,,
#1002,bob@example.com,paid,2025-01-07 12:00:00 -0500,USD,"1,200.00",0.00,96.00,"1,296.00",2025-01-07 11:59:00 -0500,2,Coffee Machine,600.00,5551002,0.00
#1003,ann@example.com,refunded,2025-02-01 09:00:00 -0500,USD,20.00,5.00,2.00,27.00,2025-02-01 08:55:00 -0500,1,Blue Mug,20.00,5551003,27.00
#1004,ann@example.com,partially_refunded,2025-03-01 09:00:00 +0100,USD,20.00,5.00,2.00,27.00,2025-03-01 08:55:00 +0100,1,Blue Mug,20.00,5551004,7.00'''


def test_a_shopify_orders_export(tmp_path):
    """Shopify's orders export: a row per line item (the total on the order's first row, the order number Name on
    every row, Id on the first only), times with a space before the offset, 1,296.00, a refunded order and a partly
    refunded one. One purchase per order at its total less its Refunded Amount; the refunded order left out; all
    said in a warning."""
    (tmp_path / "orders_export.csv").write_text(SHOPIFY)
    assert R.detect_format(tmp_path / "orders_export.csv") == "orders"
    with pytest.warns(jl.JourneyDataWarning, match=r"1 order partly refunded: the refund is subtracted from the "
                                                   r"order's value; 1 of 4 orders span several rows \(line items\) and "
                                                   r"are one purchase each; 1 order refunded, voided or cancelled left "
                                                   r"out \(as their Financial Status column says or their whole amount"):
        got = R.read_export("orders", tmp_path / "orders_export.csv")["events"].to_pandas()
    assert got["order_id"].tolist() == ["#1001", "#1004", "#1002"]  # by customer, then time
    assert got["customer_id"].tolist() == ["ann@example.com", "ann@example.com", "bob@example.com"]
    assert got["revenue"].tolist() == [59.5, 20.0, 1296.0]  # #1004: 27.00 less its 7.00 refund
    assert got["ts"].tolist() == [pd.Timestamp("2025-01-05 15:00", tz="UTC"), pd.Timestamp("2025-03-01 07:55", tz="UTC"),
                                  pd.Timestamp("2025-01-07 16:59", tz="UTC")]


def test_orders_whose_rows_carry_line_amounts_are_one_purchase_at_their_sum(tmp_path):
    """An order id on several rows with different amounts (line totals) is one purchase at their sum; one amount
    repeated on every row (an order total) counts once; a cancelled status leaves the order out."""
    (tmp_path / "orders.csv").write_text("order_id,customer,order_time,amount,status\n"
                                         "A1,c1,2025-01-05 10:00,20,complete\nA1,c1,2025-01-05 10:00,30,complete\n"
                                         "A2,c1,2025-01-06 10:00,45,complete\nA2,c1,2025-01-06 10:00,45,complete\n"
                                         "A3,c2,2025-01-07 10:00,10,Cancelled\nA4,c2,2025-01-08 10:00,12,wc-refunded\n"
                                         "A5,c2,2025-01-09 10:00,8,wc-completed\n")
    with pytest.warns(jl.JourneyDataWarning, match=r"2 of 5 orders span several rows.*1 of them carry different amounts"
                                                   r".*2 orders refunded, voided or cancelled left out \(as their "
                                                   r"status column says"):
        got = R.read_export("orders", tmp_path / "orders.csv")["events"].to_pandas()
    assert got[["order_id", "revenue"]].values.tolist() == [["A1", 50.0], ["A2", 45.0], ["A5", 8.0]]


def test_refunds_are_subtracted_from_orders_without_an_order_id_or_status(tmp_path):
    """Stripe's and shops' exports without a status: an order's refunded amount is subtracted from its value, and
    an order refunded in full is left out, each said; a refund that is not a number is named."""
    (tmp_path / "orders.csv").write_text("Customer ID,Created (UTC),Amount,Amount Refunded\n"
                                         "c1,2025-01-05 10:00,40.00,0.00\nc1,2025-01-06 10:00,25.00,5.00\n"
                                         "c2,2025-01-07 10:00,12.00,12.00\nc2,2025-01-08 10:00,9.50,\n")
    with pytest.warns(jl.JourneyDataWarning, match=r"orders: 1 order partly refunded: the refund is subtracted from "
                                                   r"the order's value; 1 order refunded, voided or cancelled left out "
                                                   r"\(as their whole amount was refunded"):
        got = R.read_export("orders", tmp_path / "orders.csv")["events"].to_pandas()
    assert got.sort_values("ts")[["customer_id", "revenue"]].values.tolist() == [["c1", 40.0], ["c1", 20.0],
                                                                                ["c2", 9.5]]
    (tmp_path / "orders.csv").write_text("Customer ID,Created (UTC),Amount,Amount Refunded\n"
                                         "c1,2025-01-05 10:00,40.00,n/a\n")
    with pytest.raises(jl.JourneyDataError, match=r"Amount Refunded.*1 amounts are not numbers"):
        R.read_export("orders", tmp_path / "orders.csv")


def test_columns_given_in_another_case_rename_the_column(tmp_path):
    """columns= matches a column as the readers do (any case, spaces as underscores), and renames it too."""
    text = (FIX / "snowplow_events.tsv").read_text().replace("domain_userid", "Visitor Id", 1)
    (tmp_path / "events.tsv").write_text(text)
    got, _ = _read("snowplow", tmp_path / "events.tsv", columns={"visitor_id": "domain_userid"})
    _same(got, _expected(SNOWPLOW_ROWS, ("source", "medium", "campaign", "currency", "page_path")))


def test_an_orders_export_whose_times_end_in_a_zone_abbreviation(tmp_path):
    """PST/PDT in an orders export: read in the declared zone (winter and summer offsets), refused without it."""
    (tmp_path / "orders.csv").write_text("order_id,customer,order_time,amount\n1,a,2025-01-05 09:00:00 PST,10\n"
                                         "2,b,2025-07-05 09:00:00 PDT,12\n")
    got = R.read_export("orders", tmp_path / "orders.csv", timezone="America/Los_Angeles")["events"].to_pandas()
    assert got.sort_values("customer_id")["ts"].dt.strftime("%m-%d %H:%M").tolist() == ["01-05 17:00", "07-05 16:00"]
    with pytest.raises(jl.JourneyDataError, match=r"2 timestamps could not be read.*What to do: these times end in a "
                                                  r"zone abbreviation"):
        R.read_export("orders", tmp_path / "orders.csv")


def test_a_negative_amount_without_a_refund_column_is_not_made_a_free_purchase(tmp_path):
    """A refund written as its own row with a negative amount stays negative (the journey's revenue check names
    it), never a purchase worth 0."""
    (tmp_path / "orders.csv").write_text("order_id,customer,order_time,amount\n1,a,2025-01-05 09:00:00,40\n"
                                         "1-R,a,2025-01-07 09:00:00,-10\n")
    got = R.read_export("orders", tmp_path / "orders.csv")["events"].to_pandas()
    assert sorted(got["revenue"]) == [-10.0, 40.0]
