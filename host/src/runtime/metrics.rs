//! Counters and latency histograms of a running host, rendered as Prometheus text for
//! `GET /metrics`.
//!
//! Hot paths only touch atomics: each rule, action and shard gets its counter block once (a map
//! lookup under a mutex when a pipeline is built), and keeps an `Arc` to it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir_plugins::{FaultKind, PluginRegistry};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with Prometheus's cumulative buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// One rule's counters.
#[derive(Debug, Default)]
pub struct RuleMetrics {
    /// Messages for which the rule fired.
    pub matched: AtomicU64,
    /// Messages whose evaluation failed, or that failed in one of the rule's actions.
    pub errors: AtomicU64,
}

/// One action's counters.
#[derive(Debug, Default)]
pub struct ActionMetrics {
    /// Records made durable at (or accepted by) the destination.
    pub delivered: AtomicU64,
    /// Records that failed after their retries (they went to the error action, if any).
    pub failed: AtomicU64,
    /// Records a filter plugin dropped.
    pub dropped: AtomicU64,
    /// Delivery attempts that were retried.
    pub retries: AtomicU64,
    /// From the message's arrival at Weir to its delivery.
    pub latency: Histogram,
}

/// Records appended to one shard by this host's actions.
#[derive(Debug, Default)]
pub struct ShardMetrics {
    /// Records.
    pub records: AtomicU64,
    /// Data bytes (partition keys not counted).
    pub bytes: AtomicU64,
}

/// The values of a host's counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Messages taken in.
    pub messages_in: u64,
    /// Messages no enabled rule matched.
    pub unmatched: u64,
    /// Per rule.
    pub rules: Vec<RuleCounts>,
    /// Per action of a rule (error actions included, labelled `error:...`).
    pub actions: Vec<ActionCounts>,
    /// Per shard the host's actions appended to.
    pub shards: Vec<ShardCounts>,
}

/// One rule's counters.
#[derive(Debug, Clone)]
pub struct RuleCounts {
    pub rule: String,
    pub matched: u64,
    pub errors: u64,
}

/// One action's counters.
#[derive(Debug, Clone)]
pub struct ActionCounts {
    pub rule: String,
    /// `INDEX:KIND[:TARGET]`, as in `/metrics`.
    pub action: String,
    pub delivered: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// Records one shard received.
#[derive(Debug, Clone)]
pub struct ShardCounts {
    pub stream: String,
    pub shard: String,
    pub records: u64,
}

/// Every counter of a host.
#[derive(Debug, Default)]
pub struct Metrics {
    /// MQTT messages taken in.
    pub messages_in: AtomicU64,
    /// Their payload bytes.
    pub bytes_in: AtomicU64,
    /// Messages no enabled rule matched.
    pub unmatched: AtomicU64,
    /// QoS 0 messages shed because the dispatcher's queue was full.
    pub qos0_shed: AtomicU64,
    /// QoS 0 messages the embedded broker shed because the ingress was far behind.
    pub qos0_shed_by_broker: AtomicU64,
    /// `$` messages that no rule took: refused, their publishers disconnected.
    pub reserved_unmatched: AtomicU64,
    /// Which worker threads died (behind `/health`).
    pub liveness: Arc<super::liveness::Liveness>,
    /// Configuration reloads applied.
    pub config_reloads: AtomicU64,
    /// Configuration reloads refused (the old configuration kept running).
    pub config_reload_errors: AtomicU64,
    /// Failed messages of rules without an error action, written to the dead-letter store.
    pub dead_letters: AtomicU64,
    /// Dead-letter writes that failed (those messages were not acknowledged).
    pub dead_letter_write_errors: AtomicU64,
    /// Failures the dead-letter store refused, not acknowledged: its budget was spent...
    pub dead_letters_refused_budget: AtomicU64,
    /// ...or its writer's queue was full.
    pub dead_letters_refused_busy: AtomicU64,
    rules: Mutex<BTreeMap<String, Arc<RuleMetrics>>>,
    actions: Mutex<BTreeMap<(String, String), Arc<ActionMetrics>>>,
    shards: Mutex<BTreeMap<(String, String), Arc<ShardMetrics>>>,
}

use weir_support::lock;

impl Metrics {
    /// The counters of rule `name` (kept across configuration reloads).
    pub fn rule(&self, name: &str) -> Arc<RuleMetrics> {
        lock(&self.rules)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// The counters of one action of `rule`; `action` is its label, e.g. `kinesis:alerts`.
    pub fn action(&self, rule: &str, action: &str) -> Arc<ActionMetrics> {
        lock(&self.actions)
            .entry((rule.to_owned(), action.to_owned()))
            .or_default()
            .clone()
    }

    /// The counters of one shard.
    pub fn shard(&self, stream: &str, shard: &str) -> Arc<ShardMetrics> {
        lock(&self.shards)
            .entry((stream.to_owned(), shard.to_owned()))
            .or_default()
            .clone()
    }

    /// The counters' values now, for a report (`weir demo`), in label order.
    pub fn snapshot(&self) -> Snapshot {
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        Snapshot {
            messages_in: c(&self.messages_in),
            unmatched: c(&self.unmatched),
            rules: lock(&self.rules)
                .iter()
                .map(|(name, m)| RuleCounts {
                    rule: name.clone(),
                    matched: c(&m.matched),
                    errors: c(&m.errors),
                })
                .collect(),
            actions: lock(&self.actions)
                .iter()
                .map(|((rule, action), m)| ActionCounts {
                    rule: rule.clone(),
                    action: action.clone(),
                    delivered: c(&m.delivered),
                    failed: c(&m.failed),
                    dropped: c(&m.dropped),
                })
                .collect(),
            shards: lock(&self.shards)
                .iter()
                .map(|((stream, shard), m)| ShardCounts {
                    stream: stream.clone(),
                    shard: shard.clone(),
                    records: c(&m.records),
                })
                .collect(),
        }
    }

    /// Prometheus text exposition (version 0.0.4) of everything, plugins included.
    pub fn render(&self, plugins: Option<&PluginRegistry>) -> String {
        let mut out = String::new();
        self.render_host(&mut out);
        self.render_rules(&mut out);
        self.render_actions(&mut out);
        self.render_shards(&mut out);
        if let Some(registry) = plugins {
            render_plugins(&mut out, registry);
        }
        out
    }

    /// The host-wide counters: one series each, but the dead-letter refusals by reason.
    fn render_host(&self, out: &mut String) {
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let single = [
            ("weir_messages_in_total", "MQTT messages taken in.", c(&self.messages_in)),
            (
                "weir_message_bytes_in_total",
                "Payload bytes of the MQTT messages taken in.",
                c(&self.bytes_in),
            ),
            (
                "weir_messages_unmatched_total",
                "Messages no enabled rule matched.",
                c(&self.unmatched),
            ),
            (
                "weir_qos0_shed_total",
                "QoS 0 messages dropped because the rules were behind (QoS 1 waits instead).",
                c(&self.qos0_shed) + c(&self.qos0_shed_by_broker),
            ),
            (
                "weir_reserved_topic_refused_total",
                "Messages on $ topics that no rule takes: refused, not acknowledged.",
                c(&self.reserved_unmatched),
            ),
            (
                "weir_worker_deaths_total",
                "Worker threads (ingress, dispatcher, pipelines) that died; /health fails after one.",
                self.liveness.dead_count() as u64,
            ),
            (
                "weir_config_reloads_total",
                "Configuration reloads applied.",
                c(&self.config_reloads),
            ),
            (
                "weir_config_reload_errors_total",
                "Configuration reloads refused; the previous configuration kept running.",
                c(&self.config_reload_errors),
            ),
            (
                "weir_dead_letters_total",
                "Failed messages of rules without an error action, stored under STORAGE/dead-letters.",
                c(&self.dead_letters),
            ),
            (
                "weir_dead_letter_write_errors_total",
                "Dead-letter writes that failed; those messages were not acknowledged.",
                c(&self.dead_letter_write_errors),
            ),
        ];
        for (name, help, value) in single {
            counter(out, name, help, &[(String::new(), value)]);
        }
        counter(
            out,
            "weir_dead_letters_refused_total",
            "Failures the dead-letter store refused (budget: [storage] dead_letter_max_bytes spent; busy: its writer behind); those messages were not acknowledged.",
            &[
                ("reason=\"budget\"".to_owned(), c(&self.dead_letters_refused_budget)),
                ("reason=\"busy\"".to_owned(), c(&self.dead_letters_refused_busy)),
            ],
        );
    }

    /// Per rule: messages matched and failed.
    fn render_rules(&self, out: &mut String) {
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let rules = lock(&self.rules).clone();
        let rule_rows = |f: fn(&RuleMetrics) -> &AtomicU64| {
            rules
                .iter()
                .map(|(n, m)| (format!("rule=\"{}\"", escape(n)), c(f(m))))
                .collect::<Vec<_>>()
        };
        counter(
            out,
            "weir_rule_matched_total",
            "Messages for which the rule fired.",
            &rule_rows(|m| &m.matched),
        );
        counter(
            out,
            "weir_rule_errors_total",
            "Messages whose evaluation or one of whose actions failed.",
            &rule_rows(|m| &m.errors),
        );
    }

    /// Per action: delivered, failed, dropped, retried, and the arrival-to-delivery latency.
    fn render_actions(&self, out: &mut String) {
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let actions = lock(&self.actions).clone();
        let label =
            |(r, a): &(String, String)| format!("rule=\"{}\",action=\"{}\"", escape(r), escape(a));
        let action_rows = |f: fn(&ActionMetrics) -> &AtomicU64| {
            actions
                .iter()
                .map(|(k, m)| (label(k), c(f(m))))
                .collect::<Vec<_>>()
        };
        counter(
            out,
            "weir_action_delivered_total",
            "Records the action delivered.",
            &action_rows(|m| &m.delivered),
        );
        counter(
            out,
            "weir_action_failed_total",
            "Records that failed after their retries and went to the error action.",
            &action_rows(|m| &m.failed),
        );
        counter(
            out,
            "weir_action_dropped_total",
            "Records a filter plugin dropped.",
            &action_rows(|m| &m.dropped),
        );
        counter(
            out,
            "weir_action_retries_total",
            "Delivery attempts that were retried.",
            &action_rows(|m| &m.retries),
        );
        let _ = writeln!(
            out,
            "# HELP weir_action_latency_seconds From a message's arrival to its delivery.\n# TYPE weir_action_latency_seconds histogram"
        );
        for (k, m) in &actions {
            m.latency
                .render(out, "weir_action_latency_seconds", &label(k));
        }
    }

    /// Per shard: records and bytes the rule actions appended.
    fn render_shards(&self, out: &mut String) {
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let shards = lock(&self.shards).clone();
        let shard_label =
            |(s, h): &(String, String)| format!("stream=\"{}\",shard=\"{}\"", escape(s), escape(h));
        counter(
            out,
            "weir_shard_records_in_total",
            "Records appended to the shard by rule actions.",
            &shards
                .iter()
                .map(|(k, m)| (shard_label(k), c(&m.records)))
                .collect::<Vec<_>>(),
        );
        counter(
            out,
            "weir_shard_bytes_in_total",
            "Data bytes appended to the shard by rule actions.",
            &shards
                .iter()
                .map(|(k, m)| (shard_label(k), c(&m.bytes)))
                .collect::<Vec<_>>(),
        );
    }
}

fn render_plugins(out: &mut String, registry: &PluginRegistry) {
    let mut calls = Vec::new();
    let mut records_in = Vec::new();
    let mut record_errors = Vec::new();
    let mut faults = Vec::new();
    let mut seconds = Vec::new();
    for slot in registry.slots() {
        for (version, snap) in slot.version_counters() {
            let l = format!(
                "plugin=\"{}\",version=\"{}\"",
                escape(slot.name()),
                escape(&version)
            );
            calls.push((l.clone(), snap.calls));
            records_in.push((l.clone(), snap.records_in));
            record_errors.push((l.clone(), snap.record_errors));
            for kind in FaultKind::ALL {
                faults.push((
                    format!("{l},kind=\"{}\"", kind.as_str()),
                    snap.faults_of(kind),
                ));
            }
            seconds.push((l, snap.time_in_guest.as_secs_f64()));
        }
    }
    counter(
        out,
        "weir_plugin_calls_total",
        "Batch calls into the plugin.",
        &calls,
    );
    counter(
        out,
        "weir_plugin_records_total",
        "Records passed to the plugin.",
        &records_in,
    );
    counter(
        out,
        "weir_plugin_record_errors_total",
        "Records the plugin reported as failed.",
        &record_errors,
    );
    counter(
        out,
        "weir_plugin_faults_total",
        "Calls that faulted (trap, timeout, memory limit...), failing their whole batch.",
        &faults,
    );
    let _ = writeln!(
        out,
        "# HELP weir_plugin_seconds_total Wall time spent inside the plugin.\n# TYPE weir_plugin_seconds_total counter"
    );
    for (l, v) in seconds {
        let _ = writeln!(out, "weir_plugin_seconds_total{{{l}}} {v}");
    }
}

fn counter<V: std::fmt::Display>(out: &mut String, name: &str, help: &str, rows: &[(String, V)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, v) in rows {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Escapes a label value as the exposition format requires.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.rule("speeding").matched.fetch_add(3, Ordering::Relaxed);
        let a = m.action("speeding", "kinesis:alerts");
        a.delivered.fetch_add(2, Ordering::Relaxed);
        a.latency.observe(Duration::from_micros(700));
        a.latency.observe(Duration::from_millis(30));
        m.shard("alerts", "shardId-000000000000")
            .records
            .fetch_add(2, Ordering::Relaxed);
        let text = m.render(None);
        assert!(
            text.contains("weir_rule_matched_total{rule=\"speeding\"} 3"),
            "{text}"
        );
        assert!(text.contains(
            "weir_action_delivered_total{rule=\"speeding\",action=\"kinesis:alerts\"} 2"
        ));
        assert!(text.contains(
            "weir_action_latency_seconds_bucket{rule=\"speeding\",action=\"kinesis:alerts\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "weir_action_latency_seconds_bucket{rule=\"speeding\",action=\"kinesis:alerts\",le=\"0.05\"} 2"
        ));
        assert!(text.contains(
            "weir_action_latency_seconds_count{rule=\"speeding\",action=\"kinesis:alerts\"} 2"
        ));
        assert!(text.contains(
            "weir_shard_records_in_total{stream=\"alerts\",shard=\"shardId-000000000000\"} 2"
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
