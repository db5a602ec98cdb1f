"""syslog-to-json (Python): syslog lines to JSON, like Firehose's syslog blueprint.

The port of plugins/syslog-to-json (Rust) and its parser (plugins/lib/log-formats, syslog.rs),
field for field and message for message. Understands both formats in use:

- RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, the `<PRI>` being optional as in
  files written by syslog daemons. Output: `facility` and `severity` (only with `<PRI>`),
  `timestamp`, `hostname`, `program`, `processId` (null when absent), `message`.
- RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`. Output: `facility`, `severity`,
  `version`, `timestamp`, `hostname`, `appName`, `processId`, `messageId`, `structuredData`
  (raw text), `message`; the nil value `-` becomes null.

A payload with several lines becomes several records; a malformed line fails its record with
the line named. Try it on the sample input (one record per line, so `--raw`):

    weir plugin build plugins/python/syslog-to-json
    weir plugin test target/plugins/syslog-to-json-python.wasm --raw \\
        --input plugins/syslog-to-json/examples/records.log
"""

import re

import weir_sdk
from weir_sdk import WHITESPACE, json, quote
from weir_sdk.json import BadLine

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SyslogToJson(weir_sdk.Transformer):
    """Stateless."""

    def transform(self, record, host):
        return json.lines_to_json(record, parse_line)


def parse_line(line):
    """One syslog line in either format, as a dict in output field order; BadLine says why a
    line is not syslog."""
    pri, rest = _split_pri(line)
    out = {}
    if pri is not None:
        out["facility"] = pri // 8
        out["severity"] = pri % 8
    if pri is not None and rest.startswith("1 "):
        _parse_5424(rest[2:], out)
    else:
        _parse_3164(rest, out)
    return out


_PRI = re.compile(r"[0-9]{1,3}\Z")


def _split_pri(line):
    """`<PRI>` is 1 to 3 digits, at most 191 (facility 23, severity 7)."""
    if not line.startswith("<"):
        return None, line
    rest = line[1:]
    end = rest.find(">")
    if end < 0:
        raise BadLine("`<PRI>` has no closing `>`")
    digits = rest[:end]
    if not _PRI.match(digits) or int(digits) > 191:
        raise BadLine("priority %s is not a number from 0 to 191" % quote(digits))
    return int(digits), rest[end + 1:]


def _boundary(data, index):
    """Whether byte `index` starts a character (or is the end): where the Rust parser slices
    the line, a month or a day cut inside a multi-byte character is a malformed line."""
    return index >= len(data) or (data[index] & 0xC0) != 0x80


def _parse_3164(rest, out):
    data = rest.encode("utf-8")
    # "Mmm dd hh:mm:ss" is 15 bytes, the day padded with a space.
    if len(data) < 15 or (len(data) > 15 and (data[15] & 0xC0) == 0x80):
        raise BadLine("line is too short for an RFC 3164 timestamp")
    stamp_bytes = data[:15]
    stamp = stamp_bytes.decode("utf-8")
    ok = (
        _boundary(stamp_bytes, 3)
        and stamp_bytes[:3].decode("utf-8") in MONTHS
        and stamp_bytes[3] == 0x20
    )
    if ok and _boundary(stamp_bytes, 6):
        day = stamp_bytes[4:6].decode("utf-8")
        ok = (
            all("0" <= c <= "9" for c in day.lstrip(WHITESPACE))
            and day.strip(WHITESPACE) != ""
            and stamp_bytes[6] == 0x20
            and _is_clock(stamp_bytes[7:15])
        )
    else:
        ok = False
    if not ok:
        raise BadLine("timestamp %s is not `Mmm dd hh:mm:ss`" % quote(stamp))
    rest = data[15:].decode("utf-8")
    if not rest.startswith(" "):
        raise BadLine("no hostname after the timestamp")
    host, sep, rest = rest[1:].partition(" ")
    if not sep:
        raise BadLine("no tag after the hostname")
    if not host:
        raise BadLine("hostname is empty")
    tag, sep, message = rest.partition(":")
    if not sep or " " in tag or not tag:
        raise BadLine("no `TAG:` before the message")
    message = message.lstrip(WHITESPACE)
    program, sep, pid = tag.partition("[")
    if sep:
        if not pid.endswith("]"):
            raise BadLine("process id has no closing `]`")
        pid = pid[:-1]
    else:
        pid = None
    out["timestamp"] = stamp
    out["hostname"] = host
    out["program"] = program
    out["processId"] = pid
    out["message"] = message


def _is_clock(b):
    return (
        len(b) == 8
        and b[2] == 0x3A
        and b[5] == 0x3A
        and all(0x30 <= b[i] <= 0x39 for i in (0, 1, 3, 4, 6, 7))
    )


def _parse_5424(rest, out):
    fields = iter(rest.split(" ", 5))

    def next_field(what):
        value = next(fields, None)
        if value is None or value == "":
            raise BadLine("%s is missing" % what)
        return None if value == "-" else value

    timestamp = next_field("timestamp")
    hostname = next_field("hostname")
    app = next_field("app-name")
    procid = next_field("procid")
    msgid = next_field("msgid")
    tail = next(fields, None)
    if tail is None:
        raise BadLine("structured data is missing")
    sd, msg = _split_structured_data(tail)
    out["version"] = 1
    out["timestamp"] = timestamp
    out["hostname"] = hostname
    out["appName"] = app
    out["processId"] = procid
    out["messageId"] = msgid
    out["structuredData"] = sd
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    out["message"] = msg if msg else None


def _strip_space(text):
    return text[1:] if text.startswith(" ") else text


_IN_QUOTES = re.compile(rb'[\\"]')  # what matters inside a quoted value
_IN_ELEMENT = re.compile(rb'["\]]')  # what matters inside an element, outside quotes


def _split_structured_data(tail):
    """Splits `-` or a run of `[...]` elements (quoted values may hold `\\]` and `\\"`) from
    the message that follows. Works on the UTF-8 bytes, as the Rust parser does."""
    if tail.startswith("-"):
        return None, _strip_space(tail[1:])
    if not tail.startswith("["):
        raise BadLine("structured data must be `-` or start with `[`")
    data = tail.encode("utf-8")
    i, in_quotes = 0, False
    while True:
        # Between elements: only `[` may come.
        if i >= len(data):
            break
        if data[i] != 0x5B:
            raise BadLine("text between structured data elements")
        i += 1
        while True:  # inside an element
            m = (_IN_QUOTES if in_quotes else _IN_ELEMENT).search(data, i)
            if m is None:
                raise BadLine("structured data element has no closing `]`")
            i = m.start()
            c = data[i]
            if c == 0x5C:  # a backslash in quotes escapes the next byte
                i += 2
            elif c == 0x22:
                in_quotes = not in_quotes
                i += 1
            else:  # `]` outside quotes ends the element
                i += 1
                if i >= len(data) or data[i] != 0x5B:
                    return data[:i].decode("utf-8"), _strip_space(data[i:].decode("utf-8"))
                break
    raise BadLine("structured data element has no closing `]`")


weir_sdk.export_transformer(SyslogToJson)
