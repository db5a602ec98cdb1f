//! `parse_time` and `time_to_epoch` with Joda-Time patterns, which AWS uses
//! (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`). The pattern is translated here, field by
//! field, rather than mapped onto strftime, so widths behave as in Joda.
//!
//! Time zones: UTC/GMT/Z, fixed offsets (`+05:30`, `-0800`, `UTC+2`) and
//! the IANA names Joda accepts (`America/Belize`), from `chrono-tz`'s
//! compiled-in database (no IO). `z` prints the zone's abbreviation (`CST`),
//! `ZZZ`/`VV` its id; Joda's long names (`zzzz`, "Central Standard Time") are
//! not in that database, so `zzzz` prints the abbreviation too. Parsing reads
//! zone ids and offsets, not abbreviations (which are ambiguous).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetName, Tz};

use crate::datefmt::{self, DateSyntax, DateToken};
use crate::value::{to_int_arg, Kind, Val};

/// The Joda pattern letters these functions render and parse.
const JODA_LETTERS: &str = "GCYxwweEyuDMdaKhHkmsSzZVX";

/// The pattern's tokens (`crate::datefmt`, shared with Firehose prefixes); `None` for a pattern
/// Joda would refuse or with a letter this module does not implement.
fn tokenize(p: &str) -> Option<Vec<DateToken>> {
    datefmt::tokenize(p, DateSyntax::Joda, |c, _| JODA_LETTERS.contains(c)).ok()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A time zone argument or a zone read from a timestamp.
#[derive(Debug, Clone)]
enum Zone {
    /// UTC or a fixed offset, with the name Joda prints for it.
    Fixed(FixedOffset, String),
    /// An IANA zone, whose offset depends on the instant.
    Iana(Tz),
}

fn zone(id: &str) -> Option<Zone> {
    let t = id.trim();
    let upper = t.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "UTC" | "GMT" | "Z" | "ETC/UTC" | "ETC/GMT" | "UT"
    ) {
        return Some(Zone::Fixed(FixedOffset::east_opt(0)?, "UTC".into()));
    }
    if let Ok(tz) = t.parse::<Tz>() {
        return Some(Zone::Iana(tz));
    }
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    let secs = parse_offset(rest)?;
    let off = FixedOffset::east_opt(secs)?;
    Some(Zone::Fixed(off, fmt_offset(secs, true)))
}

/// What formatting needs of a zone at one instant.
struct ZoneAt {
    local: DateTime<FixedOffset>,
    /// `z`: the abbreviation (`CST`), or the fixed zone's name.
    short: String,
    /// `ZZZ`, `VV`: the zone id.
    id: String,
}

fn zone_at(z: &Zone, utc: DateTime<Utc>) -> ZoneAt {
    match z {
        Zone::Fixed(off, name) => ZoneAt {
            local: utc.with_timezone(off),
            short: name.clone(),
            id: name.clone(),
        },
        Zone::Iana(tz) => {
            let here = utc.with_timezone(tz);
            let off = *here.offset();
            let fixed = here.fixed_offset();
            let short = match off.abbreviation() {
                Some(a) if !a.starts_with(['+', '-']) => a.to_string(),
                _ => fmt_offset(fixed.offset().local_minus_utc(), true),
            };
            ZoneAt {
                local: fixed,
                short,
                id: tz.name().to_string(),
            }
        }
    }
}

/// `+hh`, `+hhmm`, `+hh:mm` (and `-`) to seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, body) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() || digits.len() > 4 {
        return None;
    }
    let (h, m) = if digits.len() <= 2 {
        (digits.parse::<i32>().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (
            digits[..split].parse::<i32>().ok()?,
            digits[split..].parse::<i32>().ok()?,
        )
    };
    if h > 18 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn fmt_offset(secs: i32, colon: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60)
    }
}

fn pad(n: i64, width: usize) -> String {
    if n < 0 {
        format!("-{:0width$}", -n, width = width)
    } else {
        format!("{n:0width$}")
    }
}

fn format(toks: &[DateToken], z: &ZoneAt) -> String {
    let dt = &z.local;
    let mut out = String::new();
    let ms = i64::from(dt.timestamp_subsec_millis());
    for t in toks {
        match t {
            DateToken::Literal(s) => out.push_str(s),
            DateToken::Field(c, n) => {
                let n = *n;
                let year = i64::from(dt.year());
                let s = match c {
                    'G' => "AD".to_string(),
                    'C' => pad(year / 100, n),
                    'y' | 'Y' | 'u' => {
                        if n == 2 {
                            pad(year.rem_euclid(100), 2)
                        } else {
                            pad(year, n)
                        }
                    }
                    'x' => {
                        let wy = i64::from(dt.iso_week().year());
                        if n == 2 {
                            pad(wy.rem_euclid(100), 2)
                        } else {
                            pad(wy, n)
                        }
                    }
                    'w' => pad(i64::from(dt.iso_week().week()), n),
                    'e' => pad(i64::from(dt.weekday().number_from_monday()), n),
                    'E' => {
                        let d = DAYS[dt.weekday().num_days_from_monday() as usize];
                        if n >= 4 {
                            d.to_string()
                        } else {
                            d[..3].to_string()
                        }
                    }
                    'D' => pad(i64::from(dt.ordinal()), n),
                    'M' => {
                        let m = dt.month() as usize;
                        match n {
                            1 | 2 => pad(m as i64, n),
                            3 => MONTHS[m - 1][..3].to_string(),
                            _ => MONTHS[m - 1].to_string(),
                        }
                    }
                    'd' => pad(i64::from(dt.day()), n),
                    'a' => (if dt.hour() < 12 { "AM" } else { "PM" }).to_string(),
                    'K' => pad(i64::from(dt.hour() % 12), n),
                    'h' => pad(i64::from((dt.hour() + 11) % 12 + 1), n),
                    'H' => pad(i64::from(dt.hour()), n),
                    'k' => pad(i64::from(if dt.hour() == 0 { 24 } else { dt.hour() }), n),
                    'm' => pad(i64::from(dt.minute()), n),
                    's' => pad(i64::from(dt.second()), n),
                    'S' => {
                        let full = format!("{ms:03}");
                        if n <= 3 {
                            full[..n].to_string()
                        } else {
                            full + &"0".repeat(n - 3)
                        }
                    }
                    'z' => z.short.clone(),
                    'V' => z.id.clone(),
                    'Z' => {
                        let secs = dt.offset().local_minus_utc();
                        match n {
                            1 => fmt_offset(secs, false),
                            2 => fmt_offset(secs, true),
                            _ => z.id.clone(),
                        }
                    }
                    'X' => {
                        let secs = dt.offset().local_minus_utc();
                        match n {
                            _ if secs == 0 => "Z".to_string(),
                            1 if secs % 3600 == 0 => {
                                format!(
                                    "{}{:02}",
                                    if secs < 0 { '-' } else { '+' },
                                    secs.abs() / 3600
                                )
                            }
                            1 | 2 => fmt_offset(secs, false),
                            _ => fmt_offset(secs, true),
                        }
                    }
                    _ => String::new(),
                };
                out.push_str(&s);
            }
        }
    }
    out
}

/// `parse_time(pattern, epoch_ms[, zone])`: formats a timestamp.
pub(crate) fn parse_time<'a>(v: &[Val<'a>]) -> Val<'a> {
    let (Some(p), Some(ts)) = (v.first(), v.get(1)) else {
        return Val::Undefined;
    };
    let Kind::Str(pattern) = p.kind() else {
        return Val::Undefined;
    };
    let Some(ms) = to_int_arg(ts.kind()) else {
        return Val::Undefined;
    };
    let z = match v.get(2).map(Val::kind) {
        None => match zone("UTC") {
            Some(z) => z,
            None => return Val::Undefined,
        },
        Some(Kind::Str(z)) => match zone(z) {
            Some(z) => z,
            None => return Val::Undefined,
        },
        Some(_) => return Val::Undefined,
    };
    let Some(toks) = tokenize(pattern) else {
        return Val::Undefined;
    };
    let Some(utc) = DateTime::from_timestamp_millis(ms) else {
        return Val::Undefined;
    };
    Val::str(format(&toks, &zone_at(&z, utc)))
}

/// `time_to_epoch(timestamp, pattern)`: parses a timestamp (UTC unless the
/// pattern reads a zone) into milliseconds since the epoch.
pub(crate) fn time_to_epoch<'a>(v: &[Val<'a>]) -> Val<'a> {
    let (Some(Kind::Str(text)), Some(Kind::Str(pattern))) =
        (v.first().map(Val::kind), v.get(1).map(Val::kind))
    else {
        return Val::Undefined;
    };
    match tokenize(pattern).and_then(|t| parse(&t, text)) {
        Some(ms) => Val::int(ms),
        None => Val::Undefined,
    }
}

fn is_numeric_field(t: Option<&DateToken>) -> bool {
    matches!(t, Some(DateToken::Field(c, n)) if "CYxwweyuDdKhHkmsS".contains(*c) || (*c == 'M' && *n <= 2))
}

fn parse(toks: &[DateToken], text: &str) -> Option<i64> {
    let mut rest = text;
    let (mut year, mut month, mut day, mut doy) = (1970i64, 1u32, 1u32, None::<u32>);
    let (mut hour, mut minute, mut second, mut millis) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut tz: Option<Zone> = None;
    for (i, t) in toks.iter().enumerate() {
        match t {
            DateToken::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
            DateToken::Field(c, n) => {
                let fixed = is_numeric_field(toks.get(i + 1));
                match c {
                    'M' if *n >= 3 => {
                        let (m, r) = match_name(rest, &MONTHS)?;
                        month = m as u32 + 1;
                        rest = r;
                    }
                    'E' => rest = match_name(rest, &DAYS)?.1,
                    'a' => {
                        let up = rest.get(..2)?.to_ascii_uppercase();
                        pm = Some(match up.as_str() {
                            "AM" => false,
                            "PM" => true,
                            _ => return None,
                        });
                        rest = &rest[2..];
                    }
                    'G' => {
                        rest = rest
                            .strip_prefix("AD")
                            .or_else(|| rest.strip_prefix("CE"))?
                    }
                    'z' | 'Z' | 'V' | 'X' => {
                        let end = rest
                            .find(|ch: char| !(ch.is_ascii_alphanumeric() || "+-:/_".contains(ch)))
                            .unwrap_or(rest.len());
                        let word = &rest[..end];
                        tz = Some(zone(word)?);
                        rest = &rest[end..];
                    }
                    'S' => {
                        let (digits, r) = take_digits(rest, if fixed { *n } else { 9 }, false)?;
                        let d = digits.trim_start_matches('-');
                        let mut ms3: String = d.chars().take(3).collect();
                        while ms3.len() < 3 {
                            ms3.push('0');
                        }
                        millis = ms3.parse().ok()?;
                        rest = r;
                    }
                    _ => {
                        let signed = matches!(c, 'y' | 'Y' | 'u' | 'x');
                        let (digits, r) = take_digits(rest, if fixed { *n } else { 10 }, signed)?;
                        let val: i64 = digits.parse().ok()?;
                        rest = r;
                        let small = u32::try_from(val).ok();
                        match c {
                            'y' | 'Y' | 'u' => {
                                year = if *n == 2 && digits.len() == 2 {
                                    2000 + val
                                } else {
                                    val
                                }
                            }
                            'M' => month = small?,
                            'd' => day = small?,
                            'D' => doy = Some(small?),
                            'H' | 'k' => hour = small? % 24,
                            'K' | 'h' => hour = small? % 12,
                            'm' => minute = small?,
                            's' => second = small?,
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    if pm == Some(true) && hour < 12 {
        hour += 12;
    }
    let year = i32::try_from(year).ok()?;
    let date = match doy {
        Some(d) => NaiveDate::from_yo_opt(year, d)?,
        None => NaiveDate::from_ymd_opt(year, month, day)?,
    };
    let local = date.and_hms_milli_opt(hour, minute, second, millis)?;
    match tz {
        None => Some(local.and_utc().timestamp_millis()),
        Some(Zone::Fixed(off, _)) => {
            Some(local.and_utc().timestamp_millis() - i64::from(off.local_minus_utc()) * 1000)
        }
        // A local time in a gap (spring forward) does not exist; one in an
        // overlap takes the earlier instant, as java.time does.
        Some(Zone::Iana(z)) => Some(z.from_local_datetime(&local).earliest()?.timestamp_millis()),
    }
}

fn take_digits(s: &str, max: usize, signed: bool) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    if signed && b.first() == Some(&b'-') {
        i = 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() && i - start < max {
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((&s[..i], &s[i..]))
}

fn match_name<'t>(s: &'t str, names: &[&str]) -> Option<(usize, &'t str)> {
    for (i, name) in names.iter().enumerate() {
        for cand in [*name, &name[..3]] {
            if let Some(head) = s.get(..cand.len()) {
                if head.eq_ignore_ascii_case(cand) {
                    return Some((i, &s[cand.len()..]));
                }
            }
        }
    }
    None
}

/// Whether a pattern is valid Joda syntax (used to reject literal patterns
/// at compile time).
pub(crate) fn pattern_is_valid(p: &str) -> bool {
    tokenize(p).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(p: &str, ms: i64, z: &str) -> String {
        let z = zone(z).expect("zone");
        let utc = DateTime::from_timestamp_millis(ms).expect("instant");
        format(&tokenize(p).expect("pattern"), &zone_at(&z, utc))
    }

    #[test]
    fn joda_format() {
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss z", 1520012345678, "UTC"),
            "2018-03-02 17:39:05 UTC"
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ", 1520012345678, "+05:30"),
            "2018-03-02T23:09:05.678+0530"
        );
        assert_eq!(
            fmt("EEE, d MMM yy hh:mm a", 0, "UTC"),
            "Thu, 1 Jan 70 12:00 AM"
        );
        assert_eq!(
            fmt(
                "yyyy.MM.dd G 'at' HH:mm:ss z",
                100_000_000,
                "America/Belize"
            ),
            "1970.01.01 AD at 21:46:40 CST"
        );
        assert_eq!(
            fmt(
                "EEEE, MMMM d, yyyy h:mm a ZZ ZZZ",
                1_700_000_000_000,
                "Europe/Paris"
            ),
            "Tuesday, November 14, 2023 11:13 PM +01:00 Europe/Paris"
        );
    }

    #[test]
    fn joda_parse() {
        let t = tokenize("yyyy-MM-dd HH:mm:ss.SSS Z").unwrap();
        assert_eq!(
            parse(&t, "2020-3-3 19:59:50.000 +0000"),
            Some(1583265590000)
        );
        let t = tokenize("yyyyMMddHHmmss").unwrap();
        assert_eq!(parse(&t, "19700101000001"), Some(1000));
    }
}
