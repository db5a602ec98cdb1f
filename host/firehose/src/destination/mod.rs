//! A delivery stream's destination: one variant of [`DeliveryDestination`] per destination
//! Weir delivers to, each in a module of its own holding its settings, their checks, what a
//! delivery of it prepares and how that is sent (`s3.rs`: `ExtendedS3DestinationConfiguration`,
//! `http_endpoint.rs`: `HttpEndpointDestinationConfiguration` with its S3 backup).
//!
//! What the rest of the service asks of a destination goes through the methods here, each an
//! exhaustive `match` (no catch-all), so a new variant does not compile until every question
//! has its answer. Whatever the destination, objects and error records go to an S3 bucket
//! ([`DeliveryDestination::s3`]): the destination's own, or its backup.
//!
//! To add a destination: a variant here, its module (settings, `validate`, `prepare`,
//! `send`), the arms the compiler asks for below, and its wire shapes in
//! `weir-api`'s `firehose/destination/` (see ARCHITECTURE.md).

mod http_endpoint;
mod s3;

use serde::{Deserialize, Serialize};

pub use http_endpoint::HttpDestination;
pub use s3::S3Destination;

use crate::batch::{Failure, Item, Output, Place};
use crate::catalog::Inner;
use crate::egress::Egress;
use crate::error::Result;
use crate::model::{Buffering, DeliveryStreamSpec};

/// Where a delivery stream's records go. Serialized externally tagged
/// (`{"ExtendedS3": {...}}`) in the catalogs; `upgrade_legacy_spec` reads the shape written
/// before this enum existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryDestination {
    /// `ExtendedS3DestinationConfiguration` (and the plain `S3DestinationConfiguration`, its
    /// subset): objects in a bucket.
    ExtendedS3(S3Destination),
    /// `HttpEndpointDestinationConfiguration`: records go to the endpoint as Firehose's
    /// HTTP requests; `backup` (its `S3Configuration`) takes failed records, or all of them.
    HttpEndpoint {
        endpoint: HttpDestination,
        backup: S3Destination,
    },
}

impl DeliveryDestination {
    /// The S3 settings objects and error records are written by: the bucket, prefixes,
    /// compression and object size.
    pub fn s3(&self) -> &S3Destination {
        match self {
            DeliveryDestination::ExtendedS3(d) => d,
            DeliveryDestination::HttpEndpoint { backup, .. } => backup,
        }
    }

    /// [`Self::s3`], to change (UpdateDestination).
    pub fn s3_mut(&mut self) -> &mut S3Destination {
        match self {
            DeliveryDestination::ExtendedS3(d) => d,
            DeliveryDestination::HttpEndpoint { backup, .. } => backup,
        }
    }

    /// The buffering hints that decide when a delivery is due.
    pub fn buffering(&self) -> Buffering {
        match self {
            DeliveryDestination::ExtendedS3(d) => d.buffering,
            DeliveryDestination::HttpEndpoint { endpoint, .. } => endpoint.buffering,
        }
    }

    /// Everything CreateDeliveryStream and UpdateDestination must refuse in the destination's
    /// own settings (`egress`: where this host may send).
    pub(crate) fn validate(&self, egress: &Egress) -> Result<()> {
        match self {
            DeliveryDestination::ExtendedS3(d) => d.validate(),
            DeliveryDestination::HttpEndpoint { endpoint, backup } => {
                backup.validate()?;
                endpoint.validate(egress)
            }
        }
    }

    /// The settings of `spec` beyond the destination that it cannot take (processing,
    /// partitioning, conversion).
    pub(crate) fn check_stages(&self, spec: &DeliveryStreamSpec) -> Result<()> {
        match self {
            DeliveryDestination::ExtendedS3(d) => d.check_stages(spec),
            DeliveryDestination::HttpEndpoint { endpoint, .. } => endpoint.check_stages(spec),
        }
    }

    /// What one delivery of `items` (already through the transformation) becomes: objects
    /// and requests, with the records failing a step added to `failures`.
    pub(crate) fn prepare(
        &self,
        place: &Place<'_>,
        items: Vec<Item>,
        failures: &mut Vec<Failure>,
    ) -> Result<Vec<Output>> {
        match self {
            DeliveryDestination::ExtendedS3(_) => s3::prepare(place, items, failures),
            DeliveryDestination::HttpEndpoint { endpoint, .. } => {
                http_endpoint::prepare(endpoint, place.spec(), items)
            }
        }
    }

    /// Sends one [`Output::Request`] to the destination; what it could not deliver for good
    /// comes back as error objects for the bucket.
    pub(crate) fn send(
        &self,
        inner: &Inner,
        spec: &DeliveryStreamSpec,
        items: &[Item],
    ) -> Result<Vec<Output>> {
        match self {
            // An S3 destination prepares objects only.
            DeliveryDestination::ExtendedS3(_) => Ok(Vec::new()),
            DeliveryDestination::HttpEndpoint { endpoint, .. } => {
                http_endpoint::send(inner, spec, endpoint, items)
            }
        }
    }
}

/// Rewrites a delivery stream spec as written before [`DeliveryDestination`] existed (an S3
/// `destination` object and an optional `http` endpoint beside it, whose presence made the
/// S3 destination a backup) into today's shape, in place. A spec already in today's shape is
/// left as it is. The old shape is fixed: a new destination never needs a case here.
pub(crate) fn upgrade_legacy_spec(spec: &mut serde_json::Value) {
    let Some(obj) = spec.as_object_mut() else {
        return;
    };
    let legacy = obj
        .get("destination")
        .and_then(|d| d.as_object())
        .is_some_and(|d| d.contains_key("bucket_arn"));
    let http = obj.remove("http").filter(|h| !h.is_null());
    if !legacy {
        return;
    }
    let Some(s3) = obj.remove("destination") else {
        return;
    };
    let destination = match http {
        Some(endpoint) => serde_json::json!({
            "HttpEndpoint": { "endpoint": endpoint, "backup": s3 }
        }),
        None => serde_json::json!({ "ExtendedS3": s3 }),
    };
    obj.insert("destination".into(), destination);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `catalog.json` written by the code before this enum (two streams: an extended S3
    /// one with processing and conversion, an HTTP endpoint one with its backup).
    const BEFORE: &str = include_str!("testdata/catalog-before-destination-enum.json");

    #[test]
    fn a_catalog_written_before_the_enum_reads_and_round_trips() {
        let specs: Vec<DeliveryStreamSpec> = serde_json::from_str(BEFORE).expect("old catalog");
        assert_eq!(specs.len(), 2);
        let DeliveryDestination::ExtendedS3(s3) = &specs[0].destination else {
            panic!("plain: {:?}", specs[0].destination);
        };
        assert_eq!(s3.bucket_arn, "arn:aws:s3:::archive");
        assert_eq!(s3.file_extension.as_deref(), Some(".json.gz"));
        assert!(specs[0].conversion.is_some() && specs[0].processing.is_some());
        let DeliveryDestination::HttpEndpoint { endpoint, backup } = &specs[1].destination else {
            panic!("web: {:?}", specs[1].destination);
        };
        assert_eq!(endpoint.url, "https://collector.example.com/in");
        assert!(endpoint.backup_all && endpoint.gzip);
        assert_eq!(endpoint.buffering.interval_s, 10);
        assert_eq!(backup.bucket_arn, "arn:aws:s3:::archive");
        assert_eq!(specs[1].buffering(), endpoint.buffering);
        // Written again in today's shape, it reads back the same.
        let again = serde_json::to_string(&specs).expect("write");
        assert!(again.contains("\"ExtendedS3\"") && again.contains("\"HttpEndpoint\""));
        assert!(!again.contains("\"http\""));
        let back: Vec<DeliveryStreamSpec> = serde_json::from_str(&again).expect("new catalog");
        assert_eq!(back, specs);
    }

    /// `implicit.json` keeps the same specs inside its entries: an old one opens too.
    #[test]
    fn an_implicit_catalog_written_before_the_enum_reads() {
        let old: Vec<serde_json::Value> = serde_json::from_str(BEFORE).expect("fixture");
        let entry = serde_json::json!([{
            "key": "rule-0-firehose",
            "root": "/data/archive",
            "buffer_bytes": 1024,
            "buffer_interval_ms": 1000,
            "spec": old[0],
        }]);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("implicit.json"), entry.to_string()).expect("write");
        let stored =
            crate::implicit::load(&weir_support::docstore::FolderDocStore::new(dir.path()))
                .expect("old implicit catalog");
        assert_eq!(stored.len(), 1);
        assert!(matches!(
            &stored[0].spec.destination,
            DeliveryDestination::ExtendedS3(d) if d.bucket_arn == "arn:aws:s3:::archive"
        ));
    }

    #[test]
    fn a_catalog_that_is_neither_shape_is_refused() {
        let bad = BEFORE.replace("\"bucket_arn\"", "\"bucket\"");
        assert!(serde_json::from_str::<Vec<DeliveryStreamSpec>>(&bad).is_err());
    }
}
