//! TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream, and the tag list a
//! create carries.

use std::collections::BTreeMap;

use weir_firehose::Firehose;
use weir_firehose_model::MAX_TAGS;

use super::{stream_name, structure};
use crate::error::ApiError;
use crate::request::{check_string, label, Req};
use crate::value::{map, s, Val};

const TAG_KEY_PATTERN: &str = "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$";
const TAG_VALUE_PATTERN: &str = "^[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$";

/// A tag character: a letter, a separator (space), a digit, or one of `_.:/=+-@%`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@%".contains(c)
}

fn tag_key_ok(k: &str) -> bool {
    !k.starts_with("aws:") && k.chars().all(tag_char)
}

fn tag_value_ok(v: &str) -> bool {
    v.chars().all(tag_char)
}

/// Tags as a list of `{Key, Value}` (Firehose's shape), 1 to 50 per call.
pub(super) fn tag_list(
    req: &mut Req<'_>,
    field: &str,
    required: bool,
) -> Result<BTreeMap<String, String>, ApiError> {
    let at = label(field);
    let mut out = BTreeMap::new();
    let items = match req.raw(field) {
        None => {
            if required {
                req.violation(None, &at, "Member must not be null");
            }
            return Ok(out);
        }
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at '{field}')",
                other.kind()
            )))
        }
    };
    if items.is_empty() {
        req.violation(
            Some("[]"),
            &at,
            "Member must have length greater than or equal to 1",
        );
    } else if items.len() > MAX_TAGS {
        req.violation(
            Some("[...]"),
            &at,
            &format!("Member must have length less than or equal to {MAX_TAGS}"),
        );
    }
    for t in items {
        let mut tr = structure(t, field)?;
        let key = tr
            .string("Key", true, 1, 128, Some((TAG_KEY_PATTERN, tag_key_ok)))?
            .unwrap_or_default();
        let value = tr
            .string(
                "Value",
                false,
                0,
                256,
                Some((TAG_VALUE_PATTERN, tag_value_ok)),
            )?
            .unwrap_or_default();
        req.absorb(&mut tr, &format!("{at}.member"));
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

pub(super) fn tag(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let tags = tag_list(req, "Tags", true)?;
    req.finish()?;
    fh.tag(name.unwrap_or_default(), tags)?;
    Ok(map(vec![]))
}

pub(super) fn untag(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let keys = match req.raw("TagKeys") {
        None => {
            req.violation(None, "tagKeys", "Member must not be null");
            Vec::new()
        }
        Some(Val::Arr(a)) => {
            if a.is_empty() || a.len() > MAX_TAGS {
                req.violation(
                    Some("[...]"),
                    "tagKeys",
                    &format!("Member must have length between 1 and {MAX_TAGS}"),
                );
            }
            let mut keys = Vec::new();
            for k in a {
                let Val::Str(k) = k else {
                    return Err(ApiError::serialization(format!(
                        "{} can not be converted to a String (at 'TagKeys')",
                        k.kind()
                    )));
                };
                check_string(req, k, "tagKeys.member", 1, 128, None);
                keys.push(k.clone());
            }
            keys
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'TagKeys')",
                other.kind()
            )))
        }
    };
    req.finish()?;
    fh.untag(name.unwrap_or_default(), &keys)?;
    Ok(map(vec![]))
}

pub(super) fn list_tags(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let start = req.string("ExclusiveStartTagKey", false, 1, 128, None)?;
    let limit = req
        .int("Limit", false, 1, MAX_TAGS as i128)?
        .unwrap_or(MAX_TAGS as i128) as usize;
    req.finish()?;
    let tags = fh.tags(name.unwrap_or_default())?;
    let mut after = tags
        .into_iter()
        .filter(|(k, _)| start.is_none_or(|st| k.as_str() > st));
    let page: Vec<Val> = after
        .by_ref()
        .take(limit)
        .map(|(k, v)| map(vec![("Key", s(k)), ("Value", s(v))]))
        .collect();
    let more = after.next().is_some();
    Ok(map(vec![
        ("Tags", Val::Arr(page)),
        ("HasMoreTags", Val::Bool(more)),
    ]))
}
