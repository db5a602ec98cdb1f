//! An embedded rumqttd on loopback for trying weir-device by hand, without installing a broker:
//! `cargo run --example broker` prints the URLs, then serves until Ctrl-C.
//! Ports are picked free each run (the same setup the tests use).

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let broker = common::start_broker();
    println!("MQTT 3.1.1: {}", broker.url());
    println!("MQTT 5:     {}", broker.v5_url());
    println!("Ctrl-C to stop");
    // The broker runs on its own threads; park this one until the process is interrupted.
    loop {
        std::thread::park();
    }
}
