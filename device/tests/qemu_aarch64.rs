//! Runs the cross-compiled aarch64 binary under qemu-user in replay mode against a loopback
//! broker, so CI checks the Pi build actually works, not just that it links.
//!
//! Ignored by default; `ci-aarch64.sh` runs it as
//! `WEIR_QEMU_TEST=1 WEIR_DEVICE_AARCH64=path/to/weir-device cargo test --test qemu_aarch64 -- --ignored`.
//! `WEIR_QEMU` overrides the emulator (default `qemu-aarch64`, then `qemu-aarch64-static`).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{seed_csv, start_broker, subscribe};

fn emulator() -> String {
    if let Ok(q) = std::env::var("WEIR_QEMU") {
        return q;
    }
    for candidate in ["qemu-aarch64", "qemu-aarch64-static"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.to_string();
        }
    }
    panic!("no qemu-aarch64 or qemu-aarch64-static on PATH (Debian: apt-get install qemu-user)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs WEIR_QEMU_TEST=1, WEIR_DEVICE_AARCH64=<aarch64 binary> and qemu-user; see ci-aarch64.sh"]
async fn aarch64_binary_replays_the_seed_under_qemu() {
    if std::env::var("WEIR_QEMU_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set WEIR_QEMU_TEST=1 to run");
        return;
    }
    let binary = PathBuf::from(
        std::env::var("WEIR_DEVICE_AARCH64").expect("WEIR_DEVICE_AARCH64 names the aarch64 binary"),
    );
    assert!(
        binary.is_file(),
        "{} does not exist; build it with ci-aarch64.sh",
        binary.display()
    );
    let qemu = emulator();
    let sysroot =
        std::env::var("WEIR_QEMU_SYSROOT").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".into());

    let broker = start_broker();
    let mut sub = subscribe(&broker.url(), "qemu-sub", "rtr/iot/trafficdata").await;
    let url = broker.url();
    let csv = seed_csv().display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&qemu)
            .args(["-L", &sysroot])
            .arg(&binary)
            .args([
                "replay",
                "--broker",
                &url,
                "--csv",
                &csv,
                "--client-id",
                "qemu-replay",
                "--quiet",
                "--summary-json",
            ])
            .output()
            .expect("qemu runs")
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(
        (summary["sent"].as_u64(), summary["acknowledged"].as_u64()),
        (Some(1000), Some(1000))
    );

    let received = sub.collect(1000, Duration::from_secs(120)).await;
    let plates: Vec<String> = received
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
            v["licensePlate"].as_str().expect("plate").to_string()
        })
        .collect();
    let rows = weir_device::csv_source::read_all(
        &seed_csv(),
        weir_device::csv_source::OnBadRow::Stop,
        |_| {},
    )
    .expect("seed");
    assert_eq!(
        plates,
        rows.iter()
            .map(|r| r.license_plate.clone())
            .collect::<Vec<_>>()
    );
}
