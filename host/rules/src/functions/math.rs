//! Math and bitwise functions. Numeric strings convert (AWS's numeric
//! string rule); results that are not real numbers (NaN, infinities, such as
//! `acos(2)` or `ln(0)`) are Undefined, as AWS returns imaginary results as
//! Undefined.

use super::Func;
use crate::decimal::{self, Round};
use crate::eval::{num_arith, ArithOp};
use crate::value::{dec_num, dec_val, to_int_arg, to_num, Kind, Num, Val};

fn num(v: Option<&Val<'_>>) -> Option<Num> {
    to_num(v?.kind())
}

fn float(v: Option<&Val<'_>>) -> Option<f64> {
    num(v).map(Num::as_f64)
}

fn bits(v: Option<&Val<'_>>) -> Option<i64> {
    to_int_arg(v?.kind())
}

/// Rounds a Decimal to an Int, Undefined when it does not fit.
fn to_int_val<'a>(d: f64) -> Val<'a> {
    if d.is_finite() && d.abs() < 9.2e18 {
        Val::int(d as i64)
    } else {
        Val::Undefined
    }
}

/// The math functions: one line each here, the ones with cases of their own below.
pub(super) fn call<'a>(f: Func, v: Vec<Val<'a>>) -> Val<'a> {
    let a = v.first();
    let b = v.get(1);
    let unary = |g: fn(f64) -> f64| match float(a) {
        Some(x) => dec_val(g(x)),
        None => Val::Undefined,
    };
    match f {
        Func::Abs => abs(num(a)),
        Func::Acos => unary(f64::acos),
        Func::Asin => unary(f64::asin),
        Func::Atan => unary(f64::atan),
        Func::Cos => unary(f64::cos),
        Func::Cosh => unary(f64::cosh),
        Func::Exp => unary(f64::exp),
        Func::Ln => unary(|x| if x > 0.0 { x.ln() } else { f64::NAN }),
        Func::Log => unary(|x| if x > 0.0 { x.log10() } else { f64::NAN }),
        Func::Sin => unary(f64::sin),
        Func::Sinh => unary(f64::sinh),
        Func::Sqrt => unary(f64::sqrt),
        Func::Tan => unary(f64::tan),
        Func::Tanh => unary(f64::tanh),
        Func::Atan2 => match (float(a), float(b)) {
            (Some(y), Some(x)) => dec_val(y.atan2(x)),
            _ => Val::Undefined,
        },
        Func::Ceil | Func::Floor | Func::Round => to_integral(f, num(a)),
        Func::Sign => sign(num(a)),
        Func::Mod | Func::Remainder => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_arith(ArithOp::Rem, x, y),
            _ => Val::Undefined,
        },
        Func::Power => power(num(a), num(b)),
        Func::Nanvl => match a.map(Val::kind) {
            Some(Kind::Int(_) | Kind::Dec(_) | Kind::Big(_)) => {
                v.into_iter().next().unwrap_or(Val::Undefined)
            }
            _ => v.into_iter().nth(1).unwrap_or(Val::Undefined),
        },
        Func::Rand => dec_val(rand::random::<f64>()),
        Func::Trunc => trunc(num(a), bits(b)),
        Func::BitAnd | Func::BitOr | Func::BitXor => bitwise(f, bits(a), bits(b)),
        Func::BitNot => match bits(a) {
            Some(x) => Val::int(!x),
            None => Val::Undefined,
        },
        _ => Val::Undefined,
    }
}

/// `abs(x)`: an integer whose absolute value overflows (`i64::MIN`) becomes a decimal.
fn abs<'a>(x: Option<Num>) -> Val<'a> {
    match x {
        Some(Num::Int(i)) => match i.checked_abs() {
            Some(r) => Val::int(r),
            None => dec_val((i as f64).abs()),
        },
        Some(Num::Dec(d)) => dec_val(d.abs()),
        Some(Num::Big(d)) => dec_num(decimal::abs(d)),
        None => Val::Undefined,
    }
}

/// `ceil`, `floor` and `round` (`f` says which) to an integer; a 34-digit decimal stays one.
fn to_integral<'a>(f: Func, x: Option<Num>) -> Val<'a> {
    match x {
        Some(Num::Int(i)) => Val::int(i),
        Some(Num::Dec(d)) => to_int_val(match f {
            Func::Ceil => d.ceil(),
            Func::Floor => d.floor(),
            // Halves round away from zero: AWS documents round(-1.5) = -2.
            // An f64 halfway case is exactly x.5, so f64::round agrees with
            // rounding the shortest decimal form.
            _ => d.round(),
        }),
        Some(Num::Big(d)) => dec_num(decimal::to_integral(
            d,
            match f {
                Func::Ceil => Round::Ceil,
                Func::Floor => Round::Floor,
                _ => Round::HalfAway,
            },
        )),
        None => Val::Undefined,
    }
}

/// `sign(x)`: -1, 0 or 1 as an integer, whatever the number's representation.
fn sign<'a>(x: Option<Num>) -> Val<'a> {
    match x {
        Some(Num::Int(i)) => Val::int(i.signum()),
        Some(Num::Dec(d)) => Val::int(if d > 0.0 {
            1
        } else if d < 0.0 {
            -1
        } else {
            0
        }),
        Some(Num::Big(d)) => Val::int(if d.is_zero() {
            0
        } else if d.is_negative() {
            -1
        } else {
            1
        }),
        None => Val::Undefined,
    }
}

/// `power(x, y)`: exact for integers while the result fits, a double otherwise.
fn power<'a>(x: Option<Num>, y: Option<Num>) -> Val<'a> {
    match (x, y) {
        (Some(Num::Int(x)), Some(Num::Int(y))) if (0..=u32::MAX as i64).contains(&y) => {
            match x.checked_pow(y as u32) {
                Some(r) => Val::int(r),
                None => dec_val((x as f64).powf(y as f64)),
            }
        }
        (Some(x), Some(y)) => dec_val(x.as_f64().powf(y.as_f64())),
        _ => Val::Undefined,
    }
}

/// `bitand`, `bitor` and `bitxor` (`f` says which) of two integers.
fn bitwise<'a>(f: Func, x: Option<i64>, y: Option<i64>) -> Val<'a> {
    match (x, y) {
        (Some(x), Some(y)) => Val::int(match f {
            Func::BitAnd => x & y,
            Func::BitOr => x | y,
            _ => x ^ y,
        }),
        _ => Val::Undefined,
    }
}

/// `trunc(x, d)`: drop digits after `d` decimal places (toward zero). AWS
/// sets a `d` below zero to zero and one above 34 to 34.
fn trunc<'a>(x: Option<Num>, d: Option<i64>) -> Val<'a> {
    let (Some(x), Some(d)) = (x, d) else {
        return Val::Undefined;
    };
    let d = d.clamp(0, 34) as i32;
    match x {
        Num::Int(i) => Val::int(i),
        // In decimal, so trunc(2.31, 2) keeps its last digit (2.31 * 100 in
        // f64 is 230.99999...).
        _ => match x.as_dec().and_then(|v| decimal::truncate(v, d)) {
            Some(r) => dec_num(r),
            None => Val::Undefined,
        },
    }
}
