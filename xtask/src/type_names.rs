//! One name per concept: no two crates of the workspace define a public type with the same
//! name.
//!
//! Two `FirehoseConfig`s with different meanings make a reader (and rust-analyzer's import
//! suggestions) pick the wrong one. This parses every `.rs` file under the `src/` folders of
//! the product's crates (`host/*`, `device`, `abi`, `guest-sdk`, `plugins/*`; not the vendored
//! `patches/` or the fuzz workspace) with `syn` and collects every `pub` struct, enum, union,
//! trait and type alias, inline modules included and `#[cfg(test)]` items left out. A name
//! defined by two crates fails `cargo xtask deps`, unless [`ALLOWED_COLLISIONS`] lists it with
//! every crate that defines it. Types a macro defines are seen when the macro's body or call spells
//! `pub struct NAME` (or enum, ...) out; types generated from other input (wit-bindgen's) are
//! not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Collisions that existed when the check was written: the name and the crates that define
/// it. A collision not listed here fails the check; an entry that no longer collides is
/// reported so the list only shrinks. Do not add to it: rename the new type instead.
pub const ALLOWED_COLLISIONS: &[(&str, &[&str])] = &[
    // The same WIT type seen from both sides of the component boundary (the guest SDK and the
    // host's plugin runtime): one concept, one name on purpose.
    ("EmitFailure", &["weir-plugins", "weir-sdk"]),
    ("FilterResult", &["weir-plugins", "weir-sdk"]),
    ("Record", &["weir-plugins", "weir-sdk"]),
    ("RecordError", &["weir-plugins", "weir-sdk"]),
    ("TransformResult", &["weir-plugins", "weir-sdk"]),
    // A config section and the component it configures (`[api]` / the API server's settings,
    // `[[plugins]]` / a loaded plugin, a plugin's grants).
    ("ApiConfig", &["weir-api", "weir-config"]),
    ("PluginSpec", &["weir-config", "weir-plugins"]),
    ("Grant", &["weir-config", "weir-plugins"]),
];

/// Folders (relative to the workspace root) whose crates are checked.
const CHECKED: &[&str] = &["host/", "device/", "abi/", "guest-sdk/", "plugins/"];
/// Folders left out: vendored code and the fuzz workspace.
const SKIPPED: &[&str] = &["patches/", "host/fuzz/"];

/// The crates to check and the `src` folders of their library and binary targets.
pub fn crates(root: &Path, meta: &Value) -> Vec<(String, Vec<PathBuf>)> {
    let empty = Vec::new();
    let members = crate::crate_map::workspace_members(meta);
    let mut out = Vec::new();
    for p in meta["packages"].as_array().unwrap_or(&empty) {
        if !p["id"].as_str().is_some_and(|id| members.contains(id)) {
            continue;
        }
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        let Some(manifest) = p["manifest_path"].as_str().map(Path::new) else {
            continue;
        };
        let rel = manifest.strip_prefix(root).unwrap_or(manifest);
        let rel = rel.to_string_lossy();
        if !CHECKED.iter().any(|c| rel.starts_with(c)) || SKIPPED.iter().any(|s| rel.starts_with(s))
        {
            continue;
        }
        let mut dirs: Vec<PathBuf> = p["targets"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter(|t| {
                t["kind"].as_array().is_some_and(|ks| {
                    ks.iter().any(|k| {
                        matches!(
                            k.as_str(),
                            Some("lib" | "rlib" | "cdylib" | "bin" | "staticlib")
                        )
                    })
                })
            })
            .filter_map(|t| Some(Path::new(t["src_path"].as_str()?).parent()?.to_path_buf()))
            .collect();
        dirs.sort();
        dirs.dedup();
        // A binary in `src/bin/` lives under the library's `src/`: walk `src/` once.
        let all = dirs.clone();
        dirs.retain(|d| !all.iter().any(|o| o != d && d.starts_with(o)));
        out.push((name.to_string(), dirs));
    }
    out.sort();
    out
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether attributes carry `#[cfg(test)]` (test-only items are not part of a crate's API).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The `pub` type names in `items`, inline modules included.
fn public_types(items: &[syn::Item], out: &mut Vec<String>) {
    use syn::{Item, Visibility};
    for item in items {
        let (vis, ident, attrs) = match item {
            Item::Struct(i) => (&i.vis, &i.ident, &i.attrs),
            Item::Enum(i) => (&i.vis, &i.ident, &i.attrs),
            Item::Union(i) => (&i.vis, &i.ident, &i.attrs),
            Item::Trait(i) => (&i.vis, &i.ident, &i.attrs),
            Item::Type(i) => (&i.vis, &i.ident, &i.attrs),
            Item::Macro(m) => {
                // `macro_rules!` bodies and macro calls: types written out in their tokens.
                macro_types(m.mac.tokens.clone(), out);
                continue;
            }
            Item::Mod(m) => {
                if !is_test_only(&m.attrs) {
                    if let Some((_, inner)) = &m.content {
                        public_types(inner, out);
                    }
                }
                continue;
            }
            _ => continue,
        };
        if matches!(vis, Visibility::Public(_)) && !is_test_only(attrs) {
            out.push(ident.to_string());
        }
    }
}

/// `pub struct NAME`, `pub enum NAME`, ... written literally in a macro's tokens, such as a
/// table macro that defines an enum: what the macro would define when its name is not a
/// `$metavariable`. `pub(crate)` and the like are not public.
fn macro_types(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => macro_types(g.stream(), out),
            TokenTree::Ident(kw) if kw == "pub" => {
                let keyword = trees.get(i + 1);
                let name = trees.get(i + 2);
                if let (Some(TokenTree::Ident(k)), Some(TokenTree::Ident(n))) = (keyword, name) {
                    if ["struct", "enum", "union", "trait", "type"]
                        .iter()
                        .any(|w| k == w)
                    {
                        out.push(n.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

/// The `pub` type names a Rust source file defines.
pub fn public_types_in(source: &str) -> Result<Vec<String>> {
    let file = syn::parse_file(source)?;
    let mut out = Vec::new();
    public_types(&file.items, &mut out);
    Ok(out)
}

/// Public type name -> the crates that define it, for names defined by two crates or more.
pub fn collisions(crates: &[(String, Vec<PathBuf>)]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut defined: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (krate, dirs) in crates {
        for dir in dirs {
            for file in rust_files(dir)? {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let names = public_types_in(&text)
                    .with_context(|| format!("cannot parse {}", file.display()))?;
                for n in names {
                    defined.entry(n).or_default().insert(krate.clone());
                }
            }
        }
    }
    Ok(defined
        .into_iter()
        .filter(|(_, crates)| crates.len() > 1)
        .map(|(n, crates)| (n, crates.into_iter().collect()))
        .collect())
}

/// What the allow-list does not cover (failures) and the entries it no longer needs (notes).
pub fn judge(
    found: &BTreeMap<String, Vec<String>>,
    allowed: &[(&str, &[&str])],
) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    for (name, crates) in found {
        let ok = allowed
            .iter()
            .any(|(n, cs)| n == name && crates.iter().all(|c| cs.contains(&c.as_str())));
        if !ok {
            failures.push(format!(
                "public type `{name}` is defined by {}: give each its own name",
                crates.join(", ")
            ));
        }
    }
    let mut stale = Vec::new();
    for (name, cs) in allowed {
        let still = found
            .get(*name)
            .is_some_and(|crates| cs.iter().filter(|c| crates.iter().any(|k| k == *c)).count() > 1);
        if !still {
            stale.push(format!(
                "`{name}` no longer collides: remove it from type_names::ALLOWED_COLLISIONS"
            ));
        }
    }
    (failures, stale)
}

/// `cargo xtask deps`: distinct public type names.
pub fn check(root: &Path, meta: &Value) -> Result<()> {
    let crates = crates(root, meta);
    let found = collisions(&crates)?;
    let (failures, stale) = judge(&found, ALLOWED_COLLISIONS);
    for s in &stale {
        println!("note: {s}");
    }
    if !failures.is_empty() {
        bail!(
            "public type names collide across crates:\n  {}",
            failures.join("\n  ")
        );
    }
    println!(
        "public type names distinct: {} crates, {} allowed collision(s) left",
        crates.len(),
        ALLOWED_COLLISIONS.len() - stale.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"
        pub struct Firehose;
        pub(crate) struct Hidden;
        struct Private;
        pub enum PutOutcome { A }
        pub trait Sink {}
        pub type Alias = u8;
        pub mod inner { pub struct Nested; }
        #[cfg(test)]
        mod tests { pub struct OnlyInTests; }
        #[cfg(test)]
        pub struct AlsoOnlyInTests;
        pub fn not_a_type() {}
        macro_rules! m { ($name:ident) => { pub struct FromMacro; pub struct $name; pub(crate) enum Not {} } }
        table! { pub enum FromCall { A } }
    "#;

    #[test]
    fn public_types_are_found_and_the_rest_ignored() {
        let mut names = public_types_in(FIXTURE).expect("parses");
        names.sort();
        assert_eq!(
            names,
            [
                "Alias",
                "Firehose",
                "FromCall",
                "FromMacro",
                "Nested",
                "PutOutcome",
                "Sink"
            ]
        );
    }

    /// Two fixture crates that share `Firehose` and `Nested`: both collide, the allow-list
    /// covers one, and an entry that no longer collides is reported.
    #[test]
    fn a_new_collision_fails_and_a_stale_allowance_is_noted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a/src");
        let b = dir.path().join("b/src/deep");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        std::fs::write(a.join("lib.rs"), FIXTURE).expect("write");
        std::fs::write(
            b.join("x.rs"),
            "pub struct Firehose(u8);\npub struct Nested;\n",
        )
        .expect("write");
        let crates = vec![
            ("crate-a".to_string(), vec![a]),
            ("crate-b".to_string(), vec![dir.path().join("b/src")]),
        ];
        let found = collisions(&crates).expect("scan");
        assert_eq!(found.keys().collect::<Vec<_>>(), ["Firehose", "Nested"]);
        let allowed: &[(&str, &[&str])] = &[
            ("Firehose", &["crate-a", "crate-b"]),
            ("Gone", &["crate-a", "crate-b"]),
        ];
        let (failures, stale) = judge(&found, allowed);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("`Nested` is defined by crate-a, crate-b"));
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("`Gone`"));
        // An allowance for other crates does not cover this pair.
        let (failures, _) = judge(&found, &[("Firehose", &["crate-a", "crate-c"])]);
        assert_eq!(failures.len(), 2, "{failures:?}");
    }
}
