"""The Rust plugin's unit tests, ported."""

from weir_sdk import Drop, Failed, Keep, Record
from weir_sdk.testing import Harness, MockHost

from plugin import SpeedLimit


def rec(value):
    return Record.from_json(value)


def test_keeps_only_speeds_above_the_default_limit():
    h = Harness(SpeedLimit, MockHost())
    out = h.filter([
        rec({"speed": "82"}),
        rec({"speed": "75"}),
        rec({"speed": 75.5}),
        rec({"speed": "64"}),
    ])
    assert out == [Keep, Drop, Keep, Drop]


def test_limit_and_field_are_configurable():
    host = MockHost().with_config("limit", "100").with_config("field", "v")
    h = Harness(SpeedLimit, host)
    out = h.filter([rec({"v": 101}), rec({"v": "99", "speed": 500})])
    assert out == [Keep, Drop]


def test_unusable_speed_is_a_record_error_not_a_crash():
    h = Harness(SpeedLimit, MockHost())
    out = h.filter([
        rec({"speed": "fast"}),
        rec({"plate": "X"}),
        Record("not json"),
        rec({"speed": "90"}),
    ])
    codes = [o.error.code if isinstance(o, Failed) else repr(o).lower() for o in out]
    assert codes == ["bad-value", "missing-field", "bad-json", "keep"]
    assert '"fast"' in out[0].error.message


def test_bad_limit_fails_the_batch_with_the_key_named():
    h = Harness(SpeedLimit, MockHost().with_config("limit", "lots"))
    (out,) = h.filter([rec({"speed": 1})])
    assert isinstance(out, Failed)
    assert out.error.code == "plugin-init"
    assert "limit" in out.error.message
    assert out.error.message == 'config `limit`: cannot parse "lots": invalid float literal'


def test_infinite_limit_is_refused_and_retried_on_the_next_batch():
    host = MockHost().with_config("limit", "inf")
    h = Harness(SpeedLimit, host)
    out = h.filter([rec({"speed": 1}), rec({"speed": 2})])
    assert [o.error.message for o in out] == ["config `limit`: must be a finite number"] * 2
    host.with_config("limit", "1.5")
    assert h.filter([rec({"speed": 2})]) == [Keep]


def test_fields_not_read_are_checked_as_syntax_only():
    h = Harness(SpeedLimit, MockHost())
    out = h.filter([Record(b'{"x": 1e999, "speed": 90}'), Record(b'{"speed": 1e999}')])
    assert out[0] == Keep
    assert out[1].error.code == "bad-json"
