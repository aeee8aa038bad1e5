import pandas as pd

from journeylib.report.privacy import pseudonym, pseudonymize


def test_ids_are_replaced_consistently_and_other_personal_columns_dropped():
    df = pd.DataFrame({"customer_id": ["a", "b", "a"], "email": ["x@y", "z@w", "x@y"], "clv": [1.0, 2.0, 3.0]})
    out = pseudonymize(df)
    assert list(out.columns) == ["customer_id", "clv"]
    assert out["customer_id"][0] == out["customer_id"][2] != out["customer_id"][1]
    assert not set(out["customer_id"]) & {"a", "b"}
    assert out["customer_id"][0] == pseudonym("a") and out["customer_id"][0].startswith("cust-")
    assert list(df["customer_id"]) == ["a", "b", "a"]  # input untouched


def test_show_ids_keeps_them():
    df = pd.DataFrame({"customer_id": ["a"]})
    assert pseudonymize(df, show_ids=True)["customer_id"][0] == "a"


def test_index_of_ids_is_pseudonymised():
    df = pd.DataFrame({"clv": [1.0]}, index=pd.Index(["a"], name="customer_id"))
    assert pseudonymize(df).index[0] == pseudonym("a")


def test_show_ids_must_be_a_boolean():
    """A string such as "no" is truthy: taken as is it would show every id."""
    import pytest

    from journeylib.core.errors import JourneyParameterError

    with pytest.raises(JourneyParameterError, match="show_ids"):
        pseudonymize(pd.DataFrame({"customer_id": ["C1"]}), show_ids="no")
