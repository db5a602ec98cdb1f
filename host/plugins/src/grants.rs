//! Capabilities: which imports a plugin may use, and the check that enforces it at load time.
//!
//! A plugin has no ambient authority. Its configuration names the Weir interfaces it may import
//! (`log`, `config`, `lookup`, `outbox`); WASI is limited to what a Rust (or other) guest's
//! standard library needs to run at all — stdio streams that the host captures, an empty
//! environment, `exit`, and randomness for hash maps. Filesystem, sockets and clocks are never
//! linked unless granted by name (`wasi:filesystem`, `wasi:sockets`, `wasi:clocks`), and even
//! then no directory is pre-opened by this runtime.

use std::fmt;
use std::str::FromStr;

/// One named capability a plugin's configuration can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grant {
    /// `weir:plugin/log`.
    Log,
    /// `weir:plugin/config`.
    Config,
    /// `weir:plugin/lookup`.
    Lookup,
    /// `weir:plugin/outbox` (emitters only).
    Outbox,
    /// `wasi:clocks/*`: wall and monotonic time.
    WasiClocks,
    /// `wasi:filesystem/*` (no directories are pre-opened by default).
    WasiFilesystem,
    /// `wasi:sockets/*`.
    WasiSockets,
}

impl Grant {
    /// Every grant, for error messages.
    pub const ALL: [Grant; 7] = [
        Grant::Log,
        Grant::Config,
        Grant::Lookup,
        Grant::Outbox,
        Grant::WasiClocks,
        Grant::WasiFilesystem,
        Grant::WasiSockets,
    ];

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Grant::Log => "log",
            Grant::Config => "config",
            Grant::Lookup => "lookup",
            Grant::Outbox => "outbox",
            Grant::WasiClocks => "wasi:clocks",
            Grant::WasiFilesystem => "wasi:filesystem",
            Grant::WasiSockets => "wasi:sockets",
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Grant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Grant::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Grant::ALL.iter().map(|g| g.name()).collect();
                format!(
                    "unknown grant {s:?} (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// What an import needs: a grant, or nothing because every guest may have it.
fn required_grant(import: &str) -> Result<Option<Grant>, ()> {
    // Strip the `@version` so any 0.2.x WASI and 0.1.x Weir import is judged alike.
    let name = import.split('@').next().unwrap_or(import);
    let (package, _) = name.split_once('/').unwrap_or((name, ""));
    match (package, name) {
        (_, "weir:plugin/types") => Ok(None),
        (_, "weir:plugin/log") => Ok(Some(Grant::Log)),
        (_, "weir:plugin/config") => Ok(Some(Grant::Config)),
        (_, "weir:plugin/lookup") => Ok(Some(Grant::Lookup)),
        (_, "weir:plugin/outbox") => Ok(Some(Grant::Outbox)),
        // What a standard library needs to start and to report a panic: captured stdio, an
        // empty environment, exit, streams and randomness for hash-map seeds.
        ("wasi:io" | "wasi:random", _) => Ok(None),
        (
            _,
            "wasi:cli/environment"
            | "wasi:cli/exit"
            | "wasi:cli/stdin"
            | "wasi:cli/stdout"
            | "wasi:cli/stderr"
            | "wasi:cli/terminal-input"
            | "wasi:cli/terminal-output"
            | "wasi:cli/terminal-stdin"
            | "wasi:cli/terminal-stdout"
            | "wasi:cli/terminal-stderr",
        ) => Ok(None),
        ("wasi:clocks", _) => Ok(Some(Grant::WasiClocks)),
        ("wasi:filesystem", _) => Ok(Some(Grant::WasiFilesystem)),
        ("wasi:sockets", _) => Ok(Some(Grant::WasiSockets)),
        _ => Err(()),
    }
}

/// Why a component's imports are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRefusal {
    /// The import needs a grant the configuration does not give.
    NotGranted {
        /// The import's full name, e.g. `weir:plugin/lookup@0.1.0`.
        import: String,
        /// The grant that would allow it.
        grant: Grant,
    },
    /// Weir provides nothing under this name.
    Unknown {
        /// The import's full name.
        import: String,
    },
}

impl fmt::Display for ImportRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportRefusal::NotGranted { import, grant } => write!(
                f,
                "imports `{import}`, which its configuration does not grant (add \"{grant}\" to grants)"
            ),
            ImportRefusal::Unknown { import } => {
                write!(f, "imports `{import}`, which Weir does not provide to plugins")
            }
        }
    }
}

/// Checks every import against the grants; all refusals are returned at once.
pub fn check_imports<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    granted: &[Grant],
) -> Result<(), Vec<ImportRefusal>> {
    let refusals: Vec<ImportRefusal> = imports
        .into_iter()
        .filter_map(|import| match required_grant(import) {
            Ok(None) => None,
            Ok(Some(grant)) if granted.contains(&grant) => None,
            Ok(Some(grant)) => Some(ImportRefusal::NotGranted {
                import: import.to_string(),
                grant,
            }),
            Err(()) => Some(ImportRefusal::Unknown {
                import: import.to_string(),
            }),
        })
        .collect();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_by_name_and_reject_unknown_names() {
        assert_eq!("lookup".parse::<Grant>(), Ok(Grant::Lookup));
        assert_eq!("wasi:clocks".parse::<Grant>(), Ok(Grant::WasiClocks));
        let err = "network".parse::<Grant>().unwrap_err();
        assert!(
            err.contains("\"network\"") && err.contains("outbox"),
            "{err}"
        );
    }

    #[test]
    fn ungranted_and_unknown_imports_are_all_named() {
        let imports = [
            "weir:plugin/types@0.1.0",
            "weir:plugin/log@0.1.0",
            "weir:plugin/lookup@0.1.0",
            "wasi:io/streams@0.2.6",
            "wasi:cli/stderr@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "evil:net/raw",
        ];
        let refusals = check_imports(imports, &[Grant::Log]).unwrap_err();
        let text: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("`weir:plugin/lookup@0.1.0`") && text[0].contains("\"lookup\""));
        assert!(
            text[1].contains("wasi:filesystem/preopens") && text[1].contains("\"wasi:filesystem\"")
        );
        assert!(text[2].contains("evil:net/raw") && text[2].contains("does not provide"));
        assert!(check_imports(imports[..5].iter().copied(), &[Grant::Log, Grant::Lookup]).is_ok());
    }
}
