//! `http`: each record POSTed to its rendered URL with the action's headers (values rendered
//! against the incoming message when the request is sent). AWS's retry rules: 429 and 5xx
//! answers are tried again (three tries in all, by the pipeline), anything else (another
//! status, no connection, a timeout, an answer over 16 KiB) goes to the error action at once.
//! `confirmation_url` is not visited: the URL is the configuration's, so there is no topic
//! rule destination to confirm (and no request goes to it, so it needs no egress check).
//!
//! Every try connects only where the operator's egress policy allows (`Services::egress`,
//! the `[firehose]` keys Firehose's HTTP endpoints obey), checked on the address actually
//! connected to: an IP-literal host before the try, each resolved address of a name on each
//! new connection, so a name rebound to `169.254.169.254` or `127.0.0.1` after the rule was
//! created reaches nothing. A refused URL goes to the error action at once, its message
//! naming the URL, the refused address and the range that refused it.

use std::sync::OnceLock;

use weir_aws_client::{HttpActionClient, HttpActionError};
use weir_config::HttpAction;
use weir_plugins::Record;
use weir_rules::Template;
use weir_support::egress::EgressPolicy;

use super::super::plan::TableLookup;
use super::super::sinks::{Outcome, Sink};
use super::super::work::Meta;
use super::{render, Lookup, Services};

/// What to tell an operator whose `http` action was refused and who wants it to reach the
/// address anyway.
const HOW_TO_ALLOW: &str = "allow it in the config file with [firehose] allow_private_endpoints = true or an [firehose] allowed_endpoints entry (the policy Firehose's HTTP endpoints and http rule actions share)";

pub(crate) struct HttpSink {
    headers: Vec<(String, Template)>,
    lookup: Lookup,
    egress: EgressPolicy,
    client: OnceLock<HttpActionClient>,
}

impl HttpSink {
    pub(crate) fn new(a: &HttpAction, lookup: Lookup, services: &Services) -> Self {
        HttpSink {
            headers: a.headers.clone(),
            lookup,
            egress: services.egress.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&HttpActionClient, String> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = HttpActionClient::with_policy(self.egress.clone()).map_err(|e| e.to_string())?;
        Ok(self.client.get_or_init(|| c))
    }

    fn post(&self, r: &Record, m: &Meta) -> Outcome {
        let lookup = TableLookup(&self.lookup);
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            match render(value, &m.origin, &lookup) {
                Ok(v) => headers.push((name.clone(), v)),
                Err(reason) => return Outcome::Fail(format!("header {name}: {reason}")),
            }
        }
        let client = match self.client() {
            Ok(c) => c,
            Err(reason) => return Outcome::Retry(reason),
        };
        match client.post(&m.key, &headers, r.payload.clone()) {
            Ok(_) => Outcome::Ok,
            Err(e) if e.is_retryable() => Outcome::Retry(weir_support::error_chain(&e)),
            Err(e @ HttpActionError::Refused { .. }) => {
                Outcome::Fail(format!("{}; {HOW_TO_ALLOW}", weir_support::error_chain(&e)))
            }
            Err(e) => Outcome::Fail(weir_support::error_chain(&e)),
        }
    }
}

impl Sink for HttpSink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(|(r, m)| self.post(r, m))
            .collect()
    }

    /// AWS's `failedResource` is the resource the failed call used: this record's rendered
    /// target.
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(meta.key.to_string())
    }
}
