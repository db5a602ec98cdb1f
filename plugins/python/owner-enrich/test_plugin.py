"""The Rust plugin's unit tests, ported."""

import pytest

from weir_sdk import Failed, Record, RecordError, Records
from weir_sdk.testing import Harness, MockHost

from plugin import OwnerEnrich

DRIVERS = (
    "first_name,last_name,licensePlate,city,myphone\n"
    "Laurie,Mullins,4-2288B,West Kristopher,8324498188\n"
    "Ana,Núñez,95B•140,Springfield,5551234567\n"
)


def harness(host):
    return Harness(OwnerEnrich, host.with_csv_table("drivers", "licensePlate", DRIVERS))


def one(out):
    """The joined payload as JSON text, or raises the record's error."""
    (result,) = out
    if isinstance(result, Failed):
        raise result.error
    assert isinstance(result, Records)
    assert len(result.records) == 1
    return result.records[0]


def test_joins_owner_columns_in_order_keeping_the_payload():
    h = harness(MockHost())
    r = one(h.transform([
        Record.from_json({"licensePlate": "95B•140", "city": "X", "speed": "82"})
        .with_partition_key("95B•140")
    ]))
    assert r.payload.decode() == (
        '{"licensePlate":"95B•140","city":"X","speed":"82",'
        '"first_name":"Ana","last_name":"Núñez","myphone":"5551234567"}'
    )
    assert r.partition_key == "95B•140"


def test_unknown_plate_is_an_error_naming_it():
    h = harness(MockHost())
    with pytest.raises(RecordError) as e:
        one(h.transform([Record.from_json({"licensePlate": "NOPE-1"})]))
    assert e.value.code == "unknown-key"
    assert '"NOPE-1"' in e.value.message
    assert e.value.message == 'licensePlate "NOPE-1" is not in table "drivers"'


def test_missing_plate_missing_table_and_conflicts_are_errors():
    h = harness(MockHost())
    with pytest.raises(RecordError) as e:
        one(h.transform([Record.from_json({"speed": 1})]))
    assert e.value.code == "missing-field"

    h = harness(MockHost().with_config("table", "cars"))
    with pytest.raises(RecordError) as e:
        one(h.transform([Record.from_json({"licensePlate": "4-2288B"})]))
    assert e.value.code == "lookup-failed"
    assert "cars" in e.value.message

    h = harness(MockHost().with_config("columns", "*"))
    with pytest.raises(RecordError) as e:
        one(h.transform([Record.from_json({"licensePlate": "4-2288B", "city": "Elsewhere"})]))
    assert e.value.code == "field-conflict"
    assert e.value.message == (
        'joined column "city" would overwrite payload field "city"; set `prefix`'
    )


def test_prefix_and_star_copy_every_other_column():
    host = MockHost().with_config("columns", "*").with_config("prefix", "owner_")
    h = harness(host)
    v = one(h.transform([
        Record.from_json({"licensePlate": "4-2288B", "city": "Elsewhere"})
    ])).json()
    assert v["owner_city"] == "West Kristopher"
    assert v["city"] == "Elsewhere"
    assert "owner_licensePlate" not in v


def test_unknown_configured_column_is_named():
    h = harness(MockHost().with_config("columns", "first_name,shoe_size"))
    with pytest.raises(RecordError) as e:
        one(h.transform([Record.from_json({"licensePlate": "4-2288B"})]))
    assert e.value.code == "unknown-column"
    assert "shoe_size" in e.value.message


def test_columns_that_name_nothing_fail_the_start():
    h = harness(MockHost().with_config("columns", " , ,"))
    (out,) = h.transform([Record.from_json({"licensePlate": "4-2288B"})])
    assert out == Failed(RecordError("plugin-init", "config `columns`: names no column"))


def test_numbers_are_written_back_as_the_rust_plugin_writes_them():
    h = harness(MockHost())
    r = one(h.transform([
        Record(b'{"licensePlate": "4-2288B", "a": 1e21, "b": 0.00001, "c": -0, "d": 1.0, "e": 1e-7}')
    ]))
    assert r.payload.startswith(b'{"licensePlate":"4-2288B","a":1e+21,"b":0.00001,"c":-0.0,"d":1.0,"e":1e-7,')
