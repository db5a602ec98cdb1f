//! Syslog lines in both formats in use:
//! - RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, the `<PRI>` being optional as in
//!   files written by syslog daemons. Fields, in this order: `facility` and `severity` (only when
//!   `<PRI>` is present), `timestamp`, `hostname`, `program`, `processId` (null when absent),
//!   `message`.
//! - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`. Fields, in this order:
//!   `facility`, `severity`, `version`, `timestamp`, `hostname`, `appName`, `processId`,
//!   `messageId`, `structuredData` (raw text), `message`; the nil value `-` becomes null.

use weir_sdk::serde_json::{json, Map, Value};

use crate::csv::Column;

/// The ten CSV columns of `syslog-to-csv`, RFC 5424's fields in order. An RFC 3164 line fills
/// `facility` and `severity` only when it has a `<PRI>`, leaves `version`, `messageId` and
/// `structuredData` empty, and puts its `program` in the `appName` column, the field RFC 5424
/// defines for the same thing.
pub const CSV_COLUMNS: &[Column] = &[
    &["facility"],
    &["severity"],
    &["version"],
    &["timestamp"],
    &["hostname"],
    &["appName", "program"],
    &["processId"],
    &["messageId"],
    &["structuredData"],
    &["message"],
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses one syslog line in either format.
pub fn parse_line(line: &str) -> Result<Value, String> {
    let (pri, rest) = split_pri(line)?;
    let mut out = Map::new();
    if let Some(pri) = pri {
        out.insert("facility".into(), json!(pri / 8));
        out.insert("severity".into(), json!(pri % 8));
    }
    match rest.strip_prefix("1 ") {
        Some(rest5424) if pri.is_some() => parse_5424(rest5424, &mut out)?,
        _ => parse_3164(rest, &mut out)?,
    }
    Ok(Value::Object(out))
}

/// `<PRI>` is 1 to 3 digits, at most 191 (facility 23, severity 7).
fn split_pri(line: &str) -> Result<(Option<u32>, &str), String> {
    let Some(rest) = line.strip_prefix('<') else {
        return Ok((None, line));
    };
    let end = rest.find('>').ok_or("`<PRI>` has no closing `>`")?;
    let digits = &rest[..end];
    let pri = if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u32>().ok().filter(|p| *p <= 191)
    } else {
        None
    }
    .ok_or_else(|| format!("priority {digits:?} is not a number from 0 to 191"))?;
    Ok((Some(pri), &rest[end + 1..]))
}

fn parse_3164(rest: &str, out: &mut Map<String, Value>) -> Result<(), String> {
    // "Mmm dd hh:mm:ss" is 15 characters, the day padded with a space.
    let stamp = rest
        .get(..15)
        .ok_or("line is too short for an RFC 3164 timestamp")?;
    // Sliced with `get`: a multi-byte character where a month or a day belongs makes the
    // line malformed, never a panic (which would fail its whole batch).
    let ok = stamp.get(..3).is_some_and(|m| MONTHS.contains(&m))
        && stamp.as_bytes()[3] == b' '
        && stamp.get(4..6).is_some_and(|day| {
            day.trim_start().bytes().all(|b| b.is_ascii_digit()) && !day.trim().is_empty()
        })
        && stamp.as_bytes()[6] == b' '
        && stamp.get(7..15).is_some_and(is_clock);
    if !ok {
        return Err(format!("timestamp {stamp:?} is not `Mmm dd hh:mm:ss`"));
    }
    let rest = rest[15..]
        .strip_prefix(' ')
        .ok_or("no hostname after the timestamp")?;
    let (host, rest) = rest.split_once(' ').ok_or("no tag after the hostname")?;
    if host.is_empty() {
        return Err("hostname is empty".into());
    }
    let (tag, message) = match rest.split_once(':') {
        Some((tag, msg)) if !tag.contains(' ') && !tag.is_empty() => (tag, msg.trim_start()),
        _ => return Err("no `TAG:` before the message".into()),
    };
    let (program, pid) = match tag.split_once('[') {
        Some((prog, pid)) => {
            let pid = pid
                .strip_suffix(']')
                .ok_or("process id has no closing `]`")?;
            (prog, Some(pid))
        }
        None => (tag, None),
    };
    out.insert("timestamp".into(), json!(stamp));
    out.insert("hostname".into(), json!(host));
    out.insert("program".into(), json!(program));
    out.insert("processId".into(), json!(pid));
    out.insert("message".into(), json!(message));
    Ok(())
}

fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

fn parse_5424(rest: &str, out: &mut Map<String, Value>) -> Result<(), String> {
    let mut fields = rest.splitn(6, ' ');
    let mut next = |what: &str| -> Result<Value, String> {
        match fields.next() {
            None | Some("") => Err(format!("{what} is missing")),
            Some("-") => Ok(Value::Null),
            Some(v) => Ok(json!(v)),
        }
    };
    let timestamp = next("timestamp")?;
    let hostname = next("hostname")?;
    let app = next("app-name")?;
    let procid = next("procid")?;
    let msgid = next("msgid")?;
    let tail = fields.next().ok_or("structured data is missing")?;
    let (sd, msg) = split_structured_data(tail)?;
    out.insert("version".into(), json!(1));
    out.insert("timestamp".into(), timestamp);
    out.insert("hostname".into(), hostname);
    out.insert("appName".into(), app);
    out.insert("processId".into(), procid);
    out.insert("messageId".into(), msgid);
    out.insert(
        "structuredData".into(),
        sd.map_or(Value::Null, |s| json!(s)),
    );
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    out.insert(
        "message".into(),
        if msg.is_empty() {
            Value::Null
        } else {
            json!(msg)
        },
    );
    Ok(())
}

/// Splits `-` or a run of `[...]` elements (quoted values may hold `\]` and `\"`) from the
/// message that follows.
fn split_structured_data(tail: &str) -> Result<(Option<&str>, &str), String> {
    if let Some(msg) = tail.strip_prefix('-') {
        return Ok((None, msg.strip_prefix(' ').unwrap_or(msg)));
    }
    if !tail.starts_with('[') {
        return Err("structured data must be `-` or start with `[`".into());
    }
    let bytes = tail.as_bytes();
    let (mut i, mut in_elem, mut in_quotes) = (0, false, false);
    while i < bytes.len() {
        match (bytes[i], in_elem, in_quotes) {
            (b'[', false, _) => in_elem = true,
            (b'\\', true, true) => i += 1,
            (b'"', true, q) => in_quotes = !q,
            (b']', true, false) => {
                in_elem = false;
                if bytes.get(i + 1) != Some(&b'[') {
                    let msg = &tail[i + 1..];
                    return Ok((Some(&tail[..=i]), msg.strip_prefix(' ').unwrap_or(msg)));
                }
            }
            (_, false, _) => return Err("text between structured data elements".into()),
            _ => {}
        }
        i += 1;
    }
    Err("structured data element has no closing `]`".into())
}
