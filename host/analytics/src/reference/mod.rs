//! Reference data: a `ReferenceDataSource` (an object in a bucket, the in-application table
//! it fills, and the `ReferenceSchema` that maps it), and [`load`], which turns the object's
//! bytes into the table's rows with the same mapping as streaming input.
//!
//! The object is read whole: CSV rows are split on `RecordRowDelimiter`, JSON holds one
//! document per row (or several per line), and `RecordRowPath` ending in `[0:]` reads the
//! rows out of one array. API reference:
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/API_ReferenceDataSource.html

use serde::{Deserialize, Serialize};

use crate::input::validate::{is_arn, is_role_arn, join, length, summarize, Violation};
use crate::input::{InputSchema, InputSchemaError, Mapper, MappingError};
use crate::row::StreamColumn;
use crate::value::Value;

/// `ReferenceSchema` has the `SourceSchema` shape.
pub type ReferenceSchema = InputSchema;

/// `ReferenceDataSource` in AWS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceDataSource {
    /// The in-application table (1 to 32 characters).
    #[serde(rename = "TableName")]
    pub table_name: String,
    #[serde(
        rename = "S3ReferenceDataSource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_reference_data_source: Option<S3ReferenceDataSource>,
    #[serde(rename = "ReferenceSchema")]
    pub reference_schema: ReferenceSchema,
}

/// Where the object is, and the role the service would assume to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3ReferenceDataSource {
    #[serde(rename = "BucketARN")]
    pub bucket_arn: String,
    #[serde(rename = "FileKey")]
    pub file_key: String,
    #[serde(rename = "ReferenceRoleARN")]
    pub reference_role_arn: String,
}

impl S3ReferenceDataSource {
    /// The bucket's name: what follows `arn:aws:s3:::` (the whole text if it is not an ARN).
    pub fn bucket_name(&self) -> &str {
        self.bucket_arn
            .rsplit_once(":::")
            .map_or(self.bucket_arn.as_str(), |(_, b)| b)
    }

    /// The model's constraints under `path`.
    pub fn violations(&self, path: &str, out: &mut Vec<Violation>) {
        let bucket = join(path, "bucketARN");
        length(out, &bucket, &self.bucket_arn, 1, Some(2048));
        if !is_arn(&self.bucket_arn) {
            out.push(Violation::new(
                &bucket,
                &self.bucket_arn,
                "Member must satisfy regular expression pattern: arn:.*",
            ));
        }
        length(out, &join(path, "fileKey"), &self.file_key, 1, Some(1024));
        let role = join(path, "referenceRoleARN");
        length(out, &role, &self.reference_role_arn, 1, Some(2048));
        if !is_role_arn(&self.reference_role_arn) {
            out.push(Violation::new(
                &role,
                &self.reference_role_arn,
                "Member must satisfy regular expression pattern: arn:aws:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            ));
        }
    }
}

impl ReferenceDataSource {
    /// The model's constraints under `path` (e.g. `referenceDataSource`).
    pub fn violations(&self, path: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        length(
            &mut out,
            &join(path, "tableName"),
            &self.table_name,
            1,
            Some(32),
        );
        if let Some(s3) = &self.s3_reference_data_source {
            s3.violations(&join(path, "s3ReferenceDataSource"), &mut out);
        }
        out.extend(
            self.reference_schema
                .violations(&join(path, "referenceSchema")),
        );
        out
    }

    /// AWS's messages: the constraint summary, else the schema's meaning.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_at("referenceDataSource")
    }

    /// [`ReferenceDataSource::validate`] with the source's member path in the request.
    pub fn validate_at(&self, path: &str) -> Result<(), String> {
        let v = self.violations(path);
        if !v.is_empty() {
            return Err(summarize(&v));
        }
        self.reference_schema
            .check(&join(path, "referenceSchema"))
            .map_err(|e| e.0)
    }
}

/// The reference file of the test command (`--reference REF.json`): a
/// `ReferenceDataSource` without the bucket, plus the object's rows inline. A row that is a
/// JSON string is a record's raw text (a CSV line); any other JSON value is a JSON record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFile {
    #[serde(rename = "TableName")]
    pub table_name: String,
    #[serde(
        rename = "S3ReferenceDataSource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_reference_data_source: Option<S3ReferenceDataSource>,
    #[serde(rename = "ReferenceSchema")]
    pub reference_schema: ReferenceSchema,
    #[serde(rename = "Rows")]
    pub rows: Vec<serde_json::Value>,
}

impl ReferenceFile {
    /// Parses the file; serde's message names a missing or unknown member.
    pub fn from_json(text: &str) -> Result<ReferenceFile, ReferenceError> {
        serde_json::from_str(text).map_err(|e| ReferenceError::Schema(format!("reference: {e}")))
    }

    /// The object the rows stand for: each row as a record, separated by the row
    /// delimiter (CSV) or a newline (JSON).
    pub fn object_bytes(&self) -> Vec<u8> {
        let sep = self
            .reference_schema
            .record_format
            .mapping_parameters
            .as_ref()
            .and_then(|p| p.csv.as_ref())
            .map_or("\n", |c| c.record_row_delimiter.as_str())
            .to_string();
        let mut out = Vec::new();
        for r in &self.rows {
            match r {
                serde_json::Value::String(s) => out.extend_from_slice(s.as_bytes()),
                other => out.extend_from_slice(other.to_string().as_bytes()),
            }
            out.extend_from_slice(sep.as_bytes());
        }
        out
    }

    /// The table's columns and rows.
    pub fn load(&self) -> Result<(Vec<StreamColumn>, Vec<Vec<Value>>), ReferenceError> {
        let rows = load(&self.reference_schema, &self.object_bytes())?;
        Ok((self.reference_schema.columns(), rows))
    }
}

/// Why reference data could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The schema (or the reference file) is not valid.
    #[error("{0}")]
    Schema(String),
    /// The object does not parse (not UTF-8, not JSON).
    #[error("reference data: {0}")]
    Parse(MappingError),
    /// One row of the object does not map (1-based row among the rows read).
    #[error("reference data row {row}: {error}")]
    Row { row: usize, error: MappingError },
}

impl From<InputSchemaError> for ReferenceError {
    fn from(e: InputSchemaError) -> Self {
        ReferenceError::Schema(e.0)
    }
}

/// The table's rows from the object's bytes. Strict: a row that does not map fails the
/// load and says which row, since a silently shorter reference table changes join results.
pub fn load(schema: &ReferenceSchema, bytes: &[u8]) -> Result<Vec<Vec<Value>>, ReferenceError> {
    let mapper = Mapper::new(schema)?;
    mapper
        .map_each(bytes)
        .map_err(ReferenceError::Parse)?
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|error| ReferenceError::Row { row: i + 1, error }))
        .collect()
}

/// The rows that map and the errors of those that do not, for a caller that reports bad
/// rows (to `error_stream`) and keeps the rest.
pub fn load_lenient(
    schema: &ReferenceSchema,
    bytes: &[u8],
) -> Result<(Vec<Vec<Value>>, Vec<MappingError>), ReferenceError> {
    let mapper = Mapper::new(schema)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for r in mapper.map_each(bytes).map_err(ReferenceError::Parse)? {
        match r {
            Ok(row) => rows.push(row),
            Err(e) => errors.push(e),
        }
    }
    Ok((rows, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request of "AddApplicationReferenceDataSource" in the Developer Guide's API
    /// examples (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/api-examples.html),
    /// with its trailing comma removed and the role the v1 model requires added.
    const SOURCE: &str = r#"{
        "ReferenceSchema": {
            "RecordColumns": [
                {"Mapping": "$.TICKER", "Name": "TICKER", "SqlType": "VARCHAR(4)"},
                {"Mapping": "$.COMPANYNAME", "Name": "COMPANY_NAME", "SqlType": "VARCHAR(40)"}
            ],
            "RecordEncoding": "UTF-8",
            "RecordFormat": {
                "MappingParameters": {
                    "CSVMappingParameters": {"RecordColumnDelimiter": " ", "RecordRowDelimiter": "\r\n"}
                },
                "RecordFormatType": "CSV"
            }
        },
        "S3ReferenceDataSource": {
            "BucketARN": "arn:aws:s3:::MyS3Bucket",
            "FileKey": "TickerReference.csv",
            "ReferenceRoleARN": "arn:aws:iam::012345678901:role/KinesisAnalytics-ReadS3Object"
        },
        "TableName": "string"
    }"#;

    #[test]
    fn documented_reference_source_parses_validates_and_loads() {
        let src: ReferenceDataSource = serde_json::from_str(SOURCE).expect("parses");
        assert_eq!(src.validate(), Ok(()));
        assert_eq!(
            src.s3_reference_data_source
                .as_ref()
                .map(|s| s.bucket_name()),
            Some("MyS3Bucket")
        );
        let rows =
            load(&src.reference_schema, b"AMZN Amazon\r\nXYZ SomeCompany\r\n").expect("loads");
        assert_eq!(
            rows,
            vec![
                vec![
                    Value::Varchar("AMZN".into()),
                    Value::Varchar("Amazon".into())
                ],
                vec![
                    Value::Varchar("XYZ".into()),
                    Value::Varchar("SomeCompany".into())
                ],
            ]
        );
    }

    #[test]
    fn ticker_reference_csv_of_the_reference_data_example() {
        // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html:
        // the console discovers two columns; the header line is a row like the others, and
        // blanks after the comma are kept (the example joins on the ticker only).
        let schema = InputSchema::from_json(
            r#"{"RecordFormat":{"RecordFormatType":"CSV","MappingParameters":{"CSVMappingParameters":{"RecordRowDelimiter":"\n","RecordColumnDelimiter":","}}},
                "RecordColumns":[{"Name":"Ticker","SqlType":"VARCHAR(4)"},{"Name":"Company","SqlType":"VARCHAR(16)"}]}"#,
        )
        .expect("schema");
        let rows = load(
            &schema,
            b"Ticker, Company\nAMZN,Amazon\nASD, SomeCompanyA\nMMB, SomeCompanyB\nWAS,  SomeCompanyC\n",
        )
        .expect("loads");
        assert_eq!(rows.len(), 5);
        assert_eq!(
            rows[1],
            vec![
                Value::Varchar("AMZN".into()),
                Value::Varchar("Amazon".into())
            ]
        );
        assert_eq!(rows[4][1], Value::Varchar("  SomeCompanyC".into()));
    }

    #[test]
    fn constraints_and_members() {
        let mut src: ReferenceDataSource = serde_json::from_str(SOURCE).expect("parses");
        src.table_name = "T".repeat(33);
        if let Some(s3) = src.s3_reference_data_source.as_mut() {
            s3.reference_role_arn = "role".into();
        }
        let e = src.validate().expect_err("bad");
        assert!(e.starts_with("2 validation errors detected: "), "{e}");
        assert!(e.contains("'referenceDataSource.tableName'"), "{e}");
        assert!(
            e.contains("'referenceDataSource.s3ReferenceDataSource.referenceRoleARN'"),
            "{e}"
        );
        let e = serde_json::from_str::<ReferenceDataSource>(r#"{"TableName":"t"}"#)
            .expect_err("missing schema")
            .to_string();
        assert!(e.contains("ReferenceSchema"), "{e}");
    }

    #[test]
    fn bad_rows_say_which() {
        let schema = InputSchema::from_json(
            r#"{"RecordFormat":{"RecordFormatType":"JSON"},
                "RecordColumns":[{"Name":"K","Mapping":"$.k","SqlType":"INTEGER"}]}"#,
        )
        .expect("schema");
        let e = load(&schema, b"{\"k\":1}\n{\"k\":\"x\"}\n").expect_err("row 2");
        assert!(matches!(e, ReferenceError::Row { row: 2, .. }), "{e}");
        let (rows, errors) = load_lenient(&schema, b"{\"k\":1}\n{\"k\":\"x\"}\n").expect("parses");
        assert_eq!((rows.len(), errors.len()), (1, 1));
        assert!(matches!(load(&schema, b"{"), Err(ReferenceError::Parse(_))));
    }

    #[test]
    fn reference_file_of_the_test_command() {
        let f = ReferenceFile::from_json(
            r#"{"TableName":"CompanyName",
                "ReferenceSchema":{"RecordFormat":{"RecordFormatType":"JSON","MappingParameters":{"JSONMappingParameters":{"RecordRowPath":"$"}}},
                    "RecordColumns":[{"Name":"Ticker","Mapping":"$.Ticker","SqlType":"VARCHAR(4)"},{"Name":"Company","Mapping":"$.Company","SqlType":"VARCHAR(20)"}]},
                "Rows":[{"Ticker":"AMZN","Company":"Amazon"},{"Ticker":"ASD","Company":"SomeCompanyA"}]}"#,
        )
        .expect("parses");
        let (cols, rows) = f.load().expect("loads");
        assert_eq!(cols[1].name, "Company");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][1], Value::Varchar("SomeCompanyA".into()));
        let csv = ReferenceFile::from_json(
            r#"{"TableName":"T","ReferenceSchema":{"RecordFormat":{"RecordFormatType":"CSV"},
                "RecordColumns":[{"Name":"A","SqlType":"INTEGER"},{"Name":"B","SqlType":"VARCHAR(3)"}]},
                "Rows":["1,x","2,y"]}"#,
        )
        .expect("parses");
        assert_eq!(
            csv.load().expect("loads").1,
            vec![
                vec![Value::Integer(1), Value::Varchar("x".into())],
                vec![Value::Integer(2), Value::Varchar("y".into())]
            ]
        );
        assert!(ReferenceFile::from_json(r#"{"TableName":"T"}"#).is_err());
    }
}
