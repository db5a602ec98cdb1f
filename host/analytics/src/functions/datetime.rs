//! Date and time functions: EXTRACT, FLOOR/CEIL(... TO unit), STEP, TSDIFF,
//! UNIX_TIMESTAMP, TO_TIMESTAMP, and the datetime conversion functions (CHAR_TO_DATE,
//! CHAR_TO_TIME, CHAR_TO_TIMESTAMP, DATE_TO_CHAR, TIME_TO_CHAR, TIMESTAMP_TO_CHAR) with
//! Java `SimpleDateFormat` patterns, as the SQL Reference's "Date and Time Patterns" page
//! defines them. Every time is UTC, as in KDA.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::error::SqlError;
use crate::value::Value;

use super::ops::{add_months, int_of_rank, MS_PER_DAY};
use super::{int_arg, str_arg};

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    match name {
        "STEP" => step(&args[0], &args[1]),
        "TSDIFF" => match (&args[0], &args[1]) {
            (Value::Timestamp(a), Value::Timestamp(b)) => a
                .checked_sub(*b)
                .map(Value::BigInt)
                .ok_or_else(|| SqlError::overflow("TSDIFF")),
            (a, b) => Err(SqlError::type_mismatch(format!(
                "TSDIFF takes two TIMESTAMPs, got {} and {}",
                a.kind(),
                b.kind()
            ))),
        },
        // UNIX_TIMESTAMP and TO_TIMESTAMP count milliseconds since the epoch (the unit of
        // ROWTIME and of SQLstream's TIMESTAMP), so TO_TIMESTAMP(UNIX_TIMESTAMP(t)) = t.
        "UNIX_TIMESTAMP" => Ok(Value::BigInt(timestamp_ms(name, &args[0])?)),
        "TO_TIMESTAMP" => Ok(Value::Timestamp(int_arg(name, &args[0])?)),
        "CHAR_TO_TIMESTAMP" | "CHAR_TO_DATE" | "CHAR_TO_TIME" => {
            let fmt = str_arg(name, &args[0])?;
            let text = str_arg(name, &args[1])?;
            let dt = parse_with_pattern(fmt, text).ok_or_else(|| {
                SqlError::new(
                    "DateParseError",
                    format!("{name}: {text:?} does not match the pattern {fmt:?}"),
                )
            })?;
            Ok(match name {
                "CHAR_TO_TIMESTAMP" => Value::Timestamp(dt.and_utc().timestamp_millis()),
                "CHAR_TO_DATE" => Value::Date(days_of(dt.date())),
                _ => Value::Time(ms_of_time(dt.time())),
            })
        }
        _ => {
            // DATE_TO_CHAR, TIME_TO_CHAR, TIMESTAMP_TO_CHAR(format, value)
            let fmt = str_arg(name, &args[0])?;
            let dt = match (name, &args[1]) {
                ("TIMESTAMP_TO_CHAR", Value::Timestamp(ms)) => naive(*ms)?,
                ("DATE_TO_CHAR", Value::Date(d)) => naive(i64::from(*d) * MS_PER_DAY)?,
                ("TIME_TO_CHAR", Value::Time(t)) => naive(i64::from(*t))?,
                (_, other) => {
                    return Err(SqlError::type_mismatch(format!(
                        "{name} cannot format {}",
                        other.kind()
                    )))
                }
            };
            Ok(Value::Varchar(format_with_pattern(fmt, &dt)))
        }
    }
}

fn timestamp_ms(func: &str, v: &Value) -> Result<i64, SqlError> {
    match v {
        Value::Timestamp(ms) => Ok(*ms),
        Value::Date(d) => Ok(i64::from(*d) * MS_PER_DAY),
        other => Err(SqlError::type_mismatch(format!(
            "{func} expects a TIMESTAMP, got {}",
            other.kind()
        ))),
    }
}

pub(crate) fn naive(ms: i64) -> Result<NaiveDateTime, SqlError> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| SqlError::overflow("timestamp out of range"))
}

fn days_of(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

fn ms_of_time(t: NaiveTime) -> u32 {
    t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000
}

/// `EXTRACT(unit FROM v)` for a DATE, TIME, TIMESTAMP or interval, as a BIGINT, except
/// SECOND: a DECIMAL with the milliseconds as its fraction (the EXTRACT page: "DECIMAL(5,3)"
/// for SECOND, `EXTRACT(SECOND FROM INTERVAL '2 3:4:5.678' DAY TO SECOND)` is 5.678; stored in
/// an INTEGER column it rounds, as CAST does). Units: YEAR, QUARTER, MONTH, WEEK (ISO), DAY,
/// DOY, DOW (1 = Sunday), HOUR, MINUTE, SECOND, MILLISECOND, EPOCH (seconds).
pub fn extract(unit: &str, v: &Value) -> Result<Value, SqlError> {
    let unit = unit.to_ascii_uppercase();
    let bad = || SqlError::type_mismatch(format!("cannot EXTRACT {unit} from {}", v.kind()));
    let r: i64 = match v {
        Value::Null => return Ok(Value::Null),
        Value::IntervalDayTime(ms) => {
            let sign = ms.signum();
            let a = ms.unsigned_abs() as i64;
            sign * match unit.as_str() {
                "DAY" => a / MS_PER_DAY,
                "HOUR" => a / 3_600_000 % 24,
                "MINUTE" => a / 60_000 % 60,
                "SECOND" => return Ok(seconds(sign * (a % 60_000))),
                "MILLISECOND" => a % 1000,
                "EPOCH" => a / 1000,
                _ => return Err(bad()),
            }
        }
        Value::IntervalYearMonth(m) => {
            let m = i64::from(*m);
            match unit.as_str() {
                "YEAR" => m / 12,
                "MONTH" => m % 12,
                _ => return Err(bad()),
            }
        }
        Value::Time(t) => {
            let t = i64::from(*t);
            match unit.as_str() {
                "HOUR" => t / 3_600_000,
                "MINUTE" => t / 60_000 % 60,
                "SECOND" => return Ok(seconds(t % 60_000)),
                "MILLISECOND" => t % 1000,
                _ => return Err(bad()),
            }
        }
        Value::Date(_) | Value::Timestamp(_) => {
            let ms = timestamp_ms("EXTRACT", v)?;
            let dt = naive(ms)?;
            match unit.as_str() {
                "YEAR" => i64::from(dt.year()),
                "QUARTER" => i64::from((dt.month() - 1) / 3 + 1),
                "MONTH" => i64::from(dt.month()),
                "WEEK" => i64::from(dt.iso_week().week()),
                "DAY" => i64::from(dt.day()),
                "DOY" => i64::from(dt.ordinal()),
                "DOW" => i64::from(dt.weekday().num_days_from_sunday() + 1),
                "HOUR" => i64::from(dt.hour()),
                "MINUTE" => i64::from(dt.minute()),
                "SECOND" => {
                    return Ok(seconds(
                        i64::from(dt.second()) * 1000 + i64::from(dt.nanosecond() / 1_000_000),
                    ))
                }
                "MILLISECOND" => i64::from(dt.nanosecond() / 1_000_000),
                "EPOCH" => ms.div_euclid(1000),
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    Ok(Value::BigInt(r))
}

/// Seconds with their milliseconds as a DECIMAL(5,3) value.
fn seconds(ms: i64) -> Value {
    Value::Decimal(rust_decimal::Decimal::new(ms, 3))
}

/// The start of the `unit` containing `ms` (YEAR, QUARTER, MONTH, WEEK from Sunday, DAY,
/// HOUR, MINUTE, SECOND, MILLISECOND).
fn floor_ms(ms: i64, unit: &str) -> Result<i64, SqlError> {
    let over = || SqlError::overflow("timestamp out of range");
    let fixed = |u: i64| ms.div_euclid(u).checked_mul(u).ok_or_else(over);
    match unit {
        "MILLISECOND" => Ok(ms),
        "SECOND" => fixed(1000),
        "MINUTE" => fixed(60_000),
        "HOUR" => fixed(3_600_000),
        "DAY" => fixed(MS_PER_DAY),
        "WEEK" => {
            let day = ms.div_euclid(MS_PER_DAY);
            // 1970-01-01 was a Thursday; days since the Sunday before it.
            let since_sunday = (day + 4).rem_euclid(7);
            (day - since_sunday)
                .checked_mul(MS_PER_DAY)
                .ok_or_else(over)
        }
        "MONTH" | "QUARTER" | "YEAR" => {
            let dt = naive(ms)?;
            let month = match unit {
                "MONTH" => dt.month(),
                "QUARTER" => (dt.month() - 1) / 3 * 3 + 1,
                _ => 1,
            };
            NaiveDate::from_ymd_opt(dt.year(), month, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
                .ok_or_else(|| SqlError::overflow("date out of range"))
        }
        other => Err(SqlError::new(
            "InvalidArgument",
            format!("FLOOR/CEIL cannot round to {other}"),
        )),
    }
}

/// The start of the next `unit` after `floor`.
fn next_unit(floor: i64, unit: &str) -> Result<i64, SqlError> {
    let add = |u: i64| {
        floor
            .checked_add(u)
            .ok_or_else(|| SqlError::overflow("timestamp out of range"))
    };
    match unit {
        "MILLISECOND" => add(1),
        "SECOND" => add(1000),
        "MINUTE" => add(60_000),
        "HOUR" => add(3_600_000),
        "DAY" => add(MS_PER_DAY),
        "WEEK" => add(7 * MS_PER_DAY),
        "MONTH" => add_months(floor, 1),
        "QUARTER" => add_months(floor, 3),
        _ => add_months(floor, 12),
    }
}

fn round_to(v: &Value, unit: &str, up: bool) -> Result<Value, SqlError> {
    let unit = unit.to_ascii_uppercase();
    let round = |ms: i64| -> Result<i64, SqlError> {
        let f = floor_ms(ms, &unit)?;
        if up && f != ms {
            next_unit(f, &unit)
        } else {
            Ok(f)
        }
    };
    match v {
        Value::Null => Ok(Value::Null),
        Value::Timestamp(ms) => round(*ms).map(Value::Timestamp),
        Value::Date(d) => {
            let r = round(i64::from(*d) * MS_PER_DAY)?;
            i32::try_from(r.div_euclid(MS_PER_DAY))
                .map(Value::Date)
                .map_err(|_| SqlError::overflow("date out of range"))
        }
        Value::Time(t) => {
            if !matches!(unit.as_str(), "HOUR" | "MINUTE" | "SECOND" | "MILLISECOND") {
                return Err(SqlError::type_mismatch(format!(
                    "a TIME cannot be rounded to {unit}"
                )));
            }
            let r = round(i64::from(*t))?;
            Ok(Value::Time(r.rem_euclid(MS_PER_DAY) as u32))
        }
        other => Err(SqlError::type_mismatch(format!(
            "FLOOR/CEIL ... TO {unit} takes a datetime, not {}",
            other.kind()
        ))),
    }
}

/// `FLOOR(v TO unit)`: the start of the unit containing a DATE, TIME or TIMESTAMP.
pub fn floor_to(v: &Value, unit: &str) -> Result<Value, SqlError> {
    round_to(v, unit, false)
}

/// `CEIL(v TO unit)`: the start of the next unit, or `v` when it already is a unit's start.
pub fn ceil_to(v: &Value, unit: &str) -> Result<Value, SqlError> {
    round_to(v, unit, true)
}

/// `STEP(v BY width)`: `v` rounded down to a multiple of `width` counted from the epoch
/// (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-step.html>).
/// Integers take an integer width; datetimes a day-time interval, or a year-month one
/// (months counted from 1970-01). "Largest multiple equal to or smaller than" is kept for
/// negative values too (floor, not the truncating `(v / n) * n` the page also shows).
pub fn step(v: &Value, width: &Value) -> Result<Value, SqlError> {
    if v.is_null() || width.is_null() {
        return Ok(Value::Null);
    }
    let zero = || SqlError::new("InvalidArgument", "STEP width must be positive");
    let floor = |x: i64, w: i64| -> Result<i64, SqlError> {
        if w <= 0 {
            return Err(zero());
        }
        x.div_euclid(w)
            .checked_mul(w)
            .ok_or_else(|| SqlError::overflow("STEP result out of range"))
    };
    match (v, width) {
        (Value::Timestamp(ms), Value::IntervalDayTime(w)) => floor(*ms, *w).map(Value::Timestamp),
        (Value::Date(d), Value::IntervalDayTime(w)) => {
            let r = floor(i64::from(*d) * MS_PER_DAY, *w)?;
            i32::try_from(r.div_euclid(MS_PER_DAY))
                .map(Value::Date)
                .map_err(|_| SqlError::overflow("STEP result out of range"))
        }
        (Value::Time(t), Value::IntervalDayTime(w)) => {
            floor(i64::from(*t), *w).map(|r| Value::Time(r as u32))
        }
        (Value::Timestamp(_) | Value::Date(_), Value::IntervalYearMonth(w)) => {
            let ms = timestamp_ms("STEP", v)?;
            let dt = naive(ms)?;
            let months = (i64::from(dt.year()) - 1970) * 12 + i64::from(dt.month0());
            let m = floor(months, i64::from(*w))?;
            let start = add_months(0, m)?;
            Ok(match v {
                Value::Date(_) => Value::Date(start.div_euclid(MS_PER_DAY) as i32),
                _ => Value::Timestamp(start),
            })
        }
        _ => match (v.as_i64(), width.as_i64()) {
            (Some(x), Some(w)) => {
                let rank = match v {
                    Value::TinyInt(_) => 1,
                    Value::SmallInt(_) => 2,
                    Value::Integer(_) => 3,
                    _ => 4,
                };
                int_of_rank(floor(x, w)?, rank)
            }
            _ => Err(SqlError::type_mismatch(format!(
                "STEP cannot step {} by {}",
                v.kind(),
                width.kind()
            ))),
        },
    }
}

/// An interval's text under its SQL qualifier, as SQLstream prints `(t1 - t2) MINUTE TO
/// SECOND` or `INTERVAL '3 4' DAY TO HOUR`: a sign, the leading field unpadded, the others
/// two digits (`DAY HH:MM:SS`, fractions of a second only when there are some). `count` is
/// milliseconds for a day-time qualifier and months for YEAR/MONTH ones. Values keep no
/// qualifier, so the planner passes the one written after the expression; a CAST of the
/// result to VARCHAR then takes this text.
/// (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-date-timestamp-interval.html>:
/// `(time '12:03:34' - time '11:57:23') minute to second` is `+6:11`.)
pub fn format_interval(count: i64, start: &str, end: Option<&str>) -> Result<String, SqlError> {
    let start = start.to_ascii_uppercase();
    let end = end
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| start.clone());
    let sign = if count < 0 { '-' } else { '+' };
    let a = count.unsigned_abs();
    let bad = || {
        SqlError::new(
            "InvalidArgument",
            format!("no interval qualifier {start} TO {end}"),
        )
    };
    if matches!(start.as_str(), "YEAR" | "MONTH") {
        return match (start.as_str(), end.as_str()) {
            ("YEAR", "YEAR") => Ok(format!("{sign}{}", a / 12)),
            ("YEAR", "MONTH") => Ok(format!("{sign}{}-{:02}", a / 12, a % 12)),
            ("MONTH", "MONTH") => Ok(format!("{sign}{a}")),
            _ => Err(bad()),
        };
    }
    const UNITS: [(&str, u64); 4] = [
        ("DAY", 86_400_000),
        ("HOUR", 3_600_000),
        ("MINUTE", 60_000),
        ("SECOND", 1000),
    ];
    let from = UNITS
        .iter()
        .position(|(u, _)| *u == start)
        .ok_or_else(bad)?;
    let to = UNITS.iter().position(|(u, _)| *u == end).ok_or_else(bad)?;
    if to < from {
        return Err(bad());
    }
    let mut out = String::new();
    out.push(sign);
    let mut rest = a;
    for (k, (_, size)) in UNITS.iter().enumerate().take(to + 1).skip(from) {
        let v = rest / size;
        rest %= size;
        if k == from {
            out.push_str(&v.to_string());
        } else {
            out.push(if k == 1 { ' ' } else { ':' });
            out.push_str(&format!("{v:02}"));
        }
    }
    if to == 3 && rest > 0 {
        out.push_str(&format!(".{rest:03}"));
    }
    Ok(out)
}

/// An interval's text when no qualifier is known (a CAST of an interval value to
/// VARCHAR): from its largest non-zero field to its smallest, which is how the docs print the
/// values they write with a qualifier (`+3 04:20` for a DAY TO MINUTE, `+6:11` for a MINUTE
/// TO SECOND, `+4-04` for a YEAR TO MONTH).
pub fn interval_text(v: &Value) -> Option<String> {
    const UNITS: [(&str, i64); 4] = [
        ("DAY", MS_PER_DAY),
        ("HOUR", 3_600_000),
        ("MINUTE", 60_000),
        ("SECOND", 1000),
    ];
    match v {
        Value::IntervalDayTime(ms) => {
            let a = ms.unsigned_abs();
            let fields: Vec<bool> = UNITS
                .iter()
                .enumerate()
                .map(|(k, (_, size))| {
                    let size = *size as u64;
                    let above = if k == 0 {
                        u64::MAX
                    } else {
                        UNITS[k - 1].1 as u64
                    };
                    let field = if k == 0 { a / size } else { a % above / size };
                    field != 0 || (k == 3 && a % 1000 != 0)
                })
                .collect();
            let first = fields.iter().position(|f| *f).unwrap_or(3);
            let last = fields.iter().rposition(|f| *f).unwrap_or(3);
            format_interval(*ms, UNITS[first].0, Some(UNITS[last].0)).ok()
        }
        Value::IntervalYearMonth(m) => {
            let (start, end) = match (m / 12 != 0, m % 12 != 0) {
                (true, true) => ("YEAR", "MONTH"),
                (true, false) => ("YEAR", "YEAR"),
                _ => ("MONTH", "MONTH"),
            };
            format_interval(i64::from(*m), start, Some(end)).ok()
        }
        _ => None,
    }
}

// ---- Java SimpleDateFormat patterns -------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(char, usize),
    Lit(String),
}

fn tokenize(pattern: &str) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut lit = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() {
            if !lit.is_empty() {
                toks.push(Tok::Lit(std::mem::take(&mut lit)));
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            toks.push(Tok::Field(c, n));
            i += n;
        } else if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                lit.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        lit.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                lit.push(chars[i]);
                i += 1;
            }
        } else {
            lit.push(c);
            i += 1;
        }
    }
    if !lit.is_empty() {
        toks.push(Tok::Lit(lit));
    }
    toks
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

fn pad(v: i64, width: usize) -> String {
    if v < 0 {
        format!("-{:0width$}", -v, width = width)
    } else {
        format!("{v:0width$}")
    }
}

/// Formats a UTC date-time with a Java `SimpleDateFormat` pattern.
pub fn format_with_pattern(pattern: &str, dt: &NaiveDateTime) -> String {
    let mut out = String::new();
    for tok in tokenize(pattern) {
        match tok {
            Tok::Lit(s) => out.push_str(&s),
            Tok::Field(c, n) => {
                let hour = dt.hour() as i64;
                let s = match c {
                    'G' => "AD".to_string(),
                    'y' | 'Y' => {
                        if n == 2 {
                            pad(i64::from(dt.year()).rem_euclid(100), 2)
                        } else {
                            pad(i64::from(dt.year()), n)
                        }
                    }
                    'M' | 'L' => match n {
                        1 | 2 => pad(i64::from(dt.month()), n),
                        3 => MONTHS[dt.month0() as usize][..3].to_string(),
                        _ => MONTHS[dt.month0() as usize].to_string(),
                    },
                    'd' => pad(i64::from(dt.day()), n),
                    'D' => pad(i64::from(dt.ordinal()), n),
                    'E' => {
                        let d = DAYS[dt.weekday().num_days_from_monday() as usize];
                        if n >= 4 {
                            d.to_string()
                        } else {
                            d[..3].to_string()
                        }
                    }
                    'u' => pad(i64::from(dt.weekday().number_from_monday()), n),
                    'F' => pad(i64::from((dt.day() - 1) / 7 + 1), n),
                    'w' => pad(i64::from(dt.iso_week().week()), n),
                    'W' => pad(i64::from(dt.day().div_ceil(7)), n),
                    'a' => (if hour < 12 { "AM" } else { "PM" }).to_string(),
                    'H' => pad(hour, n),
                    'k' => pad(if hour == 0 { 24 } else { hour }, n),
                    'K' => pad(hour % 12, n),
                    'h' => pad(if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                    'm' => pad(i64::from(dt.minute()), n),
                    's' => pad(i64::from(dt.second()), n),
                    'S' => pad(i64::from(dt.nanosecond() / 1_000_000), n),
                    'z' => "UTC".to_string(),
                    'Z' => "+0000".to_string(),
                    'X' => "Z".to_string(),
                    other => std::iter::repeat_n(other, n).collect(),
                };
                out.push_str(&s);
            }
        }
    }
    out
}

fn is_numeric_field(t: Option<&Tok>) -> bool {
    match t {
        Some(Tok::Field(c, n)) => match c {
            'M' | 'L' => *n <= 2,
            'y' | 'Y' | 'd' | 'D' | 'u' | 'F' | 'w' | 'W' | 'H' | 'k' | 'K' | 'h' | 'm' | 's'
            | 'S' => true,
            _ => false,
        },
        _ => false,
    }
}

/// Parses `text` with a Java `SimpleDateFormat` pattern, as CHAR_TO_TIMESTAMP does: fields
/// the pattern lacks take their defaults (1970-01-01 00:00:00), blanks before a field are
/// skipped, literals must match, and text after the pattern's end is ignored (the "Template
/// Strings to Create Specific Output Timestamps" page: `'MMM dd,'` reads `'March 7, 2010'`
/// as 1970-03-07). Only `yy` (exactly two letters) reads a two-digit year in the century
/// 1946..2045; a single `y` reads the year literally (the page's `'MMM dd,y'` example:
/// `'March 7, 10'` is year 10). Out-of-range fields (month 13) make the parse fail.
pub fn parse_with_pattern(pattern: &str, text: &str) -> Option<NaiveDateTime> {
    let toks = tokenize(pattern);
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0usize;
    let (mut year, mut month, mut day) = (1970i64, 1i64, 1i64);
    let (mut hour, mut minute, mut second, mut milli) = (0i64, 0i64, 0i64, 0i64);
    let mut doy: Option<i64> = None;
    let mut pm: Option<bool> = None;
    let mut twelve_hour = false;
    let mut offset_minutes = 0i64;
    for (k, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Lit(s) => {
                for c in s.chars() {
                    if chars.get(pos) != Some(&c) {
                        return None;
                    }
                    pos += 1;
                }
            }
            Tok::Field(c, n) => {
                while matches!(chars.get(pos), Some(' ') | Some('\t')) {
                    pos += 1;
                }
                let numeric = is_numeric_field(Some(tok));
                if numeric {
                    let abut = is_numeric_field(toks.get(k + 1));
                    let start = pos;
                    let neg = (*c == 'y' || *c == 'Y') && chars.get(pos) == Some(&'-');
                    if neg {
                        pos += 1;
                    }
                    let digits_start = pos;
                    while pos < chars.len()
                        && chars[pos].is_ascii_digit()
                        && (!abut || pos - digits_start < *n)
                    {
                        pos += 1;
                    }
                    if pos == digits_start {
                        return None;
                    }
                    let digits: String = chars[digits_start..pos].iter().collect();
                    let mut v: i64 = digits.parse().ok()?;
                    if neg {
                        v = -v;
                    }
                    let count = pos - start;
                    match c {
                        'y' | 'Y' => {
                            year = if *n == 2 && count == 2 {
                                if v < 46 {
                                    2000 + v
                                } else {
                                    1900 + v
                                }
                            } else {
                                v
                            }
                        }
                        'M' | 'L' => month = v,
                        'd' => day = v,
                        'D' => doy = Some(v),
                        'H' => hour = v,
                        'k' => hour = if v == 24 { 0 } else { v },
                        'K' => {
                            hour = v;
                            twelve_hour = true;
                        }
                        'h' => {
                            hour = if v == 12 { 0 } else { v };
                            twelve_hour = true;
                        }
                        'm' => minute = v,
                        's' => second = v,
                        'S' => milli = v,
                        _ => {} // u, F, w, W: read and ignored
                    }
                } else {
                    let rest: String = chars[pos..].iter().collect();
                    let lower = rest.to_lowercase();
                    match c {
                        'M' | 'L' => {
                            let (i, len) = MONTHS.iter().enumerate().find_map(|(i, m)| {
                                let m = m.to_lowercase();
                                if lower.starts_with(&m) {
                                    Some((i, m.chars().count()))
                                } else if lower.starts_with(&m[..3]) {
                                    Some((i, 3))
                                } else {
                                    None
                                }
                            })?;
                            month = i as i64 + 1;
                            pos += len;
                        }
                        'E' => {
                            let len = DAYS.iter().find_map(|d| {
                                let d = d.to_lowercase();
                                if lower.starts_with(&d) {
                                    Some(d.len())
                                } else if lower.starts_with(&d[..3]) {
                                    Some(3)
                                } else {
                                    None
                                }
                            })?;
                            pos += len;
                        }
                        'a' => {
                            if lower.starts_with("am") {
                                pm = Some(false);
                            } else if lower.starts_with("pm") {
                                pm = Some(true);
                            } else {
                                return None;
                            }
                            pos += 2;
                        }
                        'G' if lower.starts_with("ad") || lower.starts_with("bc") => pos += 2,
                        'z' | 'Z' | 'X' => {
                            let (off, len) = parse_zone(&rest)?;
                            offset_minutes = off;
                            pos += len;
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
    if twelve_hour && pm == Some(true) {
        hour += 12;
    }
    if !(1..=12).contains(&month)
        || !(0..=23).contains(&hour)
        || !(0..=59).contains(&minute)
        || !(0..=59).contains(&second)
        || !(0..=999).contains(&milli)
    {
        return None;
    }
    let y = i32::try_from(year).ok()?;
    let date = match doy {
        Some(d) => NaiveDate::from_yo_opt(y, u32::try_from(d).ok()?)?,
        None => NaiveDate::from_ymd_opt(y, month as u32, u32::try_from(day).ok()?)?,
    };
    let time =
        NaiveTime::from_hms_milli_opt(hour as u32, minute as u32, second as u32, milli as u32)?;
    let dt = NaiveDateTime::new(date, time);
    Some(dt - chrono::Duration::minutes(offset_minutes))
}

/// A zone as `z`, `Z` or `X` parse it: `Z`, `UTC`, `GMT`, `GMT+hh:mm`, `+hhmm`, `+hh:mm`,
/// `+hh`, and the North American abbreviations (`PST`, `EDT`, ...). Returns the offset in minutes east of UTC and the characters read.
fn parse_zone(s: &str) -> Option<(i64, usize)> {
    let upper = s.to_ascii_uppercase();
    // North American abbreviations Java's `z` reads (besides UTC and GMT).
    for (name, hours) in [
        ("PST", -8),
        ("PDT", -7),
        ("MST", -7),
        ("MDT", -6),
        ("CST", -6),
        ("CDT", -5),
        ("EST", -5),
        ("EDT", -4),
    ] {
        if upper.starts_with(name) {
            return Some((hours * 60, 3));
        }
    }
    if upper.starts_with('Z') {
        return Some((0, 1));
    }
    let (skip, rest) = if upper.starts_with("UTC") || upper.starts_with("GMT") {
        let r = &s[3..];
        if !r.starts_with('+') && !r.starts_with('-') {
            return Some((0, 3));
        }
        (3, r)
    } else {
        (0, s)
    };
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let body: Vec<char> = rest[1..].chars().take(5).collect();
    let digits = |a: &[char]| -> Option<i64> {
        if a.len() == 2 && a.iter().all(|c| c.is_ascii_digit()) {
            a.iter().collect::<String>().parse().ok()
        } else {
            None
        }
    };
    let h = digits(body.get(0..2)?)?;
    let (m, used) = if body.get(2) == Some(&':') {
        (digits(body.get(3..5)?)?, 5)
    } else if let Some(m) = body.get(2..4).and_then(digits) {
        (m, 4)
    } else {
        (0, 2)
    };
    Some((sign * (h * 60 + m), skip + 1 + used))
}

#[cfg(test)]
mod tests {
    use super::super::call_scalar;
    use super::*;
    use crate::value::parse_timestamp;

    fn ts(s: &str) -> Value {
        Value::Timestamp(parse_timestamp(s).expect("timestamp"))
    }
    fn v(s: &str) -> Value {
        Value::Varchar(s.into())
    }
    fn c2t(fmt: &str, s: &str) -> Result<Value, SqlError> {
        call_scalar("CHAR_TO_TIMESTAMP", &[v(fmt), v(s)])
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-step.html>
    #[test]
    fn step_examples() {
        assert_eq!(
            step(&Value::Integer(23), &Value::Integer(5)),
            Ok(Value::Integer(20))
        );
        assert_eq!(
            step(&Value::Integer(30), &Value::Integer(10)),
            Ok(Value::Integer(30))
        );
        assert_eq!(
            step(&ts("2004-09-30 13:48:23"), &Value::IntervalDayTime(10_000)),
            Ok(ts("2004-09-30 13:48:20"))
        );
        assert_eq!(
            step(
                &ts("2004-09-30 13:48:23"),
                &Value::IntervalDayTime(2 * 3_600_000)
            ),
            Ok(ts("2004-09-30 12:00:00"))
        );
        assert_eq!(
            step(
                &ts("2004-09-30 13:48:23"),
                &Value::IntervalDayTime(5 * 60_000)
            ),
            Ok(ts("2004-09-30 13:45:00"))
        );
        assert_eq!(
            step(&ts("2004-09-30 13:48:23"), &Value::IntervalYearMonth(1)),
            Ok(ts("2004-09-01 00:00:00"))
        );
        assert_eq!(
            step(&ts("2004-09-30 13:48:23"), &Value::IntervalYearMonth(12)),
            Ok(ts("2004-01-01 00:00:00"))
        );
        // The page prints STEP(... '2004-09-27 13:48:23' BY INTERVAL '5' DAY) as 2004-09-25,
        // but its own formula (5-day steps from 1970-01-01) gives 2004-09-24: the formula is
        // kept, since every GROUP BY STEP(ROWTIME ...) tumbling window relies on it.
        assert_eq!(
            step(
                &ts("2004-09-27 13:48:23"),
                &Value::IntervalDayTime(5 * MS_PER_DAY)
            ),
            Ok(ts("2004-09-24 00:00:00"))
        );
        assert_eq!(step(&Value::Null, &Value::Integer(5)), Ok(Value::Null));
        assert!(step(&Value::Integer(3), &Value::Integer(0)).is_err());
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-floor.html>
    /// and sql-reference-ceil.html (FLOOR/CEIL of a datetime TO a unit).
    #[test]
    fn floor_and_ceil_to_units() {
        let t = ts("2004-09-30 13:48:23.456");
        assert_eq!(floor_to(&t, "MINUTE"), Ok(ts("2004-09-30 13:48:00")));
        assert_eq!(floor_to(&t, "HOUR"), Ok(ts("2004-09-30 13:00:00")));
        assert_eq!(floor_to(&t, "DAY"), Ok(ts("2004-09-30 00:00:00")));
        assert_eq!(floor_to(&t, "MONTH"), Ok(ts("2004-09-01 00:00:00")));
        assert_eq!(floor_to(&t, "YEAR"), Ok(ts("2004-01-01 00:00:00")));
        assert_eq!(floor_to(&t, "SECOND"), Ok(ts("2004-09-30 13:48:23")));
        assert_eq!(ceil_to(&t, "MINUTE"), Ok(ts("2004-09-30 13:49:00")));
        // The CEIL page's examples on TIMESTAMP '2004-09-30 13:48:23'.
        let c = ts("2004-09-30 13:48:23");
        assert_eq!(ceil_to(&c, "HOUR"), Ok(ts("2004-09-30 14:00:00")));
        assert_eq!(ceil_to(&c, "MINUTE"), Ok(ts("2004-09-30 13:49:00")));
        assert_eq!(ceil_to(&c, "DAY"), Ok(ts("2004-10-01 00:00:00")));
        assert_eq!(ceil_to(&c, "YEAR"), Ok(ts("2005-01-01 00:00:00")));
        assert_eq!(ceil_to(&t, "MONTH"), Ok(ts("2004-10-01 00:00:00")));
        assert_eq!(
            ceil_to(&ts("2004-09-30 13:00:00"), "HOUR"),
            Ok(ts("2004-09-30 13:00:00"))
        );
        assert_eq!(
            floor_to(&Value::Time(3_723_000), "HOUR"),
            Ok(Value::Time(3_600_000))
        );
        assert!(floor_to(&t, "FORTNIGHT").is_err());
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-extract.html>
    #[test]
    fn extract_fields() {
        let t = ts("2004-09-30 13:48:23.456");
        let e = |u: &str| extract(u, &t);
        assert_eq!(e("YEAR"), Ok(Value::BigInt(2004)));
        assert_eq!(e("MONTH"), Ok(Value::BigInt(9)));
        assert_eq!(e("DAY"), Ok(Value::BigInt(30)));
        assert_eq!(e("HOUR"), Ok(Value::BigInt(13)));
        assert_eq!(e("minute"), Ok(Value::BigInt(48)));
        assert_eq!(
            e("SECOND"),
            Ok(Value::Decimal(rust_decimal::Decimal::new(23_456, 3)))
        );
        assert_eq!(e("QUARTER"), Ok(Value::BigInt(3)));
        assert_eq!(
            extract("HOUR", &Value::IntervalDayTime(90_061_001)),
            Ok(Value::BigInt(1))
        );
        // The EXTRACT page: INTERVAL '2 3:4:5.678' DAY TO SECOND gives DAY 2, HOUR 3,
        // MINUTE 4, SECOND 5.678; TIMESTAMP '2016-09-23 04:29:26.234' MINUTE 29, HOUR 4.
        let iv = Value::IntervalDayTime(2 * MS_PER_DAY + 3 * 3_600_000 + 4 * 60_000 + 5_678);
        assert_eq!(extract("DAY", &iv), Ok(Value::BigInt(2)));
        assert_eq!(extract("HOUR", &iv), Ok(Value::BigInt(3)));
        assert_eq!(extract("MINUTE", &iv), Ok(Value::BigInt(4)));
        assert_eq!(
            extract("SECOND", &iv).map(|v| v.to_string()),
            Ok("5.678".to_string())
        );
        let t2 = ts("2016-09-23 04:29:26.234");
        assert_eq!(extract("MINUTE", &t2), Ok(Value::BigInt(29)));
        assert_eq!(extract("HOUR", &t2), Ok(Value::BigInt(4)));
        assert_eq!(
            extract("DAY", &Value::IntervalDayTime(-90_061_001)),
            Ok(Value::BigInt(-1))
        );
        assert_eq!(extract("YEAR", &Value::Date(0)), Ok(Value::BigInt(1970)));
        assert_eq!(extract("YEAR", &Value::Null), Ok(Value::Null));
        assert!(extract("YEAR", &Value::Time(0)).is_err());
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-template-strings-create-output-timestamps.html>
    #[test]
    fn template_string_examples() {
        assert_eq!(
            c2t("yyyy-MM-dd hh:mm:ss", "2009-09-16 03:15:24"),
            Ok(ts("2009-09-16 03:15:24"))
        );
        assert_eq!(
            c2t("yyyy-mm", "2011-02-08 07:23:19"),
            Ok(ts("2011-01-01 00:02:00"))
        );
        assert_eq!(
            c2t("MMM dd, yyyy", "March 7, 2010"),
            Ok(ts("2010-03-07 00:00:00"))
        );
        assert!(
            c2t("MMM dd yyyy", "March 7, 2010").is_err(),
            "template lacks the comma"
        );
        assert_eq!(
            c2t("MMM dd,", "March 7, 2010"),
            Ok(ts("1970-03-07 00:00:00"))
        );
        assert_eq!(
            c2t("MMM dd,y", "March 7, 2010"),
            Ok(ts("2010-03-07 00:00:00"))
        );
        assert_eq!(
            c2t("MMM dd,y", "March 7, 10"),
            Ok(ts("0010-03-07 00:00:00"))
        );
        assert_eq!(c2t("M-d", "2-8"), Ok(ts("1970-02-08 00:00:00")));
        assert_eq!(c2t("M-d", "2-8-2011"), Ok(ts("1970-02-08 00:00:00")));
        assert!(c2t("M-d", "2011-2-8").is_err(), "2011 is not a valid month");
        assert_eq!(
            c2t("MM-dd-yyyy", "06-23-2011 10:11:12"),
            Ok(ts("2011-06-23 00:00:00"))
        );
        assert_eq!(
            c2t("dd-MM-yy hh:mm:ss", "23-06-11 10:11:12"),
            Ok(ts("2011-06-23 10:11:12"))
        );
        assert_eq!(
            c2t("MM-dd-yy hh:mm:ss", "06-23-11 10:11:12"),
            Ok(ts("2011-06-23 10:11:12"))
        );
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-char-to-timestamp.html>
    /// The page gives `('yyyy-hh-mm', '2009-09-16 03:15:24')` as 03:15:00 in one place and as
    /// 09:16:00 in its worked example (fields read in order: 09 hours, 16 minutes); the worked
    /// example, which is what SimpleDateFormat does, is kept.
    #[test]
    fn char_to_timestamp_page_examples() {
        let full = "2009-09-16 03:15:24";
        assert_eq!(c2t("yyyy-MM-dd", full), Ok(ts("2009-09-16 00:00:00")));
        assert_eq!(
            c2t("MM/dd/yy hh:mm:ss", "09/16/11 03:15:24"),
            Ok(ts("2011-09-16 03:15:24"))
        );
        assert_eq!(c2t("yyyy", "09-16 03:15"), Ok(ts("0009-01-01 00:00:00")));
        assert_eq!(c2t("yyyy", "16 03:15"), Ok(ts("0016-01-01 00:00:00")));
        assert_eq!(c2t("yyyy-hh-mm", full), Ok(ts("2009-01-01 09:16:00")));
        assert_eq!(c2t("yyyy", full), Ok(ts("2009-01-01 00:00:00")));
        assert_eq!(c2t("yyyy-hh", full), Ok(ts("2009-01-01 09:00:00")));
        assert_eq!(
            c2t("yyyy hh", "2009 09 16 03:15:24"),
            Ok(ts("2009-01-01 09:00:00"))
        );
        assert_eq!(
            c2t("yyyy/hh", "2009/09/16 03:15:24"),
            Ok(ts("2009-01-01 09:00:00"))
        );
        assert_eq!(c2t("yyyy-mm", full), Ok(ts("2009-01-01 00:09:00")));
        // The calls the page shows returning no row.
        assert!(c2t("MM/dd/yy hh:mm:ss", "2009/09/16 03:15:24").is_err());
        assert!(c2t("yyyy hh", full).is_err());
    }

    #[test]
    fn char_to_and_to_char_round_trip() {
        assert_eq!(
            c2t(
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2019-01-01T10:00:00.250+01:00"
            ),
            Ok(ts("2019-01-01 09:00:00.250"))
        );
        assert_eq!(
            c2t("dd/MMM/yyyy:HH:mm:ss Z", "24/May/2004:22:01:02 -0700"),
            Ok(ts("2004-05-25 05:01:02"))
        );
        assert_eq!(
            c2t("yyyyMMddHHmmss", "20190101100000"),
            Ok(ts("2019-01-01 10:00:00"))
        );
        assert_eq!(c2t("hh:mm a", "01:30 PM"), Ok(ts("1970-01-01 13:30:00")));
        assert_eq!(
            c2t("yyyy-MM-dd HH:mm z", "2019-01-01 02:00 PST"),
            Ok(ts("2019-01-01 10:00:00"))
        );
        assert_eq!(
            c2t("yyyy-MM-dd HH:mm z", "2019-01-01 11:30 GMT+01:30"),
            Ok(ts("2019-01-01 10:00:00"))
        );
        assert_eq!(
            call_scalar("CHAR_TO_DATE", &[v("yyyy-MM-dd"), v("2008-08-23")]),
            Ok(Value::Date(14114))
        );
        assert_eq!(
            call_scalar("CHAR_TO_TIME", &[v("HH:mm:ss"), v("12:03:34")]),
            Ok(Value::Time(43_414_000))
        );
        assert_eq!(
            call_scalar(
                "TIMESTAMP_TO_CHAR",
                &[
                    v("yyyy-MM-dd HH:mm:ss.SSS EEE MMM a"),
                    ts("2019-01-06 15:04:05.006")
                ]
            ),
            Ok(v("2019-01-06 15:04:05.006 Sun Jan PM"))
        );
        assert_eq!(
            call_scalar(
                "TIMESTAMP_TO_CHAR",
                &[v("dd MMMM yy hh 'o''clock'"), ts("2019-12-06 00:04:05")]
            ),
            Ok(v("06 December 19 12 o'clock"))
        );
        assert_eq!(
            call_scalar("DATE_TO_CHAR", &[v("yyyy/MM/dd"), Value::Date(14114)]),
            Ok(v("2008/08/23"))
        );
        assert_eq!(
            call_scalar("TIME_TO_CHAR", &[v("HH:mm"), Value::Time(43_414_000)]),
            Ok(v("12:03"))
        );
        assert_eq!(
            call_scalar("CHAR_TO_TIMESTAMP", &[v("yyyy"), Value::Null]),
            Ok(Value::Null)
        );
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-date-timestamp-interval.html>
    #[test]
    fn intervals_print_with_their_qualifier() {
        // (time '12:03:34' - time '11:57:23') minute to second = +6:11
        assert_eq!(
            format_interval(371_000, "MINUTE", Some("SECOND")),
            Ok("+6:11".into())
        );
        // INTERVAL '+4 04' DAY TO HOUR, INTERVAL '-2 04' DAY TO HOUR
        let dh = |d: i64, h: i64| d * MS_PER_DAY + h * 3_600_000;
        assert_eq!(
            format_interval(dh(4, 4), "DAY", Some("HOUR")),
            Ok("+4 04".into())
        );
        assert_eq!(
            format_interval(-dh(2, 4), "DAY", Some("HOUR")),
            Ok("-2 04".into())
        );
        // INTERVAL '+4-04' YEAR TO MONTH
        assert_eq!(
            format_interval(52, "YEAR", Some("MONTH")),
            Ok("+4-04".into())
        );
        assert_eq!(format_interval(1500, "SECOND", None), Ok("+1.500".into()));
        assert_eq!(
            format_interval(dh(1, 2) + 3_000, "DAY", Some("SECOND")),
            Ok("+1 02:00:03".into())
        );
        assert!(format_interval(0, "SECOND", Some("DAY")).is_err());
        // Without a qualifier: from the largest non-zero field to the smallest.
        let t = |v: Value| interval_text(&v).expect("interval");
        assert_eq!(
            t(Value::IntervalDayTime(dh(3, 4) + 20 * 60_000)),
            "+3 04:20"
        );
        assert_eq!(t(Value::IntervalDayTime(371_000)), "+6:11");
        assert_eq!(t(Value::IntervalDayTime(-dh(2, 4))), "-2 04");
        assert_eq!(t(Value::IntervalDayTime(4 * MS_PER_DAY)), "+4");
        assert_eq!(t(Value::IntervalDayTime(1500)), "+1.500");
        assert_eq!(t(Value::IntervalDayTime(0)), "+0");
        assert_eq!(t(Value::IntervalYearMonth(52)), "+4-04");
        assert_eq!(t(Value::IntervalYearMonth(-3)), "-3");
    }

    /// The developer guide's "Transforming Dates" example
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-string-datetime-manipulation.html>):
    /// `EVENT_TIME - INTERVAL '5' MINUTE`, `UNIX_TIMESTAMP(EVENT_TIME)`,
    /// `TIMESTAMP_TO_CHAR('yyyy-MM-dd hh:mm:ss', EVENT_TIME)`, `EXTRACT(SECOND FROM EVENT_TIME)`.
    #[test]
    fn transforming_dates_example() {
        let event = ts("2018-05-09T12:50:41.337510");
        assert_eq!(
            crate::functions::binary(
                crate::functions::BinOp::Minus,
                &event,
                &Value::IntervalDayTime(5 * 60_000)
            ),
            Ok(ts("2018-05-09 12:45:41.337"))
        );
        assert_eq!(
            call_scalar("UNIX_TIMESTAMP", std::slice::from_ref(&event)),
            Ok(Value::BigInt(1_525_870_241_337))
        );
        assert_eq!(
            call_scalar(
                "TIMESTAMP_TO_CHAR",
                &[v("yyyy-MM-dd hh:mm:ss"), event.clone()]
            ),
            Ok(v("2018-05-09 12:50:41"))
        );
        // 41.337 seconds; the example's INTEGER column rounds it to 41.
        assert_eq!(
            extract("SECOND", &event),
            Ok(Value::Decimal(rust_decimal::Decimal::new(41_337, 3)))
        );
    }

    /// TSDIFF: <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-tsdiff.html>
    /// ("the difference of two time stamps in milliseconds"); UNIX_TIMESTAMP and
    /// TO_TIMESTAMP are inverses in milliseconds.
    #[test]
    fn tsdiff_and_epoch_functions() {
        assert_eq!(
            call_scalar(
                "TSDIFF",
                &[ts("2019-01-01 10:00:01"), ts("2019-01-01 10:00:00")]
            ),
            Ok(Value::BigInt(1000))
        );
        assert_eq!(
            call_scalar("TSDIFF", &[Value::Null, ts("2019-01-01 10:00:00")]),
            Ok(Value::Null)
        );
        assert_eq!(
            call_scalar("UNIX_TIMESTAMP", &[ts("1970-01-01 00:00:01")]),
            Ok(Value::BigInt(1000))
        );
        assert_eq!(
            call_scalar("TO_TIMESTAMP", &[Value::BigInt(1_546_336_800_000)]),
            Ok(ts("2019-01-01 10:00:00"))
        );
    }
}
