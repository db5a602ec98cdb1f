"""What a plugin can ask of the host.

Plugin code receives a `Host`: `log`, `config`, `lookup` and, for emitters, the outbox
(`publish`, `put_record`, `notify`). Each belongs to a capability the plugin's manifest grants
(`grants = ["log", "config", "lookup", "outbox"]`); the component imports exactly the granted
interfaces, and a call to one that was not granted raises NotGranted (natively too, when the
test harness finds the plugin's weir-plugin.toml).

In a component the host is `weir_sdk.app`'s; in tests it is `weir_sdk.testing.MockHost`. Both
implement the five primitives below (`_log`, `_config`, `_config_keys`, `_lookup`, `_outbox`);
everything else here is shared.
"""

import enum
import re

from . import _serde
from .errors import InitError, NotGranted

__all__ = ["Level", "Row", "Host", "CAPABILITIES"]

#: Every capability, in the order the build world imports them.
CAPABILITIES = ("log", "config", "lookup", "outbox")


class Level(enum.IntEnum):
    """Severity of a log line."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


class Row:
    """One row of a lookup table: (column, value) pairs in the table's column order."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        if isinstance(pairs, dict):
            pairs = pairs.items()
        self.pairs = [(str(c), str(v)) for c, v in pairs]

    @classmethod
    def _of(cls, pairs):
        """A row around a list of (str, str) pairs from the host, taken as is."""
        row = cls.__new__(cls)
        row.pairs = pairs
        return row

    def get(self, column, default=None):
        """The value of `column`, or `default` when the table has no such column."""
        for c, v in self.pairs:
            if c == column:
                return v
        return default

    def columns(self):
        """Every (column, value) pair, in column order."""
        return list(self.pairs)

    def __getitem__(self, column):
        for c, v in self.pairs:
            if c == column:
                return v
        raise KeyError(column)

    def __contains__(self, column):
        return any(c == column for c, _ in self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)

    def as_dict(self):
        """The row as a dict (column order kept)."""
        return dict(self.pairs)

    def __eq__(self, other):
        if isinstance(other, Row):
            return self.pairs == other.pairs
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return "Row(%r)" % (self.pairs,)


_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\Z", re.I
)
_INT_DIGITS = re.compile(r"[0-9]*")
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def parse_float(text):
    """Rust's `f64::from_str`: decimal, `inf`, `infinity`, `nan` (any case), nothing else."""
    if not text:
        raise ValueError("cannot parse float from empty string")
    if not _FLOAT.match(text):
        raise ValueError("invalid float literal")
    return float(text)


def parse_int(text, lo=_I64_MIN, hi=_I64_MAX):
    """Rust's `i64::from_str` (or another range): optional sign, ASCII digits."""
    if not text:
        raise ValueError("cannot parse integer from empty string")
    negative = text[0] == "-"
    digits = text[1:] if text[0] in "+-" else text
    if not digits:
        raise ValueError("invalid digit found in string")
    prefix = _INT_DIGITS.match(digits).group()
    # Rust reads digit by digit and reports whichever comes first: an overflow within the
    # leading digits, or the first character that is not a digit.
    if prefix:
        value = -int(prefix) if negative else int(prefix)
        if value > hi:
            raise ValueError("number too large to fit in target type")
        if value < lo:
            raise ValueError("number too small to fit in target type")
    if len(prefix) < len(digits):
        raise ValueError("invalid digit found in string")
    return value


def parse_bool(text):
    """Rust's `bool::from_str`: exactly `true` or `false`."""
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("provided string was not `true` or `false`")


class Host:
    """The host as plugin code sees it. Subclasses provide the primitives."""

    #: The capabilities this host lets the plugin use (None: all of them).
    grants = None

    # -- primitives (one per WIT import) ----------------------------------------------

    def _log(self, level, message):
        raise NotImplementedError

    def _config(self, key):
        raise NotImplementedError

    def _config_keys(self):
        raise NotImplementedError

    def _lookup(self, table, key):
        """A list of (column, value) pairs, None, or raises LookupFailed."""
        raise NotImplementedError

    def _outbox(self, call, *args):
        """`call` is publish, put_record or notify; raises OutboxRefused."""
        raise NotImplementedError

    def _require(self, capability, what):
        grants = self.grants
        if grants is not None and capability not in grants:
            raise NotGranted(capability, what)

    # -- log ---------------------------------------------------------------------------

    def log(self, level, message):
        """Writes one line into the host's logs, tagged with the plugin (`log` grant)."""
        self._require("log", "host.log")
        self._log(Level(level), str(message))

    def trace(self, message):
        self.log(Level.TRACE, message)

    def debug(self, message):
        self.log(Level.DEBUG, message)

    def info(self, message):
        self.log(Level.INFO, message)

    def warn(self, message):
        self.log(Level.WARN, message)

    def error(self, message):
        self.log(Level.ERROR, message)

    # -- config ------------------------------------------------------------------------

    def config(self, key):
        """The value configured for `key`, or None (`config` grant)."""
        self._require("config", "host.config")
        return self._config(key)

    def config_keys(self):
        """Every configured key, sorted, so a plugin can reject keys it does not understand."""
        self._require("config", "host.config_keys")
        return list(self._config_keys())

    def config_or(self, key, default):
        """The value of `key`, or `default`."""
        value = self.config(key)
        return default if value is None else value

    def config_parse(self, key, default, parse=None):
        """`key` parsed, or `default` when it is not configured (the Rust `config_parse`).

        The value (surrounding whitespace removed) is parsed as the type of `default`, with
        Rust's rules: float as `f64` (so `inf` and `nan` parse; check finiteness yourself), int
        as `i64`, bool as `true`/`false`, str as is; or by `parse(text)`, which raises
        ValueError with the reason. A value that does not parse raises InitError naming the key:
        `config `limit`: cannot parse "lots": invalid float literal`."""
        raw = self.config(key)
        if raw is None:
            return default
        if parse is None:
            if isinstance(default, bool):
                parse = parse_bool
            elif isinstance(default, int):
                parse = parse_int
            elif isinstance(default, float):
                parse = parse_float
            elif isinstance(default, str):
                parse = str
            else:
                raise TypeError("config_parse: give `parse` for a default of type %s"
                                % type(default).__name__)
        try:
            return parse(raw.strip(_serde.WHITESPACE))
        except ValueError as e:
            raise InitError.config(key, "cannot parse %s: %s" % (_serde.quote(raw), e)) from None

    def config_float(self, key, default):
        """`key` as a float (Rust `f64` syntax), or `default`; InitError naming the key."""
        return self.config_parse(key, float(default), parse_float)

    def config_int(self, key, default):
        """`key` as an int (Rust `i64` syntax), or `default`; InitError naming the key."""
        return self.config_parse(key, int(default), parse_int)

    def config_bool(self, key, default):
        """`key` as `true` / `false`, or `default`; InitError naming the key."""
        return self.config_parse(key, bool(default), parse_bool)

    # -- lookup ------------------------------------------------------------------------

    def lookup(self, table, key):
        """The Row stored under `key` in `table`, or None when the key is absent (`lookup`
        grant). A table the host does not have raises LookupFailed, which fails the record with
        code `lookup-failed` if the plugin lets it through."""
        self._require("lookup", "host.lookup")
        pairs = self._lookup(table, key)
        return None if pairs is None else Row._of(pairs)

    # -- outbox (emitters) -------------------------------------------------------------

    def publish(self, topic, payload, qos=0):
        """Publishes `payload` (bytes or str) on MQTT `topic` with QoS 0 or 1 (`outbox` grant).
        The host performs it after the batch returns; OutboxRefused if it refuses now."""
        self._require("outbox", "host.publish")
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if not isinstance(qos, int) or not 0 <= qos <= 255:
            raise ValueError("qos is 0 or 1, not %r" % (qos,))
        self._outbox("publish", topic, bytes(payload), qos)

    def put_record(self, stream, partition_key, data):
        """Appends a record to one of the host's streams (Kinesis PutRecord semantics)."""
        self._require("outbox", "host.put_record")
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._outbox("put_record", stream, partition_key, bytes(data))

    def notify(self, channel, target, message):
        """Sends `message` to `target` (say an E.164 number) on the notification `channel`."""
        self._require("outbox", "host.notify")
        self._outbox("notify", channel, target, message)
