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

/// Renders the zoned time by the pattern's tokens (`parse_time`).
fn format(toks: &[DateToken], z: &ZoneAt) -> String {
    let mut out = String::new();
    for t in toks {
        match t {
            DateToken::Literal(s) => out.push_str(s),
            DateToken::Field(c, n) => out.push_str(&render_field(*c, *n, z)),
        }
    }
    out
}

/// One pattern field (`n` letters `c`) of the zoned time, as Joda prints it: numbers padded
/// to the field's width, names in English, the zone by `render_zone`.
fn render_field(c: char, n: usize, z: &ZoneAt) -> String {
    let dt = &z.local;
    let year = i64::from(dt.year());
    match c {
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
            let full = format!("{:03}", dt.timestamp_subsec_millis());
            if n <= 3 {
                full[..n].to_string()
            } else {
                full + &"0".repeat(n - 3)
            }
        }
        'z' | 'V' | 'Z' | 'X' => render_zone(c, n, z),
        _ => String::new(),
    }
}

/// The zone fields: `z` the abbreviation, `V` the id; `Z` an offset (`-0800`, `-08:00`) or,
/// from `ZZZ`, the id; `X` ISO 8601's offset, `Z` for UTC.
fn render_zone(c: char, n: usize, z: &ZoneAt) -> String {
    let secs = z.local.offset().local_minus_utc();
    match c {
        'z' => z.short.clone(),
        'V' => z.id.clone(),
        'Z' => match n {
            1 => fmt_offset(secs, false),
            2 => fmt_offset(secs, true),
            _ => z.id.clone(),
        },
        _ => match n {
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
        },
    }
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

/// Parses `text` by the pattern's tokens into milliseconds since the epoch; `None` when the
/// text does not follow the pattern to its end or names no valid instant.
fn parse(toks: &[DateToken], text: &str) -> Option<i64> {
    let mut rest = text;
    let mut fields = Parsed::default();
    for (i, t) in toks.iter().enumerate() {
        rest = match t {
            DateToken::Literal(l) => rest.strip_prefix(l.as_str())?,
            DateToken::Field(c, n) => {
                fields.read_field(*c, *n, is_numeric_field(toks.get(i + 1)), rest)?
            }
        };
    }
    if !rest.is_empty() {
        return None;
    }
    fields.epoch_ms()
}

/// The fields a timestamp gave so far. One the pattern does not read keeps the Unix epoch's
/// value (1970-01-01 00:00:00.000 UTC), as in Joda.
#[derive(Debug)]
struct Parsed {
    year: i64,
    month: u32,
    day: u32,
    /// Day of the year (`D`), which wins over month and day.
    doy: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
    /// `a`: whether the hour is after noon.
    pm: Option<bool>,
    /// The zone the text names; UTC when it names none.
    tz: Option<Zone>,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            year: 1970,
            month: 1,
            day: 1,
            doy: None,
            hour: 0,
            minute: 0,
            second: 0,
            millis: 0,
            pm: None,
            tz: None,
        }
    }
}

impl Parsed {
    /// Reads field `c` (`n` letters in the pattern) at the start of `rest` and returns what
    /// follows it. `fixed`: another number follows at once (`yyyyMMdd`), so this one is read
    /// at its pattern width, not greedily, as Joda's adjacent-value parsing does.
    fn read_field<'t>(&mut self, c: char, n: usize, fixed: bool, rest: &'t str) -> Option<&'t str> {
        match c {
            'M' if n >= 3 => {
                let (m, r) = match_name(rest, &MONTHS)?;
                self.month = m as u32 + 1;
                Some(r)
            }
            'E' => Some(match_name(rest, &DAYS)?.1),
            'a' => {
                let up = rest.get(..2)?.to_ascii_uppercase();
                self.pm = Some(match up.as_str() {
                    "AM" => false,
                    "PM" => true,
                    _ => return None,
                });
                Some(&rest[2..])
            }
            'G' => rest.strip_prefix("AD").or_else(|| rest.strip_prefix("CE")),
            'z' | 'Z' | 'V' | 'X' => {
                let end = rest
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "+-:/_".contains(ch)))
                    .unwrap_or(rest.len());
                self.tz = Some(zone(&rest[..end])?);
                Some(&rest[end..])
            }
            'S' => {
                let (digits, r) = take_digits(rest, if fixed { n } else { 9 }, false)?;
                // Milliseconds are the first three digits of the fraction, however many
                // the text has (`.5` is 500 ms, `.123456` is 123 ms).
                let d = digits.trim_start_matches('-');
                let mut ms3: String = d.chars().take(3).collect();
                while ms3.len() < 3 {
                    ms3.push('0');
                }
                self.millis = ms3.parse().ok()?;
                Some(r)
            }
            _ => self.read_number(c, n, fixed, rest),
        }
    }

    /// Reads a numeric field (years may be negative); a two-letter year read as two digits
    /// is in 2000-2099, as Joda's `yy`.
    fn read_number<'t>(
        &mut self,
        c: char,
        n: usize,
        fixed: bool,
        rest: &'t str,
    ) -> Option<&'t str> {
        let signed = matches!(c, 'y' | 'Y' | 'u' | 'x');
        let (digits, r) = take_digits(rest, if fixed { n } else { 10 }, signed)?;
        let val: i64 = digits.parse().ok()?;
        let small = u32::try_from(val).ok();
        match c {
            'y' | 'Y' | 'u' => {
                self.year = if n == 2 && digits.len() == 2 {
                    2000 + val
                } else {
                    val
                }
            }
            'M' => self.month = small?,
            'd' => self.day = small?,
            'D' => self.doy = Some(small?),
            'H' | 'k' => self.hour = small? % 24,
            'K' | 'h' => self.hour = small? % 12,
            'm' => self.minute = small?,
            's' => self.second = small?,
            _ => {}
        }
        Some(r)
    }

    /// The instant the fields name, in milliseconds since the epoch; `None` for a date or
    /// time that does not exist.
    fn epoch_ms(self) -> Option<i64> {
        let mut hour = self.hour;
        if self.pm == Some(true) && hour < 12 {
            hour += 12;
        }
        let year = i32::try_from(self.year).ok()?;
        let date = match self.doy {
            Some(d) => NaiveDate::from_yo_opt(year, d)?,
            None => NaiveDate::from_ymd_opt(year, self.month, self.day)?,
        };
        let local = date.and_hms_milli_opt(hour, self.minute, self.second, self.millis)?;
        match self.tz {
            None => Some(local.and_utc().timestamp_millis()),
            Some(Zone::Fixed(off, _)) => {
                Some(local.and_utc().timestamp_millis() - i64::from(off.local_minus_utc()) * 1000)
            }
            // A local time in a gap (spring forward) does not exist; one in an
            // overlap takes the earlier instant, as java.time does.
            Some(Zone::Iana(z)) => {
                Some(z.from_local_datetime(&local).earliest()?.timestamp_millis())
            }
        }
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
