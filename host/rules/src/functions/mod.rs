//! AWS IoT SQL functions, resolved at compile time to a [`Func`].
//!
//! Each function follows AWS's documented argument conversions; a function
//! given an argument it cannot use returns Undefined (AWS never fails a rule
//! for bad data). The exceptions are bounds on hostile input, which fail the
//! message with an [`EvalError`] instead of running out of memory: a string
//! result over `string::MAX_STRING_BYTES`, and a pattern from the message
//! over the limits in `pattern`. Functions that call AWS services are
//! compile errors, except `get_dynamodb`, which Weir serves from its own
//! lookup tables, and `get_thing_shadow`, which reads the host's Device
//! Shadows.

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

/// The function table: one row per function with its variant, the name AWS documents (matched
/// case-insensitively) and the fewest and most arguments it takes; `syntax "NAME"` rows are
/// names the compiler handles as syntax (`CAST(x AS type)`), known only to "did you mean". The
/// [`Func`] enum, [`FUNCTIONS`] (what [`resolve`] reads) and [`NAMES`] (what [`suggest`] reads)
/// all come from this one list, so they cannot drift; adding a function is one row plus its arm
/// in `dispatch` (the compiler insists on the arm).
///
/// A tt-muncher: it walks the rows once, collecting the enum's variants, the table's rows and
/// the names in order, then emits the three items.
macro_rules! functions {
    (@rows [$($variant:ident)*] [$($row:expr,)*] [$($name:literal)*]) => {
        /// Every function Weir implements. Resolution happens once, at compile time.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func {
            $( $variant, )*
        }

        /// Every function with its arity, in table order.
        const FUNCTIONS: &[Spec] = &[$( $row, )*];

        /// Every name Weir knows, for "did you mean" hints: the functions and the syntax rows,
        /// in table order (the first of equally close names wins).
        pub(super) const NAMES: &[&str] = &[$( $name, )*];
    };
    (@rows [$($variant:ident)*] [$($row:expr,)*] [$($name:literal)*]
        $v:ident = $n:literal ($min:expr, $max:expr), $($rest:tt)*) => {
        functions!(@rows [$($variant)* $v]
            [$($row,)* Spec { func: Func::$v, name: $n, min: $min, max: $max },]
            [$($name)* $n] $($rest)*);
    };
    (@rows [$($variant:ident)*] [$($row:expr,)*] [$($name:literal)*]
        syntax $n:literal, $($rest:tt)*) => {
        functions!(@rows [$($variant)*] [$($row,)*] [$($name)* $n] $($rest)*);
    };
    ($($rows:tt)*) => {
        functions!(@rows [] [] [] $($rows)*);
    };
}

/// A row of the function table.
struct Spec {
    func: Func,
    name: &'static str,
    min: usize,
    max: usize,
}

const ANY: usize = usize::MAX;

functions! {
    // Strings.
    Concat = "concat" (0, ANY),
    Lower = "lower" (1, 1),
    Upper = "upper" (1, 1),
    Length = "length" (1, 1),
    NumBytes = "numbytes" (1, 1),
    Substring = "substring" (2, 3),
    Trim = "trim" (1, 1),
    Ltrim = "ltrim" (1, 1),
    Rtrim = "rtrim" (1, 1),
    Lpad = "lpad" (2, 2),
    Rpad = "rpad" (2, 2),
    Replace = "replace" (3, 3),
    RegexpMatches = "regexp_matches" (2, 2),
    RegexpReplace = "regexp_replace" (3, 3),
    RegexpSubstr = "regexp_substr" (2, 2),
    StartsWith = "startswith" (2, 2),
    EndsWith = "endswith" (2, 2),
    IndexOf = "indexof" (2, 2),
    Chr = "chr" (1, 1),
    // Math and bits.
    Abs = "abs" (1, 1),
    Acos = "acos" (1, 1),
    Asin = "asin" (1, 1),
    Atan = "atan" (1, 1),
    Atan2 = "atan2" (2, 2),
    Ceil = "ceil" (1, 1),
    Cos = "cos" (1, 1),
    Cosh = "cosh" (1, 1),
    Exp = "exp" (1, 1),
    Floor = "floor" (1, 1),
    Ln = "ln" (1, 1),
    Log = "log" (1, 1),
    Mod = "mod" (2, 2),
    Nanvl = "nanvl" (2, 2),
    Power = "power" (2, 2),
    Rand = "rand" (0, 0),
    Remainder = "remainder" (2, 2),
    Round = "round" (1, 1),
    Sign = "sign" (1, 1),
    Sin = "sin" (1, 1),
    Sinh = "sinh" (1, 1),
    Sqrt = "sqrt" (1, 1),
    Tan = "tan" (1, 1),
    Tanh = "tanh" (1, 1),
    Trunc = "trunc" (2, 2),
    BitAnd = "bitand" (2, 2),
    BitOr = "bitor" (2, 2),
    BitXor = "bitxor" (2, 2),
    BitNot = "bitnot" (1, 1),
    syntax "cast",
    // Types.
    IsNull = "isNull" (1, 1),
    IsUndefined = "isUndefined" (1, 1),
    GetOrDefault = "get_or_default" (2, 2),
    // Context.
    Topic = "topic" (0, 1),
    ClientId = "clientid" (0, 0),
    Principal = "principal" (0, 0),
    SourceIp = "sourceip" (0, 0),
    TraceId = "traceid" (0, 0),
    Timestamp = "timestamp" (0, 0),
    NewUuid = "newuuid" (0, 0),
    SqlVersion = "sql_version" (0, 0),
    // Collections.
    Get = "get" (2, 2),
    Transform = "transform" (3, 3),
    // Encoding and hashing.
    Encode = "encode" (2, 2),
    Decode = "decode" (2, 2),
    Md2 = "md2" (1, 1),
    Md5 = "md5" (1, 1),
    Sha1 = "sha1" (1, 1),
    Sha224 = "sha224" (1, 1),
    Sha256 = "sha256" (1, 1),
    Sha384 = "sha384" (1, 1),
    Sha512 = "sha512" (1, 1),
    // Time.
    ParseTime = "parse_time" (2, 3),
    TimeToEpoch = "time_to_epoch" (2, 2),
    // Weir lookup tables standing in for DynamoDB.
    GetDynamoDb = "get_dynamodb" (4, 4),
    // The host's Device Shadows: (thing, roleArn) or (thing, shadowName, roleArn).
    GetThingShadow = "get_thing_shadow" (2, 3),
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

/// AWS functions that call an AWS service Weir does not have.
const SERVICE: &[&str] = &[
    "aws_lambda",
    "get_secret",
    "machinelearning_predict",
    "get_registry_data",
    "kinesis",
];

/// Functions AWS documents that Weir does not offer, with the reason.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "get_mqtt_property",
        "MQTT 5 properties are not passed to rules in Weir",
    ),
    (
        "get_user_properties",
        "MQTT 5 properties are not passed to rules in Weir",
    ),
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
    if let Some(f) = FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name)) {
        return Resolved::Known {
            func: f.func,
            min: f.min,
            max: f.max,
        };
    }
    if SERVICE.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Resolved::Service;
    }
    match UNSUPPORTED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, why)) => Resolved::Unsupported(why),
        None => Resolved::Unknown,
    }
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
        GetThingShadow => collections::get_thing_shadow(ev, &v),
    }
}

fn opt_str<'a>(s: Option<&str>) -> Val<'a> {
    match s {
        Some(s) => Val::str(s.to_string()),
        None => Val::Undefined,
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn known(name: &str) -> Option<(Func, usize, usize)> {
        match resolve(name) {
            Resolved::Known { func, min, max } => Some((func, min, max)),
            _ => None,
        }
    }

    /// Each row is what `resolve` returns for its name, whatever the case: a row shadowed by an
    /// earlier one with the same name would fail here.
    #[test]
    fn every_row_resolves_to_itself_in_any_case() {
        for f in FUNCTIONS {
            let want = Some((f.func, f.min, f.max));
            assert_eq!(known(f.name), want, "{}", f.name);
            assert_eq!(known(&f.name.to_ascii_uppercase()), want, "{}", f.name);
            assert_eq!(known(&f.name.to_ascii_lowercase()), want, "{}", f.name);
        }
    }

    /// A name belongs to one list only: the function table, the AWS service functions or the
    /// unsupported ones (a name in two would make the later list unreachable).
    #[test]
    fn names_are_unique_across_the_lists() {
        let all: Vec<String> = NAMES
            .iter()
            .chain(SERVICE)
            .chain(UNSUPPORTED.iter().map(|(n, _)| n))
            .map(|n| n.to_ascii_lowercase())
            .collect();
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len(), "a name is listed twice: {all:?}");
        for n in SERVICE {
            assert!(matches!(resolve(n), Resolved::Service), "{n}");
        }
        for (n, why) in UNSUPPORTED {
            assert!(
                matches!(resolve(n), Resolved::Unsupported(w) if w == *why),
                "{n}"
            );
        }
    }

    /// The hint list is the function table plus the syntax rows, in the table's order, and a
    /// syntax row is not resolvable as a function.
    #[test]
    fn hint_names_are_the_table_plus_syntax() {
        let functions: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        let hinted: Vec<&str> = NAMES.iter().copied().filter(|n| *n != "cast").collect();
        assert_eq!(hinted, functions);
        assert!(NAMES.contains(&"cast"));
        assert!(matches!(resolve("cast"), Resolved::Unknown));
        assert_eq!(suggest("caste"), Some("cast"));
        assert_eq!(suggest("uper"), Some("upper"));
        assert_eq!(suggest("isnul"), Some("isNull"));
        assert_eq!(known("concat"), Some((Func::Concat, 0, ANY)));
        assert_eq!(known("parse_time"), Some((Func::ParseTime, 2, 3)));
        assert!(matches!(resolve("nosuchfn"), Resolved::Unknown));
    }
}
