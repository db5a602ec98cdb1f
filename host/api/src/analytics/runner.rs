//! What the API asks of the host that runs applications ([`AnalyticsRunner`]), and the plain
//! description of an application it gives ([`RunSpec`]): names resolved from ARNs, no wire
//! shapes, so the host needs neither this crate's internals nor AWS's JSON.

use super::catalog::Application;
use weir_analytics::input::{InputSchema, RecordFormatType};

/// Where an input starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Records that arrive after the start.
    Now,
    /// The oldest record the source still holds.
    TrimHorizon,
    /// Where the application last stopped reading, with its windows' state; a source it
    /// never read starts at `Now`.
    LastStoppedPoint,
}

impl StartFrom {
    pub(crate) fn parse(s: Option<&str>) -> StartFrom {
        match s {
            Some("TRIM_HORIZON") => StartFrom::TrimHorizon,
            Some("LAST_STOPPED_POINT") => StartFrom::LastStoppedPoint,
            _ => StartFrom::Now,
        }
    }
}

/// An input's source in this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stream(String),
    DeliveryStream(String),
}

/// An output's destination in this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputDestination {
    Stream(String),
    DeliveryStream(String),
    /// The plugin that stands for the Lambda function of this name (the Lambda output
    /// contract).
    Plugin(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInput {
    /// `InputId` (`1.1`), the key of its positions.
    pub id: String,
    /// The in-application stream it feeds (`SOURCE_SQL_STREAM_001`).
    pub stream: String,
    pub source: Source,
    pub schema: InputSchema,
    pub start: StartFrom,
    /// The preprocessing plugin (the Lambda function's name), if any.
    pub processor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    pub id: String,
    /// The in-application stream written out.
    pub stream: String,
    pub destination: OutputDestination,
    pub format: RecordFormatType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunReference {
    pub table: String,
    pub bucket: String,
    pub key: String,
    pub schema: InputSchema,
}

/// An application as the host runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub name: String,
    pub arn: String,
    /// `ApplicationVersionId` of this configuration.
    pub version: i64,
    /// When the application was created (epoch ms): positions of an application deleted
    /// and made again under the same name are not its own.
    pub created_ms: i64,
    pub code: String,
    pub inputs: Vec<RunInput>,
    pub outputs: Vec<RunOutput>,
    pub references: Vec<RunReference>,
}

/// Why the host cannot run an application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The code does not compile (CodeValidationException): the message with its line and
    /// column.
    #[error("{0}")]
    Code(String),
    /// Something else the configuration names cannot be used (a missing plugin, a reference
    /// object that does not load): InvalidApplicationConfigurationException.
    #[error("{0}")]
    Configuration(String),
}

/// The host that runs applications. Calls come with the catalog locked (one change at a
/// time) and before the change is stored: an error leaves the application as it was.
pub trait AnalyticsRunner: Send + Sync + std::fmt::Debug {
    /// Runs `spec`, or runs it instead of the running configuration of that name (an update
    /// while RUNNING, which keeps positions and, when the code is the same, windows).
    fn run(&self, spec: &RunSpec) -> Result<(), RunError>;
    /// Stops the application: its positions and windows are kept for LAST_STOPPED_POINT.
    fn stop(&self, name: &str);
    /// Forgets what the application had read (it is deleted).
    fn forget(&self, name: &str);
}

fn stream_of(arn: &str) -> Option<String> {
    crate::request::parse_arn(arn).map(str::to_owned)
}

fn delivery_stream_of(arn: &str) -> Option<String> {
    let (_, name) = arn.split_once(":deliverystream/")?;
    Some(name.to_owned())
}

/// The run description of `app` (its sources and destinations were checked when they were
/// added, so an unreadable ARN here is a configuration error).
pub(crate) fn spec(app: &Application) -> Result<RunSpec, RunError> {
    let bad = |what: &str, arn: &str| {
        RunError::Configuration(format!("{what} {arn} names nothing in this host"))
    };
    let mut inputs = Vec::new();
    for i in &app.inputs {
        let source = match (
            &i.kinesis_streams_input_description,
            &i.kinesis_firehose_input_description,
        ) {
            (Some(s), _) => Source::Stream(
                stream_of(&s.resource_arn)
                    .ok_or_else(|| bad("KinesisStreamsInput", &s.resource_arn))?,
            ),
            (None, Some(f)) => Source::DeliveryStream(
                delivery_stream_of(&f.resource_arn)
                    .ok_or_else(|| bad("KinesisFirehoseInput", &f.resource_arn))?,
            ),
            (None, None) => {
                return Err(RunError::Configuration(format!(
                    "input {} has no source",
                    i.input_id
                )))
            }
        };
        let processor = match &i.input_processing_configuration_description {
            Some(p) => Some(
                weir_firehose_model::lambda_function_name(
                    &p.input_lambda_processor_description.resource_arn,
                )
                .map(str::to_owned)
                .ok_or_else(|| {
                    bad(
                        "InputLambdaProcessor",
                        &p.input_lambda_processor_description.resource_arn,
                    )
                })?,
            ),
            None => None,
        };
        inputs.push(RunInput {
            id: i.input_id.clone(),
            stream: i
                .in_app_stream_names
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{}_001", i.name_prefix)),
            source,
            schema: i.input_schema.clone(),
            start: StartFrom::parse(
                i.input_starting_position_configuration
                    .as_ref()
                    .and_then(|p| p.input_starting_position.as_deref()),
            ),
            processor,
        });
    }
    let mut outputs = Vec::new();
    for o in &app.outputs {
        let destination = match (
            &o.kinesis_streams_output_description,
            &o.kinesis_firehose_output_description,
            &o.lambda_output_description,
        ) {
            (Some(s), _, _) => OutputDestination::Stream(
                stream_of(&s.resource_arn)
                    .ok_or_else(|| bad("KinesisStreamsOutput", &s.resource_arn))?,
            ),
            (None, Some(f), _) => OutputDestination::DeliveryStream(
                delivery_stream_of(&f.resource_arn)
                    .ok_or_else(|| bad("KinesisFirehoseOutput", &f.resource_arn))?,
            ),
            (None, None, Some(l)) => OutputDestination::Plugin(
                weir_firehose_model::lambda_function_name(&l.resource_arn)
                    .map(str::to_owned)
                    .ok_or_else(|| bad("LambdaOutput", &l.resource_arn))?,
            ),
            (None, None, None) => {
                return Err(RunError::Configuration(format!(
                    "output {} has no destination",
                    o.output_id
                )))
            }
        };
        outputs.push(RunOutput {
            id: o.output_id.clone(),
            stream: o.name.clone(),
            destination,
            format: o.destination_schema.format(),
        });
    }
    let references = app
        .references
        .iter()
        .map(|r| RunReference {
            table: r.table_name.clone(),
            bucket: r
                .s3
                .bucket_arn
                .strip_prefix("arn:aws:s3:::")
                .unwrap_or(&r.s3.bucket_arn)
                .to_owned(),
            key: r.s3.file_key.clone(),
            schema: r.reference_schema.clone(),
        })
        .collect();
    Ok(RunSpec {
        name: app.name.clone(),
        arn: app.arn.clone(),
        version: app.version,
        created_ms: app.created_ms,
        code: app.code.clone().unwrap_or_default(),
        inputs,
        outputs,
        references,
    })
}
