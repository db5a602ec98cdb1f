//! UpdateDestination, tags and server-side encryption: changes to a delivery stream's
//! settings, each persisted before it is answered.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use weir_support::{lock, now_ms, read, write};

use super::lifecycle::check_key;
use super::Firehose;
use crate::error::{FirehoseError, Result};
use crate::model::*;

impl Firehose {
    /// Applies `change` to a copy of the stream's spec, validates and persists it, then makes
    /// it current. `change` returns whether the version goes up.
    fn modify(
        &self,
        name: &str,
        change: impl FnOnce(&mut DeliveryStreamSpec) -> Result<bool>,
    ) -> Result<()> {
        self.look_up_shared(name)?;
        let streams = lock(&self.inner.streams);
        let e = streams
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))?;
        if e.status() != DeliveryStreamStatus::Active {
            return Err(FirehoseError::InUse(format!(
                "Firehose {name} is not ACTIVE; it is {}.",
                e.status().as_str()
            )));
        }
        let mut spec = read(&e.spec).clone();
        if change(&mut spec)? {
            spec.version += 1;
        }
        spec.updated_ms = now_ms();
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// UpdateDestination: `update` merges the request into the stream's settings (destination,
    /// transformation, partitioning, conversion), checked as a create checks them; the version
    /// must be current.
    pub fn update_destination(
        &self,
        name: &str,
        current_version: &str,
        destination_id: &str,
        update: impl FnOnce(&mut DeliveryStreamSpec) -> Result<()>,
    ) -> Result<u32> {
        let mut version = 0;
        self.modify(name, |spec| {
            if current_version != spec.version.to_string() {
                return Err(FirehoseError::ConcurrentModification(format!(
                    "Cannot update firehose: {name} since the current version id: {} and specified version id: {current_version} do not match",
                    spec.version
                )));
            }
            if destination_id != DESTINATION_ID {
                return Err(FirehoseError::InvalidArgument(format!(
                    "Destination Id {destination_id} not found for firehose {name}."
                )));
            }
            // `spec` is a copy: nothing is kept unless the merged settings pass every check.
            update(spec)?;
            self.check_spec(spec)?;
            version = spec.version + 1;
            Ok(true)
        })?;
        Ok(version)
    }

    /// TagDeliveryStream: adds or replaces tags; at most 50 in all.
    pub fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        check_tags(&tags)?;
        let e = self.entry(name)?;
        if e.deleting.load(Ordering::SeqCst) {
            return Err(self.not_found(name));
        }
        let streams = lock(&self.inner.streams);
        let mut spec = read(&e.spec).clone();
        spec.tags.extend(tags);
        if spec.tags.len() > MAX_TAGS {
            return Err(FirehoseError::LimitExceeded(format!(
                "A delivery stream can have at most {MAX_TAGS} tags; this would make {}.",
                spec.tags.len()
            )));
        }
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// UntagDeliveryStream.
    pub fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        let e = self.entry(name)?;
        let streams = lock(&self.inner.streams);
        let mut spec = read(&e.spec).clone();
        for k in keys {
            spec.tags.remove(k);
        }
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// The stream's tags, sorted by key.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(read(&self.entry(name)?.spec).tags.clone())
    }

    /// Start/StopDeliveryStreamEncryption: ENABLING / DISABLING for the transition delay.
    pub fn set_encryption(&self, name: &str, on: Option<(String, Option<String>)>) -> Result<()> {
        if let Some((kt, arn)) = &on {
            check_key(kt, arn.as_deref())?;
        }
        let e = self.entry(name)?;
        if e.encryption_status() != EncryptionStatus::Enabled
            && e.encryption_status() != EncryptionStatus::Disabled
        {
            return Err(FirehoseError::InUse(format!(
                "Firehose {name}'s encryption is {}; wait until it settles.",
                e.encryption_status().as_str()
            )));
        }
        self.modify(name, |spec| {
            if on.is_some() && spec.source != SourceKind::DirectPut {
                return Err(FirehoseError::InvalidArgument(format!(
                    "Firehose {name} reads a Kinesis stream; server-side encryption can only be enabled for a DirectPut delivery stream."
                )));
            }
            spec.encryption = match on {
                Some((kt, arn)) => Encryption {
                    enabled: true,
                    key_type: Some(kt),
                    key_arn: arn,
                },
                None => Encryption {
                    enabled: false,
                    key_type: None,
                    key_arn: None,
                },
            };
            Ok(false)
        })?;
        *lock(&e.encryption_until) = Some(Instant::now() + self.inner.config.transition_delay);
        Ok(())
    }
}
