//! `lambda`: the function a record's rendered `function_arn` names (its function name, as
//! Firehose's transformation maps a Lambda ARN) is an emitter plugin, called with the rule's
//! output as its event; the host performs its outbox requests, as for a `plugin` action. The
//! plugin is looked up when records are delivered, so a rule may name a function loaded
//! later; a name that is no loaded emitter fails its records to the error action, as AWS
//! does for a missing function.

use std::sync::Arc;

use weir_plugins::{PluginKind, Record};

use super::super::resources::Resources;
use super::super::sinks::{EmitterSink, Outcome, Sink};
use super::super::work::Meta;

pub(crate) struct LambdaSink {
    resources: Arc<Resources>,
}

impl LambdaSink {
    pub(crate) fn new(resources: Arc<Resources>) -> Self {
        LambdaSink { resources }
    }

    /// The emitter for a function ARN, or why there is none.
    fn emitter(&self, arn: &str) -> Result<EmitterSink, String> {
        let name = weir_config::lambda_function_name(arn)
            .ok_or_else(|| format!("{arn:?} is not a Lambda function ARN or name"))?;
        let slot =
            self.resources.registry.get(name).ok_or_else(|| {
                format!("Function not found: {arn} (no plugin {name:?} is loaded)")
            })?;
        let kind = slot.current().kind();
        if kind != PluginKind::Emitter {
            return Err(format!(
                "Function {arn}: plugin {name:?} is a {}, not an emitter",
                kind.as_str()
            ));
        }
        Ok(EmitterSink::new(slot, self.resources.clone()))
    }
}

impl Sink for LambdaSink {
    /// Consecutive records for the same function go to it in one call.
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(records.len());
        let mut start = 0;
        while start < records.len() {
            let arn = &meta[start].key;
            let end = start + meta[start..].iter().take_while(|m| m.key == *arn).count();
            match self.emitter(arn) {
                Ok(mut sink) => out.extend(sink.deliver(&records[start..end], &meta[start..end])),
                Err(reason) => out.extend((start..end).map(|_| Outcome::Fail(reason.clone()))),
            }
            start = end;
        }
        out
    }

    /// AWS's `failedResource` is the resource the failed call used: this record's rendered
    /// target.
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(meta.key.to_string())
    }
}
