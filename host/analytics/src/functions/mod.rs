//! The scalar functions, operators and CAST of the KDA SQL Reference, all pure functions on
//! [`Value`]: the planner resolves a call to a name (checked with [`lookup`] at compile time)
//! and the evaluator calls [`call_scalar`] (or [`FunctionDef::call`]), the special forms
//! ([`cast()`], [`substring`] / [`substring_comma`] / [`substring_similar`], [`position`],
//! [`trim`], [`extract`], [`floor_to`], [`ceil_to`], [`step`], [`like`], [`similar_to`]) or
//! the operators ([`binary`], [`unary`]). Intervals keep no qualifier: [`format_interval`]
//! prints one under the qualifier the planner kept.
//!
//! Rules every function here keeps (the SQL Reference's "If an operator is given a null
//! operand, the result is almost always null"):
//! - NULL in gives NULL out, except where the docs say otherwise (AND/OR/NOT's three-valued
//!   logic, COALESCE, NULLIF).
//! - Exact numbers stay exact: integer and DECIMAL arithmetic is checked and an overflow is
//!   [`SqlError::overflow`]. REAL stays float32 and DOUBLE float64 with IEEE results
//!   (an overflow is Infinity). Division by zero is [`SqlError::division_by_zero`] for every
//!   numeric type, floats included, as the developer guide's error-stream walkthrough shows.
//! - An error never stops the application: the row goes to `error_stream`.
//!
//! Regular expressions (REGEX_REPLACE, the regex SUBSTRING, the log parsers) are Java syntax
//! in the docs; [`regex_cache`] translates them to the `regex` crate and caches compiled
//! patterns, since patterns are almost always literals.

pub mod cast;
pub mod datetime;
pub mod logparse;
pub mod numeric;
pub mod ops;
pub mod regex_cache;
pub mod string;

pub use cast::cast;
pub use datetime::{ceil_to, extract, floor_to, format_interval, interval_text, step};
pub use ops::{binary, unary, BinOp, UnOp};
pub use string::{
    like, position, similar_to, substring, substring_comma, substring_similar, trim, TrimSpec,
};

use crate::error::SqlError;
use crate::value::Value;

/// A scalar function the planner may call by name, with its arity (checked at compile time so
/// a wrong call is a compile error with a line and column, not an `error_stream` row).
/// A planner can keep the `&'static FunctionDef` that [`lookup`] gave and call
/// [`FunctionDef::call`] per row, which skips the name lookup.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDef {
    /// Upper-case name as written in SQL.
    pub name: &'static str,
    pub min_args: usize,
    /// `usize::MAX` for variadic functions (COALESCE).
    pub max_args: usize,
    /// The module function that evaluates this family of functions, given the name.
    eval: fn(&str, &[Value]) -> Result<Value, SqlError>,
}

impl PartialEq for FunctionDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for FunctionDef {}

impl FunctionDef {
    /// Evaluates the function on its arguments. The arity is checked again here (a planner
    /// bug must not panic an application).
    pub fn call(&self, args: &[Value]) -> Result<Value, SqlError> {
        if args.len() < self.min_args || args.len() > self.max_args {
            return Err(SqlError::new(
                "WrongArgumentCount",
                format!(
                    "{} takes {}..{} arguments, got {}",
                    self.name,
                    self.min_args,
                    self.max_args,
                    args.len()
                ),
            ));
        }
        (self.eval)(self.name, args)
    }
}

const fn def(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    eval: fn(&str, &[Value]) -> Result<Value, SqlError>,
) -> FunctionDef {
    FunctionDef {
        name,
        min_args,
        max_args,
        eval,
    }
}

/// Every function [`call_scalar`] takes. Special forms with their own syntax (CAST, SUBSTRING,
/// POSITION, TRIM, OVERLAY, EXTRACT, FLOOR/CEIL ... TO, STEP) are listed too, under the
/// argument order `call_scalar` expects, so a planner may route them either way.
pub static FUNCTIONS: &[FunctionDef] = &[
    // numeric
    def("ABS", 1, 1, numeric::call),
    def("CEIL", 1, 1, numeric::call),
    def("CEILING", 1, 1, numeric::call),
    def("FLOOR", 1, 1, numeric::call),
    def("EXP", 1, 1, numeric::call),
    def("LN", 1, 1, numeric::call),
    def("LOG10", 1, 1, numeric::call),
    def("MOD", 2, 2, numeric::call),
    def("POWER", 2, 2, numeric::call),
    def("SQRT", 1, 1, numeric::call),
    // strings
    def("CHAR_LENGTH", 1, 1, string::call),
    def("CHARACTER_LENGTH", 1, 1, string::call),
    def("INITCAP", 1, 1, string::call),
    def("LOWER", 1, 1, string::call),
    def("UPPER", 1, 1, string::call),
    def("OVERLAY", 3, 4, string::call),
    def("POSITION", 2, 2, string::call),
    def("SUBSTRING", 2, 3, string::call),
    def("REGEX_REPLACE", 3, 5, string::call),
    // NULL functions
    def("COALESCE", 1, usize::MAX, null_functions),
    def("NULLIF", 2, 2, null_functions),
    // date and time
    def("STEP", 2, 2, datetime::call),
    def("TSDIFF", 2, 2, datetime::call),
    def("UNIX_TIMESTAMP", 1, 1, datetime::call),
    def("TO_TIMESTAMP", 1, 1, datetime::call),
    def("CHAR_TO_DATE", 2, 2, datetime::call),
    def("CHAR_TO_TIME", 2, 2, datetime::call),
    def("CHAR_TO_TIMESTAMP", 2, 2, datetime::call),
    def("DATE_TO_CHAR", 2, 2, datetime::call),
    def("TIME_TO_CHAR", 2, 2, datetime::call),
    def("TIMESTAMP_TO_CHAR", 2, 2, datetime::call),
    // log parsing
    def("REGEX_LOG_PARSE", 2, 2, logparse::call),
    def("FAST_REGEX_LOG_PARSE", 2, 2, logparse::call),
    def("VARIABLE_COLUMN_LOG_PARSE", 3, 5, logparse::call),
    def("FIXED_COLUMN_LOG_PARSE", 2, 2, logparse::call),
    def("W3C_LOG_PARSE", 2, 2, logparse::call),
];

/// The function of that (upper-case) name, if the dialect has one.
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Calls a scalar function by its upper-case name.
pub fn call_scalar(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    lookup(name)
        .ok_or_else(|| SqlError::new("UnknownFunction", format!("no function named {name}")))?
        .call(args)
}

/// COALESCE (the first non-NULL argument) and NULLIF (NULL when its arguments are equal, else
/// the first; a NULL second argument never equals).
fn null_functions(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    if name == "COALESCE" {
        return Ok(args
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null));
    }
    match args[0].sql_cmp(&args[1]) {
        Some(std::cmp::Ordering::Equal) => Ok(Value::Null),
        _ => Ok(args[0].clone()),
    }
}

/// The string inside a CHAR/VARCHAR argument, or a type error naming the function.
pub(crate) fn str_arg<'a>(func: &str, v: &'a Value) -> Result<&'a str, SqlError> {
    v.as_str().ok_or_else(|| {
        SqlError::type_mismatch(format!(
            "{func} expects a character value, got {}",
            v.kind()
        ))
    })
}

/// An exact integer argument (any integer kind, or a DECIMAL without fraction).
pub(crate) fn int_arg(func: &str, v: &Value) -> Result<i64, SqlError> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if let Value::Decimal(d) = v {
        if d.fract().is_zero() {
            if let Some(i) = rust_decimal::prelude::ToPrimitive::to_i64(d) {
                return Ok(i);
            }
        }
    }
    Err(SqlError::type_mismatch(format!(
        "{func} expects an integer, got {}",
        v.kind()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_knows_arity() {
        let f = lookup("SUBSTRING").expect("substring");
        assert_eq!((f.min_args, f.max_args), (2, 3));
        assert!(lookup("NO_SUCH_FUNCTION").is_none());
        assert!(lookup("COALESCE").expect("coalesce").max_args == usize::MAX);
    }

    #[test]
    fn call_checks_arity_and_names() {
        assert_eq!(
            call_scalar("ABS", &[]).expect_err("arity").name,
            "WrongArgumentCount"
        );
        assert_eq!(
            call_scalar("FOO", &[]).expect_err("name").name,
            "UnknownFunction"
        );
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-coalesce.html>
    /// and sql-reference-nullif.html: first non-NULL argument; NULL when equal.
    #[test]
    fn coalesce_and_nullif() {
        assert_eq!(
            call_scalar(
                "COALESCE",
                &[Value::Null, Value::Integer(2), Value::Integer(3)]
            ),
            Ok(Value::Integer(2))
        );
        assert_eq!(call_scalar("COALESCE", &[Value::Null]), Ok(Value::Null));
        assert_eq!(
            call_scalar("NULLIF", &[Value::Integer(1), Value::BigInt(1)]),
            Ok(Value::Null)
        );
        assert_eq!(
            call_scalar("NULLIF", &[Value::Integer(1), Value::Null]),
            Ok(Value::Integer(1))
        );
    }
}

/// Every function, operator and CAST on arbitrary values: errors are fine, panics (overflow
/// in debug builds, slicing, unwraps) are not, since a panic would stop an application.
#[cfg(test)]
mod no_panic {
    use super::*;
    use crate::types::SqlType;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i8>().prop_map(Value::TinyInt),
            any::<i16>().prop_map(Value::SmallInt),
            any::<i32>().prop_map(Value::Integer),
            any::<i64>().prop_map(Value::BigInt),
            (any::<i64>(), 0u32..20).prop_map(|(m, s)| Value::Decimal(Decimal::new(m, s))),
            any::<f32>().prop_map(Value::Real),
            any::<f64>().prop_map(Value::Double),
            ".{0,12}".prop_map(Value::Varchar),
            "[0-9a-zA-Z:%_. \\-\\[\\]()*+?'\"\\\\^$|{}]{0,12}".prop_map(Value::Varchar),
            ".{0,4}".prop_map(Value::Char),
            any::<i32>().prop_map(Value::Date),
            (0u32..86_400_000).prop_map(Value::Time),
            any::<i64>().prop_map(Value::Timestamp),
            any::<i64>().prop_map(Value::IntervalDayTime),
            any::<i32>().prop_map(Value::IntervalYearMonth),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Binary),
        ]
    }

    const OPS: [BinOp; 14] = [
        BinOp::Plus,
        BinOp::Minus,
        BinOp::Multiply,
        BinOp::Divide,
        BinOp::Modulo,
        BinOp::Concat,
        BinOp::Eq,
        BinOp::NotEq,
        BinOp::Lt,
        BinOp::LtEq,
        BinOp::Gt,
        BinOp::GtEq,
        BinOp::And,
        BinOp::Or,
    ];
    const UNITS: [&str; 9] = [
        "YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "EPOCH",
    ];

    proptest! {
        #[test]
        fn nothing_panics(a in value(), b in value(), c in value(), d in value()) {
            for op in OPS {
                let _ = binary(op, &a, &b);
            }
            let _ = unary(UnOp::Neg, &a);
            let _ = unary(UnOp::Not, &a);
            for ty in [
                "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DECIMAL(5,2)",
                "DECIMAL(28,10)", "REAL", "DOUBLE", "CHAR(3)", "VARCHAR(5)", "DATE", "TIME",
                "TIMESTAMP", "INTERVAL DAY TO SECOND", "VARBINARY(2)",
            ] {
                let ty = SqlType::parse(ty).expect("type");
                let _ = cast(&a, &ty);
            }
            for f in FUNCTIONS {
                let args = [a.clone(), b.clone(), c.clone(), d.clone()];
                let n = f.min_args.clamp(1, 4);
                let _ = call_scalar(f.name, &args[..n]);
                if f.max_args > n {
                    let _ = call_scalar(f.name, &args[..f.max_args.min(4)]);
                }
            }
            for unit in UNITS {
                let _ = extract(unit, &a);
                let _ = floor_to(&a, unit);
                let _ = ceil_to(&a, unit);
            }
            let _ = step(&a, &b);
            let _ = substring(&a, &b, Some(&c));
            let _ = substring(&a, &b, None);
            let _ = substring_similar(&a, &b, &c);
            let _ = position(&a, &b);
            let _ = trim(TrimSpec::Both, Some(&b), &a);
            let _ = like(&a, &b, Some(&c));
            let _ = similar_to(&a, &b, None);
        }

        #[test]
        fn date_patterns_never_panic(fmt in ".{0,16}", text in ".{0,24}", ms in any::<i64>()) {
            let _ = datetime::parse_with_pattern(&fmt, &text);
            if let Ok(dt) = datetime::naive(ms) {
                let _ = datetime::format_with_pattern(&fmt, &dt);
            }
        }
    }
}
