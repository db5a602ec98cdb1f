//! `weir plugin new NAME --lang rust|python|js --stage filter|transformer|emitter`: a plugin
//! folder that builds, with a unit test that passes, ready to be changed.
//!
//! Every folder gets a `weir-plugin.toml` ([`Manifest`]). Rust gets a crate whose `weir-sdk`
//! dependency points at the SDK of the Weir source tree this binary was built from (or
//! `--sdk`). Python and JavaScript get the SDK this binary carries, copied into `.weir-sdk/`
//! so the unit tests (`pytest`, `node --test`) run with nothing else installed;
//! `weir plugin build` writes it again (a fresh clone of a plugin, whose `.gitignore` leaves the
//! copy out, gets it back with its first build).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use weir_plugins::Grant;

use super::plugin_embedded as embedded;
use super::plugin_manifest::{check_name, Lang, Manifest, Stage};

/// Where `weir plugin new` copies the Python or JavaScript SDK inside a plugin folder.
pub const SDK_COPY: &str = ".weir-sdk";

pub struct Options {
    pub name: String,
    pub lang: Lang,
    pub stage: Stage,
    /// Default `./NAME`.
    pub dir: Option<PathBuf>,
    /// Rust: the `weir-sdk` crate's folder.
    pub sdk: Option<PathBuf>,
}

pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let dir = opts
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&opts.name));
    create(opts, &dir)?;
    println!(
        "created {} ({} {}) in {}\n  test:  {}\n  build: weir plugin build {}",
        opts.name,
        opts.lang,
        opts.stage,
        dir.display(),
        match opts.lang {
            Lang::Rust => format!("cargo test --manifest-path {}/Cargo.toml", dir.display()),
            Lang::Python => format!(
                "cd {} && python3 -m pytest  (pytest is in the toolchain's venv after the first \
                 build: {}/componentize-py-{}/bin/python -m pytest)",
                dir.display(),
                super::toolchain::root()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "$WEIR_TOOLCHAINS".into()),
                super::toolchain::COMPONENTIZE_PY
            ),
            Lang::Js => format!("cd {} && node --test", dir.display()),
        },
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the folder; refuses one that exists and is not empty.
pub fn create(opts: &Options, dir: &Path) -> anyhow::Result<()> {
    check_name(&opts.name).context("NAME")?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty: choose another NAME or --dir",
            dir.display()
        );
    }
    let mut grants = vec![Grant::Config];
    if opts.stage == Stage::Emitter {
        grants.push(Grant::Outbox);
    }
    let manifest = Manifest {
        name: opts.name.clone(),
        lang: opts.lang,
        stage: opts.stage,
        grants,
    };
    let mut files: Vec<(PathBuf, String)> =
        vec![(PathBuf::from("weir-plugin.toml"), manifest.render())];
    let fill = |t: &str| t.replace("{{name}}", &opts.name);
    match opts.lang {
        Lang::Rust => {
            let sdk = rust_sdk(opts.sdk.as_deref())?;
            let sdk = sdk.display().to_string().replace('\\', "/");
            files.push((
                "Cargo.toml".into(),
                fill(embedded::RUST_CARGO_TOML).replace("{{sdk}}", &sdk),
            ));
            files.push((
                "src/lib.rs".into(),
                fill(embedded::rust_template(opts.stage)),
            ));
            files.push((".gitignore".into(), "/target\n".into()));
        }
        Lang::Python => {
            let (plugin, test) = embedded::python_template(opts.stage);
            files.push(("plugin.py".into(), fill(plugin)));
            files.push(("test_plugin.py".into(), fill(test)));
            files.push(("conftest.py".into(), embedded::PYTHON_CONFTEST.to_string()));
            files.push((
                ".gitignore".into(),
                format!("/{SDK_COPY}\n__pycache__/\n/target\n"),
            ));
        }
        Lang::Js => {
            let (plugin, test) = embedded::js_template(opts.stage);
            files.push(("plugin.js".into(), fill(plugin)));
            files.push(("plugin.test.mjs".into(), fill(test)));
            files.push((".gitignore".into(), format!("/{SDK_COPY}\n/target\n")));
        }
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    write_sdk_copy(dir, opts.lang)?;
    Ok(())
}

/// Writes (or refreshes) the SDK copy of a Python or JavaScript plugin folder.
pub fn write_sdk_copy(dir: &Path, lang: Lang) -> anyhow::Result<()> {
    let sdk: &[(&str, &str)] = match lang {
        Lang::Rust => return Ok(()),
        Lang::Python => embedded::PYTHON_SDK,
        Lang::Js => embedded::JS_SDK,
    };
    let root = dir.join(SDK_COPY);
    for (rel, text) in sdk {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The `weir-sdk` crate a new Rust plugin depends on: `--sdk`, else `WEIR_RUST_SDK`, else the
/// source tree this binary was built from.
fn rust_sdk(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("WEIR_RUST_SDK").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"));
    let manifest = candidate.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "the Rust SDK (weir-sdk) is not at {}: pass --sdk PATH to the guest-sdk folder of a Weir source tree",
            candidate.display()
        );
    }
    std::fs::canonicalize(&candidate)
        .with_context(|| format!("cannot resolve {}", candidate.display()))
}
