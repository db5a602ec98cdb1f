//! `weir plugin build DIR`: a plugin folder in Rust, Python or JavaScript into one component.
//!
//! - **Rust** (a folder with `Cargo.toml`): `cargo build --release --target wasm32-wasip2`;
//!   the component is the crate's `cdylib` artifact, as cargo reports it.
//! - **Python**: componentize-py, with WASI stubbed, against a world made from the manifest's
//!   grants ([`Manifest::world`]), the SDK the binary carries on its module path.
//! - **JavaScript**: the SDK's build script (`build.mjs`) with jco's componentize-js, against
//!   the same kind of world, WASI disabled.
//!
//! Every build ends with a check of the component itself: it exports its stage's 0.1.1
//! interface, and each import is one its manifest grants (a Rust folder without a manifest:
//! no WASI beyond what every guest may have). So a toolchain that quietly adds an import
//! fails here, naming it, not at load time in a running host.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use weir_plugins::{check_imports, Grant};

use super::plugin_embedded as embedded;
use super::plugin_manifest::{self as manifest, Lang, Manifest, Stage};
use super::toolchain;

/// The world name of a build's narrowed world.
const WORLD: &str = "weir-build";
/// The Python module componentize-py starts from: the SDK's, which imports `plugin`.
const PYTHON_APP: &str = embedded::PYTHON_APP;

pub struct Options {
    pub dir: PathBuf,
    pub out: Option<PathBuf>,
}

/// What a build needs to know about its folder.
struct Plan {
    name: String,
    lang: Lang,
    /// `None`: a Rust folder without one (its stage is read from the component).
    manifest: Option<Manifest>,
}

fn plan(dir: &Path) -> anyhow::Result<Plan> {
    if dir.join(manifest::FILE).is_file() {
        let m = Manifest::read(dir)?;
        if m.lang == Lang::Rust && !dir.join("Cargo.toml").is_file() {
            bail!("{}: lang is rust but there is no Cargo.toml", dir.display());
        }
        return Ok(Plan {
            name: m.name.clone(),
            lang: m.lang,
            manifest: Some(m),
        });
    }
    let cargo = dir.join("Cargo.toml");
    if cargo.is_file() {
        let text = std::fs::read_to_string(&cargo)
            .with_context(|| format!("cannot read {}", cargo.display()))?;
        let doc: toml::Table =
            toml::from_str(&text).with_context(|| format!("{}: not TOML", cargo.display()))?;
        let name = doc
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .with_context(|| format!("{}: no [package] name", cargo.display()))?;
        return Ok(Plan {
            name: name.to_string(),
            lang: Lang::Rust,
            manifest: None,
        });
    }
    bail!(
        "{}: neither {} nor Cargo.toml: not a plugin folder (`weir plugin new NAME` makes one)",
        dir.display(),
        manifest::FILE
    )
}

/// `weir plugin build`: prints one line about the component and where it went.
pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let built = build(&opts.dir, opts.out.as_deref())?;
    println!(
        "built {} ({} {}, {}) -> {} ({:.1} KiB, {:.1} s); imports: {}",
        built.name,
        built.lang,
        built.stage,
        built.export,
        built.path.display(),
        built.size as f64 / 1024.0,
        started.elapsed().as_secs_f64(),
        if built.imports.is_empty() {
            "none".to_string()
        } else {
            built.imports.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A component `build` made.
pub struct Built {
    pub name: String,
    pub lang: Lang,
    pub stage: Stage,
    pub export: String,
    pub imports: Vec<String>,
    pub path: PathBuf,
    pub size: u64,
}

/// Builds the folder into `out` (default `target/plugins/NAME.wasm` under the working
/// directory) and checks the component.
pub fn build(dir: &Path, out: Option<&Path>) -> anyhow::Result<Built> {
    let plan = plan(dir)?;
    let out = match out {
        Some(p) => p.to_path_buf(),
        None => manifest::default_output(&plan.name)?,
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Written next to the output and renamed over it, so a failed build never leaves half a
    // component where a host would load it.
    let partial = out.with_extension("wasm.partial");
    match (&plan.lang, &plan.manifest) {
        (Lang::Rust, _) => build_rust(dir, &partial)?,
        (Lang::Python, Some(m)) => build_python(dir, m, &partial)?,
        (Lang::Js, Some(m)) => build_js(dir, m, &partial)?,
        (_, None) => bail!("a {} plugin needs {}", plan.lang, manifest::FILE),
    }
    let bytes = std::fs::read(&partial)
        .with_context(|| format!("the build wrote no component at {}", partial.display()))?;
    let shape = inspect(&bytes).with_context(|| format!("{}", dir.display()))?;
    let stage = check(&plan, &shape).with_context(|| format!("{}", dir.display()))?;
    std::fs::rename(&partial, &out)
        .with_context(|| format!("cannot move the component to {}", out.display()))?;
    // A Python or JavaScript folder's unit tests import the SDK from `.weir-sdk/` (written by
    // `weir plugin new`, ignored by git): written at every build, so a fresh clone of a plugin
    // gets it back, and the tests run the SDK the component was built with.
    if plan.lang != Lang::Rust {
        super::plugin_new::write_sdk_copy(dir, plan.lang)?;
    }
    Ok(Built {
        name: plan.name,
        lang: plan.lang,
        stage,
        export: shape
            .exports
            .iter()
            .find(|e| stage_of_export(e).is_some())
            .cloned()
            .unwrap_or_default(),
        imports: shape.imports,
        path: out,
        size: bytes.len() as u64,
    })
}

/// A component's top-level import and export names.
struct Shape {
    imports: Vec<String>,
    exports: Vec<String>,
}

/// Reads the names of a component's own imports and exports (not those of the modules and
/// components nested in it).
fn inspect(bytes: &[u8]) -> anyhow::Result<Shape> {
    use wasmparser::{Parser, Payload};
    let mut shape = Shape {
        imports: Vec::new(),
        exports: Vec::new(),
    };
    let mut depth = 0usize;
    let mut component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.context("the output is not a WebAssembly binary")? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && !matches!(encoding, wasmparser::Encoding::Component) {
                    bail!("the output is a core module, not a component");
                }
                component = true;
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    shape.imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    shape.exports.push(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !component {
        bail!("the output is empty");
    }
    Ok(shape)
}

/// The stage a `weir:plugin/*-batch@0.1.x` export stands for.
fn stage_of_export(export: &str) -> Option<Stage> {
    let name = export.split('@').next().unwrap_or(export);
    match name {
        "weir:plugin/filter-batch" => Some(Stage::Filter),
        "weir:plugin/transform-batch" => Some(Stage::Transformer),
        "weir:plugin/emit-batch" => Some(Stage::Emitter),
        _ => None,
    }
}

/// The component is what its folder says: the stage's export, imports within the grants.
fn check(plan: &Plan, shape: &Shape) -> anyhow::Result<Stage> {
    let stages: Vec<Stage> = shape
        .exports
        .iter()
        .filter_map(|e| stage_of_export(e))
        .collect();
    let stage = match (stages.as_slice(), plan.manifest.as_ref().map(|m| m.stage)) {
        ([one], Some(want)) if *one != want => bail!(
            "the manifest says {want}, but the component exports {} ({})",
            one.export(),
            shape.exports.join(", ")
        ),
        ([one], _) => *one,
        _ => bail!(
            "the component exports no 0.1.1 stage interface (filter-batch, transform-batch or \
             emit-batch); it exports: {}",
            shape.exports.join(", ")
        ),
    };
    let mut grants = plan
        .manifest
        .as_ref()
        .map_or_else(|| manifest::GRANTABLE.to_vec(), |m| m.grants.clone());
    if plan.lang == Lang::Rust {
        // A Rust plugin imports only what its code calls; WASI clocks, files or sockets are
        // the host configuration's to grant, not the manifest's.
        grants.extend([Grant::WasiClocks, Grant::WasiFilesystem, Grant::WasiSockets]);
    }
    if let Err(refusals) = check_imports(shape.imports.iter().map(String::as_str), &grants) {
        let list: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        bail!(
            "the component imports what its manifest does not grant: {}",
            list.join("; ")
        );
    }
    if plan.lang != Lang::Rust {
        // Stubbed WASI: a Python or JavaScript component needs nothing of the system.
        if let Some(w) = shape.imports.iter().find(|i| i.starts_with("wasi:")) {
            bail!("the component imports {w}: the build should have stubbed WASI");
        }
    }
    Ok(stage)
}

/// `cargo build` of a Rust plugin crate; copies its component to `out`.
fn build_rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let manifest = dir.join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped());
    eprintln!(
        "$ cargo build --release --target wasm32-wasip2 --manifest-path {}",
        manifest.display()
    );
    let output = cmd.output().context("cannot start cargo")?;
    if !output.status.success() {
        bail!("cargo build failed with {}", output.status);
    }
    let mut wasm = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let cdylib = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|v| v == "cdylib"));
        let manifest_matches = msg["manifest_path"]
            .as_str()
            .and_then(|p| std::fs::canonicalize(p).ok())
            == std::fs::canonicalize(&manifest).ok();
        if !cdylib || !manifest_matches {
            continue;
        }
        wasm = msg["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"))
            .map(PathBuf::from);
    }
    let wasm = wasm.with_context(|| {
        format!(
            "cargo built no component: does {} say crate-type = [\"cdylib\"]?",
            manifest.display()
        )
    })?;
    std::fs::copy(&wasm, out)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), out.display()))?;
    Ok(())
}

/// Installs the `wasm32-wasip2` target with rustup when rustup is there and lacks it.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let Ok(listed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        // No rustup: cargo says so itself if the target is missing.
        return Ok(());
    };
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status()
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("rustup target add wasm32-wasip2 failed with {status}");
    }
    Ok(())
}

/// The folder a Python or JavaScript build works in: the narrowed WIT and the SDK.
fn prepare(m: &Manifest, sdk: &[(&str, &str)]) -> anyhow::Result<tempfile::TempDir> {
    let b = tempfile::Builder::new()
        .prefix("weir-plugin-build-")
        .tempdir()
        .context("cannot create a build folder")?;
    let wit = b.path().join("wit");
    std::fs::create_dir_all(&wit)?;
    let mut text = embedded::WIT.to_string();
    text.push_str(&m.world(WORLD));
    std::fs::write(wit.join("plugin.wit"), text)?;
    for (rel, content) in sdk {
        let path = b.path().join("sdk").join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(b)
}

fn build_python(dir: &Path, m: &Manifest, out: &Path) -> anyhow::Result<()> {
    if !dir.join("plugin.py").is_file() {
        bail!("{}: no plugin.py", dir.display());
    }
    let exe = toolchain::componentize_py()?;
    let b = prepare(m, embedded::PYTHON_SDK)?;
    let mut cmd = Command::new(&exe);
    cmd.arg("-d")
        .arg(b.path().join("wit"))
        .args(["-w", WORLD, "componentize", "--stub-wasi", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(b.path().join("sdk"))
        .arg(PYTHON_APP)
        .arg("-o")
        .arg(out)
        // Otherwise a Python error in the plugin (say, an ImportError) is buried under the
        // Rust backtrace of componentize-py itself.
        .env("RUST_BACKTRACE", "0");
    run_tool(&mut cmd, "componentize-py")
}

fn build_js(dir: &Path, m: &Manifest, out: &Path) -> anyhow::Result<()> {
    if !dir.join("plugin.js").is_file() {
        bail!("{}: no plugin.js", dir.display());
    }
    let node_modules = toolchain::jco()?;
    let b = prepare(m, embedded::JS_SDK)?;
    let grants: Vec<&str> = m.grants.iter().map(|g| g.name()).collect();
    let mut cmd = Command::new("node");
    cmd.arg(b.path().join("sdk").join(embedded::JS_BUILD_SCRIPT))
        .arg("--wit")
        .arg(b.path().join("wit"))
        .args(["--world", WORLD, "--plugin"])
        .arg(dir)
        .args(["--stage", m.stage.name(), "--grants", &grants.join(",")])
        .arg("--out")
        .arg(out)
        .env("NODE_PATH", &node_modules);
    run_tool(&mut cmd, "the JavaScript build (node)")
}

fn run_tool(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {what} ({:?})", cmd.get_program()))?;
    if !status.success() {
        bail!("{what} failed with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(imports: &[&str], exports: &[&str]) -> Shape {
        Shape {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn python_filter(grants: Vec<Grant>) -> Plan {
        Plan {
            name: "x".into(),
            lang: Lang::Python,
            manifest: Some(Manifest {
                name: "x".into(),
                lang: Lang::Python,
                stage: Stage::Filter,
                grants,
            }),
        }
    }

    #[test]
    fn a_component_must_match_its_manifest() {
        let ok = shape(
            &["weir:plugin/types@0.1.1", "weir:plugin/config@0.1.1"],
            &["weir:plugin/filter-batch@0.1.1"],
        );
        assert_eq!(
            check(&python_filter(vec![Grant::Config]), &ok).expect("matches"),
            Stage::Filter
        );
        let err = check(&python_filter(vec![]), &ok).expect_err("config not granted");
        assert!(format!("{err:#}").contains("weir:plugin/config"), "{err:#}");
        let wasi = shape(
            &["wasi:io/streams@0.2.3"],
            &["weir:plugin/filter-batch@0.1.1"],
        );
        let err = check(&python_filter(vec![]), &wasi).expect_err("wasi");
        assert!(format!("{err:#}").contains("stubbed WASI"), "{err:#}");
        let wrong = shape(&[], &["weir:plugin/emit-batch@0.1.1"]);
        let err = check(&python_filter(vec![]), &wrong).expect_err("wrong stage");
        assert!(
            format!("{err:#}").contains("manifest says filter"),
            "{err:#}"
        );
        let legacy = shape(&[], &["weir:plugin/filter-stage@0.1.0"]);
        assert!(check(&python_filter(vec![]), &legacy).is_err());
        // A Rust crate without a manifest may import a WASI clock (the host grants it).
        let rust = Plan {
            name: "x".into(),
            lang: Lang::Rust,
            manifest: None,
        };
        let clock = shape(
            &["wasi:clocks/wall-clock@0.2.6", "weir:plugin/log@0.1.1"],
            &["weir:plugin/transform-batch@0.1.1"],
        );
        assert_eq!(check(&rust, &clock).expect("rust"), Stage::Transformer);
    }

    #[test]
    fn inspect_refuses_what_is_not_a_component() {
        assert!(inspect(b"").is_err());
        assert!(inspect(b"\0asm\x01\0\0\0").is_err());
        assert!(inspect(b"not wasm at all").is_err());
    }
}
