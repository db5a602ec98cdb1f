//! PutRecord and PutRecordBatch: the records' data within the model's limits, then the
//! service's buffer.

use weir_firehose::{Firehose, RecordPutOutcome};
use weir_firehose_model::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};

use super::{stream_name, structure};
use crate::error::{ApiError, ErrorKind};
use crate::request::Req;
use crate::value::{blob, failed_entry, map, s, Val};

/// A record's `Data` (base64 in JSON, bytes in CBOR), at most 1,000 KiB.
fn record_data(req: &mut Req<'_>, v: &Val, at: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let data = match v.get("Data") {
        None | Some(Val::Null) => {
            req.violation(None, &format!("{at}.data"), "Member must not be null");
            return Ok(None);
        }
        Some(d) => blob(d)?,
    };
    if data.len() > MAX_RECORD_BYTES {
        req.violation(
            Some(&format!(
                "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
                data.len(),
                data.len()
            )),
            &format!("{at}.data"),
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        );
    }
    Ok(Some(data))
}

pub(super) fn put_record(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let data = match req.raw("Record") {
        None => {
            req.violation(None, "record", "Member must not be null");
            None
        }
        Some(v) => {
            structure(v, "Record")?;
            record_data(req, v, "record")?
        }
    };
    req.finish()?;
    let records = vec![data.unwrap_or_default()];
    let (outcomes, encrypted) = fh.put(name.unwrap_or_default(), &records)?;
    match outcomes.into_iter().next() {
        Some(RecordPutOutcome::Ok { record_id }) => Ok(map(vec![
            ("RecordId", s(record_id)),
            ("Encrypted", Val::Bool(encrypted)),
        ])),
        Some(RecordPutOutcome::Failed { message }) => {
            Err(ApiError::new(ErrorKind::ServiceUnavailable, message))
        }
        None => Err(ApiError::new(ErrorKind::ServiceUnavailable, "no outcome")),
    }
}

pub(super) fn put_record_batch(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let items = match req.raw("Records") {
        None => {
            req.violation(None, "records", "Member must not be null");
            &[][..]
        }
        Some(Val::Arr(a)) => a.as_slice(),
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'Records')",
                other.kind()
            )))
        }
    };
    if req.raw("Records").is_some() && items.is_empty() {
        req.violation(
            Some("[]"),
            "records",
            "Member must have length greater than or equal to 1",
        );
    }
    if items.len() > MAX_BATCH_RECORDS {
        req.violation(
            Some("[...]"),
            "records",
            &format!("Member must have length less than or equal to {MAX_BATCH_RECORDS}"),
        );
        return Err(req
            .finish()
            .err()
            .unwrap_or_else(|| ApiError::invalid("too many records")));
    }
    let mut records = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        structure(v, "Records")?;
        if let Some(d) = record_data(req, v, &format!("records.{}.member", i + 1))? {
            records.push(d);
        }
    }
    req.finish()?;
    let total: usize = records.iter().map(Vec::len).sum();
    if total > MAX_BATCH_BYTES {
        return Err(ApiError::invalid(format!(
            "Records size exceeds 4 MB limit: the {} records hold {total} bytes.",
            records.len()
        )));
    }
    let (outcomes, encrypted) = fh.put(name.unwrap_or_default(), &records)?;
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, RecordPutOutcome::Failed { .. }))
        .count();
    let responses = outcomes
        .into_iter()
        .map(|o| match o {
            RecordPutOutcome::Ok { record_id } => map(vec![("RecordId", s(record_id))]),
            RecordPutOutcome::Failed { message } => {
                failed_entry("ServiceUnavailableException", message)
            }
        })
        .collect();
    Ok(map(vec![
        ("FailedPutCount", Val::Int(failed as i128)),
        ("Encrypted", Val::Bool(encrypted)),
        ("RequestResponses", Val::Arr(responses)),
    ]))
}
