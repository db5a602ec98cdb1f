//! A transformer written against the raw bindings (not the SDK) so it can break the contract.
//! Config `mode`:
//! - unset: one output count fewer than it was given records;
//! - `huge`: 100,000 records for the first input;
//! - `miscount`: counts that add up to one more record than it returns;
//! - `not-utf8`: a partition key that is not UTF-8.
//!
//! Otherwise every record comes back unchanged.

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "weir:plugin/transformer@0.1.1",
    });
}

use bindings::exports::weir::plugin::transform_batch::Guest;
use bindings::weir::plugin::config;
use bindings::weir::plugin::types::{PackedBatch, TransformOutput};

struct Malformed;

impl Guest for Malformed {
    fn transform(batch: PackedBatch) -> TransformOutput {
        let mode = config::get("mode").unwrap_or_default();
        let records = batch.arrival_timestamps_ms.len();
        let mut counts = vec![1u32; records];
        let mut out = batch;
        match mode.as_str() {
            "huge" if records > 0 => {
                // The first record's metadata, without payload or attributes, 100,000 times.
                let fields = &out.lengths[..weir_abi::FIELDS_PER_RECORD];
                let payload = fields[0] as usize;
                let text: usize = fields[1..5].iter().map(|&l| l as usize).sum();
                let meta = out.data[payload..payload + text].to_vec();
                let mut lengths = fields.to_vec();
                lengths[0] = 0;
                lengths[5] = 0;
                let n = 100_000;
                out = PackedBatch {
                    data: meta.repeat(n),
                    lengths: lengths.repeat(n),
                    attribute_lengths: Vec::new(),
                    arrival_timestamps_ms: vec![out.arrival_timestamps_ms[0]; n],
                };
                counts = vec![0; records];
                counts[0] = n as u32;
            }
            "miscount" if records > 0 => counts[0] += 1,
            "not-utf8" if records > 0 => {
                let payload = out.lengths[0] as usize;
                if out.lengths[1] > 0 {
                    out.data[payload] = 0xff;
                }
            }
            "" => {
                counts.pop();
            }
            _ => {}
        }
        TransformOutput {
            records: out,
            counts,
            failures: Vec::new(),
        }
    }
}

bindings::export!(Malformed with_types_in bindings);
