"""Error messages quote offending rows with ids pseudonymised (unless show_ids); engine names are checked."""
import pandas as pd
import pytest

from journeylib.core import privacy
from journeylib.core.engine import connect, engine_kind
from journeylib.core.errors import JourneyDataError, JourneyParameterError, data_error
from journeylib.report import privacy as report_privacy


@pytest.fixture(autouse=True)
def ids_hidden(monkeypatch):
    monkeypatch.delenv(privacy.ENV_VAR, raising=False)


ROWS = pd.DataFrame({"customer_id": ["alice@example.com", "bob@example.org"], "ts": ["not a date", "2024-13-01"],
                     "email": ["a@x.io", "b@x.io"], "phone": ["+44 20 7946 0000", "+44 20 7946 0001"],
                     "event": ["visit", "visit"]})


def test_data_error_pseudonymises_ids_and_contact_columns_but_not_the_bad_values():
    msg = str(data_error("ts", 2, 10, "a timestamp", ROWS))
    for raw in ("alice@example.com", "bob@example.org", "a@x.io", "+44 20 7946 0000"):
        assert raw not in msg
    assert privacy.pseudonym("alice@example.com") in msg and privacy.pseudonym("a@x.io") in msg
    assert "not a date" in msg and "2024-13-01" in msg and "visit" in msg  # the values to fix stay readable
    assert "First offending rows (ids pseudonymised; run with show_ids to see them):" in msg
    assert msg.startswith("column 'ts' of events: 2 of 10 rows invalid; expected a timestamp.")


def test_show_ids_shows_them(monkeypatch):
    monkeypatch.setenv("JOURNEYLIB_SHOW_IDS", "1")
    assert privacy.show_ids()
    msg = str(data_error("ts", 2, 10, "a timestamp", ROWS))
    assert "alice@example.com" in msg and "a@x.io" in msg and "pseudonymised" not in msg
    privacy.set_show_ids(False)
    assert not privacy.show_ids() and "alice@example.com" not in str(data_error("ts", 2, 10, "x", ROWS))
    privacy.set_show_ids(True)
    assert privacy.show_ids()
    with pytest.raises(TypeError, match="show_ids='no'"):
        privacy.set_show_ids("no")


def test_an_invalid_id_is_shown_but_a_duplicated_valid_one_is_not():
    bad_ids = pd.DataFrame({"customer_id": ["1.5"], "ts": ["2024-01-01"]})
    assert "1.5" in str(data_error("customer_id", 1, 2, "a customer id", bad_ids))  # a value check: nobody's id
    dups = pd.DataFrame({"customer_id": ["alice@example.com"] * 2, "experiment": ["e1", "e1"]})
    msg = str(data_error("customer_id,experiment", 1, None, "one row per key", dups, table="assignments"))
    assert "alice@example.com" not in msg and privacy.pseudonym("alice@example.com") in msg


def test_the_users_own_id_column_is_personal_whatever_its_name():
    rows = pd.DataFrame({"Client Email": ["c@x.io"], "userId": ["u-1"], "shopper": ["s9"], "loyalty_member": [True],
                         "ref": ["r1"], "stage": ["cart"]})
    msg = str(data_error("stage", 1, 1, "a stage", rows, id_columns=["ref"]))
    assert not {"c@x.io", "u-1", "s9", "r1"} & set(msg.split())
    assert "True" in msg and "cart" in msg  # not personal
    privacy.register_id_column("Kundennummer")
    assert privacy.is_personal_column("kundennummer") and not privacy.is_personal_column("segment")


def test_foreign_text_has_email_addresses_pseudonymised():
    text = "KeyError: 'alice@example.com' not in index"
    assert privacy.scrub_text(text) == f"KeyError: '{privacy.pseudonym('alice@example.com')}' not in index"


def test_report_privacy_api_is_unchanged_and_shares_the_salt():
    assert report_privacy.pseudonym is privacy.pseudonym
    assert report_privacy.PERSONAL_COLUMNS == ("customer_id", "email", "name", "phone", "address", "ip")
    out = report_privacy.pseudonymize(pd.DataFrame({"customer_id": ["a"], "email": ["x@y.z"]}))
    assert list(out.columns) == ["customer_id"] and out["customer_id"][0] == privacy.pseudonym("a")


@pytest.mark.parametrize("target, kind", [(None, "duckdb"), ("duckdb", "duckdb"), (":memory:", "duckdb"),
                                          ("shop.duckdb", "duckdb"), ("data/shop.DB", "duckdb"),
                                          ("spark", "spark"), ("spark://host:7077", "spark"), ("local[4]", "spark"),
                                          ("local", "spark"), ("yarn", "spark"), ("k8s://https://h:443", "spark"),
                                          ("duckbd", None), ("sparkk", None), ("localhost", None), ("shop.csv", None),
                                          ("", None), (3, None)])
def test_engine_values(target, kind):
    assert engine_kind(target) == kind


def test_an_unknown_engine_is_an_error_and_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JourneyParameterError) as err:
        connect("duckbd")
    assert str(err.value) == ("engine='duckbd' is not an engine journeylib knows; expected 'duckdb' (or ':memory:'), "
                              "a DuckDB database file ending .duckdb or .db, 'spark', a Spark master URL "
                              "(spark://host:7077, local[4], yarn, k8s://...), a SparkSession or an Ibis connection")
    assert list(tmp_path.iterdir()) == []
    con = connect(str(tmp_path / "shop.duckdb"))
    assert (tmp_path / "shop.duckdb").exists()
    con.disconnect()
    connect()


def test_data_error_is_a_journey_data_error():
    assert isinstance(data_error("ts", 1, 1, "x"), JourneyDataError)
