//! `weir-plugin.toml`: what a plugin folder is (its name, language, stage and grants), read by
//! `weir plugin build` and written by `weir plugin new`.
//!
//! ```toml
//! name = "speed-limit-python"   # the component: target/plugins/NAME.wasm
//! lang = "python"               # rust | python | js
//! stage = "filter"              # filter | transformer | emitter
//! grants = ["config"]           # any of log, config, lookup, outbox (outbox: emitters only)
//! ```
//!
//! The grants matter most for Python and JavaScript: their toolchains import every interface
//! of the world they build against, so the build makes that world from these grants, and the
//! component can import nothing else. A Rust folder needs no manifest: its crate name and the
//! interfaces its code calls are enough.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use weir_plugins::Grant;

/// The manifest's file name.
pub const FILE: &str = "weir-plugin.toml";

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Lang> {
        match s {
            "rust" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "js" | "javascript" => Ok(Lang::Js),
            _ => bail!("unknown language {s:?} (expected rust, python or js)"),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A plugin's stage of the connector pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Filter,
    Transformer,
    Emitter,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Filter => "filter",
            Stage::Transformer => "transformer",
            Stage::Emitter => "emitter",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Stage> {
        match s {
            "filter" => Ok(Stage::Filter),
            "transformer" => Ok(Stage::Transformer),
            "emitter" => Ok(Stage::Emitter),
            _ => bail!("unknown stage {s:?} (expected filter, transformer or emitter)"),
        }
    }

    /// The interface a 0.1.1 component of this stage exports.
    pub fn export(self) -> &'static str {
        match self {
            Stage::Filter => "filter-batch",
            Stage::Transformer => "transform-batch",
            Stage::Emitter => "emit-batch",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The grants a plugin may declare: the host's own interfaces. WASI stays out: Python and
/// JavaScript plugins are built with WASI stubbed, and a Rust plugin that needs a clock is
/// granted one in the host's configuration, not here.
pub const GRANTABLE: [Grant; 4] = [Grant::Log, Grant::Config, Grant::Lookup, Grant::Outbox];

/// A plugin folder's manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub lang: Lang,
    pub stage: Stage,
    /// In [`GRANTABLE`] order, each once.
    pub grants: Vec<Grant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    lang: String,
    stage: String,
    #[serde(default)]
    grants: Vec<String>,
}

impl Manifest {
    /// Reads `DIR/weir-plugin.toml`; every error names the file and the key.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("{}", path.display()))
    }

    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> anyhow::Result<Manifest> {
        let raw: Raw = toml::from_str(text).context("not a valid plugin manifest")?;
        check_name(&raw.name).context("`name`")?;
        let lang = Lang::parse(&raw.lang).context("`lang`")?;
        let stage = Stage::parse(&raw.stage).context("`stage`")?;
        let mut grants = Vec::new();
        for g in &raw.grants {
            let grant: Grant = g
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))
                .context("`grants`")?;
            if !GRANTABLE.contains(&grant) {
                bail!("`grants`: {g:?} cannot be declared here (any of log, config, lookup, outbox; WASI is granted in the host's configuration)");
            }
            if grant == Grant::Outbox && stage != Stage::Emitter {
                bail!("`grants`: \"outbox\" is for emitters; this plugin is a {stage}");
            }
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        grants.sort_by_key(|g| GRANTABLE.iter().position(|x| x == g));
        Ok(Manifest {
            name: raw.name,
            lang,
            stage,
            grants,
        })
    }

    /// The manifest as `weir plugin new` writes it.
    pub fn render(&self) -> String {
        let grants: Vec<String> = self
            .grants
            .iter()
            .map(|g| format!("\"{}\"", g.name()))
            .collect();
        format!(
            "# A Weir plugin: `weir plugin build .` builds it into target/plugins/{name}.wasm.\n\
             name = \"{name}\"\n\
             lang = \"{lang}\"\n\
             stage = \"{stage}\"\n\
             # What the host lets it call: any of \"log\", \"config\", \"lookup\", \"outbox\" \
             (emitters).\n\
             # The component imports exactly these; the host's [plugins.NAME] grants must \
             include them.\n\
             grants = [{grants}]\n",
            name = self.name,
            lang = self.lang,
            stage = self.stage,
            grants = grants.join(", ")
        )
    }

    /// The world the component is built against: the package's interfaces, imported as
    /// granted, and the stage's packed export.
    pub fn world(&self, world: &str) -> String {
        let mut text = format!("\nworld {world} {{\n");
        for g in &self.grants {
            text.push_str(&format!("    import {};\n", g.name()));
        }
        text.push_str(&format!("    export {};\n}}\n", self.stage.export()));
        text
    }
}

/// A plugin name: what names its file and its `[plugins.NAME]` entry.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !ok {
        bail!("{name:?} is not a plugin name: 1-64 characters, a-z, 0-9, '-' and '_', starting with a letter");
    }
    Ok(())
}

/// Where a build goes by default: `target/plugins/NAME.wasm` under the working directory.
pub fn default_output(name: &str) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    Ok(cwd
        .join("target")
        .join("plugins")
        .join(format!("{name}.wasm")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_its_world_imports_only_the_grants() {
        let m = Manifest::parse(
            "name = \"speed-limit-python\"\nlang = \"python\"\nstage = \"filter\"\n\
             grants = [\"lookup\", \"config\", \"config\"]\n",
        )
        .expect("valid");
        assert_eq!(m.grants, vec![Grant::Config, Grant::Lookup]);
        assert_eq!(Manifest::parse(&m.render()).expect("rendered"), m);
        assert_eq!(
            m.world("weir-build"),
            "\nworld weir-build {\n    import config;\n    import lookup;\n    export filter-batch;\n}\n"
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        let longest = format!("a{}", "b".repeat(63));
        check_name(&longest).expect("64 characters");
        for bad in [
            "".to_string(),
            format!("{longest}c"),
            "é".into(),
            "café".into(),
            ".".into(),
            "..".into(),
            "/x".into(),
            "x/".into(),
            "a//b".into(),
            "a\nb".into(),
            "a\u{7f}".into(),
            "-x".into(),
            "1x".into(),
            "X".into(),
        ] {
            assert!(check_name(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_manifests_name_the_key() {
        let cases = [
            (
                "name = \"X\"\nlang = \"python\"\nstage = \"filter\"\n",
                "`name`",
            ),
            (
                "name = \"x\"\nlang = \"cobol\"\nstage = \"filter\"\n",
                "`lang`",
            ),
            ("name = \"x\"\nlang = \"js\"\nstage = \"sink\"\n", "`stage`"),
            (
                "name = \"x\"\nlang = \"js\"\nstage = \"filter\"\ngrants = [\"outbox\"]\n",
                "for emitters",
            ),
            (
                "name = \"x\"\nlang = \"js\"\nstage = \"filter\"\ngrants = [\"wasi:clocks\"]\n",
                "cannot be declared",
            ),
            (
                "name = \"x\"\nlang = \"js\"\nstage = \"filter\"\ngrants = [\"net\"]\n",
                "unknown grant",
            ),
            (
                "name = \"x\"\nlang = \"js\"\nstage = \"filter\"\nentry = \"a.js\"\n",
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Manifest::parse(text).expect_err(text));
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
