//! The Hive column types of a format conversion table: the one parser both the config check
//! and the Parquet writer use, so a type the config accepts is a type the writer writes.
//! Complex types (`array<...>`, `map<...>`, `struct<...>`) are not supported yet.

use std::fmt;

use thiserror::Error;

/// The most digits of a Hive decimal.
pub const MAX_DECIMAL_PRECISION: u8 = 38;
/// The longest `varchar(n)`.
pub const MAX_VARCHAR_LENGTH: u32 = 65_535;
/// The longest `char(n)`.
pub const MAX_CHAR_LENGTH: u32 = 255;

/// The types [`HiveType::parse`] accepts, for messages.
pub const HIVE_TYPES: &str = "one of `string`, `varchar(N)`, `char(N)`, `tinyint`, `smallint`, \
    `int`, `integer`, `bigint`, `float`, `double`, `double precision`, `boolean`, `timestamp`, \
    `date`, `decimal`, `decimal(P)`, `decimal(P,S)`, `numeric` as `decimal` (any case)";

/// A column type Weir can write, parsed from its Hive spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiveType {
    String,
    /// Longer values are cut to this many characters, as Hive does.
    Varchar(u32),
    /// Cut to this many characters; trailing spaces are not stored (Hive pads on read).
    Char(u32),
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Boolean,
    Timestamp,
    Date,
    Decimal {
        precision: u8,
        scale: u8,
    },
}

/// Why a spelling is not a [`HiveType`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HiveTypeError {
    #[error("unknown type {0:?}")]
    Unknown(String),
    #[error("{name} length {length} is out of range 1..={max}")]
    Length {
        name: &'static str,
        length: u64,
        max: u32,
    },
    #[error("decimal({precision},{scale}) is out of range (precision 1..={MAX_DECIMAL_PRECISION}, scale 0..=precision)")]
    Decimal { precision: u64, scale: u64 },
}

impl HiveType {
    /// Parses a Hive type as written in a table, case-insensitively and ignoring spaces
    /// around it and its arguments: `int`, `VARCHAR(10)`, `decimal( 10 , 2 )`. `integer`,
    /// `double precision` and `numeric` are Hive's synonyms of `int`, `double` and `decimal`;
    /// a bare `decimal` is Hive's `decimal(10,0)`.
    pub fn parse(spelled: &str) -> Result<HiveType, HiveTypeError> {
        let t = spelled.trim().to_ascii_lowercase();
        let unknown = || HiveTypeError::Unknown(spelled.trim().to_owned());
        let simple = match t.as_str() {
            "string" => Some(HiveType::String),
            "tinyint" => Some(HiveType::TinyInt),
            "smallint" => Some(HiveType::SmallInt),
            "int" | "integer" => Some(HiveType::Int),
            "bigint" => Some(HiveType::BigInt),
            "float" => Some(HiveType::Float),
            "double" | "double precision" => Some(HiveType::Double),
            "boolean" => Some(HiveType::Boolean),
            "timestamp" => Some(HiveType::Timestamp),
            "date" => Some(HiveType::Date),
            "decimal" | "numeric" => Some(HiveType::Decimal {
                precision: 10,
                scale: 0,
            }),
            _ => None,
        };
        if let Some(simple) = simple {
            return Ok(simple);
        }
        let (name, args) = t.split_once('(').ok_or_else(unknown)?;
        let args: Vec<Option<u64>> = args
            .strip_suffix(')')
            .ok_or_else(unknown)?
            .split(',')
            .map(|a| a.trim().parse().ok())
            .collect();
        match (name.trim(), args.as_slice()) {
            ("varchar", [Some(n)]) => {
                length("varchar", *n, MAX_VARCHAR_LENGTH).map(HiveType::Varchar)
            }
            ("char", [Some(n)]) => length("char", *n, MAX_CHAR_LENGTH).map(HiveType::Char),
            ("decimal" | "numeric", [Some(p)]) => decimal(*p, 0),
            ("decimal" | "numeric", [Some(p), Some(s)]) => decimal(*p, *s),
            _ => Err(unknown()),
        }
    }
}

fn length(name: &'static str, n: u64, max: u32) -> Result<u32, HiveTypeError> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or(HiveTypeError::Length {
            name,
            length: n,
            max,
        })
}

fn decimal(precision: u64, scale: u64) -> Result<HiveType, HiveTypeError> {
    let p = u8::try_from(precision)
        .ok()
        .filter(|p| (1..=MAX_DECIMAL_PRECISION).contains(p));
    match (p, u8::try_from(scale)) {
        (Some(p), Ok(s)) if s <= p => Ok(HiveType::Decimal {
            precision: p,
            scale: s,
        }),
        _ => Err(HiveTypeError::Decimal { precision, scale }),
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::String => f.write_str("string"),
            HiveType::Varchar(n) => write!(f, "varchar({n})"),
            HiveType::Char(n) => write!(f, "char({n})"),
            HiveType::TinyInt => f.write_str("tinyint"),
            HiveType::SmallInt => f.write_str("smallint"),
            HiveType::Int => f.write_str("int"),
            HiveType::BigInt => f.write_str("bigint"),
            HiveType::Float => f.write_str("float"),
            HiveType::Double => f.write_str("double"),
            HiveType::Boolean => f.write_str("boolean"),
            HiveType::Timestamp => f.write_str("timestamp"),
            HiveType::Date => f.write_str("date"),
            HiveType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
        }
    }
}

/// One column of a conversion table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiveColumn {
    /// Lowercased: Hive and Glue column names are case-insensitive and stored in lower case.
    pub name: String,
    pub hive_type: HiveType,
}

/// Why a table's columns cannot be converted to; Firehose refuses these when the delivery
/// stream is created or updated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HiveSchemaError {
    #[error("column {column:?}: unsupported type {hive_type:?}: {reason}")]
    UnsupportedType {
        column: String,
        hive_type: String,
        reason: HiveTypeError,
    },
    #[error("a column has an empty name")]
    EmptyName,
    /// Column names are case-insensitive, so `Speed` and `speed` are the same column.
    #[error("column {0:?} appears more than once")]
    DuplicateColumn(String),
    /// Parquet has no file without columns.
    #[error("the table has no columns")]
    NoColumns,
}

/// A table's `(name, Hive type)` columns as written, in table order, checked: at least one,
/// every name non-empty and unique (case-insensitively), every type a [`HiveType`].
pub fn hive_columns(columns: &[(String, String)]) -> Result<Vec<HiveColumn>, HiveSchemaError> {
    if columns.is_empty() {
        return Err(HiveSchemaError::NoColumns);
    }
    let mut parsed: Vec<HiveColumn> = Vec::with_capacity(columns.len());
    for (name, spelled) in columns {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Err(HiveSchemaError::EmptyName);
        }
        if parsed.iter().any(|c| c.name == name) {
            return Err(HiveSchemaError::DuplicateColumn(name));
        }
        let hive_type =
            HiveType::parse(spelled).map_err(|reason| HiveSchemaError::UnsupportedType {
                column: name.clone(),
                hive_type: spelled.clone(),
                reason,
            })?;
        parsed.push(HiveColumn { name, hive_type });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_and_spellings() {
        let d = |precision, scale| HiveType::Decimal { precision, scale };
        for (spelled, want) in [
            ("integer", HiveType::Int),
            (" BigInt ", HiveType::BigInt),
            ("double precision", HiveType::Double),
            ("numeric", d(10, 0)),
            ("decimal", d(10, 0)),
            ("decimal(7)", d(7, 0)),
            ("NUMERIC(12, 3)", d(12, 3)),
            ("decimal( 10 , 2 )", d(10, 2)),
            ("decimal(38,38)", d(38, 38)),
            ("varchar(65535)", HiveType::Varchar(65_535)),
            ("char(1)", HiveType::Char(1)),
        ] {
            assert_eq!(HiveType::parse(spelled), Ok(want), "{spelled}");
            // What is displayed parses back to itself.
            assert_eq!(HiveType::parse(&want.to_string()), Ok(want), "{want}");
        }
    }

    #[test]
    fn refusals_say_why() {
        for (spelled, why) in [
            ("dbl", "unknown type \"dbl\""),
            ("varchar", "unknown type \"varchar\""),
            ("varchar(0)", "varchar length 0 is out of range 1..=65535"),
            (
                "varchar(99999999999)",
                "varchar length 99999999999 is out of range 1..=65535",
            ),
            ("char(256)", "char length 256 is out of range 1..=255"),
            ("char(x)", "unknown type \"char(x)\""),
            (
                "decimal(39,2)",
                "decimal(39,2) is out of range (precision 1..=38, scale 0..=precision)",
            ),
            (
                "decimal(2,3)",
                "decimal(2,3) is out of range (precision 1..=38, scale 0..=precision)",
            ),
            (
                "decimal(0)",
                "decimal(0,0) is out of range (precision 1..=38, scale 0..=precision)",
            ),
            (
                "decimal(300,2)",
                "decimal(300,2) is out of range (precision 1..=38, scale 0..=precision)",
            ),
            ("decimal(1,2,3)", "unknown type \"decimal(1,2,3)\""),
            ("array<string>", "unknown type \"array<string>\""),
            ("text", "unknown type \"text\""),
        ] {
            assert_eq!(
                HiveType::parse(spelled).map_err(|e| e.to_string()),
                Err(why.to_owned()),
                "{spelled}"
            );
        }
    }

    #[test]
    fn columns_are_checked_as_a_table() {
        let cols = |c: &[(&str, &str)]| -> Vec<(String, String)> {
            c.iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect()
        };
        assert_eq!(hive_columns(&[]), Err(HiveSchemaError::NoColumns));
        assert_eq!(
            hive_columns(&cols(&[(" ", "int")])),
            Err(HiveSchemaError::EmptyName)
        );
        assert_eq!(
            hive_columns(&cols(&[("A", "int"), ("a", "string")])),
            Err(HiveSchemaError::DuplicateColumn("a".into()))
        );
        assert!(matches!(
            hive_columns(&cols(&[("ok", "int"), ("tags", "array<string>")])),
            Err(HiveSchemaError::UnsupportedType { column, .. }) if column == "tags"
        ));
        let got = hive_columns(&cols(&[("CarId", "string"), ("n", "numeric(5,1)")]));
        assert_eq!(
            got,
            Ok(vec![
                HiveColumn {
                    name: "carid".into(),
                    hive_type: HiveType::String
                },
                HiveColumn {
                    name: "n".into(),
                    hive_type: HiveType::Decimal {
                        precision: 5,
                        scale: 1
                    }
                },
            ])
        );
    }
}
