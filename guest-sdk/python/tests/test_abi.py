"""The packed layout: round trips, and weir-abi's checks and messages."""

import pytest

from weir_sdk import Record, abi


def records():
    return [
        Record(b"\xff\x00payload", partition_key="k1", source_topic="t/é", client_id="c",
               rule_name="r", arrival_timestamp_ms=2**64 - 1, attributes=[("a", "1"), ("é", "")]),
        Record(b"", arrival_timestamp_ms=0),
        Record("x", attributes=[("only", "one")]),
    ]


def test_round_trip():
    batch = abi.pack(records())
    assert len(batch) == 3
    assert batch.lengths[:6] == [9, 2, 4, 1, 1, 2]
    assert batch.attribute_lengths == [1, 1, 2, 0, 4, 3]
    assert abi.unpack(batch) == records()
    assert abi.unpack(abi.PackedBatch()) == []


def broken(**change):
    b = abi.pack(records())
    for k, v in change.items():
        setattr(b, k, v)
    return b


@pytest.mark.parametrize("batch,message", [
    (broken(lengths=[0] * 17), "`lengths` holds 17 entries; 3 records need 18"),
    (broken(data=b"short"),
     "record 0: its payload (9 bytes) runs past the end of `data` (5 bytes left)"),
    (broken(data=b"\xff\x00payloadk1t/\xc3", ),
     "record 0: its source-topic (4 bytes) runs past the end of `data` (3 bytes left)"),
    (broken(data=b"\xff\x00payload\xffk" + b"x" * 40),
     "record 0: its partition-key is not UTF-8 (invalid byte at offset 0)"),
    (broken(attribute_lengths=[1, 1]),
     "record 0: its 2 attributes run past the end of `attribute-lengths`"),
    (broken(attribute_lengths=[1, 1, 2, 0, 4, 3, 0, 0]),
     "0 bytes of `data` and 2 entries of `attribute-lengths` follow the last record"),
])
def test_a_batch_that_does_not_add_up_is_refused(batch, message):
    with pytest.raises(abi.LayoutError) as e:
        abi.unpack(batch)
    assert str(e.value) == message


def test_trailing_bytes():
    b = abi.pack(records())
    b.data = b.data + b"zz"
    with pytest.raises(abi.LayoutError) as e:
        abi.unpack(b)
    assert str(e.value) == "2 bytes of `data` and 0 entries of `attribute-lengths` follow the last record"


def test_packer_refuses_what_is_not_a_record_and_truncates_to_a_mark():
    p = abi.Packer()
    p.push(Record("a"))
    mark = p.mark()
    p.push(Record("b", attributes=[("x", "y")]))
    p.truncate(mark)
    assert abi.unpack(p.batch()) == [Record("a")]
    for bad in (Record(partition_key=5), Record(arrival_timestamp_ms=-1),
                Record(arrival_timestamp_ms=True), Record(attributes=[("a", 1)])):
        with pytest.raises((TypeError, ValueError)):
            p.push(bad)
    with pytest.raises(TypeError):
        p.push("not a record")
    with pytest.raises(UnicodeEncodeError):
        p.push(Record(partition_key="\ud800"))
    assert len(p) == 1


def test_fields_beyond_32_bits_are_too_large(monkeypatch):
    monkeypatch.setattr(abi, "_U32_MAX", 3)
    p = abi.Packer()
    with pytest.raises(abi.TooLarge) as e:
        p.push(Record("abcd"))
    assert str(e.value) == "record 0: its payload is 4 bytes or entries; the layout's limit is 3"
    assert len(p) == 0 and p.data == b""


def _meta(r):
    return (r.partition_key, r.source_topic, r.client_id, r.rule_name, r.arrival_timestamp_ms,
            r.attributes)


def test_an_ascii_batch_fills_metadata_on_first_read_and_keeps_what_was_assigned():
    records = [
        Record(b'{"speed": %d}' % i, "k%d" % i, "t/%d" % i, "c%d" % i, "rule", 1000 + i)
        for i in range(5)
    ]
    got = abi.unpack(abi.pack(records))
    assert got == records
    assert [_meta(r) for r in got] == [_meta(r) for r in records]
    # A field assigned before the others are read stays as assigned.
    again = abi.unpack(abi.pack(records))
    again[2].partition_key = "changed"
    again[2].attributes.append(("a", "b"))
    assert _meta(again[2]) == ("changed", "t/2", "c2", "rule", 1002, [("a", "b")])
    assert again[3].client_id == "c3"
    assert abi.unpack(abi.pack(again))[2].partition_key == "changed"
    with pytest.raises(AttributeError):
        again[0].no_such_field


@pytest.mark.parametrize("record", [
    Record(b"{}", "cl\u00e9", "t", "c", "r", 1),
    Record(b"\xff\xfe", "k", "t", "c", "r", 1),
    Record(b"{}", "k", "t", "c", "r", 1, [("n", "v")]),
])
def test_batches_that_are_not_plain_ascii_read_alike(record):
    records = [Record(b"[]", "a", "b", "c", "d", 2), record]
    got = abi.unpack(abi.pack(records))
    assert got == records
    assert [_meta(r) for r in got] == [_meta(r) for r in records]
