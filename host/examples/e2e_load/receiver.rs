//! Counting deliveries (MQTT subscriber or stream subscription), the same way for both.

use super::*;

/// Live progress, shared by the receivers and the drain wait.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) count: AtomicU64,
    pub(super) stop: AtomicBool,
}

/// What one receiver (an MQTT subscriber or a shard subscription) saw.
pub(super) struct Receiver {
    pub(super) progress: Arc<Progress>,
    pub(super) count: u64,
    /// Records without a readable send time (left out of the latency figures).
    pub(super) untimed: u64,
    pub(super) first_sent_us: u64,
    pub(super) last_seen_us: u64,
    /// Send-to-receive latencies, microseconds.
    pub(super) latencies: Vec<u64>,
    /// Per 100 ms of send time: records and their largest latency, to tell one stall from a
    /// steady queue.
    pub(super) windows: BTreeMap<u64, (u64, u64)>,
}

impl Receiver {
    pub(super) fn new(progress: Arc<Progress>) -> Self {
        Receiver {
            progress,
            count: 0,
            untimed: 0,
            first_sent_us: u64::MAX,
            last_seen_us: 0,
            latencies: Vec::with_capacity(1 << 20),
            windows: BTreeMap::new(),
        }
    }

    pub(super) fn record(&mut self, payload: &[u8], now: u64) {
        match send_time_us(payload) {
            Some(sent) => {
                self.first_sent_us = self.first_sent_us.min(sent);
                let lat = now.saturating_sub(sent).max(1);
                self.latencies.push(lat);
                let w = self.windows.entry(sent / 100_000).or_default();
                w.0 += 1;
                w.1 = w.1.max(lat);
            }
            None => self.untimed += 1,
        }
        self.count += 1;
        self.last_seen_us = now;
        self.progress.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn merge(&mut self, other: Receiver) {
        self.count += other.count;
        self.untimed += other.untimed;
        self.first_sent_us = self.first_sent_us.min(other.first_sent_us);
        self.last_seen_us = self.last_seen_us.max(other.last_seen_us);
        self.latencies.extend(other.latencies);
        for (k, (n, max)) in other.windows {
            let w = self.windows.entry(k).or_default();
            w.0 += n;
            w.1 = w.1.max(max);
        }
    }

    /// Exact percentiles (nearest rank), in the generator's `Percentiles` shape.
    pub(super) fn percentiles(&mut self) -> Option<Percentiles> {
        let v = &mut self.latencies;
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Percentiles {
            count: v.len() as u64,
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: v[v.len() - 1],
        })
    }

    /// Records slower than `limit_us`, and the 100-ms send windows with the largest latency
    /// as (seconds after the first send, records in the window, max latency in ms).
    pub(super) fn slow(&self, limit_us: u64) -> (u64, Vec<(f64, u64, f64)>) {
        let over = self.latencies.iter().filter(|l| **l > limit_us).count() as u64;
        let first = self.windows.keys().next().copied().unwrap_or(0);
        let mut w: Vec<(f64, u64, f64)> = self
            .windows
            .iter()
            .filter(|(_, (_, max))| *max > limit_us)
            .map(|(k, (n, max))| ((k - first) as f64 / 10.0, *n, *max as f64 / 1000.0))
            .collect();
        w.sort_by(|a, b| b.2.total_cmp(&a.2));
        w.truncate(5);
        (over, w)
    }

    /// Delivered records per second, from the first send to the last delivery.
    pub(super) fn rate(&self) -> (f64, f64) {
        if self.count == 0 || self.first_sent_us == u64::MAX {
            return (0.0, 0.0);
        }
        let window = self.last_seen_us.saturating_sub(self.first_sent_us) as f64 / 1e6;
        if window > 0.0 {
            (self.count as f64 / window, window)
        } else {
            (0.0, 0.0)
        }
    }
}

/// Waits until `target` records arrived, or nothing arrived for [`IDLE_LIMIT`]. True when the
/// target was reached.
pub(super) async fn wait_drain(progress: &Progress, target: u64) -> bool {
    let start = Instant::now();
    let mut last = progress.count.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    loop {
        let n = progress.count.load(Ordering::Relaxed);
        if n >= target {
            // A moment more, so duplicates (if any) are seen and reported.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return true;
        }
        if n != last {
            last = n;
            last_change = Instant::now();
        } else if last_change.elapsed() > IDLE_LIMIT || start.elapsed() > DRAIN_LIMIT {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
