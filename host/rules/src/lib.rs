//! AWS IoT Core rules SQL (version 2016-03-23): parse once, evaluate many.
//!
//! A rule is parsed with `sqlparser` (dialect in [`dialect`]), compiled into
//! a tree of resolved operations ([`Rule`]), and evaluated against messages
//! with AWS's semantics: its value model with *Undefined*, its operator
//! conversion tables, its functions, and its rule that actions run only when
//! WHERE is exactly `true`. [`RuleSet`] indexes many rules by topic filter.
//!
//! Invariant: this crate is pure. No IO, no threads, no async, no clock (the receive time
//! comes in [`EvalContext::timestamp_ms`]); lookup tables and Device Shadows come in as trait
//! objects ([`RowLookup`], [`ShadowLookup`]). Only `rand()` and `newuuid()` read randomness. Cargo.toml keeps it so:
//! chrono is built without `clock`, and `cargo xtask deps` fails if an async runtime, HTTP or
//! MQTT crate enters its dependencies.
//!
//! Deliberate differences from AWS (all documented where they live):
//! payload numbers are read as `f64` (so a payload number with more digits than an `f64` keeps
//! loses them) and results leave as JSON numbers (`i64` or the nearest `f64`), while
//! literals, numeric strings and arithmetic keep AWS's 34 digits ([`decimal`]); regexes use the `regex`
//! crate (no look-around or back-references); time zone names are the IANA database's (no Joda long names for `zzzz`); `get_dynamodb` reads Weir lookup tables and
//! `get_thing_shadow` the host's shadows (a missing one is Undefined); other AWS-service
//! functions are compile errors; a string function whose result would pass
//! 1 MiB, or a regular expression over 4 KiB or compiling to over 1 MiB, is
//! refused (an [`EvalError`] for the message, or a compile diagnostic for a
//! literal pattern) rather than built.

// Private modules: the crate's API is what the root re-exports below, so the compiler can
// tell when something inside is no longer used.
mod compile;
/// Java date patterns, tokenized once for IoT SQL's time functions and Firehose's prefixes.
pub mod datefmt;
mod decimal;
mod diagnostic;
mod dialect;
mod error_payload;
mod eval;
mod functions;
mod template;
mod topic;
mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use diagnostic::Diagnostic;
pub use error_payload::{ActionFailure, ErrorActionPayload};
use eval::Message;
pub use eval::{
    parse_payload, EvalContext, EvalError, LookupError, RowLookup, RuleOutput, ShadowLookup,
};
pub use template::{Template, TemplateError};
pub use topic::{filter_matches, validate_filter, RuleIndex, TopicFilterError};

/// The SQL version Weir implements (`sql_version()` returns it).
pub const SQL_VERSION: &str = "2016-03-23";

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    sql: String,
    topic_filter: String,
    query: eval::Query,
}

impl Rule {
    /// Parses and compiles `sql`. On failure returns every diagnostic found,
    /// each with its line and column.
    pub fn compile(sql: &str) -> Result<Rule, Vec<Diagnostic>> {
        let c = compile::compile_rule(sql)?;
        Ok(Rule {
            sql: sql.to_string(),
            topic_filter: c.topic_filter,
            query: c.query,
        })
    }

    /// The SQL the rule was compiled from.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The topic filter of the FROM clause.
    pub fn topic_filter(&self) -> &str {
        &self.topic_filter
    }

    /// Evaluates the rule for one message. `Ok(None)` means the rule does
    /// not fire (WHERE was not exactly `true`, or `SELECT VALUE` was
    /// Undefined). The topic is not matched here; see [`RuleSet`].
    pub fn evaluate<'m>(&self, cx: &EvalContext<'m>) -> Result<Option<RuleOutput<'m>>, EvalError> {
        let cx2: EvalContext<'_> = *cx;
        let mut ev = eval::Evaluator::new(&cx2);
        let out = ev.run_top(&self.query);
        if let Some(e) = ev.error {
            return Err(e);
        }
        Ok(out.map(|o| match o {
            RuleOutput::Payload(_) => RuleOutput::Payload(cx.payload),
            RuleOutput::Json(v) => RuleOutput::Json(v),
        }))
    }

    /// Like [`Rule::evaluate`], but always returns JSON (a passed-through
    /// payload is cloned from `cx.json`; a binary one becomes a base64 string).
    pub fn evaluate_json(&self, cx: &EvalContext<'_>) -> Result<Option<Value>, EvalError> {
        Ok(self.evaluate(cx)?.map(|o| output_to_json(&o, cx.json)))
    }
}

fn output_to_json(o: &RuleOutput<'_>, json: Option<&Value>) -> Value {
    match (o, json) {
        (RuleOutput::Json(v), _) => v.clone(),
        (RuleOutput::Payload(_), Some(j)) => j.clone(),
        (RuleOutput::Payload(b), None) => {
            use base64::Engine as _;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

/// Many compiled rules, indexed by topic filter.
#[derive(Debug)]
pub struct RuleSet<Id> {
    index: RuleIndex<Id>,
    rules: std::collections::HashMap<Id, Rule>,
}

impl<Id> Default for RuleSet<Id> {
    fn default() -> Self {
        RuleSet {
            index: RuleIndex::default(),
            rules: std::collections::HashMap::new(),
        }
    }
}

impl<Id: Clone + Eq + std::hash::Hash> RuleSet<Id> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a rule.
    pub fn insert(&mut self, id: Id, rule: Rule) {
        // The filter was validated when the rule compiled.
        if self.index.insert(id.clone(), rule.topic_filter()).is_ok() {
            self.rules.insert(id, rule);
        }
    }

    pub fn remove(&mut self, id: &Id) -> Option<Rule> {
        self.index.remove(id);
        self.rules.remove(id)
    }

    pub fn get(&self, id: &Id) -> Option<&Rule> {
        self.rules.get(id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules whose topic filter matches `topic`.
    pub fn matching(&self, topic: &str) -> Vec<(&Id, &Rule)> {
        self.index
            .matches(topic)
            .into_iter()
            .filter_map(|id| self.rules.get_key_value(&id))
            .collect()
    }
}

/// What `weir rule test` prints: the output as one line of JSON, the raw
/// payload for a binary `SELECT *`, or `null` when the rule does not fire.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleTestOutput {
    /// The rule did not fire.
    NotFired,
    /// A JSON output (keys in SELECT order; a bare value for SELECT VALUE).
    Json(Value),
    /// `SELECT *` over a payload that is not JSON: the bytes, unchanged.
    Binary(Vec<u8>),
}

impl RuleTestOutput {
    /// The JSON value, `None` for binary output; `NotFired` is JSON `null`.
    pub fn as_json(&self) -> Option<Value> {
        match self {
            RuleTestOutput::NotFired => Some(Value::Null),
            RuleTestOutput::Json(v) => Some(v.clone()),
            RuleTestOutput::Binary(_) => None,
        }
    }

    /// The line the CLI prints (without the newline).
    pub fn to_line(&self) -> Vec<u8> {
        match self {
            RuleTestOutput::NotFired => b"null".to_vec(),
            RuleTestOutput::Json(v) => serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()),
            RuleTestOutput::Binary(b) => b.clone(),
        }
    }
}

/// Errors of [`rule_test`]: invalid SQL (exit 2) or a per-message error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleTestError {
    #[error("invalid rule SQL")]
    Invalid(Vec<Diagnostic>),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// The `weir rule test` contract: compile `sql`, evaluate it once against
/// `payload` published on `topic` (the topic must match the rule's FROM
/// filter, otherwise the rule does not fire), with `timestamp()` = `now_ms`.
pub fn rule_test(
    sql: &str,
    topic: &str,
    payload: &[u8],
    client_id: Option<&str>,
    now_ms: i64,
) -> Result<RuleTestOutput, RuleTestError> {
    let rule = Rule::compile(sql).map_err(RuleTestError::Invalid)?;
    if !filter_matches(rule.topic_filter(), topic) {
        return Ok(RuleTestOutput::NotFired);
    }
    let msg = Message::new(topic, payload.to_vec());
    let mut cx = msg.context();
    cx.client_id = client_id;
    cx.timestamp_ms = now_ms;
    Ok(match rule.evaluate(&cx)? {
        None => RuleTestOutput::NotFired,
        Some(RuleOutput::Json(v)) => RuleTestOutput::Json(v),
        Some(RuleOutput::Payload(b)) => match &msg.json {
            Some(j) => RuleTestOutput::Json(j.clone()),
            None => RuleTestOutput::Binary(b.to_vec()),
        },
    })
}
