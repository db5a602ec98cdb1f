//! `s3`: PutObject of each record as the object at its rendered key, in the action's bucket,
//! at the `[s3]` endpoint (the one Firehose delivery streams write to; else
//! `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS's regional endpoint), path-style and
//! SigV4-signed by `weir_aws_client::put_object_with`, which sends the key byte for byte
//! (AWS writes keys such as `a//b` as they are) and the canned ACL as `x-amz-acl`.

use std::sync::{Arc, OnceLock};

use weir_aws_client::{ExactPut, ExactPutClient, ExactPutError, ServiceTarget};
use weir_config::{S3Action, S3Config};
use weir_plugins::Record;
use weir_rules::Template;

use super::super::plan::TableLookup;
use super::super::sinks::{Outcome, Sink};
use super::super::work::Meta;
use super::{render, Lookup};

/// S3's longest key, in UTF-8 bytes.
const MAX_KEY_BYTES: usize = 1024;

pub(crate) struct S3Sink {
    target: ServiceTarget,
    bucket: Template,
    acl: Option<String>,
    lookup: Lookup,
    /// Built on the first put (it loads the system's TLS roots).
    client: OnceLock<Arc<ExactPutClient>>,
}

impl S3Sink {
    pub(crate) fn new(a: &S3Action, s3: Option<&S3Config>, lookup: Lookup) -> Self {
        let mut target = ServiceTarget::resolve(
            "s3",
            s3.and_then(|s| s.endpoint_url.as_deref()),
            s3.and_then(|s| s.region.as_deref()),
        );
        if let Some((id, secret)) =
            s3.and_then(|s| s.access_key_id.clone().zip(s.secret_access_key.clone()))
        {
            target.credentials.access_key_id = id;
            target.credentials.secret_access_key = secret;
            target.credentials.session_token = None;
        }
        S3Sink {
            target,
            bucket: a.bucket.clone(),
            acl: a.canned_acl.clone(),
            lookup,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<Arc<ExactPutClient>, String> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let c = Arc::new(ExactPutClient::new().map_err(|e| e.to_string())?);
        Ok(self.client.get_or_init(|| c).clone())
    }

    fn put(&self, r: &Record, m: &Meta) -> Outcome {
        let bucket = match render(&self.bucket, &m.origin, &TableLookup(&self.lookup)) {
            Ok(b) => b,
            Err(reason) => return Outcome::Fail(reason),
        };
        let key: &str = &m.key;
        let failed = |reason: String| {
            format!(
                "Failed to put S3 object. The error received was {reason}. Message arrived on: {}, Action: s3, Bucket: {bucket}, Key: {key:?}",
                m.origin.topic
            )
        };
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Outcome::Fail(failed(format!(
                "the key is {} bytes; S3 keys are 1 to {MAX_KEY_BYTES} bytes",
                key.len()
            )));
        }
        let client = match self.client() {
            Ok(c) => c,
            Err(reason) => return Outcome::Retry(failed(reason)),
        };
        let c = &self.target.credentials;
        let put = ExactPut {
            endpoint: self.target.endpoint.clone(),
            region: self.target.region.clone(),
            bucket: bucket.clone(),
            key: key.to_owned(),
            key_id: c.access_key_id.clone(),
            secret: c.secret_access_key.clone(),
            token: c.session_token.clone(),
        };
        let extra: Vec<(&'static str, String)> =
            self.acl.iter().map(|a| ("x-amz-acl", a.clone())).collect();
        match client.put_blocking(&put, r.payload.clone(), &extra) {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                let transient = match &e {
                    ExactPutError::Connection(_) | ExactPutError::Timeout => true,
                    ExactPutError::Status { status, .. } => *status >= 500 || *status == 429,
                    ExactPutError::Tls(_) | ExactPutError::BadRequest { .. } => false,
                };
                let reason = failed(weir_support::error_chain(&e));
                if transient {
                    Outcome::Retry(reason)
                } else {
                    Outcome::Fail(reason)
                }
            }
        }
    }
}

impl Sink for S3Sink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(|(r, m)| self.put(r, m))
            .collect()
    }

    /// AWS's `failedResource` for `s3` is the bucket (its error handling page's example):
    /// this record's rendered bucket (the template's text when it does not render).
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(
            render(&self.bucket, &meta.origin, &TableLookup(&self.lookup))
                .unwrap_or_else(|_| self.bucket.source().to_owned()),
        )
    }
}
