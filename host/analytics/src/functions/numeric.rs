//! Numeric functions: ABS, CEIL/CEILING, FLOOR, EXP, LN, LOG10, MOD, POWER, SQRT.
//!
//! ABS, CEIL and FLOOR keep their argument's type (ABS takes intervals too); EXP, LN, LOG10,
//! POWER and SQRT return DOUBLE with Java's `Math` semantics (LN of 0 is -Infinity, SQRT of
//! -1 is NaN: the pages document no error for them). MOD is exact and raises division by zero.

use crate::error::SqlError;
use crate::value::Value;

use super::ops::{int_of_rank, num, numeric_op, BinOp, Num};

fn num_arg(func: &str, v: &Value) -> Result<Num, SqlError> {
    num(v).ok_or_else(|| {
        SqlError::type_mismatch(format!("{func} expects a number, got {}", v.kind()))
    })
}

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    // ABS of an interval (the ABS page's `ABS(INTERVAL '-3 4:20' DAY TO MINUTE)`).
    match (name, &args[0]) {
        ("ABS", Value::IntervalDayTime(ms)) => {
            return ms
                .checked_abs()
                .map(Value::IntervalDayTime)
                .ok_or_else(|| SqlError::overflow("ABS of an interval"))
        }
        ("ABS", Value::IntervalYearMonth(m)) => {
            return m
                .checked_abs()
                .map(Value::IntervalYearMonth)
                .ok_or_else(|| SqlError::overflow("ABS of an interval"))
        }
        _ => {}
    }
    let x = num_arg(name, &args[0])?;
    match name {
        "ABS" => match x {
            Num::Int(i, rank) => int_of_rank(
                i.checked_abs()
                    .ok_or_else(|| SqlError::overflow("ABS of the smallest integer"))?,
                rank,
            ),
            Num::Dec(d) => Ok(Value::Decimal(d.abs())),
            Num::Real(f) => Ok(Value::Real(f.abs())),
            Num::Double(f) => Ok(Value::Double(f.abs())),
        },
        "CEIL" | "CEILING" | "FLOOR" => {
            let up = name != "FLOOR";
            Ok(match x {
                Num::Int(..) => args[0].clone(),
                Num::Dec(d) => Value::Decimal(if up { d.ceil() } else { d.floor() }),
                Num::Real(f) => Value::Real(if up { f.ceil() } else { f.floor() }),
                Num::Double(f) => Value::Double(if up { f.ceil() } else { f.floor() }),
            })
        }
        "EXP" => Ok(Value::Double(x.to_f64().exp())),
        "LN" => Ok(Value::Double(x.to_f64().ln())),
        "LOG10" => Ok(Value::Double(x.to_f64().log10())),
        "SQRT" => Ok(Value::Double(x.to_f64().sqrt())),
        "POWER" => {
            let y = num_arg(name, &args[1])?;
            Ok(Value::Double(x.to_f64().powf(y.to_f64())))
        }
        _ => {
            // MOD: the remainder with the dividend's sign (Java's %), exact for integers and
            // DECIMAL.
            let y = num_arg(name, &args[1])?;
            numeric_op(BinOp::Modulo, x, y)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::call_scalar;
    use super::*;
    use rust_decimal::Decimal;

    fn d(s: &str) -> Value {
        Value::Decimal(s.parse::<Decimal>().expect("decimal"))
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-abs.html>,
    /// sql-reference-ceil.html, sql-reference-floor.html
    #[test]
    fn abs_ceil_floor_keep_types() {
        assert_eq!(
            call_scalar("ABS", &[Value::Integer(-3)]),
            Ok(Value::Integer(3))
        );
        assert_eq!(call_scalar("ABS", &[d("-2.5")]), Ok(d("2.5")));
        assert_eq!(
            call_scalar("ABS", &[Value::Real(-1.5)]),
            Ok(Value::Real(1.5))
        );
        // The ABS page's examples: ABS(2.0), ABS(-1.0), ABS(0), ABS(-3 * 3), and
        // ABS(INTERVAL '-3 4:20' DAY TO MINUTE) = +3 04:20.
        assert_eq!(call_scalar("ABS", &[d("2.0")]), Ok(d("2.0")));
        assert_eq!(call_scalar("ABS", &[d("-1.0")]), Ok(d("1.0")));
        assert_eq!(
            call_scalar("ABS", &[Value::Integer(0)]),
            Ok(Value::Integer(0))
        );
        assert_eq!(
            call_scalar("ABS", &[Value::Integer(-9)]),
            Ok(Value::Integer(9))
        );
        let iv = -(3 * 86_400_000 + 4 * 3_600_000 + 20 * 60_000);
        assert_eq!(
            call_scalar("ABS", &[Value::IntervalDayTime(iv)]),
            Ok(Value::IntervalDayTime(-iv))
        );
        assert_eq!(
            call_scalar("ABS", &[Value::Integer(i32::MIN)])
                .expect_err("overflow")
                .name,
            "NumericOverflow"
        );
        assert_eq!(call_scalar("CEIL", &[d("2.1")]), Ok(d("3")));
        assert_eq!(
            call_scalar("CEILING", &[Value::Double(-2.5)]),
            Ok(Value::Double(-2.0))
        );
        assert_eq!(call_scalar("FLOOR", &[d("-2.1")]), Ok(d("-3")));
        // The FLOOR page's numeric examples.
        assert_eq!(call_scalar("FLOOR", &[d("2.0")]), Ok(d("2")));
        assert_eq!(call_scalar("FLOOR", &[d("-1.0")]), Ok(d("-1")));
        assert_eq!(call_scalar("FLOOR", &[d("5.2")]), Ok(d("5")));
        assert_eq!(call_scalar("FLOOR", &[d("-3.3")]), Ok(d("-4")));
        let product = crate::functions::binary(
            crate::functions::BinOp::Multiply,
            &Value::Integer(-3),
            &d("3.1"),
        )
        .expect("product");
        assert_eq!(call_scalar("FLOOR", &[product]), Ok(d("-10")));
        assert_eq!(
            call_scalar("FLOOR", &[Value::Integer(7)]),
            Ok(Value::Integer(7))
        );
        assert_eq!(call_scalar("FLOOR", &[Value::Null]), Ok(Value::Null));
    }

    /// The CEIL, POWER and MOD pages' examples
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-ceil.html>,
    /// sql-reference-power.html, sql-reference-mod.html).
    #[test]
    fn ceil_power_mod_page_examples() {
        assert_eq!(call_scalar("CEIL", &[d("2.0")]), Ok(d("2")));
        assert_eq!(call_scalar("CEIL", &[d("-1.0")]), Ok(d("-1")));
        assert_eq!(call_scalar("CEIL", &[d("5.2")]), Ok(d("6")));
        assert_eq!(call_scalar("CEILING", &[d("-3.3")]), Ok(d("-3")));
        assert_eq!(call_scalar("CEILING", &[d("-9.3")]), Ok(d("-9")));
        let pow = |a: Value, b: Value| call_scalar("POWER", &[a, b]);
        assert_eq!(
            pow(Value::Integer(3), Value::Integer(2)),
            Ok(Value::Double(9.0))
        );
        assert_eq!(
            pow(Value::Integer(-2), Value::Integer(3)),
            Ok(Value::Double(-8.0))
        );
        assert_eq!(
            pow(Value::Integer(4), Value::Integer(-2)),
            Ok(Value::Double(0.0625))
        );
        assert_eq!(
            pow(d("10.1"), d("2.5")),
            Ok(Value::Double(324.192_851_571_406_44))
        );
        let m = |a: i32, b: i32| call_scalar("MOD", &[Value::Integer(a), Value::Integer(b)]);
        assert_eq!(m(4, 2), Ok(Value::Integer(0)));
        assert_eq!(m(5, 3), Ok(Value::Integer(2)));
        assert_eq!(m(-4, 3), Ok(Value::Integer(-1)));
        assert_eq!(m(5, 12), Ok(Value::Integer(5)));
    }

    #[test]
    fn math_functions() {
        assert_eq!(
            call_scalar("EXP", &[Value::Integer(0)]),
            Ok(Value::Double(1.0))
        );
        assert_eq!(
            call_scalar("LN", &[Value::Double(1.0)]),
            Ok(Value::Double(0.0))
        );
        assert_eq!(
            call_scalar("LOG10", &[Value::Integer(1000)]),
            Ok(Value::Double(3.0))
        );
        assert_eq!(
            call_scalar("POWER", &[Value::Integer(2), Value::Integer(10)]),
            Ok(Value::Double(1024.0))
        );
        assert_eq!(
            call_scalar("SQRT", &[Value::Integer(16)]),
            Ok(Value::Double(4.0))
        );
        assert_eq!(
            call_scalar("MOD", &[Value::Integer(10), Value::Integer(3)]),
            Ok(Value::Integer(1))
        );
        assert_eq!(
            call_scalar("MOD", &[Value::Integer(-10), Value::Integer(3)]),
            Ok(Value::Integer(-1))
        );
        assert_eq!(
            call_scalar("MOD", &[Value::Integer(10), Value::Integer(0)]),
            Err(SqlError::division_by_zero())
        );
        assert!(call_scalar("SQRT", &[Value::Varchar("4".into())]).is_err());
    }
}
