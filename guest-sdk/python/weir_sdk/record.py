"""The record that flows through a pipeline, as plugin code sees it.

It mirrors WIT's `weir:plugin/types.record` field for field, as a plain Python class owned by the
SDK, so plugin logic and its tests never touch generated bindings.
"""

from . import _serde
from .errors import RecordError

__all__ = ["Record"]


def _bytes(payload):
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError("a payload is bytes or str, not %s" % type(payload).__name__)


class Record:
    """One message on its way through a rule action's pipeline.

    - `payload` (bytes): the message body, usually JSON. The constructor and `derive` also take
      a str (stored as UTF-8).
    - `partition_key` (str): decides ordering and the destination shard.
    - `source_topic` (str): MQTT topic of the original message.
    - `client_id` (str): MQTT client id of the publisher (empty when unknown).
    - `rule_name` (str): name of the rule that matched.
    - `arrival_timestamp_ms` (int): when Weir accepted the message, ms since the Unix epoch.
    - `attributes` (list of (name, value) str pairs): free-form, in order.
    """

    __slots__ = (
        "payload",
        "partition_key",
        "source_topic",
        "client_id",
        "rule_name",
        "arrival_timestamp_ms",
        "attributes",
        # A record read from a batch: where its metadata is, until first read (`abi.unpack`).
        "_src",
        "_at",
        "_i",
    )

    def __getattr__(self, name):
        # Called only for a slot never set: the metadata of a record read from a batch,
        # filled on first use (a filter usually reads only the payload).
        if name in _LAZY:
            try:
                src = _SRC.__get__(self, Record)
            except AttributeError:
                src = None
            if src is not None:
                src.fill(self)
                return _SLOTS[name].__get__(self, Record)
        raise AttributeError("'Record' object has no attribute %r" % name)

    def __init__(
        self,
        payload=b"",
        partition_key="",
        source_topic="",
        client_id="",
        rule_name="",
        arrival_timestamp_ms=0,
        attributes=None,
    ):
        self.payload = _bytes(payload)
        self.partition_key = partition_key
        self.source_topic = source_topic
        self.client_id = client_id
        self.rule_name = rule_name
        self.arrival_timestamp_ms = arrival_timestamp_ms
        self.attributes = [tuple(a) for a in attributes] if attributes else []

    @classmethod
    def from_json(cls, value, **fields):
        """A record whose payload is `value` written as JSON (as serde_json writes it)."""
        return cls(_serde.dumps(value), **fields)

    # -- builders (handy in tests); each changes this record and returns it ---------------

    def with_partition_key(self, key):
        self.partition_key = key
        return self

    def with_topic(self, topic):
        self.source_topic = topic
        return self

    def with_client_id(self, client_id):
        self.client_id = client_id
        return self

    def with_rule_name(self, rule_name):
        self.rule_name = rule_name
        return self

    def with_timestamp(self, arrival_timestamp_ms):
        self.arrival_timestamp_ms = arrival_timestamp_ms
        return self

    def with_attribute(self, name, value):
        self.set_attribute(name, value)
        return self

    # -- the payload --------------------------------------------------------------------

    def json(self):
        """The payload parsed as JSON (dict, list, str, int, float, bool or None).

        A payload that is not JSON, by serde_json's rules (no NaN, no trailing text, numbers
        within f64, at most 127 levels of nesting), raises RecordError `bad-json`."""
        try:
            return _serde.loads(self.payload)
        except _serde.JsonError as e:
            raise self._bad_json(e) from None

    def json_object(self):
        """The payload parsed as a JSON object (a dict, keys in payload order; a key given twice
        keeps its last value), the shape every rule's SELECT produces."""
        value = self.json()
        if isinstance(value, dict):
            return value
        raise RecordError(
            "bad-json", "payload is JSON but not an object: %s" % _serde.kind_of(value)
        )

    def json_fields(self, names):
        """The payload parsed as a JSON object with only the fields named in `names` kept.

        The same answer as `json_object()` with the other fields removed, and the same
        `bad-json` errors, with one difference: the values of fields not named are checked as
        JSON syntax only, so a number there beyond f64 or a string with invalid UTF-8 is not an
        error (as in the Rust SDK)."""
        if isinstance(names, str):
            names = (names,)
        # One name (a filter's usual question) needs no set.
        names = names if type(names) in (list, tuple) and len(names) == 1 else frozenset(names)
        try:
            picked = _serde.loads_fields(self.payload, names)
        except _serde.JsonError as e:
            raise self._bad_json(e) from None
        if isinstance(picked, dict):
            return picked
        raise RecordError("bad-json", "payload is JSON but not an object: %s" % picked)

    def _bad_json(self, e):
        return RecordError(
            "bad-json", "payload is not valid JSON: %s (%d bytes)" % (e, len(self.payload))
        )

    def set_json(self, value):
        """Replaces the payload with `value` written as JSON."""
        self.payload = _serde.dumps(value).encode("utf-8")

    def text(self):
        """The payload as text; RecordError `bad-utf8` when it is not UTF-8."""
        try:
            return self.payload.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError(
                "bad-utf8",
                "payload is not UTF-8 text: invalid byte at offset %d" % e.start,
            ) from None

    # -- attributes ---------------------------------------------------------------------

    def attribute(self, name):
        """The value of attribute `name`, or None."""
        for k, v in self.attributes:
            if k == name:
                return v
        return None

    def set_attribute(self, name, value):
        """Sets attribute `name`, replacing an earlier value in place."""
        for i, (k, _) in enumerate(self.attributes):
            if k == name:
                self.attributes[i] = (name, value)
                return
        self.attributes.append((name, value))

    # -- copies -------------------------------------------------------------------------

    def derive(self, payload):
        """A copy of this record's metadata (key, topic, client, rule, time, attributes) around
        a new payload (bytes or str): what a transformer usually emits."""
        r = Record.__new__(Record)
        r.payload = _bytes(payload)
        r.partition_key = self.partition_key
        r.source_topic = self.source_topic
        r.client_id = self.client_id
        r.rule_name = self.rule_name
        r.arrival_timestamp_ms = self.arrival_timestamp_ms
        r.attributes = list(self.attributes)
        return r

    def copy(self):
        """An independent copy."""
        return self.derive(self.payload)

    def _fields(self):
        return (
            self.payload,
            self.partition_key,
            self.source_topic,
            self.client_id,
            self.rule_name,
            self.arrival_timestamp_ms,
            [tuple(a) for a in self.attributes],
        )

    def __eq__(self, other):
        if not isinstance(other, Record):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None

    def __repr__(self):
        parts = ["payload=%r" % (self.payload,)]
        for name in ("partition_key", "source_topic", "client_id", "rule_name"):
            value = getattr(self, name)
            if value:
                parts.append("%s=%r" % (name, value))
        if self.arrival_timestamp_ms:
            parts.append("arrival_timestamp_ms=%r" % self.arrival_timestamp_ms)
        if self.attributes:
            parts.append("attributes=%r" % (self.attributes,))
        return "Record(%s)" % ", ".join(parts)


# The metadata slots a record read from a batch fills on first use, and their descriptors
# (read directly, so an unset one raises instead of calling `__getattr__` again).
_LAZY = frozenset(
    ("partition_key", "source_topic", "client_id", "rule_name", "arrival_timestamp_ms",
     "attributes")
)
_SLOTS = {name: Record.__dict__[name] for name in _LAZY}
_SRC = Record.__dict__["_src"]
