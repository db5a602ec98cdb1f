//! The scalar operators: arithmetic (`+ - * / %`), string concatenation (`||`), comparison
//! and three-valued logic, and the date/time/interval arithmetic of the SQL Reference's
//! "Date, Timestamp, and Interval Operators" page.

use std::cmp::Ordering;

use chrono::{DateTime, Months};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::SqlError;
use crate::value::Value;

/// A binary operator as the parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

/// A unary operator (`-x`, `NOT x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// A numeric operand, classified for the result type of mixed arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    /// An exact integer and its kind's rank (1 TINYINT, 2 SMALLINT, 3 INTEGER, 4 BIGINT).
    Int(i64, u8),
    Dec(Decimal),
    Real(f32),
    Double(f64),
}

pub(crate) fn num(v: &Value) -> Option<Num> {
    Some(match v {
        Value::TinyInt(x) => Num::Int(i64::from(*x), 1),
        Value::SmallInt(x) => Num::Int(i64::from(*x), 2),
        Value::Integer(x) => Num::Int(i64::from(*x), 3),
        Value::BigInt(x) => Num::Int(*x, 4),
        Value::Decimal(d) => Num::Dec(*d),
        Value::Real(f) => Num::Real(*f),
        Value::Double(f) => Num::Double(*f),
        _ => return None,
    })
}

impl Num {
    pub(crate) fn to_f64(self) -> f64 {
        match self {
            Num::Int(i, _) => i as f64,
            Num::Dec(d) => rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN),
            Num::Real(f) => f64::from(f),
            Num::Double(f) => f,
        }
    }
    fn to_f32(self) -> f32 {
        match self {
            Num::Real(f) => f,
            other => other.to_f64() as f32,
        }
    }
    fn to_dec(self) -> Option<Decimal> {
        match self {
            Num::Int(i, _) => Some(Decimal::from(i)),
            Num::Dec(d) => Some(d),
            _ => None,
        }
    }
}

/// An integer value of the kind of `rank`, or an overflow error when it does not fit.
pub(crate) fn int_of_rank(v: i64, rank: u8) -> Result<Value, SqlError> {
    let over = || SqlError::overflow(format!("{v} is out of range for its integer type"));
    Ok(match rank {
        1 => Value::TinyInt(i8::try_from(v).map_err(|_| over())?),
        2 => Value::SmallInt(i16::try_from(v).map_err(|_| over())?),
        3 => Value::Integer(i32::try_from(v).map_err(|_| over())?),
        _ => Value::BigInt(v),
    })
}

/// Applies a binary operator. Comparisons and arithmetic give NULL on a NULL operand; AND and
/// OR follow three-valued logic (`FALSE AND NULL` is FALSE, `TRUE OR NULL` is TRUE).
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, SqlError> {
    match op {
        BinOp::And | BinOp::Or => return logic(op, a, b),
        _ => {}
    }
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    match op {
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
            let ord = compare(a, b)?;
            let r = match op {
                BinOp::Eq => ord == Ordering::Equal,
                BinOp::NotEq => ord != Ordering::Equal,
                BinOp::Lt => ord == Ordering::Less,
                BinOp::LtEq => ord != Ordering::Greater,
                BinOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            };
            Ok(Value::Boolean(r))
        }
        BinOp::Concat => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                Ok(Value::Varchar(s))
            }
            // The String Operators page says || "also applies to binary types"; the Data
            // Types page says concatenation does not work on BINARY. The operator page's
            // reading is kept (it only adds a case).
            _ => match (a, b) {
                (Value::Binary(x), Value::Binary(y)) => {
                    let mut r = x.clone();
                    r.extend_from_slice(y);
                    Ok(Value::Binary(r))
                }
                _ => Err(SqlError::type_mismatch(format!(
                    "|| concatenates character values, not {} and {}",
                    a.kind(),
                    b.kind()
                ))),
            },
        },
        _ => arithmetic(op, a, b),
    }
}

/// SQL comparison of two non-NULL values: numbers across kinds, strings with PAD SPACE, and a
/// DATE against a TIMESTAMP as the timestamp of its midnight.
fn compare(a: &Value, b: &Value) -> Result<Ordering, SqlError> {
    if let Some(o) = a.sql_cmp(b) {
        return Ok(o);
    }
    let as_ts = |v: &Value| match v {
        Value::Date(d) => Some(i64::from(*d) * MS_PER_DAY),
        Value::Timestamp(t) => Some(*t),
        _ => None,
    };
    if let (Some(x), Some(y)) = (as_ts(a), as_ts(b)) {
        return Ok(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        // Only NaN gets here: Java orders NaN above every other double.
        let (x, y) = (x.to_f64(), y.to_f64());
        return Ok(x.total_cmp(&y));
    }
    Err(SqlError::type_mismatch(format!(
        "cannot compare {} with {}",
        a.kind(),
        b.kind()
    )))
}

fn truth(v: &Value, op: &str) -> Result<Option<bool>, SqlError> {
    match v {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        other => Err(SqlError::type_mismatch(format!(
            "{op} takes BOOLEAN operands, not {}",
            other.kind()
        ))),
    }
}

fn logic(op: BinOp, a: &Value, b: &Value) -> Result<Value, SqlError> {
    let name = if op == BinOp::And { "AND" } else { "OR" };
    let (x, y) = (truth(a, name)?, truth(b, name)?);
    let r = match op {
        BinOp::And => match (x, y) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        _ => match (x, y) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    };
    Ok(r.map(Value::Boolean).unwrap_or(Value::Null))
}

/// Applies a unary operator: `-` on numbers and intervals, `NOT` with NULL staying NULL.
pub fn unary(op: UnOp, v: &Value) -> Result<Value, SqlError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match op {
        UnOp::Not => Ok(Value::Boolean(!truth(v, "NOT")?.unwrap_or(false))),
        UnOp::Neg => match v {
            Value::IntervalDayTime(ms) => ms
                .checked_neg()
                .map(Value::IntervalDayTime)
                .ok_or_else(|| SqlError::overflow("interval negation")),
            Value::IntervalYearMonth(m) => m
                .checked_neg()
                .map(Value::IntervalYearMonth)
                .ok_or_else(|| SqlError::overflow("interval negation")),
            _ => match num(v) {
                Some(Num::Int(i, rank)) => int_of_rank(
                    i.checked_neg()
                        .ok_or_else(|| SqlError::overflow("integer negation"))?,
                    rank,
                ),
                Some(Num::Dec(d)) => Ok(Value::Decimal(-d)),
                Some(Num::Real(f)) => Ok(Value::Real(-f)),
                Some(Num::Double(f)) => Ok(Value::Double(-f)),
                None => Err(SqlError::type_mismatch(format!(
                    "cannot negate {}",
                    v.kind()
                ))),
            },
        },
    }
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Plus => "+",
        BinOp::Minus => "-",
        BinOp::Multiply => "*",
        BinOp::Divide => "/",
        _ => "%",
    }
}

fn arithmetic(op: BinOp, a: &Value, b: &Value) -> Result<Value, SqlError> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return numeric_op(op, x, y);
    }
    datetime_op(op, a, b).unwrap_or_else(|| {
        Err(SqlError::type_mismatch(format!(
            "cannot apply {} to {} and {}",
            op_name(op),
            a.kind(),
            b.kind()
        )))
    })
}

/// Mixed numeric arithmetic: integers stay integers of the wider kind, integers with
/// DECIMAL are exact DECIMAL, REAL stays float32 unless a DOUBLE is involved.
pub(crate) fn numeric_op(op: BinOp, x: Num, y: Num) -> Result<Value, SqlError> {
    let overflow = || SqlError::overflow(format!("numeric overflow in {}", op_name(op)));
    // Division by zero is an error for every numeric type, floats included: the developer
    // guide's error-stream walkthrough (app-explore-error-stream.html) sends `price / 0` with
    // a REAL price to error_stream rather than emitting Infinity.
    if matches!(op, BinOp::Divide | BinOp::Modulo) && is_zero(y) {
        return Err(SqlError::division_by_zero());
    }
    match (x, y) {
        (Num::Int(a, ra), Num::Int(b, rb)) => {
            let r = match op {
                BinOp::Plus => a.checked_add(b),
                BinOp::Minus => a.checked_sub(b),
                BinOp::Multiply => a.checked_mul(b),
                BinOp::Divide => {
                    if b == 0 {
                        return Err(SqlError::division_by_zero());
                    }
                    a.checked_div(b)
                }
                _ => {
                    if b == 0 {
                        return Err(SqlError::division_by_zero());
                    }
                    a.checked_rem(b)
                }
            };
            int_of_rank(r.ok_or_else(overflow)?, ra.max(rb))
        }
        (Num::Double(_), _) | (_, Num::Double(_)) => {
            let (a, b) = (x.to_f64(), y.to_f64());
            Ok(Value::Double(float_op(op, a, b)))
        }
        (Num::Real(_), _) | (_, Num::Real(_)) => {
            let (a, b) = (x.to_f32(), y.to_f32());
            Ok(Value::Real(match op {
                BinOp::Plus => a + b,
                BinOp::Minus => a - b,
                BinOp::Multiply => a * b,
                BinOp::Divide => a / b,
                _ => a % b,
            }))
        }
        _ => {
            let scale = division_scale(x, y);
            let (a, b) = match (x.to_dec(), y.to_dec()) {
                (Some(a), Some(b)) => (a, b),
                _ => return Err(overflow()),
            };
            let r = match op {
                BinOp::Plus => a.checked_add(b),
                BinOp::Minus => a.checked_sub(b),
                BinOp::Multiply => a.checked_mul(b),
                BinOp::Divide => {
                    if b.is_zero() {
                        return Err(SqlError::division_by_zero());
                    }
                    a.checked_div(b).map(|q| {
                        let mut q =
                            q.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
                        q.rescale(scale);
                        q
                    })
                }
                _ => {
                    if b.is_zero() {
                        return Err(SqlError::division_by_zero());
                    }
                    a.checked_rem(b)
                }
            };
            Ok(Value::Decimal(r.ok_or_else(overflow)?))
        }
    }
}

/// Precision and scale of an exact operand: an integer kind's declared precision, or a
/// DECIMAL value's own digits.
fn precision_scale(n: Num) -> (u32, u32) {
    match n {
        Num::Int(_, rank) => ([3, 5, 10, 19][usize::from(rank.clamp(1, 4)) - 1], 0),
        Num::Dec(d) => {
            let digits = d.mantissa().unsigned_abs().to_string().len() as u32;
            (digits.max(d.scale() + 1), d.scale())
        }
        _ => (0, 0),
    }
}

/// The scale of a DECIMAL quotient, by the "Rule for Divide" of
/// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-numeric-types-precision.html>:
/// `max(6, s1 + p2 + 1)`, capped at 18. Values carry no declared precision, so a DECIMAL
/// operand's precision is its own digit count.
fn division_scale(x: Num, y: Num) -> u32 {
    let (_, s1) = precision_scale(x);
    let (p2, _) = precision_scale(y);
    (s1 + p2 + 1).clamp(6, 18)
}

fn is_zero(n: Num) -> bool {
    match n {
        Num::Int(i, _) => i == 0,
        Num::Dec(d) => d.is_zero(),
        Num::Real(f) => f == 0.0,
        Num::Double(f) => f == 0.0,
    }
}

fn float_op(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Plus => a + b,
        BinOp::Minus => a - b,
        BinOp::Multiply => a * b,
        BinOp::Divide => a / b,
        _ => a % b,
    }
}

/// Adds months to a timestamp the way SQL does: the day is clamped to the month's last day.
pub(crate) fn add_months(ts_ms: i64, months: i64) -> Result<i64, SqlError> {
    let over = || SqlError::overflow("timestamp out of range");
    let dt = DateTime::from_timestamp_millis(ts_ms).ok_or_else(over)?;
    let m = Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| over())?);
    let r = if months >= 0 {
        dt.checked_add_months(m)
    } else {
        dt.checked_sub_months(m)
    };
    r.map(|d| d.timestamp_millis()).ok_or_else(over)
}

fn date_of_ms(ms: i64) -> Result<Value, SqlError> {
    i32::try_from(ms.div_euclid(MS_PER_DAY))
        .map(Value::Date)
        .map_err(|_| SqlError::overflow("date out of range"))
}

/// Date/time/interval arithmetic; `None` when the operand kinds have no such operator.
fn datetime_op(op: BinOp, a: &Value, b: &Value) -> Option<Result<Value, SqlError>> {
    use Value::*;
    let over = || SqlError::overflow("datetime arithmetic out of range");
    let r = match (op, a, b) {
        // datetime ± interval
        (BinOp::Plus, Timestamp(t), IntervalDayTime(i))
        | (BinOp::Plus, IntervalDayTime(i), Timestamp(t)) => {
            t.checked_add(*i).map(Timestamp).ok_or_else(over)
        }
        (BinOp::Minus, Timestamp(t), IntervalDayTime(i)) => {
            t.checked_sub(*i).map(Timestamp).ok_or_else(over)
        }
        (BinOp::Plus, Timestamp(t), IntervalYearMonth(m))
        | (BinOp::Plus, IntervalYearMonth(m), Timestamp(t)) => {
            add_months(*t, i64::from(*m)).map(Timestamp)
        }
        (BinOp::Minus, Timestamp(t), IntervalYearMonth(m)) => {
            add_months(*t, -i64::from(*m)).map(Timestamp)
        }
        (BinOp::Plus, Date(d), IntervalDayTime(i)) | (BinOp::Plus, IntervalDayTime(i), Date(d)) => {
            (i64::from(*d) * MS_PER_DAY)
                .checked_add(*i)
                .ok_or_else(over)
                .and_then(date_of_ms)
        }
        (BinOp::Minus, Date(d), IntervalDayTime(i)) => (i64::from(*d) * MS_PER_DAY)
            .checked_sub(*i)
            .ok_or_else(over)
            .and_then(date_of_ms),
        (BinOp::Plus, Date(d), IntervalYearMonth(m))
        | (BinOp::Plus, IntervalYearMonth(m), Date(d)) => {
            add_months(i64::from(*d) * MS_PER_DAY, i64::from(*m)).and_then(date_of_ms)
        }
        (BinOp::Minus, Date(d), IntervalYearMonth(m)) => {
            add_months(i64::from(*d) * MS_PER_DAY, -i64::from(*m)).and_then(date_of_ms)
        }
        (BinOp::Plus, Time(t), IntervalDayTime(i)) | (BinOp::Plus, IntervalDayTime(i), Time(t)) => {
            Ok(Time(
                (i64::from(*t) + i.rem_euclid(MS_PER_DAY)).rem_euclid(MS_PER_DAY) as u32,
            ))
        }
        (BinOp::Minus, Time(t), IntervalDayTime(i)) => Ok(Time(
            (i64::from(*t) - i.rem_euclid(MS_PER_DAY)).rem_euclid(MS_PER_DAY) as u32,
        )),
        // datetime − datetime: a day-time interval in milliseconds; the `<interval qualifier>`
        // that follows in SQL only chooses how it prints.
        (BinOp::Minus, Timestamp(x), Timestamp(y)) => {
            x.checked_sub(*y).map(IntervalDayTime).ok_or_else(over)
        }
        (BinOp::Minus, Date(x), Date(y)) => Ok(IntervalDayTime(
            (i64::from(*x) - i64::from(*y)) * MS_PER_DAY,
        )),
        (BinOp::Minus, Time(x), Time(y)) => Ok(IntervalDayTime(i64::from(*x) - i64::from(*y))),
        (BinOp::Minus, Timestamp(x), Date(y)) => x
            .checked_sub(i64::from(*y) * MS_PER_DAY)
            .map(IntervalDayTime)
            .ok_or_else(over),
        (BinOp::Minus, Date(x), Timestamp(y)) => (i64::from(*x) * MS_PER_DAY)
            .checked_sub(*y)
            .map(IntervalDayTime)
            .ok_or_else(over),
        // interval ± interval
        (BinOp::Plus, IntervalDayTime(x), IntervalDayTime(y)) => {
            x.checked_add(*y).map(IntervalDayTime).ok_or_else(over)
        }
        (BinOp::Minus, IntervalDayTime(x), IntervalDayTime(y)) => {
            x.checked_sub(*y).map(IntervalDayTime).ok_or_else(over)
        }
        (BinOp::Plus, IntervalYearMonth(x), IntervalYearMonth(y)) => {
            x.checked_add(*y).map(IntervalYearMonth).ok_or_else(over)
        }
        (BinOp::Minus, IntervalYearMonth(x), IntervalYearMonth(y)) => {
            x.checked_sub(*y).map(IntervalYearMonth).ok_or_else(over)
        }
        // interval * number, number * interval, interval / number
        (BinOp::Multiply, IntervalDayTime(i), n) | (BinOp::Multiply, n, IntervalDayTime(i)) => {
            let n = num(n)?;
            scale(*i, n, false).map(IntervalDayTime)
        }
        (BinOp::Multiply, IntervalYearMonth(m), n) | (BinOp::Multiply, n, IntervalYearMonth(m)) => {
            let n = num(n)?;
            scale(i64::from(*m), n, false)
                .and_then(|v| i32::try_from(v).map(IntervalYearMonth).map_err(|_| over()))
        }
        (BinOp::Divide, IntervalDayTime(i), n) => {
            let n = num(n)?;
            scale(*i, n, true).map(IntervalDayTime)
        }
        (BinOp::Divide, IntervalYearMonth(m), n) => {
            let n = num(n)?;
            scale(i64::from(*m), n, true)
                .and_then(|v| i32::try_from(v).map(IntervalYearMonth).map_err(|_| over()))
        }
        _ => return None,
    };
    Some(r)
}

/// An interval's count (milliseconds or months) multiplied or divided by a number: exact for
/// integers (division truncates toward zero, as integer division does), rounded to the
/// nearest unit for DECIMAL and floats.
fn scale(count: i64, n: Num, divide: bool) -> Result<i64, SqlError> {
    let over = || SqlError::overflow("interval arithmetic out of range");
    match n {
        Num::Int(k, _) => {
            if divide {
                if k == 0 {
                    return Err(SqlError::division_by_zero());
                }
                count.checked_div(k).ok_or_else(over)
            } else {
                count.checked_mul(k).ok_or_else(over)
            }
        }
        Num::Dec(d) => {
            let c = Decimal::from(count);
            let r = if divide {
                if d.is_zero() {
                    return Err(SqlError::division_by_zero());
                }
                c.checked_div(d)
            } else {
                c.checked_mul(d)
            };
            let r = r.ok_or_else(over)?.round();
            rust_decimal::prelude::ToPrimitive::to_i64(&r).ok_or_else(over)
        }
        other => {
            let f = other.to_f64();
            let r = if divide {
                count as f64 / f
            } else {
                count as f64 * f
            };
            if !r.is_finite() || r.abs() > 9.2e18 {
                return Err(if divide && f == 0.0 {
                    SqlError::division_by_zero()
                } else {
                    over()
                });
            }
            Ok(r.round() as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::parse_timestamp;

    fn ts(s: &str) -> Value {
        Value::Timestamp(parse_timestamp(s).expect("timestamp"))
    }

    #[test]
    fn integer_arithmetic_is_exact_and_checked() {
        assert_eq!(
            binary(BinOp::Plus, &Value::Integer(2), &Value::Integer(3)),
            Ok(Value::Integer(5))
        );
        assert_eq!(
            binary(BinOp::Divide, &Value::Integer(7), &Value::Integer(2)),
            Ok(Value::Integer(3))
        );
        assert_eq!(
            binary(BinOp::Divide, &Value::Integer(-7), &Value::Integer(2)),
            Ok(Value::Integer(-3))
        );
        assert_eq!(
            binary(BinOp::Plus, &Value::Integer(i32::MAX), &Value::Integer(1))
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
        assert_eq!(
            binary(BinOp::Plus, &Value::Integer(i32::MAX), &Value::BigInt(1)),
            Ok(Value::BigInt(i64::from(i32::MAX) + 1))
        );
        assert_eq!(
            binary(BinOp::Multiply, &Value::BigInt(i64::MAX), &Value::BigInt(2))
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
        assert_eq!(
            binary(BinOp::Divide, &Value::Integer(1), &Value::Integer(0)),
            Err(SqlError::division_by_zero())
        );
        assert_eq!(
            binary(BinOp::Modulo, &Value::Integer(1), &Value::Integer(0)),
            Err(SqlError::division_by_zero())
        );
        assert_eq!(
            unary(UnOp::Neg, &Value::Integer(i32::MIN))
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
    }

    #[test]
    fn decimals_are_exact_and_floats_keep_their_width() {
        let d = |s: &str| Value::Decimal(s.parse::<Decimal>().expect("decimal"));
        assert_eq!(binary(BinOp::Plus, &d("0.1"), &d("0.2")), Ok(d("0.3")));
        assert_eq!(
            binary(BinOp::Plus, &Value::Integer(1), &d("0.5")),
            Ok(d("1.5"))
        );
        // Sums keep the larger scale, products add scales, quotients take the divide rule's
        // scale (max(6, s1 + p2 + 1)).
        assert_eq!(
            binary(BinOp::Plus, &d("1.50"), &d("1.00")).map(|v| v.to_string()),
            Ok("2.50".to_string())
        );
        assert_eq!(
            binary(BinOp::Multiply, &d("1.5"), &d("1.25")).map(|v| v.to_string()),
            Ok("1.875".to_string())
        );
        assert_eq!(
            binary(BinOp::Divide, &d("1.0"), &d("3")).map(|v| v.to_string()),
            Ok("0.333333".to_string())
        );
        assert_eq!(
            binary(BinOp::Divide, &d("10.0"), &Value::Integer(4)).map(|v| v.to_string()),
            Ok("2.500000000000".to_string())
        );
        assert_eq!(
            binary(BinOp::Divide, &d("1.5"), &Value::Integer(0)),
            Err(SqlError::division_by_zero())
        );
        // REAL + REAL stays float32 (0.1f32 + 0.2f32, not the double sum).
        assert_eq!(
            binary(BinOp::Plus, &Value::Real(0.1), &Value::Real(0.2)),
            Ok(Value::Real(0.1f32 + 0.2f32))
        );
        assert_eq!(
            binary(BinOp::Multiply, &Value::Real(1.5), &Value::Integer(2)),
            Ok(Value::Real(3.0))
        );
        assert_eq!(
            binary(BinOp::Plus, &Value::Real(0.5), &Value::Double(0.25)),
            Ok(Value::Double(0.75))
        );
        // Division by zero is an error for floats too
        // (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-explore-error-stream.html:
        // `price / 0` goes to error_stream).
        assert_eq!(
            binary(BinOp::Divide, &Value::Double(1.0), &Value::Integer(0)),
            Err(SqlError::division_by_zero())
        );
        assert_eq!(
            binary(BinOp::Divide, &Value::Real(100.5), &Value::Integer(0)),
            Err(SqlError::division_by_zero())
        );
        assert_eq!(
            binary(BinOp::Modulo, &Value::Double(1.0), &Value::Double(0.0)),
            Err(SqlError::division_by_zero())
        );
        // Other float results stay IEEE: overflow gives Infinity.
        assert_eq!(
            binary(
                BinOp::Multiply,
                &Value::Double(f64::MAX),
                &Value::Integer(2)
            ),
            Ok(Value::Double(f64::INFINITY))
        );
    }

    /// "If one of the operands is NULL, the result is also NULL", and the logical operators'
    /// exceptions: <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-logical-operators.html>
    #[test]
    fn null_and_three_valued_logic() {
        let (t, f, n) = (Value::Boolean(true), Value::Boolean(false), Value::Null);
        assert_eq!(binary(BinOp::Plus, &n, &Value::Integer(1)), Ok(Value::Null));
        assert_eq!(binary(BinOp::Eq, &n, &n), Ok(Value::Null));
        assert_eq!(binary(BinOp::And, &f, &n), Ok(f.clone()));
        assert_eq!(binary(BinOp::And, &n, &f), Ok(f.clone()));
        assert_eq!(binary(BinOp::And, &t, &n), Ok(n.clone()));
        assert_eq!(binary(BinOp::Or, &t, &n), Ok(t.clone()));
        assert_eq!(binary(BinOp::Or, &n, &f), Ok(n.clone()));
        assert_eq!(binary(BinOp::Or, &f, &f), Ok(f.clone()));
        assert_eq!(unary(UnOp::Not, &n), Ok(n.clone()));
        assert_eq!(unary(UnOp::Not, &t), Ok(f.clone()));
        assert!(binary(BinOp::And, &t, &Value::Integer(1)).is_err());
    }

    #[test]
    fn comparisons_and_concat() {
        assert_eq!(
            binary(BinOp::Lt, &Value::Integer(1), &Value::Double(1.5)),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            binary(
                BinOp::Eq,
                &Value::Char("ab ".into()),
                &Value::Varchar("ab".into())
            ),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            binary(BinOp::GtEq, &ts("2019-01-01 00:00:00"), &Value::Date(17897)),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            binary(
                BinOp::Concat,
                &Value::Varchar("a".into()),
                &Value::Char("b ".into())
            ),
            Ok(Value::Varchar("ab ".into()))
        );
        // The concatenation table of
        // https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-string-operators.html
        let v = |s: &str| Value::Varchar(s.into());
        let cat = |a: Value, b: Value| binary(BinOp::Concat, &a, &b).expect("concat");
        assert_eq!(cat(v("SQL"), v("stream")), v("SQLstream"));
        assert_eq!(cat(cat(v("SQL"), v("")), v("stream")), v("SQLstream"));
        assert_eq!(
            cat(cat(v("SQL"), v("stream")), v(" Incorporated")),
            v("SQLstream Incorporated")
        );
        assert_eq!(
            cat(Value::Binary(vec![1]), Value::Binary(vec![2])),
            Value::Binary(vec![1, 2])
        );
        assert!(binary(BinOp::Eq, &Value::Varchar("1".into()), &Value::Integer(1)).is_err());
        assert!(binary(
            BinOp::Concat,
            &Value::Varchar("1".into()),
            &Value::Integer(1)
        )
        .is_err());
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-date-timestamp-interval.html>
    /// (examples 1 to 6; intervals are kept in milliseconds or months).
    #[test]
    fn interval_operator_examples() {
        let day = |d: i64| Value::IntervalDayTime(d * MS_PER_DAY);
        let dh = |d: i64, h: i64| Value::IntervalDayTime(d * MS_PER_DAY + h * 3_600_000);
        // 1: INTERVAL '1' DAY + INTERVAL '3' DAY = INTERVAL '4' DAY
        assert_eq!(binary(BinOp::Plus, &day(1), &day(3)), Ok(day(4)));
        // 2: INTERVAL '1' DAY + INTERVAL '3 4' DAY TO HOUR = '+4 04'
        assert_eq!(binary(BinOp::Plus, &day(1), &dh(3, 4)), Ok(dh(4, 4)));
        // 3: INTERVAL '1' DAY - INTERVAL '3 4' DAY TO HOUR = '-2 04'
        assert_eq!(
            binary(BinOp::Minus, &day(1), &dh(3, 4)),
            Ok(Value::IntervalDayTime(-(2 * MS_PER_DAY + 4 * 3_600_000)))
        );
        // 4: INTERVAL '1' YEAR + INTERVAL '3-4' YEAR TO MONTH = '+4-04'
        assert_eq!(
            binary(
                BinOp::Plus,
                &Value::IntervalYearMonth(12),
                &Value::IntervalYearMonth(40)
            ),
            Ok(Value::IntervalYearMonth(52))
        );
        // 5: 2 * INTERVAL '3 4' DAY TO HOUR = '6 8'
        assert_eq!(
            binary(BinOp::Multiply, &Value::Integer(2), &dh(3, 4)),
            Ok(dh(6, 8))
        );
        // 6: INTERVAL '3 4' DAY TO HOUR / 2 = ' 1 14'
        assert_eq!(
            binary(BinOp::Divide, &dh(3, 4), &Value::Integer(2)),
            Ok(dh(1, 14))
        );
        // (time '12:03:34' - time '11:57:23') minute to second = +6:11
        assert_eq!(
            binary(
                BinOp::Minus,
                &Value::Time(43_414_000),
                &Value::Time(43_043_000)
            ),
            Ok(Value::IntervalDayTime(371_000))
        );
    }

    #[test]
    fn timestamp_arithmetic() {
        assert_eq!(
            binary(
                BinOp::Plus,
                &ts("2019-01-31 10:00:00"),
                &Value::IntervalYearMonth(1)
            ),
            Ok(ts("2019-02-28 10:00:00"))
        );
        assert_eq!(
            binary(
                BinOp::Minus,
                &ts("2019-01-01 10:00:00"),
                &Value::IntervalDayTime(60_000)
            ),
            Ok(ts("2019-01-01 09:59:00"))
        );
        assert_eq!(
            binary(
                BinOp::Minus,
                &ts("2019-01-01 10:00:01.500"),
                &ts("2019-01-01 10:00:00")
            ),
            Ok(Value::IntervalDayTime(1500))
        );
        assert_eq!(
            binary(
                BinOp::Plus,
                &Value::Date(0),
                &Value::IntervalDayTime(MS_PER_DAY)
            ),
            Ok(Value::Date(1))
        );
    }
}
