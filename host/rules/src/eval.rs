//! The compiled form of a rule and its evaluator.
//!
//! Compilation ([`crate::compile`]) resolves every name once: paths are
//! pre-split into segments, functions are `Func` enum values, literals are
//! JSON values. Evaluation walks this tree against one message and never
//! fails on bad data: AWS's answer to bad data is Undefined. Typed errors
//! ([`EvalError`]) come from host services a rule calls (lookup tables),
//! which AWS also reports through the rule's error action, and from the
//! bounds that keep one hostile message from costing unbounded memory
//! (oversized strings, oversized regular expressions from the payload).

use serde_json::{Map, Value};

use super::decimal::{self, Dec};
use super::functions::{self, Func};
use super::value::{
    dec_num, dec_val, json_eq, kind_of, normalized_clone, num_cmp, to_bool_operand, to_num,
    to_num_cast, to_string_conv, Kind, Num, Val,
};

/// Host-provided lookup tables (Weir's stand-in for `get_dynamodb`).
///
/// Passed in the evaluation context as a trait object so this module stays
/// free of IO: the host loads CSV tables however it likes.
pub trait RowLookup {
    /// The row of `table` whose column `key_column` equals `key`, as an object
    /// of column name to value; `Ok(None)` when no row matches.
    fn lookup(
        &self,
        table: &str,
        key_column: &str,
        key: &str,
    ) -> Result<Option<Map<String, Value>>, LookupError>;
}

/// Host-provided Device Shadows, for `get_thing_shadow`.
///
/// A trait object in the evaluation context, like [`RowLookup`], so this crate stays free of
/// IO and of the shadow service: the host reads its shadows however it keeps them.
pub trait ShadowLookup {
    /// The shadow of `thing` (`shadow_name`: a named shadow, `None`: the classic one) as
    /// GetThingShadow returns it (`state` with its `delta`, `metadata`, `version`,
    /// `timestamp`); `Ok(None)` when the thing has no such shadow.
    fn shadow(&self, thing: &str, shadow_name: Option<&str>) -> Result<Option<Value>, LookupError>;
}

/// A lookup table failure, reported by the host's [`RowLookup`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    #[error("lookup table {0:?} does not exist")]
    NoSuchTable(String),
    #[error("lookup table {table:?} has no column {column:?}")]
    NoSuchColumn { table: String, column: String },
    #[error("lookup failed: {0}")]
    Other(String),
}

/// A per-message evaluation error; the runtime routes it to the error action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("function {function} needs lookup tables, but none are configured")]
    NoLookupTables { function: &'static str },
    /// `get_thing_shadow` where the host serves no Device Shadows (an external broker).
    #[error("function {function} needs the Device Shadow service, which this host does not run")]
    NoShadows { function: &'static str },
    #[error("function {function} failed: {source}")]
    Lookup {
        function: &'static str,
        #[source]
        source: LookupError,
    },
    /// A string function's result would be longer than `limit` bytes; it
    /// was refused before being built.
    #[error("function {function}: result would be larger than the limit of {limit} bytes")]
    StringTooLarge {
        function: &'static str,
        limit: usize,
    },
    /// A regular expression taken from the message is `len` bytes long,
    /// more than the `limit`.
    #[error(
        "function {function}: pattern is {len} bytes long, more than the limit of {limit} bytes"
    )]
    PatternTooLong {
        function: &'static str,
        len: usize,
        limit: usize,
    },
    /// A regular expression taken from the message would compile to a
    /// program larger than `limit` bytes (e.g. nested counted repetitions).
    #[error("function {function}: pattern compiles to more than the limit of {limit} bytes")]
    PatternTooBig {
        function: &'static str,
        limit: usize,
    },
}

/// Everything a rule may look at for one message.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The topic the message was published on.
    pub topic: &'a str,
    /// MQTT client id of the publisher; `clientid()` returns "n/a" without one.
    pub client_id: Option<&'a str>,
    /// Authenticated principal; `principal()` is Undefined without one.
    pub principal: Option<&'a str>,
    /// Publisher's IP address; `sourceip()` is Undefined without one.
    pub source_ip: Option<&'a str>,
    /// Trace id of this message; `traceid()` is Undefined without one.
    pub trace_id: Option<&'a str>,
    /// Receive time in milliseconds since the Unix epoch (`timestamp()`).
    pub timestamp_ms: i64,
    /// The raw payload, used by `SELECT *` and `encode(*, 'base64')`.
    pub payload: &'a [u8],
    /// The payload parsed as JSON; `None` for binary payloads.
    pub json: Option<&'a Value>,
    /// Lookup tables for `get_dynamodb`, if the host has any.
    pub lookup: Option<&'a dyn RowLookup>,
    /// Device Shadows for `get_thing_shadow`, if the host serves them.
    pub shadows: Option<&'a dyn ShadowLookup>,
}

impl<'a> EvalContext<'a> {
    /// A context with no client, principal, source ip, trace id, lookups or shadows.
    pub fn new(topic: &'a str, payload: &'a [u8], json: Option<&'a Value>) -> Self {
        EvalContext {
            topic,
            client_id: None,
            principal: None,
            source_ip: None,
            trace_id: None,
            timestamp_ms: 0,
            payload,
            json,
            lookup: None,
            shadows: None,
        }
    }
}

impl std::fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("topic", &self.topic)
            .field("client_id", &self.client_id)
            .field("principal", &self.principal)
            .field("source_ip", &self.source_ip)
            .field("trace_id", &self.trace_id)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("payload_len", &self.payload.len())
            .field("json", &self.json.is_some())
            .field("lookup", &self.lookup.is_some())
            .field("shadows", &self.shadows.is_some())
            .finish()
    }
}

/// Parses a payload the way AWS decides whether it is JSON: a payload that
/// does not parse is binary, and only `*`-based expressions see it.
pub fn parse_payload(payload: &[u8]) -> Option<Value> {
    serde_json::from_slice(payload).ok()
}

/// An owned message: topic, raw payload, and the payload parsed once (eagerly, since every
/// rule matching the topic needs it). Crate-private: [`rule_test`](crate::rule_test) builds
/// one; the host evaluates over its own inbound messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    /// `None` for a binary (non-JSON) payload.
    pub json: Option<Value>,
}

impl Message {
    pub fn new(topic: impl Into<String>, payload: Vec<u8>) -> Self {
        let json = parse_payload(&payload);
        Message {
            topic: topic.into(),
            payload,
            json,
        }
    }

    /// A context over this message; set the other fields on the result.
    pub fn context(&self) -> EvalContext<'_> {
        EvalContext::new(&self.topic, &self.payload, self.json.as_ref())
    }
}

/// What a rule produced for one message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RuleOutput<'m> {
    /// `SELECT *` alone: the original payload, byte for byte (JSON or binary).
    /// Forwarding the bytes avoids re-serialising, and is how AWS passes
    /// binary payloads through.
    Payload(&'m [u8]),
    /// A JSON document built from the SELECT clause.
    Json(Value),
}

impl RuleOutput<'_> {
    /// The output as JSON: a passed-through payload is its parsed JSON, or
    /// `None` when it is binary.
    pub fn to_json(&self, parsed: Option<&Value>) -> Option<Value> {
        match self {
            RuleOutput::Json(v) => Some(v.clone()),
            RuleOutput::Payload(_) => parsed.cloned(),
        }
    }

    /// The bytes an action sends: compact JSON, or the payload unchanged.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            RuleOutput::Payload(b) => b.to_vec(),
            RuleOutput::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Target of `cast(x AS type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastTo {
    Int,
    Decimal,
    Bool,
    String,
}

#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(Box<str>),
    Index(Box<Expr>),
}

/// A path into the current row (the message, or an element of the array a
/// nested query ranges over). An empty path is the row itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path {
    pub(crate) segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Lit(Value),
    /// A number literal an `f64` cannot hold exactly (more than 15
    /// significant digits, or a whole number past `i64`), kept as written.
    Dec(Dec),
    Path(Path),
    /// Field access on a computed value, e.g. `decode(x, 'base64').a`.
    Access(Box<Expr>, Path),
    /// `*` used as a value, e.g. in `encode(*, 'base64')`.
    Payload,
    Neg(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `x [NOT] IN arr`: membership by `=` in an array.
    In {
        needle: Box<Expr>,
        haystack: Box<Expr>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Call(Func, Vec<Expr>),
    /// A regex function whose pattern literal was compiled once.
    CallRe(Func, Box<regex::Regex>, Vec<Expr>),
    Cast(Box<Expr>, CastTo),
    Object(Vec<(Box<str>, Expr)>),
    Array(Vec<Expr>),
    Subquery(Box<Query>),
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// `*`: every key of the row.
    Wildcard,
    /// `a.b.*`: every key of the object at the path.
    Expand(Path),
    Named(Box<str>, Expr),
}

#[derive(Debug, Clone)]
pub(crate) enum Projection {
    /// `SELECT *` alone at the top level: pass the payload through.
    PassThrough,
    /// `SELECT VALUE expr`.
    Value(Expr),
    Items(Vec<Item>),
}

#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) projection: Projection,
    /// For a nested query: the array it ranges over. `None` at the top level.
    pub(crate) source: Option<Path>,
    pub(crate) filter: Option<Expr>,
}

/// Walks compiled expressions for one message.
pub(crate) struct Evaluator<'c, 'a> {
    pub(crate) cx: &'c EvalContext<'a>,
    /// First service error met; evaluation continues (Undefined) and the
    /// caller reports it.
    pub(crate) error: Option<EvalError>,
}

impl<'c, 'a> Evaluator<'c, 'a> {
    pub(crate) fn new(cx: &'c EvalContext<'a>) -> Self {
        Evaluator { cx, error: None }
    }

    pub(crate) fn fail(&mut self, e: EvalError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Runs a top-level query; `None` when WHERE is not exactly true.
    pub(crate) fn run_top(&mut self, q: &'a Query) -> Option<RuleOutput<'a>> {
        let row = self.cx.json;
        if let Some(w) = &q.filter {
            if !is_true(&self.eval(w, row)) {
                return None;
            }
        }
        match &q.projection {
            Projection::PassThrough => Some(RuleOutput::Payload(self.cx.payload)),
            Projection::Value(e) => self.eval(e, row).into_json().map(RuleOutput::Json),
            Projection::Items(items) => Some(RuleOutput::Json(Value::Object(
                self.build_object(items, row),
            ))),
        }
    }

    fn build_object(&mut self, items: &'a [Item], row: Option<&'a Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for item in items {
            match item {
                Item::Wildcard => {
                    if let Some(Value::Object(o)) = row {
                        for (k, v) in o {
                            out.insert(k.clone(), normalized_clone(v));
                        }
                    }
                }
                Item::Expand(p) => {
                    if let Val::Ref(Value::Object(o)) = self.path(p, row) {
                        for (k, v) in o {
                            out.insert(k.clone(), normalized_clone(v));
                        }
                    }
                }
                Item::Named(k, e) => {
                    if let Some(v) = self.eval(e, row).into_json() {
                        out.insert(k.to_string(), v);
                    }
                }
            }
        }
        out
    }

    fn path(&mut self, p: &'a Path, row: Option<&'a Value>) -> Val<'a> {
        self.path_from(p, row, row)
    }

    /// Walks `p` from `base`; index expressions are evaluated in `row`.
    fn path_from(
        &mut self,
        p: &'a Path,
        base: Option<&'a Value>,
        row: Option<&'a Value>,
    ) -> Val<'a> {
        let Some(mut cur) = base else {
            return Val::Undefined;
        };
        for seg in &p.segs {
            let next = match seg {
                Seg::Key(k) => match cur {
                    Value::Object(o) => o.get(&**k),
                    _ => None,
                },
                Seg::Index(e) => {
                    let idx = self.eval(e, row);
                    match (cur, idx.kind()) {
                        (Value::Array(a), Kind::Int(i)) => {
                            usize::try_from(i).ok().and_then(|i| a.get(i))
                        }
                        _ => None,
                    }
                }
            };
            match next {
                Some(v) => cur = v,
                None => return Val::Undefined,
            }
        }
        Val::Ref(cur)
    }

    /// Walks `p` inside an evaluated value; borrowed values stay borrowed.
    fn access(&mut self, v: Val<'a>, p: &'a Path, row: Option<&'a Value>) -> Val<'a> {
        match v {
            Val::Undefined | Val::Dec(_) => Val::Undefined,
            Val::Ref(r) => self.path_from(p, Some(r), row),
            Val::Own(mut cur) => {
                for seg in &p.segs {
                    let next = match seg {
                        Seg::Key(k) => match &mut cur {
                            Value::Object(o) => o.remove(&**k),
                            _ => None,
                        },
                        Seg::Index(e) => {
                            let idx = self.eval(e, row);
                            match (&mut cur, idx.kind()) {
                                (Value::Array(a), Kind::Int(i)) => usize::try_from(i)
                                    .ok()
                                    .filter(|i| *i < a.len())
                                    .map(|i| a.swap_remove(i)),
                                _ => None,
                            }
                        }
                    };
                    match next {
                        Some(n) => cur = n,
                        None => return Val::Undefined,
                    }
                }
                Val::Own(cur)
            }
        }
    }

    pub(crate) fn eval(&mut self, e: &'a Expr, row: Option<&'a Value>) -> Val<'a> {
        match e {
            Expr::Lit(v) => Val::Ref(v),
            Expr::Dec(d) => Val::Dec(*d),
            Expr::Path(p) => self.path(p, row),
            Expr::Access(base, p) => {
                let v = self.eval(base, row);
                self.access(v, p, row)
            }
            Expr::Payload => match row {
                Some(v) => Val::Ref(v),
                None => Val::Undefined,
            },
            Expr::Neg(x) => negate(&self.eval(x, row)),
            Expr::Not(x) => match to_bool_operand(self.eval(x, row).kind()) {
                Some(b) => Val::bool(!b),
                None => Val::Undefined,
            },
            Expr::And(a, b) | Expr::Or(a, b) => {
                let l = self.eval(a, row);
                let r = self.eval(b, row);
                match (to_bool_operand(l.kind()), to_bool_operand(r.kind())) {
                    (Some(x), Some(y)) => Val::bool(if matches!(e, Expr::And(..)) {
                        x && y
                    } else {
                        x || y
                    }),
                    _ => Val::Undefined,
                }
            }
            Expr::Arith(op, a, b) => {
                let l = self.eval(a, row);
                let r = self.eval(b, row);
                arith(*op, l.kind(), r.kind())
            }
            Expr::Cmp(op, a, b) => {
                let l = self.eval(a, row);
                let r = self.eval(b, row);
                compare(*op, l.kind(), r.kind())
            }
            Expr::In {
                needle,
                haystack,
                negated,
            } => {
                let n = self.eval(needle, row);
                let h = self.eval(haystack, row);
                contains(&n, &h, *negated)
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => self.case(operand.as_deref(), whens, otherwise.as_deref(), row),
            Expr::Call(f, args) => functions::call(self, *f, args, row),
            Expr::CallRe(f, re, args) => functions::call_re(self, *f, re, args, row),
            Expr::Cast(x, to) => {
                let v = self.eval(x, row);
                cast(v.kind(), *to)
            }
            Expr::Object(fields) => self.object(fields, row),
            Expr::Array(items) => self.array(items, row),
            Expr::Subquery(q) => self.subquery(q, row),
        }
    }

    /// `CASE`: with a subject, the first `WHEN` equal to it; without, the first true one;
    /// else `ELSE`, or Undefined.
    fn case(
        &mut self,
        operand: Option<&'a Expr>,
        whens: &'a [(Expr, Expr)],
        otherwise: Option<&'a Expr>,
        row: Option<&'a Value>,
    ) -> Val<'a> {
        match operand {
            Some(op) => {
                let v = self.eval(op, row);
                // AWS: an Undefined subject makes the whole CASE
                // Undefined, ELSE included.
                if v.is_undefined() {
                    return Val::Undefined;
                }
                for (w, then) in whens {
                    let t = self.eval(w, row);
                    if !t.is_undefined() && json_eq(v.kind(), t.kind()) {
                        return self.eval(then, row);
                    }
                }
            }
            None => {
                for (w, then) in whens {
                    if is_true(&self.eval(w, row)) {
                        return self.eval(then, row);
                    }
                }
            }
        }
        match otherwise {
            Some(x) => self.eval(x, row),
            None => Val::Undefined,
        }
    }

    /// `{'k': x, ...}`: a field whose value is Undefined is left out, as AWS does.
    fn object(&mut self, fields: &'a [(Box<str>, Expr)], row: Option<&'a Value>) -> Val<'a> {
        let mut m = Map::new();
        for (k, x) in fields {
            if let Some(v) = self.eval(x, row).into_json() {
                m.insert(k.to_string(), v);
            }
        }
        Val::Own(Value::Object(m))
    }

    /// `[x, ...]`: an Undefined element is left out, as AWS does.
    fn array(&mut self, items: &'a [Expr], row: Option<&'a Value>) -> Val<'a> {
        let mut a = Vec::with_capacity(items.len());
        for x in items {
            if let Some(v) = self.eval(x, row).into_json() {
                a.push(v);
            }
        }
        Val::Own(Value::Array(a))
    }

    fn subquery(&mut self, q: &'a Query, row: Option<&'a Value>) -> Val<'a> {
        let src = match &q.source {
            Some(p) => self.path(p, row),
            None => return Val::Undefined,
        };
        let elems = match src {
            Val::Ref(Value::Array(elems)) => elems,
            // A nested query over an object has that one object as its row
            // and gives its result unwrapped: AWS's
            // `transform('enrichArray', (SELECT a, b FROM data2), ...)`.
            Val::Ref(obj @ Value::Object(_)) => return self.single_row(q, obj),
            _ => return Val::Undefined,
        };
        let mut out = Vec::new();
        for el in elems {
            let r = Some(el);
            if let Some(w) = &q.filter {
                if !is_true(&self.eval(w, r)) {
                    continue;
                }
            }
            match &q.projection {
                Projection::PassThrough => out.push(normalized_clone(el)),
                Projection::Value(e) => {
                    if let Some(v) = self.eval(e, r).into_json() {
                        out.push(v);
                    }
                }
                Projection::Items(items) => out.push(Value::Object(self.build_object(items, r))),
            }
        }
        Val::Own(Value::Array(out))
    }

    fn single_row(&mut self, q: &'a Query, row: &'a Value) -> Val<'a> {
        let r = Some(row);
        if let Some(w) = &q.filter {
            if !is_true(&self.eval(w, r)) {
                return Val::Undefined;
            }
        }
        match &q.projection {
            Projection::PassThrough => Val::Ref(row),
            Projection::Value(e) => self.eval(e, r),
            Projection::Items(items) => Val::Own(Value::Object(self.build_object(items, r))),
        }
    }
}

/// WHERE fires only on Boolean true, not on "true" or 1.
pub(crate) fn is_true(v: &Val<'_>) -> bool {
    matches!(v.kind(), Kind::Bool(true))
}

fn arith<'a>(op: ArithOp, l: Kind<'_>, r: Kind<'_>) -> Val<'a> {
    if matches!(l, Kind::Undefined) || matches!(r, Kind::Undefined) {
        return Val::Undefined;
    }
    if op == ArithOp::Add && (matches!(l, Kind::Str(_)) || matches!(r, Kind::Str(_))) {
        return match (to_string_conv(l), to_string_conv(r)) {
            (Some(a), Some(b)) => {
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(&a);
                s.push_str(&b);
                Val::str(s)
            }
            _ => Val::Undefined,
        };
    }
    let (Some(a), Some(b)) = (to_num(l), to_num(r)) else {
        return Val::Undefined;
    };
    num_arith(op, a, b)
}

/// Int op Int gives Int (an exact 34-digit one on `i64` overflow); anything
/// involving a Decimal is computed in decimal128, so `0.1 + 0.2` is 0.3 as in
/// AWS. Division or remainder by zero is Undefined.
pub(crate) fn num_arith<'a>(op: ArithOp, a: Num, b: Num) -> Val<'a> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        let r = match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Div => {
                if y == 0 {
                    return Val::Undefined;
                }
                x.checked_div(y)
            }
            ArithOp::Rem => {
                if y == 0 {
                    return Val::Undefined;
                }
                x.checked_rem(y)
            }
        };
        if let Some(r) = r {
            return Val::int(r);
        }
        if op == ArithOp::Div {
            // i64::MIN / -1: Int division stays integral.
            return match decimal::arith(op, decimal::from_i64(x), decimal::from_i64(y)) {
                Some(q) => dec_num(decimal::to_integral(q, decimal::Round::Trunc)),
                None => Val::Undefined,
            };
        }
    }
    match (a.as_dec(), b.as_dec()) {
        (Some(x), Some(y)) => match decimal::arith(op, x, y) {
            Some(r) => dec_num(r),
            None => Val::Undefined,
        },
        _ => Val::Undefined,
    }
}

fn compare<'a>(op: CmpOp, l: Kind<'_>, r: Kind<'_>) -> Val<'a> {
    if matches!(l, Kind::Undefined) || matches!(r, Kind::Undefined) {
        return Val::Undefined;
    }
    match op {
        CmpOp::Eq => Val::bool(json_eq(l, r)),
        CmpOp::Ne => Val::bool(!json_eq(l, r)),
        _ => {
            let (Some(a), Some(b)) = (to_num(l), to_num(r)) else {
                return Val::Undefined;
            };
            let Some(ord) = num_cmp(a, b) else {
                return Val::Undefined;
            };
            use std::cmp::Ordering::*;
            Val::bool(match op {
                CmpOp::Gt => ord == Greater,
                CmpOp::Ge => ord != Less,
                CmpOp::Lt => ord == Less,
                CmpOp::Le => ord != Greater,
                CmpOp::Eq | CmpOp::Ne => false,
            })
        }
    }
}

/// `cast()` as in AWS's conversion tables.
pub(crate) fn cast<'a>(k: Kind<'_>, to: CastTo) -> Val<'a> {
    match to {
        CastTo::Int => match to_num_cast(k) {
            // Decimals (and decimal strings) are truncated toward zero, like
            // Java's BigDecimal.longValue().
            Some(Num::Int(i)) => Val::int(i),
            Some(Num::Dec(d)) => {
                let t = d.trunc();
                if t.abs() < 9.2e18 {
                    Val::int(t as i64)
                } else {
                    match decimal::from_f64(t) {
                        Some(x) => dec_num(x),
                        None => Val::Undefined,
                    }
                }
            }
            Some(Num::Big(d)) => dec_num(decimal::to_integral(d, decimal::Round::Trunc)),
            None => Val::Undefined,
        },
        CastTo::Decimal => match to_num_cast(k) {
            Some(n) => n.into_val(),
            None => Val::Undefined,
        },
        CastTo::Bool => match k {
            Kind::Bool(b) => Val::bool(b),
            Kind::Int(i) => Val::bool(i != 0),
            Kind::Dec(d) => Val::bool(d != 0.0),
            Kind::Big(d) => Val::bool(!d.is_zero()),
            Kind::Str(s) if s.eq_ignore_ascii_case("true") => Val::bool(true),
            Kind::Str(s) if s.eq_ignore_ascii_case("false") => Val::bool(false),
            _ => Val::Undefined,
        },
        CastTo::String => match to_string_conv(k) {
            Some(s) => Val::str(s.into_owned()),
            None => Val::Undefined,
        },
    }
}

/// `-x`: an integer that would overflow (`-i64::MIN`) becomes a decimal; not a number is
/// Undefined.
fn negate<'a>(v: &Val<'_>) -> Val<'a> {
    match to_num(v.kind()) {
        Some(Num::Int(i)) => match i.checked_neg() {
            Some(n) => Val::int(n),
            None => dec_val(-(i as f64)),
        },
        Some(Num::Dec(d)) => dec_val(-d),
        Some(Num::Big(d)) => dec_num(decimal::neg(d)),
        None => Val::Undefined,
    }
}

/// `needle [NOT] IN haystack`: Undefined unless the needle is defined and the haystack an
/// array.
fn contains<'a>(needle: &Val<'_>, haystack: &Val<'_>, negated: bool) -> Val<'a> {
    match (needle.kind(), haystack.kind()) {
        (Kind::Undefined, _) => Val::Undefined,
        (k, Kind::Arr(items)) => {
            let found = items.iter().any(|i| json_eq(k, kind_of(i)));
            Val::bool(found != negated)
        }
        _ => Val::Undefined,
    }
}
