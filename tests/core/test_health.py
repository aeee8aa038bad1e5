"""Run health: a consumer of what notebooks pass to ``record``; nothing writes into it on its own."""
import json
from dataclasses import dataclass

import pandas as pd
import pytest

from journeylib.core import health
from journeylib.core.load import InputRecord, load_table
from journeylib.core.result import Check, Result


@dataclass(frozen=True)
class _Shown(Result):
    checks: tuple = ()

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame()


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(health.ENV_VAR, raising=False)
    health.reset()
    yield
    health.reset()


def test_record_takes_inputs_and_checks_of_loads_and_checks_of_results():
    events = load_table("events", pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2024-01-01", "2024-01-02"],
                                                "event": ["visit", "purchase"]}))
    srm = _Shown(checks=(Check("SRM: e1", "warn", "p = 0.0004"),))
    health.record(events, None, srm)
    assert health.inputs() == [{"table": "events", "source": "<DataFrame>", "rows": 2, "sha256": events.input.sha256,
                                "validation": events.input.validation, "duplicates_dropped": 0, "future_rows": 0}]
    assert [(c["name"], c["status"], c["passed"]) for c in health.checks()] == [
        ("events: validated", "pass", True), ("SRM: e1", "warn", False)]


def test_the_same_input_or_check_recorded_twice_is_listed_once():
    rec = InputRecord("events", "sample/events.parquet", 10, "abc", "reused")

    @dataclass(frozen=True)
    class Data:
        inputs: tuple = (rec,)
        checks: tuple = ()

    health.record(Data(), Data())
    assert len(health.inputs()) == 1 and health.inputs()[0]["source"] == "sample/events.parquet"
    same = _Shown(checks=(Check("funnel: mature cohort", "pass", "all entrants count"),))
    other = _Shown(checks=(Check("funnel: mature cohort", "warn", "12 entrants too recent"),))
    health.record(same, same, other)
    assert [c["status"] for c in health.checks()] == ["pass", "warn"]


def test_the_log_is_written_to_the_runner_file(tmp_path, monkeypatch):
    path = tmp_path / "health.json"
    monkeypatch.setenv(health.ENV_VAR, str(path))
    health.record(_Shown(checks=(Check("converged", "fail", "no"),)))
    health.add_check("notebook's own", True, "ok")
    written = json.loads(path.read_text())
    assert written["inputs"] == []
    assert [(c["name"], c["status"]) for c in written["checks"]] == [("converged", "fail"), ("notebook's own", "pass")]
