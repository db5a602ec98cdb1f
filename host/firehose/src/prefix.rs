//! Firehose key templates: the `Prefix` and `ErrorOutputPrefix` of an S3 destination.
//!
//! A template is literal text with expressions `!{timestamp:PATTERN}`,
//! `!{firehose:random-string}` and `!{firehose:error-output-type}`. Timestamp patterns are
//! Java's `DateTimeFormatter` patterns, as Firehose documents, rendered in UTC and English: the
//! fields of year (`y`, `u`; `yy` is two digits), month (`M`, `L`: `M`, `MM`, `MMM` = `Jan`,
//! `MMMM`, `MMMMM`), day (`d`, `D`), hour (`H`, `h`, `k`, `K`), minute, second, fraction
//! (`S`..`SSSSSSSSS`), `n`, `A`, `N`, `a`, day-of-week names (`E`), era (`G`) and quarter (`Q`,
//! `q`), quoted literals (`'...'`, with `''` for a quote) and non-letter characters. Letters
//! whose output depends on a locale's week rules or on a zone (`Y`, `w`, `W`, `e`, `c`, `F`,
//! `z`, `Z`, `X`, `x`, `O`, `V`), and repetitions `DateTimeFormatter` refuses, are refused when
//! the template is parsed, so a typo fails at configuration time rather than at 3 a.m. when
//! the first object is written.
//!
//! Parsing is pure; rendering takes the instant and the random string as arguments, so tests
//! never depend on the wall clock.

use chrono::{DateTime, Datelike, Timelike, Utc};
use weir_rules::datefmt::{self, DateSyntax, DateToken};

/// AWS's limit on `Prefix` and `ErrorOutputPrefix` (the API's `maxLength`).
pub const MAX_PREFIX_LEN: usize = 1024;

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
    #[error("{kind} {template:?}: unsupported timestamp pattern {pattern:?}: {reason} (supported: DateTimeFormatter's y u M L d D H h k K m s S n A N a E G Q q, quoted literals)")]
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

/// Whether `DateTimeFormatter` (in the English locale Firehose formats with) takes the letter
/// `c` repeated `n` times, for the fields that do not depend on a locale's week rules or on a
/// zone other than UTC.
fn field_supported(c: char, n: usize) -> bool {
    match c {
        // Year (`yy` is the two-digit year), year of era, proleptic year.
        'y' | 'u' => (1..=19).contains(&n),
        // Month: number, number, short, full, narrow name.
        'M' | 'L' => (1..=5).contains(&n),
        'd' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' => n <= 2,
        // Day of year.
        'D' => n <= 3,
        // Fraction of the second, nano of second, milli of day, nano of day.
        'S' => n <= 9,
        'n' | 'A' | 'N' => n <= 19,
        // AM/PM.
        'a' => n == 1,
        // Day-of-week name; era.
        'E' | 'G' => n <= 5,
        // Quarter: number, number, `Q1`, `1st quarter`, narrow.
        'Q' | 'q' => (1..=5).contains(&n),
        _ => false,
    }
}

/// A number padded with zeros to at least `width` digits, as `DateTimeFormatter` prints it.
fn padded(out: &mut String, v: i64, width: usize) {
    out.push_str(&format!("{v:0width$}"));
}

/// Renders one pattern field at `at` (UTC), as `DateTimeFormatter` would.
fn render_field(out: &mut String, c: char, n: usize, at: &DateTime<Utc>) {
    let year = i64::from(at.year());
    let month = at.month() as usize;
    let quarter = (month - 1) / 3 + 1;
    let hour = i64::from(at.hour());
    let nanos = i64::from(at.nanosecond() % 1_000_000_000);
    let second_of_day = hour * 3600 + i64::from(at.minute()) * 60 + i64::from(at.second());
    let text = |full: &str, n: usize| match n {
        4 => full.to_owned(),
        5 => full[..1].to_owned(),
        _ => full[..3].to_owned(),
    };
    match (c, n) {
        ('y' | 'u', 2) => padded(out, year.rem_euclid(100), 2),
        ('y' | 'u', _) => padded(out, year, n),
        ('M' | 'L', 1 | 2) => padded(out, month as i64, n),
        // chrono's `%B` and `%A` are the English names DateTimeFormatter prints.
        ('M' | 'L', _) => out.push_str(&text(&at.format("%B").to_string(), n)),
        ('d', _) => padded(out, i64::from(at.day()), n),
        ('H', _) => padded(out, hour, n),
        ('k', _) => padded(out, if hour == 0 { 24 } else { hour }, n),
        ('K', _) => padded(out, hour % 12, n),
        ('h', _) => padded(out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
        ('m', _) => padded(out, i64::from(at.minute()), n),
        ('s', _) => padded(out, i64::from(at.second()), n),
        ('D', _) => padded(out, i64::from(at.ordinal()), n),
        ('S', _) => {
            let digits = format!("{nanos:09}");
            out.push_str(&digits[..n]);
        }
        ('n', _) => padded(out, nanos, n),
        ('A', _) => padded(out, second_of_day * 1000 + nanos / 1_000_000, n),
        ('N', _) => padded(out, second_of_day * 1_000_000_000 + nanos, n),
        ('a', _) => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        ('E', _) => out.push_str(&text(&at.format("%A").to_string(), n)),
        ('G', 4) => out.push_str(if year > 0 {
            "Anno Domini"
        } else {
            "Before Christ"
        }),
        ('G', 5) => out.push_str(if year > 0 { "A" } else { "B" }),
        ('G', _) => out.push_str(if year > 0 { "AD" } else { "BC" }),
        ('Q' | 'q', 3) => out.push_str(&format!("Q{quarter}")),
        ('Q' | 'q', 4) => {
            out.push_str(["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][quarter - 1])
        }
        ('Q' | 'q', 2) => padded(out, quarter as i64, 2),
        ('Q' | 'q', _) => padded(out, quarter as i64, 1),
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Timestamp(Vec<DateToken>),
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
        DateToken::Field('y', 4),
        DateToken::Literal("/".into()),
        DateToken::Field('M', 2),
        DateToken::Literal("/".into()),
        DateToken::Field('d', 2),
        DateToken::Literal("/".into()),
        DateToken::Field('H', 2),
        DateToken::Literal("/".into()),
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
                            DateToken::Literal(l) => out.push_str(l),
                            DateToken::Field(c, n) => render_field(&mut out, *c, *n, at),
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

/// Parses the supported subset of `DateTimeFormatter` patterns (with IoT SQL's tokenizer,
/// `weir_rules::datefmt`, in `DateTimeFormatter` syntax).
fn parse_timestamp_pattern(pattern: &str) -> Result<Vec<DateToken>, String> {
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    datefmt::tokenize(pattern, DateSyntax::DateTimeFormatter, field_supported)
        .map_err(|e| e.to_string())
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
        for bad in [
            "YYYY",
            "ww",
            "hhh",
            "MMMMMM",
            "SSSSSSSSSS",
            "aa",
            "DDDD",
            "Z",
            "yyyy[MM]",
            "'open",
            "x",
            "b",
        ] {
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

    #[test]
    fn timestamp_pattern_errors_say_why() {
        for (pattern, reason) in [
            ("yyyy[MM]", "reserved character `[`"),
            ("'open", "unterminated quote"),
            ("hhh", "field `hhh` is not supported"),
            ("", "empty pattern"),
        ] {
            let r = KeyTemplate::parse(&format!("!{{timestamp:{pattern}}}"), PrefixKind::Data);
            assert!(
                matches!(&r, Err(PrefixError::BadTimestampPattern { reason: why, .. }) if why == reason),
                "{pattern}: {r:?}"
            );
        }
    }

    /// Java's `DateTimeFormatter` letters Firehose's custom prefixes accept, in UTC and
    /// English, as Java prints them for the same instant.
    #[test]
    fn timestamp_patterns_follow_date_time_formatter() {
        let morning = Utc
            .with_ymd_and_hms(2026, 3, 7, 9, 5, 2)
            .unwrap()
            .with_nanosecond(123_456_789)
            .unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 11, 20, 0, 7, 0).unwrap();
        let evening = Utc.with_ymd_and_hms(2026, 12, 31, 21, 0, 0).unwrap();
        let render = |pattern: &str, at: &DateTime<Utc>| {
            KeyTemplate::parse(&format!("!{{timestamp:{pattern}}}"), PrefixKind::Data)
                .unwrap_or_else(|e| panic!("{pattern}: {e}"))
                .render(at, "r", "")
        };
        for (pattern, at, want) in [
            ("yyyy/MM/dd/HH", &morning, "2026/03/07/09"),
            ("yy-M-d", &morning, "26-3-7"),
            ("uuuu/MMM/dd", &morning, "2026/Mar/07"),
            ("MMMM MMMMM LLL", &morning, "March M Mar"),
            ("EEE EEEE EEEEE", &morning, "Sat Saturday S"),
            ("h:mm a", &morning, "9:05 AM"),
            ("h:mm a", &evening, "9:00 PM"),
            ("hh K k H", &midnight, "12 0 24 0"),
            ("D DD DDD", &morning, "66 66 066"),
            ("D", &evening, "365"),
            ("ss.SSS S SSSSSSSSS", &morning, "02.123 1 123456789"),
            ("n A", &morning, "123456789 32702123"),
            ("Q QQ QQQ QQQQ", &morning, "1 01 Q1 1st quarter"),
            ("QQQQ", &midnight, "4th quarter"),
            ("G GGGG", &morning, "AD Anno Domini"),
            ("'week' EEE', the' d", &morning, "week Sat, the 7"),
            ("y yyy yyyyy", &morning, "2026 2026 02026"),
        ] {
            assert_eq!(render(pattern, at), want, "{pattern}");
        }
    }
}
