//! Fuzzes rumqttd's MQTT packet decoding: v4 and v5 `Protocol::read_mut` over arbitrary bytes,
//! frame after frame with a 64 KiB limit as the broker's network loop reads them, every packet
//! type; each decoded packet must encode and decode to itself.
//!
//! Run in `host/fuzz/mqtt`: `RUSTC_BOOTSTRAP=1 cargo fuzz run mqtt_decode ../corpus/mqtt_decode`
//! (see ARCHITECTURE.md); `cargo test -p weir-host --test mqtt_fuzz` replays the corpus on stable.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::decode(data);
});
