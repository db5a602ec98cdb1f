//! Kinesis Data Analytics applications in the host: the catalog behind the application API
//! (`weir_api::Analytics`, `STORAGE/analytics/applications.json`), opened at start and
//! served on `[api] listen`, and the runner that runs the applications it says are RUNNING
//! (`app.rs`: one thread each; `checkpoint.rs`: `STORAGE/analytics/checkpoints/NAME.json`;
//! `engine.rs`: what the runner needs of the SQL engine).

mod app;
mod checkpoint;
mod engine;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use weir_api::analytics_runner::{AnalyticsRunner, RunError, RunSpec};
use weir_config::Config;
use weir_support::lock;

use self::app::{App, Running, Sinks};
use self::engine::Compiler;
use super::host::HostError;

/// Opens the applications' catalog in `STORAGE/analytics` and the runner of its
/// applications (over the host's streams and delivery streams, with the KDA SQL engine),
/// which runs again every application the catalog has RUNNING.
pub(super) fn open(
    config: &Config,
    streams: &weir_streams::Streams,
    firehose: Option<&weir_firehose::Firehose>,
    runtime: tokio::runtime::Handle,
) -> Result<(weir_api::Analytics, Arc<Runner>), HostError> {
    let dir = config.storage.dir.join("analytics");
    let analytics = weir_api::Analytics::open(&dir)
        .map_err(|e| HostError::storage(&dir, "opening the analytics applications", e))?;
    let checkpoints = dir.join("checkpoints");
    let runner = Runner::new(
        engine::sql(),
        Sinks {
            streams: streams.clone(),
            firehose: firehose.cloned(),
            functions: firehose.and_then(|f| f.config().processor.0.clone()),
        },
        checkpoints.clone(),
    )
    .map_err(|e| HostError::storage(&checkpoints, "creating the folder", e))?
    .with_objects(Objects {
        stores: Arc::new(weir_firehose::Stores::new(super::firehose::storage_of(
            config,
        ))),
        runtime,
    });
    let runner = Arc::new(runner);
    analytics.attach(runner.clone());
    Ok((analytics, runner))
}

/// Where reference data sources are read: the buckets Firehose writes (`[s3]` or the folder
/// store under `STORAGE/s3`), on the API's runtime.
pub(crate) struct Objects {
    pub stores: Arc<weir_firehose::Stores>,
    pub runtime: tokio::runtime::Handle,
}

/// Runs applications: one [`App`] thread per RUNNING application.
pub(crate) struct Runner {
    compile: Compiler,
    sinks: Sinks,
    objects: Option<Objects>,
    /// `STORAGE/analytics/checkpoints`.
    dir: PathBuf,
    running: Mutex<HashMap<String, Running>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("dir", &self.dir).finish()
    }
}

impl Runner {
    pub(crate) fn new(compile: Compiler, sinks: Sinks, dir: PathBuf) -> std::io::Result<Runner> {
        weir_support::create_dir_all_synced(&dir)?;
        Ok(Runner {
            compile,
            sinks,
            objects: None,
            dir,
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Reads reference data sources from `objects`.
    pub(crate) fn with_objects(mut self, objects: Objects) -> Runner {
        self.objects = Some(objects);
        self
    }

    /// Each reference data source's table, loaded from its object now (AWS loads it when
    /// the application starts or its reference configuration changes).
    fn tables(&self, spec: &RunSpec) -> Result<Vec<engine::Table>, RunError> {
        let mut out = Vec::new();
        for r in &spec.references {
            let objects = self.objects.as_ref().ok_or_else(|| {
                RunError::Configuration("this host reads no buckets for reference data".into())
            })?;
            let what = format!(
                "reference data source {} (s3://{}/{})",
                r.table, r.bucket, r.key
            );
            let bytes = objects
                .runtime
                .block_on(objects.stores.get(&r.bucket, &r.key))
                .map_err(|e| RunError::Configuration(format!("{what}: {e}")))?;
            let rows = weir_analytics::reference::load(&r.schema, &bytes)
                .map_err(|e| RunError::Configuration(format!("{what}: {e}")))?;
            out.push((r.table.clone(), r.schema.schema(), rows));
        }
        Ok(out)
    }

    /// Stops every application (each saves its checkpoint): the host is stopping.
    pub(crate) fn stop_all(&self) {
        let all: Vec<Running> = lock(&self.running).drain().map(|(_, r)| r).collect();
        for r in all {
            r.stop();
        }
    }
}

impl AnalyticsRunner for Runner {
    fn run(&self, spec: &RunSpec) -> Result<(), RunError> {
        let inputs: Vec<(String, weir_analytics::StreamSchema)> = spec
            .inputs
            .iter()
            .map(|i| (i.stream.clone(), i.schema.schema()))
            .collect();
        let tables = self.tables(spec)?;
        let engine = (self.compile)(&spec.code, &inputs, &tables)
            .map_err(|e| RunError::Code(e.to_string()))?;
        App::check(spec, &self.sinks).map_err(RunError::Configuration)?;
        // The running configuration of this name stops first, saving where it was, and the
        // new one (an update while RUNNING) goes on from there, whatever position its
        // inputs were started at.
        let mut spec = spec.clone();
        if let Some(old) = lock(&self.running).remove(&spec.name) {
            old.stop();
            for i in &mut spec.inputs {
                i.start = weir_api::analytics_runner::StartFrom::LastStoppedPoint;
            }
        }
        let path = checkpoint::path(&self.dir, &spec.name);
        let saved = checkpoint::load(&path).map_err(|e| RunError::Configuration(e.to_string()))?;
        let app = App::new(spec.clone(), engine, self.sinks.clone(), path, saved)
            .map_err(RunError::Configuration)?;
        let running = app
            .spawn()
            .map_err(|e| RunError::Configuration(format!("cannot start its thread: {e}")))?;
        lock(&self.running).insert(spec.name.clone(), running);
        Ok(())
    }

    fn stop(&self, name: &str) {
        let r = lock(&self.running).remove(name);
        if let Some(r) = r {
            r.stop();
        }
    }

    fn forget(&self, name: &str) {
        let path = checkpoint::path(&self.dir, name);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(application = name, error = %e, "cannot remove the checkpoint");
            }
        }
    }
}
