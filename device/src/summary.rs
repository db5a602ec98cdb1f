//! End-of-run figures, for people (one aligned block) and for scripts (`--summary-json`).
//!
//! The JSON keys are a contract with scripts and the runtime's benchmark: add keys, never
//! rename them.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What a replay or template run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Messages handed to the MQTT client.
    pub sent: u64,
    /// QoS 1 messages the broker acknowledged (PUBACK). For QoS 0 equal to `sent`.
    pub acknowledged: u64,
    /// Messages that were sent but not acknowledged in time, or could not be sent.
    pub failed: u64,
    /// Input rows skipped as bad (`--on-bad-row skip`).
    pub skipped_rows: u64,
    /// Reconnections to the broker during the run.
    pub reconnects: u64,
    pub elapsed_secs: f64,
    /// Acknowledged messages per second over the whole run.
    pub rate_msgs_per_sec: f64,
}

impl Summary {
    /// Non-zero exit is expected when anything failed or was skipped with `stop`.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed_secs = elapsed.as_secs_f64();
        self.rate_msgs_per_sec = rate(self.acknowledged, elapsed);
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {}, acknowledged {}, failed {}, skipped rows {}, reconnects {}, {:.2} s, {:.1} msg/s",
            self.sent,
            self.acknowledged,
            self.failed,
            self.skipped_rows,
            self.reconnects,
            self.elapsed_secs,
            self.rate_msgs_per_sec
        )
    }
}

pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        Some(Self {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        })
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {} p90 {} p99 {} max {} (n={})",
            us(self.p50_us),
            us(self.p90_us),
            us(self.p99_us),
            us(self.max_us),
            self.count
        )
    }
}

fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1}ms", v as f64 / 1000.0)
    } else {
        format!("{v}us")
    }
}

/// A histogram of microseconds, 1 µs to 1 h at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram documents as valid (low >= 1, high >= 2 * low, sigfig <= 5).
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_json_keys_are_stable() {
        let mut s = Summary {
            sent: 10,
            acknowledged: 9,
            failed: 1,
            ..Summary::default()
        };
        s.finish(Duration::from_secs(2));
        let v = serde_json::to_value(&s).expect("serialises");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "sent",
                "acknowledged",
                "failed",
                "skipped_rows",
                "reconnects",
                "elapsed_secs",
                "rate_msgs_per_sec"
            ]
        );
        assert_eq!(v["rate_msgs_per_sec"], 4.5);
        assert!(!s.ok());
    }

    #[test]
    fn percentiles_from_histogram() {
        let mut h = latency_histogram();
        for v in 1..=100u64 {
            h.record(v * 10).expect("in range");
        }
        let p = Percentiles::from_histogram(&h).expect("non-empty");
        assert_eq!((p.count, p.p50_us, p.max_us), (100, 500, 1000));
        assert!(Percentiles::from_histogram(&latency_histogram()).is_none());
    }
}
