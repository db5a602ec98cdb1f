//! What one delivery of buffered records becomes: the records pass the transformation
//! function, are grouped by their partition keys, converted to Parquet or compressed, and
//! turned into objects (or an HTTP request); records that fail a step become error records
//! under the error prefix, typed as Firehose types them (`processing-failed`,
//! `partitioning-failed`, `format-conversion-failed`, `http-endpoint-failed`).
//!
//! Preparing is done once per batch and the results are kept until stored, so a retried
//! store never runs the transformation twice.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Datelike, Timelike, Utc};
use object_store::PutPayload;
use serde_json::json;
use weir_streams::RecordOut;
use weir_support::now_ms;

use crate::catalog::Inner;
use crate::error::{FirehoseError, Result};
use crate::implicit::{FolderTarget, ProcessingFailure};
use crate::model::{DeliveryStreamSpec, Processing};
use crate::partition::Partitioner;
use crate::process::{InvokeError, ProcessIn, Processed};
use crate::store::Stores;
use weir_firehose_model::lambda_function_name;

/// Where a delivery stream's objects go and when a delivery is due: its bucket and hints by
/// its spec, or an implicit stream's folder and exact hints (`implicit.rs`).
pub(crate) struct Place<'a> {
    inner: &'a Inner,
    spec: &'a DeliveryStreamSpec,
    folder: Option<&'a FolderTarget>,
}

impl<'a> Place<'a> {
    pub(crate) fn new(
        inner: &'a Inner,
        spec: &'a DeliveryStreamSpec,
        folder: Option<&'a FolderTarget>,
    ) -> Self {
        Place {
            inner,
            spec,
            folder,
        }
    }

    /// The service.
    pub(crate) fn inner(&self) -> &'a Inner {
        self.inner
    }

    /// The settings the delivery is made by.
    pub(crate) fn spec(&self) -> &'a DeliveryStreamSpec {
        self.spec
    }

    pub(crate) fn stores(&self) -> &'a Stores {
        match self.folder {
            Some(f) => &f.stores,
            None => &self.inner.stores,
        }
    }

    pub(crate) fn bucket(&self) -> Result<&'a str> {
        match self.folder {
            Some(f) => Ok(&f.bucket),
            None => self.spec.destination.s3().bucket(),
        }
    }

    /// The most data one object holds (`SizeInMBs`).
    pub(crate) fn object_bytes(&self) -> usize {
        match self.folder {
            Some(f) => f.buffer_bytes,
            None => self.spec.destination.s3().buffering.size_bytes(),
        }
    }

    /// A delivery is due at this many buffered bytes or at this age (ms) of its oldest
    /// record: the HTTP endpoint's hints when the stream has one.
    pub(crate) fn hints(&self) -> (usize, i64) {
        match self.folder {
            Some(f) => (f.buffer_bytes, f.interval_ms),
            None => {
                let b = self.spec.buffering();
                (b.size_bytes(), i64::from(b.interval_s) * 1000)
            }
        }
    }

    /// Stores one object, durably.
    pub(crate) fn put(&self, key: &str, body: PutPayload) -> Result<()> {
        let bucket = self.bucket()?;
        self.inner
            .runtime
            .block_on(self.stores().put(bucket, key, body))
    }
}

/// Pause between attempts of a failed transformation invocation.
const INVOKE_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The most data and records handed to the function per invocation (Firehose's processor
/// buffer default is 1 MB; a record is at most 1,000 KiB, so one always fits).
const INVOKE_MAX_BYTES: usize = 1024 * 1024;
const INVOKE_MAX_RECORDS: usize = 10_000;

/// One record on its way: its current data and when it first arrived.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub data: Vec<u8>,
    pub arrival_ms: i64,
}

/// A prepared unit of delivery.
#[derive(Debug)]
pub(crate) enum Output {
    /// An object for the destination bucket. `records` are the records a data object
    /// holds, which go to the error output if it cannot be stored within the retry
    /// duration; `None` for an error object (which is retried until it is stored).
    Object {
        key: String,
        body: PutPayload,
        records: Option<Vec<Item>>,
    },
    /// Records for the destination itself (an HTTP endpoint's request), sent by
    /// `DeliveryDestination::send`; what fails for good comes back as error objects.
    Request { items: Vec<Item> },
}

/// An error record, written as one JSON line.
pub(crate) struct Failure {
    pub(crate) kind: &'static str,
    pub(crate) line: serde_json::Value,
    pub(crate) arrival_ms: i64,
}

impl Failure {
    /// Firehose's error line for one record, with the fields every error output type has
    /// (in Firehose's order); `with` adds a type's own fields after them.
    pub(crate) fn new(
        kind: &'static str,
        attempts: u32,
        arrival_ms: i64,
        data: &[u8],
        (code, message): (&str, &str),
        end_ms: i64,
    ) -> Failure {
        Failure {
            kind,
            line: json!({
                "attemptsMade": attempts,
                "arrivalTimestamp": arrival_ms,
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": end_ms,
                "rawData": b64(data),
            }),
            arrival_ms,
        }
    }

    pub(crate) fn with(mut self, field: &str, value: serde_json::Value) -> Failure {
        if let Some(line) = self.line.as_object_mut() {
            line.insert(field.to_owned(), value);
        }
        self
    }
}

pub(crate) fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Prepares `records` for delivery to `place`, by its spec.
pub(crate) fn prepare(place: &Place<'_>, records: &[RecordOut]) -> Result<Vec<Output>> {
    let (inner, spec) = (place.inner, place.spec);
    let mut failures = Vec::new();
    let items = match &spec.processing {
        Some(p) => transform(inner, p, records, &mut failures),
        None => records
            .iter()
            .map(|r| Item {
                data: r.data.clone(),
                arrival_ms: r.arrival_ms,
            })
            .collect(),
    };
    let mut outputs = spec.destination.prepare(place, items, &mut failures)?;
    outputs.extend(error_objects(spec, failures)?);
    Ok(outputs)
}

pub(crate) fn oldest(arrivals: impl Iterator<Item = i64>) -> i64 {
    arrivals.min().unwrap_or_else(now_ms)
}

/// `items` cut, in order, into runs of at most `limit` bytes of data (a run holds at least
/// one item, so a record larger than the limit still makes its own object).
pub(crate) fn by_size(items: &[Item], limit: usize) -> Vec<&[Item]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, it) in items.iter().enumerate() {
        if i > start && bytes + it.data.len() > limit {
            runs.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += it.data.len();
    }
    if start < items.len() {
        runs.push(&items[start..]);
    }
    runs
}

/// A data object whose key cannot be written: its records go to the error output as
/// `partitioning-failed`, with the reason, instead of blocking the delivery.
pub(crate) fn unwritable(key: &str, why: &str, items: &[Item], failures: &mut Vec<Failure>) {
    tracing::warn!(
        key,
        reason = why,
        records = items.len(),
        "an object key cannot be written; its records go to the error output"
    );
    let end = now_ms();
    let message = format!("the object key {key:?} cannot be written: {why}");
    for it in items {
        failures.push(Failure::new(
            "partitioning-failed",
            1,
            it.arrival_ms,
            &it.data,
            ("DynamicPartitioning.InvalidObjectKey", &message),
            end,
        ));
    }
}

/// The records of a data object that could not be stored within the retry duration, as
/// `s3-failed` error objects (Weir's error output type for this: AWS drops such data after
/// its 24-hour S3 retry instead).
pub(crate) fn store_failed(
    spec: &DeliveryStreamSpec,
    key: Option<&str>,
    items: &[Item],
    attempts: u32,
    message: &str,
) -> Result<Vec<Output>> {
    let end = now_ms();
    let message = match key {
        Some(key) => format!("storing {key:?} kept failing past the retry duration: {message}"),
        None => format!("delivery kept failing past the retry duration: {message}"),
    };
    let failures = items
        .iter()
        .map(|it| {
            Failure::new(
                "s3-failed",
                attempts,
                it.arrival_ms,
                &it.data,
                ("S3.DeliveryFailed", &message),
                end,
            )
        })
        .collect();
    error_objects(spec, failures)
}

/// A record that failed before it reached the buffer (an implicit stream's action stage), as
/// a `processing-failed` error object of its own.
pub(crate) fn processing_failed(
    spec: &DeliveryStreamSpec,
    f: &ProcessingFailure<'_>,
) -> Result<Vec<Output>> {
    let failure = Failure::new(
        "processing-failed",
        f.attempts,
        f.arrival_ms,
        f.data,
        (f.code, f.message),
        now_ms(),
    );
    error_objects(spec, vec![failure])
}

pub(crate) fn data_object(
    spec: &DeliveryStreamSpec,
    items: Vec<Item>,
    keys: &[(String, String)],
) -> Result<Output> {
    let compression = spec.destination.s3().compression;
    let key = object_key(
        spec,
        oldest(items.iter().map(|i| i.arrival_ms)),
        KeyKind::Data(keys),
        compression.extension(),
    )?;
    let file = key.rsplit('/').next().unwrap_or(&key);
    let entry = file.strip_suffix(compression.extension()).unwrap_or(file);
    let body =
        crate::encode::object_body(items.iter().map(|i| i.data.as_slice()), compression, entry)
            .map_err(|source| FirehoseError::Io {
                what: format!("cannot compress an object of {}", spec.name),
                source,
            })?;
    Ok(Output::Object {
        key,
        body: body.into(),
        records: Some(items),
    })
}

/// Error records grouped into one object per error type.
pub(crate) fn error_objects(
    spec: &DeliveryStreamSpec,
    failures: Vec<Failure>,
) -> Result<Vec<Output>> {
    let mut by_kind: BTreeMap<&'static str, Vec<Failure>> = BTreeMap::new();
    for f in failures {
        by_kind.entry(f.kind).or_default().push(f);
    }
    let mut out = Vec::new();
    for (kind, fs) in by_kind {
        let mut body = Vec::new();
        for f in &fs {
            body.extend_from_slice(f.line.to_string().as_bytes());
            body.push(b'\n');
        }
        let key = object_key(
            spec,
            oldest(fs.iter().map(|f| f.arrival_ms)),
            KeyKind::Error(kind),
            "",
        )?;
        out.push(Output::Object {
            key,
            body: body.into(),
            records: None,
        });
    }
    Ok(out)
}

/// Runs the transformation function over the records, retrying a failed invocation
/// `NumberOfRetries` times; returns what goes on (Ok results) and adds the failures.
fn transform(
    inner: &Inner,
    p: &Processing,
    records: &[RecordOut],
    failures: &mut Vec<Failure>,
) -> Vec<Item> {
    let mut items = Vec::new();
    for chunk in invocations(records) {
        items.extend(invoke(inner, p, chunk, failures));
    }
    items
}

/// Splits a delivery into invocations of at most [`INVOKE_MAX_BYTES`] (and
/// [`INVOKE_MAX_RECORDS`]), as Firehose buffers for its processor (1 MB by default), so a
/// 128 MiB delivery never lands in a plugin's memory in one call. A record is never split.
fn invocations(records: &[RecordOut]) -> Vec<&[RecordOut]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        let full = i - start >= INVOKE_MAX_RECORDS || bytes + r.data.len() > INVOKE_MAX_BYTES;
        if i > start && full {
            out.push(&records[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += r.data.len();
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

/// One invocation with its retries; returns what goes on and adds the failures.
fn invoke(
    inner: &Inner,
    p: &Processing,
    records: &[RecordOut],
    failures: &mut Vec<Failure>,
) -> Vec<Item> {
    let ins: Vec<ProcessIn<'_>> = records
        .iter()
        .map(|r| ProcessIn {
            record_id: &r.sequence_number,
            data: &r.data,
            arrival_ms: r.arrival_ms,
        })
        .collect();
    let function = lambda_function_name(&p.lambda_arn).unwrap_or_default();
    let (attempts, result) = invoke_with_retries(inner, p, function, &ins);
    let end = now_ms();
    let mut fail = |r: &RecordOut, code: &str, message: &str| {
        failures.push(
            Failure::new(
                "processing-failed",
                attempts,
                r.arrival_ms,
                &r.data,
                (code, message),
                end,
            )
            .with("lambdaArn", json!(p.lambda_arn)),
        )
    };
    match result {
        Err(e) => {
            for r in records {
                fail(r, &e.code, &e.message);
            }
            Vec::new()
        }
        Ok(out) => {
            let mut items = Vec::new();
            for (r, o) in records.iter().zip(out) {
                match o {
                    Processed::Ok(data) => items.push(Item {
                        data,
                        arrival_ms: r.arrival_ms,
                    }),
                    Processed::Dropped => {}
                    // AWS's code and message for a record its function marked
                    // ProcessingFailed; the plugin's own reason follows, since a plugin (unlike
                    // a Lambda result) can say why.
                    Processed::Failed(why) => fail(
                        r,
                        "Lambda.ProcessingFailedStatus",
                        &format!("ProcessingFailed status set for record: {why}"),
                    ),
                }
            }
            items
        }
    }
}

/// Calls `function` until it succeeds or has failed `NumberOfRetries` more times, pausing
/// between attempts; returns the attempts made, which the error records carry, and the last
/// outcome.
fn invoke_with_retries(
    inner: &Inner,
    p: &Processing,
    function: &str,
    ins: &[ProcessIn<'_>],
) -> (u32, std::result::Result<Vec<Processed>, InvokeError>) {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match invoke_once(inner, function, ins) {
            Ok(out) => return (attempts, Ok(out)),
            Err(e) if attempts > p.retries => return (attempts, Err(e)),
            Err(e) => {
                tracing::warn!(function, attempts, error = %e, "transformation failed; retrying");
                std::thread::sleep(INVOKE_RETRY_PAUSE);
            }
        }
    }
}

/// One call of the function; a result count that does not match the records is a failure
/// of the whole call (as a Lambda response missing a record id is), since results are
/// matched to records by position.
fn invoke_once(
    inner: &Inner,
    function: &str,
    ins: &[ProcessIn<'_>],
) -> std::result::Result<Vec<Processed>, InvokeError> {
    match &inner.config.processor.0 {
        None => Err(InvokeError {
            code: "Lambda.FunctionNotFound".into(),
            message: "this Weir host runs no transformation plugins".into(),
        }),
        Some(proc) => proc.process(function, ins).and_then(|out| {
            if out.len() == ins.len() {
                Ok(out)
            } else {
                Err(InvokeError {
                    code: "Lambda.MissingRecordId".into(),
                    message: format!("{} results came back for {} records", out.len(), ins.len()),
                })
            }
        }),
    }
}

/// Items grouped by their partition keys, as `(name, value)` pairs in key order.
type Groups = Vec<(Vec<(String, String)>, Vec<Item>)>;

/// Groups items by their partition keys (one group with no keys without partitioning).
pub(crate) fn partition(
    spec: &DeliveryStreamSpec,
    items: Vec<Item>,
    failures: &mut Vec<Failure>,
) -> Result<Groups> {
    let mut groups: BTreeMap<Vec<String>, Vec<Item>> = BTreeMap::new();
    let Some(p) = &spec.partitioning else {
        return Ok(if items.is_empty() {
            Vec::new()
        } else {
            vec![(Vec::new(), items)]
        });
    };
    let partitioner = Partitioner::new(&p.keys)?;
    for it in items {
        match partitioner.keys_of(&it.data) {
            Ok(keys) => groups.entry(keys).or_default().push(it),
            Err(why) => failures.push(Failure::new(
                "partitioning-failed",
                1,
                it.arrival_ms,
                &it.data,
                ("DynamicPartitioning.MetadataExtractionFailed", &why),
                now_ms(),
            )),
        }
    }
    // Key values in the same order as the names, for the prefix.
    let names = partitioner.names().to_vec();
    Ok(groups
        .into_iter()
        .map(|(values, g)| {
            let pairs: Vec<(String, String)> = names.iter().cloned().zip(values).collect();
            (pairs, g)
        })
        .collect())
}

/// Which prefix an object goes under.
pub(crate) enum KeyKind<'a> {
    /// The data prefix, with the group's partition keys.
    Data(&'a [(String, String)]),
    /// The error prefix with this error output type.
    Error(&'a str),
}

/// `PREFIX` + `NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID` + `extension`, the prefix evaluated at
/// the oldest record's arrival (UTC).
pub(crate) fn object_key(
    spec: &DeliveryStreamSpec,
    oldest_ms: i64,
    kind: KeyKind<'_>,
    extension: &str,
) -> Result<String> {
    let prefixes = spec.destination.s3().prefixes()?;
    let at = DateTime::<Utc>::from_timestamp_millis(oldest_ms).ok_or_else(|| {
        FirehoseError::InvalidArgument(format!("arrival time {oldest_ms} ms is out of range"))
    })?;
    let mut random = uuid::Uuid::new_v4().simple().to_string();
    random.truncate(11);
    let (prefix, extension) = match kind {
        KeyKind::Data(keys) => {
            let lookup = |name: &str| keys.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            let ext = spec
                .destination
                .s3()
                .file_extension
                .as_deref()
                .unwrap_or(extension);
            (prefixes.data.render_keys(&at, &random, "", &lookup), ext)
        }
        KeyKind::Error(t) => (prefixes.error.render(&at, &random, t), extension),
    };
    Ok(format!(
        "{prefix}{}{extension}",
        object_name(&spec.name, spec.version, &at)
    ))
}

/// Firehose's object name after the prefix: `NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID`, the time
/// being the oldest record's arrival (UTC).
fn object_name(stream: &str, version: u32, at: &DateTime<Utc>) -> String {
    format!(
        "{stream}-{version}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        uuid::Uuid::new_v4()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_cut_at_the_size_hint() {
        let items: Vec<Item> = [4, 4, 2, 7, 1, 1]
            .iter()
            .map(|n| Item {
                data: vec![b'x'; *n],
                arrival_ms: 0,
            })
            .collect();
        let sizes = |limit| -> Vec<Vec<usize>> {
            by_size(&items, limit)
                .iter()
                .map(|run| run.iter().map(|i| i.data.len()).collect())
                .collect()
        };
        assert_eq!(sizes(10), [vec![4, 4, 2], vec![7, 1, 1]]);
        assert_eq!(sizes(8), [vec![4, 4], vec![2], vec![7, 1], vec![1]]);
        // A record over the limit is an object of its own.
        assert_eq!(sizes(5), [vec![4], vec![4], vec![2], vec![7], vec![1, 1]]);
        assert_eq!(sizes(100), [vec![4, 4, 2, 7, 1, 1]]);
        assert!(by_size(&[], 10).is_empty());
    }

    fn rec(len: usize) -> RecordOut {
        RecordOut {
            sequence_number: String::new(),
            arrival_ms: 0,
            partition_key: String::new(),
            data: vec![b'x'; len],
        }
    }

    #[test]
    fn invocations_stay_under_a_mebibyte_and_keep_every_record() {
        let records: Vec<RecordOut> = [600_000, 600_000, 1_024_000, 10, 10, 500_000]
            .into_iter()
            .map(rec)
            .collect();
        let chunks = invocations(&records);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![1, 1, 3, 1]);
        assert!(invocations(&[]).is_empty());
        let many: Vec<RecordOut> = (0..INVOKE_MAX_RECORDS + 1).map(|_| rec(1)).collect();
        assert_eq!(invocations(&many).len(), 2);
    }
}
