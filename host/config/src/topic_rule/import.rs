//! Reading a rule document from a file for `weir rule import`: a bare `TopicRulePayload`,
//! a CreateTopicRule request body (`{"topicRulePayload": {...}}`, the form of AWS's own
//! examples, optionally with the CLI skeleton's `ruleName` and `tags`), or what `aws iot get-topic-rule` prints (`{"ruleArn": ..., "rule": {...}}`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::convert::{convert, ConvertedRule};
use super::payload::{GetTopicRuleResponse, TopicRulePayload};
use super::TopicRuleError;

/// A rule document read from JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDocument {
    /// The rule's name, when the document carries one (`rule.ruleName`).
    pub name: Option<String>,
    /// The rule.
    pub payload: TopicRulePayload,
    /// The member the payload sits in (`topicRulePayload`, `rule`), or empty: the prefix of
    /// every JSON path reported about it.
    pub prefix: &'static str,
}

/// Reads `text` as one of the three shapes, telling them apart by their top-level members.
pub fn parse_document(text: &str) -> Result<RuleDocument, TopicRuleError> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // The Developer Guide's first DynamoDBv2 example has a comma before a `}`: read such
        // a document as its author meant it, and report the strict parser's error otherwise.
        Err(e) => serde_json::from_str(&without_trailing_commas(text))
            .map_err(|_| TopicRuleError::invalid("", format!("not JSON: {e}")))?,
    };
    let Value::Object(top) = &value else {
        return Err(TopicRuleError::invalid(
            "",
            "expected a JSON object: a TopicRulePayload, {\"topicRulePayload\": ...} or aws iot get-topic-rule's output",
        ));
    };
    if top.contains_key("topicRulePayload") {
        // `aws iot create-topic-rule --generate-cli-skeleton`'s members; `tags` label the rule
        // in AWS's console and billing and change nothing it does, so they are not carried.
        let known = ["topicRulePayload", "ruleName", "tags"];
        if let Some(other) = top.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(TopicRuleError::invalid(
                other.as_str(),
                "unknown member beside topicRulePayload",
            ));
        }
        let name = match top.get("ruleName") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(TopicRuleError::invalid("ruleName", "expected a string")),
        };
        let payload = typed(top.get("topicRulePayload").cloned().unwrap_or(Value::Null))
            .map_err(|e| e.under("topicRulePayload"))?;
        return Ok(RuleDocument {
            name,
            payload,
            prefix: "topicRulePayload",
        });
    }
    if top.contains_key("rule") || top.contains_key("ruleArn") {
        let response: GetTopicRuleResponse = typed(value)?;
        let Some(rule) = response.rule else {
            return Err(TopicRuleError::invalid(
                "rule",
                "missing: the output has no rule",
            ));
        };
        let Some(sql) = rule.sql else {
            return Err(TopicRuleError::invalid(
                "rule.sql",
                "missing: a rule needs its SQL",
            ));
        };
        return Ok(RuleDocument {
            name: rule.rule_name,
            payload: TopicRulePayload {
                sql,
                description: rule.description,
                actions: rule.actions.unwrap_or_default(),
                rule_disabled: rule.rule_disabled,
                aws_iot_sql_version: rule.aws_iot_sql_version,
                error_action: rule.error_action,
            },
            prefix: "rule",
        });
    }
    Ok(RuleDocument {
        name: None,
        payload: typed(value)?,
        prefix: "",
    })
}

/// `text` without the commas that come right before a `}` or `]` (outside strings): JSON
/// with trailing commas, as people write it, made JSON.
fn without_trailing_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = text[i + 1..].trim_start().chars().next();
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Deserializes `value` as `T`, reporting the JSON path of the first problem.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, TopicRuleError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        TopicRuleError::invalid(path, e.into_inner().to_string())
    })
}

/// `weir rule import`: reads `text` and converts its rule, named `name` (else the name the
/// document carries, else `fallback_name`, e.g. the file's stem). Errors carry the full
/// JSON path in the document.
pub fn import(
    text: &str,
    name: Option<&str>,
    fallback_name: Option<&str>,
) -> Result<ConvertedRule, TopicRuleError> {
    let doc = parse_document(text)?;
    let name = name
        .map(str::to_owned)
        .or(doc.name.clone())
        .or_else(|| fallback_name.map(str::to_owned))
        .ok_or_else(|| {
            TopicRuleError::invalid("", "the document has no rule name: give one with --name")
        })?;
    // A problem with the rule name (empty path) has no place inside the payload.
    convert(&name, &doc.payload).map_err(|e| {
        if e.path.is_empty() {
            e
        } else {
            e.under(doc.prefix)
        }
    })
}
