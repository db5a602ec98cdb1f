//! The vendored rumqttd is upstream 0.20.0 plus a committed diff, and nothing else.
//!
//! `patches/rumqttd` is rumqttd 0.20.0 as published on crates.io with Weir's patches
//! (`patches/rumqttd/PATCHES.md`). The root `[patch.crates-io]` points at the folder, so cargo
//! never downloads the registry copy and nothing would notice an edit that is not in the
//! patch list. `cargo xtask deps` therefore fetches the pristine crate with cargo itself (a
//! throwaway manifest depending on `rumqttd = "=0.20.0"` without the patch), checks it against
//! the checksum pinned here, applies `patches/rumqttd.diff` to it in memory and compares the
//! result with the vendored folder file by file; any file that drifts is named.
//!
//! The `.crate` is cached as `target/xtask/rumqttd-0.20.0.crate` (checked against the pinned
//! checksum at every run), so only the first run needs the registry.
//! `cargo xtask rumqttd-diff` rewrites the diff from the vendored folder after a deliberate
//! change (it runs `diff -u` per file).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// The upstream release the vendored folder is based on.
pub const VERSION: &str = "0.20.0";
/// SHA-256 of `rumqttd-0.20.0.crate` on crates.io (the checksum cargo records in a lockfile).
pub const CRATE_SHA256: &str = "32399b9dee6e96350790223dd7356bf7f8f15009d7e58e20f4093f1137213e16";
/// The vendored folder, relative to the workspace root.
pub const VENDORED: &str = "patches/rumqttd";
/// Weir's changes as one unified diff against the pristine crate (`a/PATH`, `b/PATH`).
pub const DIFF: &str = "patches/rumqttd.diff";

/// Upstream files that are not vendored: cargo's packaging metadata, the examples and the
/// crate's lockfile (the folder is built as a path dependency of Weir's workspace).
const NOT_VENDORED: &[&str] = &[
    ".cargo_vcs_info.json",
    "Cargo.toml.orig",
    "Cargo.lock",
    "examples/",
];
/// Vendored paths outside the comparison: Weir's notes, and what a separate build of the
/// folder leaves behind (both ignored by git).
const WEIR_ONLY: &[&str] = &["PATCHES.md", "Cargo.lock", "target/"];

/// A tree of files: path relative to the crate root (with `/`) to contents.
pub type Files = BTreeMap<String, Vec<u8>>;

fn listed(path: &str, list: &[&str]) -> bool {
    list.iter().any(|l| match l.strip_suffix('/') {
        Some(dir) => path.starts_with(dir) && path[dir.len()..].starts_with('/'),
        None => path == *l,
    })
}

/// `cargo xtask deps`: the vendored folder equals upstream plus the diff.
pub fn check(root: &Path) -> Result<()> {
    let pristine = unpack(&pristine_crate(root)?)?;
    let diff = read_diff(root)?;
    let problems = drift(&pristine, &diff, &root.join(VENDORED))?;
    if !problems.is_empty() {
        bail!(
            "{VENDORED} is not rumqttd {VERSION} plus {DIFF}:\n  {}\n(a deliberate change: \
             describe it in {VENDORED}/PATCHES.md and run `cargo xtask rumqttd-diff`)",
            problems.join("\n  ")
        );
    }
    println!(
        "vendored rumqttd holds: {} files are upstream {VERSION} plus {DIFF} ({} files patched)",
        pristine.keys().filter(|p| !listed(p, NOT_VENDORED)).count(),
        diff.matches("\n+++ ").count() + usize::from(diff.starts_with("+++ "))
    );
    Ok(())
}

fn read_diff(root: &Path) -> Result<String> {
    let path = root.join(DIFF);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// What `dir` has that upstream plus `diff` does not, one line per file; empty when they agree.
pub fn drift(pristine: &Files, diff: &str, dir: &Path) -> Result<Vec<String>> {
    let mut expected: Files = pristine
        .iter()
        .filter(|(p, _)| !listed(p, NOT_VENDORED))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    apply(&mut expected, diff)
        .with_context(|| format!("{DIFF} does not apply to rumqttd {VERSION}"))?;
    let actual = read_tree(dir)?;
    let mut problems = Vec::new();
    for (path, want) in &expected {
        match actual.get(path) {
            None => problems.push(format!("{path}: missing")),
            Some(have) if have != want => problems.push(format!("{path}: differs")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("{path}: not in upstream nor in the diff"));
    }
    Ok(problems)
}

/// Every file under `dir` except [`WEIR_ONLY`].
pub fn read_tree(dir: &Path) -> Result<Files> {
    let mut files = Files::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry?.path();
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if listed(&rel, WEIR_ONLY) {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                files.insert(rel, bytes);
            }
        }
    }
    Ok(files)
}

/// The pristine `.crate`, from the cache under `target/` or fetched by cargo; either way it
/// must match [`CRATE_SHA256`].
pub fn pristine_crate(root: &Path) -> Result<Vec<u8>> {
    let cache = crate::target_dir(root)
        .join("xtask")
        .join(format!("rumqttd-{VERSION}.crate"));
    if let Ok(bytes) = std::fs::read(&cache) {
        if sha256(&bytes) == CRATE_SHA256 {
            return Ok(bytes);
        }
    }
    let fetched = fetch_with_cargo(root)?;
    let bytes =
        std::fs::read(&fetched).with_context(|| format!("cannot read {}", fetched.display()))?;
    let sum = sha256(&bytes);
    if sum != CRATE_SHA256 {
        bail!(
            "{} has SHA-256 {sum}, not rumqttd {VERSION}'s {CRATE_SHA256}",
            fetched.display()
        );
    }
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Written aside and renamed, so a concurrent run never reads half a file.
    let partial = cache.with_extension(format!("crate.{}", std::process::id()));
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, &cache))
        .with_context(|| format!("cannot write {}", cache.display()))?;
    Ok(bytes)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Has cargo download rumqttd from the registry through a throwaway manifest (its own
/// workspace, so the root's `[patch]` does not apply) and returns the `.crate` in cargo's
/// cache. The workspace's lockfile is copied in first so the other packages resolve to the
/// versions already downloaded.
fn fetch_with_cargo(root: &Path) -> Result<PathBuf> {
    let probe = crate::target_dir(root).join("xtask").join("rumqttd-fetch");
    std::fs::create_dir_all(probe.join("src")).with_context(|| format!("{}", probe.display()))?;
    std::fs::write(
        probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"rumqttd-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\nrumqttd = \"={VERSION}\"\n\n[workspace]\n"
        ),
    )?;
    std::fs::write(probe.join("src/lib.rs"), "")?;
    let lock = probe.join("Cargo.lock");
    if !lock.exists() {
        // Best effort: without it cargo resolves afresh, which only costs downloads.
        let _ = std::fs::copy(root.join("Cargo.lock"), &lock);
    }
    let manifest = probe.join("Cargo.toml");
    let out = crate::cargo()
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo could not fetch rumqttd {VERSION}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let src_manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "rumqttd" && p["version"] == VERSION)
        .and_then(|p| p["manifest_path"].as_str())
        .context("cargo metadata does not list rumqttd")?;
    // CARGO_HOME/registry/src/INDEX/rumqttd-V/Cargo.toml -> CARGO_HOME/registry/cache/INDEX/rumqttd-V.crate
    let src_dir = Path::new(src_manifest)
        .parent()
        .context("rumqttd's manifest has no folder")?;
    let index = src_dir.parent().context("no registry index folder")?;
    let registry = index
        .parent()
        .and_then(Path::parent)
        .context("no registry folder")?;
    let cached = registry
        .join("cache")
        .join(index.file_name().context("no index name")?)
        .join(format!("rumqttd-{VERSION}.crate"));
    if !cached.is_file() {
        bail!("cargo fetched rumqttd but {} is missing", cached.display());
    }
    Ok(cached)
}

/// The files of a `.crate` (a gzipped tar with one top folder), paths relative to that folder.
pub fn unpack(krate: &[u8]) -> Result<Files> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(krate));
    let mut files = Files::new();
    for entry in archive.entries().context("not a .crate")? {
        let mut entry = entry.context("corrupt .crate")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().context("bad path in .crate")?.into_owned();
        let rel: Vec<String> = path
            .components()
            .skip(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if rel.is_empty() {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).context("corrupt .crate")?;
        files.insert(rel.join("/"), bytes);
    }
    Ok(files)
}

/// One file's change in a unified diff.
struct FilePatch<'a> {
    /// `None` for a file the diff creates.
    old: Option<String>,
    /// `None` for a file the diff deletes.
    new: Option<String>,
    hunks: Vec<Hunk<'a>>,
}

struct Hunk<'a> {
    old_start: usize,
    lines: Vec<&'a str>,
}

fn diff_path(header: &str, prefix: &str) -> Option<String> {
    let p = header.split('\t').next().unwrap_or(header).trim_end();
    if p == "/dev/null" {
        return None;
    }
    Some(p.strip_prefix(prefix).unwrap_or(p).to_string())
}

/// Parses a unified diff as `diff -u` and `git diff` write it (paths `a/...` and `b/...`).
fn parse(diff: &str) -> Result<Vec<FilePatch<'_>>> {
    let mut patches: Vec<FilePatch<'_>> = Vec::new();
    let mut lines = diff.split_inclusive('\n').enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        if let Some(old) = line.strip_prefix("--- ") {
            let Some((_, new)) = lines.next().filter(|(_, l)| l.starts_with("+++ ")) else {
                bail!("line {}: `---` without `+++`", n + 1);
            };
            patches.push(FilePatch {
                old: diff_path(old, "a/"),
                new: diff_path(&new[4..], "b/"),
                hunks: Vec::new(),
            });
        } else if let Some(range) = line.strip_prefix("@@ -") {
            let file = patches
                .last_mut()
                .with_context(|| format!("line {}: hunk before a file header", n + 1))?;
            let (old_range, rest) = range
                .split_once(' ')
                .with_context(|| format!("line {}: bad hunk header", n + 1))?;
            let new_range = rest
                .strip_prefix('+')
                .and_then(|r| r.split(' ').next())
                .with_context(|| format!("line {}: bad hunk header", n + 1))?;
            let count = |r: &str| -> Result<(usize, usize)> {
                let (start, len) = r.split_once(',').unwrap_or((r, "1"));
                Ok((start.parse()?, len.parse()?))
            };
            let (old_start, mut old_left) =
                count(old_range).with_context(|| format!("line {}: bad hunk header", n + 1))?;
            let (_, mut new_left) =
                count(new_range).with_context(|| format!("line {}: bad hunk header", n + 1))?;
            let mut hunk = Hunk {
                old_start,
                lines: Vec::new(),
            };
            while old_left > 0
                || new_left > 0
                || lines.peek().is_some_and(|(_, l)| l.starts_with('\\'))
            {
                let Some((m, l)) = lines.next() else {
                    bail!("line {}: hunk ends early", n + 1);
                };
                match l.as_bytes().first() {
                    Some(b' ') | Some(b'\n') => {
                        old_left = old_left
                            .checked_sub(1)
                            .context(format!("line {}: hunk too long", m + 1))?;
                        new_left = new_left
                            .checked_sub(1)
                            .context(format!("line {}: hunk too long", m + 1))?;
                    }
                    Some(b'-') => {
                        old_left = old_left
                            .checked_sub(1)
                            .context(format!("line {}: hunk too long", m + 1))?;
                    }
                    Some(b'+') => {
                        new_left = new_left
                            .checked_sub(1)
                            .context(format!("line {}: hunk too long", m + 1))?;
                    }
                    Some(b'\\') => {}
                    _ => bail!("line {}: not a hunk line: {l:?}", m + 1),
                }
                hunk.lines.push(l);
            }
            file.hunks.push(hunk);
        }
        // Anything else (`diff -u ...` command lines, `Only in`, git's `index` lines) is
        // commentary.
    }
    Ok(patches)
}

/// Applies `diff` to `files` strictly: every context and removed line must be where the hunk
/// says, as when the diff was made from exactly these files.
pub fn apply(files: &mut Files, diff: &str) -> Result<()> {
    for patch in parse(diff)? {
        let name = patch
            .new
            .as_deref()
            .or(patch.old.as_deref())
            .unwrap_or("?")
            .to_string();
        let old_text = match &patch.old {
            Some(p) => String::from_utf8(
                files
                    .remove(p)
                    .with_context(|| format!("{p}: not in the tree to patch"))?,
            )
            .with_context(|| format!("{p}: not UTF-8"))?,
            None => String::new(),
        };
        let old: Vec<&str> = old_text.split_inclusive('\n').collect();
        let mut new: Vec<String> = Vec::new();
        let mut at = 0; // next unconsumed line of `old`
        for hunk in &patch.hunks {
            // `-0,0` (a file created from nothing) starts before line 1.
            let start = hunk.old_start.saturating_sub(1);
            if start < at || start > old.len() {
                bail!("{name}: hunk at line {} out of order", hunk.old_start);
            }
            new.extend(old[at..start].iter().map(|l| l.to_string()));
            at = start;
            // Which sides the previous line went to, for `\ No newline at end of file`.
            let mut last = (false, false);
            let mut removed: Vec<String> = Vec::new();
            for l in &hunk.lines {
                let body = &l[1.min(l.len())..];
                match l.as_bytes().first() {
                    Some(b' ') | Some(b'\n') => {
                        let body = if l.starts_with('\n') { "\n" } else { body };
                        removed.push(body.to_string());
                        new.push(body.to_string());
                        last = (true, true);
                    }
                    Some(b'-') => {
                        removed.push(body.to_string());
                        last = (true, false);
                    }
                    Some(b'+') => {
                        new.push(body.to_string());
                        last = (false, true);
                    }
                    Some(b'\\') => {
                        if last.0 {
                            if let Some(r) = removed.last_mut() {
                                chomp(r);
                            }
                        }
                        if last.1 {
                            if let Some(n) = new.last_mut() {
                                chomp(n);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let end = at + removed.len();
            if end > old.len() || old[at..end].iter().zip(&removed).any(|(a, b)| *a != b) {
                bail!(
                    "{name}: hunk at line {} does not match the file",
                    hunk.old_start
                );
            }
            at = end;
        }
        new.extend(old[at..].iter().map(|l| l.to_string()));
        if let Some(p) = patch.new {
            files.insert(p, new.concat().into_bytes());
        }
    }
    Ok(())
}

/// Drops a line's newline (`\ No newline at end of file`).
fn chomp(line: &mut String) {
    if line.ends_with('\n') {
        line.pop();
    }
}

/// `cargo xtask rumqttd-diff`: rewrites [`DIFF`] from the vendored folder (`diff -u` per file,
/// paths `a/...` and `b/...`, which `patch -p1` and `git apply` take).
pub fn write_diff(root: &Path) -> Result<()> {
    let pristine = unpack(&pristine_crate(root)?)?;
    let text = make_diff(&pristine, &root.join(VENDORED))?;
    let path = root.join(DIFF);
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {} ({} lines)", path.display(), text.lines().count());
    check(root)
}

/// The unified diff from the pristine files (less [`NOT_VENDORED`]) to the tree in `dir`.
pub fn make_diff(pristine: &Files, dir: &Path) -> Result<String> {
    let actual = read_tree(dir)?;
    let scratch = scratch_dir()?;
    let mut paths: Vec<&String> = pristine
        .keys()
        .filter(|p| !listed(p, NOT_VENDORED))
        .chain(actual.keys())
        .collect();
    paths.sort();
    paths.dedup();
    let mut out = String::new();
    for path in paths {
        let (old, new) = (pristine.get(path.as_str()), actual.get(path.as_str()));
        if old == new {
            continue;
        }
        let left = scratch.join("old");
        std::fs::write(&left, old.map(Vec::as_slice).unwrap_or_default())?;
        let mut cmd = Command::new("diff");
        cmd.arg("-u")
            .arg("--label")
            .arg(if old.is_some() {
                format!("a/{path}")
            } else {
                "/dev/null".into()
            })
            .arg("--label")
            .arg(if new.is_some() {
                format!("b/{path}")
            } else {
                "/dev/null".into()
            })
            .arg(if old.is_some() {
                left.clone()
            } else {
                PathBuf::from("/dev/null")
            })
            .arg(if new.is_some() {
                dir.join(path)
            } else {
                PathBuf::from("/dev/null")
            });
        let result = cmd.output().context("cannot run diff (GNU diffutils)")?;
        if result.status.code() != Some(1) {
            bail!(
                "diff failed on {path}: {}",
                String::from_utf8_lossy(&result.stderr)
            );
        }
        out.push_str(
            &String::from_utf8(result.stdout).with_context(|| format!("{path}: not UTF-8"))?,
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}

/// A folder for `diff`'s left-hand files.
fn scratch_dir() -> Result<PathBuf> {
    let scratch = std::env::temp_dir().join(format!("xtask-rumqttd-diff-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("{}", scratch.display()))?;
    Ok(scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Files {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    fn write_tree(dir: &Path, tree: &Files) {
        for (p, b) in tree {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, b).expect("write");
        }
    }

    const DIFF_TEXT: &str = "\
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,4 @@
+#![allow(warnings)]
 mod a;
-mod b;
+mod held;
 fn main() {}
--- a/.gitignore
+++ b/.gitignore
@@ -1 +1,2 @@
-stage/
\\ No newline at end of file
+stage/
+/Cargo.lock
--- /dev/null
+++ b/src/held.rs
@@ -0,0 +1 @@
+pub struct Held;
";

    fn upstream() -> Files {
        files(&[
            ("src/lib.rs", "mod a;\nmod b;\nfn main() {}\n"),
            ("src/a.rs", "pub fn a() {}\n"),
            (".gitignore", "stage/"),
            ("examples/demo.rs", "fn main() {}\n"),
            ("Cargo.toml.orig", "[package]\n"),
        ])
    }

    #[test]
    fn a_diff_applies_strictly() {
        let mut tree = upstream();
        apply(&mut tree, DIFF_TEXT).expect("applies");
        assert_eq!(
            tree["src/lib.rs"],
            b"#![allow(warnings)]\nmod a;\nmod held;\nfn main() {}\n"
        );
        assert_eq!(tree[".gitignore"], b"stage/\n/Cargo.lock\n");
        assert_eq!(tree["src/held.rs"], b"pub struct Held;\n");
        // The same diff against a file that moved on does not apply.
        let mut moved = upstream();
        moved.insert(
            "src/lib.rs".into(),
            b"mod a;\nmod c;\nfn main() {}\n".to_vec(),
        );
        let err = apply(&mut moved, DIFF_TEXT).expect_err("context differs");
        assert!(err.to_string().contains("src/lib.rs"), "{err}");
    }

    /// On a copy in a temp folder: the tree that is upstream plus the diff passes; a changed,
    /// an added and a removed file are each named.
    #[test]
    fn a_drifting_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut want = upstream();
        apply(&mut want, DIFF_TEXT).expect("applies");
        want.retain(|p, _| !listed(p, NOT_VENDORED));
        want.insert("PATCHES.md".into(), b"Weir's notes\n".to_vec());
        want.insert("target/debug/junk".into(), b"built\n".to_vec());
        write_tree(dir.path(), &want);
        assert_eq!(
            drift(&upstream(), DIFF_TEXT, dir.path()).expect("drift"),
            Vec::<String>::new()
        );

        std::fs::write(dir.path().join("src/a.rs"), "pub fn a() { panic!() }\n").expect("write");
        std::fs::write(dir.path().join("src/extra.rs"), "\n").expect("write");
        std::fs::remove_file(dir.path().join("src/held.rs")).expect("rm");
        assert_eq!(
            drift(&upstream(), DIFF_TEXT, dir.path()).expect("drift"),
            [
                "src/a.rs: differs",
                "src/held.rs: missing",
                "src/extra.rs: not in upstream nor in the diff"
            ]
        );
    }

    /// `rumqttd-diff` writes what `apply` reads back (needs GNU diff).
    #[test]
    fn a_written_diff_reproduces_the_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut want = upstream();
        apply(&mut want, DIFF_TEXT).expect("applies");
        want.retain(|p, _| !listed(p, NOT_VENDORED));
        want.insert("src/a.rs".into(), b"pub fn a() {}\n// no newline".to_vec());
        write_tree(dir.path(), &want);
        let diff = make_diff(&upstream(), dir.path()).expect("diff");
        assert_eq!(
            drift(&upstream(), &diff, dir.path()).expect("drift"),
            Vec::<String>::new()
        );
    }

    /// The real thing, on a copy: the vendored folder is upstream 0.20.0 plus the committed
    /// diff, and one changed byte in a copy is reported. Fetches the crate with cargo the first
    /// time (registry access), then reads the cache under target/.
    #[test]
    fn the_vendored_rumqttd_is_upstream_plus_the_diff() {
        let root = crate::workspace_root();
        let pristine = unpack(&pristine_crate(&root).expect("rumqttd 0.20.0")).expect("unpack");
        let diff = read_diff(&root).expect("diff");
        let copy = tempfile::tempdir().expect("tempdir");
        let vendored = read_tree(&root.join(VENDORED)).expect("vendored");
        write_tree(copy.path(), &vendored);
        assert_eq!(
            drift(&pristine, &diff, copy.path()).expect("drift"),
            Vec::<String>::new()
        );
        let routing = copy.path().join("src/router/routing.rs");
        let mut text = std::fs::read_to_string(&routing).expect("routing.rs");
        text.push_str("// an edit that is not in the diff\n");
        std::fs::write(&routing, text).expect("write");
        assert_eq!(
            drift(&pristine, &diff, copy.path()).expect("drift"),
            ["src/router/routing.rs: differs"]
        );
    }
}
