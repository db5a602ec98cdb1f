//! The template mode through the binary: seeded output is reproducible, mistakes are named.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{start_broker, subscribe};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir-device"))
        .args(args)
        .output()
        .expect("binary runs")
}

const TEMPLATE: &str = r#"{"id": "{{random.uuid}}", "licensePlate": "{{vehicle.licensePlate}}", "city": "{{address.city}}", "speed": "{{random.number({"min":40,"max":120})}}", "kind": "{{random.weightedArrayElement({"weights":[0.9,0.1],"data":["car","truck"]})}}"}"#;

#[test]
fn same_seed_prints_the_same_messages() {
    let a = run(&[
        "template",
        "--template",
        TEMPLATE,
        "--count",
        "20",
        "--seed",
        "7",
        "--print",
    ]);
    let b = run(&[
        "template",
        "--template",
        TEMPLATE,
        "--count",
        "20",
        "--seed",
        "7",
        "--print",
    ]);
    let c = run(&[
        "template",
        "--template",
        TEMPLATE,
        "--count",
        "20",
        "--seed",
        "8",
        "--print",
    ]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let text = String::from_utf8(a.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 20);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let speed: u32 = v["speed"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number");
        assert!((40..=120).contains(&speed));
    }
}

#[test]
fn template_file_and_csv_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t.json");
    std::fs::write(
        &file,
        "{\"plate\": \"{{vehicle.licensePlate}}\", \"state\": \"{{address.state}}\"}\n",
    )
    .expect("write");
    let csv = common::seed_csv();
    let out = run(&[
        "template",
        "--template",
        file.to_str().expect("utf-8 path"),
        "--count",
        "50",
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "--print",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows =
        weir_device::csv_source::read_all(&csv, weir_device::csv_source::OnBadRow::Stop, |_| {})
            .expect("csv");
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let plate = v["plate"].as_str().expect("plate");
        let row = rows
            .iter()
            .find(|r| r.license_plate == plate)
            .expect("plate from the CSV");
        assert_eq!(
            v["state"],
            row.state.as_str(),
            "state from the same row as the plate"
        );
    }
}

#[test]
fn unknown_placeholder_is_named_with_its_position() {
    let out = run(&[
        "template",
        "--template",
        "{\"a\": 1,\n \"b\": \"{{random.uuidd}}\"}",
        "--count",
        "1",
        "--print",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: unknown placeholder `random.uuidd` at line 2, column 8"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_messages_are_published() {
    let broker = start_broker();
    let mut sub = subscribe(&broker.url(), "tpl-sub", "tpl/t").await;
    let url = broker.url();
    let out = tokio::task::spawn_blocking(move || {
        run(&[
            "template",
            "--broker",
            &url,
            "--topic",
            "tpl/t",
            "--template",
            TEMPLATE,
            "--count",
            "100",
        ])
        .status
        .success()
    })
    .await
    .expect("join");
    assert!(out);
    let got = sub.collect(100, Duration::from_secs(30)).await;
    assert!(got
        .iter()
        .all(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).is_ok()));
}
