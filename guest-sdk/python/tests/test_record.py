"""Record: the Rust SDK's record tests, ported, and the rest of its API."""

import pytest

from weir_sdk import Record, RecordError


def test_json_round_trip_and_errors():
    r = Record.from_json({"a": 1})
    assert r.json() == {"a": 1}
    r.set_json([1, 2])
    with pytest.raises(RecordError) as e:
        r.json_object()
    assert e.value.code == "bad-json"
    assert e.value.message == "payload is JSON but not an object: an array"
    with pytest.raises(RecordError) as e:
        Record("{not json").json()
    assert e.value.code == "bad-json"
    assert "not valid JSON" in e.value.message


PAYLOADS = [
    b'{"speed": "82", "plate": "X", "n": {"deep": [1, 2]}}',
    b'{"speed": 1, "speed": 2}',
    b'{"plate": "X"}',
    b'{"sp\\u0065ed": 5, "a\\"b": 1}',
    b"{}",
    b'[1, {"speed": 3}]',
    b'"speed"',
    b"12.5",
    b"true",
    b"null",
    b'{"speed": 1} trailing',
    b'{"speed": 1',
    b"[1, 2",
    b"\xff",
    # Numbers json_fields converts after the scan, only for the fields it keeps: they must
    # come out as json_object (which converts every number as it scans) gives them.
    b'{"speed": 1.2345678901234567890, "x": 2}',
    b'{"speed": 12345678901234567890123, "n": -0}',
    b'{"speed": -0, "a\\"b": 3e2}',
    b'{"speed": 9007199254740993, "a\\"b": 1E-7}',
    b'{"speed": {"deep": [1.5e300, -12345678901234567890, 0.1]}, "a\\"b": [2.5]}',
    b'{"speed": 18446744073709551615, "a\\"b": 18446744073709551616}',
    b'{"speed": -9223372036854775808, "a\\"b": -9223372036854775809}',
    b'{"speed": 999999999999999999, "a\\"b": 1000000000000000000}',
    b'{"speed": 1.7976931348623157e309}',
    b"-0",
    b"1e5",
    b"[1.5]",
]


def answer(call):
    try:
        return ("ok", call())
    except RecordError as e:
        return ("error", e.code, e.message)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_json_fields_agrees_with_json_object_on_what_it_keeps(payload):
    r = Record(payload)

    def kept():
        return {k: v for k, v in r.json_object().items() if k in ("speed", 'a"b')}

    # repr: -0.0 == 0 and 1.0 == 1 in Python, and the types must agree too.
    assert repr(answer(lambda: r.json_fields(["speed", 'a"b']))) == repr(answer(kept))
    assert repr(answer(lambda: r.json_fields(["speed"]))) == repr(
        answer(lambda: {k: v for k, v in kept().items() if k == "speed"})
    )


def test_json_fields_checks_only_the_syntax_of_fields_it_skips():
    r = Record(b'{"huge": 1e999, "speed": 80}')
    assert r.json_object.__self__ is r
    with pytest.raises(RecordError):
        r.json_object()
    assert r.json_fields(["speed"])["speed"] == 80
    with pytest.raises(RecordError):
        r.json_fields(["huge"])
    with pytest.raises(RecordError) as e:
        Record(b'{"a": 1,, "speed": 80}').json_fields(["speed"])
    assert e.value.code == "bad-json"
    assert Record(b'{"speed": 1}').json_fields("speed") == {"speed": 1}


def test_attributes_replace_in_place():
    r = Record("x").with_attribute("a", "1")
    r.set_attribute("b", "2")
    r.set_attribute("a", "3")
    assert r.attribute("a") == "3"
    assert r.attributes == [("a", "3"), ("b", "2")]
    assert r.attribute("zz") is None


def test_text_rejects_invalid_utf8():
    r = Record(bytes([ord("o"), ord("k"), 0xFF]))
    with pytest.raises(RecordError) as e:
        r.text()
    assert e.value.code == "bad-utf8"
    assert e.value.message == "payload is not UTF-8 text: invalid byte at offset 2"
    assert Record("né").text() == "né"


def test_derive_keeps_the_metadata_around_a_new_payload():
    r = Record(b"a", partition_key="k", source_topic="t", client_id="c", rule_name="r",
               arrival_timestamp_ms=7, attributes=[("x", "y")])
    d = r.derive("b")
    assert d.payload == b"b"
    assert (d.partition_key, d.source_topic, d.client_id, d.rule_name,
            d.arrival_timestamp_ms, d.attributes) == ("k", "t", "c", "r", 7, [("x", "y")])
    d.set_attribute("x", "z")
    assert r.attribute("x") == "y"
    assert r.copy() == r and r.copy() is not r
    assert d != r


def test_builders_and_repr():
    r = (Record("p").with_partition_key("k").with_topic("t").with_client_id("c")
         .with_rule_name("r").with_timestamp(5))
    assert (r.partition_key, r.source_topic, r.client_id, r.rule_name,
            r.arrival_timestamp_ms) == ("k", "t", "c", "r", 5)
    assert "partition_key='k'" in repr(r)
    with pytest.raises(TypeError):
        Record(12)
