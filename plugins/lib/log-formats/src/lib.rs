//! `log-formats`: the log-line parsers and the CSV rendering that Weir's Firehose log blueprints
//! share.
//!
//! Not a plugin (it has no `export_transformer!` and is an rlib only): `apache-log-to-json` and
//! `apache-log-to-csv` both use [`apache::parse_line`], `syslog-to-json` and `syslog-to-csv` both
//! use [`syslog::parse_line`], so each JSON blueprint and its CSV sibling agree field for field.
//! The CSV blueprints turn the parsed JSON object into one CSV line with [`csv::lines_to_csv`].

#![warn(missing_docs)]

pub mod apache;
pub mod csv;
pub mod syslog;
