//! No record can stop a delivery stream (issue 27, item 6), delivering to a folder:
//! partition key values S3 takes as they are (`.`, `..`, `a//b`, a leading `/`, control
//! characters) are written under mapped folder names, keys that cannot be written at all go
//! to the error output with the reason, and an object that keeps failing goes to the error
//! output after its retry duration; in every case the records behind it are delivered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weir_firehose::*;

mod common;
use common::*;

fn record(k: &str, j: &str) -> Vec<u8> {
    format!("{}\n", serde_json::json!({ "k": k, "j": j })).into_bytes()
}

#[test]
fn partition_keys_s3_allows_are_written_and_unwritable_ones_go_to_the_error_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let fh = Firehose::open(config(dir.path()), rt.handle().clone()).expect("open");
    fh.create(partitioned(
        "dp",
        "d/!{partitionKeyFromQuery:k}/!{partitionKeyFromQuery:j}/",
        "k AS k, j AS j",
        300,
    ))
    .expect("create");

    // Key values S3 stores as they are, and the folder each lands in (folder_key's escapes).
    let written = [
        (".", "d/%2E/x/"),
        ("..", "d/%2E%2E/x/"),
        ("a//b", "d/a/%00/b/x/"),
        ("/lead", "d/%00/lead/x/"),
        ("tab\there", "d/tab%09here/x/"),
        ("\u{1}", "d/%01/x/"),
        ("../../../escape", "d/%2E%2E/%2E%2E/%2E%2E/escape/x/"),
    ];
    let long_name = "n".repeat(300);
    let long_key = "m".repeat(512);
    // Keys nothing can write here: a folder name over 255 bytes, a key over S3's 1,024 bytes.
    let unwritable = [
        (record(&long_name, "x"), "longer than 255 bytes"),
        (record(&long_key, &long_key), "at most 1024 bytes"),
    ];
    // Each bad record in its own put, followed by a good one that must not wait on it.
    let mut good = Vec::new();
    for (i, (v, _)) in written.iter().enumerate() {
        fh.put("dp", &[record(v, "x")]).expect("put");
        let ok = record("ok", &format!("after-{i}"));
        fh.put("dp", std::slice::from_ref(&ok)).expect("put");
        good.push(ok);
    }
    for (i, (r, _)) in unwritable.iter().enumerate() {
        fh.put("dp", std::slice::from_ref(r)).expect("put");
        let ok = record("ok", &format!("after-bad-{i}"));
        fh.put("dp", std::slice::from_ref(&ok)).expect("put");
        good.push(ok);
    }

    let o = wait_for(
        dir.path(),
        "every record delivered or in the error output",
        |o| {
            written
                .iter()
                .all(|(_, folder)| !lines_under(o, folder).is_empty())
                && lines_under(o, "d/ok/").len() == good.len()
                && error_lines(o, "err/partitioning-failed/").len() == unwritable.len()
        },
    );
    for (v, folder) in written {
        assert_eq!(lines_under(&o, folder), vec![record(v, "x")], "{v:?}");
    }
    let mut got = lines_under(&o, "d/ok/");
    got.sort();
    good.sort();
    assert_eq!(got, good);
    check_unwritable_errors(&o, &unwritable);
    nothing_outside_the_bucket(dir.path());
}

/// Each unwritable key's record is in the error output as `partitioning-failed`, with
/// Firehose's code and a message naming why.
fn check_unwritable_errors(o: &BTreeMap<String, Vec<u8>>, unwritable: &[(Vec<u8>, &str)]) {
    let errors = error_lines(o, "err/partitioning-failed/");
    for (r, reason) in unwritable {
        let e = errors
            .iter()
            .find(|e| raw(e) == *r)
            .unwrap_or_else(|| panic!("no error record for a {reason} key: {errors:?}"));
        assert_eq!(e["errorCode"], "DynamicPartitioning.InvalidObjectKey");
        let message = e["errorMessage"].as_str().expect("errorMessage");
        assert!(message.contains(reason), "{message}");
        assert!(
            e["arrivalTimestamp"].is_i64() && e["attemptsMade"] == 1,
            "{e}"
        );
    }
}

/// Nothing was written outside the bucket folder (`../` in a key stays inside).
fn nothing_outside_the_bucket(dir: &Path) {
    let outside: Vec<_> = std::fs::read_dir(dir.join("s3"))
        .expect("s3 folder")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("bkt")]);
    assert!(!dir.join("escape").exists());
}

/// Puts a file where the folder `name` of the bucket would go, so every object under
/// `name/` fails to store until it is removed.
fn block(dir: &Path, name: &str) -> PathBuf {
    let b = bucket(dir);
    std::fs::create_dir_all(&b).expect("bucket folder");
    let p = b.join(name);
    std::fs::write(&p, b"in the way").expect("blocker");
    p
}

#[test]
fn an_object_failing_past_its_retry_duration_goes_to_the_error_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut c = config(dir.path());
    c.s3_retry_duration = Duration::from_millis(300);
    let fh = Firehose::open(c, rt.handle().clone()).expect("open");
    fh.create(request(
        "plain",
        s3(Some("data/"), Some("err/!{firehose:error-output-type}/")),
    ))
    .expect("create");
    let blocker = block(dir.path(), "data");
    let first = b"first\n".to_vec();
    fh.put("plain", std::slice::from_ref(&first)).expect("put");
    let o = wait_for(dir.path(), "the failed object in the error output", |o| {
        !lines_under(o, "err/s3-failed/").is_empty()
    });
    let errors = error_lines(&o, "err/s3-failed/");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(raw(&errors[0]), first);
    assert_eq!(errors[0]["errorCode"], "S3.DeliveryFailed");
    let message = errors[0]["errorMessage"].as_str().expect("errorMessage");
    assert!(message.contains("retry duration"), "{message}");
    assert!(
        errors[0]["attemptsMade"].as_u64() >= Some(1),
        "{}",
        errors[0]
    );
    assert_eq!(
        fh.delivery_stats("plain")
            .expect("stats")
            .failed_over_records,
        1
    );

    // The records behind it are delivered once the destination works again.
    std::fs::remove_file(&blocker).expect("unblock");
    let second = b"second\n".to_vec();
    fh.put("plain", std::slice::from_ref(&second)).expect("put");
    let o = wait_for(dir.path(), "the next record delivered", |o| {
        !lines_under(o, "data/").is_empty()
    });
    assert_eq!(lines_under(&o, "data/"), vec![second]);
    assert_eq!(error_lines(&o, "err/s3-failed/").len(), 1);
}

#[test]
fn a_partitioned_stream_retries_for_its_retry_options_duration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // The service default would retry for an hour: the stream's own 0 s must win.
    let fh = Firehose::open(config(dir.path()), rt.handle().clone()).expect("open");
    fh.create(partitioned(
        "dp0",
        "d/!{partitionKeyFromQuery:k}/",
        "k AS k",
        0,
    ))
    .expect("create");
    block(dir.path(), "d");
    let r = b"{\"k\":\"a\"}\n".to_vec();
    fh.put("dp0", std::slice::from_ref(&r)).expect("put");
    let o = wait_for(dir.path(), "the failed object in the error output", |o| {
        !lines_under(o, "err/s3-failed/").is_empty()
    });
    assert_eq!(raw(&error_lines(&o, "err/s3-failed/")[0]), r);
}

#[test]
fn records_stay_while_the_error_output_cannot_be_written_either() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let open = || {
        let mut c = config(dir.path());
        c.s3_retry_duration = Duration::from_millis(100);
        Firehose::open(c, rt.handle().clone()).expect("open")
    };
    let fh = open();
    fh.create(request(
        "held",
        s3(Some("data/"), Some("err/!{firehose:error-output-type}/")),
    ))
    .expect("create");
    let data_blocker = block(dir.path(), "data");
    let err_blocker = block(dir.path(), "err");
    let first = b"first\n".to_vec();
    fh.put("held", std::slice::from_ref(&first)).expect("put");
    let deadline = Instant::now() + WAIT;
    while fh.delivery_stats("held").expect("stats").held_records != 1 {
        assert!(
            Instant::now() < deadline,
            "the record is never counted as held"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The checkpoint did not pass it: after a restart it is read again, and once the error
    // output can be written it lands there.
    drop(fh);
    let fh = open();
    std::fs::remove_file(&err_blocker).expect("unblock the error output");
    let o = wait_for(dir.path(), "the held record in the error output", |o| {
        !lines_under(o, "err/s3-failed/").is_empty()
    });
    assert!(error_lines(&o, "err/s3-failed/")
        .iter()
        .any(|e| raw(e) == first));
    let deadline = Instant::now() + WAIT;
    while fh.delivery_stats("held").expect("stats").held_records != 0 {
        assert!(Instant::now() < deadline, "still counted as held");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_file(&data_blocker).expect("unblock the data prefix");
    let second = b"second\n".to_vec();
    fh.put("held", std::slice::from_ref(&second)).expect("put");
    let o = wait_for(dir.path(), "the next record delivered", |o| {
        !lines_under(o, "data/").is_empty()
    });
    assert_eq!(lines_under(&o, "data/"), vec![second]);
}
