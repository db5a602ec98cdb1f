//! Plugins in Python and JavaScript (issue 32), through the CLI a plugin author uses:
//!
//! - **Parity**: the speed-limit filter, the owner-enrich transformer and the syslog-to-json
//!   blueprint, built from `plugins/`, `plugins/python/` and `plugins/js/` (`cargo xtask
//!   plugins`), give the same outcome for every record through `weir plugin test`, on the
//!   seed's rows and the shared edge cases, each loaded with only its manifest's grants, and
//!   each importing nothing else.
//! - **From nothing**: `weir plugin new` + the language's own unit tests + `weir plugin build`
//!   + `weir plugin test`, for each language and stage, in a fresh folder.
//! - **The SDKs' own suites**: pytest and `node --test` over the SDKs and the plugins.
//!
//! The Python and JavaScript toolchains install themselves on the first build
//! (`WEIR_TOOLCHAINS`, which `cargo xtask test` points at `target/weir-toolchains`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn toolchains() -> PathBuf {
    std::env::var_os("WEIR_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target").join("weir-toolchains"))
}

fn weir() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
    cmd.env("WEIR_TOOLCHAINS", toolchains());
    cmd
}

/// Runs `cmd`; panics with its output unless it succeeds; returns stdout.
fn ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The Python of componentize-py's venv (with pytest), installed by a build if missing.
fn toolchain_python() -> PathBuf {
    let python = toolchains()
        .join("componentize-py-0.25.1")
        .join("bin")
        .join("python");
    if !toolchains()
        .join("componentize-py-0.25.1/.weir-ready")
        .is_file()
    {
        let out = tempfile::tempdir().expect("tempdir");
        ok(weir()
            .args(["plugin", "build"])
            .arg(repo().join("plugins/python/speed-limit"))
            .arg("--out")
            .arg(out.path().join("x.wasm")));
    }
    python
}

/// The seed's rows as the device sends them (every value a string), one JSON line each, then
/// the shared edge cases.
fn speeding_input(dir: &Path) -> PathBuf {
    let mut text = String::new();
    let mut rows = csv::Reader::from_path(repo().join("examples/speeding/data/speeding_data.csv"))
        .expect("seed csv");
    let headers = rows.headers().expect("headers").clone();
    for row in rows.records() {
        let row = row.expect("row");
        let object: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .zip(row.iter())
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        text.push_str(&serde_json::Value::Object(object).to_string());
        text.push('\n');
    }
    for edge in [
        r#"{"licensePlate":"855TOP","speed":"NaN"}"#,
        r#"{"licensePlate":"855TOP","speed":"0x50"}"#,
        r#"{"licensePlate":"855TOP","speed":"1_000"}"#,
        r#"{"licensePlate":"855TOP","speed":"+80"}"#,
        r#"{"licensePlate":"855TOP","speed":" 90 "}"#,
        r#"{"licensePlate":"855TOP","speed":""}"#,
        r#"{"licensePlate":"855TOP","speed":null}"#,
        r#"{"licensePlate":"855TOP","speed":[90]}"#,
        r#"{"licensePlate":"855TOP","speed":{"v":90}}"#,
        r#"{"licensePlate":"855TOP","speed":true}"#,
        r#"{"licensePlate":"855TOP","speed":80.5}"#,
        r#"{"licensePlate":"855TOP","speed":-1e2}"#,
        r#"{"licensePlate":"855TOP","speed":"10","speed":"99"}"#,
        r#"{"licensePlate":"NOPLATE","speed":"99"}"#,
        r#"{"licensePlate":123,"speed":"99"}"#,
        r#"{"speed":"99"}"#,
        r#"{"licensePlate":"855TOP","speed":"99","first_name":"taken"}"#,
        r#"{"licensePlate":"caf\u00e9","speed":"99"}"#,
        r#"[{"speed":"99"}]"#,
        r#""99""#,
        r#"null"#,
        r#"{}"#,
    ] {
        text.push_str(edge);
        text.push('\n');
    }
    let path = dir.join("speeding.jsonl");
    std::fs::write(&path, text).expect("write input");
    path
}

/// The blueprint's sample lines, then malformed ones: multi-byte characters where the
/// parser slices, bad priorities, too short, empty fields.
fn syslog_input(dir: &Path) -> PathBuf {
    let mut text =
        std::fs::read_to_string(repo().join("plugins/syslog-to-json/examples/records.log"))
            .expect("sample log");
    for line in [
        "Océ 11 22:14:15 h p: m",
        "Oct € 22:14:15 h p: m",
        "Oct 11 22:14:1é h p: m",
        "<13>Oct 11 22:14:15 h prog[é]: café ☕",
        "<192>Oct 11 22:14:15 h p: m",
        "<>Oct 11 22:14:15 h p: m",
        "Oct 11 22:14",
        "<165>1 - - - - - -",
        "<165>1 2003-10-11T22:14:15.003Z h a - - [x@1 a=\"]\"] msg",
        "<165>1 2003-10-11T22:14:15.003Z h a - - [unterminated",
        "Feb 30 25:61:99 h p: impossible but well-formed",
    ] {
        text.push_str(line);
        text.push('\n');
    }
    let path = dir.join("syslog.log");
    std::fs::write(&path, text).expect("write input");
    path
}

/// `weir plugin test` output without the lines that name the component (its name, version,
/// load time): what must be equal across languages.
fn outcomes(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with("# filter ") && !l.starts_with("# transformer "))
        .filter(|l| !l.starts_with("# emitter ") && !l.starts_with("# imports:"))
        .map(str::to_string)
        .collect()
}

/// The `# imports:` line's names.
fn imports(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("# imports:"))
        .map(|rest| {
            rest.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

struct Case {
    plugin: &'static str,
    grants: &'static str,
    args: Vec<String>,
    input: PathBuf,
}

#[test]
fn the_three_languages_give_the_same_outcome_for_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speeding = speeding_input(dir.path());
    let drivers = repo().join("examples/speeding/data/driver_data.csv");
    let cases = [
        Case {
            plugin: "speed-limit",
            grants: "config",
            args: vec![],
            input: speeding.clone(),
        },
        Case {
            plugin: "speed-limit",
            grants: "config",
            args: vec!["--config".into(), "limit=90".into()],
            input: speeding.clone(),
        },
        Case {
            plugin: "owner-enrich",
            grants: "config,lookup,log",
            args: vec![
                "--table".into(),
                format!("drivers={}:licensePlate", drivers.display()),
            ],
            input: speeding.clone(),
        },
        Case {
            plugin: "owner-enrich",
            grants: "config,lookup,log",
            args: vec![
                "--table".into(),
                format!("drivers={}:licensePlate", drivers.display()),
                "--config".into(),
                "columns=*".into(),
                "--config".into(),
                "prefix=owner_".into(),
            ],
            input: speeding.clone(),
        },
        Case {
            plugin: "syslog-to-json",
            grants: "",
            args: vec!["--raw".into()],
            input: syslog_input(dir.path()),
        },
    ];
    for case in &cases {
        let run = |suffix: &str| {
            let component = common::component(&format!("{}{suffix}", case.plugin));
            let stdout = ok(weir()
                .args(["plugin", "test"])
                .arg(&component)
                .arg("--input")
                .arg(&case.input)
                .arg(format!("--grants={}", case.grants))
                .args(&case.args));
            (component, stdout)
        };
        let (_, rust) = run("");
        let want = outcomes(&rust);
        assert!(want.len() > 5, "{}: {rust}", case.plugin);
        for suffix in ["-python", "-js"] {
            let (component, got) = run(suffix);
            let got_lines = outcomes(&got);
            let diff: Vec<String> = want
                .iter()
                .zip(&got_lines)
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("rust: {a}\n  {suffix}: {b}"))
                .collect();
            assert!(
                diff.is_empty() && want.len() == got_lines.len(),
                "{} {suffix} {:?} differs from Rust ({} vs {} lines):\n{}",
                case.plugin,
                case.args,
                want.len(),
                got_lines.len(),
                diff.join("\n")
            );
            // Nothing but the granted interfaces (and the types they use): no WASI at all.
            let allowed: Vec<String> = case
                .grants
                .split(',')
                .filter(|g| !g.is_empty())
                .map(|g| format!("weir:plugin/{g}@"))
                .chain(["weir:plugin/types@".to_string()])
                .collect();
            for import in imports(&got) {
                assert!(
                    allowed.iter().any(|a| import.starts_with(a)),
                    "{} imports {import}, beyond its grants {:?}",
                    component.display(),
                    case.grants
                );
            }
        }
    }
}

/// One language and stage from nothing: new, the unit tests, build, and a run.
fn from_nothing(lang: &str, stage: &str, input: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("my-{lang}-{stage}");
    ok(weir()
        .current_dir(dir.path())
        .args(["plugin", "new", &name, "--lang", lang, "--stage", stage]));
    let folder = dir.path().join(&name);
    assert!(folder.join("weir-plugin.toml").is_file());
    // Build first: it installs the toolchain whose Python runs the unit tests. The Rust
    // builds share one target folder, so the SDK's dependencies compile once.
    let built = ok(weir()
        .current_dir(dir.path())
        .args(["plugin", "build"])
        .arg(&name)
        .env(
            "CARGO_TARGET_DIR",
            repo().join("target").join("plugin-new-test"),
        ));
    assert!(
        built.contains(&format!("built {name} ({lang} {stage}")),
        "{built}"
    );
    let component = dir
        .path()
        .join("target")
        .join("plugins")
        .join(format!("{name}.wasm"));
    assert!(component.is_file(), "{built}");
    match lang {
        "python" => {
            ok(Command::new(toolchain_python())
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
                .current_dir(&folder));
        }
        "js" => {
            ok(Command::new("node").arg("--test").current_dir(&folder));
        }
        _ => {
            ok(
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .args(["test", "-q", "--manifest-path"])
                    .arg(folder.join("Cargo.toml"))
                    .env(
                        "CARGO_TARGET_DIR",
                        repo().join("target").join("plugin-new-test"),
                    ),
            );
        }
    }
    let input_file = dir.path().join("input.jsonl");
    std::fs::write(&input_file, input).expect("input");
    let grants = if stage == "emitter" {
        "config,outbox"
    } else {
        "config"
    };
    let out = ok(weir()
        .args(["plugin", "test"])
        .arg(&component)
        .arg("--input")
        .arg(&input_file)
        .arg(format!("--grants={grants}"))
        .args(["--config", "min=10"]));
    let lines = outcomes(&out);
    for want in expect {
        assert!(
            lines.iter().any(|l| l == want),
            "{lang} {stage}: no line {want:?} in\n{out}"
        );
    }
}

const FROM_NOTHING_INPUT: &str = "{\"value\": 11}\n{\"value\": \"9\"}\n{\"other\": 1}\n";

#[test]
fn a_new_plugin_in_each_language_tests_builds_and_runs() {
    for lang in ["python", "js", "rust"] {
        from_nothing(
            lang,
            "filter",
            FROM_NOTHING_INPUT,
            &[
                "1\tkept",
                "2\tdropped",
                "3\tfailed: missing-field: field `value` is missing",
            ],
        );
        from_nothing(
            lang,
            "transformer",
            FROM_NOTHING_INPUT,
            &[&format!(
                "1\t-> {{\"value\":11,\"processed_by\":\"my-{lang}-transformer\"}}"
            )],
        );
        from_nothing(
            lang,
            "emitter",
            FROM_NOTHING_INPUT,
            &[
                "1\tdelivered",
                "outbox\tpublish my-{lang}-emitter/out qos1: {\"value\": 11}"
                    .replace("{lang}", lang)
                    .as_str(),
            ],
        );
    }
}

/// A bug in a Python or JavaScript plugin (an exception that is not one of the SDK's record
/// errors) fails its whole batch as a Rust panic does: the component traps, the host reports a
/// `panic` fault, and the next batch runs on a fresh instance.
#[test]
fn a_plugin_bug_fails_its_batch_as_a_panic_in_python_and_javascript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = [
        (
            "python",
            "plugin.py",
            "import weir_sdk\nfrom weir_sdk import json\n\n\nclass Buggy(weir_sdk.Filter):\n    def __init__(self, host):\n        pass\n\n    def keep(self, record, host):\n        value = json.number_field(record.json_fields([\"value\"]), \"value\")\n        if value == 13:\n            return 1 // 0\n        return value > 10\n\n\nweir_sdk.export_filter(Buggy)\n",
        ),
        (
            "js",
            "plugin.js",
            "import { exportFilter, json } from 'weir:sdk';\n\nexport class Plugin {\n  keep(record) {\n    const value = json.numberField(record.jsonFields(['value']), 'value');\n    if (value === 13) return record.no.such.field;\n    return value > 10;\n  }\n}\n\nexportFilter(Plugin);\n",
        ),
    ];
    let input = dir.path().join("input.jsonl");
    std::fs::write(
        &input,
        "{\"value\": 11}\n{\"value\": 13}\n{\"value\": 12}\n{\"value\": 5}\n",
    )
    .expect("input");
    for (lang, file, source) in sources {
        let name = format!("buggy-{lang}");
        ok(weir()
            .current_dir(dir.path())
            .args(["plugin", "new", &name, "--lang", lang, "--stage", "filter"]));
        std::fs::write(dir.path().join(&name).join(file), source).expect("plugin source");
        ok(weir()
            .current_dir(dir.path())
            .args(["plugin", "build"])
            .arg(&name));
        let component = dir.path().join(format!("target/plugins/{name}.wasm"));
        let out = ok(weir()
            .args(["plugin", "test"])
            .arg(&component)
            .arg("--input")
            .arg(&input)
            .args(["--grants=config", "--batch", "1"]));
        let lines: Vec<String> = outcomes(&out)
            .into_iter()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(lines.len(), 4, "{lang}: {out}");
        assert_eq!(lines[0], "1\tkept", "{lang}: {out}");
        assert!(
            lines[1].starts_with("2\tbatch failed: ") && lines[1].contains(": panic: "),
            "{lang}: the bug fails its batch as a panic: {out}"
        );
        assert_eq!(
            &lines[2..],
            ["3\tkept", "4\tdropped"],
            "{lang}: the next batches run on a fresh instance: {out}"
        );
    }
}

#[test]
fn the_python_and_javascript_sdks_pass_their_own_suites() {
    let python = toolchain_python();
    ok(Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("guest-sdk/python/tests"))
        .current_dir(repo()));
    for plugin in ["speed-limit", "owner-enrich", "syslog-to-json"] {
        ok(Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(repo().join("plugins/python").join(plugin)));
        ok(Command::new("node")
            .arg("--test")
            .current_dir(repo().join("plugins/js").join(plugin)));
    }
    ok(Command::new("node")
        .arg("--test")
        .current_dir(repo().join("guest-sdk/js")));
}
