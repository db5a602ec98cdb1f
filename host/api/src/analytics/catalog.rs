//! The applications, kept in `STORAGE/analytics/applications.json` (written whole,
//! atomically and fsync'd, before an answer; a failed write changes nothing), so a restart
//! keeps every application, its version and its status (where each input stopped is the
//! runtime's, in its checkpoints).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shapes::{
    CloudWatchDescription, InputDescription, OutputDescription, ReferenceDescription,
};

/// The layout version of `applications.json`.
const FORMAT_VERSION: u64 = 1;

/// An application's status, as `ApplicationStatus` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Status {
    Deleting,
    Starting,
    Stopping,
    Ready,
    Running,
    Updating,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Deleting => "DELETING",
            Status::Starting => "STARTING",
            Status::Stopping => "STOPPING",
            Status::Ready => "READY",
            Status::Running => "RUNNING",
            Status::Updating => "UPDATING",
        }
    }
}

/// One application as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Application {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub arn: String,
    pub status: Status,
    /// `ApplicationVersionId`: 1 at creation, one more for every configuration change.
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub inputs: Vec<InputDescription>,
    #[serde(default)]
    pub outputs: Vec<OutputDescription>,
    #[serde(default)]
    pub references: Vec<ReferenceDescription>,
    #[serde(default)]
    pub cloudwatch: Vec<CloudWatchDescription>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The file's layout.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u64,
    applications: BTreeMap<String, Application>,
}

/// Why the catalog could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an applications catalog: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: layout version {found}, this Weir reads {FORMAT_VERSION}", path.display())]
    Version { path: PathBuf, found: u64 },
    #[error("{0}")]
    Write(#[from] weir_support::WriteError),
    #[error("creating {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The applications and where they are kept.
#[derive(Debug)]
pub(crate) struct Catalog {
    path: PathBuf,
    pub apps: BTreeMap<String, Application>,
}

impl Catalog {
    /// Reads `dir/applications.json` (none yet: no applications), creating `dir`.
    pub fn open(dir: &Path) -> Result<Catalog, CatalogError> {
        weir_support::create_dir_all_synced(dir).map_err(|source| CatalogError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("applications.json");
        let apps = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: File =
                    serde_json::from_slice(&bytes).map_err(|source| CatalogError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                if file.version != FORMAT_VERSION {
                    return Err(CatalogError::Version {
                        path,
                        found: file.version,
                    });
                }
                file.applications
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(CatalogError::Read { path, source }),
        };
        Ok(Catalog { path, apps })
    }

    /// Writes `apps` as the catalog (atomically, fsync'd); only then does the caller keep
    /// them, so memory never runs ahead of the disk.
    pub fn save(&self, apps: &BTreeMap<String, Application>) -> Result<(), CatalogError> {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u64,
            applications: &'a BTreeMap<String, Application>,
        }
        let bytes = serde_json::to_vec_pretty(&Out {
            version: FORMAT_VERSION,
            applications: apps,
        })
        .map_err(|source| CatalogError::Parse {
            path: self.path.clone(),
            source,
        })?;
        let tmp = self.path.with_extension(format!(
            "json.tmp-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        weir_support::write_atomic_via(&tmp, &self.path, &[&bytes])?;
        Ok(())
    }
}
