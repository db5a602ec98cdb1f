//! Evaluating a compiled expression on one row.

use std::cmp::Ordering;

use crate::error::SqlError;
use crate::exec::calls;
use crate::plan::expr::{BinOp, PExpr, Special};
use crate::value::Value;

/// What an expression reads: the input row, its ROWTIME, and in aggregate queries the
/// group's keys, the aggregates' results and the output ROWTIME.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    pub values: &'a [Value],
    pub rowtime: i64,
    pub keys: &'a [Value],
    pub slots: &'a [Value],
    pub out_rowtime: i64,
}

impl<'a> EvalInput<'a> {
    pub fn row(values: &'a [Value], rowtime: i64) -> EvalInput<'a> {
        EvalInput {
            values,
            rowtime,
            keys: &[],
            slots: &[],
            out_rowtime: rowtime,
        }
    }
}

/// SQL truth: only TRUE passes a WHERE, HAVING or ON.
pub fn is_true(v: &Value) -> bool {
    matches!(v, Value::Boolean(true))
}

pub fn eval(e: &PExpr, input: &EvalInput) -> Result<Value, SqlError> {
    let go = |x: &PExpr| eval(x, input);
    Ok(match e {
        PExpr::Literal(v) => v.clone(),
        PExpr::Column(i) => input.values.get(*i).cloned().unwrap_or(Value::Null),
        PExpr::Rowtime => Value::Timestamp(input.rowtime),
        PExpr::OutRowtime => Value::Timestamp(input.out_rowtime),
        PExpr::GroupKey(i) => input.keys.get(*i).cloned().unwrap_or(Value::Null),
        PExpr::AggSlot(i) => input.slots.get(*i).cloned().unwrap_or(Value::Null),
        PExpr::Binary(op, a, b) => {
            let left = go(a)?;
            // AND/OR short-circuit only where SQL's three-valued logic allows it.
            match (op, &left) {
                (BinOp::And, Value::Boolean(false)) => return Ok(Value::Boolean(false)),
                (BinOp::Or, Value::Boolean(true)) => return Ok(Value::Boolean(true)),
                _ => {}
            }
            calls::binary(*op, &left, &go(b)?)?
        }
        PExpr::Unary(op, a) => calls::unary(*op, &go(a)?)?,
        PExpr::IsNull(a, negated) => Value::Boolean(go(a)?.is_null() != *negated),
        PExpr::IsBool(a, want, negated) => {
            let v = go(a)?;
            Value::Boolean((v == Value::Boolean(*want)) != *negated)
        }
        PExpr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let v = go(expr)?;
            let ge = calls::binary(BinOp::GtEq, &v, &go(low)?)?;
            let le = calls::binary(BinOp::LtEq, &v, &go(high)?)?;
            let both = calls::binary(BinOp::And, &ge, &le)?;
            negate_if(both, *negated)
        }
        PExpr::InList {
            expr,
            list,
            negated,
        } => {
            let v = go(expr)?;
            let mut result = Value::Boolean(false);
            for item in list {
                match v.sql_cmp(&go(item)?) {
                    Some(Ordering::Equal) => {
                        result = Value::Boolean(true);
                        break;
                    }
                    None => result = Value::Null,
                    _ => {}
                }
            }
            negate_if(result, *negated)
        }
        PExpr::InRows {
            exprs,
            rows,
            negated,
        } => {
            let tested = exprs.iter().map(go).collect::<Result<Vec<_>, _>>()?;
            let mut result = Value::Boolean(false);
            for row in rows {
                let mut all = Some(true);
                for (a, b) in tested.iter().zip(row) {
                    match a.sql_cmp(b) {
                        Some(Ordering::Equal) => {}
                        Some(_) => all = Some(false),
                        None => {
                            if all == Some(true) {
                                all = None;
                            }
                        }
                    }
                }
                match all {
                    Some(true) => {
                        result = Value::Boolean(true);
                        break;
                    }
                    None => result = Value::Null,
                    Some(false) => {}
                }
            }
            negate_if(result, *negated)
        }
        PExpr::Like {
            expr,
            pattern,
            escape,
            negated,
            similar,
        } => {
            let esc = escape.as_deref().map(go).transpose()?;
            let v = calls::like(&go(expr)?, &go(pattern)?, esc.as_ref(), *similar)?;
            negate_if(v, *negated)
        }
        PExpr::Case {
            operand,
            whens,
            otherwise,
        } => {
            let subject = operand.as_deref().map(go).transpose()?;
            for (when, then) in whens {
                let w = go(when)?;
                let hit = match &subject {
                    Some(s) => s.sql_cmp(&w) == Some(Ordering::Equal),
                    None => is_true(&w),
                };
                if hit {
                    return go(then);
                }
            }
            match otherwise {
                Some(x) => go(x)?,
                None => Value::Null,
            }
        }
        PExpr::Cast(a, ty) => calls::cast(&go(a)?, ty)?,
        PExpr::Call(name, args) => {
            let vals = args.iter().map(go).collect::<Result<Vec<_>, _>>()?;
            calls::call_scalar(name, &vals)?
        }
        PExpr::Special(s, args) => {
            let vals = args.iter().map(go).collect::<Result<Vec<_>, _>>()?;
            special(s, &vals)?
        }
        PExpr::Field(a, name) => match go(a)? {
            Value::Row(fields) => fields
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .unwrap_or(Value::Null),
            Value::Null => Value::Null,
            other => {
                return Err(SqlError::type_mismatch(format!(
                    "{} has no field {name}",
                    other.kind()
                )))
            }
        },
        PExpr::Aggregate(call) => {
            return Err(SqlError::new(
                "InternalError",
                format!("aggregate {} outside a window", call.name),
            ))
        }
    })
}

fn negate_if(v: Value, negated: bool) -> Value {
    match v {
        Value::Boolean(b) => Value::Boolean(b != negated),
        other => other,
    }
}

fn special(s: &Special, v: &[Value]) -> Result<Value, SqlError> {
    let arg = |i: usize| v.get(i).unwrap_or(&Value::Null);
    match s {
        Special::Substring => calls::substring(arg(0), arg(1), v.get(2)),
        Special::Position => calls::position(arg(0), arg(1)),
        Special::Trim(side) => calls::trim(*side, v.get(1), arg(0)),
        Special::Extract(unit) => calls::extract(unit, arg(0)),
        Special::FloorTo(unit) => calls::floor_to(arg(0), unit),
        Special::CeilTo(unit) => calls::ceil_to(arg(0), unit),
        Special::Step => calls::step(arg(0), arg(1)),
        Special::SubstringSimilar => calls::substring_similar(arg(0), arg(1), arg(2)),
    }
}
