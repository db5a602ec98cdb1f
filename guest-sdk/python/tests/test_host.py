"""Host helpers (config parsing with Rust's rules), Row, MockHost."""

import pytest

from weir_sdk import InitError, Level, LookupFailed, NotGranted, OutboxRefused, Row
from weir_sdk.testing import MockHost, Notify, Publish, PutRecord


def host(**config):
    h = MockHost()
    for k, v in config.items():
        h.with_config(k, v)
    return h


def init_message(call):
    with pytest.raises(InitError) as e:
        call()
    return e.value.message


def test_config_parse_uses_the_defaults_type_and_rusts_syntax():
    h = host(f=" 2.5 ", i="-7", b="true", s=" x ", e="", inf="inf", plus="+3")
    assert h.config_parse("f", 1.0) == 2.5
    assert h.config_parse("missing", 75.0) == 75.0
    assert h.config_parse("i", 1) == -7
    assert h.config_parse("plus", 1) == 3
    assert h.config_parse("b", False) is True
    assert h.config_parse("s", "d") == "x"
    assert h.config_parse("inf", 1.0) == float("inf")
    assert h.config_parse("i", 0, parse=lambda t: t * 2) == "-7-7"


@pytest.mark.parametrize("value,default,why", [
    ("lots", 75.0, "invalid float literal"),
    ("", 75.0, "cannot parse float from empty string"),
    ("1_000", 1.0, "invalid float literal"),
    ("0x10", 1.0, "invalid float literal"),
    ("1.5", 1, "invalid digit found in string"),
    ("", 1, "cannot parse integer from empty string"),
    ("-", 1, "invalid digit found in string"),
    ("99999999999999999999", 1, "number too large to fit in target type"),
    ("-99999999999999999999x", 1, "number too small to fit in target type"),
    ("12x", 1, "invalid digit found in string"),
    ("yes", True, "provided string was not `true` or `false`"),
])
def test_config_parse_errors_name_the_key_and_the_value(value, default, why):
    h = host(k=value)
    assert init_message(lambda: h.config_parse("k", default)) == (
        'config `k`: cannot parse "%s": %s' % (value, why)
    )


def test_typed_shortcuts_and_config_or():
    h = host(n="5", x="1.5", flag="false")
    assert h.config_float("n", 1) == 5.0 and isinstance(h.config_float("n", 1), float)
    assert h.config_int("n", 1.0) == 5
    assert h.config_bool("flag", True) is False
    assert h.config_or("x", "d") == "1.5"
    assert h.config_or("nope", "d") == "d"
    assert h.config_keys() == ["flag", "n", "x"]
    assert "cannot parse" in init_message(lambda: h.config_int("x", 0))


def test_tables_from_rows_and_csv():
    h = MockHost().with_csv_table("t", "k", "k,v\na,1\na,2\nb,3\n")
    assert h.lookup("t", "a").get("v") == "1"
    assert h.lookup("t", "zz") is None
    with pytest.raises(LookupFailed) as e:
        h.lookup("nope", "a")
    assert e.value.code == "lookup-failed"
    assert e.value.message == 'no lookup table named "nope"'
    with pytest.raises(ValueError):
        MockHost().with_csv_table("t", "x", "k,v\n")
    with pytest.raises(ValueError):
        MockHost().with_csv_table("t", "k", "k,v\na,1,2\n")
    h.with_table("r", "id", [{"id": "1", "n": "one"}, [("id", "2"), ("n", "two")], Row({"id": "1"})])
    assert h.lookup("r", "1").columns() == [("id", "1"), ("n", "one")]
    assert h.lookup("r", "2")["n"] == "two"


def test_row():
    r = Row([("a", "1"), ("b", "2")])
    assert r.get("a") == "1" and r.get("c") is None and r.get("c", "-") == "-"
    assert list(r) == [("a", "1"), ("b", "2")] and len(r) == 2 and "b" in r
    assert r.as_dict() == {"a": "1", "b": "2"}
    with pytest.raises(KeyError):
        r["c"]


def test_logs_and_outbox_are_captured():
    h = MockHost()
    h.info("hello")
    h.log(Level.ERROR, "bad")
    h.publish("t/1", "x", 1)
    h.put_record("s", "pk", b"d")
    h.notify("sms", "+1", "hi")
    assert h.logs() == [(Level.INFO, "hello"), (Level.ERROR, "bad")]
    assert h.outbox() == [Publish("t/1", b"x", 1), PutRecord("s", "pk", b"d"),
                          Notify("sms", "+1", "hi")]
    assert h.notifications() == [("sms", "+1", "hi")]
    with pytest.raises(OutboxRefused) as e:
        h.publish("t", b"", 2)
    assert e.value.message == "qos 2 is not supported (0 or 1)"
    h.clear()
    assert h.logs() == [] and h.outbox() == []
    refusing = MockHost().refusing_outbox("down")
    with pytest.raises(OutboxRefused) as e:
        refusing.notify("sms", "+1", "x")
    assert (e.value.code, e.value.message) == ("outbox-refused", "down")
    assert refusing.outbox() == []


def test_grants_are_enforced():
    h = MockHost(grants=["config"]).with_config("a", "1")
    assert h.config("a") == "1"
    with pytest.raises(NotGranted) as e:
        h.info("x")
    assert '"log"' in str(e.value) and "weir-plugin.toml" in str(e.value)
    with pytest.raises(NotGranted):
        h.lookup("t", "k")
    with pytest.raises(NotGranted):
        h.notify("a", "b", "c")
    with pytest.raises(ValueError):
        MockHost().with_grants(["wasi:filesystem"])
