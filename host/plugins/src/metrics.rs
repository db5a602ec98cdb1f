//! Per plugin version counters: calls, records in and out, record errors, faults by kind, and
//! time spent in the guest. Lock-free to update (atomics); read by the metrics endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::FaultKind;

const FAULT_KINDS: [FaultKind; 6] = FaultKind::ALL;

/// Counters of one plugin version.
#[derive(Debug, Default)]
pub struct PluginCounters {
    calls: AtomicU64,
    records_in: AtomicU64,
    records_out: AtomicU64,
    record_errors: AtomicU64,
    faults: [AtomicU64; 6],
    guest_nanos: AtomicU64,
}

impl PluginCounters {
    pub(crate) fn call(
        &self,
        records_in: usize,
        records_out: usize,
        errors: usize,
        took: Duration,
    ) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.records_in
            .fetch_add(records_in as u64, Ordering::Relaxed);
        self.records_out
            .fetch_add(records_out as u64, Ordering::Relaxed);
        self.record_errors
            .fetch_add(errors as u64, Ordering::Relaxed);
        self.add_time(took);
    }

    pub(crate) fn fault(&self, kind: FaultKind, records_in: usize, took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.records_in
            .fetch_add(records_in as u64, Ordering::Relaxed);
        if let Some(i) = FAULT_KINDS.iter().position(|k| *k == kind) {
            self.faults[i].fetch_add(1, Ordering::Relaxed);
        }
        self.add_time(took);
    }

    fn add_time(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.guest_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            records_in: self.records_in.load(Ordering::Relaxed),
            records_out: self.records_out.load(Ordering::Relaxed),
            record_errors: self.record_errors.load(Ordering::Relaxed),
            faults: FAULT_KINDS
                .iter()
                .zip(&self.faults)
                .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
                .collect(),
            time_in_guest: Duration::from_nanos(self.guest_nanos.load(Ordering::Relaxed)),
        }
    }
}

/// Counter values at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// Batch calls, successful or not.
    pub calls: u64,
    /// Records passed in.
    pub records_in: u64,
    /// Records kept (filter), produced (transformer) or delivered (emitter).
    pub records_out: u64,
    /// Records the plugin reported as failed.
    pub record_errors: u64,
    /// Faults by kind (each failed a whole batch).
    pub faults: Vec<(FaultKind, u64)>,
    /// Wall time spent inside calls.
    pub time_in_guest: Duration,
}

impl CounterSnapshot {
    /// Faults of one kind.
    pub fn faults_of(&self, kind: FaultKind) -> u64 {
        self.faults
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// All faults.
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().map(|(_, n)| n).sum()
    }
}
