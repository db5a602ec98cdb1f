//! CPU time per thread (this process) and of mosquitto, from /proc: what was busy.

use super::*;

pub(super) const CLK_TCK: f64 = 100.0;

pub(super) fn stat_ticks(stat: &str) -> Option<u64> {
    // Fields after the parenthesised command name: state is the first; utime and stime are
    // the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Thread id -> (name, CPU ticks).
pub(super) fn thread_ticks() -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let p = entry.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let Some(ticks) = std::fs::read_to_string(p.join("stat"))
            .ok()
            .and_then(|s| stat_ticks(&s))
        else {
            continue;
        };
        out.insert(
            entry.file_name().to_string_lossy().into_owned(),
            (name.trim().to_owned(), ticks),
        );
    }
    out
}

pub(super) fn process_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Busy CPU ticks of the whole machine (all cores), from /proc/stat.
pub(super) fn system_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    Some(
        f.iter()
            .take(8)
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, v)| v)
            .sum(),
    )
}

/// CPU of the machine, of this process and of the given processes, at one moment: the
/// difference tells how much *other* work (another build on a shared machine) ran meanwhile.
pub(super) struct CpuSnap {
    pub(super) at: Instant,
    pub(super) system: u64,
    pub(super) ours: u64,
}

impl CpuSnap {
    pub(super) fn take(pids: &[u32]) -> CpuSnap {
        let ours = std::iter::once(std::process::id())
            .chain(pids.iter().copied())
            .filter_map(process_ticks)
            .sum();
        CpuSnap {
            at: Instant::now(),
            system: system_busy_ticks().unwrap_or(0),
            ours,
        }
    }

    /// CPU used by everything else since `self`, in % of one core.
    pub(super) fn foreign_pct(&self, pids: &[u32]) -> f64 {
        let now = CpuSnap::take(pids);
        let other = now
            .system
            .saturating_sub(self.system)
            .saturating_sub(now.ours.saturating_sub(self.ours));
        other as f64 / CLK_TCK / self.at.elapsed().as_secs_f64().max(1e-9) * 100.0
    }
}

/// Busy threads between two snapshots, grouped by name: (name, threads, % of one core).
pub(super) fn busy_threads(
    before: &BTreeMap<String, (String, u64)>,
    after: &BTreeMap<String, (String, u64)>,
    wall: Duration,
) -> Vec<(String, usize, f64)> {
    let mut groups: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for (tid, (name, t1)) in after {
        let t0 = before.get(tid).map_or(0, |(_, t)| *t);
        let g = groups.entry(name.clone()).or_default();
        g.0 += 1;
        g.1 += t1.saturating_sub(t0);
    }
    let secs = wall.as_secs_f64().max(1e-9);
    let mut out: Vec<(String, usize, f64)> = groups
        .into_iter()
        .map(|(name, (n, ticks))| (name, n, ticks as f64 / CLK_TCK / secs * 100.0))
        .filter(|(_, _, pct)| *pct >= 1.0)
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// The bench's own threads in this process, which are not Weir's: the main thread, the load
/// generator's runtime and the shard readers.
pub(super) fn is_bench_thread(name: &str) -> bool {
    name == "e2e_load" || name.starts_with("loadgen") || name.starts_with("bench-shard")
}

/// `ticks` of CPU time per message of `delivered`, in microseconds.
pub(super) fn per_message_us(ticks: u64, delivered: u64) -> Option<f64> {
    (delivered > 0).then(|| ticks as f64 / CLK_TCK * 1e6 / delivered as f64)
}
