"""The Rust plugin's unit tests (and its parser's), ported."""

import pytest

from weir_sdk import Failed, Record, RecordError, Records, json
from weir_sdk.json import BadLine
from weir_sdk.testing import Harness, MockHost

from plugin import SyslogToJson, parse_line


def test_rfc3164_with_and_without_pri():
    v = parse_line("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick")
    assert json.dumps(v) == json.dumps({
        "facility": 4, "severity": 2, "timestamp": "Oct 11 22:14:15", "hostname": "mymachine",
        "program": "su", "processId": None, "message": "'su root' failed for lonvick",
    })
    v = parse_line("Feb  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey")
    assert v["processId"] == "4721"
    assert v["program"] == "sshd"
    assert "facility" not in v


def test_rfc5424_with_structured_data_and_nil_values():
    v = parse_line(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
        '[exampleSDID@32473 iut="3" eventSource="App\\]x"][b@1 c="d"] An application event'
    )
    assert v["facility"] == 20
    assert v["severity"] == 5
    assert v["appName"] == "evntslog"
    assert v["processId"] is None
    assert v["messageId"] == "ID47"
    assert v["structuredData"] == '[exampleSDID@32473 iut="3" eventSource="App\\]x"][b@1 c="d"]'
    assert v["message"] == "An application event"
    v = parse_line("<13>1 2024-01-01T00:00:00Z h a 1 - -")
    assert v["structuredData"] is None
    assert v["message"] is None


@pytest.mark.parametrize("line,why", [
    ("<999>Oct 11 22:14:15 h p: m", "0 to 191"),
    ("<12 Oct", "no closing"),
    ("Octo 11 22:14:15 h p: m", "Mmm dd"),
    ("Oct 11 22:14:15 h no tag here", "TAG:"),
    ("Oct 11 22:14:15 h p[12: m", "closing `]`"),
    ("<1>1 2024-01-01T00:00:00Z h a 1 m [x", "no closing `]`"),
    ("<1>1 2024-01-01T00:00:00Z h", "app-name is missing"),
    ("short", "too short"),
])
def test_malformed_lines_say_what_is_wrong(line, why):
    with pytest.raises(BadLine) as e:
        parse_line(line)
    assert why in str(e.value)


def test_batch_of_lines():
    h = Harness(SyslogToJson, MockHost())
    (out,) = h.transform([Record("Oct 11 22:14:15 a p: one\nOct 11 22:14:16 b p: two\n")])
    assert isinstance(out, Records)
    assert len(out.records) == 2
    assert out.records[1].json()["message"] == "two"


def test_a_bad_line_fails_its_record_with_the_line_named():
    h = Harness(SyslogToJson, MockHost())
    (out,) = h.transform([Record("<999>not a valid priority")])
    assert out == Failed(RecordError(
        "bad-line",
        'line 1: priority "999" is not a number from 0 to 191: "<999>not a valid priority"',
    ))


def test_a_multibyte_character_where_a_month_or_day_belongs_is_a_bad_line():
    # Where the Rust parser slices by byte (it once panicked there); both now call the line
    # malformed.
    with pytest.raises(BadLine):
        parse_line("Océ 11 22:14:15 h p: m")
    with pytest.raises(BadLine):
        parse_line("Oct € 22:14:15 h p: m")
    # Beyond the 15th byte, a multibyte character is just "too short" (as in Rust).
    with pytest.raises(BadLine):
        parse_line("Oct 11 22:14:1é h p: m")