"""JSON read and written exactly as the Rust SDK (serde_json) does."""

import json as std_json
import os

import pytest

from weir_sdk import Record, RecordError, json, quote
from weir_sdk import _serde

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "serde-parity.json"), encoding="utf-8") as f:
    PARITY = std_json.load(f)["cases"]


def outcome(call):
    try:
        call()
    except RecordError as e:
        assert e.code == "bad-json"
        return {"error": e.message}
    return "ok"


@pytest.mark.parametrize("case", PARITY, ids=[str(i) for i in range(len(PARITY))])
def test_recorded_rust_answers(case):
    r = Record(case["payload"])
    assert outcome(r.json_object) == case["json_object"]
    assert outcome(lambda: r.json_fields(["speed"])) == case["json_fields_speed"]


def test_there_are_many_recorded_answers():
    assert len(PARITY) > 400


@pytest.mark.parametrize("payload,message", [
    (b"not json", "expected ident at line 1 column 2"),
    (b'{"speed": NaN}', "expected value at line 1 column 11"),
    (b'{"speed": 80} trailing', "trailing characters at line 1 column 15"),
    (b'{"speed": 1e999}', "number out of range at line 1 column 15"),
    (b'{"a": 1,}', "trailing comma at line 1 column 9"),
    (b'{"a": "\\ud800"}', "unexpected end of hex escape at line 1 column 14"),
    (b'{"a": "\\udc00"}', "lone leading surrogate in hex escape at line 1 column 13"),
    (b'{"a":\n  tru}', "expected ident at line 2 column 6"),
    (b"", "EOF while parsing a value at line 1 column 0"),
    (b"[" * 128 + b"]" * 128, "recursion limit exceeded at line 1 column 128"),
])
def test_error_messages(payload, message):
    with pytest.raises(RecordError) as e:
        Record(payload).json()
    assert e.value.message == "payload is not valid JSON: %s (%d bytes)" % (message, len(payload))


def test_nesting_up_to_127_levels_is_fine_and_skipped_fields_have_no_limit():
    assert Record(b"[" * 127 + b"]" * 127).json() is not None
    deep = b'{"x": ' + b"[" * 300 + b"]" * 300 + b', "speed": 9}'
    assert Record(deep).json_fields(["speed"]) == {"speed": 9}
    with pytest.raises(RecordError):
        Record(deep).json_object()


def test_numbers_convert_as_serde_json_converts_them():
    v = Record(b'[-0, 0, 18446744073709551615, 18446744073709551616, -9223372036854775808,'
               b' -9223372036854775809, 1e2, 90775664852704902E-3, -59e-149]').json()
    assert v[0] == 0 and isinstance(v[0], float) and str(v[0]) == "-0.0"
    assert v[1] == 0 and isinstance(v[1], int)
    assert v[2] == 18446744073709551615 and isinstance(v[2], int)
    assert isinstance(v[3], float)
    assert v[4] == -9223372036854775808 and isinstance(v[4], int)
    assert isinstance(v[5], float)
    assert v[6] == 100.0 and isinstance(v[6], float)
    # serde_json's default conversion is not correctly rounded; the SDK follows it, so a value
    # written back is what a Rust plugin writes back.
    assert v[7] == 90775664852704.89 != 90775664852704.9
    assert v[8] == -5.8999999999999995e-148


def test_the_fast_and_the_exact_parser_agree():
    payloads = [b'{"a": [1, 2.5, -0, 1e-7, "x\\u00e9", null, true, {"b": {}}], "c": 18446744073709551616}',
                b' [ 1 , { "k" : "v" } ] ', b'"\\ud83d\\ude00"', b'{"a": 1, "a": 2, "b": 3}']
    for p in payloads:
        assert _serde._Parser(p).document() == _serde.loads(p)
        assert std_json.dumps(_serde._Parser(p).document()) == std_json.dumps(_serde.loads(p))


def test_a_key_given_twice_keeps_its_first_place_and_last_value():
    r = Record(b'{"a": 1, "b": 2, "a": 3}')
    assert list(r.json_object().items()) == [("a", 3), ("b", 2)]
    assert list(r.json_fields(["a", "b"]).items()) == [("a", 3), ("b", 2)]


@pytest.mark.parametrize("value,text", [
    (1e21, "1e+21"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (123.0, "123.0"),
    (0.1, "0.1"), (1e-5, "0.00001"), (1.5e-5, "0.000015"), (1e-6, "1e-6"), (1e-7, "1e-7"),
    (-0.0, "-0.0"), (0.0, "0.0"), (5e-324, "5e-324"), (1.7976931348623157e308,
                                                        "1.7976931348623157e+308"),
    (1.8446744073709552e19, "1.8446744073709552e+19"), (-2.5e-10, "-2.5e-10"),
])
def test_floats_are_written_as_serde_json_writes_them(value, text):
    assert json.dumps(value) == text
    assert json.dumps([value]) == "[" + text + "]"


def test_dumps_is_compact_ordered_and_escapes_like_serde_json():
    value = {"z": 1, "a": [True, False, None], "s": 'q"b\\\n\t\r\b\f\x01\x1f\x7f é 😀 \u2028',
             "nan": float("nan"), "inf": float("inf")}
    assert json.dumps(value) == (
        '{"z":1,"a":[true,false,null],"s":"q\\"b\\\\\\n\\t\\r\\b\\f\\u0001\\u001f\x7f é 😀 '
        '\u2028","nan":null,"inf":null}'
    )
    assert json.dumps("5e-05 in text is text") == '"5e-05 in text is text"'


def test_set_json_and_from_json():
    r = Record.from_json({"speed": 1e-5, "k": "v"})
    assert r.payload == b'{"speed":0.00001,"k":"v"}'
    r.set_json([1, 2])
    assert r.payload == b"[1,2]"


@pytest.mark.parametrize("text,quoted", [
    ("82", '"82"'), ('a "b"', '"a \\"b\\""'), ("\\", '"\\\\"'), ("\t\n\r\0", '"\\t\\n\\r\\0"'),
    ("'q'", "\"'q'\""), ("é", '"é"'), ("😀", '"😀"'), ("\u0301x", '"\\u{301}x"'),
    ("a\u0301", '"a\\u{301}"'), ("\u200b", '"\\u{200b}"'), ("\u00a0", '"\\u{a0}"'),
    ("\x7f", '"\\u{7f}"'), ("\x1b", '"\\u{1b}"'), ("\ufeff", '"\\u{feff}"'),
    ("\u2028", '"\\u{2028}"'), ("\U000e0001", '"\\u{e0001}"'), ("\U000f0000", '"\\u{f0000}"'),
    ("\u0903", '"\u0903"'),
])
def test_quote_is_rusts_debug_format(text, quoted):
    # The expected texts were taken from the Rust speed-limit plugin's messages.
    assert quote(text) == quoted


def test_invalid_utf8_in_a_string_is_bad_json_and_elsewhere_too():
    for payload in (b'{"speed": "\xff"}', b'{"speed": 1, "x": "\xc3"}', b"\xff"):
        with pytest.raises(RecordError) as e:
            Record(payload).json_object()
        assert e.value.code == "bad-json"
    # A field json_fields does not read is checked as syntax only.
    assert Record(b'{"x": "\xff", "speed": 1}').json_fields(["speed"]) == {"speed": 1}
    assert "invalid unicode code point" in (
        pytest.raises(RecordError, Record(b'{"speed": "a\xff"}').json).value.message
    )
