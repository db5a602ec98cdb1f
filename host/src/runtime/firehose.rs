//! The Firehose service of `weir run`: its folder under `[storage] dir`, where its buckets
//! live (from `[s3]`), the transformer plugins its `ProcessingConfiguration`s run, the Weir
//! streams `KinesisStreamAsSource` delivery streams read, the `[[firehose.tables]]` format
//! conversion uses, and the delivery streams the file declares.

use std::sync::Arc;

use weir_config::Config;
use weir_firehose::{
    Buffering, Compression, Conversion, CreateRequest, DeliveryDestination, Egress, Firehose,
    FirehoseConfig, FirehoseError, InvokeError, Partitioning, ProcessIn, Processed, Processing,
    Processor, ProcessorSlot, S3Destination, S3Settings, SourceKind, Storage,
};
use weir_plugins::{PluginKind, PluginRegistry, Record, TransformResult};
use weir_streams::Streams;
use weir_support::egress::EgressPolicy;

/// Buckets go to S3 when `[s3]` is in the file or the environment names an endpoint
/// (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`); otherwise each bucket is a folder under
/// `STORAGE/s3/`.
pub(crate) fn storage_of(config: &Config) -> Storage {
    let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    match (&config.s3, env_endpoint) {
        (Some(s3), env) => Storage::S3(S3Settings {
            endpoint_url: s3.endpoint_url.clone().or(env),
            region: s3.region.clone(),
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: s3.secret_access_key.clone(),
            session_token: None,
        }),
        (None, Some(env)) => Storage::S3(S3Settings {
            endpoint_url: Some(env),
            ..S3Settings::default()
        }),
        (None, None) => Storage::Folder(config.storage.dir.join("s3")),
    }
}

pub(crate) fn open(
    config: &Config,
    runtime: tokio::runtime::Handle,
    registry: &Arc<PluginRegistry>,
    streams: &Streams,
    cluster: Option<&super::cluster::ClusterStores>,
) -> Result<Firehose, FirehoseError> {
    let mut fc = FirehoseConfig::new(config.storage.dir.join("firehose"), storage_of(config));
    if let Some(c) = cluster {
        fc.docs = Some(c.firehose_docs.clone());
        fc.buffer_stores = Some(c.firehose_buffers.clone());
    }
    fc.transition_delay = config.storage.transition;
    fc.processor = ProcessorSlot(Some(Arc::new(PluginProcessor(registry.clone()))));
    fc.source_streams = Some(streams.clone());
    fc.schemas = config
        .firehose
        .tables
        .iter()
        .map(|t| (format!("{}.{}", t.database, t.table), t.columns.clone()))
        .collect();
    // API callers name HTTP endpoint URLs; the file says which non-public addresses they
    // may reach.
    fc.egress = Egress::new(EgressPolicy::new(
        config.firehose.allow_private_endpoints,
        config.firehose.allowed_endpoints.clone(),
    ));
    Firehose::open(fc, runtime)
}

/// Creates the delivery streams the file declares that do not exist yet. One that exists is
/// left as it is (the API may have changed it since; the catalog is the truth once created).
pub(crate) fn declare(config: &Config, firehose: &Firehose) -> Result<(), FirehoseError> {
    let arn_base = |service: &str| {
        let c = firehose.config();
        format!("arn:aws:{service}:{}:{}", c.region, c.account_id)
    };
    for d in &config.firehose.delivery_streams {
        match firehose.describe(&d.name) {
            Ok(_) => continue,
            Err(FirehoseError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        // IAM has no region; Weir checks no roles, but DescribeDeliveryStream shows one.
        let role_arn = format!(
            "arn:aws:iam::{}:role/weir-firehose",
            firehose.config().account_id
        );
        let destination = S3Destination {
            role_arn: role_arn.clone(),
            bucket_arn: format!("arn:aws:s3:::{}", d.bucket),
            prefix: d.prefix.clone().filter(|p| !p.is_empty()),
            error_output_prefix: d.error_prefix.clone().filter(|p| !p.is_empty()),
            buffering: Buffering::new(
                d.buffer_size_mib.map(i64::from),
                d.buffer_interval_s.map(i64::from),
            )?,
            compression: match &d.compression {
                Some(c) => Compression::parse(c)?,
                None => Compression::Uncompressed,
            },
            file_extension: None,
        };
        let (source, kinesis_stream_arn) = match &d.source_stream {
            Some(s) => (
                SourceKind::KinesisStreamAsSource,
                Some(format!("{}:stream/{s}", arn_base("kinesis"))),
            ),
            None => (SourceKind::DirectPut, None),
        };
        let created = firehose.create(CreateRequest {
            name: d.name.clone(),
            source,
            kinesis_stream_arn,
            destination: DeliveryDestination::ExtendedS3(destination),
            tags: Default::default(),
            encryption: None,
            processing: d.lambda.as_ref().map(|f| Processing {
                lambda_arn: format!("{}:function:{f}", arn_base("lambda")),
                retries: d.lambda_retries.unwrap_or(3),
            }),
            partitioning: d.partition_query.as_ref().map(|q| Partitioning {
                query: q.clone(),
                keys: Vec::new(),
                retry_s: 300,
            }),
            conversion: d.table.as_ref().map(|(database, table)| Conversion {
                database: database.clone(),
                table: table.clone(),
                region: None,
                role_arn: role_arn.clone(),
                compression: d
                    .parquet_compression
                    .clone()
                    .unwrap_or_else(|| weir_firehose::DEFAULT_PARQUET_COMPRESSION.into()),
            }),
        });
        match created {
            Ok(_) => {
                tracing::info!(delivery_stream = %d.name, "created the delivery stream the configuration declares")
            }
            // Another host on the cluster declared it at the same moment: it exists now.
            Err(FirehoseError::InUse(_)) if firehose.describe(&d.name).is_ok() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs a `LambdaArn`'s function as the transformer plugin of that name, with Firehose's
/// contract: one result per record. A record the plugin turns into no records is `Dropped`;
/// into one, `Ok` with its payload; into several, `Ok` with their payloads each ending in a
/// newline (the blueprints turn a multi-line payload into one record per line). A record
/// error is `ProcessingFailed` with the plugin's code and message; a fault of the whole
/// call (trap, deadline, memory) is a failed invocation, which Firehose retries.
struct PluginProcessor(Arc<PluginRegistry>);

impl Processor for PluginProcessor {
    fn knows(&self, function: &str) -> bool {
        self.0
            .get(function)
            .is_some_and(|s| s.current().kind() == PluginKind::Transformer)
    }

    fn process(
        &self,
        function: &str,
        records: &[ProcessIn<'_>],
    ) -> Result<Vec<Processed>, InvokeError> {
        let Some(slot) = self.0.get(function) else {
            return Err(InvokeError {
                code: "Lambda.FunctionNotFound".into(),
                message: format!("no plugin named {function} is loaded"),
            });
        };
        if slot.current().kind() != PluginKind::Transformer {
            return Err(InvokeError {
                code: "Lambda.FunctionError".into(),
                message: format!(
                    "plugin {function} is a {}, not a transformer",
                    slot.current().kind().as_str()
                ),
            });
        }
        let batch: Vec<Record> = records
            .iter()
            .map(|r| Record {
                payload: r.data.to_vec(),
                partition_key: r.record_id.to_owned(),
                rule_name: "firehose".into(),
                arrival_timestamp_ms: u64::try_from(r.arrival_ms).unwrap_or_default(),
                attributes: vec![("recordId".into(), r.record_id.to_owned())],
                ..Record::default()
            })
            .collect();
        let results = slot.transform(&batch).map_err(|e| InvokeError {
            code: "Lambda.FunctionError".into(),
            message: weir_support::error_chain(&e),
        })?;
        Ok(results.into_iter().map(processed).collect())
    }
}

fn processed(result: TransformResult) -> Processed {
    match result {
        TransformResult::Failed(e) => Processed::Failed(format!("{}: {}", e.code, e.message)),
        TransformResult::Records(mut out) => match out.len() {
            0 => Processed::Dropped,
            1 => Processed::Ok(out.remove(0).payload),
            _ => {
                let mut data = Vec::new();
                for r in out {
                    data.extend_from_slice(&r.payload);
                    if !r.payload.ends_with(b"\n") {
                        data.push(b'\n');
                    }
                }
                Processed::Ok(data)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_plugins::RecordError;

    #[test]
    fn transform_results_map_onto_firehose_results() {
        let rec = |p: &str| Record {
            payload: p.as_bytes().to_vec(),
            ..Record::default()
        };
        assert_eq!(
            processed(TransformResult::Records(vec![])),
            Processed::Dropped
        );
        assert_eq!(
            processed(TransformResult::Records(vec![rec("a")])),
            Processed::Ok(b"a".to_vec())
        );
        assert_eq!(
            processed(TransformResult::Records(vec![rec("a"), rec("b\n")])),
            Processed::Ok(b"a\nb\n".to_vec())
        );
        assert_eq!(
            processed(TransformResult::Failed(RecordError {
                code: "bad-line".into(),
                message: "line 1".into()
            })),
            Processed::Failed("bad-line: line 1".into())
        );
    }
}
