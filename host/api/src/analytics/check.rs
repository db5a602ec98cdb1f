//! The checks AWS makes after the model's (InvalidArgumentException and friends): a schema
//! the runtime can read, one source or destination per input or output and that it exists
//! in Weir, the per-application limits, tags; and an `ApplicationUpdate` applied to a copy.

use std::collections::BTreeMap;

use super::catalog::Application;
use super::shapes::*;
use super::{invalid, part_not_found, MAX_TAGS};
use crate::error::{ApiError, ErrorKind};
use crate::request::parse_arn;
use crate::ApiState;

/// `n` parts of a kind where an application may have `max`.
pub(super) fn count(what: &str, n: usize, max: usize) -> Result<(), ApiError> {
    if n > max {
        return Err(invalid(format!(
            "An application can have at most {max} {what}; this one would have {n}."
        )));
    }
    Ok(())
}

/// An in-application name (a stream's prefix, an output's stream, a column): no hyphen,
/// white space, angle bracket or ampersand, which the SQL could not name.
fn sql_name(v: &str, what: &str) -> Result<(), ApiError> {
    if v.is_empty()
        || v.chars()
            .any(|c| c == '-' || c.is_whitespace() || c == '<' || c == '>' || c == '&')
    {
        return Err(invalid(format!(
            "{what} {v:?} must not be empty or contain a hyphen, white space, an angle bracket or an ampersand."
        )));
    }
    Ok(())
}

/// A `SourceSchema` the runtime can map (SQL types, JSONPaths, names, format and
/// parameters agreeing): the engine's own check, at the schema's member path.
/// The constraints the engine adds to the model's (column names the SQL can quote, their
/// lengths) are reported as the model's are, a ValidationException.
pub(super) fn schema(s: &SourceSchema, path: &str) -> Result<(), ApiError> {
    let v = s.violations(path);
    if !v.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Validation,
            weir_analytics::input::validate::summarize(&v),
        ));
    }
    s.check(path).map_err(|e| invalid(e.0))
}

/// The delivery stream of `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME`.
fn firehose_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (_, rest) = rest.split_once(":firehose:")?;
    let (_, name) = rest.split_once(":deliverystream/")?;
    (!name.is_empty()).then_some(name)
}

/// A Kinesis stream ARN naming a Weir stream.
fn stream(state: &ApiState, arn: &str, what: &str) -> Result<(), ApiError> {
    let name = parse_arn(arn).ok_or_else(|| {
        invalid(format!(
            "{what} {arn} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)."
        ))
    })?;
    state
        .streams
        .describe_stream(name)
        .map_err(|_| invalid(format!("{what}: stream {name} ({arn}) does not exist.")))?;
    Ok(())
}

/// A Firehose ARN naming a delivery stream of this host.
fn delivery_stream(state: &ApiState, arn: &str, what: &str) -> Result<(), ApiError> {
    let name = firehose_name(arn).ok_or_else(|| {
        invalid(format!(
            "{what} {arn} is not a Firehose delivery stream ARN (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)."
        ))
    })?;
    let exists = state
        .firehose
        .as_ref()
        .is_some_and(|fh| fh.describe(name).is_ok());
    if !exists {
        return Err(invalid(format!(
            "{what}: delivery stream {name} ({arn}) does not exist."
        )));
    }
    Ok(())
}

/// A Lambda function ARN: Weir runs the plugin of the function's name.
pub(super) fn lambda_arn(arn: &str, what: &str) -> Result<(), ApiError> {
    if weir_firehose_model::lambda_function_name(arn).is_none() || !arn.starts_with("arn:") {
        return Err(invalid(format!(
            "{what} {arn} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME); Weir runs the plugin NAME."
        )));
    }
    Ok(())
}

/// The in-application streams an input makes: `PREFIX_001`, ... one per parallel stream.
fn stream_names(prefix: &str, count: i64) -> Vec<String> {
    (1..=count).map(|i| format!("{prefix}_{i:03}")).collect()
}

/// Weir feeds one in-application stream per input.
fn parallelism(count: Option<i64>) -> Result<i64, ApiError> {
    match count.unwrap_or(1) {
        1 => Ok(1),
        n => Err(ApiError::new(
            ErrorKind::UnsupportedOperation,
            format!("InputParallelism {n} is not supported: Weir feeds one in-application stream per input (Count 1)."),
        )),
    }
}

/// The source of an input: exactly one, and it exists.
fn source(
    state: &ApiState,
    streams: Option<&ArnRole>,
    firehose: Option<&ArnRole>,
) -> Result<(), ApiError> {
    match (streams, firehose) {
        (Some(s), None) => stream(state, &s.resource_arn, "KinesisStreamsInput"),
        (None, Some(f)) => delivery_stream(state, &f.resource_arn, "KinesisFirehoseInput"),
        _ => Err(invalid(
            "An input needs exactly one of KinesisStreamsInput and KinesisFirehoseInput.",
        )),
    }
}

/// An `Input` checked and described under `id`.
pub(super) fn input(
    state: &ApiState,
    r: &InputRequest,
    id: &str,
    at: &str,
) -> Result<InputDescription, ApiError> {
    sql_name(&r.name_prefix, "NamePrefix")?;
    source(
        state,
        r.kinesis_streams_input.as_ref(),
        r.kinesis_firehose_input.as_ref(),
    )?;
    schema(&r.input_schema, &format!("{at}.inputSchema"))?;
    if let Some(p) = &r.input_processing_configuration {
        lambda_arn(
            &p.input_lambda_processor.resource_arn,
            "InputLambdaProcessor",
        )?;
    }
    let count = parallelism(r.input_parallelism.as_ref().and_then(|p| p.count))?;
    Ok(InputDescription {
        input_id: id.to_owned(),
        name_prefix: r.name_prefix.clone(),
        in_app_stream_names: stream_names(&r.name_prefix, count),
        input_processing_configuration_description: r.input_processing_configuration.as_ref().map(
            |p| ProcessingDescription {
                input_lambda_processor_description: p.input_lambda_processor.clone(),
            },
        ),
        kinesis_streams_input_description: r.kinesis_streams_input.clone(),
        kinesis_firehose_input_description: r.kinesis_firehose_input.clone(),
        input_schema: r.input_schema.clone(),
        input_parallelism: Parallelism { count: Some(count) },
        input_starting_position_configuration: None,
    })
}

/// An output's destination: exactly one, and it exists (a plugin is looked up when the
/// application starts).
fn destination(state: &ApiState, o: &OutputDescription) -> Result<(), ApiError> {
    match (
        &o.kinesis_streams_output_description,
        &o.kinesis_firehose_output_description,
        &o.lambda_output_description,
    ) {
        (Some(s), None, None) => stream(state, &s.resource_arn, "KinesisStreamsOutput"),
        (None, Some(f), None) => delivery_stream(state, &f.resource_arn, "KinesisFirehoseOutput"),
        (None, None, Some(l)) => lambda_arn(&l.resource_arn, "LambdaOutput"),
        _ => Err(invalid(
            "An output needs exactly one of KinesisStreamsOutput, KinesisFirehoseOutput and LambdaOutput.",
        )),
    }
}

fn destination_schema(d: &DestinationSchema) -> Result<(), ApiError> {
    d.validate().map_err(invalid)
}

/// An `Output` checked and described under `id`.
pub(super) fn output(
    state: &ApiState,
    r: &OutputRequest,
    id: &str,
) -> Result<OutputDescription, ApiError> {
    sql_name(&r.name, "Output name")?;
    destination_schema(&r.destination_schema)?;
    let o = OutputDescription {
        output_id: id.to_owned(),
        name: r.name.clone(),
        kinesis_streams_output_description: r.kinesis_streams_output.clone(),
        kinesis_firehose_output_description: r.kinesis_firehose_output.clone(),
        lambda_output_description: r.lambda_output.clone(),
        destination_schema: r.destination_schema.clone(),
    };
    destination(state, &o)?;
    Ok(o)
}

/// No two outputs write the same in-application stream to the same destination.
pub(super) fn unique_outputs(outputs: &[OutputDescription]) -> Result<(), ApiError> {
    let key = |o: &OutputDescription| {
        (
            o.name.clone(),
            o.kinesis_streams_output_description.clone(),
            o.kinesis_firehose_output_description.clone(),
            o.lambda_output_description.clone(),
        )
    };
    for (i, o) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|p| key(p) == key(o)) {
            return Err(invalid(format!(
                "Output {} already writes in-application stream {} to that destination.",
                o.output_id, o.name
            )));
        }
    }
    Ok(())
}

/// A `ReferenceDataSource` checked and described under `id`.
pub(super) fn reference(r: &ReferenceRequest, id: &str) -> Result<ReferenceDescription, ApiError> {
    sql_name(&r.table_name, "TableName")?;
    let s3 = r.s3.clone().ok_or_else(|| {
        invalid("A reference data source needs S3ReferenceDataSource (BucketARN, FileKey, ReferenceRoleARN).")
    })?;
    bucket_arn(&s3.bucket_arn)?;
    schema(&r.reference_schema, "referenceDataSource.referenceSchema")?;
    Ok(ReferenceDescription {
        reference_id: id.to_owned(),
        table_name: r.table_name.clone(),
        s3,
        reference_schema: r.reference_schema.clone(),
    })
}

fn bucket_arn(arn: &str) -> Result<(), ApiError> {
    match arn.strip_prefix("arn:aws:s3:::") {
        Some(b) if !b.is_empty() && !b.contains('/') => Ok(()),
        _ => Err(invalid(format!(
            "BucketARN {arn} is not an S3 bucket ARN (arn:aws:s3:::BUCKET)."
        ))),
    }
}

/// A tag key AWS lets a caller set or remove.
pub(super) fn tag_key(k: &str) -> Result<(), ApiError> {
    if k.to_ascii_lowercase().starts_with("aws:") {
        return Err(invalid(format!(
            "Tag key {k} begins with aws:, which is reserved for AWS."
        )));
    }
    Ok(())
}

/// `tags` added to (or replacing values in) `have`; more than [`MAX_TAGS`] in the end is a
/// TooManyTagsException.
pub(super) fn tags(
    mut have: BTreeMap<String, String>,
    tags: &[Tag],
) -> Result<BTreeMap<String, String>, ApiError> {
    for t in tags {
        tag_key(&t.key)?;
        have.insert(t.key.clone(), t.value.clone().unwrap_or_default());
    }
    if have.len() > MAX_TAGS {
        return Err(ApiError::new(
            ErrorKind::TooManyTags,
            format!(
                "An application can have at most {MAX_TAGS} tags; this one would have {}.",
                have.len()
            ),
        ));
    }
    Ok(have)
}

/// Applies an `ApplicationUpdate` to `app` (a copy: an error leaves the stored one as it is).
pub(super) fn apply_update(
    state: &ApiState,
    app: &mut Application,
    u: &ApplicationUpdate,
) -> Result<(), ApiError> {
    if let Some(code) = &u.application_code_update {
        app.code = Some(code.clone());
    }
    for iu in u.input_updates.iter().flatten() {
        let name = app.name.clone();
        let input = app
            .inputs
            .iter_mut()
            .find(|i| i.input_id == iu.input_id)
            .ok_or_else(|| part_not_found("Input", &iu.input_id, &name))?;
        update_input(state, input, iu)?;
    }
    for ou in u.output_updates.iter().flatten() {
        let name = app.name.clone();
        let out = app
            .outputs
            .iter_mut()
            .find(|o| o.output_id == ou.output_id)
            .ok_or_else(|| part_not_found("Output", &ou.output_id, &name))?;
        update_output(state, out, ou)?;
    }
    unique_outputs(&app.outputs)?;
    for ru in u.reference_data_source_updates.iter().flatten() {
        let name = app.name.clone();
        let r = app
            .references
            .iter_mut()
            .find(|r| r.reference_id == ru.reference_id)
            .ok_or_else(|| part_not_found("Reference data source", &ru.reference_id, &name))?;
        if let Some(t) = &ru.table_name_update {
            sql_name(t, "TableName")?;
            r.table_name = t.clone();
        }
        if let Some(s3) = &ru.s3_update {
            if let Some(b) = &s3.bucket_arn {
                bucket_arn(b)?;
                r.s3.bucket_arn = b.clone();
            }
            if let Some(k) = &s3.file_key {
                r.s3.file_key = k.clone();
            }
            if let Some(role) = &s3.reference_role_arn {
                r.s3.reference_role_arn = role.clone();
            }
        }
        if let Some(schema_update) = &ru.reference_schema_update {
            schema(
                schema_update,
                "applicationUpdate.referenceDataSourceUpdates.member.referenceSchemaUpdate",
            )?;
            r.reference_schema = schema_update.clone();
        }
    }
    for cu in u.cloud_watch_logging_option_updates.iter().flatten() {
        let name = app.name.clone();
        let c = app
            .cloudwatch
            .iter_mut()
            .find(|c| c.id == cu.id)
            .ok_or_else(|| part_not_found("CloudWatch logging option", &cu.id, &name))?;
        if let Some(a) = &cu.log_stream_arn {
            c.log_stream_arn = a.clone();
        }
        if let Some(r) = &cu.role_arn {
            c.role_arn = r.clone();
        }
    }
    Ok(())
}

/// One `ArnRole` updated, or made from the update when the part had another kind before
/// (an input moving from a stream to a delivery stream names the new resource).
fn updated(have: Option<ArnRole>, u: &ArnRoleUpdate, what: &str) -> Result<ArnRole, ApiError> {
    match have {
        Some(mut a) => {
            a.apply(u);
            Ok(a)
        }
        None => match &u.resource_arn {
            Some(arn) => Ok(ArnRole {
                resource_arn: arn.clone(),
                role_arn: u.role_arn.clone(),
            }),
            None => Err(invalid(format!(
                "{what} needs ResourceARNUpdate to change the kind of resource."
            ))),
        },
    }
}

fn update_input(
    state: &ApiState,
    input: &mut InputDescription,
    u: &InputUpdate,
) -> Result<(), ApiError> {
    if let Some(p) = &u.name_prefix_update {
        sql_name(p, "NamePrefixUpdate")?;
        input.name_prefix = p.clone();
    }
    if let Some(su) = &u.kinesis_streams_input_update {
        let have = input.kinesis_streams_input_description.take();
        input.kinesis_streams_input_description =
            Some(updated(have, su, "KinesisStreamsInputUpdate")?);
        input.kinesis_firehose_input_description = None;
    }
    if let Some(fu) = &u.kinesis_firehose_input_update {
        let have = input.kinesis_firehose_input_description.take();
        input.kinesis_firehose_input_description =
            Some(updated(have, fu, "KinesisFirehoseInputUpdate")?);
        input.kinesis_streams_input_description = None;
    }
    source(
        state,
        input.kinesis_streams_input_description.as_ref(),
        input.kinesis_firehose_input_description.as_ref(),
    )?;
    if let Some(pu) = &u.input_processing_configuration_update {
        let Some(p) = input.input_processing_configuration_description.as_mut() else {
            return Err(invalid(format!(
                "Input {} has no input processing configuration to update: add one with AddApplicationInputProcessingConfiguration.",
                input.input_id
            )));
        };
        p.input_lambda_processor_description
            .apply(&pu.input_lambda_processor_update);
        lambda_arn(
            &p.input_lambda_processor_description.resource_arn,
            "InputLambdaProcessorUpdate",
        )?;
    }
    if let Some(su) = &u.input_schema_update {
        if let Some(f) = &su.record_format_update {
            input.input_schema.record_format = f.clone();
        }
        if let Some(e) = &su.record_encoding_update {
            input.input_schema.record_encoding = Some(e.clone());
        }
        if let Some(c) = &su.record_column_updates {
            input.input_schema.record_columns = c.clone();
        }
        schema(
            &input.input_schema,
            "applicationUpdate.inputUpdates.member.inputSchemaUpdate",
        )?;
    }
    if let Some(pu) = &u.input_parallelism_update {
        let count = parallelism(pu.count_update)?;
        input.input_parallelism = Parallelism { count: Some(count) };
    }
    let count = input.input_parallelism.count.unwrap_or(1);
    input.in_app_stream_names = stream_names(&input.name_prefix, count);
    Ok(())
}

fn update_output(
    state: &ApiState,
    out: &mut OutputDescription,
    u: &OutputUpdate,
) -> Result<(), ApiError> {
    if let Some(n) = &u.name_update {
        sql_name(n, "NameUpdate")?;
        out.name = n.clone();
    }
    let kinds = [
        u.kinesis_streams_output_update.is_some(),
        u.kinesis_firehose_output_update.is_some(),
        u.lambda_output_update.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(invalid(
            "An output update names at most one of KinesisStreamsOutputUpdate, KinesisFirehoseOutputUpdate and LambdaOutputUpdate.",
        ));
    }
    if let Some(su) = &u.kinesis_streams_output_update {
        let have = out.kinesis_streams_output_description.take();
        out.kinesis_streams_output_description =
            Some(updated(have, su, "KinesisStreamsOutputUpdate")?);
        out.kinesis_firehose_output_description = None;
        out.lambda_output_description = None;
    }
    if let Some(fu) = &u.kinesis_firehose_output_update {
        let have = out.kinesis_firehose_output_description.take();
        out.kinesis_firehose_output_description =
            Some(updated(have, fu, "KinesisFirehoseOutputUpdate")?);
        out.kinesis_streams_output_description = None;
        out.lambda_output_description = None;
    }
    if let Some(lu) = &u.lambda_output_update {
        let have = out.lambda_output_description.take();
        out.lambda_output_description = Some(updated(have, lu, "LambdaOutputUpdate")?);
        out.kinesis_streams_output_description = None;
        out.kinesis_firehose_output_description = None;
    }
    if let Some(d) = &u.destination_schema_update {
        destination_schema(d)?;
        out.destination_schema = d.clone();
    }
    destination(state, out)
}

/// Application code that does not parse (CodeValidationException, with its line and column,
/// as CreateApplication and UpdateApplication answer a syntax error). Whether it compiles
/// against its inputs is known when it starts.
pub(super) fn code(code: &str) -> Result<(), ApiError> {
    if code.trim().is_empty() {
        return Ok(());
    }
    weir_analytics::parse::parse_program(code)
        .map(|_| ())
        .map_err(|e| ApiError::new(ErrorKind::CodeValidation, e.to_string()))
}
