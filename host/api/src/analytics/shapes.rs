//! The application's parts as the API writes and stores them: request shapes (read with
//! serde once the model check has passed) and the description shapes DescribeApplication
//! answers with, which are also what `applications.json` holds. Field names are AWS's
//! (PascalCase, `ResourceARN`), so a description is these values serialised as they are.

use serde::{Deserialize, Serialize};

/// A resource and the role AWS would assume to reach it (`KinesisStreamsInput`,
/// `LambdaOutput`, ...). Weir assumes no role: the ARN is kept and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ArnRole {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// The `...Update` form of [`ArnRole`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ArnRoleUpdate {
    #[serde(rename = "ResourceARNUpdate", default)]
    pub resource_arn: Option<String>,
    #[serde(rename = "RoleARNUpdate", default)]
    pub role_arn: Option<String>,
}

impl ArnRole {
    pub fn apply(&mut self, u: &ArnRoleUpdate) {
        if let Some(a) = &u.resource_arn {
            self.resource_arn = a.clone();
        }
        if let Some(r) = &u.role_arn {
            self.role_arn = Some(r.clone());
        }
    }
}

/// `SourceSchema` (an input's `InputSchema`, a reference's `ReferenceSchema`): the engine's
/// own type, so what the API accepts is what the runtime maps.
pub(crate) use weir_analytics::input::{InputSchema as SourceSchema, RecordColumn, RecordFormat};
/// `DestinationSchema`, the engine's.
pub(crate) use weir_analytics::output::DestinationSchema;

/// `InputSchemaUpdate`: each part replaces the stored one.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SourceSchemaUpdate {
    #[serde(default)]
    pub record_format_update: Option<RecordFormat>,
    #[serde(default)]
    pub record_encoding_update: Option<String>,
    #[serde(default)]
    pub record_column_updates: Option<Vec<RecordColumn>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Parallelism {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartingPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_starting_position: Option<String>,
}

/// `InputProcessingConfiguration` (request) / `...Description` (stored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingRequest {
    pub input_lambda_processor: ArnRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingDescription {
    pub input_lambda_processor_description: ArnRole,
}

/// `Input`, as CreateApplication and AddApplicationInput take it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InputRequest {
    pub name_prefix: String,
    #[serde(default)]
    pub input_processing_configuration: Option<ProcessingRequest>,
    #[serde(default)]
    pub kinesis_streams_input: Option<ArnRole>,
    #[serde(default)]
    pub kinesis_firehose_input: Option<ArnRole>,
    #[serde(default)]
    pub input_parallelism: Option<Parallelism>,
    pub input_schema: SourceSchema,
}

/// `InputDescription`: an input as stored and described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InputDescription {
    pub input_id: String,
    pub name_prefix: String,
    pub in_app_stream_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_processing_configuration_description: Option<ProcessingDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_streams_input_description: Option<ArnRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_firehose_input_description: Option<ArnRole>,
    pub input_schema: SourceSchema,
    pub input_parallelism: Parallelism,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_starting_position_configuration: Option<StartingPosition>,
}

/// `InputUpdate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InputUpdate {
    pub input_id: String,
    #[serde(default)]
    pub name_prefix_update: Option<String>,
    #[serde(default)]
    pub input_processing_configuration_update: Option<ProcessingUpdate>,
    #[serde(default)]
    pub kinesis_streams_input_update: Option<ArnRoleUpdate>,
    #[serde(default)]
    pub kinesis_firehose_input_update: Option<ArnRoleUpdate>,
    #[serde(default)]
    pub input_schema_update: Option<SourceSchemaUpdate>,
    #[serde(default)]
    pub input_parallelism_update: Option<ParallelismUpdate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingUpdate {
    pub input_lambda_processor_update: ArnRoleUpdate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ParallelismUpdate {
    #[serde(default)]
    pub count_update: Option<i64>,
}

/// `Output`, as CreateApplication and AddApplicationOutput take it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutputRequest {
    pub name: String,
    #[serde(default)]
    pub kinesis_streams_output: Option<ArnRole>,
    #[serde(default)]
    pub kinesis_firehose_output: Option<ArnRole>,
    #[serde(default)]
    pub lambda_output: Option<ArnRole>,
    pub destination_schema: DestinationSchema,
}

/// `OutputDescription`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutputDescription {
    pub output_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_streams_output_description: Option<ArnRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_firehose_output_description: Option<ArnRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_output_description: Option<ArnRole>,
    pub destination_schema: DestinationSchema,
}

/// `OutputUpdate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutputUpdate {
    pub output_id: String,
    #[serde(default)]
    pub name_update: Option<String>,
    #[serde(default)]
    pub kinesis_streams_output_update: Option<ArnRoleUpdate>,
    #[serde(default)]
    pub kinesis_firehose_output_update: Option<ArnRoleUpdate>,
    #[serde(default)]
    pub lambda_output_update: Option<ArnRoleUpdate>,
    #[serde(default)]
    pub destination_schema_update: Option<DestinationSchema>,
}

/// `S3ReferenceDataSource` / `...Description`: the same three fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct S3Reference {
    #[serde(rename = "BucketARN")]
    pub bucket_arn: String,
    #[serde(rename = "FileKey")]
    pub file_key: String,
    #[serde(rename = "ReferenceRoleARN")]
    pub reference_role_arn: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct S3ReferenceUpdate {
    #[serde(rename = "BucketARNUpdate", default)]
    pub bucket_arn: Option<String>,
    #[serde(rename = "FileKeyUpdate", default)]
    pub file_key: Option<String>,
    #[serde(rename = "ReferenceRoleARNUpdate", default)]
    pub reference_role_arn: Option<String>,
}

/// `ReferenceDataSource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReferenceRequest {
    pub table_name: String,
    #[serde(rename = "S3ReferenceDataSource", default)]
    pub s3: Option<S3Reference>,
    pub reference_schema: SourceSchema,
}

/// `ReferenceDataSourceDescription`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReferenceDescription {
    pub reference_id: String,
    pub table_name: String,
    #[serde(rename = "S3ReferenceDataSourceDescription")]
    pub s3: S3Reference,
    pub reference_schema: SourceSchema,
}

/// `ReferenceDataSourceUpdate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReferenceUpdate {
    pub reference_id: String,
    #[serde(default)]
    pub table_name_update: Option<String>,
    #[serde(rename = "S3ReferenceDataSourceUpdate", default)]
    pub s3_update: Option<S3ReferenceUpdate>,
    #[serde(default)]
    pub reference_schema_update: Option<SourceSchema>,
}

/// `CloudWatchLoggingOption`: stored and shown; Weir writes no CloudWatch logs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CloudWatchRequest {
    #[serde(rename = "LogStreamARN")]
    pub log_stream_arn: String,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CloudWatchDescription {
    #[serde(rename = "CloudWatchLoggingOptionId")]
    pub id: String,
    #[serde(rename = "LogStreamARN")]
    pub log_stream_arn: String,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CloudWatchUpdate {
    #[serde(rename = "CloudWatchLoggingOptionId")]
    pub id: String,
    #[serde(rename = "LogStreamARNUpdate", default)]
    pub log_stream_arn: Option<String>,
    #[serde(rename = "RoleARNUpdate", default)]
    pub role_arn: Option<String>,
}

/// `ApplicationUpdate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ApplicationUpdate {
    #[serde(default)]
    pub input_updates: Option<Vec<InputUpdate>>,
    #[serde(default)]
    pub application_code_update: Option<String>,
    #[serde(default)]
    pub output_updates: Option<Vec<OutputUpdate>>,
    #[serde(default)]
    pub reference_data_source_updates: Option<Vec<ReferenceUpdate>>,
    #[serde(default)]
    pub cloud_watch_logging_option_updates: Option<Vec<CloudWatchUpdate>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// `InputConfiguration` of StartApplication.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InputConfiguration {
    pub id: String,
    pub input_starting_position_configuration: StartingPosition,
}
