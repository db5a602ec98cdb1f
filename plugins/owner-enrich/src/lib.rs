//! `owner-enrich`: joins the vehicle owner's row onto each record, by licence plate.
//!
//! This is the seed's Redshift join (`select first_name, last_name, licenseplate, myphone from
//! driver_data where licenseplate = ...`) done against a host lookup table. A plate that is not
//! in the table is an error for that record, naming the plate, so unknown vehicles reach the
//! rule's error action instead of vanishing.
//!
//! Config:
//! - `table` (default `drivers`): the lookup table to join.
//! - `key_field` (default `licensePlate`): the payload field holding the key.
//! - `columns` (default `first_name,last_name,myphone`): the table columns to copy, or `*` for
//!   every column except the key.
//! - `prefix` (default empty): put before each copied column's name.
//!
//! A copied column never silently overwrites a payload field: that is a `field-conflict` error
//! (set `prefix` to keep both).

use weir_sdk::serde_json::Value;
use weir_sdk::{json, ConfigExt, Host, InitError, Record, RecordError, Row, Transformer};

/// The join's configuration, parsed once.
#[derive(Debug)]
pub struct OwnerEnrich {
    table: String,
    key_field: String,
    /// `None` means every column except the key.
    columns: Option<Vec<String>>,
    prefix: String,
}

impl Transformer for OwnerEnrich {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        let raw = host.config_or("columns", "first_name,last_name,myphone");
        let columns = if raw.trim() == "*" {
            None
        } else {
            let cols: Vec<String> = raw
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if cols.is_empty() {
                return Err(InitError::config("columns", "names no column"));
            }
            Some(cols)
        };
        Ok(OwnerEnrich {
            table: host.config_or("table", "drivers"),
            key_field: host.config_or("key_field", "licensePlate"),
            columns,
            prefix: host.config_or("prefix", ""),
        })
    }

    fn transform(
        &mut self,
        mut record: Record,
        host: &impl Host,
    ) -> Result<Vec<Record>, RecordError> {
        let mut payload = record.json_object()?;
        let key = json::string_field(&payload, &self.key_field)?;
        let row = host
            .lookup(&self.table, &key)
            .map_err(|e| RecordError::new("lookup-failed", e))?
            .ok_or_else(|| {
                RecordError::new(
                    "unknown-key",
                    format!(
                        "{} {key:?} is not in table {:?}",
                        self.key_field, self.table
                    ),
                )
            })?;
        for (column, value) in self.selected(&row)? {
            let name = format!("{}{column}", self.prefix);
            if payload.contains_key(&name) {
                return Err(RecordError::new(
                    "field-conflict",
                    format!("joined column {column:?} would overwrite payload field {name:?}; set `prefix`"),
                ));
            }
            payload.insert(name, Value::String(value.to_string()));
        }
        record.set_json(&Value::Object(payload));
        Ok(vec![record])
    }
}

impl OwnerEnrich {
    /// The `(column, value)` pairs to copy, in configured order.
    fn selected<'r>(&self, row: &'r Row) -> Result<Vec<(&'r str, &'r str)>, RecordError> {
        match &self.columns {
            None => Ok(row
                .columns()
                .filter(|(c, _)| *c != self.key_field)
                .collect()),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    row.columns().find(|(name, _)| name == c).ok_or_else(|| {
                        RecordError::new(
                            "unknown-column",
                            format!("table {:?} has no column {c:?}", self.table),
                        )
                    })
                })
                .collect(),
        }
    }
}

weir_sdk::export_transformer!(OwnerEnrich);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    const DRIVERS: &str = "first_name,last_name,licensePlate,city,myphone\n\
        Laurie,Mullins,4-2288B,West Kristopher,8324498188\n\
        Ana,Núñez,95B•140,Springfield,5551234567\n";

    fn harness(host: MockHost) -> Harness<OwnerEnrich> {
        Harness::new(
            host.with_csv_table("drivers", "licensePlate", DRIVERS)
                .unwrap(),
        )
    }

    fn one(out: Vec<TransformResult>) -> Result<weir_sdk::serde_json::Value, RecordError> {
        match out.into_iter().next() {
            Some(TransformResult::Records(rs)) => {
                assert_eq!(rs.len(), 1);
                Ok(rs[0].json().unwrap())
            }
            Some(TransformResult::Failed(e)) => Err(e),
            None => panic!("no result"),
        }
    }

    #[test]
    fn joins_owner_columns_in_order_keeping_the_payload() {
        let mut h = harness(MockHost::new());
        let out = h.transform(vec![Record::from_json(
            &json!({"licensePlate": "95B•140", "city": "X", "speed": "82"}),
        )
        .with_partition_key("95B•140")]);
        let v = one(out).unwrap();
        assert_eq!(
            v.to_string(),
            json!({"licensePlate": "95B•140", "city": "X", "speed": "82",
                   "first_name": "Ana", "last_name": "Núñez", "myphone": "5551234567"})
            .to_string()
        );
    }

    #[test]
    fn unknown_plate_is_an_error_naming_it() {
        let mut h = harness(MockHost::new());
        let e = one(h.transform(vec![Record::from_json(&json!({"licensePlate": "NOPE-1"}))]))
            .unwrap_err();
        assert_eq!(e.code, "unknown-key");
        assert!(e.message.contains("\"NOPE-1\""), "{e}");
    }

    #[test]
    fn missing_plate_missing_table_and_conflicts_are_errors() {
        let mut h = harness(MockHost::new());
        let e = one(h.transform(vec![Record::from_json(&json!({"speed": 1}))])).unwrap_err();
        assert_eq!(e.code, "missing-field");

        let mut h = harness(MockHost::new().with_config("table", "cars"));
        let e = one(h.transform(vec![Record::from_json(&json!({"licensePlate": "4-2288B"}))]))
            .unwrap_err();
        assert_eq!(e.code, "lookup-failed");
        assert!(e.message.contains("cars"), "{e}");

        let mut h = harness(MockHost::new().with_config("columns", "*"));
        let e = one(h.transform(vec![Record::from_json(
            &json!({"licensePlate": "4-2288B", "city": "Elsewhere"}),
        )]))
        .unwrap_err();
        assert_eq!(e.code, "field-conflict");
    }

    #[test]
    fn prefix_and_star_copy_every_other_column() {
        let host = MockHost::new()
            .with_config("columns", "*")
            .with_config("prefix", "owner_");
        let mut h = harness(host);
        let v = one(h.transform(vec![Record::from_json(
            &json!({"licensePlate": "4-2288B", "city": "Elsewhere"}),
        )]))
        .unwrap();
        assert_eq!(v["owner_city"], "West Kristopher");
        assert_eq!(v["city"], "Elsewhere");
        assert!(v.get("owner_licensePlate").is_none());
    }

    #[test]
    fn unknown_configured_column_is_named() {
        let mut h = harness(MockHost::new().with_config("columns", "first_name,shoe_size"));
        let e = one(h.transform(vec![Record::from_json(&json!({"licensePlate": "4-2288B"}))]))
            .unwrap_err();
        assert_eq!(e.code, "unknown-column");
        assert!(e.message.contains("shoe_size"));
    }
}
