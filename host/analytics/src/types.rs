//! The SQL types of the KDA dialect, as column declarations and `InputSchema` `SqlType`
//! strings spell them (`VARCHAR(8)`, `DECIMAL(8,2)`, `TIMESTAMP`, `INTERVAL DAY TO SECOND`).
//!
//! One parser for both places, so a type a stream declares and a type an input schema maps
//! cannot be read two ways.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A column's declared type. Lengths and precisions are kept because they change values:
/// CHAR pads, VARCHAR truncates on CAST, DECIMAL rounds to its scale.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SqlType {
    Boolean,
    TinyInt,
    SmallInt,
    Integer,
    BigInt,
    /// `DECIMAL(precision, scale)`; `DECIMAL` alone is `DECIMAL(19, 0)` (SQLstream's default).
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// 32-bit IEEE float.
    Real,
    /// 64-bit IEEE float (`DOUBLE`, `DOUBLE PRECISION`, `FLOAT`).
    Double,
    /// `CHAR(n)`: fixed length, blank-padded; `CHAR` alone is `CHAR(1)`.
    Char(u32),
    /// `VARCHAR(n)`: at most `n` characters.
    Varchar(u32),
    /// `BINARY(n)`.
    Binary(u32),
    /// `VARBINARY(n)`.
    Varbinary(u32),
    Date,
    Time,
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp,
    /// A day-time interval (`INTERVAL DAY TO SECOND`, `INTERVAL MINUTE`, ...), in milliseconds.
    IntervalDayTime,
    /// A year-month interval (`INTERVAL YEAR TO MONTH`, ...), in months.
    IntervalYearMonth,
}

/// The longest CHAR/VARCHAR the dialect takes (SQLstream: 65,535 bytes).
pub const MAX_CHAR_LENGTH: u32 = 65_535;

/// A type name that is not one of the dialect's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypeError(pub String);

impl SqlType {
    /// Parses a type as written in SQL or an `InputSchema` (`SqlType`), case-insensitively.
    /// Extra blanks are allowed (`VARCHAR ( 8 )`, `DOUBLE  PRECISION`).
    pub fn parse(text: &str) -> Result<SqlType, TypeError> {
        let norm = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let upper = norm.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("INTERVAL ") {
            return interval_type(rest)
                .ok_or_else(|| TypeError(format!("unknown interval qualifier in type {text:?}")));
        }
        let (name, args) = match upper.find('(') {
            Some(open) => {
                let close = upper
                    .rfind(')')
                    .filter(|c| *c > open && upper[c + 1..].trim().is_empty())
                    .ok_or_else(|| TypeError(format!("unbalanced parentheses in type {text:?}")))?;
                let args = upper[open + 1..close]
                    .split(',')
                    .map(|a| {
                        a.trim().parse::<u32>().map_err(|_| {
                            TypeError(format!(
                                "type {text:?}: {:?} is not a length or precision",
                                a.trim()
                            ))
                        })
                    })
                    .collect::<Result<Vec<u32>, _>>()?;
                (upper[..open].trim().to_string(), args)
            }
            None => (upper.clone(), Vec::new()),
        };
        let no_args = |t: SqlType| {
            if args.is_empty() {
                Ok(t)
            } else {
                Err(TypeError(format!("type {name} takes no length: {text:?}")))
            }
        };
        let length = |default: u32| -> Result<u32, TypeError> {
            match args.as_slice() {
                [] => Ok(default),
                [n] if *n >= 1 && *n <= MAX_CHAR_LENGTH => Ok(*n),
                [n] => Err(TypeError(format!(
                    "type {text:?}: length {n} is outside 1..={MAX_CHAR_LENGTH}"
                ))),
                _ => Err(TypeError(format!("type {text:?} takes one length"))),
            }
        };
        match name.as_str() {
            "BOOLEAN" => no_args(SqlType::Boolean),
            "TINYINT" => no_args(SqlType::TinyInt),
            "SMALLINT" => no_args(SqlType::SmallInt),
            "INTEGER" | "INT" => no_args(SqlType::Integer),
            "BIGINT" => no_args(SqlType::BigInt),
            "REAL" => no_args(SqlType::Real),
            "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" => no_args(SqlType::Double),
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (precision, scale) = match args.as_slice() {
                    [] => (19, 0),
                    [p] => (*p, 0),
                    [p, s] => (*p, *s),
                    _ => return Err(TypeError(format!("type {text:?} takes (precision, scale)"))),
                };
                if !(1..=28).contains(&precision) || scale > precision {
                    return Err(TypeError(format!(
                        "type {text:?}: precision must be 1..=28 and scale at most the precision"
                    )));
                }
                Ok(SqlType::Decimal {
                    precision: precision as u8,
                    scale: scale as u8,
                })
            }
            "CHAR" | "CHARACTER" => Ok(SqlType::Char(length(1)?)),
            "VARCHAR" | "CHARACTER VARYING" | "CHAR VARYING" => match args.as_slice() {
                [] => Err(TypeError(format!("type {text:?}: VARCHAR needs a length"))),
                _ => Ok(SqlType::Varchar(length(1)?)),
            },
            "BINARY" => Ok(SqlType::Binary(length(1)?)),
            "VARBINARY" => match args.as_slice() {
                [] => Err(TypeError(format!(
                    "type {text:?}: VARBINARY needs a length"
                ))),
                _ => Ok(SqlType::Varbinary(length(1)?)),
            },
            "DATE" => no_args(SqlType::Date),
            "TIME" => no_args(SqlType::Time),
            "TIMESTAMP" => no_args(SqlType::Timestamp),
            _ => Err(TypeError(format!("unknown SQL type {text:?}"))),
        }
    }

    /// True for the numeric types (arithmetic and numeric aggregates take them).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::TinyInt
                | SqlType::SmallInt
                | SqlType::Integer
                | SqlType::BigInt
                | SqlType::Decimal { .. }
                | SqlType::Real
                | SqlType::Double
        )
    }

    /// True for CHAR and VARCHAR.
    pub fn is_character(&self) -> bool {
        matches!(self, SqlType::Char(_) | SqlType::Varchar(_))
    }
}

/// `DAY`, `DAY TO SECOND`, `YEAR TO MONTH`, `MINUTE(2) TO SECOND(3)`... Precisions are read
/// and dropped: values are kept in milliseconds or months whatever the qualifier.
fn interval_type(qualifier: &str) -> Option<SqlType> {
    let strip = |s: &str| -> String {
        match s.find('(') {
            Some(i) => s[..i].trim().to_string(),
            None => s.trim().to_string(),
        }
    };
    let parts: Vec<String> = qualifier.split(" TO ").map(strip).collect();
    let year_month = |u: &str| matches!(u, "YEAR" | "MONTH");
    let day_time = |u: &str| matches!(u, "DAY" | "HOUR" | "MINUTE" | "SECOND");
    match parts.as_slice() {
        [u] if year_month(u) => Some(SqlType::IntervalYearMonth),
        [u] if day_time(u) => Some(SqlType::IntervalDayTime),
        [a, b] if year_month(a) && year_month(b) => Some(SqlType::IntervalYearMonth),
        [a, b] if day_time(a) && day_time(b) => Some(SqlType::IntervalDayTime),
        _ => None,
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::TinyInt => f.write_str("TINYINT"),
            SqlType::SmallInt => f.write_str("SMALLINT"),
            SqlType::Integer => f.write_str("INTEGER"),
            SqlType::BigInt => f.write_str("BIGINT"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            SqlType::Real => f.write_str("REAL"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Char(n) => write!(f, "CHAR({n})"),
            SqlType::Varchar(n) => write!(f, "VARCHAR({n})"),
            SqlType::Binary(n) => write!(f, "BINARY({n})"),
            SqlType::Varbinary(n) => write!(f, "VARBINARY({n})"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Time => f.write_str("TIME"),
            SqlType::Timestamp => f.write_str("TIMESTAMP"),
            SqlType::IntervalDayTime => f.write_str("INTERVAL DAY TO SECOND"),
            SqlType::IntervalYearMonth => f.write_str("INTERVAL YEAR TO MONTH"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_schema_spellings_parse() {
        assert_eq!(SqlType::parse("VARCHAR(4)"), Ok(SqlType::Varchar(4)));
        assert_eq!(SqlType::parse("varchar ( 16 )"), Ok(SqlType::Varchar(16)));
        assert_eq!(
            SqlType::parse("DECIMAL(8,2)"),
            Ok(SqlType::Decimal {
                precision: 8,
                scale: 2
            })
        );
        assert_eq!(SqlType::parse("DOUBLE"), Ok(SqlType::Double));
        assert_eq!(SqlType::parse("double  precision"), Ok(SqlType::Double));
        assert_eq!(SqlType::parse("REAL"), Ok(SqlType::Real));
        assert_eq!(SqlType::parse("INTEGER"), Ok(SqlType::Integer));
        assert_eq!(SqlType::parse("TIMESTAMP"), Ok(SqlType::Timestamp));
        assert_eq!(SqlType::parse("CHAR"), Ok(SqlType::Char(1)));
        assert_eq!(
            SqlType::parse("INTERVAL DAY TO SECOND"),
            Ok(SqlType::IntervalDayTime)
        );
        assert_eq!(
            SqlType::parse("INTERVAL MINUTE(2) TO SECOND(3)"),
            Ok(SqlType::IntervalDayTime)
        );
        assert_eq!(
            SqlType::parse("INTERVAL YEAR TO MONTH"),
            Ok(SqlType::IntervalYearMonth)
        );
    }

    #[test]
    fn wrong_types_say_what_is_wrong() {
        for bad in [
            "VARCHAR",
            "VARCHAR(0)",
            "VARCHAR(x)",
            "INTEGER(4)",
            "DECIMAL(3,4)",
            "STRING",
            "VARCHAR(4",
            "INTERVAL WEEK",
        ] {
            let e = SqlType::parse(bad).expect_err(bad);
            assert!(!e.0.is_empty(), "{bad}");
        }
    }

    #[test]
    fn display_parses_back() {
        for t in [
            SqlType::Varchar(9),
            SqlType::Decimal {
                precision: 10,
                scale: 3,
            },
            SqlType::IntervalDayTime,
            SqlType::IntervalYearMonth,
            SqlType::Char(2),
            SqlType::Timestamp,
        ] {
            assert_eq!(SqlType::parse(&t.to_string()), Ok(t.clone()));
        }
    }
}
