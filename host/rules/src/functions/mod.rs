//! AWS IoT SQL functions, resolved at compile time to a [`Func`].
//!
//! Each function follows AWS's documented argument conversions; a function
//! given an argument it cannot use returns Undefined (AWS never fails a rule
//! for bad data). The exceptions are bounds on hostile input, which fail the
//! message with an [`EvalError`] instead of running out of memory: a string
//! result over `string::MAX_STRING_BYTES`, and a pattern from the message
//! over the limits in `pattern`. Functions that call AWS services are
//! compile errors, except `get_dynamodb`, which Weir serves from its own
//! lookup tables.

mod collections;
mod encoding;
mod math;
mod pattern;
mod replacement;
mod string;
pub(crate) mod time;

pub(crate) use pattern::{
    compile as compile_pattern, PatternError, MAX_PATTERN_BYTES, REGEX_SIZE_LIMIT,
};

use serde_json::Value;

use super::eval::{EvalError, Evaluator, Expr};
use super::value::Val;

/// Every function Weir implements. Resolution happens once, at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    // Strings.
    Concat,
    Lower,
    Upper,
    Length,
    NumBytes,
    Substring,
    Trim,
    Ltrim,
    Rtrim,
    Lpad,
    Rpad,
    Replace,
    RegexpMatches,
    RegexpReplace,
    RegexpSubstr,
    StartsWith,
    EndsWith,
    IndexOf,
    Chr,
    // Math and bits.
    Abs,
    Acos,
    Asin,
    Atan,
    Atan2,
    Ceil,
    Cos,
    Cosh,
    Exp,
    Floor,
    Ln,
    Log,
    Mod,
    Nanvl,
    Power,
    Rand,
    Remainder,
    Round,
    Sign,
    Sin,
    Sinh,
    Sqrt,
    Tan,
    Tanh,
    Trunc,
    BitAnd,
    BitOr,
    BitXor,
    BitNot,
    // Types.
    IsNull,
    IsUndefined,
    GetOrDefault,
    // Context.
    Topic,
    ClientId,
    Principal,
    SourceIp,
    TraceId,
    Timestamp,
    NewUuid,
    SqlVersion,
    // Collections.
    Get,
    Transform,
    // Encoding and hashing.
    Encode,
    Decode,
    Md2,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    // Time.
    ParseTime,
    TimeToEpoch,
    // Weir lookup tables standing in for DynamoDB.
    GetDynamoDb,
}

/// The outcome of looking a function name up.
pub(crate) enum Resolved {
    Known {
        func: Func,
        min: usize,
        max: usize,
    },
    /// An AWS function that calls an AWS service Weir does not have.
    Service,
    /// Documented by AWS, but not available in Weir (reason given).
    Unsupported(&'static str),
    Unknown,
}

const ANY: usize = usize::MAX;

/// Every name [`resolve`] knows, for "did you mean" hints.
pub(super) const NAMES: &[&str] = &[
    "concat",
    "lower",
    "upper",
    "length",
    "numbytes",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "lpad",
    "rpad",
    "replace",
    "regexp_matches",
    "regexp_replace",
    "regexp_substr",
    "startswith",
    "endswith",
    "indexof",
    "chr",
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "ceil",
    "cos",
    "cosh",
    "exp",
    "floor",
    "ln",
    "log",
    "mod",
    "nanvl",
    "power",
    "rand",
    "remainder",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    "bitand",
    "bitor",
    "bitxor",
    "bitnot",
    "cast",
    "isNull",
    "isUndefined",
    "get_or_default",
    "topic",
    "clientid",
    "principal",
    "sourceip",
    "traceid",
    "timestamp",
    "newuuid",
    "sql_version",
    "get",
    "transform",
    "encode",
    "decode",
    "md2",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "parse_time",
    "time_to_epoch",
    "get_dynamodb",
];

/// The known function closest to `name` (one edit away for short names, two
/// for longer ones), to suggest in the "unknown function" diagnostic.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let max = if lower.chars().count() <= 4 { 1 } else { 2 };
    NAMES
        .iter()
        .map(|n| (edit_distance(&lower, &n.to_ascii_lowercase()), *n))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Resolves a function name. AWS documents most names in lower case and a
/// few in camel case (`isNull`); Weir matches them case-insensitively.
pub(crate) fn resolve(name: &str) -> Resolved {
    use Func::*;
    let lower = name.to_ascii_lowercase();
    let (func, min, max) = match lower.as_str() {
        "concat" => (Concat, 0, ANY),
        "lower" => (Lower, 1, 1),
        "upper" => (Upper, 1, 1),
        "length" => (Length, 1, 1),
        "numbytes" => (NumBytes, 1, 1),
        "substring" => (Substring, 2, 3),
        "trim" => (Trim, 1, 1),
        "ltrim" => (Ltrim, 1, 1),
        "rtrim" => (Rtrim, 1, 1),
        "lpad" => (Lpad, 2, 2),
        "rpad" => (Rpad, 2, 2),
        "replace" => (Replace, 3, 3),
        "regexp_matches" => (RegexpMatches, 2, 2),
        "regexp_replace" => (RegexpReplace, 3, 3),
        "regexp_substr" => (RegexpSubstr, 2, 2),
        "startswith" => (StartsWith, 2, 2),
        "endswith" => (EndsWith, 2, 2),
        "indexof" => (IndexOf, 2, 2),
        "chr" => (Chr, 1, 1),
        "abs" => (Abs, 1, 1),
        "acos" => (Acos, 1, 1),
        "asin" => (Asin, 1, 1),
        "atan" => (Atan, 1, 1),
        "atan2" => (Atan2, 2, 2),
        "ceil" => (Ceil, 1, 1),
        "cos" => (Cos, 1, 1),
        "cosh" => (Cosh, 1, 1),
        "exp" => (Exp, 1, 1),
        "floor" => (Floor, 1, 1),
        "ln" => (Ln, 1, 1),
        "log" => (Log, 1, 1),
        "mod" => (Mod, 2, 2),
        "nanvl" => (Nanvl, 2, 2),
        "power" => (Power, 2, 2),
        "rand" => (Rand, 0, 0),
        "remainder" => (Remainder, 2, 2),
        "round" => (Round, 1, 1),
        "sign" => (Sign, 1, 1),
        "sin" => (Sin, 1, 1),
        "sinh" => (Sinh, 1, 1),
        "sqrt" => (Sqrt, 1, 1),
        "tan" => (Tan, 1, 1),
        "tanh" => (Tanh, 1, 1),
        "trunc" => (Trunc, 2, 2),
        "bitand" => (BitAnd, 2, 2),
        "bitor" => (BitOr, 2, 2),
        "bitxor" => (BitXor, 2, 2),
        "bitnot" => (BitNot, 1, 1),
        "isnull" => (IsNull, 1, 1),
        "isundefined" => (IsUndefined, 1, 1),
        "get_or_default" => (GetOrDefault, 2, 2),
        "topic" => (Topic, 0, 1),
        "clientid" => (ClientId, 0, 0),
        "principal" => (Principal, 0, 0),
        "sourceip" => (SourceIp, 0, 0),
        "traceid" => (TraceId, 0, 0),
        "timestamp" => (Timestamp, 0, 0),
        "newuuid" => (NewUuid, 0, 0),
        "sql_version" => (SqlVersion, 0, 0),
        "get" => (Get, 2, 2),
        "transform" => (Transform, 3, 3),
        "encode" => (Encode, 2, 2),
        "decode" => (Decode, 2, 2),
        "md2" => (Md2, 1, 1),
        "md5" => (Md5, 1, 1),
        "sha1" => (Sha1, 1, 1),
        "sha224" => (Sha224, 1, 1),
        "sha256" => (Sha256, 1, 1),
        "sha384" => (Sha384, 1, 1),
        "sha512" => (Sha512, 1, 1),
        "parse_time" => (ParseTime, 2, 3),
        "time_to_epoch" => (TimeToEpoch, 2, 2),
        "get_dynamodb" => (GetDynamoDb, 4, 4),
        "aws_lambda"
        | "get_thing_shadow"
        | "get_secret"
        | "machinelearning_predict"
        | "get_registry_data"
        | "kinesis" => return Resolved::Service,
        "get_mqtt_property" | "get_user_properties" => {
            return Resolved::Unsupported("MQTT 5 properties are not passed to rules in Weir")
        }
        _ => return Resolved::Unknown,
    };
    Resolved::Known { func, min, max }
}

impl Func {
    /// Functions that look at Undefined arguments instead of propagating them.
    fn sees_undefined(self) -> bool {
        matches!(
            self,
            Func::IsNull | Func::IsUndefined | Func::GetOrDefault | Func::Nanvl
        )
    }
}

/// Evaluates a call. `args` are compiled expressions; most functions
/// propagate an Undefined argument as an Undefined result.
pub(crate) fn call<'a>(
    ev: &mut Evaluator<'_, 'a>,
    f: Func,
    args: &'a [Expr],
    row: Option<&'a Value>,
) -> Val<'a> {
    // `encode(*, ...)` encodes the raw payload, which may not be JSON.
    if f == Func::Encode {
        if let Some(Expr::Payload) = args.first() {
            let scheme = args.get(1).map(|a| ev.eval(a, row));
            return encoding::encode_bytes(ev.cx.payload, scheme.as_ref());
        }
    }
    let mut vals: Vec<Val<'a>> = Vec::with_capacity(args.len());
    for a in args {
        vals.push(ev.eval(a, row));
    }
    if !f.sees_undefined() && vals.iter().any(Val::is_undefined) {
        return Val::Undefined;
    }
    dispatch(ev, f, vals)
}

/// Evaluates a call whose regex argument was compiled at compile time.
pub(crate) fn call_re<'a>(
    ev: &mut Evaluator<'_, 'a>,
    f: Func,
    re: &'a regex::Regex,
    args: &'a [Expr],
    row: Option<&'a Value>,
) -> Val<'a> {
    let mut vals: Vec<Val<'a>> = Vec::with_capacity(args.len());
    for a in args {
        vals.push(ev.eval(a, row));
    }
    if vals.iter().any(Val::is_undefined) {
        return Val::Undefined;
    }
    reported(ev, string::regex_call(f, Some(re), &vals))
}

/// A function's result, or Undefined with the error recorded for the rule's
/// error action.
fn reported<'a>(ev: &mut Evaluator<'_, 'a>, r: Result<Val<'a>, EvalError>) -> Val<'a> {
    r.unwrap_or_else(|e| {
        ev.fail(e);
        Val::Undefined
    })
}

fn dispatch<'a>(ev: &mut Evaluator<'_, 'a>, f: Func, v: Vec<Val<'a>>) -> Val<'a> {
    use Func::*;
    match f {
        Concat | Lower | Upper | Length | NumBytes | Substring | Trim | Ltrim | Rtrim | Lpad
        | Rpad | Replace | StartsWith | EndsWith | IndexOf | Chr => {
            reported(ev, string::call(f, &v))
        }
        RegexpMatches | RegexpReplace | RegexpSubstr => {
            reported(ev, string::regex_call(f, None, &v))
        }
        Abs | Acos | Asin | Atan | Atan2 | Ceil | Cos | Cosh | Exp | Floor | Ln | Log | Mod
        | Nanvl | Power | Rand | Remainder | Round | Sign | Sin | Sinh | Sqrt | Tan | Tanh
        | Trunc | BitAnd | BitOr | BitXor | BitNot => math::call(f, v),
        IsNull => Val::bool(matches!(
            v.first().map(Val::kind),
            Some(super::value::Kind::Null)
        )),
        IsUndefined => Val::bool(v.first().is_none_or(Val::is_undefined)),
        GetOrDefault => {
            let mut it = v.into_iter();
            match (it.next(), it.next()) {
                (Some(x), Some(d)) => match x.kind() {
                    super::value::Kind::Undefined | super::value::Kind::Null => d,
                    _ => x,
                },
                _ => Val::Undefined,
            }
        }
        Topic => collections::topic(ev.cx.topic, v.first()),
        ClientId => Val::str(ev.cx.client_id.unwrap_or("n/a").to_string()),
        Principal => opt_str(ev.cx.principal),
        SourceIp => opt_str(ev.cx.source_ip),
        TraceId => opt_str(ev.cx.trace_id),
        Timestamp => Val::int(ev.cx.timestamp_ms),
        NewUuid => Val::str(uuid::Uuid::new_v4().to_string()),
        SqlVersion => Val::str("2016-03-23".to_string()),
        Get => collections::get(v),
        Transform => collections::transform(&v),
        Encode => encoding::encode_val(&v),
        Decode => encoding::decode(&v),
        Md2 | Md5 | Sha1 | Sha224 | Sha256 | Sha384 | Sha512 => encoding::hash(f, &v),
        ParseTime => time::parse_time(&v),
        TimeToEpoch => time::time_to_epoch(&v),
        GetDynamoDb => collections::get_dynamodb(ev, &v),
    }
}

fn opt_str<'a>(s: Option<&str>) -> Val<'a> {
    match s {
        Some(s) => Val::str(s.to_string()),
        None => Val::Undefined,
    }
}
