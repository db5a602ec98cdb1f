//! Tests of the configuration loader: the shipped example, and one fixture per kind of
//! mistake with the exact message a user sees. One module per part of the file; the
//! fixtures they all extend are here.

use super::*;

mod firehose;
mod loading;
mod rules;
mod sections;

/// Fixtures pretend to live next to the example, so `data/driver_data.csv` resolves. Cargo
/// runs unit tests in the crate's folder.
const F: &str = "../../examples/speeding/test.toml";

/// A valid configuration the fixtures extend.
const BASE: &str = r#"[streams.alerts]
shards = 2

[tables.drivers]
file = "data/driver_data.csv"
key = "licensePlate"

[plugins.enrich]
path = "enrich.wasm"
grants = ["config", "lookup"]
tables = ["drivers"]

[rules.fast]
sql = "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75"
"#;

fn errors(text: &str) -> Vec<String> {
    match Config::parse(text, F) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().unwrap_or_default()
}
