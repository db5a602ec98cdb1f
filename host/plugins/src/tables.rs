//! Lookup tables: CSV files loaded into memory and keyed by one column.
//!
//! The seed joins each speeding car with its owner's row from a Redshift table; Weir keeps such
//! reference data next to the pipeline so a plugin's `lookup(table, key)` is a hash-map probe,
//! not a network round trip. Tables are read-only once loaded and shared between plugin
//! instances behind an `Arc`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A problem loading a table, naming the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file cannot be read.
    #[error("table {table:?}: cannot read {}: {source}", path.display())]
    Read {
        /// Table name.
        table: String,
        /// File path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The CSV is malformed.
    #[error("table {table:?}: {}, line {line}: {message}", path.display())]
    Csv {
        /// Table name.
        table: String,
        /// File path.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The key column is not in the header.
    #[error("table {table:?}: {} has no column {column:?} (columns: {columns})", path.display())]
    NoKeyColumn {
        /// Table name.
        table: String,
        /// File path.
        path: PathBuf,
        /// The configured key column.
        column: String,
        /// The header's columns, comma separated.
        columns: String,
    },
}

/// One table: its columns and its rows by key.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<String>,
    key_index: usize,
    rows: HashMap<String, Vec<String>>,
    duplicates: usize,
}

impl Table {
    /// Loads a CSV file with a header line, keyed by `key_column`. When a key repeats, the first
    /// row wins and the repeat is counted in [`Table::duplicates`].
    pub fn from_csv_file(table: &str, path: &Path, key_column: &str) -> Result<Table, TableError> {
        let text = std::fs::read(path).map_err(|source| TableError::Read {
            table: table.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
        Table::from_csv(table, path, &text, key_column)
    }

    /// Like [`Table::from_csv_file`], from bytes already read; `path` is for messages.
    pub fn from_csv(
        table: &str,
        path: &Path,
        text: &[u8],
        key_column: &str,
    ) -> Result<Table, TableError> {
        let csv_error = |line: u64, message: String| TableError::Csv {
            table: table.to_string(),
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text);
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(1, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let key_index = columns
            .iter()
            .position(|c| c == key_column)
            .ok_or_else(|| TableError::NoKeyColumn {
                table: table.to_string(),
                path: path.to_path_buf(),
                column: key_column.to_string(),
                columns: columns.join(","),
            })?;
        let mut rows = HashMap::new();
        let mut duplicates = 0;
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                csv_error(line, e.to_string())
            })?;
            let values: Vec<String> = record.iter().map(str::to_string).collect();
            let key = values[key_index].clone();
            match rows.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => duplicates += 1,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(values);
                }
            }
        }
        Ok(Table {
            columns,
            key_index,
            rows,
            duplicates,
        })
    }

    /// The row under `key` as `(column, value)` pairs in column order.
    pub fn row(&self, key: &str) -> Option<Vec<(String, String)>> {
        self.rows.get(key).map(|values| {
            self.columns
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect()
        })
    }

    /// The column rows are keyed by.
    pub fn key_column(&self) -> &str {
        self.columns.get(self.key_index).map_or("", String::as_str)
    }

    /// The first row whose `column` equals `value`: a keyed lookup when `column` is the key
    /// column, a scan otherwise. `None` when the column does not exist or nothing matches.
    pub fn find(&self, column: &str, value: &str) -> Option<Vec<(String, String)>> {
        if column == self.key_column() {
            return self.row(value);
        }
        let i = self.columns.iter().position(|c| c == column)?;
        let values = self
            .rows
            .values()
            .find(|v| v.get(i).is_some_and(|x| x == value))?;
        Some(
            self.columns
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect(),
        )
    }

    /// Whether the table has a column called `column`.
    pub fn has_column(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows skipped because their key repeated an earlier row's.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }
}

/// Every lookup table of a host, by name.
#[derive(Debug, Clone, Default)]
pub struct LookupTables(HashMap<String, Table>);

impl LookupTables {
    /// No tables.
    pub fn new() -> Self {
        LookupTables::default()
    }

    /// Adds or replaces a table.
    pub fn insert(&mut self, name: impl Into<String>, table: Table) {
        self.0.insert(name.into(), table);
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.0.get(name)
    }

    /// `lookup(table, key)` as plugins see it: `Err` names an unknown table.
    pub fn lookup(&self, table: &str, key: &str) -> Result<Option<Vec<(String, String)>>, String> {
        self.0
            .get(table)
            .map(|t| t.row(key))
            .ok_or_else(|| format!("no lookup table named {table:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, key: &str) -> Result<Table, TableError> {
        Table::from_csv("drivers", Path::new("d.csv"), text.as_bytes(), key)
    }

    #[test]
    fn rows_by_key_in_column_order_with_unicode() {
        let t = load("name,plate\nAna,95B•140\nBo,X1\nCy,X1\n", "plate").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.duplicates(), 1);
        assert_eq!(
            t.row("95B•140").unwrap(),
            vec![
                ("name".into(), "Ana".into()),
                ("plate".into(), "95B•140".into())
            ]
        );
        assert_eq!(t.row("X1").unwrap()[0].1, "Bo");
        assert!(t.row("nope").is_none());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = load("a,b\n1,2\n3\n", "a").unwrap_err().to_string();
        assert!(e.contains("d.csv") && e.contains("line 3"), "{e}");
        let e = load("a,b\n", "plate").unwrap_err().to_string();
        assert!(e.contains("\"plate\"") && e.contains("a,b"), "{e}");
        let e = Table::from_csv_file("t", Path::new("/nonexistent/x.csv"), "a").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.csv"));
    }

    #[test]
    fn lookup_names_unknown_tables() {
        let mut tables = LookupTables::new();
        tables.insert("drivers", load("k,v\na,1\n", "k").unwrap());
        assert_eq!(tables.lookup("drivers", "a").unwrap().unwrap()[1].1, "1");
        assert!(tables.lookup("cars", "a").unwrap_err().contains("\"cars\""));
    }
}
