//! AWS IoT SQL's value model on top of `serde_json::Value`.
//!
//! AWS has eight types: Int, Decimal, String, Boolean, Array, Object, Null and
//! Undefined. JSON has no Undefined and does not split Int from Decimal, so a
//! [`Val`] is either Undefined or a JSON value, borrowed from the message (or
//! the compiled rule's literals) whenever possible: evaluating `speed > 75`
//! must not copy the payload. [`Kind`] is the typed view used by operators.
//!
//! Numbers: an Int is an `i64`, a Decimal an `f64` standing for its shortest
//! decimal form, and either becomes an exact 34-digit [`Dec`] when the `f64`
//! or `i64` cannot hold it (see [`crate::decimal`]): arithmetic on decimals,
//! long literals and numeric strings, Ints past `i64`. In SQL version
//! 2016-03-23 a whole-number Decimal behaves as an Int, so `10.0` is Int 10.

use serde_json::{Map, Number, Value};

use crate::decimal::{self, Dec};

/// A value during evaluation: Undefined, or a JSON value borrowed or owned.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    /// AWS's Undefined: a missing field, a failed conversion, a bad argument.
    Undefined,
    /// A value borrowed from the message or from a rule literal.
    Ref(&'a Value),
    /// A value computed during evaluation.
    Own(Value),
    /// An exact number no `i64` or `f64` holds (built by [`dec_num`]).
    Dec(Dec),
}

/// The AWS type of a value, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'v> {
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Dec(f64),
    /// An exact number: a Decimal with more digits than an `f64` keeps, or a
    /// whole number (Int) past `i64`.
    Big(Dec),
    Str(&'v str),
    Arr(&'v [Value]),
    Obj(&'v Map<String, Value>),
}

/// A number after conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Dec(f64),
    Big(Dec),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d,
            Num::Big(d) => decimal::to_f64(d).unwrap_or(f64::NAN),
        }
    }

    /// The exact decimal this number stands for.
    pub fn as_dec(self) -> Option<Dec> {
        match self {
            Num::Int(i) => Some(decimal::from_i64(i)),
            Num::Dec(d) => decimal::from_f64(d),
            Num::Big(d) => Some(d),
        }
    }

    /// The JSON form, applying the 2016-03-23 rule that whole decimals are Ints;
    /// NaN and infinities have no JSON form and become Undefined.
    pub fn into_val<'a>(self) -> Val<'a> {
        match self {
            Num::Int(i) => Val::Own(Value::from(i)),
            Num::Dec(d) => dec_val(d),
            Num::Big(d) => dec_num(d),
        }
    }
}

/// Wraps an exact result: whole numbers that fit `i64` become Ints (the
/// 2016-03-23 rule), other finite values stay exact, non-finite Undefined.
pub fn dec_num<'a>(d: Dec) -> Val<'a> {
    if !d.is_finite() {
        return Val::Undefined;
    }
    match decimal::to_i64(d) {
        Some(i) => Val::int(i),
        None => Val::Dec(d),
    }
}

/// An exact number as JSON: the nearest `f64` (an Int past `i64` too).
fn dec_json(d: Dec) -> Option<Value> {
    if let Some(i) = decimal::to_i64(d) {
        return Some(Value::from(i));
    }
    decimal::to_f64(d)
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// Wraps an `f64` result as a value (whole numbers become Int, non-finite Undefined).
pub fn dec_val<'a>(d: f64) -> Val<'a> {
    if !d.is_finite() {
        return Val::Undefined;
    }
    if d.fract() == 0.0 && d.abs() < 9.2e18 {
        return Val::Own(Value::from(d as i64));
    }
    match Number::from_f64(d) {
        Some(n) => Val::Own(Value::Number(n)),
        None => Val::Undefined,
    }
}

/// Classifies a JSON value into AWS's types.
pub fn kind_of(v: &Value) -> Kind<'_> {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Kind::Int(i)
            } else if let Some(u) = n.as_u64() {
                Kind::Big(Dec::from(u))
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    Kind::Int(f as i64)
                } else {
                    Kind::Dec(f)
                }
            }
        }
        Value::String(s) => Kind::Str(s),
        Value::Array(a) => Kind::Arr(a),
        Value::Object(o) => Kind::Obj(o),
    }
}

impl<'a> Val<'a> {
    pub fn kind(&self) -> Kind<'_> {
        match self {
            Val::Undefined => Kind::Undefined,
            Val::Ref(v) => kind_of(v),
            Val::Own(v) => kind_of(v),
            Val::Dec(d) => Kind::Big(*d),
        }
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Val::Undefined)
    }

    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Val::Undefined | Val::Dec(_) => None,
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
        }
    }

    /// Turns the value into an owned JSON value for output; numbers are
    /// normalised (whole decimals become Ints) as AWS does in 2016-03-23.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Val::Undefined => None,
            Val::Ref(v) => Some(normalized_clone(v)),
            Val::Own(v) => Some(normalize(v)),
            Val::Dec(d) => dec_json(d),
        }
    }

    pub fn str(s: String) -> Val<'a> {
        Val::Own(Value::String(s))
    }

    pub fn bool(b: bool) -> Val<'a> {
        Val::Own(Value::Bool(b))
    }

    pub fn int(i: i64) -> Val<'a> {
        Val::Own(Value::from(i))
    }
}

fn normalize_num(n: &Number) -> Option<Value> {
    if n.is_f64() {
        let f = n.as_f64()?;
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            return Some(Value::from(f as i64));
        }
    }
    None
}

/// Deep clone that rewrites whole-number decimals as Ints.
pub fn normalized_clone(v: &Value) -> Value {
    match v {
        Value::Number(n) => normalize_num(n).unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(normalized_clone).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), normalized_clone(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalize(v: Value) -> Value {
    match v {
        Value::Number(ref n) => normalize_num(n).unwrap_or(v),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

/// AWS's rule for strings that convert to numbers:
/// `^-?\d+(\.\d+)?((?i)E-?\d+)?$`. Anything else (leading `+`, blanks, `.5`,
/// `1E+5`) does not convert.
pub fn parse_numeric_str(s: &str) -> Option<Num> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    let mut integral = true;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return None;
        }
        integral = false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && b[i] == b'-' {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        integral = false;
    }
    if i != b.len() {
        return None;
    }
    if integral {
        if let Ok(n) = s.parse::<i64>() {
            return Some(Num::Int(n));
        }
    }
    number_text(s)
}

/// A number in decimal text that is not an `i64`: an `f64` when its shortest
/// form gives the same decimal back (at most 15 significant digits, inside
/// the `f64` normal range), otherwise an exact [`Dec`]. Whole values that fit
/// `i64` are Ints.
pub fn number_text(s: &str) -> Option<Num> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()),
        None => (s, Some(0)),
    };
    let digits = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|b| *b == b'0')
        .count();
    let fits_f64 = digits <= 15 && exp.is_some_and(|e| (-290..=290).contains(&e));
    if fits_f64 {
        let f: f64 = s.parse().ok()?;
        if f.is_finite() {
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                return Some(Num::Int(f as i64));
            }
            return Some(Num::Dec(f));
        }
    }
    let d = decimal::parse(s)?;
    Some(match decimal::to_i64(d) {
        Some(i) => Num::Int(i),
        None => Num::Big(d),
    })
}

/// Numeric view used by arithmetic and comparison: numbers as is, numeric
/// strings converted, everything else `None` (which callers turn into
/// Undefined).
pub fn to_num(k: Kind<'_>) -> Option<Num> {
    match k {
        Kind::Int(i) => Some(Num::Int(i)),
        Kind::Dec(d) => Some(Num::Dec(d)),
        Kind::Big(d) => Some(Num::Big(d)),
        Kind::Str(s) => parse_numeric_str(s),
        _ => None,
    }
}

/// Like [`to_num`], but booleans convert too (true = 1), as `cast` allows.
pub fn to_num_cast(k: Kind<'_>) -> Option<Num> {
    match k {
        Kind::Bool(b) => Some(Num::Int(i64::from(b))),
        other => to_num(other),
    }
}

/// An integer argument (index, width, bit operand): Decimals are rounded
/// down, numeric strings are converted, values past `i64` saturate.
pub fn to_int_arg(k: Kind<'_>) -> Option<i64> {
    match to_num(k)? {
        Num::Int(i) => Some(i),
        // Past the i64 range the argument saturates: AWS documents
        // substring(false, -2.411E247) = "false".
        Num::Dec(d) => Some(d.floor() as i64),
        Num::Big(d) => Some(
            decimal::to_i64(decimal::to_integral(d, decimal::Round::Floor))
                .unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX }),
        ),
    }
}

/// Formats a Decimal the way Weir prints it: shortest round-trip form.
pub fn fmt_dec(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 9.2e18 {
        return format!("{}", d as i64);
    }
    let s = format!("{d}");
    s
}

/// AWS's standard conversion to String. Null and Undefined do not convert;
/// arrays and objects are serialised as JSON.
pub fn to_string_conv(k: Kind<'_>) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match k {
        Kind::Str(s) => Some(Cow::Borrowed(s)),
        Kind::Int(i) => Some(Cow::Owned(i.to_string())),
        Kind::Dec(d) => Some(Cow::Owned(fmt_dec(d))),
        Kind::Big(d) => Some(Cow::Owned(d.to_string())),
        Kind::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        Kind::Arr(a) => serde_json::to_string(a).ok().map(Cow::Owned),
        Kind::Obj(o) => serde_json::to_string(o).ok().map(Cow::Owned),
        Kind::Null | Kind::Undefined => None,
    }
}

/// Boolean operands: Booleans, or the strings "true"/"false" in any case.
pub fn to_bool_operand(k: Kind<'_>) -> Option<bool> {
    match k {
        Kind::Bool(b) => Some(b),
        Kind::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Kind::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// AWS equality: same type and equal; Int and Decimal compare numerically;
/// mismatched types are unequal. Undefined is handled by the caller.
pub fn json_eq(a: Kind<'_>, b: Kind<'_>) -> bool {
    match (a, b) {
        (Kind::Null, Kind::Null) => true,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (
            Kind::Int(_) | Kind::Dec(_) | Kind::Big(_),
            Kind::Int(_) | Kind::Dec(_) | Kind::Big(_),
        ) => num_cmp(num_of(a), num_of(b)) == Some(std::cmp::Ordering::Equal),
        (Kind::Str(x), Kind::Str(y)) => x == y,
        (Kind::Arr(x), Kind::Arr(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| json_eq(kind_of(p), kind_of(q)))
        }
        (Kind::Obj(x), Kind::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(kind_of(v), kind_of(w))))
        }
        _ => false,
    }
}

fn num_of(k: Kind<'_>) -> Num {
    match k {
        Kind::Int(i) => Num::Int(i),
        Kind::Dec(d) => Num::Dec(d),
        Kind::Big(d) => Num::Big(d),
        _ => Num::Dec(f64::NAN),
    }
}

/// Integers up to 2^53 are exact in an `f64`.
const F64_EXACT_INT: i64 = 1 << 53;

/// Orders two numbers as the decimals they stand for. Ints, and Ints against
/// `f64`s while the Int is exact in an `f64`, compare without leaving the
/// machine types (an `f64` and its shortest decimal order the same way);
/// anything else compares as decimal128.
pub fn num_cmp(a: Num, b: Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Dec(x), Num::Dec(y)) => x.partial_cmp(&y),
        (Num::Int(i), Num::Dec(f)) if i.abs() <= F64_EXACT_INT => (i as f64).partial_cmp(&f),
        (Num::Dec(f), Num::Int(i)) if i.abs() <= F64_EXACT_INT => f.partial_cmp(&(i as f64)),
        _ => decimal::cmp(a.as_dec()?, b.as_dec()?),
    }
}
