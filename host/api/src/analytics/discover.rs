//! DiscoverInputSchema: sample records read from a Weir stream at the starting position,
//! given to the engine's schema discovery (`weir_analytics::discover`).

use std::time::{Duration, Instant};

use serde::Deserialize;
use weir_streams::StartPosition;

use super::invalid;
use super::shapes::StartingPosition;
use crate::error::{ApiError, ErrorKind};
use crate::request::parse_arn;
use crate::value::{map, s, Val};
use crate::ApiState;

/// Records sampled, across the stream's shards.
const SAMPLE: usize = 100;
/// How long NOW waits for records to arrive.
const NOW_WAIT: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Discover {
    #[serde(rename = "ResourceARN", default)]
    resource_arn: Option<String>,
    #[serde(default)]
    input_starting_position_configuration: Option<StartingPosition>,
    #[serde(rename = "S3Configuration", default)]
    s3: Option<serde_json::Value>,
    #[serde(default)]
    input_processing_configuration: Option<serde_json::Value>,
}

/// Up to [`SAMPLE`] records of `stream` from `start`, shard by shard.
fn sample(state: &ApiState, stream: &str, start: &StartPosition) -> Result<Vec<Vec<u8>>, ApiError> {
    let info = state.streams.describe_stream(stream)?;
    let mut out = Vec::new();
    for shard in &info.shards {
        let mut it = state
            .streams
            .get_shard_iterator(stream, &shard.shard_id, start)?;
        while out.len() < SAMPLE {
            let page = state.streams.get_records(&it, SAMPLE - out.len())?;
            let n = page.records.len();
            out.extend(page.records.into_iter().map(|r| r.data));
            match page.next_iterator {
                Some(next) if n > 0 => it = next,
                _ => break,
            }
        }
    }
    Ok(out)
}

pub(super) fn discover(state: &ApiState, d: Discover) -> Result<Val, ApiError> {
    if d.s3.is_some() {
        return Err(invalid(
            "S3Configuration: discovery reads a Weir stream here (ResourceARN with InputStartingPositionConfiguration).",
        ));
    }
    if d.input_processing_configuration.is_some() {
        return Err(invalid(
            "InputProcessingConfiguration: discovery does not run a preprocessing plugin; discover the schema of the processed records.",
        ));
    }
    let arn = d.resource_arn.ok_or_else(|| {
        invalid(
            "ResourceARN (a Kinesis stream) and InputStartingPositionConfiguration are required.",
        )
    })?;
    let stream = parse_arn(&arn).ok_or_else(|| {
        invalid(format!(
            "ResourceARN {arn}: discovery reads a Kinesis stream (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)."
        ))
    })?;
    if state.streams.describe_stream(stream).is_err() {
        return Err(invalid(format!(
            "ResourceARN {arn}: stream {stream} does not exist."
        )));
    }
    let position = d
        .input_starting_position_configuration
        .and_then(|p| p.input_starting_position);
    let samples = match position.as_deref() {
        Some("TRIM_HORIZON") | Some("LAST_STOPPED_POINT") => {
            sample(state, stream, &StartPosition::TrimHorizon)?
        }
        // NOW: what arrives from now, for a moment.
        _ => {
            let from = StartPosition::AtTimestamp(weir_support::now_ms());
            let deadline = Instant::now() + NOW_WAIT;
            loop {
                let got = sample(state, stream, &from)?;
                if !got.is_empty() || Instant::now() >= deadline {
                    break got;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let raw: Vec<Val> = samples
        .iter()
        .map(|r| s(String::from_utf8_lossy(r).into_owned()))
        .collect();
    let found = weir_analytics::discover::discover_records(&samples)
        .map_err(|e| ApiError::new(ErrorKind::UnableToDetectSchema, e.to_string()))?;
    let parsed: Vec<Val> = found
        .parsed_input_records
        .into_iter()
        .map(|row| {
            Val::Arr(
                row.into_iter()
                    .map(|f| f.map(s).unwrap_or(Val::Null))
                    .collect(),
            )
        })
        .collect();
    Ok(map(vec![
        ("InputSchema", super::described(&found.input_schema)),
        ("ParsedInputRecords", Val::Arr(parsed)),
        ("ProcessedInputRecords", Val::Arr(raw.clone())),
        ("RawInputRecords", Val::Arr(raw)),
    ]))
}
