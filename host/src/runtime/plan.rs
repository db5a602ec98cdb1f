//! A configuration made runnable: the compiled rules, indexed by topic filter, each with its
//! actions' pipelines started. The ingress thread owns exactly one [`Plan`] and hands every
//! message to [`Plan::dispatch`]; a configuration reload builds a new plan next to the old one
//! and swaps it in between two messages (see `host.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::ack::AckToken;
use super::metrics::{Metrics, RuleMetrics};
use super::pipeline::{route_failure, ErrorRoute, Pipeline, PipelineSpec, SpoolSpec};
use super::resources::Resources;
use super::shadow_read::ShadowRead;
use super::sinks::{EmitterSink, FolderStream, KinesisLocal, Republish, Sink, TableSink};
use super::spool::ActionIdentity;
use super::work::{Meta, Origin, WorkItem};
use weir_config::{ActionConfig, ActionKind, Config, RuleConfig};
use weir_plugins::PluginSlot;
use weir_rules::{EvalContext, LookupError, Rule, RuleIndex, Template};

/// One MQTT message as the ingress hands it over.
#[derive(Debug)]
pub struct Inbound {
    /// Topic it was published on.
    pub topic: Arc<str>,
    /// Payload.
    pub payload: Bytes,
    /// The publisher's client id, when known.
    pub client_id: Option<Arc<str>>,
    /// Settles the message (PUBACK to an external broker) once every action is done.
    pub ack: AckToken,
}

/// Why a plan could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A plugin named by an action is not loaded.
    #[error("rule {rule:?}: plugin {plugin:?} is not loaded")]
    MissingPlugin { rule: String, plugin: String },
    /// A plugin is of the wrong kind for the stage it is used in.
    #[error("rule {rule:?}: plugin {plugin:?} is a {actual}, but is used as a {wanted}")]
    WrongKind {
        rule: String,
        plugin: String,
        actual: &'static str,
        wanted: &'static str,
    },
    /// A destination could not be opened.
    #[error("rule {rule:?}: action {action}")]
    Destination {
        rule: String,
        action: String,
        #[source]
        source: Box<super::sinks::SinkError>,
    },
    /// A pipeline could not start (its thread or its spool).
    #[error("rule {rule:?}: action {action}")]
    Pipeline {
        rule: String,
        action: String,
        #[source]
        source: super::pipeline::PipelineError,
    },
}

struct ActionInput {
    /// Renders the record's key (kinesis partition key, table row key, republish topic).
    key: Option<Arc<Template>>,
    /// AWS's name of the action kind, for the error payload.
    aws_action: &'static str,
    /// What it targets, for the error payload.
    resource: String,
    /// The pipeline's input.
    tx: SyncSender<WorkItem>,
}

struct PlanRule {
    name: Arc<str>,
    rule: Rule,
    actions: Vec<ActionInput>,
    errors: Option<ErrorRoute>,
    metrics: Arc<RuleMetrics>,
}

/// When a message came in, taken once per message so that every rule's outputs and error
/// payloads carry the same arrival time.
struct Arrival {
    /// On the monotonic clock, for latency.
    received: Instant,
    /// Milliseconds since the Unix epoch, for `timestamp()` and the error payload.
    ms: i64,
}

impl Arrival {
    /// The message as one rule's outputs remember it (for error payloads and latency).
    fn origin(&self, rule: &PlanRule, msg: &Inbound) -> Arc<Origin> {
        Arc::new(Origin {
            rule: rule.name.clone(),
            topic: msg.topic.clone(),
            payload: msg.payload.clone(),
            client_id: msg.client_id.clone(),
            arrival_ms: self.ms,
            received: self.received,
        })
    }
}

/// The runnable form of a configuration.
pub struct Plan {
    index: RuleIndex<usize>,
    rules: Vec<PlanRule>,
    workers: Vec<JoinHandle<()>>,
    filters: BTreeSet<String>,
    resources: Arc<Resources>,
    scratch: Vec<usize>,
    /// The spool folders of this plan's actions.
    spool_dirs: Vec<std::path::PathBuf>,
    /// Plugins loaded for this plan and not registered yet.
    prepared: BTreeMap<String, Arc<PluginSlot>>,
    /// The `[sqs]`, `[sns]`, `[dynamodb]` and `[s3]` endpoints the rule actions call.
    services: super::rule_actions::Services,
    /// Each enabled rule's index in `rules`, for Basic Ingest (`$aws/rules/NAME/...`).
    by_name: std::collections::HashMap<Arc<str>, usize>,
}

/// AWS IoT's Basic Ingest topics: `$aws/rules/RULE/rest/of/topic` is `(RULE, rest/of/topic)`.
fn basic_ingest(topic: &str) -> Option<(&str, &str)> {
    let (rule, rest) = topic.strip_prefix("$aws/rules/")?.split_once('/')?;
    Some((rule, rest))
}

fn key_template(kind: &ActionKind) -> Option<Arc<Template>> {
    kind.destination().key_template().cloned().map(Arc::new)
}

/// The name of a folder-mode `firehose` action's implicit delivery stream, as its objects
/// carry it (AWS's `[a-zA-Z0-9_.-]{1,64}`): `RULE-INDEX-firehose`.
fn delivery_stream_name(rule: &str, label: &str) -> String {
    let mut s: String = format!("{rule}-{label}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(64);
    s
}

/// A destination that could not be opened, named as the configuration's author knows it.
fn destination_error(rule: &str, label: &str, source: super::sinks::SinkError) -> PlanError {
    PlanError::Destination {
        rule: rule.to_owned(),
        action: label.to_owned(),
        source: Box::new(source),
    }
}

/// The action's spool folder, named by what the action is, not where it stands; an
/// index-named folder of an earlier version moves in first (see `spool.rs`), so an upgrade
/// delivers what the old version had spooled.
fn action_spool_dir(
    res: &Resources,
    rule: &str,
    id: &ActionIdentity,
    label: &str,
) -> Result<std::path::PathBuf, PlanError> {
    let spool_dir = super::spool::spool_dir(&res.spool_dir, rule, id);
    let legacy = super::spool::legacy_spool_dir(&res.spool_dir, rule, label);
    match super::spool::migrate_legacy(&legacy, &spool_dir, res.spool_sync) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(rule, action = %label, files = n, "spool of an earlier version migrated to the action's own folder");
        }
        Err(e) => {
            return Err(PlanError::Pipeline {
                rule: rule.to_owned(),
                action: label.to_owned(),
                source: e.into(),
            })
        }
    }
    Ok(spool_dir)
}

impl Plan {
    /// Starts every enabled rule's pipelines. Nothing is torn down on failure: the pipelines
    /// already started end as soon as this returns (their inputs are dropped).
    pub fn build(config: &Config, resources: &Arc<Resources>) -> Result<Plan, PlanError> {
        Self::build_with(config, resources, BTreeMap::new())
    }

    /// [`Plan::build`] with plugins loaded for it but not yet registered (a reload's changed
    /// plugins), which take precedence over the registry's.
    pub fn build_with(
        config: &Config,
        resources: &Arc<Resources>,
        prepared: BTreeMap<String, Arc<PluginSlot>>,
    ) -> Result<Plan, PlanError> {
        let mut plan = Plan {
            index: RuleIndex::new(),
            rules: Vec::new(),
            workers: Vec::new(),
            filters: BTreeSet::new(),
            resources: resources.clone(),
            scratch: Vec::new(),
            spool_dirs: Vec::new(),
            prepared,
            services: super::rule_actions::Services::of(config),
            by_name: Default::default(),
        };
        for (name, rc) in &config.rules {
            if !rc.enabled {
                continue;
            }
            let rule = plan.build_rule(name, rc)?;
            let id = plan.rules.len();
            // The filter was validated when the configuration was loaded.
            if plan.index.insert(id, rule.rule.topic_filter()).is_ok() {
                plan.filters.insert(rule.rule.topic_filter().to_owned());
                plan.by_name.insert(rule.name.clone(), id);
                plan.rules.push(rule);
            }
        }
        for orphan in super::spool::orphans(&resources.spool_dir, &plan.spool_dirs) {
            tracing::warn!(path = %orphan.display(), "a spool belongs to no configured action (its rule or action is gone, or now delivers elsewhere): its records are not delivered until an action of that rule delivers where it did again");
        }
        // Only once the plan could be built: a refused reload changes nothing.
        resources
            .dead_letters
            .set_budget(config.storage.dead_letter_max_bytes);
        Ok(plan)
    }

    fn build_rule(&mut self, name: &str, rc: &RuleConfig) -> Result<PlanRule, PlanError> {
        let metrics = self.resources.metrics.rule(name);
        let errors = match &rc.error_action {
            Some(ea) => {
                let d = ea.kind.destination();
                let id = ActionIdentity {
                    label: d.label(),
                    identity: d.identity(),
                    error_action: true,
                    occurrence: 0,
                };
                let tx = self.start_action(name, "error", &id, ea, None, true, &metrics)?;
                Some(ErrorRoute {
                    tx,
                    key: key_template(&ea.kind),
                })
            }
            None => None,
        };
        let mut actions = Vec::new();
        let ids = ActionIdentity::of_actions(rc.actions.iter().map(|ac| {
            let d = ac.kind.destination();
            (d.label(), d.identity())
        }));
        for ((i, ac), id) in rc.actions.iter().enumerate().zip(&ids) {
            let label = format!("{i}");
            let tx = self.start_action(name, &label, id, ac, errors.clone(), false, &metrics)?;
            let d = ac.kind.destination();
            actions.push(ActionInput {
                key: key_template(&ac.kind),
                aws_action: d.aws_action(),
                resource: d.resource(),
                tx,
            });
        }
        Ok(PlanRule {
            name: Arc::from(name),
            rule: rc.rule.clone(),
            actions,
            errors,
            metrics,
        })
    }

    fn slot(
        &self,
        rule: &str,
        plugin: &str,
        wanted: weir_plugins::PluginKind,
    ) -> Result<Arc<PluginSlot>, PlanError> {
        let slot = self
            .prepared
            .get(plugin)
            .cloned()
            .or_else(|| self.resources.registry.get(plugin))
            .ok_or_else(|| PlanError::MissingPlugin {
                rule: rule.to_owned(),
                plugin: plugin.to_owned(),
            })?;
        let actual = slot.current().kind();
        if actual != wanted {
            return Err(PlanError::WrongKind {
                rule: rule.to_owned(),
                plugin: plugin.to_owned(),
                actual: actual.as_str(),
                wanted: wanted.as_str(),
            });
        }
        Ok(slot)
    }

    /// Starts one action's pipeline and returns its input. The destination is opened first
    /// (a missing stream or table refuses the plan before any thread starts), then the plugin
    /// stages are looked up and an earlier version's spool moved into the action's own
    /// folder; the plan keeps the worker and the folder so `retire` can join one and the
    /// orphan check can tell the other apart.
    #[allow(clippy::too_many_arguments)]
    fn start_action(
        &mut self,
        rule: &str,
        index: &str,
        id: &ActionIdentity,
        ac: &ActionConfig,
        errors: Option<ErrorRoute>,
        is_error_action: bool,
        rule_metrics: &Arc<RuleMetrics>,
    ) -> Result<SyncSender<WorkItem>, PlanError> {
        use weir_plugins::PluginKind;
        let destination = ac.kind.destination();
        let label = format!("{index}:{}", destination.label());
        let sink = self.sink(rule, id, ac, &label)?;
        let transformers = self.slots(rule, &ac.transformers, PluginKind::Transformer)?;
        let filters = self.slots(rule, &ac.filters, PluginKind::Filter)?;
        let res = &self.resources;
        let spool_dir = action_spool_dir(res, rule, id, &label)?;
        let action = label.clone();
        let pipeline = Pipeline::spawn(PipelineSpec {
            metrics: res.metrics.action(rule, &label),
            label,
            aws_action: destination.aws_action(),
            resource: destination.resource(),
            transformers,
            filters,
            buffer: ac.buffer,
            sink,
            errors,
            is_error_action,
            dead_letters: res.dead_letters.clone(),
            liveness: res.metrics.liveness.clone(),
            rule_metrics: rule_metrics.clone(),
            spool: SpoolSpec {
                dir: spool_dir.clone(),
                sync: res.spool_sync,
                // What no running pipeline holds: an earlier run's, or a stopped pipeline's.
                adopt: true,
                shared: res.shared_spools.as_ref().map(|log| {
                    super::spool::shared::SharedSpec::new(log.clone(), rule, &id.folder())
                }),
            },
        })
        .map_err(|source| PlanError::Pipeline {
            rule: rule.to_owned(),
            action,
            source,
        })?;
        self.workers.push(pipeline.handle);
        self.spool_dirs.push(spool_dir);
        Ok(pipeline.tx)
    }

    /// Opens an action's destination: the one match over action kinds that knows the sinks
    /// (see `sinks.rs`). Errors name the rule and the action's `INDEX:KIND` label, as the
    /// configuration's author knows them.
    fn sink(
        &self,
        rule: &str,
        id: &ActionIdentity,
        ac: &ActionConfig,
        label: &str,
    ) -> Result<Box<dyn Sink>, PlanError> {
        let res = &self.resources;
        let dest_err = |source| destination_error(rule, label, source);
        Ok(match &ac.kind {
            ActionKind::Kinesis(k) => match &k.endpoint {
                None => Box::new(KinesisLocal::new(res, &k.stream)),
                Some(url) => {
                    Box::new(super::sinks::KinesisRemote::new(url, &k.stream).map_err(dest_err)?)
                }
            },
            ActionKind::Firehose(f) if f.delivery_stream.is_some() => {
                let name = f.delivery_stream.as_deref().unwrap_or_default();
                let Some(fh) = &res.firehose else {
                    return Err(dest_err(super::sinks::SinkError::NoFirehose {
                        stream: name.to_owned(),
                    }));
                };
                Box::new(super::sinks::DeliveryStream::new(fh.clone(), name))
            }
            ActionKind::Firehose(f) => self.implicit_delivery_stream(rule, id, f, label)?,
            ActionKind::Republish(r) => Box::new(Republish::new(res.clone(), r.qos)),
            ActionKind::Table(t) => Box::new(TableSink::new(res, &t.table).map_err(dest_err)?),
            ActionKind::Plugin(p) => Box::new(EmitterSink::new(
                self.slot(rule, &p.emitter, weir_plugins::PluginKind::Emitter)?,
                res.clone(),
            )),
            ActionKind::Sqs(a) => Box::new(
                super::rule_actions::SqsSink::new(a, &self.services.sqs).map_err(dest_err)?,
            ),
            ActionKind::Sns(a) => Box::new(
                super::rule_actions::SnsSink::new(a, &self.services.sns).map_err(dest_err)?,
            ),
            ActionKind::DynamoDbV2(a) => Box::new(
                super::rule_actions::DynamoDbSink::new(a, &self.services.dynamodb)
                    .map_err(dest_err)?,
            ),
            ActionKind::S3(a) => Box::new(super::rule_actions::S3Sink::new(
                a,
                self.services.s3.as_ref(),
                res.lookup.clone(),
            )),
            ActionKind::Http(a) => Box::new(super::rule_actions::HttpSink::new(
                a,
                res.lookup.clone(),
                &self.services,
            )),
            ActionKind::Lambda(_) => Box::new(super::rule_actions::LambdaSink::new(res.clone())),
        })
    }

    /// A folder-mode `firehose` action's sink: an implicit delivery stream of the Firehose
    /// service, whose buffer is the action's Firehose buffer; keyed like the action's spool,
    /// by what the action is, so its buffered records stay with it when actions move.
    fn implicit_delivery_stream(
        &self,
        rule: &str,
        id: &ActionIdentity,
        f: &weir_config::FirehoseAction,
        label: &str,
    ) -> Result<Box<dyn Sink>, PlanError> {
        let name = delivery_stream_name(rule, label);
        let Some(fh) = &self.resources.firehose else {
            return Err(destination_error(
                rule,
                label,
                super::sinks::SinkError::NoFirehose { stream: name },
            ));
        };
        let spec = weir_firehose::ImplicitStreamSpec {
            key: super::spool::spool_dir(std::path::Path::new(""), rule, id)
                .to_string_lossy()
                .into_owned(),
            name: name.clone(),
            root: f.root.clone(),
            prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
            error_prefix: Some(f.error_prefix.clone()),
            buffer_bytes: f.buffer_bytes,
            buffer_interval: f.buffer_interval,
        };
        let stream = fh.implicit_stream(&spec).map_err(|source| {
            destination_error(
                rule,
                label,
                super::sinks::SinkError::Firehose {
                    stream: name.clone(),
                    source: Box::new(source),
                },
            )
        })?;
        Ok(Box::new(FolderStream::new(stream, &name)))
    }

    /// The plugin slots of one stage (transformers or filters), in the configured order.
    fn slots(
        &self,
        rule: &str,
        names: &[String],
        wanted: weir_plugins::PluginKind,
    ) -> Result<Vec<Arc<PluginSlot>>, PlanError> {
        names.iter().map(|p| self.slot(rule, p, wanted)).collect()
    }

    /// The distinct topic filters of the enabled rules: what the ingress subscribes to.
    pub fn filters(&self) -> &BTreeSet<String> {
        &self.filters
    }

    /// Number of enabled rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Evaluates every rule whose filter matches the message's topic and hands the outputs to
    /// their actions. Blocks while an action's input is full (backpressure).
    /// `only`: the filters of the subscriptions the message came through, when the broker
    /// says (MQTT 5 subscription identifiers); rules with other filters are skipped.
    /// A Basic Ingest message (`$aws/rules/RULE/rest`) goes to rule RULE alone, which sees
    /// `rest` as the topic (its FROM filter, `topic()`, templates and error payloads).
    pub fn dispatch(&mut self, mut msg: Inbound, only: Option<&[String]>) {
        let ingest = basic_ingest(&msg.topic).map(|(r, t)| (Arc::<str>::from(r), Arc::from(t)));
        let matched = match ingest {
            Some((rule, rest)) => {
                msg.topic = rest;
                self.match_basic_ingest(&rule, &msg)
            }
            None => self.match_rules(&msg, only),
        };
        if !matched {
            return;
        }
        let arrival = Arrival {
            received: Instant::now(),
            ms: chrono::Utc::now().timestamp_millis(),
        };
        let json = weir_rules::parse_payload(&msg.payload);
        let lookup = TableLookup(&self.resources.lookup);
        let shadows = self.resources.shadows.as_deref().map(ShadowRead);
        let cx = EvalContext {
            client_id: msg.client_id.as_deref(),
            timestamp_ms: arrival.ms,
            lookup: Some(&lookup),
            shadows: shadows.as_ref().map(|s| s as &dyn weir_rules::ShadowLookup),
            ..EvalContext::new(&msg.topic, &msg.payload, json.as_ref())
        };
        for &id in &self.scratch {
            let Some(rule) = self.rules.get(id) else {
                continue;
            };
            if only.is_some_and(|f| !f.iter().any(|f| f == rule.rule.topic_filter())) {
                continue;
            }
            self.run_rule(rule, &msg, &cx, &arrival);
        }
    }

    /// Counts the message in and collects the rules whose filter matches its topic into
    /// `scratch` (reused, so dispatch does not allocate per message); `false` when none
    /// does. A message to an AWS-reserved `$` topic that nothing here serves is refused
    /// rather than acknowledged as if it were stored: the publisher is disconnected and its
    /// QoS 1 message is not acknowledged.
    fn match_rules(&mut self, msg: &Inbound, only: Option<&[String]>) -> bool {
        let metrics: &Metrics = &self.resources.metrics;
        metrics.messages_in.fetch_add(1, Ordering::Relaxed);
        metrics
            .bytes_in
            .fetch_add(msg.payload.len() as u64, Ordering::Relaxed);
        self.scratch.clear();
        self.index.matches_into(&msg.topic, &mut self.scratch);
        if !self.scratch.is_empty() {
            return true;
        }
        metrics.unmatched.fetch_add(1, Ordering::Relaxed);
        // Shadow topics are served by the embedded broker's shadow workers (`shadow_topics.rs`),
        // lifecycle events are the broker's own (`lifecycle.rs`).
        let served = (self.resources.shadows.is_some()
            && super::shadow_topics::is_shadow_topic(&msg.topic))
            || super::lifecycle::is_lifecycle_topic(&msg.topic);
        if msg.topic.starts_with('$') && only.is_none() && !served {
            metrics.reserved_unmatched.fetch_add(1, Ordering::Relaxed);
            msg.ack.fail();
        }
        false
    }

    /// [`Plan::match_rules`] for a Basic Ingest message, its topic already without the
    /// prefix: `rule` if it runs and its filter matches; otherwise the message is refused as
    /// any reserved topic nothing serves is (its publisher disconnected, never acknowledged).
    fn match_basic_ingest(&mut self, rule: &str, msg: &Inbound) -> bool {
        let metrics: &Metrics = &self.resources.metrics;
        metrics.messages_in.fetch_add(1, Ordering::Relaxed);
        metrics
            .bytes_in
            .fetch_add(msg.payload.len() as u64, Ordering::Relaxed);
        self.scratch.clear();
        let id = self.by_name.get(rule).copied();
        if let Some(id) = id.filter(|&id| {
            self.rules
                .get(id)
                .is_some_and(|r| weir_rules::filter_matches(r.rule.topic_filter(), &msg.topic))
        }) {
            self.scratch.push(id);
            return true;
        }
        metrics.unmatched.fetch_add(1, Ordering::Relaxed);
        metrics.reserved_unmatched.fetch_add(1, Ordering::Relaxed);
        msg.ack.fail();
        false
    }

    /// Evaluates one rule on the message and hands its output to each of its actions. A
    /// failed evaluation goes to the rule's error action (as AWS's `RuleEvaluation` failure);
    /// a `WHERE` that does not hold is no output and no error.
    fn run_rule(&self, rule: &PlanRule, msg: &Inbound, cx: &EvalContext<'_>, arrival: &Arrival) {
        let output = match rule.rule.evaluate(cx) {
            Ok(Some(out)) => out,
            Ok(None) => return,
            Err(e) => {
                rule.metrics.errors.fetch_add(1, Ordering::Relaxed);
                let origin = arrival.origin(rule, msg);
                self.fail_to_error_action(
                    rule,
                    &origin,
                    &msg.ack,
                    ("RuleEvaluation", &rule.name),
                    &e.to_string(),
                );
                return;
            }
        };
        rule.metrics.matched.fetch_add(1, Ordering::Relaxed);
        let bytes = output.to_bytes();
        let origin = arrival.origin(rule, msg);
        for action in &rule.actions {
            self.send_to_action(rule, action, cx, &origin, &bytes, &msg.ack);
        }
    }

    /// Renders the action's key (the topic when it has no key template) and queues the
    /// output on the action's pipeline; blocks while that input is full (backpressure). A
    /// key that does not render is the action's failure, for the rule's error action.
    fn send_to_action(
        &self,
        rule: &PlanRule,
        action: &ActionInput,
        cx: &EvalContext<'_>,
        origin: &Arc<Origin>,
        bytes: &[u8],
        ack: &AckToken,
    ) {
        let key: Arc<str> = match &action.key {
            Some(t) => match t.render(cx) {
                Ok(k) => Arc::from(k),
                Err(e) => {
                    rule.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.fail_to_error_action(
                        rule,
                        origin,
                        ack,
                        (action.aws_action, &action.resource),
                        &format!("template {:?}: {e}", t.source()),
                    );
                    return;
                }
            },
            None => origin.topic.clone(),
        };
        let item = WorkItem {
            record: origin.record(bytes.to_vec(), key.to_string()),
            meta: Meta {
                key,
                origin: origin.clone(),
                ack: ack.clone(),
                owned: false,
            },
        };
        if action.tx.send(item).is_err() {
            // Only possible if the worker died; the message must not be acknowledged.
            tracing::error!(rule = %rule.name, action = action.aws_action, "action pipeline is gone");
            ack.fail();
        }
    }

    /// Hands a failure of `(aws_action, resource)` to the rule's error action, or without one
    /// to the dead-letter store (see [`route_failure`]); when neither takes it, the message
    /// fails, so it is never acknowledged as delivered.
    fn fail_to_error_action(
        &self,
        rule: &PlanRule,
        origin: &Arc<Origin>,
        ack: &AckToken,
        (aws_action, resource): (&str, &str),
        reason: &str,
    ) {
        if !route_failure(
            rule.errors.as_ref(),
            &self.resources.dead_letters,
            origin,
            ack,
            false,
            aws_action,
            resource,
            reason,
        ) {
            ack.fail();
        }
    }

    /// Closes every input and waits until every pipeline drained and flushed: after this,
    /// everything dispatched to this plan is delivered or with its error action.
    pub fn retire(self) {
        let Plan { rules, workers, .. } = self;
        drop(rules);
        for w in workers {
            if w.join().is_err() {
                tracing::error!("an action pipeline panicked while draining");
            }
        }
    }
}

/// `get_dynamodb` over the host's lookup tables (also for the templates `rule_actions`
/// renders when it sends).
pub(super) struct TableLookup<'a>(pub(super) &'a weir_plugins::tables::LookupTables);

impl weir_rules::RowLookup for TableLookup<'_> {
    fn lookup(
        &self,
        table: &str,
        key_column: &str,
        key: &str,
    ) -> Result<Option<Map<String, Value>>, LookupError> {
        let t = self
            .0
            .table(table)
            .ok_or_else(|| LookupError::NoSuchTable(table.to_owned()))?;
        if !t.has_column(key_column) {
            return Err(LookupError::NoSuchColumn {
                table: table.to_owned(),
                column: key_column.to_owned(),
            });
        }
        Ok(t.find(key_column, key).map(|row| {
            row.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        }))
    }
}
