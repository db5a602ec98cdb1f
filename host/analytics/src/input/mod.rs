//! Input mapping: the `InputSchema` of CreateApplication (the API reference's `SourceSchema`),
//! and the [`Mapper`] that turns a record's bytes into rows of SQL values.
//!
//! Sources: Developer Guide "Mapping Streaming Source Elements to SQL Input Columns"
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-mapping.html), "Working with
//! JSONPath" (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/about-json-path.html),
//! "Error Handling" (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/error-handling.html)
//! and the API model (`SourceSchema`, `RecordFormat`, `RecordColumn`).
//!
//! A record that cannot be mapped is not dropped: [`Mapper::map`] returns a [`MappingError`]
//! and [`error_row`] makes the `error_stream` row for it.

pub mod coerce;
pub mod csv;
pub mod json;
pub mod jsonpath;
pub mod validate;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::SqlError;
use crate::row::{StreamColumn, StreamRow, StreamSchema};
use crate::types::SqlType;
use crate::value::Value;
use json::Json;
use jsonpath::{Path, Step};
use validate::{join, length, Violation};

/// The format and columns of a streaming source (`InputSchema`, type `SourceSchema`), in
/// AWS's JSON shape. Unknown members are rejected, so a misspelt key is an error rather
/// than a silently ignored setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSchema {
    #[serde(rename = "RecordFormat")]
    pub record_format: RecordFormat,
    /// Only `UTF-8` is allowed; absent means UTF-8.
    #[serde(
        rename = "RecordEncoding",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub record_encoding: Option<String>,
    #[serde(rename = "RecordColumns")]
    pub record_columns: Vec<RecordColumn>,
}

/// The API reference's name for the same shape (also `ReferenceSchema`).
pub type SourceSchema = InputSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFormat {
    /// `JSON` or `CSV` (kept as text so a wrong value gets the service's enum message).
    #[serde(rename = "RecordFormatType")]
    pub record_format_type: String,
    #[serde(
        rename = "MappingParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mapping_parameters: Option<MappingParameters>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingParameters {
    #[serde(
        rename = "JSONMappingParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub json: Option<JsonMappingParameters>,
    #[serde(
        rename = "CSVMappingParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub csv: Option<CsvMappingParameters>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMappingParameters {
    /// Path to the node holding the row(s): `$` for the whole record.
    #[serde(rename = "RecordRowPath")]
    pub record_row_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMappingParameters {
    #[serde(rename = "RecordRowDelimiter")]
    pub record_row_delimiter: String,
    #[serde(rename = "RecordColumnDelimiter")]
    pub record_column_delimiter: String,
}

/// One column: its name in the in-application stream (kept exactly: KDA quotes it), the
/// JSONPath it reads (JSON only; CSV columns are read in order) and its SQL type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordColumn {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Mapping", default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    #[serde(rename = "SqlType")]
    pub sql_type: String,
}

/// The record formats of inputs, references and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordFormatType {
    Json,
    Csv,
}

impl RecordFormatType {
    /// `JSON` or `CSV`, exactly (the API's enum is case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "JSON" => Some(RecordFormatType::Json),
            "CSV" => Some(RecordFormatType::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormatType::Json => "JSON",
            RecordFormatType::Csv => "CSV",
        }
    }
}

/// Default delimiters when a CSV schema gives no `CSVMappingParameters`.
pub const DEFAULT_ROW_DELIMITER: &str = "\n";
pub const DEFAULT_COLUMN_DELIMITER: &str = ",";

/// A schema the service would refuse (InvalidArgumentException): the message names the
/// member and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputSchemaError(pub String);

impl InputSchema {
    /// Parses the AWS JSON (`{"RecordFormat": ..., "RecordColumns": [...]}`); serde's message
    /// names a missing or unknown member.
    pub fn from_json(text: &str) -> Result<InputSchema, InputSchemaError> {
        serde_json::from_str(text).map_err(|e| InputSchemaError(format!("InputSchema: {e}")))
    }

    /// The model's constraints (lengths, patterns, enums) under `path` (the member path of
    /// this schema in the request, e.g. `inputs.1.member.inputSchema`).
    pub fn violations(&self, path: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        let cols = join(path, "recordColumns");
        let n = self.record_columns.len();
        if n < 1 {
            out.push(Violation::new(
                &cols,
                "[]",
                "Member must have length greater than or equal to 1",
            ));
        }
        if n > 1000 {
            out.push(Violation::new(
                &cols,
                &format!("[{n} columns]"),
                "Member must have length less than or equal to 1000",
            ));
        }
        for (i, c) in self.record_columns.iter().enumerate() {
            let member = format!("{cols}.{}.member", i + 1);
            let name_path = join(&member, "name");
            length(&mut out, &name_path, &c.name, 1, Some(256));
            if c.name
                .chars()
                .any(|ch| ch == '-' || ch == '<' || ch == '>' || ch == '&' || ch.is_whitespace())
            {
                out.push(Violation::new(
                    &name_path,
                    &c.name,
                    "Member must satisfy regular expression pattern: [^-\\s<>&]*",
                ));
            }
            length(
                &mut out,
                &join(&member, "sqlType"),
                &c.sql_type,
                1,
                Some(100),
            );
            if let Some(m) = &c.mapping {
                length(&mut out, &join(&member, "mapping"), m, 0, Some(65535));
            }
        }
        if let Some(enc) = &self.record_encoding {
            if enc != "UTF-8" {
                out.push(Violation::new(
                    join(path, "recordEncoding"),
                    enc,
                    "Member must satisfy regular expression pattern: UTF-8",
                ));
            }
        }
        self.record_format
            .violations(&join(path, "recordFormat"), &mut out);
        out
    }

    /// Everything the service checks before accepting the schema, as one message: the
    /// model's constraints first (AWS's "N validation errors detected: ..."), then the
    /// meaning (SQL types, JSONPaths, duplicate names, format and parameters agreeing).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_at("inputSchema")
    }

    /// [`InputSchema::validate`] with the schema's member path in the request.
    pub fn validate_at(&self, path: &str) -> Result<(), String> {
        let v = self.violations(path);
        if !v.is_empty() {
            return Err(validate::summarize(&v));
        }
        self.check(path).map_err(|e| e.0)
    }

    /// The semantic checks alone (InvalidArgumentException in the service).
    pub fn check(&self, path: &str) -> Result<(), InputSchemaError> {
        let fmt = self.format_type().ok_or_else(|| {
            InputSchemaError(format!(
                "{}: RecordFormatType must be JSON or CSV",
                join(path, "recordFormat.recordFormatType")
            ))
        })?;
        let params = self.record_format.mapping_parameters.as_ref();
        match fmt {
            RecordFormatType::Json => {
                if params.is_some_and(|p| p.csv.is_some()) {
                    return Err(InputSchemaError(format!(
                        "{}: CSVMappingParameters cannot be used with RecordFormatType JSON",
                        join(path, "recordFormat.mappingParameters")
                    )));
                }
            }
            RecordFormatType::Csv => {
                if params.is_some_and(|p| p.json.is_some()) {
                    return Err(InputSchemaError(format!(
                        "{}: JSONMappingParameters cannot be used with RecordFormatType CSV",
                        join(path, "recordFormat.mappingParameters")
                    )));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.record_columns.iter().enumerate() {
            let member = format!("{}.{}.member", join(path, "recordColumns"), i + 1);
            if !seen.insert(c.name.as_str()) {
                return Err(InputSchemaError(format!(
                    "{member}.name: duplicate column name {:?}",
                    c.name
                )));
            }
            column_type(c).map_err(|e| InputSchemaError(format!("{member}.sqlType: {}", e.0)))?;
        }
        // Building the mapper checks JSONPaths, the row path and the one-flattened-array rule.
        Mapper::new(self)
            .map(|_| ())
            .map_err(|e| InputSchemaError(format!("{path}: {}", e.0)))
    }

    /// `JSON` or `CSV`; `None` when the text is neither (validation reports it).
    pub fn format_type(&self) -> Option<RecordFormatType> {
        RecordFormatType::parse(&self.record_format.record_format_type)
    }

    /// The in-application stream's columns. A column whose `SqlType` does not parse (a
    /// schema [`InputSchema::validate`] would refuse) becomes `VARCHAR(65535)` so this never
    /// fails; use [`InputSchema::try_columns`] to get the error instead.
    pub fn columns(&self) -> Vec<StreamColumn> {
        self.record_columns
            .iter()
            .map(|c| {
                StreamColumn::new(
                    c.name.clone(),
                    column_type(c).unwrap_or(SqlType::Varchar(crate::types::MAX_CHAR_LENGTH)),
                )
            })
            .collect()
    }

    /// The columns, or the first column whose type is not a column type.
    pub fn try_columns(&self) -> Result<Vec<StreamColumn>, InputSchemaError> {
        self.record_columns
            .iter()
            .map(|c| {
                column_type(c)
                    .map(|ty| StreamColumn::new(c.name.clone(), ty))
                    .map_err(|e| InputSchemaError(format!("column {:?}: {}", c.name, e.0)))
            })
            .collect()
    }

    /// [`InputSchema::columns`] as a shared [`StreamSchema`].
    pub fn schema(&self) -> StreamSchema {
        Arc::from(self.columns())
    }
}

impl RecordFormat {
    fn violations(&self, path: &str, out: &mut Vec<Violation>) {
        if RecordFormatType::parse(&self.record_format_type).is_none() {
            out.push(Violation::new(
                join(path, "recordFormatType"),
                &self.record_format_type,
                "Member must satisfy enum value set: [JSON, CSV]",
            ));
        }
        let Some(p) = &self.mapping_parameters else {
            return;
        };
        let mp = join(path, "mappingParameters");
        if let Some(j) = &p.json {
            length(
                out,
                &join(&mp, "jSONMappingParameters.recordRowPath"),
                &j.record_row_path,
                1,
                None,
            );
        }
        if let Some(c) = &p.csv {
            let cp = join(&mp, "cSVMappingParameters");
            length(
                out,
                &join(&cp, "recordRowDelimiter"),
                &c.record_row_delimiter,
                1,
                None,
            );
            length(
                out,
                &join(&cp, "recordColumnDelimiter"),
                &c.record_column_delimiter,
                1,
                None,
            );
        }
    }
}

/// A column's SQL type; intervals are expressions only ("cannot be used as a datatype for a
/// column in a table or stream", SQL Reference, Data Types).
fn column_type(c: &RecordColumn) -> Result<SqlType, InputSchemaError> {
    let ty = SqlType::parse(&c.sql_type).map_err(|e| InputSchemaError(e.0))?;
    if matches!(ty, SqlType::IntervalDayTime | SqlType::IntervalYearMonth) {
        return Err(InputSchemaError(format!(
            "{} cannot be the type of a column",
            c.sql_type
        )));
    }
    Ok(ty)
}

/// A record that could not be mapped: it goes to `error_stream` with this name and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct MappingError {
    /// `ParseError` (not UTF-8, not JSON, no row at the RecordRowPath) or `CoercionError`
    /// (a value that does not convert to its column's type).
    pub name: String,
    pub message: String,
}

impl MappingError {
    pub fn parse(message: impl Into<String>) -> Self {
        MappingError {
            name: "ParseError".into(),
            message: message.into(),
        }
    }

    pub fn coercion(message: impl Into<String>) -> Self {
        MappingError {
            name: "CoercionError".into(),
            message: message.into(),
        }
    }
}

impl From<MappingError> for SqlError {
    fn from(e: MappingError) -> Self {
        SqlError::new(e.name, e.message)
    }
}

/// A compiled input schema: paths parsed once, types parsed once.
#[derive(Debug, Clone)]
pub struct Mapper {
    columns: Vec<StreamColumn>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Json {
        /// Steps to the row node; `row_all` when they end in `[0:]` (one row per element).
        row_path: Vec<Step>,
        row_all: bool,
        cols: Vec<JsonColumn>,
        /// The flattened array's path, relative to the row node.
        flatten: Option<Vec<Step>>,
    },
    Csv {
        row: String,
        col: String,
    },
}

#[derive(Debug, Clone)]
enum JsonColumn {
    /// Read at this path from the row node.
    Plain(Vec<Step>),
    /// Read at this path from each element of the flattened array.
    Element(Vec<Step>),
}

impl Mapper {
    /// Compiles a schema; the error says which column or path is wrong.
    pub fn new(schema: &InputSchema) -> Result<Mapper, InputSchemaError> {
        let columns = schema.try_columns()?;
        let params = schema
            .record_format
            .mapping_parameters
            .clone()
            .unwrap_or_default();
        let kind = match schema.format_type() {
            Some(RecordFormatType::Csv) => {
                let (row, col) = match params.csv {
                    Some(c) => (c.record_row_delimiter, c.record_column_delimiter),
                    None => (
                        DEFAULT_ROW_DELIMITER.to_string(),
                        DEFAULT_COLUMN_DELIMITER.to_string(),
                    ),
                };
                if row.is_empty() || col.is_empty() {
                    return Err(InputSchemaError("CSV delimiters cannot be empty".into()));
                }
                Kind::Csv { row, col }
            }
            Some(RecordFormatType::Json) => {
                let row_text = params
                    .json
                    .map(|j| j.record_row_path)
                    .unwrap_or_else(|| "$".to_string());
                let row = Path::parse(&row_text)
                    .map_err(|e| InputSchemaError(format!("RecordRowPath: {e}")))?;
                let mut row_path = row.steps;
                let row_all = row_path.last() == Some(&Step::All);
                if row_all {
                    row_path.pop();
                }
                if row_path.contains(&Step::All) {
                    return Err(InputSchemaError(format!(
                        "RecordRowPath {row_text:?}: only a final [0:] is supported"
                    )));
                }
                let mut cols = Vec::new();
                let mut flatten: Option<(Vec<Step>, String)> = None;
                for c in &schema.record_columns {
                    let mapping = c.mapping.as_deref().ok_or_else(|| {
                        InputSchemaError(format!(
                            "column {:?}: Mapping is required when RecordFormatType is JSON",
                            c.name
                        ))
                    })?;
                    let path = Path::parse(mapping)
                        .map_err(|e| InputSchemaError(format!("column {:?}: {e}", c.name)))?;
                    let mut steps = path.steps;
                    // A mapping written from the document root under a deeper row path is
                    // read relative to the row node (`$.data.x` under `$.data`).
                    let mut prefix = row_path.clone();
                    if row_all {
                        prefix.push(Step::All);
                    }
                    if !prefix.is_empty() && steps.starts_with(&prefix) {
                        steps.drain(..prefix.len());
                    }
                    let rel = Path { steps };
                    match rel.flatten_at() {
                        None => cols.push(JsonColumn::Plain(rel.steps)),
                        Some(at) => {
                            let array = rel.steps[..at].to_vec();
                            let element = rel.steps[at + 1..].to_vec();
                            if element.contains(&Step::All) {
                                return Err(InputSchemaError(format!(
                                    "column {:?}: Mapping {mapping:?} dereferences more than one array level ($.a[0:].b[0:].c is not supported)",
                                    c.name
                                )));
                            }
                            match &flatten {
                                Some((other, other_text)) if *other != array => {
                                    return Err(InputSchemaError(format!(
                                        "column {:?}: only one array can be flattened in a schema ({mapping:?} and {other_text:?})",
                                        c.name
                                    )));
                                }
                                _ => flatten = Some((array, mapping.to_string())),
                            }
                            cols.push(JsonColumn::Element(element));
                        }
                    }
                }
                Kind::Json {
                    row_path,
                    row_all,
                    cols,
                    flatten: flatten.map(|(a, _)| a),
                }
            }
            None => {
                return Err(InputSchemaError(format!(
                    "RecordFormatType {:?} must be JSON or CSV",
                    schema.record_format.record_format_type
                )))
            }
        };
        Ok(Mapper { columns, kind })
    }

    /// The columns rows are mapped to.
    pub fn columns(&self) -> &[StreamColumn] {
        &self.columns
    }

    /// Maps one record to its rows: usually one, several for a CSV record with several row
    /// delimiters, a JSON record with several documents or a flattened array. Any row that
    /// fails fails the record (the record goes to `error_stream` whole).
    pub fn map(&self, record: &[u8]) -> Result<Vec<Vec<Value>>, MappingError> {
        self.map_each(record)?.into_iter().collect()
    }

    /// Like [`Mapper::map`], but each row succeeds or fails alone (reference files: one bad
    /// line does not lose the others). The outer error is a record that does not parse.
    pub fn map_each(
        &self,
        record: &[u8],
    ) -> Result<Vec<Result<Vec<Value>, MappingError>>, MappingError> {
        let text = std::str::from_utf8(record)
            .map_err(|e| MappingError::parse(format!("record is not valid UTF-8: {e}")))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match &self.kind {
            Kind::Csv { row, col } => Ok(csv::split(text, row, col)
                .into_iter()
                .map(|fields| self.csv_row(&fields))
                .collect()),
            Kind::Json {
                row_path,
                row_all,
                cols,
                flatten,
            } => {
                let docs = json::parse_documents(text).map_err(MappingError::parse)?;
                if docs.is_empty() {
                    return Err(MappingError::parse("record is empty"));
                }
                let mut out = Vec::new();
                for doc in &docs {
                    let node = Path::walk(row_path, doc).ok_or_else(|| {
                        MappingError::parse("nothing at the RecordRowPath in the record")
                    })?;
                    match (row_all, node) {
                        (true, Json::Array(items)) => {
                            for item in items {
                                self.json_rows_checked(item, cols, flatten.as_deref(), &mut out);
                            }
                        }
                        (true, _) => {
                            return Err(MappingError::parse(
                                "the RecordRowPath does not lead to an array in the record",
                            ))
                        }
                        (false, node) => {
                            self.json_rows_checked(node, cols, flatten.as_deref(), &mut out)
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    fn coerce_json(&self, i: usize, v: Option<&Json>) -> Result<Value, MappingError> {
        match v {
            None => Ok(Value::Null),
            Some(v) => coerce::from_json(v, &self.columns[i].ty).map_err(|e| {
                MappingError::coercion(format!("column {}: {e}", self.columns[i].name))
            }),
        }
    }

    /// A row node must be an object (or an array read with `$[n]`): a bare string, number,
    /// Boolean or null is a record that "does not conform to the input schema" (Error
    /// Handling), not a row of NULLs.
    fn json_rows_checked(
        &self,
        node: &Json,
        cols: &[JsonColumn],
        flatten: Option<&[Step]>,
        out: &mut Vec<Result<Vec<Value>, MappingError>>,
    ) {
        match node {
            Json::Object(_) | Json::Array(_) => self.json_rows(node, cols, flatten, out),
            other => out.push(Err(MappingError::parse(format!(
                "a row must be a JSON object, not {}",
                match other {
                    Json::String(_) => "a string",
                    Json::Number(_) => "a number",
                    Json::Bool(_) => "a Boolean",
                    _ => "null",
                }
            )))),
        }
    }

    /// The rows of one row node: one, or one per element of the flattened array.
    fn json_rows(
        &self,
        node: &Json,
        cols: &[JsonColumn],
        flatten: Option<&[Step]>,
        out: &mut Vec<Result<Vec<Value>, MappingError>>,
    ) {
        let plain = |i: usize, steps: &[Step]| self.coerce_json(i, Path::walk(steps, node));
        let Some(array_path) = flatten else {
            out.push(
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| match c {
                        JsonColumn::Plain(s) | JsonColumn::Element(s) => plain(i, s),
                    })
                    .collect(),
            );
            return;
        };
        let elements: &[Json] = match Path::walk(array_path, node) {
            Some(Json::Array(items)) => items,
            _ => &[],
        };
        // "An array is always flattened to at least one row. If no values would be returned
        // (that is, the array is empty or none of its elements are queried), a single row
        // with all null values is returned." The other columns keep their values.
        let queried = elements.iter().any(|e| {
            cols.iter().any(|c| match c {
                JsonColumn::Element(s) => {
                    Path::walk(s, e).is_some_and(|v| !matches!(v, Json::Null))
                }
                JsonColumn::Plain(_) => false,
            })
        });
        let rows: Vec<Option<&Json>> = if queried {
            elements.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for element in rows {
            out.push(
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| match c {
                        JsonColumn::Plain(s) => plain(i, s),
                        JsonColumn::Element(s) => {
                            self.coerce_json(i, element.and_then(|e| Path::walk(s, e)))
                        }
                    })
                    .collect(),
            );
        }
    }

    /// CSV columns are read in order; missing trailing fields are NULL, extra fields are
    /// ignored ("You don't have to include all of the columns"). An empty field is NULL,
    /// except for CHAR/VARCHAR where it is the empty string.
    fn csv_row(&self, fields: &[String]) -> Result<Vec<Value>, MappingError> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, col)| match fields.get(i) {
                None => Ok(Value::Null),
                Some(f) if f.is_empty() && !col.ty.is_character() => Ok(Value::Null),
                Some(f) => coerce::from_string(f, &col.ty)
                    .map_err(|e| MappingError::coercion(format!("column {}: {e}", col.name))),
            })
            .collect()
    }
}

/// The in-application error stream's name.
pub const ERROR_STREAM: &str = "error_stream";

/// `error_stream`'s columns, as the Developer Guide's "Error Stream Schema" lists them.
pub fn error_stream_columns() -> Vec<StreamColumn> {
    vec![
        StreamColumn::new("ERROR_TIME", SqlType::Timestamp),
        StreamColumn::new("ERROR_LEVEL", SqlType::Varchar(10)),
        StreamColumn::new("ERROR_NAME", SqlType::Varchar(32)),
        StreamColumn::new("MESSAGE", SqlType::Varchar(4096)),
        StreamColumn::new("DATA_ROWTIME", SqlType::Timestamp),
        StreamColumn::new("DATA_ROW", SqlType::Varchar(49152)),
        StreamColumn::new("PUMP_NAME", SqlType::Varchar(128)),
    ]
}

/// [`error_stream_columns`] as a shared [`StreamSchema`].
pub fn error_stream_schema() -> StreamSchema {
    Arc::from(error_stream_columns())
}

/// One `error_stream` row. `data_row` is the failing record's bytes (or a row's text form
/// for a runtime error): `DATA_ROW` is its hex encoding, cut to the column's 49,152
/// characters. `pump_name` is `None` for input mapping errors (no pump was involved).
/// The row's ROWTIME is the data's, so the error stream's time never runs backwards.
pub fn error_row(
    error: &SqlError,
    error_time_ms: i64,
    data_rowtime_ms: i64,
    data_row: &[u8],
    pump_name: Option<&str>,
) -> StreamRow {
    let cut = |s: &str, n: usize| -> String { s.chars().take(n).collect() };
    let hex: String = data_row
        .iter()
        .take(49152 / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    StreamRow::new(
        data_rowtime_ms,
        vec![
            Value::Timestamp(error_time_ms),
            Value::Varchar("ERROR".into()),
            Value::Varchar(cut(&error.name, 32)),
            Value::Varchar(cut(&error.message, 4096)),
            Value::Timestamp(data_rowtime_ms),
            Value::Varchar(hex),
            match pump_name {
                Some(p) => Value::Varchar(cut(p, 128)),
                None => Value::Null,
            },
        ],
    )
}

#[cfg(test)]
mod tests;
