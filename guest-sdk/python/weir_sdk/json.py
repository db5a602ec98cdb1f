"""Helpers for the JSON payloads most rules produce (the Rust SDK's `weir_sdk::json`).

IoT devices are inconsistent about types: the seed's Raspberry Pi sends every value as a string
(`"speed": "82"`), other devices send numbers. These helpers accept both where a number is meant,
and turn anything else into a RecordError that names the field and the value, with the same
codes and messages as the Rust SDK (`test-vectors/json-fields.json` holds both to it).

`loads` / `dumps` read and write JSON exactly as the Rust SDK (serde_json) does.
"""

import math
import re

from . import _serde
from .errors import RecordError

__all__ = [
    "field",
    "string_field",
    "number_field",
    "parse_number",
    "lines_to_json",
    "map_lines",
    "BadLine",
    "loads",
    "dumps",
    "JsonError",
]

JsonError = _serde.JsonError


def loads(data):
    """Parses JSON text (bytes or str) by serde_json's rules; raises JsonError."""
    return _serde.loads(data)


def dumps(value):
    """Writes `value` as compact JSON, byte for byte what serde_json writes."""
    return _serde.dumps(value)


def field(obj, name):
    """The value of `name` in `obj`, or RecordError `missing-field`. A JSON null counts as
    missing."""
    value = obj.get(name)
    if value is None:
        raise RecordError.missing_field(name)
    return value


def string_field(obj, name):
    """`name` as a str. Numbers and booleans are rendered as text (as serde_json writes them),
    since a device that sends `"speed": 82` means the same as one that sends `"speed": "82"`."""
    value = field(obj, name)
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        text = _serde.format_float(value)
        if text is not None:
            return text
    raise RecordError.bad_value(name, "expected a string, found %s" % _serde.kind_of(value))


_SMALL_INT = 1 << 64


def number_field(obj, name):
    """`name` as a finite float: a JSON number, or a string holding one (surrounding blanks are
    allowed, as AWS IoT's own string-to-number conversion allows them)."""
    value = obj.get(name)  # `field`, inlined: a filter calls this once per record
    if value is None:
        raise RecordError.missing_field(name)
    # The usual cases first: a finite float, an int well inside f64's range.
    kind = type(value)
    if kind is float:
        if value - value == 0.0:
            return value
    elif kind is int and -_SMALL_INT < value < _SMALL_INT:
        return float(value)
    if isinstance(value, str):
        number = parse_number(value)
        if number is None:
            raise RecordError.bad_value(name, "%s is not a number" % _serde.quote(value))
        return number
    if isinstance(value, (int, float)) and value is not True and value is not False:
        try:
            number = float(value)
        except OverflowError:
            number = None
        if number is None or number != number or number in (float("inf"), float("-inf")):
            raise RecordError.bad_value(name, "number %r is out of range" % (value,))
        return number
    raise RecordError.bad_value(name, "expected a number, found %s" % _serde.kind_of(value))


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def parse_number(text):
    """Parses a decimal number, or None. Rejects NaN, infinities, hexadecimal, `1_000`, and
    anything else no device means; surrounding Unicode whitespace is ignored."""
    t = text.strip(_serde.WHITESPACE)
    if not _DECIMAL.match(t):
        return None
    value = float(t)
    return None if math.isinf(value) else value


class BadLine(Exception):
    """Raised by a `lines_to_json` / `map_lines` callback for a line it cannot convert; the
    text is the reason that goes into the record's `bad-line` error."""


def _lines(text):
    # Rust's str::lines: split on \n, no empty last line for a trailing \n.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def map_lines(record, render):
    """One output record per non-empty line of a text record, its payload made by `render`
    (bytes or str), with the original record's metadata. A line `render` rejects (it raises
    BadLine) fails the whole record with code `bad-line`, the line number and the line, so
    nothing is half-converted; a payload that is not UTF-8 fails with `bad-utf8`."""
    text = record.text()
    out = []
    for i, line in enumerate(_lines(text)):
        line = line.rstrip("\r")
        if not line.strip(_serde.WHITESPACE):
            continue
        try:
            payload = render(line)
        except BadLine as why:
            raise RecordError(
                "bad-line", "line %d: %s: %s" % (i + 1, why, _serde.quote(line))
            ) from None
        out.append(record.derive(payload))
    return out


def lines_to_json(record, parse):
    """Turns a text record holding one or more log lines into one JSON record per non-empty
    line, each the JSON of what `parse(line)` returns; `parse` raises BadLine for a line it
    rejects (see `map_lines`)."""
    return map_lines(record, lambda line: _serde.dumps(parse(line)))
