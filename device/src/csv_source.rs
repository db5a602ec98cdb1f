//! Reads the speeding CSV into validated [`SpeedingRow`]s, one row at a time.
//!
//! The seed script split lines on `,` and indexed columns by position; a short line crashed it
//! with an `IndexError` mid-run. Here columns are found by header name (so extra or reordered
//! columns are fine), and every problem with one row is a [`RowError`] that carries the
//! 1-based file line, so the caller can skip it with a warning or stop, per `--on-bad-row`.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use crate::payload::SpeedingRow;

/// The columns the payload needs, by their header names in the seed data.
pub const COLUMNS: [&str; 6] = [
    "licensePlate",
    "longitude",
    "latitude",
    "city",
    "state",
    "speed",
];

/// Why a whole file cannot be read (as opposed to one bad row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot read the header line: {source}")]
    Header { path: String, source: csv::Error },
    #[error("{path}: header has no column {column:?} (expected {expected})")]
    MissingHeader {
        path: String,
        column: &'static str,
        expected: String,
    },
    #[error("{path}: read failed near line {line}: {source}")]
    Read {
        path: String,
        line: u64,
        source: csv::Error,
    },
    #[error("{0}")]
    BadRow(RowError),
}

/// One row that cannot become a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub problem: RowProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    MissingColumn { column: &'static str, found: usize },
    BadNumber { column: &'static str, value: String },
    Empty { column: &'static str },
    NotUtf8,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.problem {
            RowProblem::MissingColumn { column, found } => {
                write!(f, "missing column {column:?} (row has {found} fields)")
            }
            RowProblem::BadNumber { column, value } => {
                write!(f, "column {column:?} is not a number: {value:?}")
            }
            RowProblem::Empty { column } => write!(f, "column {column:?} is empty"),
            RowProblem::NotUtf8 => write!(f, "row is not valid UTF-8"),
        }
    }
}

impl std::error::Error for RowError {}

/// What to do with a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadRow {
    /// Report it and go on with the next row.
    #[default]
    Skip,
    /// Stop the run with an error.
    Stop,
}

impl FromStr for OnBadRow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "skip" => Ok(Self::Skip),
            "stop" => Ok(Self::Stop),
            other => Err(format!("expected skip or stop, got {other:?}")),
        }
    }
}

/// A streaming reader over any CSV byte source.
pub struct CsvSource<R: Read> {
    reader: csv::Reader<R>,
    path: String,
    /// Index of each needed column in the record, in [`COLUMNS`] order.
    index: [usize; 6],
    record: csv::StringRecord,
}

impl CsvSource<File> {
    /// Opens a file; the header line must name all [`COLUMNS`].
    pub fn open(path: &Path) -> Result<Self, CsvError> {
        let file = File::open(path).map_err(|source| CsvError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_reader(file, &path.display().to_string())
    }
}

impl<R: Read> CsvSource<R> {
    /// `name` is used in error messages only.
    pub fn from_reader(input: R, name: &str) -> Result<Self, CsvError> {
        let mut reader = csv::ReaderBuilder::new()
            // Short or long rows must reach us so we can name the line, not abort the file.
            .flexible(true)
            .from_reader(input);
        let headers = reader.headers().map_err(|source| CsvError::Header {
            path: name.to_string(),
            source,
        })?;
        let mut index = [0usize; 6];
        for (slot, column) in index.iter_mut().zip(COLUMNS) {
            *slot = headers
                .iter()
                .position(|h| h.trim() == column)
                .ok_or_else(|| CsvError::MissingHeader {
                    path: name.to_string(),
                    column,
                    expected: COLUMNS.join(","),
                })?;
        }
        Ok(Self {
            reader,
            path: name.to_string(),
            index,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row: `None` at end of file, `Some(Err(BadRow))` for a row to skip or stop on,
    /// other errors for a file that cannot be read further.
    pub fn next_row(&mut self) -> Option<Result<SpeedingRow, CsvError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    // A blank line (e.g. a trailing one) is not a row.
                    if self.record.len() == 1 && self.record.get(0).is_some_and(str::is_empty) {
                        continue;
                    }
                    let line = self.record.position().map_or(0, |p| p.line());
                    return Some(
                        validate(&self.record, &self.index, line).map_err(CsvError::BadRow),
                    );
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    if let csv::ErrorKind::Utf8 { .. } = e.kind() {
                        return Some(Err(CsvError::BadRow(RowError {
                            line,
                            problem: RowProblem::NotUtf8,
                        })));
                    }
                    return Some(Err(CsvError::Read {
                        path: self.path.clone(),
                        line,
                        source: e,
                    }));
                }
            }
        }
    }

    /// Applies the bad-row policy: skipped rows are handed to `warn`, then reading goes on.
    pub fn next_with_policy(
        &mut self,
        policy: OnBadRow,
        mut warn: impl FnMut(&RowError),
    ) -> Option<Result<SpeedingRow, CsvError>> {
        loop {
            match self.next_row()? {
                Err(CsvError::BadRow(e)) if policy == OnBadRow::Skip => warn(&e),
                other => return Some(other),
            }
        }
    }
}

fn validate(
    record: &csv::StringRecord,
    index: &[usize; 6],
    line: u64,
) -> Result<SpeedingRow, RowError> {
    let mut values: [String; 6] = Default::default();
    for ((value, &i), column) in values.iter_mut().zip(index).zip(COLUMNS) {
        let raw = record.get(i).ok_or(RowError {
            line,
            problem: RowProblem::MissingColumn {
                column,
                found: record.len(),
            },
        })?;
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(RowError {
                line,
                problem: RowProblem::Empty { column },
            });
        }
        if matches!(column, "longitude" | "latitude" | "speed") && !is_finite_number(raw) {
            return Err(RowError {
                line,
                problem: RowProblem::BadNumber {
                    column,
                    value: raw.to_string(),
                },
            });
        }
        *value = raw.to_string();
    }
    let [license_plate, longitude, latitude, city, state, speed] = values;
    Ok(SpeedingRow {
        license_plate,
        longitude,
        latitude,
        city,
        state,
        speed,
    })
}

fn is_finite_number(s: &str) -> bool {
    s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Reads a whole file, for modes that cycle through it (the button, load with `--csv`).
/// Bad rows follow `policy`; the result is never empty.
pub fn read_all(
    path: &Path,
    policy: OnBadRow,
    warn: impl FnMut(&RowError),
) -> Result<Vec<SpeedingRow>, CsvError> {
    let mut source = CsvSource::open(path)?;
    let mut rows = Vec::new();
    let mut warn = warn;
    while let Some(row) = source.next_with_policy(policy, &mut warn) {
        rows.push(row?);
    }
    if rows.is_empty() {
        return Err(CsvError::Open {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no usable rows"),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "licensePlate,longitude,latitude,city,state,speed\n";

    fn rows(body: &str, policy: OnBadRow) -> (Vec<Result<SpeedingRow, String>>, Vec<String>) {
        let text = format!("{HEADER}{body}");
        let mut src = CsvSource::from_reader(text.as_bytes(), "test.csv").expect("header ok");
        let mut warnings = Vec::new();
        let mut out = Vec::new();
        while let Some(r) = src.next_with_policy(policy, |e| warnings.push(e.to_string())) {
            let stop = r.is_err();
            out.push(r.map_err(|e| e.to_string()));
            if stop {
                break;
            }
        }
        (out, warnings)
    }

    #[test]
    fn reads_rows_with_non_ascii_plates() {
        let (out, warnings) = rows("95B•140,1.5,-2.25,Town,Iowa,80\n", OnBadRow::Stop);
        assert!(warnings.is_empty());
        let row = out[0].as_ref().expect("row ok");
        assert_eq!(row.license_plate, "95B•140");
        assert_eq!(row.speed, "80");
    }

    #[test]
    fn missing_column_names_the_line() {
        let body = "A1,1,2,C,S,70\nB2,1,2,C\nC3,1,2,C,S,90\n";
        let (out, warnings) = rows(body, OnBadRow::Skip);
        assert_eq!(out.len(), 2);
        assert_eq!(
            warnings,
            [r#"line 3: missing column "state" (row has 4 fields)"#]
        );
        let (out, _) = rows(body, OnBadRow::Stop);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1].as_ref().expect_err("stops"),
            r#"line 3: missing column "state" (row has 4 fields)"#
        );
    }

    #[test]
    fn bad_numbers_name_column_and_line() {
        let body = "A1,east,2,C,S,70\nB2,1,2,C,S,fast\nC3,1,NaN,C,S,1\nD4,1,2,C,S,\n";
        let (out, warnings) = rows(body, OnBadRow::Skip);
        assert!(out.is_empty());
        assert_eq!(
            warnings,
            [
                r#"line 2: column "longitude" is not a number: "east""#,
                r#"line 3: column "speed" is not a number: "fast""#,
                r#"line 4: column "latitude" is not a number: "NaN""#,
                r#"line 5: column "speed" is empty"#,
            ]
        );
    }

    #[test]
    fn line_numbers_count_quoted_newlines() {
        let body = "A1,1,2,\"Two\nLines\",S,70\nB2,x,2,C,S,70\n";
        let (_, warnings) = rows(body, OnBadRow::Skip);
        assert_eq!(
            warnings,
            [r#"line 4: column "longitude" is not a number: "x""#]
        );
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_not_a_crash() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"A\xff1,1,2,C,S,70\nB2,1,2,C,S,70\n");
        let mut src = CsvSource::from_reader(&bytes[..], "x.csv").expect("header ok");
        let mut warnings = Vec::new();
        let mut good = 0;
        while let Some(r) = src.next_with_policy(OnBadRow::Skip, |e| warnings.push(e.to_string())) {
            r.expect("skip policy");
            good += 1;
        }
        assert_eq!(good, 1);
        assert_eq!(warnings, ["line 2: row is not valid UTF-8"]);
    }

    #[test]
    fn header_must_name_columns() {
        let err = CsvSource::from_reader("plate,speed\nA,1\n".as_bytes(), "bad.csv")
            .err()
            .expect("missing header");
        assert!(err
            .to_string()
            .starts_with(r#"bad.csv: header has no column "licensePlate""#));
    }

    #[test]
    fn reordered_and_extra_columns_are_fine() {
        let text = "speed,extra,state,city,latitude,longitude,licensePlate\n99,x,S,C,1,2,P\n";
        let mut src = CsvSource::from_reader(text.as_bytes(), "r.csv").expect("header ok");
        let row = src.next_row().expect("one row").expect("valid");
        assert_eq!(
            (
                row.license_plate.as_str(),
                row.longitude.as_str(),
                row.speed.as_str()
            ),
            ("P", "2", "99")
        );
    }

    #[test]
    fn seed_file_reads_clean() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/speeding/data/speeding_data.csv");
        let rows = read_all(&path, OnBadRow::Stop, |_| {}).expect("seed csv is valid");
        assert_eq!(rows.len(), 1000);
        assert!(rows.iter().any(|r| r.license_plate == "95B•140"));
    }
}
