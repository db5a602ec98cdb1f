//! The HTTP endpoint destination (`HttpEndpointDestinationConfiguration`): each delivery is
//! one Firehose request to the endpoint (`http.rs` sends it, retried for its
//! `RetryOptions`); records it could not take for good become `http-endpoint-failed` error
//! records in the S3 backup, which also gets every record when `S3BackupMode` is AllData.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_support::now_ms;

use crate::batch::{self, Failure, Item, Output};
use crate::catalog::Inner;
use crate::egress::Egress;
use crate::error::{FirehoseError, Result};
use crate::http::HttpEndpoint;
use crate::model::{Buffering, DeliveryStreamSpec};

/// An HTTP endpoint: where records go and how; its S3 backup is beside it in the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpDestination {
    pub url: String,
    pub name: Option<String>,
    pub access_key: Option<String>,
    /// `RequestConfiguration.ContentEncoding` GZIP.
    pub gzip: bool,
    pub common_attributes: BTreeMap<String, String>,
    /// `RetryOptions.DurationInSeconds` (0..=7200, default 300).
    pub retry_s: u32,
    /// The endpoint's own `BufferingHints` (1..=64 MiB, 0..=900 s; default 5 MiB, 60 s).
    pub buffering: Buffering,
    /// `S3BackupMode` AllData (else FailedDataOnly).
    pub backup_all: bool,
}

impl HttpDestination {
    /// Firehose's limits on the endpoint, and whether this host may send to it: the caller
    /// learns now, and delivery checks every connection again.
    pub(crate) fn validate(&self, egress: &Egress) -> Result<()> {
        self.endpoint()
            .validate()
            .map_err(FirehoseError::InvalidArgument)?;
        egress.check_url(&self.url).map_err(|why| {
            FirehoseError::InvalidArgument(format!(
                "HttpEndpoint Url {}: this Weir host does not send to it: {why}.",
                self.url
            ))
        })
    }

    /// Records go to the endpoint as they are: no dynamic partitioning and no format
    /// conversion (AWS offers neither for HTTP endpoints); a transformation may run.
    pub(crate) fn check_stages(&self, spec: &DeliveryStreamSpec) -> Result<()> {
        if spec.partitioning.is_some() || spec.conversion.is_some() {
            return Err(FirehoseError::InvalidArgument(
                "An HTTP endpoint destination has no dynamic partitioning or format conversion."
                    .into(),
            ));
        }
        Ok(())
    }

    /// The settings the sender needs.
    fn endpoint(&self) -> HttpEndpoint {
        HttpEndpoint {
            url: self.url.clone(),
            name: self.name.clone(),
            access_key: self.access_key.clone(),
            gzip: self.gzip,
            common_attributes: self.common_attributes.clone(),
            retry_duration_s: self.retry_s,
        }
    }
}

/// One delivery: a request with every record, and with AllData also an object of them in
/// the backup.
pub(super) fn prepare(
    h: &HttpDestination,
    spec: &DeliveryStreamSpec,
    items: Vec<Item>,
) -> Result<Vec<Output>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut outputs = Vec::new();
    if h.backup_all {
        outputs.push(batch::data_object(spec, items.clone(), &[])?);
    }
    outputs.push(Output::Request { items });
    Ok(outputs)
}

/// Sends one request with the endpoint's retries; records it could not deliver come back as
/// error objects for the backup bucket.
pub(super) fn send(
    inner: &Inner,
    spec: &DeliveryStreamSpec,
    h: &HttpDestination,
    items: &[Item],
) -> Result<Vec<Output>> {
    let sender = inner.http_sender()?;
    let endpoint = h.endpoint();
    let datas: Vec<&[u8]> = items.iter().map(|i| i.data.as_slice()).collect();
    let arn = inner.arn(&spec.name);
    let Err(e) = inner.runtime.block_on(sender.send(&endpoint, &arn, &datas)) else {
        return Ok(Vec::new());
    };
    tracing::warn!(stream = %spec.name, url = %h.url, error = %e, "HTTP endpoint delivery failed for good; records go to the backup bucket");
    let (code, message) = (e.last.error_code(), e.last.to_string());
    let end = now_ms();
    let failures = items
        .iter()
        .map(|it| {
            Failure::new(
                "http-endpoint-failed",
                e.attempts,
                it.arrival_ms,
                &it.data,
                (code, &message),
                end,
            )
            .with("EndpointUrl", json!(h.url))
        })
        .collect();
    batch::error_objects(spec, failures)
}
