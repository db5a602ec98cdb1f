//! A transformer written against the raw bindings (not the SDK) so it can break the contract:
//! by default it returns one result fewer than it was given; with config `mode=huge` it
//! returns 100,000 records for the first input.

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "weir:plugin/transformer@0.1.0",
    });
}

use bindings::exports::weir::plugin::transform_stage::Guest;
use bindings::weir::plugin::config;
use bindings::weir::plugin::types::{Record, TransformResult};

struct Malformed;

impl Guest for Malformed {
    fn transform(batch: Vec<Record>) -> Vec<TransformResult> {
        let huge = config::get("mode").as_deref() == Some("huge");
        let mut out: Vec<TransformResult> = Vec::new();
        for (i, r) in batch.into_iter().enumerate() {
            if huge && i == 0 {
                let tiny = Record {
                    payload: Vec::new(),
                    attributes: Vec::new(),
                    ..r
                };
                out.push(TransformResult::Records(vec![tiny; 100_000]));
            } else {
                out.push(TransformResult::Records(vec![r]));
            }
        }
        if !huge {
            out.pop();
        }
        out
    }
}

bindings::export!(Malformed with_types_in bindings);
