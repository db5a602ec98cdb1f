from weir_sdk import Failed, Record, Records
from weir_sdk.testing import Harness, MockHost

from plugin import Plugin


def test_adds_the_field():
    h = Harness(Plugin, MockHost().with_config("value", "me"))
    out = h.transform([Record.from_json({"a": 1})])
    assert isinstance(out[0], Records)
    assert out[0].records[0].json() == {"a": 1, "processed_by": "me"}


def test_a_payload_that_is_not_json_fails_alone():
    out = Harness(Plugin).transform([Record(b"not json")])
    assert isinstance(out[0], Failed)
    assert out[0].error.code == "bad-json"
