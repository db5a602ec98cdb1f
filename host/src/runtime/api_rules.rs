//! The rules of AWS IoT's rules API (`weir_api::RuleCatalog`): created, replaced, enabled,
//! disabled and deleted over HTTP, stored as one document, `rules.json`, in a
//! [`DocStore`]: `STORAGE/iot/rules.json` on one host, the `IOT` bucket of `[cluster]` when
//! several hosts share a NATS cluster. Run beside the configuration file's rules.
//!
//! A rule name belongs to the file or to the API. Every plan the host builds (at start, on a
//! file reload, after an API change) is the file's rules plus the API's ([`ApiRules::merge`]);
//! when the file has a rule of an API rule's name, the file's runs and the conflict is
//! logged (the API's stays stored, and runs again once the file lets go of the name). File
//! rules are read-only here: GetTopicRule and ListTopicRules show them, the other operations
//! refuse them naming the file.
//!
//! An API change is checked (name, payload through `weir_config::convert_topic_rule`, the
//! streams its kinesis actions name), written (atomically, durably), then applied as a
//! reload is (`RunningHost::apply_api_rules`: the whole new plan built beside the running
//! one, then swapped in through the dispatcher's queue, so nothing in flight is dropped or
//! reordered). The answer is sent once both are done; when the plan cannot be built, the
//! stored rules go back to what they were and the call fails. One change at a time.
//!
//! **Several hosts.** On a shared store every host runs every rule (an external broker's
//! shared subscriptions split the messages between them), so a rule made through one host
//! must start on the others. A change reads the document again first and writes it back by
//! compare-and-set on the revision it read: of two hosts changing the rules at once, the
//! loser reads the winner's rules and makes its change on top of them (after a few lost
//! rounds it answers ConflictingResourceUpdateException). Each host also polls the
//! document's revision ([`POLL`]) and applies a new one as its own change would be applied.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use weir_api::{RuleApiError, RuleCatalog, RuleErrorKind, RuleListEntry, RuleTag};
use weir_config::{
    check_rule_name, convert_topic_rule, parse_topic_rule_document, rule_arn, topic_rule,
    topic_rule_list_item, Config, ConvertedRule, GetTopicRuleResponse, RuleConfig, TopicRuleError,
    TopicRuleErrorCode, TopicRulePayload,
};
use weir_streams::Streams;
use weir_support::docstore::{DocError, DocExpect, DocRevision, DocStore};
use weir_support::lock;

use super::host::{HostError, RunningHost};

/// The version of `rules.json`'s layout.
const FORMAT_VERSION: u64 = 1;

/// The document's key in its store.
const KEY: &str = "rules.json";

/// How often a host on a shared store looks for another host's change.
const POLL: Duration = Duration::from_millis(500);

/// Write rounds lost to other hosts' changes before a change gives up.
const CHANGE_ROUNDS: usize = 8;

/// One rule created through the API.
#[derive(Debug, Clone)]
struct ApiRule {
    /// The payload converted (and validated) as the file's rules are.
    converted: ConvertedRule,
    /// When it was created, epoch seconds (kept across ReplaceTopicRule).
    created_at: f64,
    /// Its tags (`x-amz-tagging` at creation, TagResource, UntagResource), by key.
    tags: BTreeMap<String, Option<String>>,
}

/// The API's rules as stored.
#[derive(Debug, Default, Clone)]
struct Stored {
    api: BTreeMap<String, ApiRule>,
    /// Stored rules this version of Weir no longer converts: kept in the document untouched
    /// and not run (the error was logged when they were read).
    unconvertible: BTreeMap<String, Value>,
    /// The document's revision they were read from or written as (`None`: no document).
    revision: Option<DocRevision>,
}

/// What the catalog knows: the API's rules, and the file's as last applied.
#[derive(Debug, Default)]
struct State {
    stored: Stored,
    /// The revision whose rules run in this host's plan.
    applied: Option<DocRevision>,
    file: BTreeMap<String, RuleConfig>,
    /// Where the rules' `http` actions may connect (the file's policy, as of the last merge).
    egress: weir_firehose::Egress,
}

/// The host's rule catalog behind the rules API.
#[derive(Debug)]
pub(super) struct ApiRules {
    /// Where `rules.json` lives.
    docs: Arc<dyn DocStore>,
    /// Other hosts write the same document (a cluster's store): read it before each change
    /// and poll it.
    shared: bool,
    /// The configuration file, named in refusals of its rules.
    config_file: std::path::PathBuf,
    streams: Streams,
    state: Mutex<State>,
    /// Held by an API change from its checks until its plan is swapped in, and by a poll
    /// that applies another host's change.
    changes: Mutex<()>,
    /// The host that applies a change; set once it is built.
    host: OnceLock<Weak<RunningHost>>,
    /// The poller of a shared store: dropping the sender stops it.
    watcher: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

fn api_error(kind: RuleErrorKind, message: impl Into<String>) -> RuleApiError {
    RuleApiError::new(kind, message)
}

/// A conversion's refusal as AWS's error type.
fn refused(e: &TopicRuleError) -> RuleApiError {
    let kind = match e.code {
        TopicRuleErrorCode::SqlParse => RuleErrorKind::SqlParse,
        TopicRuleErrorCode::InvalidRequest => RuleErrorKind::InvalidRequest,
    };
    api_error(kind, e.aws_message())
}

/// AWS answers an operation on a rule that does not exist with UnauthorizedException.
fn missing(name: &str) -> RuleApiError {
    api_error(
        RuleErrorKind::Unauthorized,
        format!("Rule {name} does not exist"),
    )
}

impl ApiRules {
    /// Reads `rules.json` from `docs` (none yet: no API rules); `shared` when other hosts
    /// write it too. A document that cannot be read or parsed stops the start rather than
    /// run without the rules it holds.
    pub(super) fn open(
        config: &Config,
        streams: Streams,
        docs: Arc<dyn DocStore>,
        shared: bool,
    ) -> Result<ApiRules, HostError> {
        let stored = read(docs.as_ref())
            .map_err(|(what, e)| HostError::storage(Path::new(&docs.describe(KEY)), what, e))?;
        if !stored.api.is_empty() {
            tracing::info!(rules = stored.api.len(), at = %docs.describe(KEY), "rules created through the rules API");
        }
        let applied = stored.revision;
        Ok(ApiRules {
            docs,
            shared,
            config_file: config.file.clone(),
            streams,
            state: Mutex::new(State {
                stored,
                applied,
                ..State::default()
            }),
            changes: Mutex::new(()),
            host: OnceLock::new(),
            watcher: Mutex::new(None),
        })
    }

    /// The host that applies changes (set once, right after it is built).
    pub(super) fn attach(&self, host: &Arc<RunningHost>) {
        let _ = self.host.set(Arc::downgrade(host));
    }

    /// On a shared store, starts polling it for other hosts' changes (a thread of its own,
    /// stopped by [`ApiRules::stop_watching`] or when the host is gone).
    pub(super) fn watch(self: &Arc<Self>) -> std::io::Result<()> {
        if !self.shared {
            return Ok(());
        }
        let (stop, stopped) = channel::<()>();
        let this = self.clone();
        let thread = std::thread::Builder::new()
            .name("weir-api-rules".into())
            .spawn(move || loop {
                match stopped.recv_timeout(POLL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                if !this.poll() {
                    return;
                }
            })?;
        *lock(&self.watcher) = Some((stop, thread));
        Ok(())
    }

    /// Stops the poller and waits for it; call before anything that would make its apply
    /// wait on the caller (the host's stop holds the reload lock).
    pub(super) fn stop_watching(&self) {
        let watcher = lock(&self.watcher).take();
        if let Some((stop, thread)) = watcher {
            drop(stop);
            let _ = thread.join();
        }
    }

    /// One look at the shared document: another host's change is read and applied. `false`
    /// once the host is gone.
    fn poll(&self) -> bool {
        let _one_at_a_time = lock(&self.changes);
        let Some(host) = self.host.get().and_then(Weak::upgrade) else {
            return false;
        };
        if let Err(e) = self.refresh() {
            tracing::warn!(error = %e.message, "cannot read the rules API's rules from the cluster; retrying");
            return true;
        }
        let (revision, applied) = {
            let st = lock(&self.state);
            (st.stored.revision, st.applied)
        };
        if revision == applied {
            return true;
        }
        match host.apply_api_rules() {
            Ok(()) => {
                tracing::info!(at = %self.docs.describe(KEY), "rules API change made on another host applied");
                lock(&self.state).applied = revision;
            }
            Err(e) => {
                // Not tried again at every poll (a plan that cannot be built here, such as a
                // plugin this host lacks, would be rebuilt twice a second): the next change,
                // or a reload of the file, applies the stored rules again.
                tracing::error!(error = %weir_support::error_chain(&e), "a rules API change made on another host cannot be applied here; the previous rules keep running until the next change or reload");
                lock(&self.state).applied = revision;
            }
        }
        true
    }

    /// Reads the document again when another host may have changed it; `true` when the
    /// rules changed.
    fn refresh(&self) -> Result<bool, RuleApiError> {
        if !self.shared {
            return Ok(false);
        }
        let known = lock(&self.state).stored.revision;
        let fresh = read(self.docs.as_ref()).map_err(|(what, e)| {
            api_error(
                RuleErrorKind::ServiceUnavailable,
                format!(
                    "{what} ({}): {}",
                    self.docs.describe(KEY),
                    weir_support::error_chain(&e)
                ),
            )
        })?;
        if fresh.revision == known {
            return Ok(false);
        }
        // Revisions only grow: a read that a change of this host overtook meanwhile is
        // older than what the state holds now, and is dropped.
        let mut st = lock(&self.state);
        if fresh.revision <= st.stored.revision {
            return Ok(false);
        }
        st.stored = fresh;
        Ok(true)
    }

    /// Adds the API's rules to `config`, whose own rules are the file's (remembered for the
    /// API's reads and refusals). A name the file has stays the file's; the conflict is logged.
    pub(super) fn merge(&self, config: &mut Config) {
        let mut st = lock(&self.state);
        st.file = config.rules.clone();
        st.egress = weir_firehose::Egress::new(super::rule_actions::egress_policy(config));
        for (name, rule) in &st.stored.api {
            if config.rules.contains_key(name) {
                tracing::warn!(rule = %name, file = %config.file.display(), "the configuration file has a rule of the same name as a rule created through the rules API: the file's runs; the API's stays stored and runs again if the file drops the name");
                continue;
            }
            config
                .rules
                .insert(name.clone(), rule.converted.config.clone());
        }
    }

    fn arn(&self, name: &str) -> String {
        let c = self.streams.config();
        rule_arn(&c.region, &c.account_id, name)
    }

    /// A payload from a request body, converted; the name's and the payload's problems as
    /// AWS's errors, then the streams its actions write to, which must exist.
    fn convert(&self, name: &str, body: &[u8]) -> Result<ConvertedRule, RuleApiError> {
        check_rule_name(name).map_err(|e| refused(&e))?;
        let text = std::str::from_utf8(body)
            .map_err(|_| api_error(RuleErrorKind::InvalidRequest, "the body is not UTF-8 text"))?;
        let doc = parse_topic_rule_document(text).map_err(|e| refused(&e))?;
        if !doc.prefix.is_empty() || doc.name.is_some() {
            return Err(api_error(
                RuleErrorKind::InvalidRequest,
                format!(
                    "the body must be a TopicRulePayload, not a document with a {:?} member",
                    doc.prefix
                ),
            ));
        }
        let converted = convert_topic_rule(name, &doc.payload).map_err(|e| refused(&e))?;
        self.check_streams(&converted)?;
        self.check_egress(&converted)?;
        Ok(converted)
    }

    /// Refuses an `http` action whose static URL the egress policy refuses now (an IP
    /// literal, or a name whose every address is refused), so the caller learns at once
    /// rather than from the error action. A convenience, as for Firehose's HTTP endpoints:
    /// the connect-time check on every request is the one that holds (DNS rebinding, URLs
    /// filled from the payload).
    fn check_egress(&self, converted: &ConvertedRule) -> Result<(), RuleApiError> {
        let egress = lock(&self.state).egress.clone();
        let rule = &converted.config;
        let actions = rule
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("actions[{i}]"), a))
            .chain(
                rule.error_action
                    .iter()
                    .map(|a| ("errorAction".to_owned(), a)),
            );
        for (at, action) in actions {
            let weir_config::ActionKind::Http(h) = &action.kind else {
                continue;
            };
            if !h.url.is_static() {
                continue;
            }
            let Ok(url) = h.url.render(&weir_rules::EvalContext::new("", &[], None)) else {
                continue;
            };
            if let Err(reason) = egress.check_url(&url) {
                return Err(api_error(
                    RuleErrorKind::InvalidRequest,
                    format!("{at}.http.url {url:?} is refused by the egress policy: {reason}"),
                ));
            }
        }
        Ok(())
    }

    fn check_streams(&self, converted: &ConvertedRule) -> Result<(), RuleApiError> {
        for stream in &converted.streams {
            if self.streams.describe_stream(stream).is_err() {
                return Err(api_error(
                    RuleErrorKind::InvalidRequest,
                    format!("the rule writes to stream {stream:?}, which does not exist: declare it in [streams.{stream}] of {} or create it with the Kinesis API (CreateStream)", self.config_file.display()),
                ));
            }
        }
        Ok(())
    }

    /// Refuses a write to `name` when it is the file's (naming the file) or nobody's.
    fn check_api_rule(&self, st: &State, name: &str) -> Result<(), RuleApiError> {
        if st.file.contains_key(name) {
            return Err(api_error(
                RuleErrorKind::InvalidRequest,
                format!(
                    "Rule {name} is defined in the configuration file {} and is read-only through the API: change it there",
                    self.config_file.display()
                ),
            ));
        }
        if !st.stored.api.contains_key(name) {
            return Err(missing(name));
        }
        Ok(())
    }

    /// Runs one change: `edit` on the API's rules, the result stored, then (`apply`: it
    /// changes what runs) applied to the running host; either failing puts everything back
    /// as it was. On a shared store the rules are read again first, and a write that loses
    /// to another host's is made again on top of that host's rules.
    fn change(
        &self,
        apply: bool,
        edit: impl Fn(&Self, &mut State) -> Result<(), RuleApiError>,
    ) -> Result<(), RuleApiError> {
        let _one_at_a_time = lock(&self.changes);
        let host = self.host.get().and_then(Weak::upgrade).ok_or_else(|| {
            api_error(
                RuleErrorKind::ServiceUnavailable,
                "the host is starting or stopping; retry",
            )
        })?;
        let mut round = 0;
        let before = loop {
            self.refresh()?;
            let mut st = lock(&self.state);
            let before = st.stored.clone();
            edit(self, &mut st)?;
            match self.store(&mut st.stored) {
                Ok(()) => break before,
                Err(e) => {
                    st.stored = before;
                    if matches!(e, DocError::Conflict { .. }) && round + 1 < CHANGE_ROUNDS {
                        round += 1;
                        continue;
                    }
                    let kind = match e {
                        DocError::Conflict { .. } => RuleErrorKind::ConflictingResourceUpdate,
                        _ => RuleErrorKind::ServiceUnavailable,
                    };
                    return Err(api_error(
                        kind,
                        format!(
                            "the rules could not be stored: {}",
                            weir_support::error_chain(&e)
                        ),
                    ));
                }
            }
        };
        let applied = if apply {
            host.apply_api_rules()
        } else {
            Ok(())
        };
        if let Err(e) = applied {
            let mut st = lock(&self.state);
            let written = st.stored.revision;
            st.stored = Stored {
                revision: written,
                ..before
            };
            if let Err(restore) = self.store(&mut st.stored) {
                tracing::error!(at = %self.docs.describe(KEY), error = %weir_support::error_chain(&restore), "the rules API's previous rules could not be stored back after a failed apply");
            }
            return Err(api_error(
                RuleErrorKind::InvalidRequest,
                format!(
                    "the rules could not be applied: {}",
                    weir_support::error_chain(&e)
                ),
            ));
        }
        let mut st = lock(&self.state);
        st.applied = st.stored.revision;
        Ok(())
    }

    /// Writes `rules.json` (durably) over the revision `stored` was read from; on success
    /// `stored` carries the new revision.
    fn store(&self, stored: &mut Stored) -> Result<(), DocError> {
        let mut rules = serde_json::Map::new();
        for (name, r) in &stored.api {
            rules.insert(
                name.clone(),
                json!({
                    "payload": serde_json::to_value(&r.converted.payload).unwrap_or(Value::Null),
                    "createdAt": r.created_at,
                    "tags": r.tags,
                }),
            );
        }
        for (name, raw) in &stored.unconvertible {
            rules.insert(name.clone(), raw.clone());
        }
        let doc = json!({ "version": FORMAT_VERSION, "rules": rules });
        let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        let expect = match stored.revision {
            Some(r) => DocExpect::Revision(r),
            None => DocExpect::Absent,
        };
        stored.revision = Some(self.docs.put(KEY, &bytes, expect)?);
        Ok(())
    }
}

/// Reads `rules.json` from `docs`: what failed and why when it cannot be read or is damaged.
fn read(docs: &dyn DocStore) -> Result<Stored, (&'static str, DocError)> {
    const WHAT: &str = "reading the API's rules";
    let Some((bytes, revision)) = docs.get(KEY).map_err(|e| (WHAT, e))? else {
        return Ok(Stored::default());
    };
    let mut stored = Stored {
        revision: Some(revision),
        ..Stored::default()
    };
    parse(&docs.describe(KEY), &bytes, &mut stored).map_err(|what| {
        (
            WHAT,
            DocError::Io {
                key: KEY.to_owned(),
                what: "damaged".to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
            },
        )
    })?;
    Ok(stored)
}

/// Parses `rules.json` (found at `at`) into `stored`. A rule that no longer converts is
/// logged and kept as stored (so a later write keeps it), not run.
fn parse(at: &str, bytes: &[u8], stored: &mut Stored) -> Result<(), String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let version = doc.get("version").and_then(Value::as_u64);
    if version != Some(FORMAT_VERSION) {
        return Err(format!(
            "version {version:?}, expected {FORMAT_VERSION} (written by another Weir version?)"
        ));
    }
    let Some(rules) = doc.get("rules").and_then(Value::as_object) else {
        return Err("no \"rules\" object".into());
    };
    for (name, raw) in rules {
        let rule = serde_json::from_value::<TopicRulePayload>(raw["payload"].clone())
            .map_err(|e| e.to_string())
            .and_then(|payload| convert_topic_rule(name, &payload).map_err(|e| e.to_string()));
        match rule {
            Ok(converted) => {
                stored.api.insert(
                    name.clone(),
                    ApiRule {
                        converted,
                        created_at: raw["createdAt"].as_f64().unwrap_or(0.0),
                        tags: serde_json::from_value(raw["tags"].clone()).unwrap_or_default(),
                    },
                );
            }
            Err(e) => {
                tracing::error!(rule = %name, at = %at, error = %e, "a rule created through the rules API no longer converts: it is kept but does not run");
                stored.unconvertible.insert(name.clone(), raw.clone());
            }
        }
    }
    Ok(())
}

fn now_seconds() -> f64 {
    // Whole milliseconds, as AWS's createdAt carries them.
    weir_support::now_ms() as f64 / 1000.0
}

impl RuleCatalog for ApiRules {
    fn create(&self, name: &str, payload: &[u8], tags: &[RuleTag]) -> Result<(), RuleApiError> {
        let converted = self.convert(name, payload)?;
        self.change(true, |this, st| {
            if st.file.contains_key(name) {
                return Err(api_error(
                    RuleErrorKind::ResourceAlreadyExists,
                    format!(
                        "Rule {name} already exists in the configuration file {}",
                        this.config_file.display()
                    ),
                ));
            }
            if st.stored.api.contains_key(name) || st.stored.unconvertible.contains_key(name) {
                return Err(api_error(
                    RuleErrorKind::ResourceAlreadyExists,
                    format!("Rule {name} already exists"),
                ));
            }
            st.stored.api.insert(
                name.to_owned(),
                ApiRule {
                    converted: converted.clone(),
                    created_at: now_seconds(),
                    tags: tags.iter().cloned().collect(),
                },
            );
            Ok(())
        })
    }

    fn replace(&self, name: &str, payload: &[u8]) -> Result<(), RuleApiError> {
        let converted = self.convert(name, payload)?;
        self.change(true, |this, st| {
            this.check_api_rule(st, name)?;
            if let Some(rule) = st.stored.api.get_mut(name) {
                rule.converted = converted.clone();
            }
            Ok(())
        })
    }

    fn delete(&self, name: &str) -> Result<(), RuleApiError> {
        check_rule_name(name).map_err(|e| refused(&e))?;
        self.change(true, |this, st| {
            this.check_api_rule(st, name)?;
            st.stored.api.remove(name);
            Ok(())
        })
    }

    fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), RuleApiError> {
        check_rule_name(name).map_err(|e| refused(&e))?;
        self.change(true, |this, st| {
            this.check_api_rule(st, name)?;
            let Some(rule) = st.stored.api.get_mut(name) else {
                return Err(missing(name));
            };
            let mut payload = rule.converted.payload.clone();
            payload.rule_disabled = Some(!enabled);
            rule.converted = convert_topic_rule(name, &payload).map_err(|e| refused(&e))?;
            Ok(())
        })
    }

    fn get(&self, name: &str) -> Result<Value, RuleApiError> {
        check_rule_name(name).map_err(|e| refused(&e))?;
        self.refresh()?;
        let st = lock(&self.state);
        let rule = if let Some(rc) = st.file.get(name) {
            topic_rule(name, rc)
        } else if let Some(r) = st.stored.api.get(name) {
            r.converted.topic_rule(Some(r.created_at))
        } else {
            return Err(missing(name));
        };
        let answer = GetTopicRuleResponse {
            rule_arn: Some(self.arn(name)),
            rule: Some(rule),
        };
        serde_json::to_value(&answer).map_err(|e| api_error(RuleErrorKind::Internal, e.to_string()))
    }

    fn tags(&self, name: &str) -> Result<Vec<RuleTag>, RuleApiError> {
        self.refresh()?;
        let st = lock(&self.state);
        if st.file.contains_key(name) {
            return Ok(Vec::new());
        }
        match st.stored.api.get(name) {
            Some(r) => Ok(r.tags.clone().into_iter().collect()),
            None => Err(api_error(
                RuleErrorKind::ResourceNotFound,
                format!("Rule {name} does not exist"),
            )),
        }
    }

    fn retag(&self, name: &str, add: &[RuleTag], remove: &[String]) -> Result<(), RuleApiError> {
        self.change(false, |this, st| {
            if !st.stored.api.contains_key(name) && !st.file.contains_key(name) {
                return Err(api_error(
                    RuleErrorKind::ResourceNotFound,
                    format!("Rule {name} does not exist"),
                ));
            }
            this.check_api_rule(st, name)?;
            let Some(rule) = st.stored.api.get_mut(name) else {
                return Err(missing(name));
            };
            rule.tags.extend(add.iter().cloned());
            for key in remove {
                rule.tags.remove(key);
            }
            if rule.tags.len() > weir_api::MAX_RULE_TAGS {
                return Err(api_error(
                    RuleErrorKind::LimitExceeded,
                    format!("a rule has at most {} tags", weir_api::MAX_RULE_TAGS),
                ));
            }
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<RuleListEntry>, RuleApiError> {
        self.refresh()?;
        let st = lock(&self.state);
        let file = st.file.iter().map(|(n, rc)| (n, rc, None));
        let api = st
            .stored
            .api
            .iter()
            .filter(|(n, _)| !st.file.contains_key(*n))
            .map(|(n, r)| (n, &r.converted.config, Some(r.created_at)));
        file.chain(api)
            .map(|(name, rc, created_at)| {
                let item = topic_rule_list_item(&self.arn(name), name, rc, created_at);
                Ok(RuleListEntry {
                    name: name.clone(),
                    topic_pattern: rc.rule.topic_filter().to_owned(),
                    disabled: !rc.enabled,
                    item: serde_json::to_value(&item)
                        .map_err(|e| api_error(RuleErrorKind::Internal, e.to_string()))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[broker]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\n\n\
        [streams.s1]\nshards = 1\n\n\
        [rules.file_one]\nsql = \"SELECT * FROM 'file/one'\"\n\n[[rules.file_one.actions]]\nkind = \"republish\"\ntopic = \"out\"\n\n\
        [rules.both]\nsql = \"SELECT * FROM 'file/both'\"\n\n[[rules.both.actions]]\nkind = \"republish\"\ntopic = \"out\"\n";

    fn stored(sql: &str) -> Value {
        json!({"payload": {"sql": sql, "actions": [{"republish": {"topic": "o"}}]}, "createdAt": 1.5, "tags": null})
    }

    /// A catalog over `dir` whose `rules.json` holds `rules` (none: no file).
    fn open(dir: &Path, rules: Option<Value>) -> Result<(ApiRules, Config), HostError> {
        let config = Config::parse(FILE, dir.join("weir.toml")).expect("config");
        if let Some(rules) = rules {
            std::fs::create_dir_all(dir.join("data/iot")).expect("mkdir");
            std::fs::write(
                dir.join("data/iot/rules.json"),
                serde_json::to_vec(&json!({"version": 1, "rules": rules})).expect("json"),
            )
            .expect("write");
        }
        let streams =
            Streams::open(weir_streams::StreamsConfig::new(dir.join("streams"))).expect("streams");
        streams.ensure_stream("s1", 1, 24).expect("stream");
        let docs = Arc::new(weir_support::docstore::FolderDocStore::new(
            dir.join("data/iot"),
        ));
        Ok((ApiRules::open(&config, streams, docs, false)?, config))
    }

    /// A catalog over `docs` as a host of a cluster opens it (`shared`).
    fn open_shared(dir: &Path, docs: Arc<dyn DocStore>) -> ApiRules {
        let config = Config::parse(FILE, dir.join("weir.toml")).expect("config");
        let streams =
            Streams::open(weir_streams::StreamsConfig::new(dir.join("streams"))).expect("streams");
        ApiRules::open(&config, streams, docs, true).expect("open")
    }

    /// Adds `name` to `catalog`'s rules and stores them, as a change does before it applies.
    fn add(catalog: &ApiRules, name: &str, sql: &str) -> Result<(), DocError> {
        let body = format!(r#"{{"sql": "{sql}", "actions": []}}"#);
        let converted = catalog.convert(name, body.as_bytes()).expect("convert");
        let mut st = lock(&catalog.state);
        st.stored.api.insert(
            name.to_owned(),
            ApiRule {
                converted,
                created_at: 1.0,
                tags: BTreeMap::new(),
            },
        );
        catalog.store(&mut st.stored)
    }

    #[test]
    fn on_a_shared_store_each_host_reads_the_others_rules_and_no_write_undoes_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs: Arc<dyn DocStore> = Arc::new(weir_support::docstore::FolderDocStore::new(
            dir.path().join("shared"),
        ));
        let (a, b) = (
            open_shared(dir.path(), docs.clone()),
            open_shared(dir.path(), docs.clone()),
        );
        add(&a, "made_on_a", "SELECT * FROM 'a'").expect("a stores");
        // b answers for a's rule without waiting for its poll.
        assert_eq!(sql_of(&b, "made_on_a"), "SELECT * FROM 'a'");
        assert_eq!(b.list().expect("list").len(), 1);
        add(&b, "made_on_b", "SELECT * FROM 'b'").expect("b stores on top of a's");
        // a's view is now a revision behind: its write is refused, not stored over b's.
        let e = add(&a, "late", "SELECT * FROM 'late'").expect_err("stale");
        assert!(matches!(e, DocError::Conflict { .. }), "{e}");
        lock(&a.state).stored.api.remove("late");
        lock(&a.state).stored.revision = Some(DocRevision(1));
        assert!(a.refresh().expect("refresh"), "a sees b's change");
        let names: Vec<String> = a
            .list()
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["made_on_a", "made_on_b"]);
        // Not yet applied on a: its poll would apply it.
        let st = lock(&a.state);
        assert_ne!(st.applied, st.stored.revision);
    }

    fn sql_of(catalog: &ApiRules, name: &str) -> String {
        catalog.get(name).expect("get")["rule"]["sql"]
            .as_str()
            .expect("sql")
            .to_owned()
    }

    #[test]
    fn the_files_rule_runs_under_a_name_both_have() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = json!({"api_one": stored("SELECT * FROM 'api/one'"), "both": stored("SELECT * FROM 'api/both'")});
        let (catalog, mut config) = open(dir.path(), Some(rules)).expect("open");
        catalog.merge(&mut config);
        let names: Vec<&String> = config.rules.keys().collect();
        assert_eq!(names, ["api_one", "both", "file_one"]);
        assert_eq!(config.rules["both"].rule.sql(), "SELECT * FROM 'file/both'");
        assert_eq!(sql_of(&catalog, "both"), "SELECT * FROM 'file/both'");
        assert_eq!(sql_of(&catalog, "api_one"), "SELECT * FROM 'api/one'");
        let api_one = catalog.get("api_one").expect("get");
        assert_eq!(api_one["rule"]["createdAt"], 1.5);
        assert_eq!(
            api_one["ruleArn"],
            "arn:aws:iot:us-east-1:000000000000:rule/api_one"
        );
        let listed: Vec<String> = catalog
            .list()
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(listed, ["both", "file_one", "api_one"]);
        // Writes to the file's rules are refused naming the file.
        let st = lock(&catalog.state);
        let e = catalog.check_api_rule(&st, "both").unwrap_err();
        assert_eq!(e.kind, RuleErrorKind::InvalidRequest);
        assert!(e.message.contains("weir.toml"), "{}", e.message);
        assert_eq!(
            catalog.check_api_rule(&st, "nobody").unwrap_err().kind,
            RuleErrorKind::Unauthorized
        );
    }

    #[test]
    fn a_stored_rule_that_no_longer_converts_is_kept_but_not_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = json!({"payload": {"sql": "SELECT * FROM 'x'", "actions": [{"weir:table": {"table": "t"}}]}, "createdAt": 2.0});
        let (catalog, mut config) = open(
            dir.path(),
            Some(json!({"old": old.clone(), "ok": stored("SELECT * FROM 'ok'")})),
        )
        .expect("open");
        catalog.merge(&mut config);
        assert!(!config.rules.contains_key("old"));
        assert!(config.rules.contains_key("ok"));
        assert_eq!(
            catalog.get("old").unwrap_err().kind,
            RuleErrorKind::Unauthorized
        );
        // A later write keeps it as it was stored.
        catalog
            .store(&mut lock(&catalog.state).stored)
            .expect("store");
        let back: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("data/iot/rules.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(back["rules"]["old"], old);
        assert_eq!(
            back["rules"]["ok"]["payload"]["awsIotSqlVersion"],
            "2015-10-08"
        );
    }

    #[test]
    fn a_damaged_store_stops_the_start() {
        for bad in [
            "not json",
            "{\"version\": 2, \"rules\": {}}",
            "{\"version\": 1}",
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("data/iot")).expect("mkdir");
            std::fs::write(dir.path().join("data/iot/rules.json"), bad).expect("write");
            let e = open(dir.path(), None).map(|_| ()).unwrap_err();
            assert!(e.to_string().contains("rules.json"), "{bad}: {e}");
        }
    }

    #[test]
    fn requests_are_checked_before_anything_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (catalog, mut config) = open(dir.path(), None).expect("open");
        catalog.merge(&mut config);
        let kind = |name: &str, body: &str| catalog.create(name, body.as_bytes(), &[]).unwrap_err();
        let ok = r#"{"sql": "SELECT * FROM 'a'", "actions": []}"#;
        assert_eq!(kind("bad-name", ok).kind, RuleErrorKind::InvalidRequest);
        assert_eq!(kind("r", "SELECT").kind, RuleErrorKind::InvalidRequest);
        let wrapped = format!("{{\"topicRulePayload\": {ok}}}");
        assert_eq!(kind("r", &wrapped).kind, RuleErrorKind::InvalidRequest);
        assert_eq!(
            kind("r", r#"{"sql": "SELECT * FROM", "actions": []}"#).kind,
            RuleErrorKind::SqlParse
        );
        let e = kind(
            "r",
            r#"{"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"streamName": "nowhere"}}]}"#,
        );
        assert_eq!(e.kind, RuleErrorKind::InvalidRequest);
        assert!(e.message.contains("\"nowhere\""), "{}", e.message);
        // A valid rule needs the host to apply it: before the host is attached, nothing is
        // stored and the caller is told to retry.
        let stream_rule =
            r#"{"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"streamName": "s1"}}]}"#;
        assert_eq!(
            kind("r", stream_rule).kind,
            RuleErrorKind::ServiceUnavailable
        );
        assert!(!dir.path().join("data/iot/rules.json").exists());
        assert_eq!(
            catalog.get("r").unwrap_err().kind,
            RuleErrorKind::Unauthorized
        );
    }
}
