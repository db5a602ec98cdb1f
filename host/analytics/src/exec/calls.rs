//! The one place the engine calls the functions module (scalar functions, operators, CAST and
//! the special forms), so the planner and evaluator keep their own operator enums.

use crate::error::SqlError;
use crate::functions::{self, TrimSpec};
use crate::plan::expr::{BinOp, TrimSide, UnOp};
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
    use functions::BinOp as F;
    let f = match op {
        BinOp::Plus => F::Plus,
        BinOp::Minus => F::Minus,
        BinOp::Multiply => F::Multiply,
        BinOp::Divide => F::Divide,
        BinOp::Modulo => F::Modulo,
        BinOp::Concat => F::Concat,
        BinOp::Eq => F::Eq,
        BinOp::NotEq => F::NotEq,
        BinOp::Lt => F::Lt,
        BinOp::LtEq => F::LtEq,
        BinOp::Gt => F::Gt,
        BinOp::GtEq => F::GtEq,
        BinOp::And => F::And,
        BinOp::Or => F::Or,
    };
    functions::binary(f, a, b)
}

pub fn unary(op: UnOp, v: &Value) -> Result<Value, SqlError> {
    let f = match op {
        UnOp::Neg => functions::UnOp::Neg,
        UnOp::Not => functions::UnOp::Not,
    };
    functions::unary(f, v)
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

pub fn trim(side: TrimSide, chars: Option<&Value>, s: &Value) -> Result<Value, SqlError> {
    let spec = match side {
        TrimSide::Both => TrimSpec::Both,
        TrimSide::Leading => TrimSpec::Leading,
        TrimSide::Trailing => TrimSpec::Trailing,
    };
    functions::trim(spec, chars, s)
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
