//! `weir demo` runs the shipped configuration through the server's own plan (no broker): it
//! alerts exactly the seed rows over 75 whose plate is in the driver table, puts each of them
//! into the stream, archives every row, and acknowledges every message.

use std::collections::{BTreeSet, HashSet};
mod common;

use std::path::Path;
use std::process::Command;

/// The plates the seed data says must be alerted, computed independently of Weir.
fn expected_plates(data: &Path) -> BTreeSet<String> {
    let mut drivers = csv::Reader::from_path(data.join("driver_data.csv")).expect("drivers");
    let plate_col = drivers
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "licensePlate")
        .expect("column");
    let known: HashSet<String> = drivers
        .records()
        .map(|r| r.expect("row")[plate_col].to_string())
        .collect();
    let mut speeding = csv::Reader::from_path(data.join("speeding_data.csv")).expect("speeding");
    speeding
        .records()
        .map(|r| r.expect("row"))
        .filter(|r| r[5].parse::<f64>().expect("speed") > 75.0 && known.contains(&r[0]))
        .map(|r| r[0].to_string())
        .collect()
}

#[test]
fn demo_alerts_exactly_the_speeding_known_plates() {
    let plugins = common::plugin_dir();
    assert!(
        plugins.join("speed-limit.wasm").is_file(),
        "{} has no components: run `cargo xtask plugins` first",
        plugins.display()
    );
    let data = common::repo().join("examples/speeding/data");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .current_dir(common::repo())
        .args(["demo", "--plugins"])
        .arg(&plugins)
        .arg("--data")
        .arg(&data)
        .output()
        .expect("run weir demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "weir demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );

    let alerted: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("sms +1"))
        .map(|l| {
            let (_, rest) = l.split_once("licenseplate ").expect("plate in alert");
            let (plate, _) = rest.split_once(" was clocked").expect("alert text");
            plate.to_string()
        })
        .collect();
    let expected = expected_plates(&data);
    assert_eq!(expected.len(), 693);
    assert_eq!(alerted.len(), expected.len(), "one alert per speeding car");
    assert_eq!(alerted.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(stdout.contains("alerts sent:         693"), "{stdout}");
    assert!(stdout.contains("errors:              0"), "{stdout}");
    assert!(
        stdout.contains("acknowledged:        1000 of 1000 (0 not)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rule speeding   fired   693, errors 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("action archive/0:firehose: delivered 1000, failed 0"),
        "{stdout}"
    );
    // The stream's records, counted by shard, are the speeding cars.
    let in_shards: u64 = stdout
        .lines()
        .filter(|l| {
            l.trim_start()
                .starts_with("stream speeding-alerts shardId-")
        })
        .map(|l| {
            let n = l.rsplit(": ").next().expect("count");
            n.trim_end_matches(" records")
                .parse::<u64>()
                .expect("number")
        })
        .sum();
    assert_eq!(in_shards, 693, "{stdout}");
}

#[test]
fn demo_reports_missing_plugins_with_the_command_to_build_them() {
    let empty = std::env::temp_dir().join(format!("weir-no-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .current_dir(common::repo())
        .args(["demo", "--plugins"])
        .arg(&empty)
        .output()
        .expect("run weir demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("speed-limit.wasm") && stderr.contains("cargo xtask plugins"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
