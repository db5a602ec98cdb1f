//! Enhanced fan-out consumers: registration, description, tags, and the admission of a
//! SubscribeToShard. The consumers themselves are persisted with the stream's settings;
//! their CREATING/DELETING transitions and the last subscription per shard live in memory.

use super::*;

/// AWS's quota of registered consumers per stream.
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;

/// AWS refuses a second SubscribeToShard for the same consumer and shard this soon after a
/// successful one.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(5);

/// The in-memory side of a stream's consumers.
#[derive(Default)]
pub(crate) struct ConsumerRuntime {
    /// Consumers still CREATING, until when.
    creating: HashMap<String, Instant>,
    /// Deregistered consumers still shown as DELETING, until when.
    deleting: Vec<(Instant, ConsumerMeta)>,
    /// The last successful SubscribeToShard per (consumer, shard index).
    subscribed: HashMap<(String, u64), Instant>,
}

impl ConsumerRuntime {
    fn status(&self, name: &str, now: Instant) -> StreamStatus {
        match self.creating.get(name) {
            Some(until) if now < *until => StreamStatus::Creating,
            _ => StreamStatus::Active,
        }
    }

    fn prune(&mut self, now: Instant) {
        self.creating.retain(|_, until| now < *until);
        self.deleting.retain(|(until, _)| now < *until);
        self.subscribed
            .retain(|_, at| now.duration_since(*at) < RESUBSCRIBE_AFTER);
    }
}

impl Streams {
    /// The ARN AWS gives a consumer: the stream's, `/consumer/NAME:` and the creation time
    /// in epoch seconds.
    pub fn consumer_arn(&self, stream: &str, c: &ConsumerMeta) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.arn(stream),
            c.name,
            c.created_ms.div_euclid(1000)
        )
    }

    fn consumer_info(&self, stream: &str, c: &ConsumerMeta, status: StreamStatus) -> ConsumerInfo {
        ConsumerInfo {
            name: c.name.clone(),
            arn: self.consumer_arn(stream, c),
            status,
            created_ms: c.created_ms,
            stream_arn: self.arn(stream),
        }
    }

    fn consumer_not_found(&self, stream: &str, consumer: &str) -> StreamsError {
        StreamsError::NotFound(format!(
            "Consumer {consumer} under stream {stream} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    /// RegisterStreamConsumer: CREATING for the transition delay, then ACTIVE.
    pub fn register_consumer(
        &self,
        stream: &str,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<ConsumerInfo> {
        let s = self.stream(stream)?;
        self.require_active(&s)?;
        if tags.len() > MAX_TAGS {
            return Err(StreamsError::InvalidArgument(format!(
                "A consumer cannot have more than {MAX_TAGS} tags associated with it."
            )));
        }
        let account = self.inner.config.account_id.clone();
        let meta = ConsumerMeta {
            name: name.to_owned(),
            created_ms: now_ms(),
            tags,
            policy: None,
        };
        let added = meta.clone();
        let deleting = {
            let rt = lock(&s.consumers);
            let now = Instant::now();
            rt.deleting
                .iter()
                .any(|(until, c)| c.name == name && now < *until)
        };
        self.locked_update(&s, |m| {
            if deleting || m.settings.consumers.iter().any(|c| c.name == name) {
                return Err(StreamsError::InUse(format!(
                    "Consumer {name} under stream {stream} already exists for account {account}."
                )));
            }
            if m.settings.consumers.len() >= MAX_CONSUMERS_PER_STREAM {
                return Err(StreamsError::LimitExceeded(format!(
                    "Stream {stream} under account {account} already has {MAX_CONSUMERS_PER_STREAM} registered consumers, the most it can have."
                )));
            }
            m.settings.consumers.push(added);
            Ok(())
        })?;
        let delay = self.inner.config.transition_delay;
        let status = if delay.is_zero() {
            StreamStatus::Active
        } else {
            lock(&s.consumers)
                .creating
                .insert(name.to_owned(), Instant::now() + delay);
            StreamStatus::Creating
        };
        Ok(self.consumer_info(stream, &meta, status))
    }

    /// The registered consumers of a stream, oldest first, with those being deregistered.
    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerInfo>> {
        let s = self.stream(stream)?;
        let metas = read(&s.topo).meta.settings.consumers.clone();
        let mut rt = lock(&s.consumers);
        let now = Instant::now();
        rt.prune(now);
        let mut out: Vec<ConsumerInfo> = metas
            .iter()
            .map(|c| self.consumer_info(stream, c, rt.status(&c.name, now)))
            .chain(
                rt.deleting
                    .iter()
                    .map(|(_, c)| self.consumer_info(stream, c, StreamStatus::Deleting)),
            )
            .collect();
        out.sort_by(|a, b| (a.created_ms, &a.name).cmp(&(b.created_ms, &b.name)));
        Ok(out)
    }

    /// DescribeStreamConsumer by stream and consumer name.
    pub fn describe_consumer(&self, stream: &str, name: &str) -> Result<ConsumerInfo> {
        self.list_consumers(stream)?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| self.consumer_not_found(stream, name))
    }

    /// Resolves a consumer ARN to (stream, consumer name). The creation time in the ARN must
    /// match: a consumer registered again under the same name is another consumer.
    pub fn resolve_consumer_arn(&self, arn: &str) -> Result<(String, String)> {
        let parsed = arn
            .split_once(":stream/")
            .and_then(|(_, rest)| rest.split_once("/consumer/"))
            .and_then(|(stream, rest)| {
                let (name, ts) = rest.rsplit_once(':')?;
                Some((stream, name, ts.parse::<i64>().ok()?))
            });
        let Some((stream, name, ts)) = parsed else {
            return Err(StreamsError::InvalidArgument(format!(
                "Invalid ConsumerARN {arn}."
            )));
        };
        let c = self.describe_consumer(stream, name)?;
        if c.created_ms.div_euclid(1000) != ts {
            return Err(self.consumer_not_found(stream, name));
        }
        Ok((stream.to_owned(), name.to_owned()))
    }

    /// DeregisterStreamConsumer: gone at once from the catalog, DELETING for the delay.
    pub fn deregister_consumer(&self, stream: &str, name: &str) -> Result<()> {
        let s = self.stream(stream)?;
        let mut removed = None;
        self.locked_update(&s, |m| {
            let at = m.settings.consumers.iter().position(|c| c.name == name);
            removed = at.map(|i| m.settings.consumers.remove(i));
            Ok(())
        })?;
        let Some(meta) = removed else {
            return Err(self.consumer_not_found(stream, name));
        };
        let delay = self.inner.config.transition_delay;
        let mut rt = lock(&s.consumers);
        rt.creating.remove(name);
        rt.subscribed.retain(|(c, _), _| c != name);
        if !delay.is_zero() {
            rt.deleting.push((Instant::now() + delay, meta));
        }
        Ok(())
    }

    /// One field of a registered consumer's persisted record.
    fn consumer_field<T>(
        &self,
        stream: &str,
        name: &str,
        field: impl FnOnce(&ConsumerMeta) -> T,
    ) -> Result<T> {
        let s = self.stream(stream)?;
        let topo = read(&s.topo);
        topo.meta
            .settings
            .consumers
            .iter()
            .find(|c| c.name == name)
            .map(field)
            .ok_or_else(|| self.consumer_not_found(stream, name))
    }

    /// A consumer's tags.
    pub fn consumer_tags(&self, stream: &str, name: &str) -> Result<BTreeMap<String, String>> {
        self.consumer_field(stream, name, |c| c.tags.clone())
    }

    /// TagResource / UntagResource on a consumer: adds `add`, then removes `remove`.
    pub fn update_consumer_tags(
        &self,
        stream: &str,
        name: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        let s = self.stream(stream)?;
        let missing = self.consumer_not_found(stream, name);
        self.locked_update(&s, |m| {
            let Some(c) = m.settings.consumers.iter_mut().find(|c| c.name == name) else {
                return Err(missing);
            };
            let mut tags = c.tags.clone();
            tags.extend(add);
            for k in remove {
                tags.remove(k);
            }
            if tags.len() > MAX_TAGS {
                return Err(StreamsError::InvalidArgument(format!(
                    "A consumer cannot have more than {MAX_TAGS} tags associated with it."
                )));
            }
            c.tags = tags;
            Ok(())
        })
    }

    /// A consumer's resource policy.
    pub fn consumer_policy(&self, stream: &str, name: &str) -> Result<Option<String>> {
        self.consumer_field(stream, name, |c| c.policy.clone())
    }

    /// Put (`Some`) or delete (`None`) a consumer's resource policy; deleting a policy that
    /// is not there is ResourceNotFoundException.
    pub fn set_consumer_policy(
        &self,
        stream: &str,
        name: &str,
        policy: Option<String>,
    ) -> Result<()> {
        let s = self.stream(stream)?;
        let missing = self.consumer_not_found(stream, name);
        let account = self.inner.config.account_id.clone();
        self.locked_update(&s, |m| {
            let Some(c) = m.settings.consumers.iter_mut().find(|c| c.name == name) else {
                return Err(missing);
            };
            if policy.is_none() && c.policy.is_none() {
                return Err(StreamsError::NotFound(format!(
                    "No resource policy found for consumer {name} of stream {stream} under account {account}."
                )));
            }
            c.policy = policy;
            Ok(())
        })
    }

    /// Admits a SubscribeToShard: the consumer must be ACTIVE, the stream readable, and the
    /// same consumer may not have subscribed to the shard in the last five seconds.
    pub fn subscribe_consumer(
        &self,
        stream: &str,
        consumer: &str,
        shard: &str,
        start: StartPosition,
    ) -> Result<Subscription> {
        let c = self.describe_consumer(stream, consumer)?;
        if c.status != StreamStatus::Active {
            return Err(StreamsError::InUse(format!(
                "Consumer {} is not ACTIVE, instead in state {}.",
                c.arn,
                c.status.as_str()
            )));
        }
        let s = self.stream_for_data(stream)?;
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(stream, shard))?;
        {
            let mut rt = lock(&s.consumers);
            let now = Instant::now();
            rt.prune(now);
            if rt.subscribed.contains_key(&(consumer.to_owned(), idx)) {
                return Err(StreamsError::InUse(format!(
                    "Another active subscription exists for consumer {} on shard {}, or one was made less than 5 seconds ago.",
                    c.arn,
                    shard_id(idx)
                )));
            }
        }
        let sub = self.subscribe(stream, shard, start)?;
        lock(&s.consumers)
            .subscribed
            .insert((consumer.to_owned(), idx), Instant::now());
        Ok(sub)
    }
}
