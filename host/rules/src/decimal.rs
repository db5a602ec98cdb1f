//! AWS IoT SQL's exact numbers: IEEE 754 decimal128 (34 significant digits,
//! half-even rounding), the precision AWS documents for Int and Decimal.
//!
//! Weir keeps two number representations and moves between them only when it
//! must, so the common case (`speed > 75`) never touches this module:
//!
//! - an `f64` stands for the decimal of its *shortest* round-trip form, so the
//!   payload's `0.1` is the decimal 0.1, not 0.1000000000000000055...; every
//!   decimal of at most 15 significant digits survives the trip through `f64`
//!   unchanged, so such literals and numeric strings stay `f64`;
//! - a [`Dec`] holds what an `f64` cannot: arithmetic on decimals, literals and
//!   numeric strings with more than 15 significant digits, Ints past `i64`.
//!
//! Limits, documented rather than hidden: payload numbers arrive through
//! `serde_json` without `arbitrary_precision` (a workspace-wide feature that
//! other crates cannot take), so a payload number with more digits than an
//! `f64` holds is read as the nearest `f64`. Results leave as JSON numbers: an
//! Int that fits `i64` as an integer, anything else as the nearest `f64`.

use std::cmp::Ordering;

use dec::{Context, Decimal128, Rounding};

use crate::eval::ArithOp as Op;

/// An exact decimal of AWS's precision.
pub(crate) type Dec = Decimal128;

/// A context with decimal128's precision (34 digits) and IEEE's default
/// half-even rounding, Java's `MathContext.DECIMAL128`.
fn cx() -> Context<Dec> {
    Context::default()
}

/// Parses decimal text (the caller has checked AWS's number syntax).
pub(crate) fn parse(s: &str) -> Option<Dec> {
    cx().parse(s).ok().filter(Dec::is_finite)
}

/// The decimal an `f64` stands for: its shortest round-trip form.
pub(crate) fn from_f64(f: f64) -> Option<Dec> {
    if !f.is_finite() {
        return None;
    }
    // `{:e}` prints the shortest digits that read back as `f`.
    parse(&format!("{f:e}"))
}

pub(crate) fn from_i64(i: i64) -> Dec {
    Dec::from(i)
}

/// The nearest `f64`, `None` past its range.
pub(crate) fn to_f64(d: Dec) -> Option<f64> {
    d.to_string().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Whether the value is a whole number (whatever its exponent).
pub(crate) fn is_whole(d: Dec) -> bool {
    d.is_finite() && cx().reduce(d).exponent() >= 0
}

/// The value as an `i64` when it is whole and fits.
pub(crate) fn to_i64(d: Dec) -> Option<i64> {
    if !is_whole(d) {
        return None;
    }
    let r = cx().reduce(d);
    let mut v = r.coefficient();
    for _ in 0..r.exponent() {
        v = v.checked_mul(10)?;
    }
    i64::try_from(v).ok()
}

/// Arithmetic with decimal128's precision; `None` for division by zero or a
/// result that is not a finite number.
pub(crate) fn arith(op: Op, a: Dec, b: Dec) -> Option<Dec> {
    let mut c = cx();
    let r = match op {
        Op::Add => c.add(a, b),
        Op::Sub => c.sub(a, b),
        Op::Mul => c.mul(a, b),
        Op::Div | Op::Rem if b.is_zero() => return None,
        Op::Div => c.div(a, b),
        // Truncating remainder, the sign of the dividend (Java's `remainder`).
        Op::Rem => c.rem(a, b),
    };
    r.is_finite().then_some(r)
}

/// How [`to_integral`] rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    Ceil,
    Floor,
    /// Toward zero.
    Trunc,
    /// Half away from zero, AWS's `round()`.
    HalfAway,
}

fn rounding(r: Round) -> Rounding {
    match r {
        Round::Ceil => Rounding::Ceiling,
        Round::Floor => Rounding::Floor,
        Round::Trunc => Rounding::Down,
        Round::HalfAway => Rounding::HalfUp,
    }
}

/// Rounds to a whole number.
pub(crate) fn to_integral(d: Dec, r: Round) -> Dec {
    let mut c = cx();
    c.set_rounding(rounding(r));
    c.round(d)
}

/// Drops the digits after `places` decimal places, toward zero (a negative
/// `places` zeroes digits left of the point).
pub(crate) fn truncate(d: Dec, places: i32) -> Option<Dec> {
    if d.exponent() >= -places {
        // Already no digits past `places` (quantizing could only add zeros,
        // and overflow the 34 digits).
        return Some(d);
    }
    let mut c = cx();
    c.set_rounding(Rounding::Down);
    let quantum = parse(&format!("1E{}", -places))?;
    let r = c.quantize(d, quantum);
    r.is_finite().then_some(r)
}

pub(crate) fn neg(d: Dec) -> Dec {
    cx().minus(d)
}

pub(crate) fn abs(d: Dec) -> Dec {
    cx().abs(d)
}

pub(crate) fn cmp(a: Dec, b: Dec) -> Option<Ordering> {
    cx().partial_cmp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        parse(s).unwrap_or_default()
    }

    #[test]
    fn shortest_form_of_f64() {
        assert_eq!(from_f64(0.1).map(|x| x.to_string()), Some("0.1".into()));
        let sum = arith(Op::Add, d("0.1"), d("0.2")).unwrap_or_default();
        assert_eq!(cmp(sum, d("0.3")), Some(Ordering::Equal));
        assert_eq!(to_f64(sum), Some(0.3));
    }

    #[test]
    fn thirty_four_digits() {
        let third = arith(Op::Div, d("1"), d("3")).unwrap_or_default();
        assert_eq!(third.to_string(), format!("0.{}", "3".repeat(34)));
        assert_eq!(arith(Op::Div, d("1"), d("0")), None);
    }

    #[test]
    fn integral_values() {
        assert_eq!(to_i64(d("10.00")), Some(10));
        assert_eq!(to_i64(d("1E3")), Some(1000));
        assert_eq!(to_i64(d("1.5")), None);
        assert_eq!(to_i64(d("1E30")), None);
        assert!(is_whole(d("1E30")));
        assert_eq!(to_i64(to_integral(d("-1.5"), Round::HalfAway)), Some(-2));
        assert_eq!(to_i64(to_integral(d("-0.5"), Round::HalfAway)), Some(-1));
        assert_eq!(to_i64(to_integral(d("2.5"), Round::HalfAway)), Some(3));
        assert_eq!(
            truncate(d("2.888"), 2).map(|x| x.to_string()),
            Some("2.88".into())
        );
    }
}
