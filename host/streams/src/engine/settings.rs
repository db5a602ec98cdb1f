//! Stream settings beyond shards and retention: encryption, shard-level metrics, the record
//! size limit, warm throughput, record distribution, the stream mode and resource policies,
//! plus the account-wide settings and limits. Each is persisted in the catalog with the
//! stream, so a restart reports what clients set.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::*;

/// The shard-level metrics of EnableEnhancedMonitoring, in AWS's order (`ALL` expands to
/// these).
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

/// AWS's default quota of on-demand streams per account.
pub const ON_DEMAND_STREAM_LIMIT: u32 = 50;

/// Smallest and largest MaxRecordSizeInKiB AWS accepts.
pub const MAX_RECORD_KIB: std::ops::RangeInclusive<u32> = 1024..=10240;

/// The account's minimum throughput billing commitment (Describe/UpdateAccountSettings).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountSettings {
    /// `None` until the first UpdateAccountSettings: DISABLED.
    #[serde(default)]
    pub commitment: Option<Commitment>,
}

/// One commitment: when it started, the earliest it may end, and when a DISABLED request
/// ends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Commitment {
    pub started_ms: i64,
    pub earliest_end_ms: i64,
    #[serde(default)]
    pub ended_ms: Option<i64>,
}

/// How long a commitment runs at least, as AWS documents it (24 hours).
const COMMITMENT_MIN_MS: i64 = 24 * 3_600_000;

/// The answer of DescribeLimits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

impl Commitment {
    /// `ENABLED`, `ENABLED_UNTIL_EARLIEST_ALLOWED_END` or `DISABLED`, as of `now`.
    pub fn status(&self, now: i64) -> &'static str {
        match self.ended_ms {
            None => "ENABLED",
            Some(end) if end > now => "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
            Some(_) => "DISABLED",
        }
    }
}

impl Streams {
    /// Runs `f` on a stream's settings and persists them. `active` requires the stream to
    /// be ACTIVE, as AWS does for changes; `transition` then shows UPDATING for the
    /// configured delay (encryption and mode changes do on AWS).
    pub(super) fn update_settings(
        &self,
        name: &str,
        active: bool,
        transition: bool,
        f: impl FnOnce(&mut StreamMeta) -> Result<()>,
    ) -> Result<()> {
        let s = self.stream(name)?;
        if active {
            self.require_active(&s)?;
        }
        self.locked_update(&s, f)?;
        if transition {
            self.set_transition(&s, StreamStatus::Updating);
        }
        Ok(())
    }

    /// StartStreamEncryption (`Some(key)`) and StopStreamEncryption (`None`).
    pub fn set_encryption(&self, name: &str, key: Option<String>) -> Result<()> {
        self.update_settings(name, true, true, |m| {
            m.settings.encryption_key = key;
            Ok(())
        })
    }

    /// Enable/DisableEnhancedMonitoring: returns the metrics before and after.
    pub fn set_shard_level_metrics(
        &self,
        name: &str,
        metrics: &[String],
        enable: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let wanted: BTreeSet<&str> = if metrics.iter().any(|m| m == "ALL") {
            SHARD_LEVEL_METRICS.into_iter().collect()
        } else {
            metrics.iter().map(String::as_str).collect()
        };
        let mut before = Vec::new();
        let mut after = Vec::new();
        self.update_settings(name, true, false, |m| {
            before = m.settings.shard_level_metrics.clone();
            let cur: BTreeSet<&str> = before.iter().map(String::as_str).collect();
            // Kept in AWS's order, whatever order the request named them in.
            after = SHARD_LEVEL_METRICS
                .into_iter()
                .filter(|x| {
                    let on = cur.contains(x);
                    let named = wanted.contains(x);
                    if enable {
                        on || named
                    } else {
                        on && !named
                    }
                })
                .map(str::to_owned)
                .collect();
            m.settings.shard_level_metrics = after.clone();
            Ok(())
        })?;
        Ok((before, after))
    }

    /// UpdateMaxRecordSize (and CreateStream's MaxRecordSizeInKiB, with `active` false).
    pub fn set_max_record_size(&self, name: &str, kib: u32, active: bool) -> Result<()> {
        if !MAX_RECORD_KIB.contains(&kib) {
            return Err(StreamsError::InvalidArgument(format!(
                "MaxRecordSizeInKiB must be between {} and {}, got {kib}.",
                MAX_RECORD_KIB.start(),
                MAX_RECORD_KIB.end()
            )));
        }
        self.update_settings(name, active, false, |m| {
            m.settings.max_record_kib = Some(kib);
            Ok(())
        })
    }

    /// The largest record a stream takes, in bytes, if it set one.
    pub fn max_record_bytes(&self, name: &str) -> Result<Option<usize>> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        Ok(topo.meta.settings.max_record_kib.map(|k| k as usize * 1024))
    }

    /// UpdateStreamWarmThroughput: on-demand streams only, as on AWS. `active` false is for
    /// UpdateStreamMode's own warm throughput, set while the stream is UPDATING.
    pub fn set_warm_throughput(&self, name: &str, mibps: u32, active: bool) -> Result<()> {
        let account = self.inner.config.account_id.clone();
        self.update_settings(name, active, false, |m| {
            if !m.on_demand {
                return Err(StreamsError::InvalidArgument(format!(
                    "Warm throughput can only be set on streams in ON_DEMAND mode; stream {} under account {account} is PROVISIONED.",
                    m.name
                )));
            }
            m.settings.warm_throughput_mibps = Some(mibps);
            Ok(())
        })
    }

    /// UpdateStreamRecordDistributionStrategy.
    pub fn set_record_distribution(&self, name: &str, strategy: &str) -> Result<()> {
        let strategy = strategy.to_owned();
        self.update_settings(name, true, false, |m| {
            m.settings.record_distribution = Some(strategy);
            Ok(())
        })
    }

    /// UpdateStreamMode. The stream is UPDATING for the transition delay, as on AWS; the
    /// shards stay as they are (Weir does not scale on-demand streams by itself).
    pub fn set_stream_mode(&self, name: &str, on_demand: bool) -> Result<()> {
        let account = self.inner.config.account_id.clone();
        self.update_settings(name, true, true, |m| {
            if m.on_demand == on_demand {
                return Err(StreamsError::InvalidArgument(format!(
                    "Stream {} under account {account} is already in {} mode.",
                    m.name,
                    if on_demand {
                        "ON_DEMAND"
                    } else {
                        "PROVISIONED"
                    }
                )));
            }
            m.on_demand = on_demand;
            if !on_demand {
                m.settings.warm_throughput_mibps = None;
            }
            Ok(())
        })
    }

    /// PutResourcePolicy (`Some`) and DeleteResourcePolicy (`None`). A delete when there is
    /// no policy is ResourceNotFoundException, as on AWS.
    pub fn set_policy(&self, name: &str, policy: Option<String>) -> Result<()> {
        let account = self.inner.config.account_id.clone();
        self.update_settings(name, false, false, |m| {
            if policy.is_none() && m.settings.policy.is_none() {
                return Err(StreamsError::NotFound(format!(
                    "No resource policy found for stream {} under account {account}.",
                    m.name
                )));
            }
            m.settings.policy = policy;
            Ok(())
        })
    }

    /// GetResourcePolicy: the document, or `None`.
    pub fn policy(&self, name: &str) -> Result<Option<String>> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        Ok(topo.meta.settings.policy.clone())
    }

    /// DescribeLimits: the host's shard quota and what is in use.
    pub fn limits(&self) -> AccountLimits {
        let reg = read(&self.inner.registry);
        let mut open = 0u32;
        let mut on_demand = 0u32;
        for s in reg.by_name.values() {
            let topo = read(&s.topo);
            open = open.saturating_add(u32::try_from(topo.open.len()).unwrap_or(u32::MAX));
            if topo.meta.on_demand {
                on_demand += 1;
            }
        }
        AccountLimits {
            shard_limit: self.inner.config.max_total_shards,
            open_shard_count: open,
            on_demand_stream_count: on_demand,
            on_demand_stream_count_limit: ON_DEMAND_STREAM_LIMIT.min(self.inner.config.max_streams),
        }
    }

    /// DescribeAccountSettings.
    pub fn account_settings(&self) -> Result<AccountSettings> {
        match self.inner.meta.account()? {
            Some(raw) => serde_json::from_slice(&raw).map_err(|e| {
                StreamsError::Metadata(format!(
                    "account settings in {}: {e}",
                    self.inner.meta.describe()
                ))
            }),
            None => Ok(AccountSettings::default()),
        }
    }

    /// UpdateAccountSettings: ENABLED starts a commitment (or cancels a pending end);
    /// DISABLED ends it, no earlier than its earliest allowed end.
    pub fn update_account_settings(&self, enable: bool, now: i64) -> Result<AccountSettings> {
        let _serialised = lock(&self.inner.catalog);
        let mut a = self.account_settings()?;
        a.commitment = match (a.commitment.take(), enable) {
            (Some(c), true) if c.status(now) != "DISABLED" => Some(Commitment {
                ended_ms: None,
                ..c
            }),
            (_, true) => Some(Commitment {
                started_ms: now,
                earliest_end_ms: now + COMMITMENT_MIN_MS,
                ended_ms: None,
            }),
            (Some(c), false) if c.status(now) == "ENABLED" => Some(Commitment {
                ended_ms: Some(c.earliest_end_ms.max(now)),
                ..c
            }),
            (other, false) => other,
        };
        let raw =
            serde_json::to_vec_pretty(&a).map_err(|e| StreamsError::Metadata(e.to_string()))?;
        self.inner.meta.set_account(&raw)?;
        Ok(a)
    }
}
