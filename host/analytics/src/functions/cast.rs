//! CAST, as the SQL Reference's CAST page tabulates it
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-cast.html>):
//!
//! | from | to |
//! |---|---|
//! | any numeric | VARCHAR, CHAR, any numeric |
//! | VARCHAR, CHAR | all of the above, DATE, TIME, TIMESTAMP, DAY-TIME INTERVAL, BOOLEAN |
//! | DATE | DATE, VARCHAR, CHAR, TIMESTAMP |
//! | TIME | TIME, VARCHAR, CHAR, TIMESTAMP |
//! | TIMESTAMP | TIME, VARCHAR, CHAR, TIMESTAMP, DATE |
//! | DAY-TIME INTERVAL | DAY-TIME INTERVAL, BIGINT, DECIMAL, CHAR, VARCHAR |
//! | BOOLEAN | VARCHAR, CHAR, BOOLEAN |
//! | BINARY, VARBINARY | BINARY, VARBINARY |
//!
//! Any other pair is a `CastError`. How values change:
//! - To an integer: a REAL, DOUBLE or DECIMAL is rounded half away from zero (the page's
//!   "the real (NUMERIC or DECIMAL) is rounded by the cast" example gives -2); out of range
//!   is `NumericOverflow`.
//! - To DECIMAL(p, s): rounded to `s` places; more than `p - s` integer digits overflow.
//! - To REAL: the nearest float32.
//! - Character to character: VARCHAR(n) truncates, CHAR(n) truncates or blank-pads.
//!   Any other value to VARCHAR(n)/CHAR(n) whose text is longer than `n` is an error: the page
//!   shows `CAST(DATE '2008-08-23' AS VARCHAR(9))` selecting no row.
//! - Character to a number, date or time: the text is trimmed of blanks and parsed;
//!   text that does not parse is a `CastError`.
//! - A DAY-TIME INTERVAL to BIGINT or DECIMAL gives its milliseconds (intervals keep no
//!   qualifier here); TIME to TIMESTAMP is that time on 1970-01-01 (the engine has no clock).

use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Timelike};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::SqlError;
use crate::types::SqlType;
use crate::value::{parse_timestamp, Value};

use super::ops::{int_of_rank, num, Num, MS_PER_DAY};

fn refuse(v: &Value, ty: &SqlType) -> SqlError {
    SqlError::cast(format!("cannot cast {} to {ty}", v.kind()))
}

fn rank(ty: &SqlType) -> Option<u8> {
    Some(match ty {
        SqlType::TinyInt => 1,
        SqlType::SmallInt => 2,
        SqlType::Integer => 3,
        SqlType::BigInt => 4,
        _ => return None,
    })
}

/// Converts a value to a type, as `CAST(v AS ty)`. NULL casts to NULL.
pub fn cast(v: &Value, ty: &SqlType) -> Result<Value, SqlError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        SqlType::Char(n) | SqlType::Varchar(n) => to_char(v, ty, *n),
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => {
            let r = rank(ty).unwrap_or(4);
            let n = match v {
                Value::Char(s) | Value::Varchar(s) => parse_number(s, ty)?,
                Value::IntervalDayTime(ms) if r == 4 => Num::Int(*ms, 4),
                _ => num(v).ok_or_else(|| refuse(v, ty))?,
            };
            to_int(n, r)
        }
        SqlType::Decimal { precision, scale } => {
            let d = match v {
                Value::Char(s) | Value::Varchar(s) => parse_number(s, ty)?,
                Value::IntervalDayTime(ms) => Num::Int(*ms, 4),
                _ => num(v).ok_or_else(|| refuse(v, ty))?,
            };
            to_decimal(d, *precision, *scale)
        }
        SqlType::Real => match v {
            Value::Char(s) | Value::Varchar(s) => {
                Ok(Value::Real(parse_number(s, ty)?.to_f64() as f32))
            }
            _ => match num(v).ok_or_else(|| refuse(v, ty))? {
                Num::Real(f) => Ok(Value::Real(f)),
                other => Ok(Value::Real(other.to_f64() as f32)),
            },
        },
        SqlType::Double => match v {
            Value::Char(s) | Value::Varchar(s) => Ok(Value::Double(parse_number(s, ty)?.to_f64())),
            Value::Real(f) => Ok(Value::Double(f64::from(*f))),
            _ => Ok(Value::Double(num(v).ok_or_else(|| refuse(v, ty))?.to_f64())),
        },
        SqlType::Boolean => match v {
            Value::Boolean(b) => Ok(Value::Boolean(*b)),
            Value::Char(s) | Value::Varchar(s) => match s.trim().to_ascii_uppercase().as_str() {
                "TRUE" => Ok(Value::Boolean(true)),
                "FALSE" => Ok(Value::Boolean(false)),
                "UNKNOWN" => Ok(Value::Null),
                _ => Err(SqlError::cast(format!("{s:?} is not a BOOLEAN"))),
            },
            _ => Err(refuse(v, ty)),
        },
        SqlType::Date => match v {
            Value::Date(d) => Ok(Value::Date(*d)),
            Value::Timestamp(ms) => i32::try_from(ms.div_euclid(MS_PER_DAY))
                .map(Value::Date)
                .map_err(|_| SqlError::overflow("date out of range")),
            Value::Char(s) | Value::Varchar(s) => {
                let t = s.trim();
                let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| SqlError::cast(format!("{s:?} is not a DATE")))?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                Ok(Value::Date((d - epoch).num_days() as i32))
            }
            _ => Err(refuse(v, ty)),
        },
        SqlType::Time => match v {
            Value::Time(t) => Ok(Value::Time(*t)),
            Value::Timestamp(ms) => Ok(Value::Time(ms.rem_euclid(MS_PER_DAY) as u32)),
            Value::Char(s) | Value::Varchar(s) => {
                let t = s.trim();
                let tm = NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                    .map_err(|_| SqlError::cast(format!("{s:?} is not a TIME")))?;
                Ok(Value::Time(
                    tm.num_seconds_from_midnight() * 1000 + tm.nanosecond() / 1_000_000,
                ))
            }
            _ => Err(refuse(v, ty)),
        },
        SqlType::Timestamp => match v {
            Value::Timestamp(ms) => Ok(Value::Timestamp(*ms)),
            Value::Date(d) => Ok(Value::Timestamp(i64::from(*d) * MS_PER_DAY)),
            Value::Time(t) => Ok(Value::Timestamp(i64::from(*t))),
            Value::Char(s) | Value::Varchar(s) => parse_timestamp(s)
                .map(Value::Timestamp)
                .ok_or_else(|| SqlError::cast(format!("{s:?} is not a TIMESTAMP"))),
            _ => Err(refuse(v, ty)),
        },
        SqlType::IntervalDayTime => match v {
            Value::IntervalDayTime(ms) => Ok(Value::IntervalDayTime(*ms)),
            Value::Char(s) | Value::Varchar(s) => parse_day_time(s)
                .map(Value::IntervalDayTime)
                .ok_or_else(|| SqlError::cast(format!("{s:?} is not a day-time interval"))),
            _ => Err(refuse(v, ty)),
        },
        SqlType::IntervalYearMonth => match v {
            Value::IntervalYearMonth(m) => Ok(Value::IntervalYearMonth(*m)),
            _ => Err(refuse(v, ty)),
        },
        SqlType::Binary(n) | SqlType::Varbinary(n) => match v {
            Value::Binary(b) => {
                let n = *n as usize;
                let mut b = b.clone();
                if b.len() > n {
                    b.truncate(n);
                } else if matches!(ty, SqlType::Binary(_)) {
                    b.resize(n, 0);
                }
                Ok(Value::Binary(b))
            }
            _ => Err(refuse(v, ty)),
        },
    }
}

/// The text a value casts to (numbers as SQL prints them, datetimes in SQL's literal form).
fn text_of(v: &Value) -> String {
    if let Some(t) = super::datetime::interval_text(v) {
        return t;
    }
    match v {
        Value::Real(f) => java_float_text(f64::from(*f), format!("{f:?}"), format!("{f:e}")),
        Value::Double(f) => java_float_text(*f, format!("{f:?}"), format!("{f:e}")),
        other => other.to_string(),
    }
}

/// A float as Java's `Double.toString`/`Float.toString` spell it (KDA's engine was Java):
/// plain digits with at least one decimal between 10^-3 and 10^7 (`100.0`, `0.001`),
/// otherwise computerized scientific notation (`1.0E7`, `1.5E-4`); `NaN`, `Infinity`.
/// `plain` and `sci` are Rust's shortest round-trip forms (`{:?}`, `{:e}`) of the value.
pub(crate) fn java_float_text(f: f64, plain: String, sci: String) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        return plain;
    }
    // `sci` is like `1.5e-4` or `1e7`.
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

fn to_char(v: &Value, ty: &SqlType, n: u32) -> Result<Value, SqlError> {
    let n = n as usize;
    let fixed = matches!(ty, SqlType::Char(_));
    let (text, from_char) = match v {
        Value::Char(s) | Value::Varchar(s) => (s.clone(), true),
        Value::Binary(_) | Value::Row(_) => return Err(refuse(v, ty)),
        other => (text_of(other), false),
    };
    let len = text.chars().count();
    let text = if len > n {
        if !from_char {
            return Err(SqlError::cast(format!(
                "{} value {text:?} does not fit in {ty}",
                v.kind()
            )));
        }
        text.chars().take(n).collect()
    } else if fixed && len < n {
        let mut t = text;
        t.extend(std::iter::repeat_n(' ', n - len));
        t
    } else {
        text
    };
    Ok(if fixed {
        Value::Char(text)
    } else {
        Value::Varchar(text)
    })
}

/// A number read from text for a cast to `ty`: integers exactly, decimals exactly, anything
/// else (exponents, `NaN`, `Infinity`) as a double.
fn parse_number(s: &str, ty: &SqlType) -> Result<Num, SqlError> {
    let t = s.trim();
    let bad = || SqlError::cast(format!("{s:?} is not a valid {ty}"));
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Num::Int(i, 4));
    }
    if let Ok(d) = Decimal::from_str(t) {
        return Ok(Num::Dec(d));
    }
    if let Ok(d) = Decimal::from_scientific(t) {
        if !matches!(ty, SqlType::Real | SqlType::Double) {
            return Ok(Num::Dec(d));
        }
    }
    match t.parse::<f64>() {
        Ok(f) => Ok(Num::Double(f)),
        Err(_) => Err(bad()),
    }
}

fn to_int(n: Num, rank: u8) -> Result<Value, SqlError> {
    let over = || SqlError::overflow("value out of range for the integer type");
    let i = match n {
        Num::Int(i, _) => i,
        Num::Dec(d) => d
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            .to_i64()
            .ok_or_else(over)?,
        Num::Real(_) | Num::Double(_) => {
            let f = n.to_f64().round();
            if !f.is_finite() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                return Err(over());
            }
            f as i64
        }
    };
    int_of_rank(i, rank)
}

fn to_decimal(n: Num, precision: u8, scale: u8) -> Result<Value, SqlError> {
    let over = || {
        SqlError::overflow(format!(
            "value does not fit in DECIMAL({precision},{scale})"
        ))
    };
    let d = match n {
        Num::Int(i, _) => Decimal::from(i),
        Num::Dec(d) => d,
        Num::Real(f) => Decimal::from_f32(f).ok_or_else(over)?,
        Num::Double(f) => Decimal::from_f64(f).ok_or_else(over)?,
    };
    let mut r = d.round_dp_with_strategy(u32::from(scale), RoundingStrategy::MidpointAwayFromZero);
    let int_digits = r.trunc().abs().to_string().trim_start_matches('0').len();
    if int_digits > usize::from(precision.saturating_sub(scale)) {
        return Err(over());
    }
    r.rescale(u32::from(scale));
    Ok(Value::Decimal(r))
}

/// `[+-]D HH:MM:SS[.fff]`, `HH:MM:SS[.fff]`, `MM:SS`, or a count of seconds.
fn parse_day_time(s: &str) -> Option<i64> {
    let t = s.trim();
    let (sign, t) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let (days, clock) = match t.split_once(' ') {
        Some((d, c)) => (d.trim().parse::<i64>().ok()?, c.trim()),
        None => (0, t),
    };
    let secs = |p: &str| -> Option<i64> {
        let f: f64 = p.parse().ok()?;
        let ms = (f * 1000.0).round();
        (f.is_finite() && ms.abs() < 9.0e15).then_some(ms as i64)
    };
    let unit = |p: &str, ms: i64| p.parse::<i64>().ok()?.checked_mul(ms);
    let parts: Vec<&str> = clock.split(':').collect();
    let ms = match parts.as_slice() {
        [s] => secs(s)?,
        [m, s] => unit(m, 60_000)?.checked_add(secs(s)?)?,
        [h, m, s] => unit(h, 3_600_000)?
            .checked_add(unit(m, 60_000)?)?
            .checked_add(secs(s)?)?,
        _ => return None,
    };
    days.checked_mul(MS_PER_DAY)?
        .checked_add(ms)?
        .checked_mul(sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SqlType {
        SqlType::parse(s).expect("type")
    }
    fn v(s: &str) -> Value {
        Value::Varchar(s.into())
    }
    fn d(s: &str) -> Value {
        Value::Decimal(s.parse::<Decimal>().expect("decimal"))
    }

    /// The CAST page's examples
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-cast.html>).
    #[test]
    fn cast_page_examples() {
        let date = Value::Date(14114); // 2008-08-23
        assert_eq!(cast(&date, &t("VARCHAR(10)")), Ok(v("2008-08-23")));
        // "if an inadequate output specification is supplied, no rows are selected"
        assert_eq!(
            cast(&date, &t("VARCHAR(9)")).expect_err("too short").name,
            "CastError"
        );
        // CHAR is blank-padded on the right.
        assert_eq!(
            cast(&date, &t("CHAR(16)")),
            Ok(Value::Char("2008-08-23      ".into()))
        );
        // "The real (NUMERIC or DECIMAL) is rounded by the cast": -2 from -1.5 half away
        // from zero, and from -2.4.
        assert_eq!(cast(&d("-1.5"), &t("INTEGER")), Ok(Value::Integer(-2)));
        assert_eq!(
            cast(&Value::Double(-2.4), &t("INTEGER")),
            Ok(Value::Integer(-2))
        );
        // STRING to TIMESTAMP with CAST
        assert_eq!(
            cast(&v("2007-02-19 21:25:35"), &t("TIMESTAMP")),
            Ok(Value::Timestamp(1_171_920_335_000))
        );
        assert_eq!(
            cast(&v("2007-02-19 21:23:45.123"), &t("TIMESTAMP")),
            Ok(Value::Timestamp(1_171_920_225_123))
        );
        assert!(cast(&v("2007-02-19 xx"), &t("TIMESTAMP")).is_err());
    }

    #[test]
    fn the_table_refuses_other_pairs() {
        assert!(cast(&Value::Boolean(true), &t("INTEGER")).is_err());
        assert!(cast(&Value::Date(0), &t("TIME")).is_err());
        assert!(cast(&Value::Integer(1), &t("TIMESTAMP")).is_err());
        assert!(cast(&Value::Binary(vec![1]), &t("VARCHAR(4)")).is_err());
        assert_eq!(cast(&Value::Null, &t("INTEGER")), Ok(Value::Null));
    }

    #[test]
    fn numbers_convert_with_rounding_and_overflow() {
        assert_eq!(cast(&v(" 42 "), &t("INTEGER")), Ok(Value::Integer(42)));
        assert_eq!(cast(&v("2.5"), &t("INTEGER")), Ok(Value::Integer(3)));
        assert_eq!(
            cast(&v("x"), &t("INTEGER")).expect_err("bad").name,
            "CastError"
        );
        assert_eq!(
            cast(&Value::Integer(300), &t("TINYINT"))
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
        assert_eq!(
            cast(&Value::Double(1.005), &t("DECIMAL(5,1)")),
            Ok(d("1.0"))
        );
        assert_eq!(cast(&d("12.345"), &t("DECIMAL(5,2)")), Ok(d("12.35")));
        assert_eq!(
            cast(&d("1234.5"), &t("DECIMAL(5,2)"))
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
        assert_eq!(cast(&Value::Double(0.1), &t("REAL")), Ok(Value::Real(0.1)));
        assert_eq!(cast(&v("1e3"), &t("DOUBLE")), Ok(Value::Double(1000.0)));
        assert_eq!(cast(&Value::Integer(7), &t("VARCHAR(4)")), Ok(v("7")));
        assert_eq!(cast(&Value::Double(1.5), &t("VARCHAR(8)")), Ok(v("1.5")));
        // Java's Double.toString / Float.toString spellings.
        for (d, text) in [
            (100.0, "100.0"),
            (0.001, "0.001"),
            (1e7, "1.0E7"),
            (1.5e-4, "1.5E-4"),
            (-2.5e10, "-2.5E10"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(
                cast(&Value::Double(d), &t("VARCHAR(12)")),
                Ok(v(text)),
                "{d}"
            );
        }
        assert_eq!(cast(&Value::Real(0.1), &t("VARCHAR(12)")), Ok(v("0.1")));
        assert_eq!(cast(&Value::Real(3e10), &t("VARCHAR(12)")), Ok(v("3.0E10")));
        assert!(cast(&Value::Integer(12345), &t("VARCHAR(4)")).is_err());
        assert_eq!(cast(&d("2.50"), &t("VARCHAR(8)")), Ok(v("2.50")));
    }

    #[test]
    fn strings_truncate_and_pad() {
        assert_eq!(cast(&v("abcdef"), &t("VARCHAR(3)")), Ok(v("abc")));
        assert_eq!(
            cast(&v("ab"), &t("CHAR(4)")),
            Ok(Value::Char("ab  ".into()))
        );
        assert_eq!(
            cast(&v("abcdef"), &t("CHAR(2)")),
            Ok(Value::Char("ab".into()))
        );
        assert_eq!(cast(&Value::Boolean(true), &t("VARCHAR(5)")), Ok(v("TRUE")));
        assert_eq!(cast(&v("false"), &t("BOOLEAN")), Ok(Value::Boolean(false)));
    }

    #[test]
    fn datetimes_convert() {
        let ts = Value::Timestamp(1_171_920_335_123);
        assert_eq!(cast(&ts, &t("DATE")), Ok(Value::Date(13563)));
        assert_eq!(cast(&ts, &t("TIME")), Ok(Value::Time(77_135_123)));
        assert_eq!(
            cast(&Value::Date(1), &t("TIMESTAMP")),
            Ok(Value::Timestamp(MS_PER_DAY))
        );
        assert_eq!(cast(&v("2008-08-23"), &t("DATE")), Ok(Value::Date(14114)));
        assert_eq!(
            cast(&v("12:03:34"), &t("TIME")),
            Ok(Value::Time(43_414_000))
        );
        assert_eq!(
            cast(&ts, &t("VARCHAR(32)")),
            Ok(v("2007-02-19 21:25:35.123"))
        );
        assert_eq!(
            cast(&v("1 01:01:01.001"), &t("INTERVAL DAY TO SECOND")),
            Ok(Value::IntervalDayTime(90_061_001))
        );
        assert_eq!(
            cast(&Value::IntervalDayTime(1500), &t("BIGINT")),
            Ok(Value::BigInt(1500))
        );
        assert_eq!(
            cast(&Value::IntervalDayTime(90_061_001), &t("VARCHAR(20)")),
            Ok(v("+1 01:01:01.001"))
        );
        // The ABS page: CAST(ABS(INTERVAL '-3 4:20' DAY TO MINUTE) AS VARCHAR(8)) = +3 04:20.
        assert_eq!(
            cast(&Value::IntervalDayTime(274_800_000), &t("VARCHAR(8)")),
            Ok(v("+3 04:20"))
        );
    }
}
