from weir_sdk import Drop, Failed, Keep, Record
from weir_sdk.testing import Harness, MockHost

from plugin import Plugin


def test_keeps_values_above_min():
    h = Harness(Plugin, MockHost().with_config("min", "10"))
    out = h.filter([Record.from_json({"value": 11}), Record.from_json({"value": "9"})])
    assert out == [Keep, Drop]


def test_a_record_without_value_fails_alone():
    out = Harness(Plugin).filter([Record.from_json({"other": 1})])
    assert isinstance(out[0], Failed)
    assert out[0].error.code == "missing-field"
