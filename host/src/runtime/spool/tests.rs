//! The spool against real folders: adoption across runs and reloads, durable names, identities
//! that survive reordering, legacy migration, torn tails and the documented entry bytes.

use super::*;

pub(super) fn record(n: u32) -> Record {
    Record {
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        partition_key: format!("k{n}"),
        source_topic: "t/1".into(),
        client_id: "dev".into(),
        rule_name: "r".into(),
        arrival_timestamp_ms: 1_700_000_000_000 + u64::from(n),
        attributes: vec![("a".into(), n.to_string())],
    }
}

pub(super) fn entry(r: &Record) -> SpoolEntry<'_> {
    SpoolEntry {
        record: r,
        key: &r.partition_key,
        topic: "t/1",
        payload: b"{}",
        client_id: Some("dev"),
        arrival_ms: 5,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    leftovers(dir).expect("list")
}

/// Every folder sync of this process, with the spool files in it at that moment.
static DIR_SYNCS: Mutex<Vec<(PathBuf, Vec<PathBuf>)>> = Mutex::new(Vec::new());

pub(super) fn saw_dir_sync(dir: &Path) {
    let present = leftovers(dir).unwrap_or_default();
    lock(&DIR_SYNCS).push((dir.to_path_buf(), present));
}

fn kinesis(stream: &str) -> (String, String) {
    (format!("kinesis:{stream}"), format!("kinesis\n\n{stream}"))
}

fn action(stream: &str) -> ActionIdentity {
    ActionIdentity::of_actions([kinesis(stream)]).remove(0)
}

#[test]
fn a_new_run_adopts_what_an_earlier_one_left() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = spool_dir(root.path(), "r", &action("out"));
    let (mut s, got) = Spool::open(&dir, true, true).expect("open");
    assert!(got.is_empty());
    let recs: Vec<Record> = (0..3).map(record).collect();
    s.append(recs.iter().map(entry)).expect("append");
    drop(s); // a crash: the file stays
    let (s2, got) = Spool::open(&dir, true, true).expect("adopt");
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].record, recs[2]);
    assert_eq!(got[2].key, "k2");
    assert_eq!(got[2].client_id.as_deref(), Some("dev"));
    assert_eq!(got[2].payload, b"{}");
    // The records now live in the new file only.
    assert_eq!(files(&dir), vec![s2.path().to_path_buf()]);
    drop(s2);
    let (_, again) = Spool::open(&dir, true, true).expect("adopt again");
    assert_eq!(again.len(), 3, "adopted records are kept until delivered");
}

#[test]
fn a_reload_does_not_take_a_running_pipelines_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a");
    let (mut old, _) = Spool::open(&dir, false, true).expect("open");
    let r = record(1);
    old.append(std::iter::once(entry(&r))).expect("append");
    let (new, got) = Spool::open(&dir, false, true).expect("open beside");
    assert!(got.is_empty(), "took the file of a pipeline still running");
    assert_eq!(files(&dir).len(), 2);
    old.reset().expect("reset");
    old.close();
    new.close();
    assert!(files(&dir).is_empty());
}

#[test]
fn a_later_plan_adopts_what_a_stopped_pipeline_of_this_run_kept() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a");
    let (mut old, _) = Spool::open(&dir, false, true).expect("open");
    let r = record(1);
    old.append(std::iter::once(entry(&r))).expect("append");
    // Its pipeline retired with a record nobody could take: the file stays.
    old.close();
    assert_eq!(files(&dir).len(), 1);
    let (_new, got) = Spool::open(&dir, false, true).expect("the next reload's");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].record, r);
}

#[test]
fn a_new_spool_file_is_named_durably_before_anything_is_appended() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = spool_dir(root.path(), "r", &action("out"));
    let (s, _) = Spool::open(&dir, true, true).expect("open");
    let synced = lock(&DIR_SYNCS)
        .iter()
        .any(|(d, present)| *d == dir && present.contains(&s.path().to_path_buf()));
    assert!(
        synced,
        "the folder was not synced after the spool file was created"
    );
    // Every folder on the way exists (create_dir_all_synced synced each parent).
    assert!(dir.is_dir());
}

#[test]
fn identities_survive_reordering_and_keep_identical_actions_apart() {
    let root = Path::new("/s");
    let before = ActionIdentity::of_actions([kinesis("a"), kinesis("b")]);
    // An action inserted first, the two swapped, and a second `a`.
    let after =
        ActionIdentity::of_actions([kinesis("new"), kinesis("b"), kinesis("a"), kinesis("a")]);
    let dir = |a: &ActionIdentity| spool_dir(root, "r", a);
    assert_eq!(
        dir(&before[0]),
        dir(&after[2]),
        "`a` moved and kept its spool"
    );
    assert_eq!(dir(&before[1]), dir(&after[1]), "`b` kept its spool");
    assert_ne!(dir(&after[2]), dir(&after[3]), "two `a`s, two spools");
    assert_ne!(dir(&after[0]), dir(&before[0]));
    let mut error = after[2].clone();
    error.error_action = true;
    assert_ne!(dir(&error), dir(&after[2]), "the error action has its own");
    // Readable, file-safe, and fixed across builds (FNV-1a of the identity).
    let name = dir(&before[0]);
    assert_eq!(
        name.parent().expect("rule folder"),
        Path::new("/s/r"),
        "{name:?}"
    );
    let leaf = name
        .file_name()
        .expect("leaf")
        .to_string_lossy()
        .into_owned();
    assert!(leaf.starts_with("kinesis_a-"), "{leaf}");
    assert_eq!(
        leaf,
        format!("kinesis_a-{:016x}", {
            let mut h = Fnv::default();
            h.write(b"action\0kinesis\n\na\0");
            h.write(&0u64.to_le_bytes());
            h.0
        })
    );
    let mut known = Fnv::default();
    known.write(b"a");
    assert_eq!(
        known.0, 0xaf63_dc4c_8601_ec8c,
        "FNV-1a's published value for \"a\""
    );
}

#[test]
fn an_index_named_spool_is_migrated_to_its_actions_folder() {
    let root = tempfile::tempdir().expect("tempdir");
    // What an earlier version wrote for action 0 of rule `r`, a kinesis action.
    let legacy = legacy_spool_dir(root.path(), "r", "0:kinesis:out");
    assert_eq!(
        legacy.file_name().expect("leaf").to_string_lossy(),
        format!("0_kinesis_out-{:08x}", crc32c::crc32c(b"0:kinesis:out"))
    );
    let recs: Vec<Record> = (0..2).map(record).collect();
    {
        let (mut s, _) = Spool::open(&legacy, true, true).expect("open");
        s.append(recs.iter().map(entry)).expect("append");
    }
    let dir = spool_dir(root.path(), "r", &action("out"));
    assert_eq!(migrate_legacy(&legacy, &dir, true).expect("migrate"), 1);
    assert!(
        !legacy.exists(),
        "the emptied index-named folder is removed"
    );
    let (_s, got) = Spool::open(&dir, true, true).expect("adopt");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].record, recs[1]);
    // Nothing to migrate the second time.
    assert_eq!(migrate_legacy(&legacy, &dir, true).expect("again"), 0);
}

#[test]
fn a_torn_or_corrupt_tail_is_ignored_and_the_rest_kept() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a");
    let (mut s, _) = Spool::open(&dir, false, true).expect("open");
    let recs: Vec<Record> = (0..3).map(record).collect();
    s.append(recs.iter().map(entry)).expect("append");
    let path = s.path().to_path_buf();
    drop(s);
    let mut bytes = std::fs::read(&path).expect("read");
    // A crash in the middle of the third entry, and a flipped bit in the second.
    bytes.truncate(bytes.len() - 3);
    let second = bytes.len() / 2;
    bytes[second] ^= 0x40;
    std::fs::write(&path, &bytes).expect("write");
    let (_, got) = Spool::open(&dir, false, true).expect("adopt");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].record, recs[0]);
}

/// One entry as the module docs lay it out, its CRC-32C computed outside Rust: what a spool
/// held before it used `weir_support::framed`, and what an append writes now.
const DOCUMENTED_ENTRY: &str = "4d0000008cc226c1020000007b7d010000006b0100000074010000006301\
    0000007205000000000000000100000001000000610100000031010000006b01000000740100000070010100\
    0000630600000000000000";

#[test]
fn spool_entries_keep_the_documented_bytes() {
    let documented: Vec<u8> = (0..DOCUMENTED_ENTRY.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&DOCUMENTED_ENTRY[i..i + 2], 16).expect("hex"))
        .collect();
    let r = Record {
        payload: b"{}".to_vec(),
        partition_key: "k".into(),
        source_topic: "t".into(),
        client_id: "c".into(),
        rule_name: "r".into(),
        arrival_timestamp_ms: 5,
        attributes: vec![("a".into(), "1".into())],
    };
    let e = SpoolEntry {
        record: &r,
        key: "k",
        topic: "t",
        payload: b"p",
        client_id: Some("c"),
        arrival_ms: 6,
    };
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a");
    let (mut s, _) = Spool::open(&dir, false, true).expect("open");
    s.append(std::iter::once(e)).expect("append");
    assert_eq!(std::fs::read(s.path()).expect("read"), documented);
    drop(s);
    // A file of an earlier version, byte for byte, is adopted.
    let old = root.path().join("b");
    std::fs::create_dir_all(&old).expect("folder");
    std::fs::write(old.join("earlier.spool"), &documented).expect("write");
    let (_s, got) = Spool::open(&old, false, true).expect("adopt");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].record, r);
    assert_eq!(
        (got[0].payload.as_slice(), got[0].client_id.as_deref()),
        (&b"p"[..], Some("c"))
    );
}

#[test]
fn reset_empties_it_and_close_removes_an_empty_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a");
    let (mut s, _) = Spool::open(&dir, false, true).expect("open");
    let r = record(1);
    s.append(std::iter::once(entry(&r))).expect("append");
    assert!(!s.is_empty());
    s.reset().expect("reset");
    assert!(s.is_empty());
    s.close();
    assert!(files(&dir).is_empty());
}

#[test]
fn orphans_are_the_files_nobody_claimed_nor_holds() {
    let root = tempfile::tempdir().expect("tempdir");
    let a = spool_dir(root.path(), "r", &action("a"));
    let b = spool_dir(root.path(), "gone", &action("b"));
    let running = spool_dir(root.path(), "r", &action("still-draining"));
    let empty = spool_dir(root.path(), "r", &action("nothing-left"));
    for d in [&a, &b] {
        let (mut s, _) = Spool::open(d, false, true).expect("open");
        let r = record(1);
        s.append(std::iter::once(entry(&r))).expect("append");
    }
    let (_draining, _) = Spool::open(&running, false, true).expect("open");
    std::fs::create_dir_all(&empty).expect("empty folder");
    let o = orphans(root.path(), std::slice::from_ref(&a));
    assert_eq!(o.len(), 1, "{o:?}");
    assert!(o[0].starts_with(&b));
    assert!(!empty.exists(), "an empty unclaimed folder is removed");
    // The orphan's action comes back: it takes the records.
    let (_back, got) = Spool::open(&b, false, true).expect("back");
    assert_eq!(got.len(), 1);
}

#[test]
fn names_are_safe_and_distinct() {
    let root = Path::new("/x");
    assert_eq!(
        legacy_spool_dir(root, "speeding", "ok-1.2"),
        Path::new("/x/speeding/ok-1.2")
    );
    let a = legacy_spool_dir(root, "r", "0:kinesis:a/b");
    let b = legacy_spool_dir(root, "r", "0:kinesis:a_b");
    assert_ne!(a, b);
    assert!(!a.to_string_lossy().contains("a/b"));
    assert!(spool_dir(root, "..", &action("x")).starts_with("/x/"));
    assert!(!spool_dir(root, "..", &action("x"))
        .to_string_lossy()
        .contains("/../"));
    // A stream name with a `/` in the label stays one path component.
    let odd =
        ActionIdentity::of_actions([("plugin:a/b".to_owned(), "plugin\na/b".to_owned())]).remove(0);
    assert_eq!(spool_dir(root, "r", &odd).parent(), Some(Path::new("/x/r")));
}
