//! The shared spool against an in-memory log with the cluster's contract: writers per path,
//! adoption of what a gone host or a stopped pipeline left, purges that spare later entries.

use std::collections::{BTreeMap, BTreeSet};

use super::super::tests::{entry, record};
use super::*;
use weir_plugins::Record;

/// A [`SpoolLog`] in memory: entries by path with sequences, and the set of gone hosts (a
/// gone host is claimed by the first host that asks, as the presence lease does).
#[derive(Debug, Default)]
struct MemLog {
    host: String,
    state: Arc<Mutex<MemState>>,
}

#[derive(Debug, Default)]
struct MemState {
    seq: u64,
    entries: BTreeMap<String, Vec<(u64, Vec<u8>)>>,
    gone: BTreeSet<String>,
    /// A gone host's claimer.
    claimed: BTreeMap<String, String>,
    fail_appends: bool,
    /// Reads of these paths fail.
    fail_reads: BTreeSet<String>,
}

impl MemLog {
    fn host(state: &Arc<Mutex<MemState>>, host: &str) -> Arc<MemLog> {
        Arc::new(MemLog {
            host: host.into(),
            state: state.clone(),
        })
    }
}

impl SpoolLog for MemLog {
    fn host(&self) -> &str {
        &self.host
    }
    fn append(&self, path: &[&str], entries: &[&[u8]]) -> std::io::Result<()> {
        let mut s = lock(&self.state);
        if s.fail_appends {
            return Err(std::io::Error::other("no quorum"));
        }
        for e in entries {
            s.seq += 1;
            let seq = s.seq;
            s.entries
                .entry(path.join("."))
                .or_default()
                .push((seq, e.to_vec()));
        }
        Ok(())
    }
    fn writers(&self, action: &[&str]) -> std::io::Result<Vec<String>> {
        let prefix = format!("{}.", action.join("."));
        Ok(lock(&self.state)
            .entries
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }
    fn read(&self, path: &[&str]) -> std::io::Result<(Vec<Vec<u8>>, Option<u64>)> {
        let s = lock(&self.state);
        if s.fail_reads.contains(&path.join(".")) {
            return Err(std::io::Error::other("leader lost"));
        }
        let v = s.entries.get(&path.join(".")).cloned().unwrap_or_default();
        let last = v.last().map(|(q, _)| *q);
        Ok((v.into_iter().map(|(_, b)| b).collect(), last))
    }
    fn purge(&self, path: &[&str], through: Option<u64>) -> std::io::Result<()> {
        let mut s = lock(&self.state);
        if let Some(v) = s.entries.get_mut(&path.join(".")) {
            v.retain(|(q, _)| through.is_some_and(|t| *q > t));
        }
        Ok(())
    }
    fn claim_gone(&self, host: &str) -> std::io::Result<bool> {
        let mut s = lock(&self.state);
        if !s.gone.contains(host) {
            return Ok(false);
        }
        let by = s
            .claimed
            .entry(host.to_owned())
            .or_insert_with(|| self.host.clone());
        Ok(*by == self.host)
    }
    fn describe(&self, path: &[&str]) -> String {
        format!("mem:{}", path.join("."))
    }
}

fn spec(log: Arc<MemLog>, rule: &str) -> SharedSpec {
    SharedSpec::new(log, rule, "kinesis_out-0123456789abcdef")
}

fn payloads(got: &[Spooled]) -> Vec<String> {
    got.iter()
        .map(|s| String::from_utf8_lossy(&s.record.payload).into_owned())
        .collect()
}

#[test]
fn a_gone_hosts_records_are_adopted_once_by_one_live_host() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let nowhere = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        MemLog::host(&state, "hosta"),
        MemLog::host(&state, "hostb"),
        MemLog::host(&state, "hostc"),
    );
    let (mut sa, got) = SharedSpool::open(&spec(a, "gone1"), nowhere.path(), true).expect("a");
    assert!(got.is_empty());
    let recs: Vec<Record> = (0..3).map(record).collect();
    sa.append(recs.iter().map(entry)).expect("append");
    // Host a is alive: b finds its writer and leaves it alone.
    let (mut sb, got) =
        SharedSpool::open(&spec(b.clone(), "gone1"), nowhere.path(), true).expect("b");
    assert!(got.is_empty());
    // Host a dies (its spool stays, its presence lapses).
    drop(sa); // its process (and so its claim on the path) is gone
    lock(&state).gone.insert("hosta".into());
    let got = sb.adopt_left().expect("b adopts");
    assert_eq!(payloads(&got), ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]);
    assert_eq!(got[1].record, recs[1]);
    assert!(
        !sb.is_empty(),
        "the adopted records are b's to keep until delivered"
    );
    // Host c, also alive, gets nothing: b claimed the gone host, and its path is purged.
    let (_sc, got) = SharedSpool::open(&spec(c, "gone1"), nowhere.path(), true).expect("c");
    assert!(got.is_empty());
    let writers = b
        .writers(&[&token("gone1"), "kinesis_out-0123456789abcdef"])
        .expect("w");
    assert_eq!(
        writers.len(),
        1,
        "only b's own writer holds entries: {writers:?}"
    );
    assert!(writers[0].starts_with("hostb-"), "{writers:?}");
    // Delivered: b's reset empties its path.
    sb.reset().expect("reset");
    assert!(b
        .writers(&[&token("gone1"), "kinesis_out-0123456789abcdef"])
        .expect("w")
        .is_empty());
}

#[test]
fn a_stopped_pipelines_records_go_to_the_next_pipeline_of_its_action_on_this_host() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let nowhere = tempfile::tempdir().expect("tempdir");
    let a = MemLog::host(&state, "hosta");
    let (mut old, _) =
        SharedSpool::open(&spec(a.clone(), "reload1"), nowhere.path(), true).expect("old");
    let recs: Vec<Record> = (0..2).map(record).collect();
    old.append(recs.iter().map(entry)).expect("append");
    // A reload: the new pipeline starts while the old one still runs, and leaves it alone.
    let (mut new, got) = SharedSpool::open(&spec(a, "reload1"), nowhere.path(), true).expect("new");
    assert!(got.is_empty(), "the old pipeline still writes its path");
    // The old one stops with records it could not place; the new one's next sweep takes them.
    old.close();
    let got = new.adopt_left().expect("sweep");
    assert_eq!(got.len(), 2);
    assert!(new.adopt_left().expect("again").is_empty(), "adopted once");
}

#[test]
fn adoption_purges_only_what_it_read() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let (a, b) = (MemLog::host(&state, "hosta"), MemLog::host(&state, "hostb"));
    let path = [
        token("late1"),
        "kinesis_out-0123456789abcdef".into(),
        "hosta-77".into(),
    ];
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let r0 = record(0);
    let mut body = Vec::new();
    entry(&r0).encode(&mut body);
    a.append(&refs, &[&body]).expect("a writes");
    lock(&state).gone.insert("hosta".into());
    let (_, last) = b.read(&refs).expect("read");
    // An entry a appends after b read (a was cut off, not dead) survives b's purge.
    a.append(&refs, &[&body]).expect("a writes again");
    b.purge(&refs, last).expect("purge");
    assert_eq!(a.read(&refs).expect("left").0.len(), 1);
}

#[test]
fn a_failed_append_is_an_error_and_counts_nothing() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let nowhere = tempfile::tempdir().expect("tempdir");
    let a = MemLog::host(&state, "hosta");
    let (mut s, _) = SharedSpool::open(&spec(a, "fail1"), nowhere.path(), true).expect("open");
    lock(&state).fail_appends = true;
    let r = record(1);
    let e = s.append([entry(&r)]).expect_err("no quorum");
    assert_eq!(e.what, "appending");
    assert!(
        e.path.display().to_string().starts_with("mem:fail1."),
        "{}",
        e.path.display()
    );
    assert!(s.is_empty());
}

#[test]
fn spool_files_from_before_the_cluster_move_to_the_cluster() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("r").join("kinesis_out-0123456789abcdef");
    let (mut f, _) = super::super::FileSpool::open(&dir, false, false).expect("file");
    let recs: Vec<Record> = (0..2).map(record).collect();
    f.append(recs.iter().map(entry)).expect("append");
    drop(f); // a crash, before the host joined a cluster
    let a = MemLog::host(&state, "hosta");
    let (s, got) = SharedSpool::open(&spec(a, "r"), &dir, true).expect("open");
    assert_eq!(got.len(), 2);
    assert!(!s.is_empty());
    assert!(
        super::super::leftovers(&dir).expect("list").is_empty(),
        "the file is gone"
    );
}

#[test]
fn names_become_one_subject_token_each_and_never_meet() {
    assert_eq!(token("speeding_rule"), "speeding_rule");
    assert_eq!(token("a-b_C9"), "a-b_C9");
    let dotted = token("a.b");
    assert!(dotted.starts_with("a_b_"), "{dotted}");
    assert_ne!(dotted, token("a_b"));
    assert_ne!(token("a.b"), token("a b"));
    assert!(!token("").is_empty());
    for t in [token("x>y"), token("é"), token("*"), token("")] {
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{t}"
        );
    }
}

#[test]
fn a_round_that_fails_part_way_hands_over_what_it_adopted() {
    let state = Arc::new(Mutex::new(MemState::default()));
    let nowhere = tempfile::tempdir().expect("tempdir");
    let b = MemLog::host(&state, "hostb");
    let rule = token("part1");
    let folder = "kinesis_out-0123456789abcdef";
    let r0 = record(0);
    let mut body = Vec::new();
    entry(&r0).encode(&mut body);
    // Two gone hosts' writers; reading the second fails.
    for w in ["hosta-0", "hostc-0"] {
        b.append(&[&rule, folder, w], &[&body]).expect("seed");
    }
    {
        let mut s = lock(&state);
        s.gone.insert("hosta".into());
        s.gone.insert("hostc".into());
        s.fail_reads.insert(format!("{rule}.{folder}.hostc-0"));
    }
    let (mut sb, got) = SharedSpool::open(&spec(b.clone(), "part1"), nowhere.path(), true)
        .expect("an adoption error does not stop the pipeline");
    assert_eq!(
        got.len(),
        1,
        "hosta's record, adopted before the failure, reaches the buffer"
    );
    assert!(!sb.is_empty());
    lock(&state).fail_reads.clear();
    assert_eq!(
        sb.adopt_left().expect("next round").len(),
        1,
        "hostc's, next round"
    );
}
