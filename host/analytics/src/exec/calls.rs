//! The one place the engine calls the functions module (scalar functions, operators, CAST and
//! the special forms).

use crate::error::SqlError;
use crate::functions::{self, BinOp, TrimSpec, UnOp};
use crate::types::SqlType;
use crate::value::Value;

/// (min, max) arguments of a scalar function, or None when there is no such function.
pub fn arity(name: &str) -> Option<(usize, usize)> {
    functions::lookup(name).map(|f| (f.min_args, f.max_args))
}

pub fn call_scalar(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    functions::call_scalar(name, args)
}

pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, SqlError> {
    functions::binary(op, a, b)
}

pub fn unary(op: UnOp, v: &Value) -> Result<Value, SqlError> {
    functions::unary(op, v)
}

pub fn cast(v: &Value, ty: &SqlType) -> Result<Value, SqlError> {
    functions::cast(v, ty)
}

pub fn substring(s: &Value, from: &Value, len: Option<&Value>) -> Result<Value, SqlError> {
    functions::substring(s, from, len)
}

pub fn substring_similar(s: &Value, pattern: &Value, escape: &Value) -> Result<Value, SqlError> {
    functions::substring_similar(s, pattern, escape)
}

pub fn position(needle: &Value, haystack: &Value) -> Result<Value, SqlError> {
    functions::position(needle, haystack)
}

pub fn trim(side: TrimSpec, chars: Option<&Value>, s: &Value) -> Result<Value, SqlError> {
    functions::trim(side, chars, s)
}

pub fn extract(unit: &str, v: &Value) -> Result<Value, SqlError> {
    functions::extract(unit, v)
}

pub fn floor_to(v: &Value, unit: &str) -> Result<Value, SqlError> {
    functions::floor_to(v, unit)
}

pub fn ceil_to(v: &Value, unit: &str) -> Result<Value, SqlError> {
    functions::ceil_to(v, unit)
}

pub fn step(v: &Value, interval: &Value) -> Result<Value, SqlError> {
    functions::step(v, interval)
}

pub fn like(
    s: &Value,
    pattern: &Value,
    escape: Option<&Value>,
    similar: bool,
) -> Result<Value, SqlError> {
    if similar {
        functions::similar_to(s, pattern, escape)
    } else {
        functions::like(s, pattern, escape)
    }
}
