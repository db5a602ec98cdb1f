//! The Kinesis Data Analytics application API (v1, the SQL applications:
//! `X-Amz-Target: KinesisAnalytics_20150814.*`, JSON 1.1) on the same listener as Kinesis.
//!
//! Every request is first checked against botocore's model (`host/api/model/
//! kinesisanalytics.json`, through the Kinesis checker `actions::model::ServiceModel`), so
//! lengths, patterns, ranges, enums and required members fail as AWS's front end fails them
//! (ValidationException); the handlers here keep the checks AWS makes after it:
//! InvalidArgumentException (a schema that cannot be read, a missing stream, a second input),
//! ResourceNotFoundException, ResourceInUseException (the status does not allow it),
//! ConcurrentModificationException (a stale `CurrentApplicationVersionId`, or DeleteApplication's
//! `CreateTimestamp` of another application of that name), LimitExceededException,
//! TooManyTagsException.
//!
//! Every configuration change makes a new `ApplicationVersionId`; ids of inputs, outputs,
//! reference data sources and logging options are `VERSION.N` (the version the change made,
//! the part's place in it), as AWS numbers them. The catalog (`catalog.rs`) is written before
//! the answer. Inputs name Weir streams (`KinesisStreamsInput`) or delivery streams
//! (`KinesisFirehoseInput`), which must exist; outputs go to streams, delivery streams or a
//! plugin (`LambdaOutput`, by function name). CloudWatch logging options are stored and
//! shown, nothing more. DiscoverInputSchema samples a Weir stream and gives the records to
//! the engine's discovery. Files: `shapes.rs` (request and description shapes), `catalog.rs`
//! (the stored applications), `check.rs` (the semantic checks), `runner.rs` (what the host
//! that runs applications is asked), `discover.rs`, `tests.rs`.

mod catalog;
mod check;
mod discover;
pub mod runner;
mod shapes;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use weir_support::lock;

pub use self::catalog::CatalogError;
use self::catalog::{Application, Catalog, Status};
use self::runner::{AnalyticsRunner, RunError, StartFrom};
use self::shapes::*;
use crate::actions::model::ServiceModel;
use crate::error::{ApiError, ErrorKind};
use crate::request::{timestamp_of, Req};
use crate::value::{map, s, Val};
use crate::ApiState;

/// The reduced model, checked in as data (`host/api/model/gen_kinesisanalytics.py`).
const TABLE: &str = include_str!("../../model/kinesisanalytics.json");

static MODEL: LazyLock<ServiceModel> = LazyLock::new(|| ServiceModel::load(TABLE));

/// Applications per host, AWS's default quota per account and region.
pub const MAX_APPLICATIONS: usize = 50;
/// One streaming source per application, as on AWS.
pub const MAX_INPUTS: usize = 1;
/// Three destinations per application, as on AWS.
pub const MAX_OUTPUTS: usize = 3;
/// One reference data source per application, as on AWS.
pub const MAX_REFERENCES: usize = 1;
/// Tags per application, as on AWS.
pub const MAX_TAGS: usize = 50;

/// Every Kinesis Data Analytics operation Weir serves (the target after
/// `KinesisAnalytics_20150814.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsOperation {
    CreateApplication,
    DescribeApplication,
    ListApplications,
    UpdateApplication,
    DeleteApplication,
    StartApplication,
    StopApplication,
    AddApplicationInput,
    AddApplicationOutput,
    DeleteApplicationOutput,
    AddApplicationReferenceDataSource,
    DeleteApplicationReferenceDataSource,
    AddApplicationInputProcessingConfiguration,
    DeleteApplicationInputProcessingConfiguration,
    AddApplicationCloudWatchLoggingOption,
    DeleteApplicationCloudWatchLoggingOption,
    TagResource,
    UntagResource,
    ListTagsForResource,
    DiscoverInputSchema,
}

impl AnalyticsOperation {
    const ALL: [AnalyticsOperation; 20] = {
        use AnalyticsOperation::*;
        [
            CreateApplication,
            DescribeApplication,
            ListApplications,
            UpdateApplication,
            DeleteApplication,
            StartApplication,
            StopApplication,
            AddApplicationInput,
            AddApplicationOutput,
            DeleteApplicationOutput,
            AddApplicationReferenceDataSource,
            DeleteApplicationReferenceDataSource,
            AddApplicationInputProcessingConfiguration,
            DeleteApplicationInputProcessingConfiguration,
            AddApplicationCloudWatchLoggingOption,
            DeleteApplicationCloudWatchLoggingOption,
            TagResource,
            UntagResource,
            ListTagsForResource,
            DiscoverInputSchema,
        ]
    };

    /// Parses `KinesisAnalytics_20150814.<Operation>`.
    pub fn from_target(target: &str) -> Option<Self> {
        let op = target.strip_prefix("KinesisAnalytics_20150814.")?;
        Self::ALL.into_iter().find(|o| o.name() == op)
    }

    /// The operation's name, as the model and the target write it.
    pub fn name(self) -> &'static str {
        use AnalyticsOperation::*;
        match self {
            CreateApplication => "CreateApplication",
            DescribeApplication => "DescribeApplication",
            ListApplications => "ListApplications",
            UpdateApplication => "UpdateApplication",
            DeleteApplication => "DeleteApplication",
            StartApplication => "StartApplication",
            StopApplication => "StopApplication",
            AddApplicationInput => "AddApplicationInput",
            AddApplicationOutput => "AddApplicationOutput",
            DeleteApplicationOutput => "DeleteApplicationOutput",
            AddApplicationReferenceDataSource => "AddApplicationReferenceDataSource",
            DeleteApplicationReferenceDataSource => "DeleteApplicationReferenceDataSource",
            AddApplicationInputProcessingConfiguration => {
                "AddApplicationInputProcessingConfiguration"
            }
            DeleteApplicationInputProcessingConfiguration => {
                "DeleteApplicationInputProcessingConfiguration"
            }
            AddApplicationCloudWatchLoggingOption => "AddApplicationCloudWatchLoggingOption",
            DeleteApplicationCloudWatchLoggingOption => "DeleteApplicationCloudWatchLoggingOption",
            TagResource => "TagResource",
            UntagResource => "UntagResource",
            ListTagsForResource => "ListTagsForResource",
            DiscoverInputSchema => "DiscoverInputSchema",
        }
    }
}

/// The applications behind the API: the catalog in `STORAGE/analytics`, shared by every
/// request (one change at a time).
#[derive(Debug, Clone)]
pub struct Analytics {
    inner: Arc<Mutex<Catalog>>,
    /// The host that runs applications; without one (the API alone, in tests) states and
    /// configurations are kept and nothing runs.
    runner: Arc<OnceLock<Arc<dyn AnalyticsRunner>>>,
}

impl Analytics {
    /// Opens (or starts) the catalog in `dir` (`STORAGE/analytics`).
    pub fn open(dir: &Path) -> Result<Analytics, CatalogError> {
        Ok(Analytics {
            inner: Arc::new(Mutex::new(Catalog::open(dir)?)),
            runner: Arc::new(OnceLock::new()),
        })
    }

    /// Gives the host's runner (once), then runs every application the catalog has
    /// RUNNING, from where it was (a restart resumes; what cannot run is logged and stays
    /// RUNNING in the catalog, as a failed application does on AWS).
    pub fn attach(&self, runner: Arc<dyn AnalyticsRunner>) {
        if self.runner.set(runner.clone()).is_err() {
            return;
        }
        let catalog = lock(&self.inner);
        for app in catalog
            .apps
            .values()
            .filter(|a| a.status == Status::Running)
        {
            let resumed = runner::spec(app).and_then(|mut spec| {
                for i in &mut spec.inputs {
                    i.start = StartFrom::LastStoppedPoint;
                }
                runner.run(&spec)
            });
            if let Err(e) = resumed {
                tracing::error!(application = %app.name, error = %e, "a RUNNING application cannot run");
            }
        }
    }

    fn runner(&self) -> Option<&Arc<dyn AnalyticsRunner>> {
        self.runner.get()
    }
}

/// Runs one operation: the model check, then the operation.
pub fn dispatch(
    state: &ApiState,
    an: &Analytics,
    op: AnalyticsOperation,
    body: &Val,
) -> Result<Val, ApiError> {
    let mut req = Req::new(body)?;
    MODEL.check(op.name(), body, &mut req)?;
    req.finish()?;
    let ctx = Ctx { state, an, body };
    use AnalyticsOperation::*;
    match op {
        CreateApplication => ctx.create(),
        DescribeApplication => ctx.describe(),
        ListApplications => ctx.list(),
        UpdateApplication => ctx.update(),
        DeleteApplication => ctx.delete(),
        StartApplication => ctx.start(),
        StopApplication => ctx.stop(),
        AddApplicationInput => ctx.add_input(),
        AddApplicationOutput => ctx.add_output(),
        DeleteApplicationOutput => ctx.delete_output(),
        AddApplicationReferenceDataSource => ctx.add_reference(),
        DeleteApplicationReferenceDataSource => ctx.delete_reference(),
        AddApplicationInputProcessingConfiguration => ctx.add_processing(),
        DeleteApplicationInputProcessingConfiguration => ctx.delete_processing(),
        AddApplicationCloudWatchLoggingOption => ctx.add_cloudwatch(),
        DeleteApplicationCloudWatchLoggingOption => ctx.delete_cloudwatch(),
        TagResource => ctx.tag(),
        UntagResource => ctx.untag(),
        ListTagsForResource => ctx.list_tags(),
        DiscoverInputSchema => discover::discover(state, ctx.read()?),
    }
}

/// A request body as plain JSON, for serde's readers (the model check has passed, so the
/// types are right; timestamps are epoch seconds).
fn to_json(v: &Val) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Val::Null => J::Null,
        Val::Bool(b) => J::Bool(*b),
        Val::Int(i) => match i64::try_from(*i) {
            Ok(x) => J::from(x),
            Err(_) => J::from(*i as f64),
        },
        Val::Float(f) => J::from(*f),
        Val::Str(s) => J::String(s.clone()),
        Val::Bytes(b) => {
            use base64::Engine as _;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Val::Time(ms) => J::from(*ms as f64 / 1000.0),
        Val::Arr(a) => J::Array(a.iter().map(to_json).collect()),
        Val::Map(m) => J::Object(m.iter().map(|(k, x)| (k.clone(), to_json(x))).collect()),
    }
}

/// A description built with serde, as the wire's value.
fn from_json(v: serde_json::Value) -> Val {
    use serde_json::Value as J;
    match v {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i128::from(i)),
            None => Val::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Val::Str(s),
        J::Array(a) => Val::Arr(a.into_iter().map(from_json).collect()),
        J::Object(m) => Val::Map(m.into_iter().map(|(k, x)| (k, from_json(x))).collect()),
    }
}

fn described<T: serde::Serialize>(v: &T) -> Val {
    from_json(serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceNotFound,
        format!("Application {name} is not found."),
    )
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidArgument, message)
}

/// One request being served.
struct Ctx<'a> {
    state: &'a ApiState,
    an: &'a Analytics,
    body: &'a Val,
}

/// The two members every change carries.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Versioned {
    application_name: String,
    current_application_version_id: i64,
}

impl Ctx<'_> {
    /// The body read as `T`; the model check already refused wrong types, so a failure
    /// here is a value serde cannot hold (a number out of range).
    fn read<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(to_json(self.body))
            .map_err(|e| ApiError::serialization(format!("Unable to read the request: {e}")))
    }

    fn name(&self) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Named {
            application_name: String,
        }
        Ok(self.read::<Named>()?.application_name)
    }

    /// Applies `f` to a copy of application `name` at version `version` (a stale version is
    /// a ConcurrentModificationException; an application starting, stopping, updating or
    /// being deleted is in use), makes the next version, writes the catalog, then keeps the
    /// copy. `f` gets the new version number, for the ids it makes.
    fn change(
        &self,
        name: &str,
        version: i64,
        f: impl FnOnce(&mut Application, i64) -> Result<(), ApiError>,
    ) -> Result<Val, ApiError> {
        let mut catalog = lock(&self.an.inner);
        let app = catalog.apps.get(name).ok_or_else(|| not_found(name))?;
        if !matches!(app.status, Status::Ready | Status::Running) {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!(
                    "Application {name} is in {} status; it can be changed when READY or RUNNING.",
                    app.status.as_str()
                ),
            ));
        }
        if app.version != version {
            return Err(ApiError::new(
                ErrorKind::ConcurrentModification,
                format!(
                    "Provided application version id ({version}) does not match the current application version id ({}) of application {name}.",
                    app.version
                ),
            ));
        }
        let mut next = app.clone();
        next.version = app.version + 1;
        let version = next.version;
        f(&mut next, version)?;
        next.updated_ms = weir_support::now_ms();
        let running = next.status == Status::Running;
        let old = app.clone();
        if running {
            if let Some(r) = self.an.runner() {
                r.run(&runner::spec(&next).map_err(change_refused)?)
                    .map_err(change_refused)?;
            }
        }
        if let Err(e) = store(&mut catalog, next) {
            // The old configuration runs again, as the catalog still says.
            if let (true, Some(r), Ok(spec)) = (running, self.an.runner(), runner::spec(&old)) {
                let _ = r.run(&spec);
            }
            return Err(e);
        }
        Ok(map(vec![]))
    }

    fn create(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Create {
            application_name: String,
            #[serde(default)]
            application_description: Option<String>,
            #[serde(default)]
            inputs: Vec<InputRequest>,
            #[serde(default)]
            outputs: Vec<OutputRequest>,
            #[serde(default)]
            cloud_watch_logging_options: Vec<CloudWatchRequest>,
            #[serde(default)]
            application_code: Option<String>,
            #[serde(default)]
            tags: Vec<Tag>,
        }
        let c: Create = self.read()?;
        let name = c.application_name;
        check::code(c.application_code.as_deref().unwrap_or_default())?;
        check::count("inputs", c.inputs.len(), MAX_INPUTS)?;
        check::count("outputs", c.outputs.len(), MAX_OUTPUTS)?;
        let tags = check::tags(BTreeMap::new(), &c.tags)?;
        let inputs = c
            .inputs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                check::input(
                    self.state,
                    r,
                    &format!("1.{}", i + 1),
                    &format!("inputs.{}.member", i + 1),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = c
            .outputs
            .iter()
            .enumerate()
            .map(|(i, r)| check::output(self.state, r, &format!("1.{}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        check::unique_outputs(&outputs)?;
        let cloudwatch = c
            .cloud_watch_logging_options
            .into_iter()
            .enumerate()
            .map(|(i, o)| CloudWatchDescription {
                id: format!("1.{}", i + 1),
                log_stream_arn: o.log_stream_arn,
                role_arn: o.role_arn,
            })
            .collect();
        let config = self.state.streams.config();
        let now = weir_support::now_ms();
        let app = Application {
            arn: format!(
                "arn:aws:kinesisanalytics:{}:{}:application/{name}",
                config.region, config.account_id
            ),
            name: name.clone(),
            description: c.application_description,
            status: Status::Ready,
            version: 1,
            created_ms: now,
            updated_ms: now,
            code: c.application_code,
            inputs,
            outputs,
            references: Vec::new(),
            cloudwatch,
            tags,
        };
        let summary = summary(&app);
        let mut catalog = lock(&self.an.inner);
        if catalog.apps.contains_key(&name) {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!("Application {name} already exists."),
            ));
        }
        if catalog.apps.len() >= MAX_APPLICATIONS {
            return Err(ApiError::new(
                ErrorKind::LimitExceeded,
                format!("The number of applications would exceed the limit of {MAX_APPLICATIONS}."),
            ));
        }
        store(&mut catalog, app)?;
        Ok(map(vec![("ApplicationSummary", summary)]))
    }

    fn describe(&self) -> Result<Val, ApiError> {
        let name = self.name()?;
        let catalog = lock(&self.an.inner);
        let app = catalog.apps.get(&name).ok_or_else(|| not_found(&name))?;
        Ok(map(vec![("ApplicationDetail", detail(app))]))
    }

    fn list(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct List {
            #[serde(default)]
            limit: Option<usize>,
            #[serde(default)]
            exclusive_start_application_name: Option<String>,
        }
        let l: List = self.read()?;
        let limit = l.limit.unwrap_or(50);
        let catalog = lock(&self.an.inner);
        let mut after = catalog
            .apps
            .values()
            .filter(|a| {
                l.exclusive_start_application_name
                    .as_deref()
                    .is_none_or(|s| a.name.as_str() > s)
            })
            .map(summary);
        let page: Vec<Val> = after.by_ref().take(limit).collect();
        let more = after.next().is_some();
        Ok(map(vec![
            ("ApplicationSummaries", Val::Arr(page)),
            ("HasMoreApplications", Val::Bool(more)),
        ]))
    }

    fn delete(&self) -> Result<Val, ApiError> {
        let name = self.name()?;
        let created =
            timestamp_of(self.body.get("CreateTimestamp"), "CreateTimestamp")?.unwrap_or_default();
        let mut catalog = lock(&self.an.inner);
        let app = catalog.apps.get(&name).ok_or_else(|| not_found(&name))?;
        // botocore sends what DescribeApplication gave, to the millisecond; older releases
        // send whole seconds.
        let same = created == app.created_ms
            || (created % 1000 == 0 && created / 1000 == app.created_ms.div_euclid(1000));
        if !same {
            return Err(ApiError::new(
                ErrorKind::ConcurrentModification,
                format!(
                    "The provided CreateTimestamp does not match the creation time of application {name}: it was deleted and created again, or the timestamp is wrong."
                ),
            ));
        }
        if matches!(app.status, Status::Deleting) {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!("Application {name} is being deleted."),
            ));
        }
        let mut next = catalog.apps.clone();
        next.remove(&name);
        catalog.save(&next).map_err(storage_failed)?;
        catalog.apps = next;
        if let Some(r) = self.an.runner() {
            r.stop(&name);
            r.forget(&name);
        }
        Ok(map(vec![]))
    }

    fn start(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Start {
            application_name: String,
            input_configurations: Vec<InputConfiguration>,
        }
        let st: Start = self.read()?;
        let name = st.application_name;
        let mut catalog = lock(&self.an.inner);
        let app = catalog.apps.get(&name).ok_or_else(|| not_found(&name))?;
        if app.status != Status::Ready {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!(
                    "Application {name} is in {} status; only a READY application can be started.",
                    app.status.as_str()
                ),
            ));
        }
        if app.inputs.is_empty() {
            return Err(ApiError::new(
                ErrorKind::InvalidApplicationConfiguration,
                format!("Application {name} has no input: add one with AddApplicationInput before starting it."),
            ));
        }
        let mut next = app.clone();
        for (i, ic) in st.input_configurations.iter().enumerate() {
            if st.input_configurations[..i].iter().any(|o| o.id == ic.id) {
                return Err(invalid(format!(
                    "Input id {} is configured more than once.",
                    ic.id
                )));
            }
            let input = next
                .inputs
                .iter_mut()
                .find(|x| x.input_id == ic.id)
                .ok_or_else(|| {
                    invalid(format!(
                        "Input id {} does not exist in application {name}.",
                        ic.id
                    ))
                })?;
            input.input_starting_position_configuration =
                Some(ic.input_starting_position_configuration.clone());
        }
        if let Some(missing) = next
            .inputs
            .iter()
            .find(|x| !st.input_configurations.iter().any(|ic| ic.id == x.input_id))
        {
            return Err(invalid(format!(
                "Input id {} needs an InputConfiguration.",
                missing.input_id
            )));
        }
        next.status = Status::Running;
        if let Some(r) = self.an.runner() {
            r.run(&runner::spec(&next).map_err(start_refused)?)
                .map_err(start_refused)?;
        }
        if let Err(e) = store(&mut catalog, next) {
            if let Some(r) = self.an.runner() {
                r.stop(&name);
            }
            return Err(e);
        }
        Ok(map(vec![]))
    }

    fn stop(&self) -> Result<Val, ApiError> {
        let name = self.name()?;
        let mut catalog = lock(&self.an.inner);
        let app = catalog.apps.get(&name).ok_or_else(|| not_found(&name))?;
        if app.status != Status::Running {
            return Err(ApiError::new(
                ErrorKind::ResourceInUse,
                format!(
                    "Application {name} is in {} status; only a RUNNING application can be stopped.",
                    app.status.as_str()
                ),
            ));
        }
        let mut next = app.clone();
        next.status = Status::Ready;
        store(&mut catalog, next)?;
        if let Some(r) = self.an.runner() {
            r.stop(&name);
        }
        Ok(map(vec![]))
    }

    fn update(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Update {
            application_update: ApplicationUpdate,
        }
        let v: Versioned = self.read()?;
        let u = self.read::<Update>()?.application_update;
        let empty = u.input_updates.is_none()
            && u.application_code_update.is_none()
            && u.output_updates.is_none()
            && u.reference_data_source_updates.is_none()
            && u.cloud_watch_logging_option_updates.is_none();
        if empty {
            return Err(invalid("ApplicationUpdate must name at least one change."));
        }
        check::code(u.application_code_update.as_deref().unwrap_or_default())?;
        let state = self.state;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| check::apply_update(state, app, &u),
        )
    }

    fn add_input(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Add {
            input: InputRequest,
        }
        let v: Versioned = self.read()?;
        let a: Add = self.read()?;
        let state = self.state;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, ver| {
                check::count("inputs", app.inputs.len() + 1, MAX_INPUTS)?;
                app.inputs
                    .push(check::input(state, &a.input, &format!("{ver}.1"), "input")?);
                Ok(())
            },
        )
    }

    fn add_output(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Add {
            output: OutputRequest,
        }
        let v: Versioned = self.read()?;
        let a: Add = self.read()?;
        let state = self.state;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, ver| {
                check::count("outputs", app.outputs.len() + 1, MAX_OUTPUTS)?;
                app.outputs
                    .push(check::output(state, &a.output, &format!("{ver}.1"))?);
                check::unique_outputs(&app.outputs)
            },
        )
    }

    fn delete_output(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Del {
            output_id: String,
        }
        let v: Versioned = self.read()?;
        let id = self.read::<Del>()?.output_id;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| {
                let at = app
                    .outputs
                    .iter()
                    .position(|o| o.output_id == id)
                    .ok_or_else(|| part_not_found("Output", &id, &app.name))?;
                app.outputs.remove(at);
                Ok(())
            },
        )
    }

    fn add_reference(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Add {
            reference_data_source: ReferenceRequest,
        }
        let v: Versioned = self.read()?;
        let a: Add = self.read()?;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, ver| {
                check::count(
                    "reference data sources",
                    app.references.len() + 1,
                    MAX_REFERENCES,
                )?;
                let r = check::reference(&a.reference_data_source, &format!("{ver}.1"))?;
                app.references.push(r);
                Ok(())
            },
        )
    }

    fn delete_reference(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Del {
            reference_id: String,
        }
        let v: Versioned = self.read()?;
        let id = self.read::<Del>()?.reference_id;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| {
                let at = app
                    .references
                    .iter()
                    .position(|r| r.reference_id == id)
                    .ok_or_else(|| part_not_found("Reference data source", &id, &app.name))?;
                app.references.remove(at);
                Ok(())
            },
        )
    }

    fn add_processing(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Add {
            input_id: String,
            input_processing_configuration: ProcessingRequest,
        }
        let v: Versioned = self.read()?;
        let a: Add = self.read()?;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| {
                let name = app.name.clone();
                let input = app
                    .inputs
                    .iter_mut()
                    .find(|i| i.input_id == a.input_id)
                    .ok_or_else(|| part_not_found("Input", &a.input_id, &name))?;
                if input.input_processing_configuration_description.is_some() {
                    return Err(invalid(format!(
                    "Input {} already has an input processing configuration: update or delete it.",
                    a.input_id
                )));
                }
                let lambda = &a.input_processing_configuration.input_lambda_processor;
                check::lambda_arn(&lambda.resource_arn, "InputLambdaProcessor")?;
                input.input_processing_configuration_description = Some(ProcessingDescription {
                    input_lambda_processor_description: lambda.clone(),
                });
                Ok(())
            },
        )
    }

    fn delete_processing(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Del {
            input_id: String,
        }
        let v: Versioned = self.read()?;
        let id = self.read::<Del>()?.input_id;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| {
                let name = app.name.clone();
                let input = app
                    .inputs
                    .iter_mut()
                    .find(|i| i.input_id == id)
                    .ok_or_else(|| part_not_found("Input", &id, &name))?;
                if input
                    .input_processing_configuration_description
                    .take()
                    .is_none()
                {
                    return Err(invalid(format!(
                        "Input {id} has no input processing configuration."
                    )));
                }
                Ok(())
            },
        )
    }

    fn add_cloudwatch(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Add {
            cloud_watch_logging_option: CloudWatchRequest,
        }
        let v: Versioned = self.read()?;
        let a = self.read::<Add>()?.cloud_watch_logging_option;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, ver| {
                if app
                    .cloudwatch
                    .iter()
                    .any(|c| c.log_stream_arn == a.log_stream_arn)
                {
                    return Err(invalid(format!(
                        "Log stream {} is already a logging option of application {}.",
                        a.log_stream_arn, app.name
                    )));
                }
                app.cloudwatch.push(CloudWatchDescription {
                    id: format!("{ver}.1"),
                    log_stream_arn: a.log_stream_arn,
                    role_arn: a.role_arn,
                });
                Ok(())
            },
        )
    }

    fn delete_cloudwatch(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Del {
            cloud_watch_logging_option_id: String,
        }
        let v: Versioned = self.read()?;
        let id = self.read::<Del>()?.cloud_watch_logging_option_id;
        self.change(
            &v.application_name,
            v.current_application_version_id,
            |app, _| {
                let at = app
                    .cloudwatch
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| part_not_found("CloudWatch logging option", &id, &app.name))?;
                app.cloudwatch.remove(at);
                Ok(())
            },
        )
    }

    /// The application an ARN names (`arn:aws:kinesisanalytics:REGION:ACCOUNT:application/NAME`),
    /// which must be one of ours exactly.
    fn by_arn<T>(
        &self,
        arn: &str,
        f: impl FnOnce(&mut Application) -> Result<T, ApiError>,
    ) -> Result<(T, bool), ApiError> {
        let name = arn
            .rsplit_once(":application/")
            .map(|(_, n)| n)
            .unwrap_or("");
        let mut catalog = lock(&self.an.inner);
        let app = catalog
            .apps
            .get(name)
            .filter(|a| a.arn == arn)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::ResourceNotFound,
                    format!("Resource {arn} is not found."),
                )
            })?;
        let mut next = app.clone();
        let out = f(&mut next)?;
        let changed = &next != app;
        if changed {
            store(&mut catalog, next)?;
        }
        Ok((out, changed))
    }

    fn tag(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct TagReq {
            #[serde(rename = "ResourceARN")]
            resource_arn: String,
            tags: Vec<Tag>,
        }
        let t: TagReq = self.read()?;
        self.by_arn(&t.resource_arn, |app| {
            app.tags = check::tags(std::mem::take(&mut app.tags), &t.tags)?;
            Ok(())
        })?;
        Ok(map(vec![]))
    }

    fn untag(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Untag {
            #[serde(rename = "ResourceARN")]
            resource_arn: String,
            tag_keys: Vec<String>,
        }
        let u: Untag = self.read()?;
        self.by_arn(&u.resource_arn, |app| {
            for k in &u.tag_keys {
                check::tag_key(k)?;
                app.tags.remove(k);
            }
            Ok(())
        })?;
        Ok(map(vec![]))
    }

    fn list_tags(&self) -> Result<Val, ApiError> {
        #[derive(Deserialize)]
        struct ListTags {
            #[serde(rename = "ResourceARN")]
            resource_arn: String,
        }
        let l: ListTags = self.read()?;
        let (tags, _) = self.by_arn(&l.resource_arn, |app| {
            Ok(app
                .tags
                .iter()
                .map(|(k, v)| map(vec![("Key", s(k.clone())), ("Value", s(v.clone()))]))
                .collect::<Vec<_>>())
        })?;
        Ok(map(vec![("Tags", Val::Arr(tags))]))
    }
}

/// A running application's new configuration the host cannot run.
fn change_refused(e: RunError) -> ApiError {
    match e {
        RunError::Code(m) => ApiError::new(ErrorKind::CodeValidation, m),
        RunError::Configuration(m) => invalid(m),
    }
}

/// An application the host cannot start.
fn start_refused(e: RunError) -> ApiError {
    match e {
        RunError::Code(m) => ApiError::new(ErrorKind::CodeValidation, m),
        RunError::Configuration(m) => ApiError::new(ErrorKind::InvalidApplicationConfiguration, m),
    }
}

fn part_not_found(what: &str, id: &str, app: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceNotFound,
        format!("{what} id {id} does not exist in application {app}."),
    )
}

/// The catalog could not be written: nothing changed, and the client may retry.
fn storage_failed(e: CatalogError) -> ApiError {
    tracing::error!(error = %weir_support::error_chain(&e), "the analytics catalog cannot be written");
    ApiError::new(
        ErrorKind::ServiceUnavailable,
        "The service is unavailable. Back off and retry the operation.",
    )
}

/// Writes the catalog with `app` in it, then keeps it.
fn store(catalog: &mut Catalog, app: Application) -> Result<(), ApiError> {
    let mut next = catalog.apps.clone();
    next.insert(app.name.clone(), app);
    catalog.save(&next).map_err(storage_failed)?;
    catalog.apps = next;
    Ok(())
}

/// `ApplicationSummary`.
fn summary(app: &Application) -> Val {
    map(vec![
        ("ApplicationName", s(app.name.clone())),
        ("ApplicationARN", s(app.arn.clone())),
        ("ApplicationStatus", s(app.status.as_str())),
    ])
}

/// `ApplicationDetail`.
fn detail(app: &Application) -> Val {
    let mut fields = vec![("ApplicationName", s(app.name.clone()))];
    if let Some(d) = &app.description {
        fields.push(("ApplicationDescription", s(d.clone())));
    }
    fields.extend([
        ("ApplicationARN", s(app.arn.clone())),
        ("ApplicationStatus", s(app.status.as_str())),
        ("CreateTimestamp", Val::Time(app.created_ms)),
        ("LastUpdateTimestamp", Val::Time(app.updated_ms)),
        ("InputDescriptions", described(&app.inputs)),
        ("OutputDescriptions", described(&app.outputs)),
        (
            "ReferenceDataSourceDescriptions",
            described(&app.references),
        ),
        (
            "CloudWatchLoggingOptionDescriptions",
            described(&app.cloudwatch),
        ),
    ]);
    if let Some(code) = &app.code {
        fields.push(("ApplicationCode", s(code.clone())));
    }
    fields.push(("ApplicationVersionId", Val::Int(i128::from(app.version))));
    map(fields)
}
