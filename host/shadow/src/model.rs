//! AWS IoT's Device Shadow semantics as pure functions over `serde_json` values: parsing and
//! checking a request state document, merging it into a shadow with per-field metadata, the
//! delta between `desired` and `reported`, and the response documents. No IO, no clock (the
//! caller passes the time), so every rule here is a unit test.
//!
//! The source for each rule is AWS's developer guide: "Device Shadow service documents"
//! (`device-shadow-document.html`: request and response shapes, delta state, versioning,
//! client tokens, empty properties, arrays), "Interacting with shadows"
//! (`device-shadow-data-flow.html`: update, optimistic locking, null deletes, delete),
//! "Device Shadow MQTT topics" (`device-shadow-mqtt.html`: what `/update/delta` holds),
//! "Device Shadow error messages" and "Diagnosing problems with shadows" (the 8 KB state
//! limit, metadata not counted).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{seconds, ShadowError, ShadowErrorKind};

/// The limits a request and a shadow are held to. The defaults are AWS's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowLimits {
    /// The size of `desired` plus `reported` after an update, as compact JSON; metadata does
    /// not count ("Diagnosing problems with shadows": "The device's shadow supports 8 KB of
    /// data only ... Only the data for desired and reported state inside the state document
    /// ... counts toward the limit"). AWS: 8 KB (8192 bytes). Over it: 413.
    pub max_state_bytes: usize,
    /// A request payload larger than this is refused with 413 before it is parsed. AWS's
    /// MQTT message size limit, 128 KB.
    pub max_payload_bytes: usize,
    /// Levels of nesting in `desired` or `reported` ("JSON contains too many levels of
    /// nesting; maximum is 6"): with 6, a field may sit six keys below the section
    /// (`reported.a.b.c.d.e.f`), not seven. An array counts as a level as an object does.
    pub max_depth: usize,
}

impl Default for ShadowLimits {
    fn default() -> ShadowLimits {
        ShadowLimits {
            max_state_bytes: 8 * 1024,
            max_payload_bytes: 128 * 1024,
            max_depth: 6,
        }
    }
}

/// The longest client token AWS accepts, in bytes ("Client tokens in shadow documents").
pub const MAX_CLIENT_TOKEN_BYTES: usize = 64;

/// A shadow's content: the two sections, their metadata (the same shape, a
/// `{"timestamp": seconds}` at each leaf and one per array element) and the version. A
/// section is `None` when it is empty: "a shadow document contains a `desired` property only
/// if it has a desired state".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct ShadowDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_desired: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_reported: Option<Map<String, Value>>,
    pub version: u64,
}

/// What a request does to one section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Patch {
    /// The section is not in the request: unchanged.
    Absent,
    /// `"desired": null`: the section is removed.
    Remove,
    /// An object merged into the section.
    Merge(Map<String, Value>),
}

/// A checked update request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UpdateRequest {
    pub desired: Patch,
    pub reported: Patch,
    pub client_token: Option<String>,
    pub version: Option<u64>,
    /// `state` as the request sent it, for the `/accepted` echo.
    pub state: Value,
}

/// The client token of a `/get` or `/delete` request payload, whose content AWS otherwise
/// ignores, so their answers can echo it: `None` unless the payload is a JSON object with a
/// `clientToken` (an empty payload, as AWS's pages publish, included). A `clientToken` that is
/// not a string of at most 64 bytes is refused as an update's is, 400 `Invalid clientToken`:
/// "A client token that is longer than 64 bytes causes a 400 (Bad Request) response and an
/// Invalid clientToken error message" ("Client tokens in shadow documents", said of every
/// MQTT request, not of updates alone).
pub fn request_client_token(payload: &[u8]) -> Result<Option<String>, ShadowError> {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(payload) else {
        return Ok(None);
    };
    match doc.get("clientToken") {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_TOKEN_BYTES => Ok(Some(s.clone())),
        Some(_) => Err(ShadowError::bad_request("Invalid clientToken")),
    }
}

/// Parses and checks an update request, in the order a reader meets the problems: size,
/// encoding, JSON, the client token (so that later refusals can echo it), the version, then
/// `state` and its sections.
pub(crate) fn parse_update(
    payload: &[u8],
    limits: &ShadowLimits,
) -> Result<UpdateRequest, ShadowError> {
    if payload.len() > limits.max_payload_bytes {
        return Err(ShadowError::too_large());
    }
    let text = std::str::from_utf8(payload).map_err(|_| {
        ShadowError::new(
            ShadowErrorKind::UnsupportedEncoding,
            "Unsupported documented encoding; supported encoding is UTF-8",
        )
    })?;
    let doc: Value =
        serde_json::from_str(text).map_err(|_| ShadowError::bad_request("Invalid JSON"))?;
    let Value::Object(doc) = doc else {
        return Err(ShadowError::bad_request("Invalid JSON"));
    };
    let client_token = match doc.get("clientToken") {
        None => None,
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_TOKEN_BYTES => Some(s.clone()),
        Some(_) => return Err(ShadowError::bad_request("Invalid clientToken")),
    };
    let token = client_token.as_deref();
    let version = match doc.get("version") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| ShadowError::bad_request("Invalid version").with_token(token))?,
        ),
    };
    let bad = |m: &str| ShadowError::bad_request(m).with_token(token);
    let (desired, reported) = match doc.get("state") {
        None => return Err(bad("Missing required node: state")),
        // "Setting the device's shadow state to null does not delete the shadow": both
        // sections go, the shadow and its version stay.
        Some(Value::Null) => (Patch::Remove, Patch::Remove),
        Some(Value::Object(state)) => {
            if state.keys().any(|k| k != "desired" && k != "reported") {
                return Err(bad("State contains an invalid node"));
            }
            (
                section_patch(
                    state.get("desired"),
                    "Desired node must be an object",
                    limits,
                )
                .map_err(|e| e.with_token(token))?,
                section_patch(
                    state.get("reported"),
                    "Reported node must be an object",
                    limits,
                )
                .map_err(|e| e.with_token(token))?,
            )
        }
        Some(_) => return Err(bad("State node must be an object")),
    };
    Ok(UpdateRequest {
        desired,
        reported,
        client_token,
        version,
        state: doc.get("state").cloned().unwrap_or(Value::Null),
    })
}

fn section_patch(
    v: Option<&Value>,
    not_object: &str,
    limits: &ShadowLimits,
) -> Result<Patch, ShadowError> {
    match v {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Remove),
        Some(Value::Object(m)) => {
            let section = Value::Object(m.clone());
            if depth(&section) > limits.max_depth {
                return Err(ShadowError::new(
                    ShadowErrorKind::BadRequest,
                    format!(
                        "JSON contains too many levels of nesting; maximum is {}",
                        limits.max_depth
                    ),
                ));
            }
            // "Arrays can't have null values ... the following array is not valid and will
            // be rejected." AWS does not say with which message; the value is not a valid
            // shadow value, so: Invalid JSON.
            if has_null_in_array(&section, false) {
                return Err(ShadowError::bad_request("Invalid JSON"));
            }
            Ok(Patch::Merge(m.clone()))
        }
        Some(_) => Err(ShadowError::bad_request(not_object)),
    }
}

/// Levels of containers: a scalar is 0, an object or array is one more than its deepest
/// member.
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn has_null_in_array(v: &Value, in_array: bool) -> bool {
    match v {
        Value::Null => in_array,
        Value::Object(m) => m.values().any(|x| has_null_in_array(x, false)),
        Value::Array(a) => a.iter().any(|x| has_null_in_array(x, true)),
        _ => false,
    }
}

/// The metadata of a value written at `ts`: the value's shape with `{"timestamp": ts}` at
/// every leaf, objects as objects and arrays as one entry per element (AWS's example of
/// `"ColorRGB": [128, 128, 128]` has three `{"timestamp": ...}`). A `null` is a leaf too: the
/// `/accepted` document times the deletions it echoes.
fn metadata_of(v: &Value, ts: u64) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), metadata_of(x, ts)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| metadata_of(x, ts)).collect()),
        _ => serde_json::json!({ "timestamp": ts }),
    }
}

/// Merges `patch` into `target` (and `meta`, kept the same shape): objects merge key by key,
/// anything else (arrays included: "an update to an array replaces the whole array")
/// replaces, `null` removes the key. An object that a patch of deletions leaves empty is
/// removed with its key, as an emptied section is.
fn merge(
    target: &mut Map<String, Value>,
    meta: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ts: u64,
) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                // Shift, not swap: the other fields keep their order.
                target.shift_remove(k);
                meta.shift_remove(k);
            }
            Value::Object(p) => {
                // Merged in place, so the field keeps its position; a non-object becomes one.
                if !matches!(target.get(k), Some(Value::Object(_))) {
                    target.insert(k.clone(), Value::Object(Map::new()));
                }
                if !matches!(meta.get(k), Some(Value::Object(_))) {
                    meta.insert(k.clone(), Value::Object(Map::new()));
                }
                let emptied = match (target.get_mut(k), meta.get_mut(k)) {
                    (Some(Value::Object(sub)), Some(Value::Object(sub_meta))) => {
                        merge(sub, sub_meta, p, ts);
                        // Removed when this patch's deletions emptied it (an explicit `{}`
                        // stays).
                        sub.is_empty() && !p.is_empty()
                    }
                    _ => false,
                };
                if emptied {
                    target.shift_remove(k);
                    meta.shift_remove(k);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
                meta.insert(k.clone(), metadata_of(other, ts));
            }
        }
    }
}

fn apply_section(
    section: &mut Option<Map<String, Value>>,
    meta: &mut Option<Map<String, Value>>,
    patch: &Patch,
    ts: u64,
) {
    match patch {
        Patch::Absent => {}
        Patch::Remove => {
            *section = None;
            *meta = None;
        }
        Patch::Merge(p) => {
            let mut s = section.take().unwrap_or_default();
            let mut m = meta.take().unwrap_or_default();
            merge(&mut s, &mut m, p, ts);
            if !s.is_empty() {
                *section = Some(s);
                *meta = Some(m);
            }
        }
    }
}

/// The shadow after `req`, at `version`, written at `ts` (seconds). `prev` is the live
/// shadow (`None` for a new one).
pub(crate) fn apply(
    prev: Option<&ShadowDoc>,
    req: &UpdateRequest,
    version: u64,
    ts: u64,
) -> ShadowDoc {
    let mut doc = prev.cloned().unwrap_or_default();
    apply_section(
        &mut doc.desired,
        &mut doc.metadata_desired,
        &req.desired,
        ts,
    );
    apply_section(
        &mut doc.reported,
        &mut doc.metadata_reported,
        &req.reported,
        ts,
    );
    doc.version = version;
    doc
}

/// The bytes of `desired` and `reported` as compact JSON: what the size limit counts.
pub(crate) fn state_size(doc: &ShadowDoc) -> usize {
    let size = |s: &Option<Map<String, Value>>| {
        s.as_ref()
            .and_then(|m| serde_json::to_vec(m).ok())
            .map_or(0, |b| b.len())
    };
    size(&doc.desired) + size(&doc.reported)
}

/// The delta between `desired` and `reported`: every desired field that reported lacks or
/// holds a different value for, nested objects compared field by field with the path kept
/// "all the way to the root", arrays compared whole and copied whole. Reported-only fields are
/// left out. `None` when nothing differs.
pub(crate) fn delta(
    desired: Option<&Map<String, Value>>,
    reported: Option<&Map<String, Value>>,
) -> Option<Map<String, Value>> {
    let empty = Map::new();
    let d = diff(desired?, reported.unwrap_or(&empty));
    (!d.is_empty()).then_some(d)
}

fn diff(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, dv) in desired {
        match (dv, reported.get(k)) {
            (Value::Object(d), Some(Value::Object(r))) => {
                let sub = diff(d, r);
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
            }
            (_, Some(rv)) if same_value(dv, rv) => {}
            _ => {
                out.insert(k.clone(), dv.clone());
            }
        }
    }
    out
}

/// Equal for the delta: JSON equality, except that numbers compare by value (`1` and `1.0`
/// are the same reading, as in AWS's Greengrass shadow service).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        _ => a == b,
    }
}

/// The metadata of a delta: "its values are equal to the metadata in the `desired` field",
/// taken along the delta's own paths.
fn delta_metadata(delta: &Map<String, Value>, meta: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in delta {
        match (v, meta.get(k)) {
            (Value::Object(d), Some(Value::Object(m))) => {
                out.insert(k.clone(), Value::Object(delta_metadata(d, m)));
            }
            (_, Some(m)) => {
                out.insert(k.clone(), m.clone());
            }
            (_, None) => {}
        }
    }
    out
}

fn put_token(doc: &mut Map<String, Value>, token: Option<&str>) {
    if let Some(t) = token {
        doc.insert("clientToken".into(), Value::from(t));
    }
}

fn sections(
    desired: Option<&Map<String, Value>>,
    reported: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(d) = desired {
        m.insert("desired".into(), Value::Object(d.clone()));
    }
    if let Some(r) = reported {
        m.insert("reported".into(), Value::Object(r.clone()));
    }
    m
}

/// The `/update/accepted` document (and UpdateThingShadow's response): the request's own
/// `state` as sent (`null`s included, in its order: "contains only fields that were in the
/// request state document"), its metadata at `ts` (a `{"timestamp"}` per leaf, a `null` being
/// a leaf, as AWS's Greengrass shadow service does), then `version`, `timestamp` and
/// `clientToken`, in the order of AWS's examples.
pub(crate) fn accepted_document(req: &UpdateRequest, version: u64, ts: u64) -> Value {
    let mut doc = Map::new();
    doc.insert("state".into(), req.state.clone());
    doc.insert("metadata".into(), metadata_of(&req.state, ts));
    doc.insert("version".into(), Value::from(version));
    doc.insert("timestamp".into(), Value::from(ts));
    put_token(&mut doc, req.client_token.as_deref());
    Value::Object(doc)
}

/// The `/update/delta` document: the whole delta after the update (not just this request's
/// fields: "regardless of whether these attributes were contained in the current update
/// message"), its metadata, `version`, `timestamp`, `clientToken`, in the order of AWS's
/// example in "Using the Device Shadow service". Sent after any accepted update that leaves
/// desired and reported different, a report included: "When the shadow's state changes, AWS
/// IoT sends /delta messages ... with the difference between the desired and the reported
/// states", and for a device reporting through the API, "AWS IoT will also publish an MQTT
/// message to the .../update/delta topic" ("Interacting with shadows"; AWS's own local
/// shadow service in Greengrass does the same).
pub(crate) fn delta_document(req: &UpdateRequest, doc: &ShadowDoc, ts: u64) -> Option<Value> {
    let d = delta(doc.desired.as_ref(), doc.reported.as_ref())?;
    let empty = Map::new();
    let meta = delta_metadata(&d, doc.metadata_desired.as_ref().unwrap_or(&empty));
    let mut out = Map::new();
    out.insert("version".into(), Value::from(doc.version));
    out.insert("timestamp".into(), Value::from(ts));
    out.insert("state".into(), Value::Object(d));
    out.insert("metadata".into(), Value::Object(meta));
    put_token(&mut out, req.client_token.as_deref());
    Some(Value::Object(out))
}

/// One side of `/update/documents`: `state` and `metadata` (no delta) and `version`.
fn snapshot(doc: &ShadowDoc) -> Value {
    let mut out = Map::new();
    out.insert(
        "state".into(),
        Value::Object(sections(doc.desired.as_ref(), doc.reported.as_ref())),
    );
    out.insert(
        "metadata".into(),
        Value::Object(sections(
            doc.metadata_desired.as_ref(),
            doc.metadata_reported.as_ref(),
        )),
    );
    out.insert("version".into(), Value::from(doc.version));
    Value::Object(out)
}

/// The `/update/documents` document: `previous` (the shadow before; `null` when the update
/// created it), `current`, `timestamp`, `clientToken`.
pub(crate) fn documents_document(
    prev: Option<&ShadowDoc>,
    current: &ShadowDoc,
    token: Option<&str>,
    ts: u64,
) -> Value {
    let mut out = Map::new();
    out.insert("previous".into(), prev.map_or(Value::Null, snapshot));
    out.insert("current".into(), snapshot(current));
    out.insert("timestamp".into(), Value::from(ts));
    put_token(&mut out, token);
    Value::Object(out)
}

/// The `/get/accepted` document (and GetThingShadow's response): `state` with `desired`,
/// `reported` and, when they differ, `delta`; `metadata` of `desired` and `reported`;
/// `version`, `timestamp`, `clientToken`. AWS's pages disagree on a `metadata.delta`: the
/// "Delta state" example shows one, the response document of "Shadow document syntax" and the
/// SDKs' `GetShadowResponse` (its `ShadowMetadata` has `desired` and `reported` only) do not,
/// nor does AWS's Greengrass shadow service; so none here.
pub(crate) fn get_document(doc: &ShadowDoc, token: Option<&str>, ts: u64) -> Value {
    let mut state = sections(doc.desired.as_ref(), doc.reported.as_ref());
    let meta = sections(
        doc.metadata_desired.as_ref(),
        doc.metadata_reported.as_ref(),
    );
    if let Some(d) = delta(doc.desired.as_ref(), doc.reported.as_ref()) {
        state.insert("delta".into(), Value::Object(d));
    }
    let mut out = Map::new();
    out.insert("state".into(), Value::Object(state));
    out.insert("metadata".into(), Value::Object(meta));
    out.insert("version".into(), Value::from(doc.version));
    out.insert("timestamp".into(), Value::from(ts));
    put_token(&mut out, token);
    Value::Object(out)
}

/// The `/delete/accepted` document (and DeleteThingShadow's response): the deleted shadow's
/// `version` and the `timestamp` (AWS's example: `{"version": 4, "timestamp": 1591057529}`).
pub(crate) fn delete_document(version: u64, token: Option<&str>, ts: u64) -> Value {
    let mut out = Map::new();
    out.insert("version".into(), Value::from(version));
    out.insert("timestamp".into(), Value::from(ts));
    put_token(&mut out, token);
    Value::Object(out)
}

/// `now_ms` as shadow seconds.
pub(crate) fn ts(now_ms: i64) -> u64 {
    seconds(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn parse(v: Value) -> Result<UpdateRequest, ShadowError> {
        parse_update(v.to_string().as_bytes(), &ShadowLimits::default())
    }

    /// "Delta state", first example (device-shadow-document.html#delta-state): fields of
    /// desired missing from reported are in the delta, reported-only fields are not.
    #[test]
    fn delta_state_example() {
        let desired = obj(json!({"color": "RED", "state": "STOP"}));
        let reported = obj(json!({"color": "GREEN", "engine": "ON"}));
        assert_eq!(
            delta(Some(&desired), Some(&reported)),
            Some(obj(json!({"color": "RED", "state": "STOP"})))
        );
    }

    /// "Delta state", second example: "When nested objects differ, the delta contains the
    /// path all the way to the root."
    #[test]
    fn nested_delta_example() {
        let desired = obj(json!({"lights": {"color": {"r": 255, "g": 255, "b": 255}}}));
        let reported = obj(json!({"lights": {"color": {"r": 255, "g": 0, "b": 255}}}));
        assert_eq!(
            delta(Some(&desired), Some(&reported)),
            Some(obj(json!({"lights": {"color": {"g": 255}}})))
        );
    }

    /// "Arrays are treated like values. If an array in the desired section doesn't match the
    /// array in the reported section, then the entire desired array is copied into the delta."
    #[test]
    fn arrays_in_the_delta_are_whole() {
        let desired = obj(json!({"colors": ["RED", "GREEN"], "same": [1, 2]}));
        let reported = obj(json!({"colors": ["RED"], "same": [1, 2]}));
        assert_eq!(
            delta(Some(&desired), Some(&reported)),
            Some(obj(json!({"colors": ["RED", "GREEN"]})))
        );
        assert_eq!(delta(Some(&reported), Some(&reported)), None);
        let desired = obj(json!({"t": 1.0, "u": 2, "v": [1.0]}));
        let reported = obj(json!({"t": 1, "u": 2.5, "v": [1]}));
        assert_eq!(
            delta(Some(&desired), Some(&reported)),
            Some(obj(json!({"u": 2, "v": [1.0]})))
        );
        assert_eq!(delta(None, Some(&reported)), None);
    }

    /// "Array values in shadow documents": an update to an array replaces the whole array;
    /// arrays can't have null values.
    #[test]
    fn arrays_replace_and_refuse_null() {
        let first = parse(json!({"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}}}))
            .expect("first");
        let doc = apply(None, &first, 1, 10);
        let second = parse(json!({"state": {"desired": {"colors": ["RED"]}}})).expect("second");
        let doc = apply(Some(&doc), &second, 2, 11);
        assert_eq!(doc.desired, Some(obj(json!({"colors": ["RED"]}))));
        assert_eq!(
            doc.metadata_desired,
            Some(obj(json!({"colors": [{"timestamp": 11}]})))
        );
        let e = parse(json!({"state": {"desired": {"colors": [null, "RED", "GREEN"]}}}))
            .expect_err("null in array");
        assert_eq!((e.code(), e.message()), (400, "Invalid JSON"));
    }

    /// "Empty shadow document properties": `"desired": null` removes the section; a document
    /// with neither section is valid.
    #[test]
    fn a_null_section_is_removed() {
        let r =
            parse(json!({"state": {"desired": {"color": "blue"}, "reported": {"color": "green"}}}))
                .expect("r");
        let doc = apply(None, &r, 1, 1);
        let r = parse(json!({"state": {"reported": {"color": "red"}, "desired": null}}))
            .expect("example");
        let doc = apply(Some(&doc), &r, 2, 2);
        assert_eq!(doc.desired, None);
        assert_eq!(doc.metadata_desired, None);
        assert_eq!(doc.reported, Some(obj(json!({"color": "red"}))));
        let r = parse(json!({"state": {"reported": null}})).expect("empty");
        let doc = apply(Some(&doc), &r, 3, 3);
        assert_eq!(
            get_document(&doc, None, 4),
            json!({"state": {}, "metadata": {}, "version": 3, "timestamp": 4})
        );
    }

    /// "Deleting a property from a shadow document": `{"state": {"desired": {"engine": null}}}`
    /// removes `engine`; nested fields merge and only the named ones change.
    #[test]
    fn null_deletes_a_field_and_objects_merge() {
        let r =
            parse(json!({"state": {"desired": {"color": {"r": 10}, "engine": "ON"}}})).expect("r");
        let doc = apply(None, &r, 1, 100);
        let r =
            parse(json!({"state": {"desired": {"engine": null, "color": {"g": 5}}}})).expect("r");
        let doc = apply(Some(&doc), &r, 2, 200);
        assert_eq!(doc.desired, Some(obj(json!({"color": {"r": 10, "g": 5}}))));
        assert_eq!(
            doc.metadata_desired,
            Some(obj(
                json!({"color": {"r": {"timestamp": 100}, "g": {"timestamp": 200}}})
            ))
        );
        // Deleting the last field of a nested object removes the object.
        let r = parse(json!({"state": {"desired": {"color": {"r": null, "g": null}}}})).expect("r");
        let doc = apply(Some(&doc), &r, 3, 300);
        assert_eq!(doc.desired, None);
    }

    /// Fields keep their order through merges, replacements and deletions (the documents
    /// go out as text).
    #[test]
    fn merges_keep_field_order() {
        let r = parse(
            json!({"state": {"reported": {"a": 1, "b": {"x": 1, "y": 2}, "c": [1], "d": 4}}}),
        )
        .expect("r");
        let doc = apply(None, &r, 1, 1);
        let r = parse(
            json!({"state": {"reported": {"a": null, "b": {"x": null, "z": 3}, "c": 5, "e": 6}}}),
        )
        .expect("r");
        let doc = apply(Some(&doc), &r, 2, 2);
        assert_eq!(
            Value::Object(doc.reported.expect("reported")).to_string(),
            r#"{"b":{"y":2,"z":3},"c":5,"d":4,"e":6}"#
        );
        assert_eq!(
            Value::Object(doc.metadata_reported.expect("meta")).to_string(),
            r#"{"b":{"y":{"timestamp":1},"z":{"timestamp":2}},"c":{"timestamp":2},"d":{"timestamp":1},"e":{"timestamp":2}}"#
        );
    }

    /// The 400s of "Device Shadow error messages", in AWS's words.
    #[test]
    fn malformed_requests_get_aws_messages() {
        let cases: &[(&[u8], &str)] = &[
            (b"{not json", "Invalid JSON"),
            (b"{}", "Missing required node: state"),
            (br#"{"state": 5}"#, "State node must be an object"),
            (
                br#"{"state": {"desired": 5}}"#,
                "Desired node must be an object",
            ),
            (
                br#"{"state": {"reported": [1]}}"#,
                "Reported node must be an object",
            ),
            (
                br#"{"state": {"delta": {}}}"#,
                "State contains an invalid node",
            ),
            (br#"{"state": {}, "version": -1}"#, "Invalid version"),
            (br#"{"state": {}, "version": "3"}"#, "Invalid version"),
            (br#"{"state": {}, "clientToken": 5}"#, "Invalid clientToken"),
        ];
        for (payload, message) in cases {
            let e = parse_update(payload, &ShadowLimits::default()).expect_err("refused");
            assert_eq!(
                (e.code(), e.message()),
                (400, *message),
                "{:?}",
                String::from_utf8_lossy(payload)
            );
        }
        // "A client token that is longer than 64 bytes will cause this response."
        let long = json!({"state": {}, "clientToken": "x".repeat(65)});
        assert_eq!(
            parse(long).expect_err("65").message(),
            "Invalid clientToken"
        );
        let ok = json!({"state": {}, "clientToken": "x".repeat(64)});
        assert_eq!(
            parse(ok).expect("64").client_token.map(|t| t.len()),
            Some(64)
        );
        // Later refusals echo a valid token.
        let e = parse(json!({"state": 1, "clientToken": "t1"})).expect_err("state");
        assert_eq!(e.client_token(), Some("t1"));
        // 415 for a payload that is not UTF-8.
        let e = parse_update(b"{\"state\":\xff}", &ShadowLimits::default()).expect_err("utf8");
        assert_eq!(
            (e.code(), e.message()),
            (
                415,
                "Unsupported documented encoding; supported encoding is UTF-8"
            )
        );
    }

    /// "JSON contains too many levels of nesting; maximum is 6": a field may sit six keys
    /// below `desired` or `reported` (`reported.a.b.c.d.e.f`), not seven; an array is a level.
    #[test]
    fn nesting_stops_at_six_levels() {
        let six = json!({"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}});
        assert!(parse(six).is_ok());
        let six_with_array = json!({"state": {"reported": {"a": {"b": {"c": {"d": {"e": [1]}}}}}}});
        assert!(parse(six_with_array).is_ok());
        let seven =
            json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}});
        let e = parse(seven).expect_err("seven");
        assert_eq!(
            (e.code(), e.message()),
            (
                400,
                "JSON contains too many levels of nesting; maximum is 6"
            )
        );
        let seven_by_array =
            json!({"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": [1]}}}}}}}});
        assert!(parse(seven_by_array).is_err());
    }

    #[test]
    fn an_oversized_payload_is_413_before_parsing() {
        let limits = ShadowLimits {
            max_payload_bytes: 10,
            ..ShadowLimits::default()
        };
        let e = parse_update(b"{\"state\": {}}", &limits).expect_err("big");
        assert_eq!(
            (e.code(), e.message()),
            (413, "The payload exceeds the maximum size allowed")
        );
    }

    #[test]
    fn client_tokens_of_get_and_delete_payloads() {
        for ignored in [&b""[..], b"garbage", b"[1]", br#"{"other": 1}"#] {
            assert_eq!(request_client_token(ignored), Ok(None));
        }
        assert_eq!(
            request_client_token(br#"{"clientToken": "abc"}"#),
            Ok(Some("abc".to_owned()))
        );
        let max = format!(r#"{{"clientToken": "{}"}}"#, "x".repeat(64));
        assert_eq!(
            request_client_token(max.as_bytes()).map(|t| t.map(|t| t.len())),
            Ok(Some(64))
        );
        // Over 64 bytes, or not a string: 400, as for an update.
        let long = format!(r#"{{"clientToken": "{}"}}"#, "x".repeat(65));
        for bad in [long.as_bytes(), br#"{"clientToken": 5}"#] {
            let e = request_client_token(bad).expect_err("refused");
            assert_eq!((e.code(), e.message()), (400, "Invalid clientToken"));
            assert_eq!(e.client_token(), None);
        }
    }

    /// `{"state": null}` is echoed as sent, timed as one leaf.
    #[test]
    fn a_null_state_is_echoed() {
        let r = parse(json!({"state": null})).expect("null state");
        assert_eq!((&r.desired, &r.reported), (&Patch::Remove, &Patch::Remove));
        assert_eq!(
            accepted_document(&r, 2, 9).to_string(),
            r#"{"state":null,"metadata":{"timestamp":9},"version":2,"timestamp":9}"#
        );
        // "Empty shadow document properties": the example's order (reported, then a null
        // desired) is kept in the echo.
        let r = parse(json!({"state": {"reported": {"color": "red"}, "desired": null}}))
            .expect("example");
        assert_eq!(
            accepted_document(&r, 3, 9).to_string(),
            r#"{"state":{"reported":{"color":"red"},"desired":null},"metadata":{"reported":{"color":{"timestamp":9}},"desired":{"timestamp":9}},"version":3,"timestamp":9}"#
        );
    }

    /// The accepted document echoes nulls and times them, as the request sent them.
    #[test]
    fn accepted_echoes_the_request_state() {
        let r = parse(json!({"state": {"desired": {"engine": null, "a": [1, {"b": 2}]}, "reported": null}, "clientToken": "c"}))
            .expect("r");
        assert_eq!(
            accepted_document(&r, 7, 99),
            json!({
                "state": {"desired": {"engine": null, "a": [1, {"b": 2}]}, "reported": null},
                "metadata": {
                    "desired": {"engine": {"timestamp": 99}, "a": [{"timestamp": 99}, {"b": {"timestamp": 99}}]},
                    "reported": {"timestamp": 99}
                },
                "version": 7, "timestamp": 99, "clientToken": "c"
            })
        );
    }
}
