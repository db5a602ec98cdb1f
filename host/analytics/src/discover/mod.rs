//! Schema discovery (`DiscoverInputSchema`): infers an `InputSchema` from sample records.
//!
//! What the Developer Guide documents, and this module reproduces:
//! - Column naming ("Using the Schema Discovery Feature on Streaming Data",
//!   https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-dis.html): names keep their
//!   case; a reserved word, a name with characters other than letters, digits and `_`
//!   (which are dropped), a name starting with a digit, or one longer than 100 characters
//!   is renamed `COL_...` (`USER` → `COL_USER`, `USER@DOMAIN` → `COL_USERDOMAIN`), and a
//!   name with nothing left is `COL_<position>` (`@@` → `COL_0`).
//! - The static-data example (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-dis-ref.html):
//!   a CSV file's header row names the columns (`year` → `COL_year`), integers are `INTEGER`,
//!   strings are `VARCHAR(n)` with n the longest value rounded up to a power of two, at
//!   least 4 (`AK` → 4, `ShortTons` → 16, a 35-character value → 64), the row delimiter is
//!   the file's (`\r\n`), and `ParsedInputRecords` shows each row's fields, null where a
//!   value does not convert (the header row's `year`).
//! - JSON numbers: "the discovery process will most likely assign the TINYINT type" to
//!   heart rates of 60 to 100 (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-anom-score-create-app.html),
//!   so JSON integers take the smallest integer type that holds every sample; numbers with
//!   a fraction are REAL (the Getting Started stream's `CHANGE REAL, PRICE REAL`,
//!   https://docs.aws.amazon.com/kinesisanalytics/latest/dev/continuous-queries-concepts.html).
//!
//! Choices of ours where the guide says nothing: nested objects become one column per leaf,
//! named by the leaf (by the whole path joined with `_` when two leaves share a name), with
//! the full JSONPath as mapping; an array becomes one VARCHAR column holding its JSON
//! (`$.arr[0:]`); a JSON document that is an array of objects gives `RecordRowPath` `$[0:]`;
//! a CSV column delimiter is the first of `,` tab `|` `;` space that splits every row into
//! the same number (more than one) of fields.

use crate::input::json::{self, Json};
use crate::input::{
    coerce, csv, CsvMappingParameters, InputSchema, JsonMappingParameters, MappingParameters,
    RecordColumn, RecordFormat,
};
use crate::types::SqlType;

/// What discovery found: the schema, and each sample row as the schema reads it (strings,
/// null where a value is missing or does not convert), as `ParsedInputRecords`.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub input_schema: InputSchema,
    pub parsed_input_records: Vec<Vec<Option<String>>>,
}

/// The service's `UnableToDetectSchemaException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unable to detect schema: {0}")]
pub struct DiscoverError(pub String);

/// Infers the input schema of sample records.
pub fn discover(samples: &[Vec<u8>]) -> Result<InputSchema, DiscoverError> {
    discover_records(samples).map(|d| d.input_schema)
}

/// Infers the schema and reads the samples with it.
pub fn discover_records(samples: &[Vec<u8>]) -> Result<Discovery, DiscoverError> {
    let texts: Vec<&str> = samples
        .iter()
        .filter_map(|s| std::str::from_utf8(s).ok())
        .map(|t| t.strip_prefix('\u{feff}').unwrap_or(t))
        .filter(|t| !t.trim().is_empty())
        .collect();
    if texts.is_empty() {
        return Err(DiscoverError(
            "no UTF-8 encoded records with data in the sample".into(),
        ));
    }
    if let Some(d) = discover_json(&texts) {
        return Ok(d);
    }
    discover_csv(&texts)
}

/// Reserved words of the dialect (SQL:2003's reserved words, plus `ROWTIME` and `STREAM`):
/// a column named by one would need quoting in every query, so discovery renames it.
const RESERVED: &[&str] = &[
    "ABS",
    "ALL",
    "ALLOCATE",
    "ALTER",
    "AND",
    "ANY",
    "ARE",
    "ARRAY",
    "AS",
    "ASENSITIVE",
    "ASYMMETRIC",
    "AT",
    "ATOMIC",
    "AUTHORIZATION",
    "AVG",
    "BEGIN",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BLOB",
    "BOOLEAN",
    "BOTH",
    "BY",
    "CALL",
    "CALLED",
    "CARDINALITY",
    "CASCADED",
    "CASE",
    "CAST",
    "CEIL",
    "CEILING",
    "CHAR",
    "CHAR_LENGTH",
    "CHARACTER",
    "CHARACTER_LENGTH",
    "CHECK",
    "CLOB",
    "CLOSE",
    "COALESCE",
    "COLLATE",
    "COLLECT",
    "COLUMN",
    "COMMIT",
    "CONDITION",
    "CONNECT",
    "CONSTRAINT",
    "CONVERT",
    "CORR",
    "CORRESPONDING",
    "COUNT",
    "COVAR_POP",
    "COVAR_SAMP",
    "CREATE",
    "CROSS",
    "CUBE",
    "CUME_DIST",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_DEFAULT_TRANSFORM_GROUP",
    "CURRENT_PATH",
    "CURRENT_ROLE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_TRANSFORM_GROUP_FOR_TYPE",
    "CURRENT_USER",
    "CURSOR",
    "CYCLE",
    "DATE",
    "DAY",
    "DEALLOCATE",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DELETE",
    "DENSE_RANK",
    "DEREF",
    "DESCRIBE",
    "DETERMINISTIC",
    "DISCONNECT",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "DYNAMIC",
    "EACH",
    "ELEMENT",
    "ELSE",
    "END",
    "ESCAPE",
    "EVERY",
    "EXCEPT",
    "EXEC",
    "EXECUTE",
    "EXISTS",
    "EXP",
    "EXTERNAL",
    "EXTRACT",
    "FALSE",
    "FETCH",
    "FILTER",
    "FLOAT",
    "FLOOR",
    "FOR",
    "FOREIGN",
    "FREE",
    "FROM",
    "FULL",
    "FUNCTION",
    "FUSION",
    "GET",
    "GLOBAL",
    "GRANT",
    "GROUP",
    "GROUPING",
    "HAVING",
    "HOLD",
    "HOUR",
    "IDENTITY",
    "IN",
    "INDICATOR",
    "INNER",
    "INOUT",
    "INSENSITIVE",
    "INSERT",
    "INT",
    "INTEGER",
    "INTERSECT",
    "INTERSECTION",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LANGUAGE",
    "LARGE",
    "LATERAL",
    "LEADING",
    "LEFT",
    "LIKE",
    "LN",
    "LOCAL",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LOWER",
    "MATCH",
    "MAX",
    "MEMBER",
    "MERGE",
    "METHOD",
    "MIN",
    "MINUTE",
    "MOD",
    "MODIFIES",
    "MODULE",
    "MONTH",
    "MULTISET",
    "NATIONAL",
    "NATURAL",
    "NCHAR",
    "NCLOB",
    "NEW",
    "NO",
    "NONE",
    "NORMALIZE",
    "NOT",
    "NULL",
    "NULLIF",
    "NUMERIC",
    "OCTET_LENGTH",
    "OF",
    "OLD",
    "ON",
    "ONLY",
    "OPEN",
    "OR",
    "ORDER",
    "OUT",
    "OUTER",
    "OVER",
    "OVERLAPS",
    "OVERLAY",
    "PARAMETER",
    "PARTITION",
    "PERCENT_RANK",
    "PERCENTILE_CONT",
    "PERCENTILE_DISC",
    "POSITION",
    "POWER",
    "PRECISION",
    "PREPARE",
    "PRIMARY",
    "PROCEDURE",
    "RANGE",
    "RANK",
    "READS",
    "REAL",
    "RECURSIVE",
    "REF",
    "REFERENCES",
    "REFERENCING",
    "REGR_AVGX",
    "REGR_AVGY",
    "REGR_COUNT",
    "REGR_INTERCEPT",
    "REGR_R2",
    "REGR_SLOPE",
    "REGR_SXX",
    "REGR_SXY",
    "REGR_SYY",
    "RELEASE",
    "RESULT",
    "RETURN",
    "RETURNS",
    "REVOKE",
    "RIGHT",
    "ROLLBACK",
    "ROLLUP",
    "ROW",
    "ROW_NUMBER",
    "ROWS",
    "ROWTIME",
    "SAVEPOINT",
    "SCOPE",
    "SCROLL",
    "SEARCH",
    "SECOND",
    "SELECT",
    "SENSITIVE",
    "SESSION_USER",
    "SET",
    "SIMILAR",
    "SMALLINT",
    "SOME",
    "SPECIFIC",
    "SPECIFICTYPE",
    "SQL",
    "SQLEXCEPTION",
    "SQLSTATE",
    "SQLWARNING",
    "SQRT",
    "START",
    "STATIC",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "STREAM",
    "SUBMULTISET",
    "SUBSTRING",
    "SUM",
    "SYMMETRIC",
    "SYSTEM",
    "SYSTEM_USER",
    "TABLE",
    "TABLESAMPLE",
    "THEN",
    "TIME",
    "TIMESTAMP",
    "TIMEZONE_HOUR",
    "TIMEZONE_MINUTE",
    "TO",
    "TRAILING",
    "TRANSLATE",
    "TRANSLATION",
    "TREAT",
    "TRIGGER",
    "TRIM",
    "TRUE",
    "UESCAPE",
    "UNION",
    "UNIQUE",
    "UNKNOWN",
    "UNNEST",
    "UPDATE",
    "UPPER",
    "USER",
    "USING",
    "VALUE",
    "VALUES",
    "VAR_POP",
    "VAR_SAMP",
    "VARCHAR",
    "VARYING",
    "WHEN",
    "WHENEVER",
    "WHERE",
    "WIDTH_BUCKET",
    "WINDOW",
    "WITH",
    "WITHIN",
    "WITHOUT",
    "YEAR",
];

/// Whether `word` is reserved (case-insensitively).
pub fn is_reserved(word: &str) -> bool {
    let upper = word.to_ascii_uppercase();
    RESERVED.contains(&upper.as_str())
}

/// The documented renaming of a source name at column `position` (0-based).
pub fn column_name(source: &str, position: usize) -> String {
    let cleaned: String = source
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if cleaned.is_empty() {
        return format!("COL_{position}");
    }
    let renamed = cleaned != source
        || is_reserved(&cleaned)
        || cleaned.starts_with(|c: char| c.is_ascii_digit())
        || cleaned.len() > 100;
    if renamed {
        format!("COL_{}", &cleaned[..cleaned.len().min(96)])
    } else {
        cleaned
    }
}

/// Makes names unique by suffixing `_2`, `_3`... (case-sensitively, as the stream stores
/// them quoted).
fn unique(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|n| {
            let mut candidate = n.clone();
            let mut k = 2;
            while !seen.insert(candidate.clone()) {
                candidate = format!("{n}_{k}");
                k += 1;
            }
            candidate
        })
        .collect()
}

/// VARCHAR long enough for `len` characters: a power of two, at least 4.
fn varchar_for(len: usize) -> SqlType {
    let n = len.max(4).next_power_of_two();
    SqlType::Varchar(
        u32::try_from(n)
            .unwrap_or(u32::MAX)
            .min(crate::types::MAX_CHAR_LENGTH),
    )
}

/// What the samples held at one column.
#[derive(Debug, Default, Clone)]
struct Observed {
    ints: bool,
    min: i128,
    max: i128,
    fractions: bool,
    /// A number a REAL cannot hold.
    wide: bool,
    bools: bool,
    strings: bool,
    /// Arrays or objects.
    structured: bool,
    longest: usize,
}

impl Observed {
    fn number(&mut self, text: &str) {
        self.longest = self.longest.max(text.len());
        match text.parse::<i128>() {
            Ok(v) if !text.contains(['.', 'e', 'E']) => {
                if !self.ints {
                    self.min = v;
                    self.max = v;
                }
                self.ints = true;
                self.min = self.min.min(v);
                self.max = self.max.max(v);
            }
            _ => {
                self.fractions = true;
                let f = text.parse::<f64>().unwrap_or(f64::INFINITY);
                if !f.is_finite() || f.abs() > f64::from(f32::MAX) {
                    self.wide = true;
                }
            }
        }
    }

    fn string(&mut self, s: &str) {
        self.strings = true;
        self.longest = self.longest.max(s.chars().count());
    }

    /// The column type: `smallest_int` for JSON numbers, INTEGER-or-wider for CSV fields.
    fn sql_type(&self, smallest_int: bool) -> SqlType {
        let numeric =
            (self.ints || self.fractions) && !self.bools && !self.strings && !self.structured;
        if numeric {
            if self.fractions {
                return if self.wide {
                    SqlType::Double
                } else {
                    SqlType::Real
                };
            }
            let fits = |lo: i128, hi: i128| self.min >= lo && self.max <= hi;
            return if smallest_int && fits(i8::MIN.into(), i8::MAX.into()) {
                SqlType::TinyInt
            } else if smallest_int && fits(i16::MIN.into(), i16::MAX.into()) {
                SqlType::SmallInt
            } else if fits(i32::MIN.into(), i32::MAX.into()) {
                SqlType::Integer
            } else if fits(i64::MIN.into(), i64::MAX.into()) {
                SqlType::BigInt
            } else {
                SqlType::Double
            };
        }
        if self.bools && !self.ints && !self.fractions && !self.strings && !self.structured {
            return SqlType::Boolean;
        }
        varchar_for(self.longest)
    }
}

/// A JSON leaf: where it is and what it held.
struct Leaf {
    path: Vec<String>,
    /// An array, mapped whole as `[0:]`.
    array: bool,
    seen: Observed,
}

fn json_path_text(path: &[String], array: bool) -> String {
    let mut out = String::from("$");
    for seg in path {
        let plain = !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_');
        if plain {
            out.push('.');
            out.push_str(seg);
        } else if seg.contains('\'') {
            out.push_str(&format!("[\"{seg}\"]"));
        } else {
            out.push_str(&format!("['{seg}']"));
        }
    }
    if array {
        out.push_str("[0:]");
    }
    out
}

fn observe(node: &Json, path: &mut Vec<String>, leaves: &mut Vec<Leaf>) {
    if let Json::Object(members) = node {
        if !members.is_empty() || path.is_empty() {
            for (k, v) in members {
                path.push(k.clone());
                observe(v, path, leaves);
                path.pop();
            }
            return;
        }
    }
    let array = matches!(node, Json::Array(_));
    let idx = match leaves
        .iter()
        .position(|l| l.path == *path && l.array == array)
    {
        Some(i) => i,
        None => {
            leaves.push(Leaf {
                path: path.clone(),
                array,
                seen: Observed::default(),
            });
            leaves.len() - 1
        }
    };
    let seen = &mut leaves[idx].seen;
    match node {
        Json::Null => {}
        Json::Bool(_) => {
            seen.bools = true;
            seen.longest = seen.longest.max(5);
        }
        Json::Number(n) => seen.number(n),
        Json::String(s) => seen.string(s),
        Json::Array(_) | Json::Object(_) => {
            seen.structured = true;
            seen.longest = seen.longest.max(node.to_compact().chars().count());
        }
    }
}

fn discover_json(texts: &[&str]) -> Option<Discovery> {
    let mut rows: Vec<Json> = Vec::new();
    let mut array_rows = false;
    for t in texts {
        for doc in json::parse_documents(t).ok()? {
            match doc {
                Json::Object(_) => rows.push(doc),
                Json::Array(items) if items.iter().all(|i| matches!(i, Json::Object(_))) => {
                    array_rows = true;
                    rows.extend(items);
                }
                _ => return None,
            }
        }
    }
    if rows.is_empty() {
        return None;
    }
    let mut leaves = Vec::new();
    for r in &rows {
        observe(r, &mut Vec::new(), &mut leaves);
    }
    if leaves.is_empty() {
        return None;
    }
    // The leaf's own name, or its whole path when another leaf has the same name.
    let leaf_name = |l: &Leaf| l.path.last().cloned().unwrap_or_default();
    let names: Vec<String> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let own = leaf_name(l);
            let shared = leaves.iter().filter(|o| leaf_name(o) == own).count() > 1;
            let source = if shared { l.path.join("_") } else { own };
            column_name(&source, i)
        })
        .collect();
    let names = unique(names);
    let columns: Vec<RecordColumn> = leaves
        .iter()
        .zip(names)
        .map(|(l, name)| RecordColumn {
            name,
            mapping: Some(json_path_text(&l.path, l.array)),
            sql_type: l.seen.sql_type(true).to_string(),
        })
        .collect();
    let schema = InputSchema {
        record_format: RecordFormat {
            record_format_type: "JSON".into(),
            mapping_parameters: Some(MappingParameters {
                json: Some(JsonMappingParameters {
                    record_row_path: if array_rows { "$[0:]" } else { "$" }.into(),
                }),
                csv: None,
            }),
        },
        record_encoding: Some("UTF-8".into()),
        record_columns: columns,
    };
    let parsed = rows
        .iter()
        .map(|r| {
            leaves
                .iter()
                .map(|l| {
                    let steps: Vec<&str> = l.path.iter().map(String::as_str).collect();
                    let mut node = r;
                    for s in steps {
                        node = node.get(s)?;
                    }
                    match node {
                        Json::Null => None,
                        Json::String(s) => Some(s.clone()),
                        Json::Number(n) => Some(n.clone()),
                        other => Some(other.to_compact()),
                    }
                })
                .collect()
        })
        .collect();
    Some(Discovery {
        input_schema: schema,
        parsed_input_records: parsed,
    })
}

/// What a CSV field looks like.
fn observe_field(seen: &mut Observed, f: &str) {
    let t = f.trim();
    if t.is_empty() {
        return;
    }
    let numeric = t
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.parse::<f64>().is_ok();
    if numeric {
        seen.number(t.trim_start_matches('+'));
    } else if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        seen.bools = true;
        seen.longest = seen.longest.max(t.len());
    } else {
        seen.string(f);
    }
}

fn discover_csv(texts: &[&str]) -> Result<Discovery, DiscoverError> {
    let row_delim = if texts.iter().any(|t| t.contains("\r\n")) {
        "\r\n"
    } else {
        "\n"
    };
    let split_all = |col: &str| -> Vec<Vec<String>> {
        texts
            .iter()
            .flat_map(|t| csv::split(t, row_delim, col))
            .collect()
    };
    let candidates = [",", "\t", "|", ";", " "];
    let chosen = candidates.iter().find_map(|c| {
        let rows = split_all(c);
        let n = rows.first()?.len();
        (n > 1 && rows.iter().all(|r| r.len() == n)).then_some((*c, rows))
    });
    let (col_delim, rows) = match chosen {
        Some(c) => c,
        None => (",", split_all(",")),
    };
    if rows.is_empty() {
        return Err(DiscoverError("no rows in the sample".into()));
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let observe_rows = |rows: &[Vec<String>]| -> Vec<Observed> {
        let mut seen = vec![Observed::default(); width];
        for r in rows {
            for (i, f) in r.iter().enumerate() {
                observe_field(&mut seen[i], f);
            }
        }
        seen
    };
    // The first row is a header when the first sample holds several rows (a file, not one
    // streamed record) and that row has a distinct, non-numeric name for every column. The
    // reference-data example's `Ticker, Company` file becomes columns `Ticker` and `Company`
    // (its SQL reads "c"."Ticker" and "c"."Company"), all of them strings:
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html
    let first_sample_rows = csv::split(texts[0], row_delim, col_delim).len();
    let header = first_sample_rows > 1 && {
        let first = &rows[0];
        let distinct: std::collections::HashSet<&str> = first.iter().map(|f| f.trim()).collect();
        first.len() == width
            && distinct.len() == width
            && first.iter().all(|f| {
                let mut o = Observed::default();
                observe_field(&mut o, f);
                o.strings
            })
    };
    let data = if header { &rows[1..] } else { &rows[..] };
    let seen = observe_rows(data);
    let names: Vec<String> = (0..width)
        .map(|i| {
            if header {
                column_name(rows[0][i].trim(), i)
            } else {
                format!("COL_{i}")
            }
        })
        .collect();
    let names = unique(names);
    let types: Vec<SqlType> = seen.iter().map(|s| s.sql_type(false)).collect();
    let columns = names
        .into_iter()
        .zip(&types)
        .map(|(name, ty)| RecordColumn {
            name,
            mapping: None,
            sql_type: ty.to_string(),
        })
        .collect();
    let parsed = rows
        .iter()
        .map(|r| {
            types
                .iter()
                .enumerate()
                .map(|(i, ty)| {
                    let f = r.get(i)?;
                    if f.is_empty() && !ty.is_character() {
                        return None;
                    }
                    coerce::from_string(f, ty).ok().map(|_| f.clone())
                })
                .collect()
        })
        .collect();
    Ok(Discovery {
        input_schema: InputSchema {
            record_format: RecordFormat {
                record_format_type: "CSV".into(),
                mapping_parameters: Some(MappingParameters {
                    json: None,
                    csv: Some(CsvMappingParameters {
                        record_row_delimiter: row_delim.into(),
                        record_column_delimiter: col_delim.into(),
                    }),
                }),
            },
            record_encoding: Some("UTF-8".into()),
            record_columns: columns,
        },
        parsed_input_records: parsed,
    })
}

#[cfg(test)]
mod tests;
