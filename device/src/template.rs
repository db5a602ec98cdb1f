//! Message templates in the style of the AWS Kinesis Data Generator (KDG).
//!
//! People who test IoT pipelines already have KDG templates such as
//! `{"speed": {{random.number({"min":1,"max":120})}}, "id": "{{random.uuid}}"}`, so the syntax
//! is the same: text with `{{name}}` or `{{name(args)}}` placeholders, where `args` is JSON.
//! A template is parsed once into segments; rendering is then a walk with a seeded RNG, so a
//! seed reproduces the same messages (only `date.now` differs between runs).
//!
//! Differences from KDG, on purpose: an unknown placeholder is an error naming it and its line
//! and column (KDG prints the placeholder back verbatim, which hides typos until a rule misses),
//! and the `vehicle.*`/`address.*` fields can be drawn from one CSV row per message, so
//! generated plates join with the scenario's driver table.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::payload::SpeedingRow;

/// Every placeholder name the generator knows, for error messages and `--help`.
pub const PLACEHOLDERS: &[&str] = &[
    "date.now",
    "random.number",
    "random.arrayElement",
    "random.weightedArrayElement",
    "random.uuid",
    "random.boolean",
    "vehicle.licensePlate",
    "vehicle.speed",
    "address.city",
    "address.state",
    "address.longitude",
    "address.latitude",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadTemplateError {
    #[error("unknown placeholder `{name}` at line {line}, column {column} (known: {known})", known = PLACEHOLDERS.join(", "))]
    Unknown {
        name: String,
        line: usize,
        column: usize,
    },
    #[error("bad arguments to `{name}` at line {line}, column {column}: {reason}")]
    BadArguments {
        name: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("unterminated placeholder at line {line}, column {column}: {reason}")]
    Syntax {
        line: usize,
        column: usize,
        reason: String,
    },
}

#[derive(Debug, Clone)]
enum Segment {
    Text(String),
    Field(Field),
}

#[derive(Debug, Clone)]
enum Field {
    DateNow(Vec<DateToken>),
    Integer {
        min: i64,
        max: i64,
    },
    Decimal {
        min: f64,
        max: f64,
        decimals: usize,
        step: f64,
    },
    Element(Vec<String>),
    Weighted {
        cumulative: Vec<f64>,
        data: Vec<String>,
    },
    Uuid,
    Boolean,
    Plate,
    Speed,
    City,
    State,
    Longitude,
    Latitude,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    segments: Vec<Segment>,
}

impl PayloadTemplate {
    /// Parses `text`; every placeholder is checked here, so rendering cannot fail.
    pub fn parse(text: &str) -> Result<Self, PayloadTemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        let mut consumed = 0usize;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_string()));
            }
            let start = consumed + open;
            let (line, column) = line_col(text, start);
            let body = &text[start + 2..];
            let (field, used) = parse_placeholder(body, line, column)?;
            segments.push(Segment::Field(field));
            consumed = start + 2 + used;
            rest = &text[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Self { segments })
    }

    /// Renders one message. `row` supplies the `vehicle.*`/`address.*` values when given.
    pub fn render(
        &self,
        rng: &mut ChaCha8Rng,
        now: DateTime<Utc>,
        row: Option<&SpeedingRow>,
    ) -> String {
        let mut out = String::with_capacity(256);
        // Synthetic vehicle fields are drawn once per message so plate, city and state of one
        // message agree with each other, as they would in a CSV row.
        let mut synthetic: Option<SpeedingRow> = None;
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(f) => {
                    let mut vehicle = |rng: &mut ChaCha8Rng| -> SpeedingRow {
                        match row {
                            Some(r) => r.clone(),
                            None => synthetic.get_or_insert_with(|| synthetic_row(rng)).clone(),
                        }
                    };
                    match f {
                        Field::DateNow(tokens) => format_date(&mut out, tokens, now),
                        Field::Integer { min, max } => {
                            let _ = write!(out, "{}", rng.random_range(*min..=*max));
                        }
                        Field::Decimal {
                            min,
                            max,
                            decimals,
                            step,
                        } => {
                            let steps = ((max - min) / step).floor() as u64;
                            let v = min + step * rng.random_range(0..=steps) as f64;
                            let _ = write!(out, "{v:.decimals$}");
                        }
                        Field::Element(items) => {
                            out.push_str(&items[rng.random_range(0..items.len())])
                        }
                        Field::Weighted { cumulative, data } => {
                            let total = cumulative.last().copied().unwrap_or(1.0);
                            let x = rng.random::<f64>() * total;
                            let i = cumulative
                                .iter()
                                .position(|c| x < *c)
                                .unwrap_or(data.len() - 1);
                            out.push_str(&data[i]);
                        }
                        Field::Uuid => write_uuid(&mut out, rng),
                        Field::Boolean => out.push_str(if rng.random::<bool>() {
                            "true"
                        } else {
                            "false"
                        }),
                        Field::Plate => out.push_str(&vehicle(rng).license_plate),
                        Field::Speed => out.push_str(&vehicle(rng).speed),
                        Field::City => out.push_str(&vehicle(rng).city),
                        Field::State => out.push_str(&vehicle(rng).state),
                        Field::Longitude => out.push_str(&vehicle(rng).longitude),
                        Field::Latitude => out.push_str(&vehicle(rng).latitude),
                    }
                }
            }
        }
        out
    }
}

/// A template plus its seeded RNG and optional CSV rows: an endless source of messages.
pub struct Generator {
    template: PayloadTemplate,
    rng: ChaCha8Rng,
    rows: Vec<SpeedingRow>,
}

impl Generator {
    /// ChaCha8 rather than `StdRng`, because `StdRng` may change algorithm between rand
    /// releases and a seed must keep producing the same messages.
    pub fn new(template: PayloadTemplate, seed: u64, rows: Vec<SpeedingRow>) -> Self {
        Self {
            template,
            rng: ChaCha8Rng::seed_from_u64(seed),
            rows,
        }
    }

    pub fn next_message(&mut self, now: DateTime<Utc>) -> String {
        let row = if self.rows.is_empty() {
            None
        } else {
            Some(self.rows[self.rng.random_range(0..self.rows.len())].clone())
        };
        self.template.render(&mut self.rng, now, row.as_ref())
    }
}

fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Parses `name`, optional `(json args)`, and the closing `}}`. Returns the field and the
/// number of bytes of `body` consumed.
fn parse_placeholder(
    body: &str,
    line: usize,
    column: usize,
) -> Result<(Field, usize), PayloadTemplateError> {
    let syntax = |reason: &str| PayloadTemplateError::Syntax {
        line,
        column,
        reason: reason.to_string(),
    };
    let lead = body.len() - body.trim_start().len();
    let name_len = body[lead..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .unwrap_or(body.len() - lead);
    let name = &body[lead..lead + name_len];
    if name.is_empty() {
        return Err(syntax("expected a placeholder name after `{{`"));
    }
    let mut pos = lead + name_len;
    pos += body[pos..].len() - body[pos..].trim_start().len();
    let mut args_text = None;
    if body[pos..].starts_with('(') {
        let close =
            matching_paren(&body[pos..]).ok_or_else(|| syntax("`(` without a matching `)`"))?;
        args_text = Some(&body[pos + 1..pos + close]);
        pos += close + 1;
        pos += body[pos..].len() - body[pos..].trim_start().len();
    }
    if !body[pos..].starts_with("}}") {
        return Err(syntax(&format!("expected `}}}}` after `{name}`")));
    }
    let args: Vec<Value> = match args_text {
        None => Vec::new(),
        Some(a) if a.trim().is_empty() => Vec::new(),
        Some(a) => serde_json::from_str(&format!("[{a}]")).map_err(|e| {
            PayloadTemplateError::BadArguments {
                name: name.to_string(),
                line,
                column,
                reason: format!("arguments are not valid JSON: {e}"),
            }
        })?,
    };
    let field = build_field(name, &args).map_err(|reason| match reason {
        None => PayloadTemplateError::Unknown {
            name: name.to_string(),
            line,
            column,
        },
        Some(reason) => PayloadTemplateError::BadArguments {
            name: name.to_string(),
            line,
            column,
            reason,
        },
    })?;
    Ok((field, pos + 2))
}

/// Index of the `)` matching the `(` at the start of `s`, skipping JSON strings.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `Err(None)` means the name is unknown; `Err(Some(reason))` means bad arguments.
fn build_field(name: &str, args: &[Value]) -> Result<Field, Option<String>> {
    let no_args = |f: Field| {
        if args.is_empty() {
            Ok(f)
        } else {
            Err(Some("takes no arguments".to_string()))
        }
    };
    match name {
        "date.now" => match args {
            [] => Ok(Field::DateNow(parse_date_format("YYYY-MM-DDTHH:mm:ssZ"))),
            [Value::String(f)] => Ok(Field::DateNow(parse_date_format(f))),
            _ => Err(Some(
                "expects nothing or one format string, e.g. \"YYYY-MM-DD\"".into(),
            )),
        },
        "random.number" => number_field(args).map_err(Some),
        "random.arrayElement" => match args {
            [Value::Array(items)] if !items.is_empty() => {
                Ok(Field::Element(items.iter().map(plain).collect()))
            }
            _ => Err(Some(
                "expects one non-empty array, e.g. [\"a\",\"b\"]".into(),
            )),
        },
        "random.weightedArrayElement" => weighted_field(args).map_err(Some),
        "random.uuid" => no_args(Field::Uuid),
        "random.boolean" => no_args(Field::Boolean),
        "vehicle.licensePlate" => no_args(Field::Plate),
        "vehicle.speed" => no_args(Field::Speed),
        "address.city" => no_args(Field::City),
        "address.state" => no_args(Field::State),
        "address.longitude" => no_args(Field::Longitude),
        "address.latitude" => no_args(Field::Latitude),
        _ => Err(None),
    }
}

/// How a JSON value is spliced into the text: strings without quotes (the template supplies
/// them where it wants them), everything else as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number_field(args: &[Value]) -> Result<Field, String> {
    let as_f64 = |v: &Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| format!("{what} must be a number, got {v}"))
    };
    let (min, max, precision) = match args {
        // faker's default range
        [] => (0.0, 99_999.0, 1.0),
        [max @ Value::Number(_)] => (0.0, as_f64(max, "max")?, 1.0),
        [Value::Object(o)] => {
            for key in o.keys() {
                if !matches!(key.as_str(), "min" | "max" | "precision") {
                    return Err(format!(
                        "unknown option {key:?} (expected min, max, precision)"
                    ));
                }
            }
            let get = |k: &str, d: f64| o.get(k).map_or(Ok(d), |v| as_f64(v, k));
            (
                get("min", 0.0)?,
                get("max", 99_999.0)?,
                get("precision", 1.0)?,
            )
        }
        _ => return Err("expects a max number or {\"min\":..,\"max\":..,\"precision\":..}".into()),
    };
    if min > max {
        return Err(format!("min {min} is greater than max {max}"));
    }
    if !(precision > 0.0 && precision.is_finite()) {
        return Err(format!("precision must be positive, got {precision}"));
    }
    if precision == 1.0 && min.fract() == 0.0 && max.fract() == 0.0 {
        if min < i64::MIN as f64 || max > i64::MAX as f64 {
            return Err("range does not fit in a 64-bit integer".into());
        }
        return Ok(Field::Integer {
            min: min as i64,
            max: max as i64,
        });
    }
    let decimals = if precision >= 1.0 {
        0
    } else {
        (-precision.log10()).ceil().max(0.0) as usize
    };
    Ok(Field::Decimal {
        min,
        max,
        decimals,
        step: precision,
    })
}

fn weighted_field(args: &[Value]) -> Result<Field, String> {
    let usage = "expects {\"weights\":[0.9,0.1],\"data\":[\"x\",\"y\"]}";
    let [Value::Object(o)] = args else {
        return Err(usage.into());
    };
    let (Some(Value::Array(weights)), Some(Value::Array(data))) = (o.get("weights"), o.get("data"))
    else {
        return Err(usage.into());
    };
    if weights.len() != data.len() || data.is_empty() {
        return Err(format!(
            "weights ({}) and data ({}) must be non-empty and of the same length",
            weights.len(),
            data.len()
        ));
    }
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut total = 0.0;
    for w in weights {
        let w = w
            .as_f64()
            .filter(|w| *w >= 0.0 && w.is_finite())
            .ok_or_else(|| format!("weight {w} is not a non-negative number"))?;
        total += w;
        cumulative.push(total);
    }
    if total <= 0.0 {
        return Err("weights add up to zero".into());
    }
    Ok(Field::Weighted {
        cumulative,
        data: data.iter().map(plain).collect(),
    })
}

fn write_uuid(out: &mut String, rng: &mut ChaCha8Rng) {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
}

/// moment.js format tokens, the ones KDG templates use in practice.
#[derive(Debug, Clone, PartialEq)]
enum DateToken {
    Text(String),
    Year4,
    Year2,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
    Micros,
    Offset,
    EpochMillis,
    EpochSeconds,
}

fn parse_date_format(f: &str) -> Vec<DateToken> {
    const TOKENS: &[(&str, DateToken)] = &[
        ("YYYY", DateToken::Year4),
        ("SSSSSS", DateToken::Micros),
        ("SSS", DateToken::Millis),
        ("YY", DateToken::Year2),
        ("MM", DateToken::Month),
        ("DD", DateToken::Day),
        ("HH", DateToken::Hour),
        ("mm", DateToken::Minute),
        ("ss", DateToken::Second),
        ("Z", DateToken::Offset),
        ("x", DateToken::EpochMillis),
        ("X", DateToken::EpochSeconds),
    ];
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = f;
    'outer: while let Some(c) = rest.chars().next() {
        // moment escapes literal text with [brackets]
        if c == '[' {
            if let Some(end) = rest.find(']') {
                text.push_str(&rest[1..end]);
                rest = &rest[end + 1..];
                continue;
            }
        }
        for (tok, kind) in TOKENS {
            if let Some(after) = rest.strip_prefix(tok) {
                if !text.is_empty() {
                    out.push(DateToken::Text(std::mem::take(&mut text)));
                }
                out.push(kind.clone());
                rest = after;
                continue 'outer;
            }
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() {
        out.push(DateToken::Text(text));
    }
    out
}

fn format_date(out: &mut String, tokens: &[DateToken], t: DateTime<Utc>) {
    for tok in tokens {
        let _ = match tok {
            DateToken::Text(s) => {
                out.push_str(s);
                Ok(())
            }
            DateToken::Year4 => write!(out, "{:04}", t.year()),
            DateToken::Year2 => write!(out, "{:02}", t.year().rem_euclid(100)),
            DateToken::Month => write!(out, "{:02}", t.month()),
            DateToken::Day => write!(out, "{:02}", t.day()),
            DateToken::Hour => write!(out, "{:02}", t.hour()),
            DateToken::Minute => write!(out, "{:02}", t.minute()),
            DateToken::Second => write!(out, "{:02}", t.second()),
            DateToken::Millis => write!(out, "{:03}", t.timestamp_subsec_millis()),
            DateToken::Micros => write!(out, "{:06}", t.timestamp_subsec_micros()),
            DateToken::Offset => write!(out, "+00:00"),
            DateToken::EpochMillis => write!(out, "{}", t.timestamp_millis()),
            DateToken::EpochSeconds => write!(out, "{}", t.timestamp()),
        };
    }
}

const STATES: &[&str] = &[
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
];
const CITY_PREFIX: &[&str] = &[
    "", "", "", "North ", "South ", "East ", "West ", "New ", "Port ", "Lake ",
];
const CITY_NAME: &[&str] = &[
    "Amber",
    "Brook",
    "Carter",
    "Dalton",
    "Elder",
    "Fairly",
    "Glen",
    "Harper",
    "Iris",
    "Juniper",
    "Kristopher",
    "Lowell",
    "Mason",
    "Norris",
    "Oakley",
    "Prescott",
    "Quincy",
    "Ridley",
    "Sutton",
    "Tanner",
    "Upton",
    "Vance",
    "Whitaker",
    "York",
];
const CITY_SUFFIX: &[&str] = &[
    "", "ton", "ville", "burgh", "fort", "side", "haven", "mouth", "land", "berg",
];
/// `#` a digit, `?` a letter; the shapes seen in the seed data, including its bullet plates.
const PLATE_SHAPES: &[&str] = &[
    "###???",
    "#-####?",
    "##?•###",
    "???-####",
    "?## ###",
    "#??###",
];

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn synthetic_row(rng: &mut ChaCha8Rng) -> SpeedingRow {
    let shape = pick(rng, PLATE_SHAPES);
    let license_plate = shape
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + rng.random_range(0..10u8)),
            '?' => char::from(b'A' + rng.random_range(0..26u8)),
            other => other,
        })
        .collect();
    let city = format!(
        "{}{}{}",
        pick(rng, CITY_PREFIX),
        pick(rng, CITY_NAME),
        pick(rng, CITY_SUFFIX)
    );
    SpeedingRow {
        license_plate,
        longitude: format!("{:.6}", rng.random_range(-180.0..180.0f64)),
        latitude: format!("{:.6}", rng.random_range(-90.0..90.0f64)),
        city,
        state: pick(rng, STATES).to_string(),
        speed: rng.random_range(30..=120u32).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 7, 8)
            .single()
            .expect("valid")
            + chrono::Duration::milliseconds(9)
    }

    fn render(t: &str, seed: u64, n: usize) -> Vec<String> {
        let mut g = Generator::new(PayloadTemplate::parse(t).expect("parses"), seed, Vec::new());
        (0..n).map(|_| g.next_message(now())).collect()
    }

    #[test]
    fn same_seed_same_messages() {
        let t = r#"{"id":"{{random.uuid}}","n":{{random.number({"min":1,"max":1000})}},"plate":"{{vehicle.licensePlate}}","c":"{{address.city}}","s":"{{address.state}}","lon":"{{address.longitude}}","lat":"{{address.latitude}}"}"#;
        let a = render(t, 42, 50);
        assert_eq!(a, render(t, 42, 50));
        assert_ne!(a, render(t, 43, 50));
        for m in &a {
            let v: Value = serde_json::from_str(m).expect("renders valid json");
            let n = v["n"].as_i64().expect("integer");
            assert!((1..=1000).contains(&n));
            assert_eq!(v["id"].as_str().expect("uuid").len(), 36);
            assert_eq!(&v["id"].as_str().expect("uuid")[14..15], "4");
            let lon: f64 = v["lon"].as_str().expect("lon").parse().expect("number");
            assert!((-180.0..=180.0).contains(&lon));
        }
    }

    #[test]
    fn dates_follow_moment_tokens() {
        assert_eq!(
            render("{{date.now(\"YYYY-MM-DD\")}}", 1, 1)[0],
            "2026-11-24"
        );
        assert_eq!(
            render("{{date.now(\"YYYY-MM-DD HH:mm:ss.SSS [at] X\")}}", 1, 1)[0],
            format!("2026-11-24 06:07:08.009 at {}", now().timestamp())
        );
        assert_eq!(render("{{date.now}}", 1, 1)[0], "2026-11-24T06:07:08+00:00");
    }

    #[test]
    fn number_forms() {
        for m in render("{{random.number(100)}}", 7, 200) {
            let n: i64 = m.parse().expect("int");
            assert!((0..=100).contains(&n));
        }
        for m in render(
            r#"{{random.number({"min":1.5,"max":2.5,"precision":0.01})}}"#,
            7,
            200,
        ) {
            assert_eq!(m.split('.').nth(1).map(str::len), Some(2), "{m}");
            let n: f64 = m.parse().expect("float");
            assert!((1.5..=2.5).contains(&n));
        }
    }

    #[test]
    fn elements_and_weights() {
        let picks = render(r#"{{random.arrayElement(["a","b",3])}}"#, 3, 300);
        for p in ["a", "b", "3"] {
            assert!(picks.iter().any(|x| x == p));
        }
        let w = render(
            r#"{{random.weightedArrayElement({"weights":[0.9,0.1],"data":["x","y"]})}}"#,
            3,
            2000,
        );
        let xs = w.iter().filter(|s| *s == "x").count();
        assert!((1650..=1950).contains(&xs), "x picked {xs} of 2000");
        let never = render(
            r#"{{random.weightedArrayElement({"weights":[0,1],"data":["x","y"]})}}"#,
            3,
            100,
        );
        assert!(never.iter().all(|s| s == "y"));
    }

    #[test]
    fn vehicle_fields_come_from_one_row() {
        let row = SpeedingRow {
            license_plate: "95B•140".into(),
            longitude: "1".into(),
            latitude: "2".into(),
            city: "Port Brittanybury".into(),
            state: "Utah".into(),
            speed: "103".into(),
        };
        let t = PayloadTemplate::parse(
            "{{vehicle.licensePlate}}|{{address.city}}|{{address.state}}|{{vehicle.speed}}",
        )
        .expect("parses");
        let mut g = Generator::new(t, 5, vec![row]);
        assert_eq!(g.next_message(now()), "95B•140|Port Brittanybury|Utah|103");
    }

    #[test]
    fn unknown_placeholder_names_itself_and_position() {
        let err = PayloadTemplate::parse("{\n  \"a\": \"{{ random.numbr(5) }}\"\n}")
            .expect_err("unknown");
        assert!(
            matches!(&err, PayloadTemplateError::Unknown { name, line: 2, column: 9 } if name == "random.numbr")
        );
        assert!(err
            .to_string()
            .starts_with("unknown placeholder `random.numbr` at line 2, column 9"));
    }

    #[test]
    fn argument_and_syntax_errors() {
        let cases = [
            ("x {{random.number({\"min\":5,\"max\":1})}}", "bad arguments to `random.number` at line 1, column 3: min 5 is greater than max 1"),
            ("{{random.arrayElement([])}}", "bad arguments to `random.arrayElement` at line 1, column 1: expects one non-empty array"),
            ("{{random.uuid(1)}}", "bad arguments to `random.uuid` at line 1, column 1: takes no arguments"),
            ("{{random.number({min:1})}}", "bad arguments to `random.number` at line 1, column 1: arguments are not valid JSON"),
            ("ab{{random.uuid", "unterminated placeholder at line 1, column 3: expected `}}` after `random.uuid`"),
            ("{{random.number(\"(\"}}", "unterminated placeholder at line 1, column 1: `(` without a matching `)`"),
            ("{{}}", "unterminated placeholder at line 1, column 1: expected a placeholder name"),
        ];
        for (t, want) in cases {
            let got = PayloadTemplate::parse(t).expect_err(t).to_string();
            assert!(got.starts_with(want), "{t}: {got}");
        }
    }

    #[test]
    fn text_without_placeholders_and_braces_in_args() {
        assert_eq!(render("plain {json}", 1, 1)[0], "plain {json}");
        assert_eq!(
            render(r#"{{random.arrayElement(["}}","x)"])}}"#, 1, 20).len(),
            20
        );
    }
}
