"""weir_sdk.json: the Rust SDK's json.rs tests, ported, and more edge cases."""

import pytest

from weir_sdk import Record, RecordError, json
from weir_sdk.json import BadLine


def test_numbers_from_numbers_and_strings():
    o = {"a": 82, "b": "82.5", "c": " 7 ", "d": "-1e2"}
    assert json.number_field(o, "a") == 82.0
    assert json.number_field(o, "b") == 82.5
    assert json.number_field(o, "c") == 7.0
    assert json.number_field(o, "d") == -100.0


def test_bad_numbers_name_field_and_value():
    o = {"a": "fast", "b": "NaN", "c": [1], "d": None, "e": "inf", "f": ""}
    with pytest.raises(RecordError) as e:
        json.number_field(o, "a")
    assert e.value.code == "bad-value"
    assert "`a`" in e.value.message and '"fast"' in e.value.message
    for name, code in (("b", "bad-value"), ("d", "missing-field"), ("e", "bad-value"),
                       ("f", "bad-value"), ("zz", "missing-field")):
        with pytest.raises(RecordError) as e:
            json.number_field(o, name)
        assert e.value.code == code
    with pytest.raises(RecordError) as e:
        json.number_field(o, "c")
    assert "an array" in e.value.message


def test_lines_become_records_and_bad_lines_are_numbered():
    r = Record("a\r\n\n b\n").with_partition_key("k")
    out = json.lines_to_json(r, lambda line: line)
    assert len(out) == 2
    assert out[1].payload == b'" b"'
    assert out[1].partition_key == "k"

    def parse(line):
        if line == "a":
            return None
        raise BadLine("nope")

    with pytest.raises(RecordError) as e:
        json.lines_to_json(r, parse)
    assert e.value.code == "bad-line"
    assert e.value.message.startswith("line 3: nope")
    assert e.value.message == 'line 3: nope: " b"'


def test_lines_follow_rusts_str_lines():
    r = Record("x\r\r\n\u00a0\n\x1c\ny")
    out = json.map_lines(r, lambda line: line.encode())
    # \r runs are trimmed off the end, a no-break space line is blank, \x1c is not whitespace.
    assert [o.payload for o in out] == [b"x", b"\x1c", b"y"]
    with pytest.raises(RecordError) as e:
        json.map_lines(Record(b"ok\n\xff"), lambda line: line)
    assert e.value.code == "bad-utf8"


def test_other_exceptions_from_a_line_callback_propagate():
    with pytest.raises(ZeroDivisionError):
        json.map_lines(Record("a"), lambda line: 1 / 0)


def test_strings_accept_scalars():
    o = {"s": "x", "n": 5, "b": True, "o": {}, "f": 2.5, "big": 1e21}
    assert json.string_field(o, "s") == "x"
    assert json.string_field(o, "n") == "5"
    assert json.string_field(o, "b") == "true"
    assert json.string_field(o, "f") == "2.5"
    assert json.string_field(o, "big") == "1e+21"
    with pytest.raises(RecordError):
        json.string_field(o, "o")


@pytest.mark.parametrize("text,value", [
    ("82", 82.0), ("+80", 80.0), (".5", 0.5), ("5.", 5.0), ("1.e2", 100.0), ("\u00a090\u3000", 90.0),
    ("-0", -0.0), ("1e-400", 0.0),
    ("0x50", None), ("1_000", None), ("NaN", None), ("inf", None), ("1e999", None), ("", None),
    ("\x1c90", None), ("٣", None), ("８０", None), ("1e", None), ("e5", None), ("--1", None),
    ("1,5", None), (".", None), ("+", None),
])
def test_parse_number(text, value):
    assert json.parse_number(text) == value


def test_field_treats_null_as_missing():
    assert json.field({"a": 0}, "a") == 0
    assert json.field({"a": False}, "a") is False
    with pytest.raises(RecordError) as e:
        json.field({"a": None}, "a")
    assert e.value == RecordError("missing-field", "field `a` is missing")
