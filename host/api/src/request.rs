//! Reading and validating request fields the way AWS does.
//!
//! botocore checks only `required`, types and minimums on the client, so the server must
//! enforce maximum lengths, enums and patterns itself. Shape violations are collected and
//! reported together as one `ValidationException` ("2 validation errors detected: ...");
//! a value of the wrong JSON/CBOR type is a `SerializationException`, as on AWS.
//!
//! [`Req`] is the one list of violations both APIs report through. Kinesis fills it from
//! its model table (`actions/model.rs`) before an action runs, and its handlers read values
//! with the type-only readers ([`Req::text`], [`Req::number`]); Firehose's handlers pass
//! their constraints to [`Req::string`], [`Req::int`] and [`Req::enumeration`] and nest
//! structures with [`Req::absorb`].

use super::error::{ApiError, ErrorKind};
use super::value::Val;

/// An optional pattern check: its description for the message and the matcher.
pub type Pattern<'p> = Option<(&'p str, fn(&str) -> bool)>;

/// The most violations one answer lists, as AWS's validator stops at ten.
pub const MAX_VIOLATIONS: usize = 10;

/// A request body being read.
pub struct Req<'a> {
    body: &'a Val,
    /// `(quoted value, member path, constraint)` of each violation so far.
    errors: Vec<(String, String, String)>,
}

fn quote(v: &str) -> String {
    if v.chars().count() > 64 {
        let short: String = v.chars().take(64).collect();
        format!("'{short}...'")
    } else {
        format!("'{v}'")
    }
}

/// The lowerCamelCase member name AWS uses in validation messages.
pub fn label(field: &str) -> String {
    let mut c = field.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

impl<'a> Req<'a> {
    pub fn new(body: &'a Val) -> Result<Self, ApiError> {
        match body {
            Val::Map(_) => Ok(Req {
                body,
                errors: Vec::new(),
            }),
            other => Err(ApiError::serialization(format!(
                "Unexpected {} at the top level",
                other.kind()
            ))),
        }
    }

    pub fn raw(&self, field: &str) -> Option<&'a Val> {
        match self.body.get(field) {
            None | Some(Val::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A nested structure: `None` when absent or null, a value of another kind refused as
    /// AWS refuses it.
    pub fn structure(&self, field: &str) -> Result<Option<Req<'a>>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(v @ Val::Map(_)) => Req::new(v).map(Some),
            Some(other) => Err(ApiError::serialization(format!(
                "{} can not be converted to a structure",
                other.kind()
            ))),
        }
    }

    /// Records a constraint violation. AWS lists at most [`MAX_VIOLATIONS`]; the rest are
    /// dropped (a hostile request cannot grow the answer).
    pub fn violation(&mut self, value: Option<&str>, at: &str, constraint: &str) {
        if self.errors.len() >= MAX_VIOLATIONS {
            return;
        }
        let v = value.map(quote).unwrap_or_else(|| "null".into());
        self.errors.push((v, at.to_owned(), constraint.to_owned()));
    }

    /// Takes over the violations of `inner`, a structure read at member path `path` of this
    /// one, so they are reported as AWS reports them: one list, each at its dotted path
    /// (`extendedS3DestinationConfiguration.bufferingHints.sizeInMBs`).
    pub fn absorb(&mut self, inner: &mut Req<'_>, path: &str) {
        for (v, at, constraint) in inner.errors.drain(..) {
            self.errors.push((v, format!("{path}.{at}"), constraint));
        }
    }

    /// Ends validation: any recorded violation becomes a ValidationException.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let n = self.errors.len();
        let plural = if n == 1 { "error" } else { "errors" };
        let each: Vec<String> = self
            .errors
            .iter()
            .map(|(v, at, constraint)| {
                format!("Value {v} at '{at}' failed to satisfy constraint: {constraint}")
            })
            .collect();
        let msg = format!("{n} validation {plural} detected: {}", each.join("; "));
        self.errors.clear();
        Err(ApiError::new(ErrorKind::Validation, msg))
    }

    /// An optional string field with length bounds (in characters) and an optional pattern.
    /// A stream name or shard id: 1 to 128 characters of `[a-zA-Z0-9_.-]`, the constraint
    /// AWS puts on every such field.
    pub fn name(&mut self, field: &str, required: bool) -> Result<Option<&'a str>, ApiError> {
        self.string(field, required, 1, 128, Some((NAME_PATTERN, name_pattern)))
    }

    pub fn string(
        &mut self,
        field: &str,
        required: bool,
        min: usize,
        max: usize,
        pattern: Pattern<'_>,
    ) -> Result<Option<&'a str>, ApiError> {
        let at = label(field);
        let Some(v) = self.text(field)? else {
            if required {
                self.violation(None, &at, "Member must not be null");
            }
            return Ok(None);
        };
        check_string(self, v, &at, min, max, pattern);
        Ok(Some(v))
    }

    /// An optional string, its type checked and nothing else: for fields whose constraints
    /// the model table already checked.
    pub fn text(&self, field: &str) -> Result<Option<&'a str>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Val::Str(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(ApiError::serialization(format!(
                "{} can not be converted to a String (at '{field}')",
                other.kind()
            ))),
        }
    }

    /// An optional whole number, its type checked and nothing else (see [`Req::text`]).
    pub fn number(&self, field: &str) -> Result<Option<i128>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Val::Int(i)) => Ok(Some(*i)),
            Some(Val::Float(f)) if f.fract() == 0.0 && f.abs() < 1e30 => Ok(Some(*f as i128)),
            Some(other) => Err(ApiError::serialization(format!(
                "{} can not be converted to an Integer (at '{field}')",
                other.kind()
            ))),
        }
    }

    /// An optional integer field with bounds.
    pub fn int(
        &mut self,
        field: &str,
        required: bool,
        min: i128,
        max: i128,
    ) -> Result<Option<i128>, ApiError> {
        let at = label(field);
        let Some(v) = self.number(field)? else {
            if required {
                self.violation(None, &at, "Member must not be null");
            }
            return Ok(None);
        };
        if v < min {
            self.violation(
                Some(&v.to_string()),
                &at,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if v > max {
            self.violation(
                Some(&v.to_string()),
                &at,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
        Ok(Some(v))
    }

    /// An optional boolean.
    pub fn boolean(&mut self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Val::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::serialization(format!(
                "{} can not be converted to a Boolean (at '{field}')",
                other.kind()
            ))),
        }
    }

    /// An optional timestamp in epoch milliseconds (JSON sends epoch seconds).
    pub fn timestamp(&mut self, field: &str) -> Result<Option<i64>, ApiError> {
        timestamp_of(self.raw(field), field)
    }

    /// An enum-valued string.
    pub fn enumeration(
        &mut self,
        field: &str,
        required: bool,
        allowed: &[&str],
    ) -> Result<Option<&'a str>, ApiError> {
        let v = self.string(field, required, 0, usize::MAX, None)?;
        if let Some(s) = v {
            if !allowed.contains(&s) {
                let at = label(field);
                self.violation(
                    Some(s),
                    &at,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Ok(v)
    }
}

/// Length and pattern checks shared by top-level and nested strings.
pub fn check_string(
    req: &mut Req<'_>,
    v: &str,
    at: &str,
    min: usize,
    max: usize,
    pattern: Pattern<'_>,
) {
    let len = v.chars().count();
    if len < min {
        req.violation(
            Some(v),
            at,
            &format!("Member must have length greater than or equal to {min}"),
        );
    } else if len > max {
        req.violation(
            Some(v),
            at,
            &format!("Member must have length less than or equal to {max}"),
        );
    }
    if let Some((desc, f)) = pattern {
        if !f(v) {
            req.violation(
                Some(v),
                at,
                &format!("Member must satisfy regular expression pattern: {desc}"),
            );
        }
    }
}

/// Reads a timestamp value: a number of epoch seconds (JSON), a CBOR tag 1, or an ISO-8601
/// string is not accepted (botocore sends numbers for this protocol).
pub fn timestamp_of(v: Option<&Val>, field: &str) -> Result<Option<i64>, ApiError> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(Val::Time(ms)) => Ok(Some(*ms)),
        Some(Val::Int(i)) => Ok(Some((*i as f64 * 1000.0) as i64)),
        Some(Val::Float(f)) => Ok(Some((f * 1000.0).round() as i64)),
        Some(other) => Err(ApiError::serialization(format!(
            "{} can not be converted to a Timestamp (at '{field}')",
            other.kind()
        ))),
    }
}

/// `[a-zA-Z0-9_.-]+`
pub fn name_pattern(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}
pub const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";

/// `0|([1-9]\d{0,128})`
pub fn seq_pattern(s: &str) -> bool {
    weir_streams::seqno::is_valid_pattern(s)
}
pub const SEQ_PATTERN: &str = "0|([1-9]\\d{0,128})";

/// `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`
pub fn arn_pattern(s: &str) -> bool {
    parse_arn(s).is_some()
}

/// The stream name inside a stream ARN.
pub fn parse_arn(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("arn:aws")?;
    let (_, rest) = rest.split_once(":kinesis:")?;
    let (region_account, name) = rest.split_once(":stream/")?;
    let account = region_account.rsplit(':').next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::value::{map, s};

    #[test]
    fn a_structure_is_absent_null_a_map_or_refused() {
        let body = map(vec![
            ("Null", Val::Null),
            ("Map", map(vec![("Status", s("ON"))])),
            ("Int", Val::Int(3)),
        ]);
        let req = Req::new(&body).expect("a map");
        assert!(req.structure("Missing").expect("absent").is_none());
        assert!(req.structure("Null").expect("null").is_none());
        let sub = req.structure("Map").expect("map").expect("present");
        assert_eq!(sub.text("Status").expect("text"), Some("ON"));
        let e = req.structure("Int").err().expect("refused");
        assert!(matches!(e.kind, ErrorKind::Serialization), "{e}");
        assert_eq!(
            e.message,
            "NUMBER_VALUE can not be converted to a structure"
        );
    }
}
