"""The packed record layout of the plugin boundary (`weir:plugin@0.1.1`, `packed-batch`).

A batch crosses the boundary as four flat lists:

- `data`: every record's bytes back to back; per record its payload, partition key, source
  topic, client id and rule name, then each attribute's name and value.
- `lengths`: six entries per record: the byte lengths of those five fields, then the number of
  attributes.
- `attribute_lengths`: a name length and a value length per attribute, in record order.
- `arrival_timestamps_ms`: one per record; its length is the record count.

Everything but the payload is UTF-8. `unpack` checks the whole batch before any record is handed
out, with the Rust `weir-abi` crate's checks and messages; `Packer` writes the layout.
"""

from .record import Record, _SLOTS

__all__ = ["PackedBatch", "LayoutError", "unpack", "Packer", "FIELDS_PER_RECORD", "KEEP",
           "DROP", "FAILED"]

#: Entries of `lengths` per record.
FIELDS_PER_RECORD = 6
#: A filter's verdict bytes.
KEEP, DROP, FAILED = 0, 1, 2

_FIELD_NAMES = ("payload", "partition-key", "source-topic", "client-id", "rule-name")
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1


class PackedBatch:
    """WIT's `packed-batch` as plain Python values (the generated binding type has the same
    four attributes, and either can be passed to `unpack`)."""

    __slots__ = ("data", "lengths", "attribute_lengths", "arrival_timestamps_ms")

    def __init__(self, data=b"", lengths=None, attribute_lengths=None,
                 arrival_timestamps_ms=None):
        self.data = data
        self.lengths = lengths if lengths is not None else []
        self.attribute_lengths = attribute_lengths if attribute_lengths is not None else []
        self.arrival_timestamps_ms = (
            arrival_timestamps_ms if arrival_timestamps_ms is not None else []
        )

    def __len__(self):
        return len(self.arrival_timestamps_ms)

    def __eq__(self, other):
        if not isinstance(other, PackedBatch):
            return NotImplemented
        return (
            bytes(self.data) == bytes(other.data)
            and list(self.lengths) == list(other.lengths)
            and list(self.attribute_lengths) == list(other.attribute_lengths)
            and list(self.arrival_timestamps_ms) == list(other.arrival_timestamps_ms)
        )

    __hash__ = None

    def __repr__(self):
        return "PackedBatch(%d records, %d bytes)" % (len(self), len(self.data))


class LayoutError(ValueError):
    """A batch that does not add up; the text is weir-abi's."""


class TooLarge(LayoutError):
    """A field beyond the layout's 32-bit lengths."""


def unpack(batch):
    """Every record of `batch` (anything with the four packed-batch attributes), checked:
    bounds, UTF-8, nothing left over. Raises LayoutError."""
    data = batch.data
    lengths = batch.lengths
    attribute_lengths = batch.attribute_lengths
    stamps = batch.arrival_timestamps_ms
    count = len(stamps)
    expected = count * FIELDS_PER_RECORD
    if len(lengths) != expected:
        raise LayoutError(
            "`lengths` holds %d entries; %d records need %d" % (len(lengths), count, expected)
        )
    if not isinstance(data, bytes):
        data = bytes(data)
    if not attribute_lengths and data.isascii():
        records = _unpack_lazy(data, lengths, stamps, count)
        if records is not None:
            return records
    total = len(data)
    at = 0
    attribute_at = 0
    attribute_total = len(attribute_lengths)
    records = []
    new = Record.__new__
    base = 0
    for index in range(count):
        size, l1, l2, l3, l4, attribute_count = lengths[base:base + FIELDS_PER_RECORD]
        if size > total - at:
            raise _overrun(index, "payload", size, total - at)
        payload = data[at:at + size]
        at += size
        l2 += l1
        l3 += l2
        l4 += l3
        chunk = data[at:at + l4] if l4 <= total - at else None
        if chunk is not None and chunk.isascii():
            # The usual case: the four text fields are ASCII, so one decode serves them all
            # and byte offsets are character offsets.
            text = chunk.decode("ascii")
            texts = (text[:l1], text[l1:l2], text[l2:l3], text[l3:])
            at += l4
        else:
            texts = _texts(data, lengths, base, at, total, index)
            at += l4
        base += FIELDS_PER_RECORD
        attributes = []
        if attribute_count:
            if attribute_count * 2 > attribute_total - attribute_at:
                raise LayoutError(
                    "record %d: its %d attributes run past the end of `attribute-lengths`"
                    % (index, attribute_count)
                )
            for pair in range(attribute_count):
                name_len = attribute_lengths[attribute_at]
                value_len = attribute_lengths[attribute_at + 1]
                attribute_at += 2
                pair_texts = []
                for what, size in (("attribute name", name_len), ("attribute value", value_len)):
                    if size > total - at:
                        raise _overrun(index, what, size, total - at)
                    chunk = data[at:at + size]
                    at += size
                    try:
                        pair_texts.append(chunk.decode("utf-8"))
                    except UnicodeDecodeError as e:
                        raise _not_utf8(index, what, e) from None
                attributes.append((pair_texts[0], pair_texts[1]))
        r = new(Record)
        r.payload = payload
        r.partition_key, r.source_topic, r.client_id, r.rule_name = texts
        r.arrival_timestamp_ms = stamps[index]
        r.attributes = attributes
        records.append(r)
    if at != total or attribute_at != attribute_total:
        raise LayoutError(
            "%d bytes of `data` and %d entries of `attribute-lengths` follow the last record"
            % (total - at, attribute_total - attribute_at)
        )
    return records


class _BatchMeta:
    """The text fields of a batch that is all ASCII and has no attributes, for its records
    to read on first use (`Record.__getattr__`)."""

    __slots__ = ("text", "lengths", "stamps")

    def __init__(self, text, lengths, stamps):
        self.text = text
        self.lengths = lengths
        self.stamps = stamps

    def fill(self, r):
        """Sets the metadata slots of `r` that were never set (one may have been assigned
        before another was read)."""
        i = r._i
        at = r._at
        base = i * FIELDS_PER_RECORD
        l1, l2, l3, l4 = self.lengths[base + 1:base + 5]
        text = self.text
        a1 = at + l1
        a2 = a1 + l2
        a3 = a2 + l3
        values = (
            ("partition_key", text[at:a1]),
            ("source_topic", text[a1:a2]),
            ("client_id", text[a2:a3]),
            ("rule_name", text[a3:a3 + l4]),
            ("arrival_timestamp_ms", self.stamps[i]),
            ("attributes", None),
        )
        for name, value in values:
            slot = _SLOTS[name]
            try:
                slot.__get__(r, Record)
            except AttributeError:
                slot.__set__(r, [] if value is None else value)
        r._src = None


def _unpack_lazy(data, lengths, stamps, count):
    """The records of an ASCII batch without attributes, their text fields left in the batch
    until read (so they need no decoding check: ASCII is UTF-8); None when the layout does
    not add up, for `unpack`'s field-by-field pass to name the problem."""
    meta = _BatchMeta(data.decode("ascii"), lengths, stamps)
    total = len(data)
    records = []
    new = Record.__new__
    at = 0
    base = 0
    for index in range(count):
        size, l1, l2, l3, l4, attribute_count = lengths[base:base + FIELDS_PER_RECORD]
        end = at + size
        after = end + l1 + l2 + l3 + l4
        if after > total or attribute_count:
            return None
        r = new(Record)
        r.payload = data[at:end]
        r._src = meta
        r._at = end
        r._i = index
        records.append(r)
        at = after
        base += FIELDS_PER_RECORD
    return records if at == total else None


def _texts(data, lengths, base, at, total, index):
    """The four text fields of the record at `at`, one at a time: for non-ASCII text, and for
    the error that names the field that runs past the end or is not UTF-8."""
    texts = []
    for field in range(1, 5):
        size = lengths[base + field]
        if size > total - at:
            raise _overrun(index, _FIELD_NAMES[field], size, total - at)
        chunk = data[at:at + size]
        at += size
        try:
            texts.append(chunk.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise _not_utf8(index, _FIELD_NAMES[field], e) from None
    return texts


def _overrun(index, field, size, left):
    return LayoutError(
        "record %d: its %s (%d bytes) runs past the end of `data` (%d bytes left)"
        % (index, field, size, left)
    )


def _not_utf8(index, field, e):
    return LayoutError(
        "record %d: its %s is not UTF-8 (invalid byte at offset %d)" % (index, field, e.start)
    )


def _text(value, what):
    if not isinstance(value, str):
        raise TypeError("a record's %s is a str, not %s" % (what, type(value).__name__))
    return value.encode("utf-8")


class Packer:
    """Writes records in the packed layout."""

    __slots__ = ("data", "lengths", "attribute_lengths", "arrival_timestamps_ms")

    def __init__(self):
        self.data = bytearray()
        self.lengths = []
        self.attribute_lengths = []
        self.arrival_timestamps_ms = []

    def __len__(self):
        return len(self.arrival_timestamps_ms)

    def mark(self):
        """Where the batch ends now, to `truncate` back to."""
        return (len(self.data), len(self.lengths), len(self.attribute_lengths),
                len(self.arrival_timestamps_ms))

    def truncate(self, mark):
        data, lengths, attributes, records = mark
        del self.data[data:]
        del self.lengths[lengths:]
        del self.attribute_lengths[attributes:]
        del self.arrival_timestamps_ms[records:]

    def push(self, record):
        """Appends one Record. A value of the wrong type (a field that is not str, a payload
        that is not bytes or str, a timestamp outside u64) raises TypeError or ValueError, a
        bug in the plugin; a field beyond 4 GiB raises TooLarge and leaves the batch as it was."""
        if type(record) is not Record and not isinstance(record, Record):
            raise TypeError("expected a weir_sdk.Record, got %s" % type(record).__name__)
        payload = record.payload
        if type(payload) is not bytes:
            if isinstance(payload, str):
                payload = payload.encode("utf-8")
            elif isinstance(payload, (bytes, bytearray, memoryview)):
                payload = bytes(payload)
            else:
                raise TypeError("a record's payload is bytes, not %s" % type(payload).__name__)
        try:
            key = record.partition_key.encode("utf-8")
            topic = record.source_topic.encode("utf-8")
            client = record.client_id.encode("utf-8")
            rule = record.rule_name.encode("utf-8")
        except AttributeError:
            for name in ("partition_key", "source_topic", "client_id", "rule_name"):
                _text(getattr(record, name), name)
            raise
        stamp = record.arrival_timestamp_ms
        if type(stamp) is not int or not 0 <= stamp <= _U64_MAX:
            if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp <= _U64_MAX:
                raise ValueError("a record's arrival_timestamp_ms is an int from 0 to 2^64-1, "
                                 "not %r" % (stamp,))
        sizes = [len(payload), len(key), len(topic), len(client), len(rule)]
        pairs = None
        if record.attributes:
            pairs = [(_text(n, "attribute name"), _text(v, "attribute value"))
                     for n, v in record.attributes]
        if sum(sizes) > _U32_MAX or (pairs and len(pairs) > _U32_MAX // 2):
            self._check_sizes(sizes, pairs)
        data = self.data
        data += payload
        data += key
        data += topic
        data += client
        data += rule
        if pairs:
            attribute_lengths = self.attribute_lengths
            for name, value in pairs:
                data += name
                data += value
                attribute_lengths.append(len(name))
                attribute_lengths.append(len(value))
            sizes.append(len(pairs))
        else:
            sizes.append(0)
        self.lengths.extend(sizes)
        self.arrival_timestamps_ms.append(stamp)

    def _check_sizes(self, sizes, pairs):
        index = len(self.arrival_timestamps_ms)
        for size, name in zip(sizes, _FIELD_NAMES):
            _check32(index, name, size)
        if pairs:
            _check32(index, "attribute count", len(pairs))
            for name, value in pairs:
                _check32(index, "attribute name", len(name))
                _check32(index, "attribute value", len(value))

    def batch(self):
        """The packed batch written so far."""
        return PackedBatch(bytes(self.data), self.lengths, self.attribute_lengths,
                           self.arrival_timestamps_ms)


def _check32(index, field, size):
    if size > _U32_MAX:
        raise TooLarge(
            "record %d: its %s is %d bytes or entries; the layout's limit is %d"
            % (index, field, size, _U32_MAX)
        )


def pack(records):
    """`records` as one PackedBatch."""
    p = Packer()
    for r in records:
        p.push(r)
    return p.batch()
