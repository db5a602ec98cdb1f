//! The Python and JavaScript component toolchains, installed on first use.
//!
//! `weir plugin build` needs componentize-py for Python and jco with componentize-js for
//! JavaScript. Both are pinned (the versions the SDKs were written and tested against; a newer
//! preview2-shim breaks `jco componentize`), installed once per machine under
//! `$WEIR_TOOLCHAINS` (default `$XDG_CACHE_HOME/weir/toolchains`, else
//! `~/.cache/weir/toolchains`): componentize-py into a Python venv, jco from the lock file the
//! JavaScript SDK ships. An install holds a lock file, so builds started together install
//! once, and is marked complete only at its end, so an interrupted one is redone.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use super::plugin_embedded as embedded;

/// componentize-py's pinned version.
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// jco's pinned version (componentize-js and the shim are pinned by the lock file).
pub const JCO: &str = "1.35.0";

/// Written last by an install; a folder without it is installed again.
const READY: &str = ".weir-ready";

/// The folder that holds every toolchain.
pub fn root() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WEIR_TOOLCHAINS").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(user_cache()?.join("toolchains"))
}

/// `$XDG_CACHE_HOME/weir`, else `~/.cache/weir`: the toolchains, and the compiled code of
/// `weir plugin test`.
pub fn user_cache() -> anyhow::Result<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .context("neither XDG_CACHE_HOME nor HOME is set: cannot choose a cache folder")?;
    Ok(cache.join("weir"))
}

/// componentize-py, installed if needed: the path of its executable.
pub fn componentize_py() -> anyhow::Result<PathBuf> {
    let dir = root()?.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let exe = dir.join("bin").join("componentize-py");
    install_once(&dir, "componentize-py", |dir| {
        let python = std::env::var_os("WEIR_PYTHON").unwrap_or_else(|| "python3".into());
        run(
            Command::new(&python).arg("-m").arg("venv").arg(dir),
            "create a Python venv (Debian: apt-get install python3-venv)",
        )?;
        run(
            Command::new(dir.join("bin").join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("componentize-py=={COMPONENTIZE_PY}"))
                .arg("pytest"),
            "install componentize-py with pip",
        )
    })?;
    Ok(exe)
}

/// jco and componentize-js, installed if needed: their `node_modules` folder.
pub fn jco() -> anyhow::Result<PathBuf> {
    // Named by the lock file's checksum too: an SDK that pins other packages installs anew.
    let lock = embedded::JS_TOOLCHAIN
        .iter()
        .map(|(_, text)| crc32c::crc32c(text.as_bytes()))
        .fold(0u32, |a, c| a.rotate_left(5) ^ c);
    let dir = root()?.join(format!("jco-{JCO}-{lock:08x}"));
    install_once(&dir, "jco", |dir| {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in embedded::JS_TOOLCHAIN {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
        }
        run(
            Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(dir),
            "install jco with npm (Node.js 18 or later and npm are needed)",
        )
    })?;
    Ok(dir.join("node_modules"))
}

/// Runs `install` into `dir` unless a complete install is there, holding a lock meanwhile.
fn install_once(
    dir: &Path,
    what: &str,
    install: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if dir.join(READY).is_file() {
        return Ok(());
    }
    let parent = dir.parent().context("a toolchain folder has a parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut lock_name = dir.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let lock_path = dir.with_file_name(lock_name);
    let lock = File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    let _held =
        Flock::take(&lock).with_context(|| format!("cannot lock {}", lock_path.display()))?;
    // Another build may have finished the install while this one waited for the lock.
    if dir.join(READY).is_file() {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot remove the incomplete {}", dir.display()))?;
    }
    eprintln!(
        "installing {what} into {} (once per machine)",
        dir.display()
    );
    install(dir).with_context(|| format!("cannot install {what} into {}", dir.display()))?;
    std::fs::write(dir.join(READY), b"")
        .with_context(|| format!("cannot mark {} installed", dir.display()))?;
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot {what}: cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!(
            "cannot {what}: {:?} failed with {status}",
            cmd.get_program()
        );
    }
    Ok(())
}

/// An exclusive `flock(2)`, released on drop (and by the kernel if the process dies).
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn take(file: &'a File) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a descriptor this function borrows for the lock's lifetime.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Flock(file));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `take`.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
