//! One SQL value of the KDA dialect, and rows of them.
//!
//! Values carry their own kind (the variant) so functions and operators can check it; lengths,
//! precisions and scales live in the column's [`SqlType`]. Every value is serialisable because
//! window state (rows held by sliding windows, groups of tumbling windows) is checkpointed.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::types::SqlType;

/// One SQL value. `Null` has no kind of its own: a NULL column takes its column's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    TinyInt(i8),
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Decimal(Decimal),
    /// REAL is float32: arithmetic on it rounds to float32, as the docs' examples show.
    Real(f32),
    Double(f64),
    /// CHAR(n): already padded to its length.
    Char(String),
    Varchar(String),
    Binary(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(u32),
    /// Milliseconds since the Unix epoch, UTC (TIMESTAMP keeps milliseconds).
    Timestamp(i64),
    /// A day-time interval in milliseconds.
    IntervalDayTime(i64),
    /// A year-month interval in months.
    IntervalYearMonth(i32),
    /// A row value: what the log-parsing functions return (`COLUMN1`, `COLUMN2`, ...), read
    /// with `(f(...)).COLUMN1` or spread into a stream's columns.
    Row(Vec<(String, Value)>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string inside CHAR or VARCHAR.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Char(s) | Value::Varchar(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an exact integer type, widened.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::TinyInt(v) => Some(i64::from(*v)),
            Value::SmallInt(v) => Some(i64::from(*v)),
            Value::Integer(v) => Some(i64::from(*v)),
            Value::BigInt(v) => Some(*v),
            _ => None,
        }
    }

    /// Any numeric value as a double (for AVG, STDDEV and mixed arithmetic).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(v) => Some(f64::from(*v)),
            Value::Double(v) => Some(*v),
            Value::Decimal(d) => rust_decimal::prelude::ToPrimitive::to_f64(d),
            other => other.as_i64().map(|v| v as f64),
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Boolean(_) => "BOOLEAN",
            Value::TinyInt(_) => "TINYINT",
            Value::SmallInt(_) => "SMALLINT",
            Value::Integer(_) => "INTEGER",
            Value::BigInt(_) => "BIGINT",
            Value::Decimal(_) => "DECIMAL",
            Value::Real(_) => "REAL",
            Value::Double(_) => "DOUBLE",
            Value::Char(_) => "CHAR",
            Value::Varchar(_) => "VARCHAR",
            Value::Binary(_) => "VARBINARY",
            Value::Date(_) => "DATE",
            Value::Time(_) => "TIME",
            Value::Timestamp(_) => "TIMESTAMP",
            Value::IntervalDayTime(_) => "INTERVAL DAY TO SECOND",
            Value::IntervalYearMonth(_) => "INTERVAL YEAR TO MONTH",
            Value::Row(_) => "ROW",
        }
    }

    /// Whether a value of this kind may be stored in a column of `ty` without a cast.
    pub fn fits(&self, ty: &SqlType) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _)
                | (Value::Boolean(_), SqlType::Boolean)
                | (Value::TinyInt(_), SqlType::TinyInt)
                | (Value::SmallInt(_), SqlType::SmallInt)
                | (Value::Integer(_), SqlType::Integer)
                | (Value::BigInt(_), SqlType::BigInt)
                | (Value::Decimal(_), SqlType::Decimal { .. })
                | (Value::Real(_), SqlType::Real)
                | (Value::Double(_), SqlType::Double)
                | (Value::Char(_), SqlType::Char(_))
                | (Value::Varchar(_), SqlType::Varchar(_))
                | (Value::Binary(_), SqlType::Binary(_) | SqlType::Varbinary(_))
                | (Value::Date(_), SqlType::Date)
                | (Value::Time(_), SqlType::Time)
                | (Value::Timestamp(_), SqlType::Timestamp)
                | (Value::IntervalDayTime(_), SqlType::IntervalDayTime)
                | (Value::IntervalYearMonth(_), SqlType::IntervalYearMonth)
        )
    }

    /// SQL comparison: `None` when either side is NULL or the kinds cannot be compared.
    /// Numbers compare by value across kinds; CHAR and VARCHAR compare with trailing blanks
    /// ignored (PAD SPACE), as SQL's character comparison does.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (Boolean(a), Boolean(b)) => Some(a.cmp(b)),
            (Char(_) | Varchar(_), Char(_) | Varchar(_)) => {
                let a = self.as_str().unwrap_or_default().trim_end_matches(' ');
                let b = other.as_str().unwrap_or_default().trim_end_matches(' ');
                Some(a.cmp(b))
            }
            (Binary(a), Binary(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (IntervalDayTime(a), IntervalDayTime(b)) => Some(a.cmp(b)),
            (IntervalYearMonth(a), IntervalYearMonth(b)) => Some(a.cmp(b)),
            (Decimal(a), Decimal(b)) => Some(a.cmp(b)),
            _ => {
                if let (Some(a), Some(b)) = (self.as_i64(), other.as_i64()) {
                    return Some(a.cmp(&b));
                }
                if let (Some(a), Some(b)) = (exact(self), exact(other)) {
                    return Some(a.cmp(&b));
                }
                let (a, b) = (self.as_f64()?, other.as_f64()?);
                a.partial_cmp(&b)
            }
        }
    }

    /// The value as the test command prints it: numbers as JSON numbers, strings as strings,
    /// timestamps as ISO-8601 UTC with milliseconds, NULL as `null`. A non-finite float has
    /// no JSON number and prints as the string SQL would cast it to (`"NaN"`, `"Infinity"`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Boolean(b) => J::Bool(*b),
            Value::TinyInt(_) | Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_) => {
                J::from(self.as_i64().unwrap_or_default())
            }
            Value::Decimal(d) => serde_json::from_str::<serde_json::Number>(&d.to_string())
                .map(J::Number)
                .unwrap_or_else(|_| J::String(d.to_string())),
            Value::Real(v) => float_json(f64::from(*v), || format!("{v:?}")),
            Value::Double(v) => float_json(*v, || format!("{v:?}")),
            Value::Timestamp(ms) => J::String(format_timestamp(*ms, true)),
            Value::Row(cols) => J::Object(
                cols.iter()
                    .map(|(name, v)| (name.clone(), v.to_json()))
                    .collect(),
            ),
            other => J::String(other.to_string()),
        }
    }
}

/// A REAL printed through its own shortest decimal form (so 0.1f32 prints 0.1, not
/// 0.10000000149011612); a double as is.
fn float_json(v: f64, shortest: impl Fn() -> String) -> serde_json::Value {
    if !v.is_finite() {
        return serde_json::Value::String(if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        });
    }
    serde_json::from_str::<serde_json::Number>(&shortest())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Integers and decimals as an exact decimal, so mixed comparisons do not go through floats.
fn exact(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(*d),
        other => other.as_i64().map(Decimal::from),
    }
}

/// Formats milliseconds since the epoch as `2019-01-01 10:00:00.000`-style SQL text, or as
/// ISO-8601 with `T` and `Z` when `iso` is set.
pub fn format_timestamp(ms: i64, iso: bool) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if iso => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => format!("{ms}ms"),
    }
}

/// Parses the test command's and the docs' timestamp spellings: `2019-01-01T10:00:00.000Z`,
/// `2019-01-01 10:00:00`, with 0 to 9 fraction digits (kept to the millisecond), an optional
/// `Z` or offset. `None` when it is none of them.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    let t = t.strip_suffix('Z').unwrap_or(t);
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
        if fmt == "%Y-%m-%d" {
            if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
                return d
                    .and_hms_opt(0, 0, 0)
                    .map(|dt| dt.and_utc().timestamp_millis());
            }
        }
    }
    None
}

impl fmt::Display for Value {
    /// SQL's text form of a value (what CAST to VARCHAR gives and what `error_stream`'s
    /// `DATA_ROW` shows).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Value::TinyInt(v) => write!(f, "{v}"),
            Value::SmallInt(v) => write!(f, "{v}"),
            Value::Integer(v) => write!(f, "{v}"),
            Value::BigInt(v) => write!(f, "{v}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Real(v) => write!(f, "{v:?}"),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Char(s) | Value::Varchar(s) => f.write_str(s),
            Value::Binary(b) => {
                for byte in b {
                    write!(f, "{byte:02X}")?;
                }
                Ok(())
            }
            Value::Date(days) => {
                let d = NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|e| e.checked_add_signed(chrono::Duration::days(i64::from(*days))));
                match d {
                    Some(d) => write!(f, "{}", d.format("%Y-%m-%d")),
                    None => write!(f, "{days}d"),
                }
            }
            Value::Time(ms) => {
                match NaiveTime::from_num_seconds_from_midnight_opt(
                    ms / 1000,
                    (ms % 1000) * 1_000_000,
                ) {
                    Some(t) => write!(f, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
                    None => write!(f, "{ms}ms"),
                }
            }
            Value::Timestamp(ms) => f.write_str(&format_timestamp(*ms, false)),
            Value::IntervalDayTime(ms) => {
                let sign = if *ms < 0 { "-" } else { "" };
                let a = ms.unsigned_abs();
                let (days, rem) = (a / 86_400_000, a % 86_400_000);
                let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
                let (m, rem) = (rem / 60_000, rem % 60_000);
                write!(
                    f,
                    "{sign}{days} {h:02}:{m:02}:{:02}.{:03}",
                    rem / 1000,
                    rem % 1000
                )
            }
            Value::IntervalYearMonth(months) => {
                let sign = if *months < 0 { "-" } else { "" };
                let a = months.unsigned_abs();
                write!(f, "{sign}{}-{:02}", a / 12, a % 12)
            }
            Value::Row(cols) => {
                f.write_str("(")?;
                for (i, (_, v)) in cols.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_is_sql_comparison() {
        assert_eq!(
            Value::Integer(3).sql_cmp(&Value::BigInt(3)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            Value::Integer(3).sql_cmp(&Value::Double(3.5)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Null.sql_cmp(&Value::Null), None);
        assert_eq!(
            Value::Char("ab  ".into()).sql_cmp(&Value::Varchar("ab".into())),
            Some(Ordering::Equal)
        );
        assert_eq!(
            Value::Decimal(Decimal::new(15, 1)).sql_cmp(&Value::Integer(2)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Varchar("a".into()).sql_cmp(&Value::Integer(1)), None);
    }

    #[test]
    fn json_output_is_typed() {
        assert_eq!(Value::Real(0.1).to_json().to_string(), "0.1");
        assert_eq!(Value::Double(100.0).to_json().to_string(), "100.0");
        assert_eq!(Value::Integer(7).to_json().to_string(), "7");
        assert_eq!(
            Value::Timestamp(1_546_336_800_000).to_json(),
            serde_json::json!("2019-01-01T10:00:00.000Z")
        );
        assert_eq!(Value::Double(f64::NAN).to_json(), serde_json::json!("NaN"));
        assert_eq!(
            Value::Decimal(Decimal::new(1250, 2)).to_json().to_string(),
            "12.5"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        let ms = parse_timestamp("2019-01-01T10:00:00.000Z").expect("iso");
        assert_eq!(format_timestamp(ms, true), "2019-01-01T10:00:00.000Z");
        assert_eq!(parse_timestamp("2019-01-01 10:00:00"), Some(ms));
        assert_eq!(
            parse_timestamp("2019-01-01 10:00:00.123456"),
            Some(ms + 123)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn intervals_print_as_sql() {
        assert_eq!(
            Value::IntervalDayTime(90_061_001).to_string(),
            "1 01:01:01.001"
        );
        assert_eq!(Value::IntervalYearMonth(-14).to_string(), "-1-02");
    }
}
