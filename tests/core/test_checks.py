"""Shared parameter checks: what counts as a number, a whole number, a True/False option."""
import numpy as np
import pytest

from journeylib.core.checks import flag, is_number, whole_number
from journeylib.core.errors import JourneyParameterError


def test_numbers_whole_numbers_and_flags():
    assert is_number(3) and is_number(2.5) and is_number(np.int64(4))
    assert not any(is_number(v) for v in (True, "3", float("nan"), float("inf"), None))
    assert whole_number(90.0, "days", minimum=1, expected="days") == 90
    for bad in (0, 1.5, "2", True):
        with pytest.raises(JourneyParameterError, match=r"days=.*; expected a count"):
            whole_number(bad, "days", minimum=1, expected="a count")
    assert flag(np.bool_(True), "x") is True and flag(False, "x") is False
    with pytest.raises(JourneyParameterError, match="x='no'; expected True or False"):
        flag("no", "x")
