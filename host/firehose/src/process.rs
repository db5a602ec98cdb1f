//! Data transformation: Firehose hands buffered records to a function (a Lambda on AWS, a
//! transformer plugin in Weir) and gets one result per record back: `Ok` with new data,
//! `Dropped`, or `ProcessingFailed`. This crate only knows the contract; which function a
//! `LambdaArn` names and how it runs is the host's business (weir-firehose never links
//! wasmtime), so the host passes a [`Processor`] in [`crate::FirehoseConfig`].

use std::fmt;
use std::sync::Arc;

/// One record handed to the function.
#[derive(Debug, Clone, Copy)]
pub struct ProcessIn<'a> {
    /// Unique within the invocation; the result for it carries the same id.
    pub record_id: &'a str,
    pub data: &'a [u8],
    pub arrival_ms: i64,
}

/// The function's verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Deliver this data in place of the record's.
    Ok(Vec<u8>),
    /// Deliberately not delivered; not an error.
    Dropped,
    /// Goes to the error output (`processing-failed`) with this reason.
    Failed(String),
}

/// Why a whole invocation failed (Firehose retries it, then fails every record in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct InvokeError {
    /// Firehose's error code for the records' error output, e.g. `Lambda.FunctionError`.
    pub code: String,
    pub message: String,
}

/// Runs transformation functions.
pub trait Processor: Send + Sync {
    /// Runs `function` (the name in the processor's `LambdaArn`) over `records`; one result
    /// per record, in order.
    fn process(
        &self,
        function: &str,
        records: &[ProcessIn<'_>],
    ) -> Result<Vec<Processed>, InvokeError>;

    /// Whether `function` exists now, so CreateDeliveryStream can refuse a name that
    /// matches nothing (AWS checks the ARN only; a typo there surfaces at delivery).
    fn knows(&self, _function: &str) -> bool {
        true
    }
}

/// The processor a host gave the service, if any.
#[derive(Clone, Default)]
pub struct ProcessorSlot(pub Option<Arc<dyn Processor>>);

impl fmt::Debug for ProcessorSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProcessorSlot(Some)"
        } else {
            "ProcessorSlot(None)"
        })
    }
}
