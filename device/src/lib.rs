//! `weir-device`: the device side of Weir's speeding-car scenario, and Weir's traffic tool.
//!
//! The binary is a thin CLI over these modules, so each piece can be tested without a Pi,
//! a broker, or a terminal:
//! - [`payload`]: a CSV row to the seed device's JSON message.
//! - [`csv_source`]: reads the CSV with line-numbered errors for bad rows.
//! - [`button`]: the button/LED state machine (debounce, hold-to-repeat, LED until PUBACK),
//!   behind a trait so it runs on a simulated pin and clock.
//! - [`gpio`]: the Raspberry Pi pins (rppal) behind that trait.
//! - [`connection`]: one MQTT connection (rumqttc) with TLS, reconnects and ack counting.
//! - [`replay`]: publish a sequence of messages at a rate and wait for every PUBACK.
//! - [`template`]: Kinesis-Data-Generator-style message templates, seeded.
//! - [`load`]: many connections at a target rate with latency percentiles.
//! - [`summary`]: the end-of-run figures.

pub mod button;
pub mod connection;
pub mod csv_source;
pub mod gpio;
pub mod load;
pub mod payload;
pub mod replay;
pub mod summary;
pub mod template;
