"""JSON exactly as the Rust SDK reads and writes it (serde_json 1.x, `preserve_order`).

Plugins written in Rust and in Python must agree on every payload: what is valid JSON, what the
numbers are, how the output is spelt, and what an error message says. Python's `json` module
differs from serde_json in all four (it takes `NaN`, turns `1e999` into infinity, keeps integers
of any size, spells `1e-05`, has its own messages), so this module wraps it:

- `loads` tries the C-accelerated `json` decoder for payloads that cannot hit a difference and
  falls back to `_Parser`, a parser that follows serde_json's grammar, number conversion (its
  default, non-`float_roundtrip` algorithm), nesting limit (128) and error messages with their
  line and column.
- `loads_fields` answers `Record.json_fields`: the fields not named are checked as JSON syntax
  only, as serde's `IgnoredAny` does.
- `dumps` writes what `serde_json::to_string` writes (compact, insertion order, floats in
  zmij's shortest form: `1e+16`, `0.00001`, `1e-7`).

Nothing here is public API; `weir_sdk.json` and `Record` expose it.
"""

import json as _std
import math
import re
import unicodedata

__all__ = ["JsonError", "loads", "loads_fields", "dumps", "quote", "kind_of", "WHITESPACE"]


class JsonError(ValueError):
    """A payload serde_json would refuse; the text is serde_json's (`... at line L column C`)."""


# serde_json's error texts.
_EOF_LIST = "EOF while parsing a list"
_EOF_OBJECT = "EOF while parsing an object"
_EOF_STRING = "EOF while parsing a string"
_EOF_VALUE = "EOF while parsing a value"
_EXPECTED_COLON = "expected `:`"
_EXPECTED_LIST = "expected `,` or `]`"
_EXPECTED_OBJECT = "expected `,` or `}`"
_EXPECTED_IDENT = "expected ident"
_EXPECTED_VALUE = "expected value"
_INVALID_ESCAPE = "invalid escape"
_INVALID_NUMBER = "invalid number"
_OUT_OF_RANGE = "number out of range"
_INVALID_CODE_POINT = "invalid unicode code point"
_CONTROL = "control character (\\u0000-\\u001F) found while parsing a string"
_KEY_NOT_STRING = "key must be a string"
_LONE_SURROGATE = "lone leading surrogate in hex escape"
_TRAILING_COMMA = "trailing comma"
_TRAILING_CHARACTERS = "trailing characters"
_HEX_END = "unexpected end of hex escape"
_RECURSION = "recursion limit exceeded"

_U64_MAX = (1 << 64) - 1
_I32_MAX = (1 << 31) - 1
_I32_MIN = -(1 << 31)
_DEPTH = 128
# Powers of ten as serde_json's table holds them (each literal correctly rounded).
_POW10 = [float("1e%d" % k) for k in range(309)]

_QUOTE, _BACKSLASH = 0x22, 0x5C
_ZERO, _ONE, _NINE = 0x30, 0x31, 0x39
_SIMPLE_ESCAPES = {
    0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x62: b"\b", 0x66: b"\f", 0x6E: b"\n", 0x72: b"\r",
    0x74: b"\t",
}
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_SPACE = re.compile(rb"[ \t\n\r]*")
_DIGITS = re.compile(rb"[0-9]*")
_STRING_STOP = re.compile(rb'["\\\x00-\x1f]')


def _is_digit(c):
    return _ZERO <= c <= _NINE


class _Parser:
    """serde_json's `from_slice` over bytes: same grammar, same values, same errors."""

    __slots__ = ("d", "i", "n", "depth")

    def __init__(self, data):
        self.d = data
        self.i = 0
        self.n = len(data)
        self.depth = _DEPTH

    # -- positions and errors ------------------------------------------------------------

    def _at(self, index, message):
        d = self.d
        line_start = d.rfind(b"\n", 0, index) + 1
        line = 1 + d.count(b"\n", 0, line_start)
        return JsonError("%s at line %d column %d" % (message, line, index - line_start))

    def error(self, message):
        """An error about the byte just read (serde's `error`)."""
        return self._at(self.i, message)

    def peek_error(self, message):
        """An error about the byte about to be read (serde's `peek_error`)."""
        return self._at(min(self.n, self.i + 1), message)

    # -- scanning ------------------------------------------------------------------------

    def ws(self):
        """Skips whitespace; the next byte without taking it, or -1 at the end."""
        i = _SPACE.match(self.d, self.i).end()
        self.i = i
        return self.d[i] if i < self.n else -1

    def peek(self):
        return self.d[self.i] if self.i < self.n else -1

    def ident(self, rest):
        for expected in rest:
            if self.i >= self.n:
                raise self.error(_EOF_VALUE)
            c = self.d[self.i]
            self.i += 1
            if c != expected:
                raise self.error(_EXPECTED_IDENT)

    # -- documents -----------------------------------------------------------------------

    def document(self):
        value = self.value()
        self.end()
        return value

    def end(self):
        if self.ws() >= 0:
            raise self.peek_error(_TRAILING_CHARACTERS)

    def value(self):
        c = self.ws()
        if c == _QUOTE:
            self.i += 1
            return self.string()
        if c == 0x7B:  # {
            return self.object()
        if c == 0x5B:  # [
            return self.array()
        if c == 0x2D:  # -
            self.i += 1
            return self.integer(False)
        if _ZERO <= c <= _NINE:
            return self.integer(True)
        if c == 0x6E:  # n
            self.i += 1
            self.ident(b"ull")
            return None
        if c == 0x74:  # t
            self.i += 1
            self.ident(b"rue")
            return True
        if c == 0x66:  # f
            self.i += 1
            self.ident(b"alse")
            return False
        if c < 0:
            raise self.peek_error(_EOF_VALUE)
        raise self.peek_error(_EXPECTED_VALUE)

    def enter(self):
        self.depth -= 1
        if self.depth == 0:
            raise self.peek_error(_RECURSION)
        self.i += 1

    def next_element(self, first):
        """True when another list element follows (serde's `has_next_element`)."""
        c = self.ws()
        if c < 0:
            raise self.peek_error(_EOF_LIST)
        if c == 0x5D:  # ]
            return False
        if first:
            return True
        if c == 0x2C:  # ,
            self.i += 1
            c = self.ws()
            if c == 0x5D:
                raise self.peek_error(_TRAILING_COMMA)
            if c < 0:
                raise self.peek_error(_EOF_VALUE)
            return True
        raise self.peek_error(_EXPECTED_LIST)

    def next_key(self, first):
        """True when another key follows, its quote not yet taken (serde's `has_next_key`)."""
        c = self.ws()
        if c < 0:
            raise self.peek_error(_EOF_OBJECT)
        if c == 0x7D:  # }
            return False
        if first:
            if c == _QUOTE:
                return True
            raise self.peek_error(_KEY_NOT_STRING)
        if c == 0x2C:
            self.i += 1
            c = self.ws()
            if c == _QUOTE:
                return True
            if c == 0x7D:
                raise self.peek_error(_TRAILING_COMMA)
            if c < 0:
                raise self.peek_error(_EOF_VALUE)
            raise self.peek_error(_KEY_NOT_STRING)
        raise self.peek_error(_EXPECTED_OBJECT)

    def colon(self):
        c = self.ws()
        if c == 0x3A:
            self.i += 1
        elif c < 0:
            raise self.peek_error(_EOF_OBJECT)
        else:
            raise self.peek_error(_EXPECTED_COLON)

    def array(self):
        self.enter()
        items = []
        first = True
        while self.next_element(first):
            first = False
            items.append(self.value())
        self.depth += 1
        self.i += 1
        return items

    def object(self):
        self.enter()
        obj = {}
        first = True
        while self.next_key(first):
            first = False
            self.i += 1
            key = self.string()
            self.colon()
            obj[key] = self.value()
        self.depth += 1
        self.i += 1
        return obj

    # -- json_fields ---------------------------------------------------------------------

    def pick(self, names):
        """The top-level object with only `names` built (or the JSON type it is instead)."""
        c = self.ws()
        if c == 0x7B:
            self.enter()
            out = {}
            first = True
            while self.next_key(first):
                first = False
                self.i += 1
                key = self.string()
                self.colon()
                if key in names:
                    out[key] = self.value()
                else:
                    self.ignore_value()
            self.depth += 1
            self.i += 1
            kind = out
        elif c == 0x5B:
            self.enter()
            first = True
            while self.next_element(first):
                first = False
                self.ignore_value()
            self.depth += 1
            self.i += 1
            kind = "an array"
        else:
            kind = kind_of(self.value())
        self.end()
        return kind

    def ignore_value(self):
        """Checks one value's syntax without building it (serde's `ignore_value`): numbers are
        not converted, strings not checked as UTF-8, and nesting has no limit."""
        stack = []
        enclosing = None
        while True:
            c = self.ws()
            frame = None
            if c == _QUOTE:
                self.i += 1
                self.ignore_string()
            elif c == 0x5B or c == 0x7B:
                if enclosing is not None:
                    stack.append(enclosing)
                    enclosing = None
                self.i += 1
                frame = c
            elif c == 0x2D:
                self.i += 1
                self.ignore_integer()
            elif _ZERO <= c <= _NINE:
                self.ignore_integer()
            elif c == 0x6E:
                self.i += 1
                self.ident(b"ull")
            elif c == 0x74:
                self.i += 1
                self.ident(b"rue")
            elif c == 0x66:
                self.i += 1
                self.ident(b"alse")
            elif c < 0:
                raise self.peek_error(_EOF_VALUE)
            else:
                raise self.peek_error(_EXPECTED_VALUE)

            if frame is not None:
                accept_comma = False
            elif enclosing is not None:
                accept_comma, frame, enclosing = True, enclosing, None
            elif stack:
                accept_comma, frame = True, stack.pop()
            else:
                return

            while True:
                c = self.ws()
                if c == 0x2C and accept_comma:
                    self.i += 1
                    break
                closes = (c == 0x5D and frame == 0x5B) or (c == 0x7D and frame == 0x7B)
                if not closes:
                    if c < 0:
                        raise self.peek_error(_EOF_LIST if frame == 0x5B else _EOF_OBJECT)
                    if accept_comma:
                        raise self.peek_error(_EXPECTED_LIST if frame == 0x5B else _EXPECTED_OBJECT)
                    break
                self.i += 1
                if not stack:
                    return
                frame = stack.pop()
                accept_comma = True

            if frame == 0x7B:
                c = self.ws()
                if c == _QUOTE:
                    self.i += 1
                elif c < 0:
                    raise self.peek_error(_EOF_OBJECT)
                else:
                    raise self.peek_error(_KEY_NOT_STRING)
                self.ignore_string()
                c = self.ws()
                if c == 0x3A:
                    self.i += 1
                elif c < 0:
                    raise self.peek_error(_EOF_OBJECT)
                else:
                    raise self.peek_error(_EXPECTED_COLON)
            enclosing = frame

    def ignore_integer(self):
        d = self.d
        c = 0
        if self.i < self.n:
            c = d[self.i]
            self.i += 1
        if c == _ZERO:
            if _is_digit(self.peek()):
                raise self.peek_error(_INVALID_NUMBER)
        elif _ONE <= c <= _NINE:
            self.i = _DIGITS.match(d, self.i).end()
        else:
            raise self.error(_INVALID_NUMBER)
        c = self.peek()
        if c == 0x2E:
            self.i += 1
            start = self.i
            self.i = _DIGITS.match(d, self.i).end()
            if self.i == start:
                raise self.peek_error(_INVALID_NUMBER)
            c = self.peek()
        if c == 0x65 or c == 0x45:
            self.i += 1
            if self.peek() in (0x2B, 0x2D):
                self.i += 1
            c = 0
            if self.i < self.n:
                c = d[self.i]
                self.i += 1
            if not _is_digit(c):
                raise self.error(_INVALID_NUMBER)
            self.i = _DIGITS.match(d, self.i).end()

    def ignore_string(self):
        d = self.d
        while True:
            m = _STRING_STOP.search(d, self.i)
            if m is None:
                self.i = self.n
                raise self.error(_EOF_STRING)
            j = m.start()
            c = d[j]
            if c == _QUOTE:
                self.i = j + 1
                return
            if c == _BACKSLASH:
                self.i = j + 1
                if self.i >= self.n:
                    raise self.error(_EOF_STRING)
                e = d[self.i]
                self.i += 1
                if e == 0x75:  # u
                    self.hex4()
                elif e not in _SIMPLE_ESCAPES:
                    raise self.error(_INVALID_ESCAPE)
            else:
                self.i = j
                raise self.error(_CONTROL)

    # -- strings -------------------------------------------------------------------------

    def string(self):
        """A string whose opening quote was taken."""
        d = self.d
        start = self.i
        scratch = None
        while True:
            m = _STRING_STOP.search(d, self.i)
            if m is None:
                self.i = self.n
                raise self.error(_EOF_STRING)
            j = m.start()
            c = d[j]
            if c == _QUOTE:
                if scratch is None:
                    content = d[start:j]
                else:
                    scratch += d[start:j]
                    content = bytes(scratch)
                self.i = j + 1
                try:
                    return content.decode("utf-8")
                except UnicodeDecodeError as e:
                    # serde points at the first bad byte, counting back from the closing quote.
                    line_start = d.rfind(b"\n", 0, self.i) + 1
                    line = 1 + d.count(b"\n", 0, line_start)
                    column = max(0, self.i - line_start - (len(content) - e.start))
                    raise JsonError(
                        "%s at line %d column %d" % (_INVALID_CODE_POINT, line, column)
                    ) from None
            if c == _BACKSLASH:
                if scratch is None:
                    scratch = bytearray()
                scratch += d[start:j]
                self.i = j + 1
                self.escape(scratch)
                start = self.i
            else:
                self.i = j + 1
                raise self.error(_CONTROL)

    def escape(self, scratch):
        if self.i >= self.n:
            raise self.error(_EOF_STRING)
        c = self.d[self.i]
        self.i += 1
        simple = _SIMPLE_ESCAPES.get(c)
        if simple is not None:
            scratch += simple
        elif c == 0x75:
            scratch += self.unicode_escape().encode("utf-8")
        else:
            raise self.error(_INVALID_ESCAPE)

    def hex4(self):
        if self.i + 4 > self.n:
            self.i = self.n
            raise self.error(_EOF_STRING)
        chunk = self.d[self.i:self.i + 4]
        self.i += 4
        for b in chunk:
            if b not in _HEX_DIGITS:
                raise self.error(_INVALID_ESCAPE)
        return int(chunk, 16)

    def unicode_escape(self):
        n1 = self.hex4()
        if 0xDC00 <= n1 <= 0xDFFF:
            raise self.error(_LONE_SURROGATE)
        if not 0xD800 <= n1 <= 0xDBFF:
            return chr(n1)
        for expected in (_BACKSLASH, 0x75):
            if self.i >= self.n:
                raise self.error(_EOF_STRING)
            c = self.d[self.i]
            self.i += 1
            if c != expected:
                raise self.error(_HEX_END)
        n2 = self.hex4()
        if not 0xDC00 <= n2 <= 0xDFFF:
            raise self.error(_LONE_SURROGATE)
        return chr((((n1 - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000)

    # -- numbers (serde_json's default conversion, not correctly rounded in every case) ---

    def integer(self, positive):
        d = self.d
        if self.i >= self.n:
            raise self.error(_EOF_VALUE)
        c = d[self.i]
        self.i += 1
        if c == _ZERO:
            if _is_digit(self.peek()):
                raise self.peek_error(_INVALID_NUMBER)
            return self.number_tail(positive, 0)
        if not _ONE <= c <= _NINE:
            raise self.error(_INVALID_NUMBER)
        start = self.i - 1
        end = _DIGITS.match(d, self.i).end()
        if end - start < 20:  # below 10^19: no u64 overflow possible
            self.i = end
            return self.number_tail(positive, int(d[start:end]))
        significand = c - _ZERO
        while self.i < end:
            digit = d[self.i] - _ZERO
            if significand * 10 + digit > _U64_MAX:
                return self.long_integer(positive, significand)
            self.i += 1
            significand = significand * 10 + digit
        return self.number_tail(positive, significand)

    def number_tail(self, positive, significand):
        c = self.peek()
        if c == 0x2E:
            return self.decimal(positive, significand, 0)
        if c == 0x65 or c == 0x45:
            return self.exponent(positive, significand, 0)
        if positive:
            return significand
        if significand == 0:
            return -0.0
        if significand <= 1 << 63:
            return -significand
        return -float(significand)

    def long_integer(self, positive, significand):
        # The digits past u64 are dropped; each one scales the number by ten.
        start = self.i
        self.i = _DIGITS.match(self.d, self.i).end()
        exponent = self.i - start
        c = self.peek()
        if c == 0x2E:
            return self.decimal(positive, significand, exponent)
        if c == 0x65 or c == 0x45:
            return self.exponent(positive, significand, exponent)
        return self.f64(positive, significand, exponent)

    def decimal(self, positive, significand, exponent_before):
        d = self.d
        self.i += 1
        after = 0
        while self.i < self.n and _is_digit(d[self.i]):
            digit = d[self.i] - _ZERO
            if significand * 10 + digit > _U64_MAX:
                self.i = _DIGITS.match(d, self.i).end()
                c = self.peek()
                if c == 0x65 or c == 0x45:
                    return self.exponent(positive, significand, exponent_before + after)
                return self.f64(positive, significand, exponent_before + after)
            self.i += 1
            significand = significand * 10 + digit
            after -= 1
        if after == 0:
            raise self.peek_error(_INVALID_NUMBER if self.i < self.n else _EOF_VALUE)
        c = self.peek()
        if c == 0x65 or c == 0x45:
            return self.exponent(positive, significand, exponent_before + after)
        return self.f64(positive, significand, exponent_before + after)

    def exponent(self, positive, significand, starting):
        d = self.d
        self.i += 1
        positive_exp = True
        c = self.peek()
        if c == 0x2B:
            self.i += 1
        elif c == 0x2D:
            self.i += 1
            positive_exp = False
        if self.i >= self.n:
            raise self.error(_EOF_VALUE)
        c = d[self.i]
        self.i += 1
        if not _is_digit(c):
            raise self.error(_INVALID_NUMBER)
        exp = c - _ZERO
        while self.i < self.n and _is_digit(d[self.i]):
            digit = d[self.i] - _ZERO
            self.i += 1
            if exp * 10 + digit > _I32_MAX:
                if significand != 0 and positive_exp:
                    raise self.error(_OUT_OF_RANGE)
                self.i = _DIGITS.match(d, self.i).end()
                return 0.0 if positive else -0.0
            exp = exp * 10 + digit
        final = starting + exp if positive_exp else starting - exp
        return self.f64(positive, significand, max(_I32_MIN, min(_I32_MAX, final)))

    def f64(self, positive, significand, exponent):
        f = float(significand)
        while True:
            a = abs(exponent)
            if a <= 308:
                if exponent >= 0:
                    f *= _POW10[a]
                    if math.isinf(f):
                        raise self.error(_OUT_OF_RANGE)
                else:
                    f /= _POW10[a]
                break
            if f == 0.0:
                break
            if exponent >= 0:
                raise self.error(_OUT_OF_RANGE)
            f /= 1e308
            exponent += 308
        return f if positive else -f


# -- the fast path ---------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError("not JSON: " + name)


def _serde_float(text):
    """A number with a fraction or exponent, converted as serde_json converts it."""
    if len(text) < 16 and "e" not in text and "E" not in text:
        # At most 14 digits and no exponent: one exact division, correctly rounded, so the
        # same as Python's conversion.
        return float(text)
    p = _Parser(text.encode("ascii"))
    if text[0] == "-":
        p.i = 1
        return p.integer(False)
    return p.integer(True)


def _serde_int(text):
    """An integer as serde_json converts it: i64 / u64, else a float (`-0` included)."""
    if len(text) < 19:
        return -0.0 if text == "-0" else int(text)
    p = _Parser(text.encode("ascii"))
    if text[0] == "-":
        p.i = 1
        return p.integer(False)
    return p.integer(True)


# The C scanner, with serde_json's number conversion and without NaN / Infinity.
_scan = _std.JSONDecoder(
    parse_float=_serde_float, parse_int=_serde_int, parse_constant=_reject_constant
).scan_once
_JSON_SPACE = " \t\n\r"
_SPACE_TEXT = re.compile(r"[ \t\n\r]*")


def _fast_ok(data):
    """Whether Python's decoder, with the hooks above, reads `data` exactly as serde_json does.
    It does not for \\u escapes (it keeps lone surrogates) or deep nesting (serde_json stops at
    128 levels); such payloads, and everything Python refuses, take the exact parser."""
    return b"\\u" not in data and data.count(b"[") + data.count(b"{") < _DEPTH - 1


def _fast(data):
    text = data.decode("utf-8")
    start = 0
    if text[:1] in _JSON_SPACE:
        start = _SPACE_TEXT.match(text).end()
    value, end = _scan(text, start)
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        raise ValueError("trailing characters")
    return value


_FAST_ERRORS = (ValueError, StopIteration, RecursionError)


def _as_bytes(data):
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def loads(data):
    """Parses `data` (bytes, or str) as serde_json would; raises JsonError with its message."""
    data = _as_bytes(data)
    if _fast_ok(data):
        try:
            return _fast(data)
        except _FAST_ERRORS:
            pass  # the exact parser says what is wrong
    return _Parser(data).document()


# The C scanner for `loads_fields`, with no Python call per number. Integers are Python's own
# (exact, so the few that serde_json would convert differently, beyond i64/u64, are converted
# from their text afterwards: an int's digits come back unchanged from `str`). A float's text is
# kept behind an iterator over it (`iter` is one small C allocation, and JSON never yields an
# iterator), and converted only for the fields asked for: the others are checked as JSON syntax
# only.
_scan_lazy = _std.JSONDecoder(parse_float=iter, parse_constant=_reject_constant).scan_once
_FLOAT_TEXT = type(iter(""))
_INT_EXACT = 10**18  # below this in magnitude (at most 18 digits), `int(text)` is serde_json's


def _picked(value):
    """A value from `_scan_lazy` as serde_json would have built it (once: a float's text is
    read from its iterator)."""
    kind = type(value)
    if kind is _FLOAT_TEXT:
        return _serde_float("".join(value))
    if kind is int:
        return value if -_INT_EXACT < value < _INT_EXACT else _serde_int(str(value))
    if kind is dict:
        return {k: _picked(v) for k, v in value.items()}
    if kind is list:
        return [_picked(v) for v in value]
    return value


def loads_fields(data, names):
    """The top-level object of `data` with only `names` (a set, or a list or tuple of one
    name) kept, or the JSON type it is instead (a str such as "an array"); raises JsonError
    as serde_json would."""
    if type(data) is not bytes:
        data = _as_bytes(data)
    # `_fast_ok` and `_fast`, inlined (a filter calls this once per record); `-0`, which
    # Python reads as the int 0 where serde_json gives -0.0, takes the exact scanner.
    if (
        b"\\u" not in data
        and (len(data) < _DEPTH - 1 or data.count(b"[") + data.count(b"{") < _DEPTH - 1)
    ):
        lazy = b"-0" not in data
        try:
            text = data.decode("utf-8")
            start = 0
            if text[:1] in _JSON_SPACE:
                start = _SPACE_TEXT.match(text).end()
            value, end = (_scan_lazy if lazy else _scan)(text, start)
            if end != len(text) and text[end:].strip(_JSON_SPACE):
                raise ValueError("trailing characters")
            if type(value) is dict:
                if len(names) == 1:
                    # One field (a filter's usual question): a lookup, not a pass over all.
                    for k in names:
                        if k not in value:
                            return {}
                        v = value[k]
                        return {k: _picked(v) if lazy else v}
                if lazy:
                    return {k: _picked(v) for k, v in value.items() if k in names}
                return {k: v for k, v in value.items() if k in names}
            return kind_of(_picked(value) if lazy else value)
        except _FAST_ERRORS:
            pass  # the exact parser says what is wrong, and where
    return _Parser(data).pick(names)


def kind_of(value):
    """A short name for the JSON type of `value`, as the Rust SDK's messages spell it."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- writing ----------------------------------------------------------------------------------

_encode_string = _std.encoder.encode_basestring  # escapes as serde_json does


def _not_serializable(value):
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


if _std.encoder.c_make_encoder is not None:
    # The C encoder, built once: compact, no NaN, no circular-reference check (a cycle ends in
    # RecursionError, as it would in the exact writer).
    _c_encoder = _std.encoder.c_make_encoder(
        None, _not_serializable, _encode_string, None, ":", ",", False, False, False
    )

    def _encode_fast(value):
        return "".join(_c_encoder(value, 0))
else:  # pragma: no cover (a Python without the C accelerator)
    _encode_fast = _std.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode
# Python and serde_json (zmij) spell floats alike but below 1e-4: Python writes `1e-05` and
# `1e-07` where serde_json writes `0.00001` and `1e-7`. Output that may hold such a float (it
# has `e-0`) takes the exact writer.
_PY_EXPONENT = re.compile(r"[0-9]e-0")


def format_float(x):
    """`x` as serde_json writes an f64 (with zmij: shortest round-trip digits; fixed notation
    from 1e-5 to below 1e16, else `1.5e+16`, `1e-7`); None when not finite (serde_json writes
    `null` then)."""
    if x != x or x in (math.inf, -math.inf):
        return None
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    r = float.__repr__(x)  # shortest round-trip digits, as zmij finds them
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    exp = 0
    if "e" in r:
        r, e = r.split("e")
        exp = int(e)
    whole, _, frac = r.partition(".")
    digits = whole + frac
    k = exp - len(frac)  # value = int(digits) * 10^k
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped.lstrip("0")
    length = len(digits)
    point = length - 1 + k  # value = d.ddd * 10^point
    if -5 <= point <= 15:
        if length - 1 <= point:
            return sign + digits + "0" * (point - length + 1) + ".0"
        if point >= 0:
            return sign + digits[:point + 1] + "." + digits[point + 1:]
        return sign + "0." + "0" * (-point - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if length > 1 else "")
    return "%s%se%s%d" % (sign, mantissa, "+" if point >= 0 else "-", abs(point))


def _key(k):
    if isinstance(k, str):
        return k
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    if isinstance(k, float):
        return float.__repr__(k)
    raise TypeError("keys must be str, int, float, bool or None, not %s" % type(k).__name__)


def _write(value, out):
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(format_float(value) or "null")
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for k, v in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(_key(k)))
            out.append(":")
            _write(v, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        first = True
        for v in value:
            if not first:
                out.append(",")
            first = False
            _write(v, out)
        out.append("]")
    else:
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def dumps(value):
    """`value` as compact JSON text, exactly as serde_json's `to_string` writes it."""
    try:
        text = _encode_fast(value)
    except ValueError:  # NaN or infinity: serde_json writes null
        text = None
    if text is not None and _PY_EXPONENT.search(text) is None:
        return text
    out = []
    _write(value, out)
    return "".join(out)


# -- Rust's text conventions --------------------------------------------------------------------

#: The characters Rust's `str::trim` removes (Unicode White_Space), for `str.strip(WHITESPACE)`.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_PLAIN = re.compile(r'[ !#-\[\]-~]*\Z')
_DEBUG_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
# Grapheme_Extend beyond the Mn and Me categories (Other_Grapheme_Extend).
_OTHER_EXTEND = frozenset(
    [0x09BE, 0x09D7, 0x0B3E, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57,
     0x0DCF, 0x0DDF, 0x1B35, 0x200C, 0x302E, 0x302F, 0xFF9E, 0xFF9F, 0x1133E, 0x11357, 0x114B0,
     0x114BD, 0x115AF, 0x11930, 0x1D165]
    + list(range(0x1D16E, 0x1D173))
    + list(range(0xE0020, 0xE0080))
)


def quote(text):
    """`text` quoted as Rust's `{:?}` writes a string, which the Rust SDK's messages use:
    `"82"`, `"a \\"b\\""`, `"\\u{1b}"`."""
    if _PLAIN.match(text):
        return '"' + text + '"'
    out = ['"']
    for ch in text:
        esc = _DEBUG_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif " " <= ch <= "~":
            out.append(ch)
        elif (
            ch < " "
            or ch == "\x7f"
            or not ch.isprintable()
            or unicodedata.category(ch) in ("Mn", "Me")
            or ord(ch) in _OTHER_EXTEND
        ):
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
