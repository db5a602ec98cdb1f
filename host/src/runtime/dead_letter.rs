//! Where a failure goes when its rule has no error action: a durable dead-letter store, so a
//! failure is never silently an acknowledgement.
//!
//! Each failed message becomes one JSON line, AWS's error-action payload (rule, topic, client
//! id, the original payload in base64, the failed action, its resource and the reason), in
//! `STORAGE/dead-letters/YYYY-MM-DD.jsonl` (UTC day of the failure).
//!
//! On a cluster (`[cluster]`) the lines go to a log shared by every host instead
//! ([`SharedLog`]: the cluster's `DEAD_LETTERS` stream, `runtime/cluster.rs`), one entry per
//! line, so a host that dies takes no dead letter with it; the budget then counts the whole
//! log's bytes, as the folder's are counted here.
//!
//! The disk work is done by one writer thread, never by the caller: the dispatcher (a rule
//! that fails to evaluate, a key template that fails to render) only queues the line with a
//! share of its message's [`AckToken`], so a slow or stuck disk cannot stall every rule. The
//! writer takes whatever is queued, appends it in one write per day file and syncs once (group
//! commit); only then does it let go of the lines' shares, so the message is acknowledged
//! after the sync that covers its line. A line that cannot be written or synced fails its
//! message instead, so the broker (or the publisher) sends it again. A new day file, and a
//! folder created for it, is synced into its folder before the first line counts as stored.
//!
//! The store has a size budget (`[storage] dead_letter_max_bytes`): a failure that would take
//! the files past it is refused, as is one that finds the writer's queue full. A refused
//! failure is not acknowledged either. Counted in `/metrics` as `weir_dead_letters_total`,
//! `weir_dead_letter_write_errors_total` and `weir_dead_letters_refused_total{reason}`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ack::AckToken;
use super::metrics::Metrics;

/// Lines queued for the writer at most; past it a failure is refused rather than waited for.
const QUEUE: usize = 8192;
/// Most lines one group commit takes.
const GROUP: usize = 4096;
/// How often, at most, the writer measures the folder again after a refusal (files an
/// operator removed give their room back).
const RESCAN: Duration = Duration::from_secs(1);

/// Why a failure was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// Storing it would take the files past `[storage] dead_letter_max_bytes`.
    #[error("the dead-letter store is full ({used} of {max} bytes)")]
    Budget { used: u64, max: u64 },
    /// The writer's queue is full: the disk is slower than the failures.
    #[error("the dead-letter writer is behind ({QUEUE} lines queued)")]
    Busy,
    /// The writer thread is gone.
    #[error("the dead-letter writer is gone")]
    Gone,
    /// The line could not be written or synced.
    #[error("writing the dead-letter file")]
    Io(#[source] std::io::Error),
}

/// A log the hosts of a cluster share, where dead letters go instead of the folder.
pub trait SharedLog: Send + Sync {
    /// Appends `lines` (of UTC day `day`, `YYYY-MM-DD`) and returns once all are durable; on
    /// an error some may be stored (their messages are failed and come again: at least
    /// once).
    fn append(&self, day: &str, lines: &[&[u8]]) -> std::io::Result<()>;
    /// The bytes the log holds, every host's lines included.
    fn bytes(&self) -> std::io::Result<u64>;
    /// Where it is, for log lines.
    fn describe(&self) -> String;
}

/// Where the writer puts lines.
enum Sink {
    /// `DIR/YYYY-MM-DD.jsonl`, with the day's file kept open.
    Folder {
        dir: PathBuf,
        open: Option<(String, File)>,
    },
    Shared(Arc<dyn SharedLog>),
}

impl Sink {
    /// The bytes stored (0 for a folder that cannot be read; the last known figure for a
    /// log that cannot be asked).
    fn measure(&self, known: u64) -> u64 {
        match self {
            Sink::Folder { dir, .. } => folder_bytes(dir),
            Sink::Shared(log) => log.bytes().unwrap_or(known),
        }
    }
}

/// Who hears that a line is durable, or not.
enum Done {
    /// A share of the message's acknowledgement: let go once synced, failed otherwise.
    Ack(AckToken),
    /// A caller waiting for the answer (a pipeline with a record only Weir holds).
    Reply(SyncSender<Result<(), String>>),
}

/// What the writer is handed.
enum Item {
    Line(Job),
    /// Answered once every line queued before it is settled ([`DeadLetters::flush`]).
    Barrier(SyncSender<()>),
}

struct Job {
    day: String,
    line: Vec<u8>,
    /// The bytes reserved in the budget for it.
    bytes: u64,
    done: Done,
}

/// Bytes the files may hold and hold now (as known: what is on disk plus what is queued).
#[derive(Debug)]
struct Budget {
    max: AtomicU64,
    used: AtomicU64,
    /// A failure was refused since the folder was last measured.
    refused: AtomicBool,
}

impl Budget {
    /// Takes `n` bytes if they fit.
    fn reserve(&self, n: u64) -> Result<(), DeadLetterError> {
        let max = self.max.load(Ordering::Relaxed);
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used.saturating_add(n) > max {
                self.refused.store(true, Ordering::Relaxed);
                return Err(DeadLetterError::Budget { used, max });
            }
            match self.used.compare_exchange_weak(
                used,
                used + n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

/// Called by the writer before each group commit with its line count (tests stall or count).
type Hook = Box<dyn Fn(usize) + Send>;

/// The dead-letter files of one host (or its share of a cluster's log).
pub struct DeadLetters {
    /// Where the lines go, for log lines: the folder or the shared log.
    place: String,
    metrics: Arc<Metrics>,
    budget: Arc<Budget>,
    tx: Option<SyncSender<Item>>,
    writer: Option<JoinHandle<()>>,
}

impl DeadLetters {
    /// A store under `dir` (created on the first failure), with the default budget until
    /// [`DeadLetters::set_budget`], and its writer thread.
    pub fn new(dir: PathBuf, metrics: Arc<Metrics>) -> Self {
        Self::start(Sink::Folder { dir, open: None }, metrics, QUEUE, None)
    }

    /// A store whose lines go to `log`, shared with the other hosts of a cluster.
    pub fn shared(log: Arc<dyn SharedLog>, metrics: Arc<Metrics>) -> Self {
        Self::start(Sink::Shared(log), metrics, QUEUE, None)
    }

    fn start(sink: Sink, metrics: Arc<Metrics>, queue: usize, hook: Option<Hook>) -> Self {
        let on_disk = sink.measure(0);
        let place = match &sink {
            Sink::Folder { dir, .. } => dir.display().to_string(),
            Sink::Shared(log) => log.describe(),
        };
        let budget = Arc::new(Budget {
            max: AtomicU64::new(weir_config::DEFAULT_DEAD_LETTER_MAX_BYTES),
            used: AtomicU64::new(on_disk),
            refused: AtomicBool::new(false),
        });
        let (tx, rx) = sync_channel(queue);
        let writer = Writer {
            sink,
            place: place.clone(),
            metrics: metrics.clone(),
            budget: budget.clone(),
            on_disk,
            scanned: Instant::now(),
            hook,
        };
        let handle = std::thread::Builder::new()
            .name("weir-dead-letters".into())
            .spawn(move || writer.run(rx));
        let (tx, writer) = match handle {
            Ok(h) => (Some(tx), Some(h)),
            Err(e) => {
                // Every failure is then refused (not acknowledged): nothing is lost.
                tracing::error!(error = %e, "cannot start the dead-letter writer; failures of rules without an error action will not be acknowledged");
                (None, None)
            }
        };
        DeadLetters {
            place,
            metrics,
            budget,
            tx,
            writer,
        }
    }

    /// Where the lines go (the folder, or the cluster's log), for log lines.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Sets the budget (`[storage] dead_letter_max_bytes`; each plan applies its own).
    pub fn set_budget(&self, max_bytes: u64) {
        self.budget.max.store(max_bytes, Ordering::Relaxed);
    }

    /// Queues one failure line without waiting for the disk. `ack` (a share of the failed
    /// message's acknowledgement) is held until the line is synced, and failed if it cannot
    /// be. `Err` when the line is refused at once (budget spent, writer behind or gone): the
    /// caller fails the message.
    pub fn submit(
        &self,
        line: Vec<u8>,
        now_ms: i64,
        ack: &AckToken,
    ) -> Result<(), DeadLetterError> {
        self.enqueue(line, now_ms, Done::Ack(ack.clone()))
    }

    /// Stores one failure line and waits until it is synced (for a record only Weir holds,
    /// which is kept and tried again when this fails). Never waits for room in the queue.
    pub fn record(&self, line: Vec<u8>, now_ms: i64) -> Result<(), DeadLetterError> {
        let (tx, rx) = sync_channel(1);
        self.enqueue(line, now_ms, Done::Reply(tx))?;
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DeadLetterError::Io(std::io::Error::other(e))),
            Err(_) => Err(DeadLetterError::Gone),
        }
    }

    fn enqueue(&self, line: Vec<u8>, now_ms: i64, done: Done) -> Result<(), DeadLetterError> {
        let day = chrono::DateTime::from_timestamp_millis(now_ms)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string();
        let bytes = line.len() as u64 + 1;
        if let Err(e) = self.budget.reserve(bytes) {
            self.metrics
                .dead_letters_refused_budget
                .fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        let Some(tx) = &self.tx else {
            self.budget.release(bytes);
            self.metrics
                .dead_letter_write_errors
                .fetch_add(1, Ordering::Relaxed);
            return Err(DeadLetterError::Gone);
        };
        let job = Job {
            day,
            line,
            bytes,
            done,
        };
        match tx.try_send(Item::Line(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.budget.release(bytes);
                self.metrics
                    .dead_letters_refused_busy
                    .fetch_add(1, Ordering::Relaxed);
                Err(DeadLetterError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.budget.release(bytes);
                self.metrics
                    .dead_letter_write_errors
                    .fetch_add(1, Ordering::Relaxed);
                Err(DeadLetterError::Gone)
            }
        }
    }
}

impl DeadLetters {
    /// Waits until every line queued so far is written and its message settled: before a
    /// shutdown closes the ingress (so those acknowledgements still go out), or before a
    /// replay counts what was acknowledged.
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = sync_channel(1);
        if tx.send(Item::Barrier(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

impl Drop for DeadLetters {
    /// Lets the writer finish what is queued (their messages are then acknowledged).
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    sink: Sink,
    /// [`DeadLetters::place`].
    place: String,
    metrics: Arc<Metrics>,
    budget: Arc<Budget>,
    /// Bytes of the folder's files, as this writer knows them.
    on_disk: u64,
    /// When the folder was last measured.
    scanned: Instant,
    hook: Option<Hook>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Item>) {
        loop {
            let first = match rx.recv_timeout(RESCAN) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => {
                    self.rescan();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut jobs = Vec::new();
            let mut barriers = Vec::new();
            let mut next = Some(first);
            while let Some(item) = next.take() {
                match item {
                    Item::Line(job) => jobs.push(job),
                    Item::Barrier(b) => barriers.push(b),
                }
                if jobs.len() < GROUP {
                    next = rx.try_recv().ok();
                }
            }
            if let (Some(hook), false) = (&self.hook, jobs.is_empty()) {
                hook(jobs.len());
            }
            // One write and one sync per day file (almost always one).
            let mut by_day: BTreeMap<String, Vec<Job>> = BTreeMap::new();
            for job in jobs {
                by_day.entry(job.day.clone()).or_default().push(job);
            }
            for (day, jobs) in by_day {
                let result = self.append(&day, &jobs);
                let bytes: u64 = jobs.iter().map(|j| j.bytes).sum();
                match &result {
                    Ok(()) => {
                        self.on_disk += bytes;
                        self.metrics
                            .dead_letters
                            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.budget.release(bytes);
                        self.metrics
                            .dead_letter_write_errors
                            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                        tracing::error!(at = %self.place, lines = jobs.len(), error = %e, "cannot write dead letters: their messages are not acknowledged");
                    }
                }
                for job in jobs {
                    match job.done {
                        Done::Ack(ack) => {
                            if result.is_err() {
                                ack.fail();
                            }
                            // Dropped here: the last share acknowledges, after the sync.
                        }
                        Done::Reply(tx) => {
                            let _ = tx.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                        }
                    }
                }
            }
            for b in barriers {
                let _ = b.send(());
            }
            self.rescan();
        }
    }

    /// Measures the folder again after a refusal (at most every [`RESCAN`]), so that room an
    /// operator made by removing old files is seen. Only the writer writes the files, and it
    /// is between writes here, so the difference is exactly what others changed.
    fn rescan(&mut self) {
        if !self.budget.refused.load(Ordering::Relaxed) || self.scanned.elapsed() < RESCAN {
            return;
        }
        self.budget.refused.store(false, Ordering::Relaxed);
        self.scanned = Instant::now();
        let now = self.sink.measure(self.on_disk);
        if now > self.on_disk {
            self.budget
                .used
                .fetch_add(now - self.on_disk, Ordering::AcqRel);
        } else {
            self.budget.release(self.on_disk - now);
        }
        self.on_disk = now;
    }

    /// Appends the lines of one day and syncs them: one write, one sync (or one append to
    /// the shared log).
    fn append(&mut self, day: &str, jobs: &[Job]) -> std::io::Result<()> {
        let (dir, open) = match &mut self.sink {
            Sink::Folder { dir, open } => (dir, open),
            Sink::Shared(log) => {
                let lines: Vec<&[u8]> = jobs.iter().map(|j| j.line.as_slice()).collect();
                return log.append(day, &lines);
            }
        };
        if open.as_ref().is_none_or(|(d, _)| d != day) {
            *open = None;
            weir_support::create_dir_all_synced(dir)?;
            let path = dir.join(format!("{day}.jsonl"));
            let created = !path.exists();
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&path)?;
            if created {
                sync_dir(dir)?;
            }
            *open = Some((day.to_owned(), f));
        }
        let Some((_, f)) = open.as_mut() else {
            return Err(std::io::Error::other("the dead-letter file is not open"));
        };
        let before = f.metadata()?.len();
        let mut bytes =
            Vec::with_capacity(jobs.iter().map(|j| j.line.len() + 1).sum::<usize>() + 1);
        // A write that failed halfway and could not be cut off (below) left a partial line:
        // start on a line of our own, so this one is never glued to it.
        if before > 0 && !ends_with_newline(f, before) {
            bytes.push(b'\n');
        }
        for j in jobs {
            bytes.extend_from_slice(&j.line);
            bytes.push(b'\n');
        }
        let written = f.write_all(&bytes).and_then(|()| f.sync_data());
        if written.is_err() {
            // A full disk can take part of the lines: cut them off, so the next line starts
            // clean. Reopen next time: the handle may be in an unknown state.
            let _ = f.set_len(before);
            *open = None;
        }
        written
    }
}

/// Syncs a folder so a new day file keeps its name at a power cut. Tests see every call.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    tests::saw_dir_sync(dir);
    weir_support::sync_dir(dir)
}

/// Bytes of the `.jsonl` files in `dir` (0 when it cannot be read).
fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Whether the file's byte at `len - 1` is a newline.
fn ends_with_newline(f: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt as _;
    let mut last = [0u8];
    f.read_exact_at(&mut last, len - 1).is_ok() && last[0] == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};
    use weir_support::lock;

    /// Every folder sync of this process's dead-letter writers, with the `.jsonl` files in it
    /// at that moment.
    static DIR_SYNCS: Mutex<Vec<(PathBuf, Vec<String>)>> = Mutex::new(Vec::new());

    fn folder(dir: PathBuf) -> Sink {
        Sink::Folder { dir, open: None }
    }

    /// A shared log in memory: what a cluster's stream would hold, or failing.
    #[derive(Default)]
    struct MemLog {
        lines: Mutex<Vec<(String, Vec<u8>)>>,
        failing: AtomicBool,
    }

    impl SharedLog for MemLog {
        fn append(&self, day: &str, lines: &[&[u8]]) -> std::io::Result<()> {
            if self.failing.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("the cluster is gone"));
            }
            let mut held = lock(&self.lines);
            held.extend(lines.iter().map(|l| (day.to_owned(), l.to_vec())));
            Ok(())
        }
        fn bytes(&self) -> std::io::Result<u64> {
            Ok(lock(&self.lines)
                .iter()
                .map(|(_, l)| l.len() as u64 + 1)
                .sum())
        }
        fn describe(&self) -> String {
            "stream MEM_DEAD_LETTERS".into()
        }
    }

    #[test]
    fn on_a_shared_log_lines_are_acknowledged_after_the_append_and_count_against_the_budget() {
        let metrics = Arc::new(Metrics::default());
        let log = Arc::new(MemLog::default());
        // Another host's line is already there: it counts.
        log.append("2026-01-01", &[b"{\"other\":1}"]).expect("seed");
        let dl = DeadLetters::shared(log.clone(), metrics.clone());
        assert_eq!(dl.place(), "stream MEM_DEAD_LETTERS");
        let (ack, settled) = token();
        dl.submit(b"{\"n\":1}".to_vec(), 86_400_000, &ack)
            .expect("submit");
        drop(ack);
        assert_eq!(settled.recv_timeout(Duration::from_secs(5)), Ok(true));
        assert_eq!(
            lock(&log.lines).last().cloned(),
            Some(("1970-01-02".to_owned(), b"{\"n\":1}".to_vec()))
        );
        // The budget holds both hosts' lines: 12 + 8 bytes now.
        dl.set_budget(25);
        let (ack, _settled) = token();
        let e = dl
            .submit(b"{\"n\":22}".to_vec(), 0, &ack)
            .expect_err("past the budget");
        assert!(
            matches!(e, DeadLetterError::Budget { used: 20, max: 25 }),
            "{e}"
        );
        // A log that fails: the message is failed, never acknowledged.
        dl.set_budget(1 << 20);
        log.failing.store(true, Ordering::Relaxed);
        let (ack, settled) = token();
        dl.submit(b"{\"n\":3}".to_vec(), 0, &ack).expect("queued");
        drop(ack);
        assert_eq!(settled.recv_timeout(Duration::from_secs(5)), Ok(false));
        assert_eq!(metrics.dead_letter_write_errors.load(Ordering::Relaxed), 1);
        assert!(dl.record(b"{\"n\":4}".to_vec(), 0).is_err());
    }

    pub(super) fn saw_dir_sync(dir: &Path) {
        let present = std::fs::read_dir(dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        lock(&DIR_SYNCS).push((dir.to_path_buf(), present));
    }

    /// A token that reports its outcome on a channel.
    fn token() -> (AckToken, std::sync::mpsc::Receiver<bool>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = AckToken::settled_by(move |ok| {
            let _ = tx.send(ok);
        });
        (t, rx)
    }

    /// A disk that stalls until let go: the writer waits in its hook.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        cv: Condvar,
        /// Lines per group commit, as the writer took them.
        groups: Mutex<Vec<usize>>,
    }

    impl Gate {
        fn hook(self: &Arc<Self>) -> Hook {
            let g = self.clone();
            Box::new(move |n| {
                lock(&g.groups).push(n);
                let mut open = lock(&g.open);
                while !*open {
                    open = g.cv.wait(open).unwrap_or_else(|p| p.into_inner());
                }
            })
        }
        fn release(&self) {
            *lock(&self.open) = true;
            self.cv.notify_all();
        }
    }

    #[test]
    fn failures_are_appended_one_line_each_per_day_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(dir.path().join("dead-letters"), metrics.clone());
        // 2026-12-01T23:59:59Z, then the next day.
        dl.record(br#"{"ruleName":"r","n":1}"#.to_vec(), 1_796_169_599_000)
            .expect("first");
        dl.record(br#"{"ruleName":"r","n":2}"#.to_vec(), 1_796_169_599_500)
            .expect("second");
        dl.record(br#"{"ruleName":"r","n":3}"#.to_vec(), 1_796_169_600_000)
            .expect("next day");
        let day1 = std::fs::read_to_string(dir.path().join("dead-letters/2026-12-01.jsonl"))
            .expect("day 1");
        assert_eq!(
            day1,
            "{\"ruleName\":\"r\",\"n\":1}\n{\"ruleName\":\"r\",\"n\":2}\n"
        );
        let day2 = std::fs::read_to_string(dir.path().join("dead-letters/2026-12-02.jsonl"))
            .expect("day 2");
        assert_eq!(day2.lines().count(), 1);
        assert_eq!(metrics.dead_letters.load(Ordering::Relaxed), 3);
        // Each new day file was in its folder when the folder was synced.
        let syncs = lock(&DIR_SYNCS).clone();
        for day in ["2026-12-01.jsonl", "2026-12-02.jsonl"] {
            assert!(
                syncs
                    .iter()
                    .any(|(d, present)| d == &dir.path().join("dead-letters")
                        && present.iter().any(|p| p == day)),
                "{day} was created and its folder not synced: {syncs:?}"
            );
        }
    }

    #[test]
    fn a_line_never_joins_a_partial_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        // What a write cut short by a full disk leaves when it cannot be rolled back.
        std::fs::write(
            dir.path().join("2026-12-01.jsonl"),
            b"{\"ruleName\":\"r\",\"n\"",
        )
        .expect("torn");
        let dl = DeadLetters::new(dir.path().to_path_buf(), metrics);
        dl.record(br#"{"n":2}"#.to_vec(), 1_796_169_599_000)
            .expect("record");
        let text = std::fs::read_to_string(dir.path().join("2026-12-01.jsonl")).expect("read");
        assert_eq!(text.lines().last(), Some(r#"{"n":2}"#));
    }

    #[test]
    fn a_store_that_cannot_be_written_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("dead-letters");
        std::fs::write(&blocker, b"a file where the folder should be").expect("block");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(blocker, metrics.clone());
        assert!(dl.record(b"{}".to_vec(), 0).is_err());
        // Queued with a message's share: the message is failed, not acknowledged.
        let (ack, settled) = token();
        dl.submit(b"{}".to_vec(), 0, &ack).expect("queued");
        drop(ack);
        assert_eq!(settled.recv_timeout(Duration::from_secs(10)), Ok(false));
        assert_eq!(metrics.dead_letter_write_errors.load(Ordering::Relaxed), 2);
        assert_eq!(metrics.dead_letters.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn past_its_budget_a_failure_is_refused_counted_and_not_acknowledged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(dir.path().join("dl"), metrics.clone());
        // 3 lines of 9 bytes + newline fit in 30 bytes; the fourth does not.
        dl.set_budget(30);
        for _ in 0..3 {
            dl.record(b"{\"n\":123}".to_vec(), 0).expect("fits");
        }
        let (ack, settled) = token();
        let e = dl
            .submit(b"{\"n\":123}".to_vec(), 0, &ack)
            .expect_err("over budget");
        assert!(
            matches!(e, DeadLetterError::Budget { used: 30, max: 30 }),
            "{e}"
        );
        // The caller fails the message on a refusal (as `route_failure` does).
        ack.fail();
        drop(ack);
        assert_eq!(settled.recv_timeout(Duration::from_secs(10)), Ok(false));
        assert_eq!(metrics.dead_letters.load(Ordering::Relaxed), 3);
        let text = metrics.render(None);
        assert!(
            text.contains("weir_dead_letters_refused_total{reason=\"budget\"} 1"),
            "{text}"
        );
        // Files already there count: a store reopened over them is as full.
        drop(dl);
        let again = DeadLetters::new(dir.path().join("dl"), metrics.clone());
        again.set_budget(30);
        assert!(again.record(b"{}".to_vec(), 0).is_err());
        // Room made by removing the files is seen again (the writer measures the folder).
        std::fs::remove_file(dir.path().join("dl/1970-01-01.jsonl")).expect("remove");
        let deadline = Instant::now() + Duration::from_secs(20);
        while again.record(b"{}".to_vec(), 0).is_err() {
            assert!(Instant::now() < deadline, "the freed room was never seen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn route_failure_on_the_dispatcher_never_waits_for_the_disk() {
        use crate::runtime::pipeline::route_failure;
        use crate::runtime::work::Origin;
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let gate = Arc::new(Gate::default());
        let dl = DeadLetters::start(
            folder(dir.path().join("dl")),
            metrics,
            QUEUE,
            Some(gate.hook()),
        );
        let origin = Arc::new(Origin {
            rule: Arc::from("r"),
            topic: Arc::from("t"),
            payload: bytes::Bytes::from_static(b"not json"),
            client_id: None,
            arrival_ms: 0,
            received: Instant::now(),
        });
        // What `Plan::dispatch` does when a rule fails to evaluate, with the disk stalled.
        let (ack, settled) = token();
        let (tx, returned) = std::sync::mpsc::channel();
        let dispatcher = std::thread::spawn({
            let ack = ack.clone();
            move || {
                let taken = route_failure(
                    None,
                    &dl,
                    &origin,
                    &ack,
                    false,
                    "RuleEvaluation",
                    "r",
                    "bad",
                );
                let _ = tx.send(taken);
                drop(ack);
                dl
            }
        });
        drop(ack);
        assert_eq!(
            returned.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "the dispatcher waited for the disk"
        );
        assert!(settled.try_recv().is_err(), "acknowledged before the sync");
        gate.release();
        assert_eq!(settled.recv_timeout(Duration::from_secs(10)), Ok(true));
        drop(dispatcher.join().expect("dispatcher"));
    }

    #[test]
    fn the_disk_work_is_off_the_callers_thread_and_acks_follow_the_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let gate = Arc::new(Gate::default());
        let dl = DeadLetters::start(
            folder(dir.path().join("dl")),
            metrics.clone(),
            64,
            Some(gate.hook()),
        );
        // The disk stalls: submitting still returns at once, and nothing is acknowledged.
        let mut waiting = Vec::new();
        let started = Instant::now();
        for n in 0..50 {
            let (ack, settled) = token();
            dl.submit(format!("{{\"n\":{n}}}").into_bytes(), 0, &ack)
                .expect("queued");
            drop(ack);
            waiting.push(settled);
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        for s in &waiting {
            assert!(
                s.try_recv().is_err(),
                "acknowledged before its line was synced"
            );
        }
        // The queue holds 64 behind the stalled group: a failure finding it full is refused,
        // never waited for.
        let mut refused = 0;
        for _ in 0..100 {
            let (ack, _s) = token();
            if matches!(
                dl.submit(b"{}".to_vec(), 0, &ack),
                Err(DeadLetterError::Busy)
            ) {
                refused += 1;
            }
        }
        assert!(refused > 0, "a full queue made the caller wait");
        assert!(metrics.render(None).contains(&format!(
            "weir_dead_letters_refused_total{{reason=\"busy\"}} {refused}"
        )));
        gate.release();
        for s in &waiting {
            assert_eq!(s.recv_timeout(Duration::from_secs(10)), Ok(true));
        }
        // Many lines, few syncs: the lines that queued up while the disk stalled went in one
        // group.
        drop(dl);
        let groups = lock(&gate.groups).clone();
        assert!(groups.len() <= 3, "{groups:?}");
        assert!(groups.iter().any(|&n| n >= 49), "{groups:?}");
        let text = std::fs::read_to_string(dir.path().join("dl/1970-01-01.jsonl")).expect("read");
        assert_eq!(text.lines().count(), 50 + 100 - refused);
    }
}
