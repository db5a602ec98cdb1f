//! Firehose key templates: the `Prefix` and `ErrorOutputPrefix` of an S3 destination.
//!
//! A template is literal text with expressions `!{timestamp:PATTERN}`,
//! `!{firehose:random-string}` and `!{firehose:error-output-type}`. Timestamp patterns are a
//! subset of Java's `DateTimeFormatter`: `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`, quoted literals
//! (`'...'`, with `''` for a quote) and non-letter characters. Anything else is refused when the
//! template is parsed, so a typo fails at configuration time rather than at 3 a.m. when the
//! first object is written.
//!
//! Parsing is pure; rendering takes the instant and the random string as arguments, so tests
//! never depend on the wall clock.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// AWS's limit on `Prefix` and `ErrorOutputPrefix` (the API's `maxLength`).
pub const MAX_PREFIX_LEN: usize = 1024;

/// The `!{firehose:error-output-type}` values Firehose documents. Only these are accepted, so an
/// error type rendered into a key can never carry path syntax.
pub const ERROR_OUTPUT_TYPES: &[&str] = &[
    "processing-failed",
    "AmazonOpenSearchService-failed",
    "splunk-failed",
    "format-conversion-failed",
    "http-endpoint-failed",
];

/// Which configuration field a template came from; it decides which expressions are allowed
/// and names the field in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    /// `Prefix`: where delivered objects go.
    Data,
    /// `ErrorOutputPrefix`: where failed records go.
    Error,
}

impl std::fmt::Display for PrefixKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PrefixKind::Data => "prefix",
            PrefixKind::Error => "error output prefix",
        })
    }
}

/// Why a prefix template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("{kind} {template:?}: expression starting at byte {at} has no closing `}}`")]
    Unterminated {
        kind: PrefixKind,
        template: String,
        at: usize,
    },
    #[error("{kind} {template:?}: unsupported expression `!{{{expr}}}` (supported: timestamp:PATTERN, firehose:random-string, firehose:error-output-type)")]
    UnknownExpression {
        kind: PrefixKind,
        template: String,
        expr: String,
    },
    #[error("{kind} {template:?}: unsupported timestamp pattern {pattern:?}: {reason} (supported: yyyy, MM, dd, HH, mm, ss, quoted literals)")]
    BadTimestampPattern {
        kind: PrefixKind,
        template: String,
        pattern: String,
        reason: String,
    },
    #[error("prefix {template:?}: `!{{firehose:error-output-type}}` is only allowed in the error output prefix")]
    ErrorTypeInDataPrefix { template: String },
    #[error("error output prefix {template:?}: a prefix with expressions must contain `!{{firehose:error-output-type}}`")]
    ErrorPrefixWithoutErrorType { template: String },
    #[error("prefix {template:?} uses expressions, so an error output prefix is required")]
    ErrorPrefixRequired { template: String },
    #[error("{kind}: {len} bytes is longer than the {MAX_PREFIX_LEN}-byte limit")]
    TooLong { kind: PrefixKind, len: usize },
    #[error("{kind} {template:?}: contains a NUL byte")]
    Nul { kind: PrefixKind, template: String },
}

/// One piece of a timestamp pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TsPart {
    Literal(String),
    Year4,
    Month2,
    Day2,
    Hour2,
    Minute2,
    Second2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Timestamp(Vec<TsPart>),
    RandomString,
    ErrorOutputType,
    /// `!{partitionKeyFromQuery:NAME}`: a dynamic-partitioning key of the object's records.
    PartitionKey(String),
}

/// A parsed prefix template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    segments: Vec<Segment>,
}

/// Firehose's default time folders, `yyyy/MM/dd/HH/`.
fn default_time_folders() -> Segment {
    Segment::Timestamp(vec![
        TsPart::Year4,
        TsPart::Literal("/".into()),
        TsPart::Month2,
        TsPart::Literal("/".into()),
        TsPart::Day2,
        TsPart::Literal("/".into()),
        TsPart::Hour2,
        TsPart::Literal("/".into()),
    ])
}

impl KeyTemplate {
    /// Parses one template and applies the rules that concern it alone.
    pub fn parse(template: &str, kind: PrefixKind) -> Result<Self, PrefixError> {
        if template.len() > MAX_PREFIX_LEN {
            return Err(PrefixError::TooLong {
                kind,
                len: template.len(),
            });
        }
        if template.contains('\0') {
            return Err(PrefixError::Nul {
                kind,
                template: template.into(),
            });
        }
        let mut segments = Vec::new();
        let mut rest = template;
        let mut offset = 0;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| PrefixError::Unterminated {
                kind,
                template: template.into(),
                at: offset + start,
            })?;
            let expr = &after[..end];
            segments.push(parse_expression(expr, kind, template)?);
            let consumed = start + 2 + end + 1;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        let t = KeyTemplate { segments };
        if kind == PrefixKind::Data && t.has_error_type() {
            return Err(PrefixError::ErrorTypeInDataPrefix {
                template: template.into(),
            });
        }
        if kind == PrefixKind::Error && t.has_expressions() && !t.has_error_type() {
            return Err(PrefixError::ErrorPrefixWithoutErrorType {
                template: template.into(),
            });
        }
        Ok(t)
    }

    /// True when the template contains any `!{...}` expression.
    pub fn has_expressions(&self) -> bool {
        self.segments
            .iter()
            .any(|s| !matches!(s, Segment::Literal(_)))
    }

    fn has_timestamp(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Timestamp(_)))
    }

    /// The `!{partitionKeyFromQuery:NAME}` names, in order of appearance.
    pub fn partition_keys(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::PartitionKey(k) => Some(k.as_str()),
                _ => None,
            })
            .collect()
    }

    fn has_error_type(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::ErrorOutputType))
    }

    /// The literal text of a template without expressions.
    fn literal_text(&self) -> String {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Renders the template. Every timestamp expression uses the same instant (the oldest
    /// record's arrival), as Firehose does. `error_output_type` is rendered where the template
    /// asks for it; data templates never do.
    pub fn render(&self, at: &DateTime<Utc>, random: &str, error_output_type: &str) -> String {
        self.render_keys(at, random, error_output_type, &|_| None)
    }

    /// [`KeyTemplate::render`] with the partition keys of the object's records; a key the
    /// lookup does not know renders empty (the caller checked every name beforehand).
    pub fn render_keys(
        &self,
        at: &DateTime<Utc>,
        random: &str,
        error_output_type: &str,
        keys: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::PartitionKey(k) => out.push_str(&keys(k).unwrap_or_default()),
                Segment::RandomString => out.push_str(random),
                Segment::ErrorOutputType => out.push_str(error_output_type),
                Segment::Timestamp(parts) => {
                    for p in parts {
                        match p {
                            TsPart::Literal(l) => out.push_str(l),
                            TsPart::Year4 => out.push_str(&format!("{:04}", at.year())),
                            TsPart::Month2 => out.push_str(&format!("{:02}", at.month())),
                            TsPart::Day2 => out.push_str(&format!("{:02}", at.day())),
                            TsPart::Hour2 => out.push_str(&format!("{:02}", at.hour())),
                            TsPart::Minute2 => out.push_str(&format!("{:02}", at.minute())),
                            TsPart::Second2 => out.push_str(&format!("{:02}", at.second())),
                        }
                    }
                }
            }
        }
        out
    }
}

/// The effective data and error templates of a destination, after AWS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    pub data: KeyTemplate,
    pub error: KeyTemplate,
}

impl Prefixes {
    /// Applies Firehose's rules for the pair:
    /// - `!{firehose:error-output-type}` only in the error prefix;
    /// - a data prefix with expressions requires an error prefix;
    /// - an error prefix with expressions must contain `!{firehose:error-output-type}`;
    /// - a prefix without a timestamp expression gets the default `yyyy/MM/dd/HH/` appended;
    /// - an error prefix without expressions (or none at all, which reuses the static data
    ///   prefix) gets `ERROR-OUTPUT-TYPE/` and then the time folders appended.
    pub fn new(prefix: Option<&str>, error_prefix: Option<&str>) -> Result<Self, PrefixError> {
        let data = KeyTemplate::parse(prefix.unwrap_or(""), PrefixKind::Data)?;
        let error = match error_prefix {
            Some(e) => KeyTemplate::parse(e, PrefixKind::Error)?,
            None if data.has_expressions() => {
                return Err(PrefixError::ErrorPrefixRequired {
                    template: prefix.unwrap_or("").into(),
                })
            }
            None => KeyTemplate {
                segments: vec![Segment::Literal(data.literal_text())],
            },
        };
        let mut data = data;
        // Dynamic partitioning replaces the default time folders: the prefix says it all.
        if !data.has_timestamp() && data.partition_keys().is_empty() {
            data.segments.push(default_time_folders());
        }
        let mut error = error;
        if !error.has_expressions() {
            error.segments.push(Segment::ErrorOutputType);
            error.segments.push(Segment::Literal("/".into()));
        }
        if !error.has_timestamp() {
            error.segments.push(default_time_folders());
        }
        Ok(Prefixes { data, error })
    }
}

fn parse_expression(expr: &str, kind: PrefixKind, template: &str) -> Result<Segment, PrefixError> {
    if let Some(pattern) = expr.strip_prefix("timestamp:") {
        return parse_timestamp_pattern(pattern)
            .map(Segment::Timestamp)
            .map_err(|reason| PrefixError::BadTimestampPattern {
                kind,
                template: template.into(),
                pattern: pattern.into(),
                reason,
            });
    }
    if let Some(name) = expr.strip_prefix("partitionKeyFromQuery:") {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if kind == PrefixKind::Data && valid {
            return Ok(Segment::PartitionKey(name.to_owned()));
        }
    }
    match expr {
        "firehose:random-string" => Ok(Segment::RandomString),
        "firehose:error-output-type" => Ok(Segment::ErrorOutputType),
        _ => Err(PrefixError::UnknownExpression {
            kind,
            template: template.into(),
            expr: expr.into(),
        }),
    }
}

/// Parses the supported subset of `DateTimeFormatter` patterns.
fn parse_timestamp_pattern(pattern: &str) -> Result<Vec<TsPart>, String> {
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; `''` is a literal quote, inside or outside quotes.
            if chars.get(i + 1) == Some(&'\'') {
                parts.push(TsPart::Literal("'".into()));
                i += 2;
                continue;
            }
            let mut lit = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err("unterminated quote".into()),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        lit.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&ch) => {
                        lit.push(ch);
                        j += 1;
                    }
                }
            }
            parts.push(TsPart::Literal(lit));
            i = j + 1;
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let part = match (c, n) {
                ('y', 4) => TsPart::Year4,
                ('M', 2) => TsPart::Month2,
                ('d', 2) => TsPart::Day2,
                ('H', 2) => TsPart::Hour2,
                ('m', 2) => TsPart::Minute2,
                ('s', 2) => TsPart::Second2,
                _ => {
                    let run: String = std::iter::repeat_n(c, n).collect();
                    return Err(format!("field `{run}` is not supported"));
                }
            };
            parts.push(part);
            i += n;
        } else if matches!(c, '[' | ']' | '{' | '}' | '#') {
            // Reserved by DateTimeFormatter (optional sections, future use).
            return Err(format!("reserved character `{c}`"));
        } else {
            parts.push(TsPart::Literal(c.to_string()));
            i += 1;
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 2).unwrap()
    }

    #[test]
    fn delivery_prefix_default_layout() {
        let p = Prefixes::new(None, None).unwrap();
        assert_eq!(p.data.render(&at(), "r", ""), "2026/03/07/09/");
        assert_eq!(
            p.error.render(&at(), "r", "processing-failed"),
            "processing-failed/2026/03/07/09/"
        );
        let p = Prefixes::new(Some("cars/"), None).unwrap();
        assert_eq!(p.data.render(&at(), "r", ""), "cars/2026/03/07/09/");
        assert_eq!(
            p.error.render(&at(), "r", "processing-failed"),
            "cars/processing-failed/2026/03/07/09/"
        );
    }

    #[test]
    fn delivery_prefix_custom_expressions() {
        let p = Prefixes::new(
            Some("dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/!{firehose:random-string}/"),
            Some("err/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH:mm:ss}/"),
        )
        .unwrap();
        assert_eq!(p.data.render(&at(), "abc", ""), "dt=2026-03-07/h=09/abc/");
        assert_eq!(
            p.error.render(&at(), "abc", "processing-failed"),
            "err/processing-failed/2026/03/07/09:05:02/"
        );
        // A random string alone still gets the default time folders.
        let p = Prefixes::new(
            Some("x/!{firehose:random-string}/"),
            Some("e/!{firehose:error-output-type}/"),
        )
        .unwrap();
        assert_eq!(p.data.render(&at(), "q", ""), "x/q/2026/03/07/09/");
        assert_eq!(
            p.error.render(&at(), "q", "splunk-failed"),
            "e/splunk-failed/2026/03/07/09/"
        );
        // Quotes.
        let t = KeyTemplate::parse("!{timestamp:'year='yyyy''}", PrefixKind::Data).unwrap();
        assert_eq!(t.render(&at(), "", ""), "year=2026'");
    }

    #[test]
    fn delivery_prefix_aws_rules() {
        assert!(matches!(
            Prefixes::new(Some("a/!{timestamp:yyyy}/"), None),
            Err(PrefixError::ErrorPrefixRequired { .. })
        ));
        assert!(matches!(
            Prefixes::new(Some("a/!{firehose:error-output-type}/"), Some("e/")),
            Err(PrefixError::ErrorTypeInDataPrefix { .. })
        ));
        assert!(matches!(
            Prefixes::new(Some("a/"), Some("e/!{timestamp:yyyy}/")),
            Err(PrefixError::ErrorPrefixWithoutErrorType { .. })
        ));
        for bad in ["yy", "YYYY", "MMM", "hh", "SSS", "yyyy[MM]", "'open"] {
            let r = KeyTemplate::parse(&format!("!{{timestamp:{bad}}}"), PrefixKind::Data);
            assert!(
                matches!(r, Err(PrefixError::BadTimestampPattern { .. })),
                "{bad}: {r:?}"
            );
        }
        assert!(matches!(
            KeyTemplate::parse("!{partitionKeyFromQuery:id}", PrefixKind::Error),
            Err(PrefixError::UnknownExpression { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("!{partitionKeyFromQuery:}", PrefixKind::Data),
            Err(PrefixError::UnknownExpression { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("a/!{timestamp:yyyy", PrefixKind::Data),
            Err(PrefixError::Unterminated { at: 2, .. })
        ));
        assert!(matches!(
            KeyTemplate::parse(&"a".repeat(1025), PrefixKind::Data),
            Err(PrefixError::TooLong { .. })
        ));
        // A static error prefix is fine without the expression: the type is appended.
        let p = Prefixes::new(Some("a/"), Some("errors/")).unwrap();
        assert_eq!(
            p.error.render(&at(), "", "processing-failed"),
            "errors/processing-failed/2026/03/07/09/"
        );
    }

    #[test]
    fn partition_keys_render_and_replace_the_time_folders() {
        let p = Prefixes::new(
            Some("cars/!{partitionKeyFromQuery:car}/d=!{partitionKeyFromQuery:day}/"),
            Some("err/!{firehose:error-output-type}/"),
        )
        .unwrap();
        assert_eq!(p.data.partition_keys(), vec!["car", "day"]);
        let keys = |k: &str| Some(format!("<{k}>"));
        assert_eq!(
            p.data.render_keys(&at(), "r", "", &keys),
            "cars/<car>/d=<day>/"
        );
        assert_eq!(
            p.error.render(&at(), "r", "processing-failed"),
            "err/processing-failed/2026/03/07/09/"
        );
    }
}
