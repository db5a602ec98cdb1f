//! `http`: each record POSTed to its rendered URL with the action's headers (values rendered
//! against the incoming message when the request is sent). AWS's retry rules: 429 and 5xx
//! answers are tried again (three tries in all, by the pipeline), anything else (another
//! status, no connection, a timeout, an answer over 16 KiB) goes to the error action at once.
//! `confirmation_url` is not visited: the URL is the configuration's, so there is no topic
//! rule destination to confirm.

use std::sync::OnceLock;

use weir_aws_client::HttpActionClient;
use weir_config::HttpAction;
use weir_plugins::Record;
use weir_rules::Template;

use super::super::plan::TableLookup;
use super::super::sinks::{Outcome, Sink};
use super::super::work::Meta;
use super::{render, Lookup};

pub(crate) struct HttpSink {
    headers: Vec<(String, Template)>,
    lookup: Lookup,
    client: OnceLock<HttpActionClient>,
}

impl HttpSink {
    pub(crate) fn new(a: &HttpAction, lookup: Lookup) -> Self {
        HttpSink {
            headers: a.headers.clone(),
            lookup,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&HttpActionClient, String> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = HttpActionClient::new().map_err(|e| e.to_string())?;
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
}
