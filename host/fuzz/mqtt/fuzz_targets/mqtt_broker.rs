//! Fuzzes rumqttd's router through its listeners: an embedded broker with hold-the-ack mode on
//! (as Weir's ingress runs it) receives up to four v4 or v5 sessions over loopback TCP, built
//! from the input by `harness::Broker::run` (every packet type, v5 properties, multi-byte and
//! `$` topics, wildcards in odd places, odd client ids, raw frames); then an honest client must
//! still get its CONNACK and the PUBACK of a QoS 1 publish. A panic on any broker thread aborts
//! (libFuzzer's panic hook), so a dead router or connection task is a crash too.
//!
//! Run in `host/fuzz/mqtt`: `RUSTC_BOOTSTRAP=1 cargo fuzz run mqtt_broker ../corpus/mqtt_broker`
//! (see ARCHITECTURE.md); `cargo test -p weir-host --test mqtt_fuzz` replays the corpus on stable.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static BROKER: OnceLock<harness::Broker> = OnceLock::new();
    BROKER.get_or_init(harness::Broker::start).run(data);
});
