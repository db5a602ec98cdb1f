//! CreateDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams and
//! DeleteDeliveryStream, with the checks a create (and an update) makes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use weir_support::{lock, now_ms, read};

use super::{buffer_name, CreateRequest, Description, Entry, Firehose, BUFFER_RETENTION_HOURS};
use crate::error::{FirehoseError, Result};
use crate::model::*;

impl Firehose {
    /// CreateDeliveryStream.
    pub fn create(&self, req: CreateRequest) -> Result<String> {
        check_name(&req.name)?;
        req.destination.validate(&self.inner.config.egress)?;
        check_tags(&req.tags)?;
        if req.tags.len() > MAX_TAGS {
            return Err(FirehoseError::LimitExceeded(format!(
                "A delivery stream can have at most {MAX_TAGS} tags; {} were given.",
                req.tags.len()
            )));
        }
        self.check_source(&req)?;
        let encryption = match &req.encryption {
            None => Encryption {
                enabled: false,
                key_type: None,
                key_arn: None,
            },
            Some((kt, arn)) => {
                check_key(kt, arn.as_deref())?;
                Encryption {
                    enabled: true,
                    key_type: Some(kt.clone()),
                    key_arn: arn.clone(),
                }
            }
        };
        let mut streams = lock(&self.inner.streams);
        if streams.contains_key(&req.name) {
            return Err(FirehoseError::InUse(format!(
                "Firehose {} under accountId {} already exists",
                req.name, self.inner.config.account_id
            )));
        }
        let now = now_ms();
        let mut spec = DeliveryStreamSpec {
            name: req.name.clone(),
            uid: uuid::Uuid::new_v4().simple().to_string(),
            source: req.source,
            kinesis_stream_arn: req.kinesis_stream_arn,
            destination: req.destination,
            version: 1,
            created_ms: now,
            updated_ms: now,
            tags: req.tags,
            encryption,
            processing: req.processing,
            partitioning: req.partitioning,
            conversion: req.conversion,
        };
        self.check_spec(&mut spec)?;
        spec.updated_ms = now;
        self.inner
            .buffer()
            .ensure_stream(&buffer_name(&spec.uid), 1, BUFFER_RETENTION_HOURS)?;
        self.persist(&streams, Some((&req.name, Some(&spec))))?;
        let entry = Entry::new(spec, Instant::now() + self.inner.config.transition_delay);
        streams.insert(req.name.clone(), entry.clone());
        drop(streams);
        crate::source::spawn(&self.inner, entry.clone())?;
        crate::deliver::spawn(&self.inner, entry)?;
        Ok(self.arn(&req.name))
    }

    /// The source of a create: a Kinesis stream of this host, or direct puts. Server-side
    /// encryption is for direct puts only (a Kinesis source is encrypted, or not, by its
    /// stream), as AWS documents.
    fn check_source(&self, req: &CreateRequest) -> Result<()> {
        let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
        if req.source == SourceKind::KinesisStreamAsSource && req.encryption.is_some() {
            return invalid(
                "DeliveryStreamEncryptionConfigurationInput is for DirectPut delivery streams only; a KinesisStreamAsSource delivery stream is encrypted by its source stream.".into(),
            );
        }
        match (req.source, &req.kinesis_stream_arn) {
            (SourceKind::DirectPut, Some(_)) => {
                return invalid(
                    "KinesisStreamSourceConfiguration is only for DeliveryStreamType KinesisStreamAsSource.".into(),
                )
            }
            (SourceKind::KinesisStreamAsSource, None) => {
                return invalid(
                    "DeliveryStreamType KinesisStreamAsSource needs KinesisStreamSourceConfiguration.".into(),
                )
            }
            (SourceKind::KinesisStreamAsSource, Some(arn)) => {
                crate::source::check_source(&self.inner.config, arn)?;
            }
            (SourceKind::DirectPut, None) => {}
        }
        Ok(())
    }

    /// Everything a destination's settings must satisfy together, checked by
    /// CreateDeliveryStream and again by UpdateDestination after the update is merged: the
    /// destination's own settings (`DeliveryDestination::validate`: an HTTP endpoint this
    /// host may send to), the transformation names a loaded plugin, the partition keys and
    /// prefixes agree, the conversion's table is declared, the object names are valid and the
    /// destination takes these stages (`DeliveryDestination::check_stages`). Parses the
    /// partition query into its keys.
    pub(super) fn check_spec(&self, spec: &mut DeliveryStreamSpec) -> Result<()> {
        spec.destination.validate(&self.inner.config.egress)?;
        self.check_processing(spec)?;
        check_partitioning(spec)?;
        self.check_conversion(spec)?;
        check_keys(spec)?;
        spec.destination.check_stages(spec)
    }

    /// The transformation's `LambdaArn` must name a transformer plugin this host has loaded:
    /// refused at creation rather than failing every record at delivery.
    fn check_processing(&self, spec: &DeliveryStreamSpec) -> Result<()> {
        let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
        if let Some(p) = &spec.processing {
            let function =
                weir_firehose_model::lambda_function_name(&p.lambda_arn).unwrap_or_default();
            match &self.inner.config.processor.0 {
                None => {
                    return invalid(format!(
                        "LambdaArn {}: this Weir host runs no transformation plugins (see [plugins] in the config).",
                        p.lambda_arn
                    ))
                }
                Some(proc) if !proc.knows(function) => {
                    return invalid(format!(
                        "LambdaArn {}: no transformer plugin named {function} is loaded.",
                        p.lambda_arn
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The conversion's table must be declared in the config (`[[firehose.tables]]`) with
    /// columns the Parquet writer takes, and its compression be one it writes.
    fn check_conversion(&self, spec: &DeliveryStreamSpec) -> Result<()> {
        let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
        if let Some(c) = &spec.conversion {
            let table = format!("{}.{}", c.database, c.table);
            let Some(columns) = self.inner.config.schemas.get(&table) else {
                return invalid(weir_firehose_model::undeclared_table(&table));
            };
            crate::parquet::Schema::parse(columns)
                .map_err(|e| FirehoseError::InvalidArgument(format!("table {table}: {e}")))?;
            crate::parquet::compression_of(&c.compression)
                .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))?;
        }
        Ok(())
    }

    /// DescribeDeliveryStream.
    pub fn describe(&self, name: &str) -> Result<Description> {
        let e = self.entry(name)?;
        let spec = read(&e.spec).clone();
        Ok(Description {
            arn: self.arn(name),
            status: e.status(),
            encryption: e.encryption_status(),
            spec,
        })
    }

    /// ListDeliveryStreams: names after `start_after`, at most `limit`, and whether more
    /// follow.
    pub fn list(
        &self,
        limit: usize,
        start_after: Option<&str>,
        kind: Option<SourceKind>,
    ) -> (Vec<String>, bool) {
        let streams = lock(&self.inner.streams);
        let mut names = streams
            .iter()
            .filter(|(n, _)| start_after.is_none_or(|s| n.as_str() > s))
            .filter(|(_, e)| kind.is_none_or(|k| read(&e.spec).source == k))
            .map(|(n, _)| n.clone());
        let page: Vec<String> = names.by_ref().take(limit).collect();
        let more = names.next().is_some();
        (page, more)
    }

    /// DeleteDeliveryStream: DELETING for the transition delay, then gone. The removal is
    /// durable at once; undelivered records are discarded, as on AWS.
    pub fn delete(&self, name: &str) -> Result<()> {
        self.look_up_shared(name)?;
        let mut streams = lock(&self.inner.streams);
        let Some(e) = streams.get(name).cloned() else {
            return Err(self.not_found(name));
        };
        if e.deleting.load(Ordering::SeqCst) {
            return Err(self.not_found(name));
        }
        self.persist(&streams, Some((name, None)))?;
        e.deleting.store(true, Ordering::SeqCst);
        e.stop.store(true, Ordering::SeqCst);
        let delay = self.inner.config.transition_delay;
        if delay.is_zero() {
            streams.remove(name);
            drop(streams);
            return self.remove_data(&e);
        }
        drop(streams);
        let me = self.clone();
        let name = name.to_owned();
        std::thread::Builder::new()
            .name("weir-firehose-delete".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let mut streams = lock(&me.inner.streams);
                if streams.get(&name).is_some_and(|x| Arc::ptr_eq(x, &e)) {
                    streams.remove(&name);
                }
                drop(streams);
                if let Err(err) = me.remove_data(&e) {
                    tracing::error!(stream = %name, error = %err, "removing a deleted delivery stream's buffer failed");
                }
            })
            .map_err(|source| FirehoseError::Io {
                what: "cannot start the deletion thread".into(),
                source,
            })?;
        Ok(())
    }

    fn remove_data(&self, e: &Entry) -> Result<()> {
        let uid = read(&e.spec).uid.clone();
        self.inner.buffer().delete_stream(&buffer_name(&uid))?;
        let mut keys = vec![
            crate::deliver::checkpoint_key(&uid),
            crate::source::checkpoint_key(&uid),
        ];
        // A lease a dead host left behind (a live holder releases its own as it stops).
        if self.inner.shared {
            keys.push(format!("leases/delivery/{uid}"));
            keys.push(format!("leases/source/{uid}"));
        }
        for key in keys {
            self.inner
                .docs
                .delete(&key, weir_support::docstore::DocExpect::Any)?;
        }
        Ok(())
    }
}

/// The object names this spec's prefixes make are plain keys (no empty, `.` or `..`
/// segments): see `store::plain_key`.
pub(crate) fn check_keys(spec: &DeliveryStreamSpec) -> Result<()> {
    use crate::batch::{object_key, KeyKind};
    let sample: Vec<(String, String)> = spec
        .partitioning
        .iter()
        .flat_map(|p| &p.keys)
        .map(|(n, _)| (n.clone(), "k".to_owned()))
        .collect();
    for kind in [KeyKind::Data(&sample), KeyKind::Error("processing-failed")] {
        let key = object_key(spec, now_ms(), kind, "")?;
        crate::store::plain_key(&key)?;
    }
    Ok(())
}

pub(super) fn check_key(key_type: &str, key_arn: Option<&str>) -> Result<()> {
    match (key_type, key_arn) {
        ("AWS_OWNED_CMK", None) => Ok(()),
        ("AWS_OWNED_CMK", Some(_)) => Err(FirehoseError::InvalidArgument(
            "KeyARN must not be given with KeyType AWS_OWNED_CMK.".into(),
        )),
        ("CUSTOMER_MANAGED_CMK", Some(a)) if a.starts_with("arn:") => Ok(()),
        ("CUSTOMER_MANAGED_CMK", _) => Err(FirehoseError::InvalidArgument(
            "KeyType CUSTOMER_MANAGED_CMK needs the KeyARN of a KMS key.".into(),
        )),
        (other, _) => Err(FirehoseError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'deliveryStreamEncryptionConfigurationInput.keyType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]"
        ))),
    }
}

/// Dynamic partitioning and the prefix must agree, as AWS requires: with it enabled the
/// prefix uses a partition key, only keys the query defines, and there is an error output
/// prefix; without it the prefix uses none. Parses the query into `keys`.
fn check_partitioning(spec: &mut DeliveryStreamSpec) -> Result<()> {
    let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
    let prefix_keys: Vec<String> = spec
        .destination
        .s3()
        .prefixes()?
        .data
        .partition_keys()
        .into_iter()
        .map(str::to_owned)
        .collect();
    match &mut spec.partitioning {
        Some(p) => {
            p.keys = crate::partition::parse_query(&p.query)?;
            if prefix_keys.is_empty() {
                return invalid(
                    "With dynamic partitioning enabled the Prefix must use at least one !{partitionKeyFromQuery:NAME}.".into(),
                );
            }
            if spec.destination.s3().error_output_prefix.is_none() {
                return invalid(
                    "With dynamic partitioning enabled an ErrorOutputPrefix is required.".into(),
                );
            }
            for k in &prefix_keys {
                if !p.keys.iter().any(|(n, _)| n == k) {
                    return invalid(format!(
                        "The Prefix uses !{{partitionKeyFromQuery:{k}}}, which the MetadataExtractionQuery does not define."
                    ));
                }
            }
        }
        None if !prefix_keys.is_empty() => {
            return invalid(
                "The Prefix uses !{partitionKeyFromQuery:...}, which needs DynamicPartitioningConfiguration enabled.".into(),
            )
        }
        None => {}
    }
    Ok(())
}
