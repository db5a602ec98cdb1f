//! Fuzzes rumqttd's router through its listeners: an embedded broker with hold-the-ack mode on
//! (as Weir's ingress runs it) receives up to four v4 or v5 sessions over loopback TCP, built
//! from the input by `harness::sessions` (every packet type, v5 properties, multi-byte and `$`
//! topics, wildcards in odd places, odd client ids, raw frames); then an honest client must
//! still get its CONNACK and the PUBACK of a QoS 1 publish. A panic on any broker thread aborts
//! (libFuzzer's panic hook), so a dead router or connection task is a crash too.
//!
//! One broker serves the whole run, so a crash may need what earlier inputs left in it
//! (persistent sessions, retained messages): on a panic the last 256 inputs are written, in
//! order, to `$MQTT_FUZZ_HISTORY` (default `mqtt_broker_history/`), and
//! `WEIR_MQTT_FUZZ_CORPUS=that/folder cargo test -p weir-host --test mqtt_fuzz
//! mqtt_broker_corpus_replay` replays them through one broker on stable.
//!
//! Run in `host/fuzz/mqtt`: `RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . --sanitizer none
//! mqtt_broker ../corpus/mqtt_broker` (see ARCHITECTURE.md).
#![no_main]

#[path = "../harness.rs"]
mod harness;

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;

static HISTORY: Mutex<VecDeque<Vec<u8>>> = Mutex::new(VecDeque::new());

/// Writes the recent inputs before libFuzzer's hook aborts.
fn keep_history_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(history) = HISTORY.try_lock() {
            let dir =
                std::env::var("MQTT_FUZZ_HISTORY").unwrap_or_else(|_| "mqtt_broker_history".into());
            let _ = std::fs::remove_dir_all(&dir);
            if std::fs::create_dir_all(&dir).is_ok() {
                for (i, input) in history.iter().enumerate() {
                    let _ = std::fs::write(format!("{dir}/{i:03}"), input);
                }
                eprintln!("the last {} inputs, in order: {dir}/", history.len());
            }
        }
        previous(info)
    }));
}

fuzz_target!(|data: &[u8]| {
    static BROKER: OnceLock<harness::Broker> = OnceLock::new();
    let broker = BROKER.get_or_init(|| {
        keep_history_on_panic();
        harness::Broker::start()
    });
    if let Ok(mut history) = HISTORY.lock() {
        if history.len() == 256 {
            history.pop_front();
        }
        history.push_back(data.to_vec());
    }
    broker.run(data);
});
