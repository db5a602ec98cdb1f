//! The service end to end over a real folder and over a document store (a `FolderDocStore`
//! in a temporary folder): AWS's documented examples, durability across reopening, damaged
//! files, concurrent updates, each run on both backends ([`on_both_backends!`]); then what
//! only a shared store has: two services (two hosts) on one store, and writes that lose the
//! race to another host.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use serde_json::{json, Value};
use weir_support::docstore::{DocError, DocExpect, DocRevision, DocStore, FolderDocStore};

use crate::model::{ShadowDoc, ShadowLimits};
use crate::store::{self, Stored};
use crate::{ShadowKey, ShadowService, TOMBSTONE_MS};

/// The document prefix of the Docs backend's tests.
const PREFIX: &str = "shadows";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Files,
    Docs,
}

/// One test's storage: a temporary folder holding the shadow files, or a `FolderDocStore`
/// (under `docs/`) holding the shadow documents.
struct Fixture {
    dir: tempfile::TempDir,
    kind: Kind,
}

impl Fixture {
    fn new(kind: Kind) -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
            kind,
        }
    }

    fn docs_root(&self) -> PathBuf {
        self.dir.path().join("docs")
    }

    /// A service over this storage; a second call is a restart (Files) or a new host on a
    /// new client of the same documents (Docs).
    fn open(&self) -> ShadowService {
        match self.kind {
            Kind::Files => ShadowService::open(self.dir.path()).expect("open"),
            Kind::Docs => ShadowService::on_docs(
                Arc::new(FolderDocStore::new(self.docs_root())),
                PREFIX,
                ShadowLimits::default(),
            )
            .expect("on docs"),
        }
    }

    /// The file that holds a shadow's bytes.
    fn file_of(&self, thing: &str, name: Option<&str>) -> PathBuf {
        let key = ShadowKey::new(thing, name).expect("key");
        match self.kind {
            Kind::Files => store::path_of(self.dir.path(), &key),
            Kind::Docs => FolderDocStore::new(self.docs_root())
                .path_of(&crate::docs::key_of(PREFIX, &key).expect("doc key"))
                .expect("path"),
        }
    }

    /// The folder of a thing's shadows.
    fn thing_dir(&self, thing: &str) -> PathBuf {
        self.file_of(thing, None)
            .parent()
            .expect("thing folder")
            .to_path_buf()
    }

    /// Writes `stored` as the shadow's content, as the service would.
    fn seed(&self, thing: &str, name: Option<&str>, stored: &Stored) {
        let path = self.file_of(thing, name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, store::encode(stored).expect("encode")).expect("seed");
    }
}

/// Runs each named test, a `fn(Kind)`, once per backend: `files::NAME` and `docs::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod files {
            $(#[test]
            fn $name() {
                super::$name(super::Kind::Files)
            })*
        }
        mod docs {
            $(#[test]
            fn $name() {
                super::$name(super::Kind::Docs)
            })*
        }
    };
}

on_both_backends!(
    using_device_shadows_walkthrough,
    optimistic_locking_example,
    interact_lights_delta_example,
    message_order_example,
    delta_message_rules,
    get_includes_the_delta_example,
    delete_example_and_versions_after_it,
    a_null_state_keeps_the_shadow,
    the_state_size_limit_is_413,
    bad_names_are_400_with_the_token,
    list_named_shadows_pages,
    shadows_survive_reopening,
    a_damaged_file_fails_only_its_shadow,
    concurrent_updates_with_one_version_one_wins,
    a_failed_write_is_500_and_forgets_the_cache,
    a_version_at_the_limit_is_500,
);

/// Milliseconds for an AWS example's timestamp in seconds.
fn at(seconds: i64) -> i64 {
    seconds * 1000
}

/// Equal as text: the same fields with the same values in the same order, since devices
/// receive the documents as bytes.
fn same(got: &Value, want: Value) {
    assert_eq!(got.to_string(), want.to_string());
}

fn update(
    svc: &ShadowService,
    thing: &str,
    name: Option<&str>,
    v: Value,
    now_ms: i64,
) -> crate::UpdateOutcome {
    svc.update(thing, name, v.to_string().as_bytes(), now_ms)
        .expect("update accepted")
}

/// The whole walk-through of "Using the Device Shadow service"
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/using-device-shadows.html>), every
/// document compared with AWS's: the 404 before the shadow exists, the device's report, the
/// app's get and desired update with its `/delta`, the device's report with its `/accepted`
/// and `/documents`, and the final get. AWS's shadow is at version 3 after the first report,
/// so two empty updates come first.
fn using_device_shadows_walkthrough(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    let (thing, name) = ("mySimulatedThing", Some("simShadow1"));

    let e = svc.get(thing, name, None, at(1591140000)).expect_err("404");
    assert_eq!(
        e.rejected_document(at(1591140000)),
        json!({"code": 404, "message": "No shadow exists with name: 'simShadow1'"})
    );

    update(
        &svc,
        thing,
        name,
        json!({"state": {"desired": null}}),
        at(1591140000),
    );
    update(
        &svc,
        thing,
        name,
        json!({"state": {"desired": null}}),
        at(1591140001),
    );
    let out = update(
        &svc,
        thing,
        name,
        json!({"state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
               "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"}),
        at(1591140517),
    );
    assert_eq!(out.version, 3);
    assert_eq!(out.delta, None, "nothing desired, nothing to send");

    let got = svc.get(thing, name, None, at(1591141111)).expect("get");
    same(
        &got,
        json!({
          "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
          "metadata": {"reported": {
              "ID": {"timestamp": 1591140517},
              "ColorRGB": [{"timestamp": 1591140517}, {"timestamp": 1591140517}, {"timestamp": 1591140517}]}},
          "version": 3,
          "timestamp": 1591141111
        }),
    );

    let out = update(
        &svc,
        thing,
        name,
        json!({"state": {"desired": {"ColorRGB": [255, 255, 0]}},
               "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"}),
        at(1591141596),
    );
    let rgb_meta =
        json!([{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]);
    same(
        &out.accepted,
        json!({
          "state": {"desired": {"ColorRGB": [255, 255, 0]}},
          "metadata": {"desired": {"ColorRGB": rgb_meta}},
          "version": 4,
          "timestamp": 1591141596,
          "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"
        }),
    );
    // AWS's field order too: the documents are what devices receive byte for byte.
    same(
        out.delta.as_ref().expect("delta"),
        json!({
          "version": 4,
          "timestamp": 1591141596,
          "state": {"ColorRGB": [255, 255, 0]},
          "metadata": {"ColorRGB": rgb_meta},
          "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"
        }),
    );

    let out = update(
        &svc,
        thing,
        name,
        json!({"state": {"reported": {"ColorRGB": [255, 255, 0]}},
               "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"}),
        at(1591142747),
    );
    let reported_meta =
        json!([{"timestamp": 1591142747}, {"timestamp": 1591142747}, {"timestamp": 1591142747}]);
    let old_meta =
        json!([{"timestamp": 1591140517}, {"timestamp": 1591140517}, {"timestamp": 1591140517}]);
    same(
        &out.accepted,
        json!({
          "state": {"reported": {"ColorRGB": [255, 255, 0]}},
          "metadata": {"reported": {"ColorRGB": reported_meta}},
          "version": 5,
          "timestamp": 1591142747,
          "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"
        }),
    );
    assert_eq!(out.delta, None);
    same(
        &out.documents,
        json!({
          "previous": {
            "state": {
              "desired": {"ColorRGB": [255, 255, 0]},
              "reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}
            },
            "metadata": {
              "desired": {"ColorRGB": rgb_meta},
              "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": old_meta}
            },
            "version": 4
          },
          "current": {
            "state": {
              "desired": {"ColorRGB": [255, 255, 0]},
              "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}
            },
            "metadata": {
              "desired": {"ColorRGB": rgb_meta},
              "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": reported_meta}
            },
            "version": 5
          },
          "timestamp": 1591142747,
          "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"
        }),
    );

    // Desired and reported agree: no delta in the get.
    let got = svc.get(thing, name, None, at(1591143269)).expect("get");
    same(
        &got,
        json!({
          "state": {
            "desired": {"ColorRGB": [255, 255, 0]},
            "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}
          },
          "metadata": {
            "desired": {"ColorRGB": rgb_meta},
            "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": reported_meta}
          },
          "version": 5,
          "timestamp": 1591143269
        }),
    );
}

/// "Optimistic locking" in "Interacting with shadows"
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-data-flow.html>):
/// at version 10, an update with version 9 is refused with AWS's 409 document, one with
/// version 10 is accepted and makes version 11.
fn optimistic_locking_example(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}}}),
        1000,
    );
    for i in 2..=10 {
        update(
            &svc,
            "t",
            None,
            json!({"state": {"reported": {"n": i}}}),
            1000,
        );
    }
    update(&svc, "t", None, json!({"state": {"reported": null}}), 1000);
    let stale = json!({"state": {"desired": {"colors": ["BLUE"]}}, "version": 9,
                       "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"});
    // Version 11 now; roll the example's numbers forward by one.
    let e = svc
        .update("t", None, stale.to_string().as_bytes(), 2000)
        .expect_err("stale");
    assert_eq!(
        e.rejected_document(2000),
        json!({"code": 409, "message": "Version conflict",
               "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"})
    );
    let e = svc
        .update(
            "t",
            None,
            br#"{"state": {"desired": {"colors": ["BLUE"]}}, "version": 10}"#,
            2000,
        )
        .expect_err("still stale");
    assert_eq!(e.code(), 409);
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"colors": ["BLUE"]}}, "version": 11}),
        3000,
    );
    assert_eq!(out.version, 12);
    let got = svc.get("t", None, None, 3000).expect("get");
    assert_eq!(got["state"]["desired"], json!({"colors": ["BLUE"]}));
    assert_eq!(got["version"], json!(12));
}

/// The interaction tutorial's delta
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/interact-lights-device-shadows.html>):
/// desired `{"welcome": "aws-iot", "color": "red"}` against reported
/// `{"welcome": "aws-iot", "color": "green"}` sends only `color`.
fn interact_lights_delta_example(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"welcome": "aws-iot", "color": "green"}}}),
        at(1617318000),
    );
    for _ in 0..11 {
        update(
            &svc,
            "t",
            None,
            json!({"state": {"desired": {"welcome": "aws-iot"}}}),
            at(1617318000),
        );
    }
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"welcome": "aws-iot", "color": "red"}}}),
        at(1617318480),
    );
    assert_eq!(
        out.delta,
        Some(
            json!({"version": 13, "timestamp": 1617318480, "state": {"color": "red"},
                    "metadata": {"color": {"timestamp": 1617318480}}})
        )
    );
}

/// "Message order" in "AWS IoT Device Shadow service"
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-device-shadows.html>): two
/// desired updates against a reported `blue` give two cumulative deltas, the later one with
/// the higher version.
fn message_order_example(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"color": "blue"}}}),
        at(123456776),
    );
    let first = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"color": "RED"}}}),
        at(123456777),
    );
    let second = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"color": "GREEN"}}}),
        at(123456778),
    );
    let d1 = first.delta.expect("delta 1");
    let d2 = second.delta.expect("delta 2");
    assert_eq!(
        (&d1["state"], &d1["version"]),
        (&json!({"color": "RED"}), &json!(2))
    );
    assert_eq!(
        (&d2["state"], &d2["version"]),
        (&json!({"color": "GREEN"}), &json!(3))
    );
}

/// What `/update/delta` holds ("Device Shadow MQTT topics", `/update/delta`): all differing
/// desired attributes, stored or new; not reported-only ones; and a desired attribute whose
/// reported value was deleted.
fn delta_message_rules(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1, "b": 2, "extra": 9}}}),
        1000,
    );
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"b": null}}}),
        2000,
    );
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"c": 3}}}),
        3000,
    );
    assert_eq!(
        out.delta,
        Some(
            json!({"version": 3, "timestamp": 3, "state": {"b": 2, "c": 3},
                    "metadata": {"b": {"timestamp": 1}, "c": {"timestamp": 3}}})
        )
    );
    // A report that leaves a difference sends the delta too ("When a device reports its
    // current state to the shadow by using the API ... AWS IoT will also publish an MQTT
    // message to the .../update/delta topic").
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"c": 4}}}),
        3500,
    );
    assert_eq!(out.delta.expect("delta")["state"], json!({"b": 2, "c": 3}));
    // A desired update that leaves nothing different sends no delta.
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"b": null, "c": null}}}),
        4000,
    );
    assert_eq!(out.delta, None);
}

/// "Delta state" (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html>):
/// a get carries `delta` in `state`. (The example also shows a `metadata.delta`; the
/// "Shadow document syntax" response document and the SDKs' `ShadowMetadata` have none, and
/// neither do we: see `model::get_document`.)
fn get_includes_the_delta_example(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"color": "RED", "state": "STOP"},
                                              "reported": {"color": "GREEN", "engine": "ON"}}}),
        at(12345),
    );
    for _ in 0..16 {
        update(&svc, "t", None, json!({"state": {}}), at(12346));
    }
    let got = svc.get("t", None, None, at(123456789)).expect("get");
    let ts = json!({"timestamp": 12345});
    same(
        &got,
        json!({
          "state": {
            "desired": {"color": "RED", "state": "STOP"},
            "reported": {"color": "GREEN", "engine": "ON"},
            "delta": {"color": "RED", "state": "STOP"}
          },
          "metadata": {
            "desired": {"color": ts, "state": ts},
            "reported": {"color": ts, "engine": ts}
          },
          "version": 17,
          "timestamp": 123456789
        }),
    );
}

/// "Deleting a shadow" (device-shadow-data-flow.html): the accepted document is
/// `{"version": 4, "timestamp": 1591057529}`; the shadow is gone (404); "deleting a shadow
/// does not reset its version number to 0": recreated within 48 hours it continues, later it
/// starts again.
fn delete_example_and_versions_after_it(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    for i in 0..4 {
        update(
            &svc,
            "t",
            Some("s"),
            json!({"state": {"reported": {"i": i}}}),
            1000,
        );
    }
    let deleted = svc
        .delete("t", Some("s"), None, at(1591057529))
        .expect("delete");
    assert_eq!(deleted, json!({"version": 4, "timestamp": 1591057529}));
    assert_eq!(
        svc.get("t", Some("s"), None, at(1591057530))
            .map_err(|e| e.code()),
        Err(404)
    );
    let e = svc
        .delete("t", Some("s"), Some("tok"), at(1591057530))
        .expect_err("gone");
    assert_eq!(
        e.rejected_document(0),
        json!({"code": 404, "message": "No shadow exists with name: 's'", "clientToken": "tok"})
    );
    assert_eq!(
        svc.list_named("t", None, None, 0).expect("list").results,
        Vec::<String>::new()
    );

    // Within 48 hours: version 5; a stale version check sees the deleted one's.
    let e = svc
        .update(
            "t",
            Some("s"),
            br#"{"state":{},"version":0}"#,
            at(1591057600),
        )
        .expect_err("version 4 expected");
    assert_eq!(e.code(), 409);
    let out = update(
        &svc,
        "t",
        Some("s"),
        json!({"state": {"reported": {"x": 1}}, "version": 4}),
        at(1591057600),
    );
    assert_eq!(out.version, 5);
    assert_eq!(out.documents["previous"], Value::Null);

    // The tombstone survives a restart; after 48 hours the version starts again.
    svc.delete("t", Some("s"), None, 10_000)
        .expect("delete again");
    drop(svc);
    let svc = fx.open();
    let out = update(
        &svc,
        "t",
        Some("s"),
        json!({"state": {}}),
        10_000 + TOMBSTONE_MS,
    );
    assert_eq!(out.version, 6);
    svc.delete("t", Some("s"), None, 20_000 + TOMBSTONE_MS)
        .expect("delete");
    let out = update(
        &svc,
        "t",
        Some("s"),
        json!({"state": {}}),
        20_001 + 2 * TOMBSTONE_MS,
    );
    assert_eq!(out.version, 1);
    // The classic shadow's 404 names the thing.
    let e = svc.get("t", None, None, 0).expect_err("classic");
    assert_eq!(e.message(), "No shadow exists with name: 't'");
}

/// "Setting the device's shadow state to null does not delete the shadow. The shadow version
/// will be incremented on the next update." The empty document `{}` is a valid shadow.
fn a_null_state_keeps_the_shadow(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"a": 1}, "reported": {"a": 2}}}),
        1000,
    );
    let out = update(&svc, "t", None, json!({"state": null}), 2000);
    assert_eq!(out.version, 2);
    assert_eq!(
        svc.get("t", None, None, 3000).expect("still there"),
        json!({"state": {}, "metadata": {}, "version": 2, "timestamp": 3})
    );
}

/// The 8 KB limit counts `desired` and `reported` after the merge, not the metadata
/// ("Diagnosing problems with shadows"); a refused update changes nothing.
fn the_state_size_limit_is_413(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    let half = "x".repeat(4000);
    update(
        &svc,
        "t",
        None,
        json!({"state": {"desired": {"a": half}}}),
        1000,
    );
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"a": half}}}),
        1000,
    );
    let e = svc
        .update(
            "t",
            None,
            json!({"state": {"reported": {"b": "y".repeat(200)}}, "clientToken": "c"})
                .to_string()
                .as_bytes(),
            1000,
        )
        .expect_err("over 8 KB");
    assert_eq!(
        e.rejected_document(at(7)),
        json!({"code": 413, "message": "The payload exceeds the maximum size allowed", "timestamp": 7, "clientToken": "c"})
    );
    assert_eq!(
        svc.get("t", None, None, 0).expect("get")["version"],
        json!(2)
    );
    // Many small leaves: lots of metadata, little state; accepted.
    let many: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
    update(&svc, "u", None, json!({"state": {"reported": many}}), 1000);
}

fn bad_names_are_400_with_the_token(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    let e = svc
        .update("a/b", None, br#"{"state":{},"clientToken":"k"}"#, 0)
        .expect_err("bad thing");
    assert_eq!(
        (e.code(), e.message(), e.client_token()),
        (400, "Invalid thing name", Some("k"))
    );
    assert_eq!(
        svc.get("t", Some("a.b"), None, 0).map_err(|e| e.code()),
        Err(400)
    );
    assert_eq!(
        svc.list_named("", None, None, 0).map_err(|e| e.code()),
        Err(400)
    );
}

/// ListNamedShadowsForThing (device-shadow-rest-api.html): named shadows only ("The unnamed
/// (classic) shadow does not appear in this list"), an empty list for an unknown thing,
/// pages chained by `nextToken`, absent on the last page.
fn list_named_shadows_pages(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(&svc, "t", None, json!({"state": {}}), 0);
    for n in ["b", "a", "$c", "d", "e"] {
        update(&svc, "t", Some(n), json!({"state": {}}), 0);
    }
    svc.delete("t", Some("d"), None, 0).expect("delete d");
    update(&svc, "other", Some("zz"), json!({"state": {}}), 0);

    let p1 = svc.list_named("t", None, Some(2), at(5)).expect("page 1");
    assert_eq!(p1.results, ["$c", "a"]);
    let token = p1.next_token.clone().expect("more");
    let p2 = svc
        .list_named("t", Some(&token), Some(2), at(5))
        .expect("page 2");
    assert_eq!(p2.results, ["b", "e"]);
    assert_eq!(p2.next_token, None);
    assert_eq!(p2.to_json(), json!({"results": ["b", "e"], "timestamp": 5}));
    assert_eq!(
        p1.to_json(),
        json!({"results": ["$c", "a"], "nextToken": token, "timestamp": 5})
    );
    assert_eq!(
        svc.list_named("nothing", None, None, 0)
            .expect("none")
            .results,
        Vec::<String>::new()
    );
    for bad in [Some(0), Some(101)] {
        assert_eq!(
            svc.list_named("t", None, bad, 0).map_err(|e| e.code()),
            Err(400)
        );
    }
    assert_eq!(
        svc.list_named("t", Some("../x"), None, 0)
            .map_err(|e| e.code()),
        Err(400)
    );
}

/// Updates are on disk when they return: a new service over the same folder serves them.
fn shadows_survive_reopening(kind: Kind) {
    let fx = Fixture::new(kind);
    {
        let svc = fx.open();
        update(
            &svc,
            "t",
            None,
            json!({"state": {"desired": {"a": 1}}}),
            at(10),
        );
        update(
            &svc,
            "t",
            Some("n"),
            json!({"state": {"reported": {"b": [1, 2]}}}),
            at(11),
        );
        update(
            &svc,
            "t",
            Some("n"),
            json!({"state": {"reported": {"c": true}}}),
            at(12),
        );
    }
    let svc = fx.open();
    assert!(svc.check().is_empty());
    assert_eq!(
        svc.get("t", None, None, at(20)).expect("classic"),
        json!({"state": {"desired": {"a": 1}, "delta": {"a": 1}},
               "metadata": {"desired": {"a": {"timestamp": 10}}},
               "version": 1, "timestamp": 20})
    );
    let named = svc.get("t", Some("n"), None, at(20)).expect("named");
    assert_eq!(
        named["state"],
        json!({"reported": {"b": [1, 2], "c": true}})
    );
    assert_eq!(named["version"], json!(2));
    assert_eq!(
        svc.list_named("t", None, None, 0).expect("list").results,
        ["n"]
    );
}

/// A damaged file is a 500 that names it (never a panic), for that shadow alone; the others
/// are served, and a repaired file is seen without reopening.
fn a_damaged_file_fails_only_its_shadow(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "good",
        None,
        json!({"state": {"reported": {"a": 1}}}),
        1000,
    );
    update(
        &svc,
        "bad",
        None,
        json!({"state": {"reported": {"a": 1}}}),
        1000,
    );
    drop(svc);
    let bad_file = fx.file_of("bad", None);
    let kept = std::fs::read(&bad_file).expect("read");
    std::fs::write(&bad_file, b"WEIRSHD1garbage").expect("damage");

    let svc = fx.open();
    let problems = svc.check();
    if kind == Kind::Files {
        assert_eq!(problems.len(), 1, "{problems:?}");
        let shown = problems[0].to_string();
        assert!(shown.contains(&bad_file.display().to_string()), "{shown}");
    } else {
        // A shared store is not scanned at start (see `ShadowService::check`).
        assert!(problems.is_empty(), "{problems:?}");
    }

    for e in [
        svc.get("bad", None, Some("k"), 0).expect_err("get"),
        svc.update("bad", None, br#"{"state":{}}"#, 0)
            .expect_err("update"),
        svc.delete("bad", None, None, 0).expect_err("delete"),
    ] {
        assert_eq!((e.code(), e.message()), (500, "Internal service failure"));
        assert!(
            e.detail()
                .is_some_and(|d| d.contains(&bad_file.display().to_string())),
            "{e}"
        );
    }
    assert_eq!(
        svc.get("bad", None, Some("k"), 0)
            .expect_err("get")
            .rejected_document(0),
        json!({"code": 500, "message": "Internal service failure", "timestamp": 0, "clientToken": "k"})
    );
    assert_eq!(
        svc.get("good", None, None, 0).expect("good")["version"],
        json!(1)
    );
    update(
        &svc,
        "good",
        None,
        json!({"state": {"reported": {"a": 2}}}),
        1000,
    );

    std::fs::write(&bad_file, kept).expect("repair");
    assert_eq!(
        svc.get("bad", None, None, 0).expect("repaired")["version"],
        json!(1)
    );
}

/// Two updates of one shadow with the same expected version, at the same moment: exactly one
/// is accepted, the other is a 409; updates of different shadows all pass.
fn concurrent_updates_with_one_version_one_wins(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    let svc = Arc::new(svc);
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"n": 0}}}),
        1000,
    );
    for round in 1..=20u64 {
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let (svc, barrier) = (svc.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let body = json!({"state": {"reported": {"n": i}}, "version": round});
                    barrier.wait();
                    svc.update("t", None, body.to_string().as_bytes(), 1000)
                        .map(|o| o.version)
                        .map_err(|e| e.code())
                })
            })
            .collect();
        let mut results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        results.sort();
        assert_eq!(results, [Ok(round + 1), Err(409)], "round {round}");
    }
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let svc = svc.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    let body = json!({"state": {"reported": {"j": j}}});
                    svc.update(&format!("thing{i}"), None, body.to_string().as_bytes(), 0)
                        .expect("update");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    for i in 0..4 {
        assert_eq!(
            svc.get(&format!("thing{i}"), None, None, 0).expect("get")["version"],
            json!(5)
        );
    }
}

/// The service is shared across threads as it is.
#[test]
fn the_service_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<ShadowService>();
    shared::<crate::ShadowError>();
}

/// A failed write is a 500 naming the step, and the shadow is read from disk again next time
/// instead of being served from what the failed call had cached.
fn a_failed_write_is_500_and_forgets_the_cache(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"a": 1}}}),
        1000,
    );
    // A file where the thing's folder should be: the next write cannot create it (and on
    // the Docs backend, where every update reads first, the read fails already).
    let thing_dir = fx.thing_dir("t");
    std::fs::remove_dir_all(&thing_dir).expect("rm");
    std::fs::write(&thing_dir, b"in the way").expect("file");
    let e = svc
        .update(
            "t",
            None,
            br#"{"state":{"reported":{"a":2}},"clientToken":"k"}"#,
            2000,
        )
        .expect_err("cannot write");
    assert_eq!((e.code(), e.client_token()), (500, Some("k")));
    let step = match kind {
        Kind::Files => "cannot create",
        Kind::Docs => "cannot read shadow document",
    };
    assert!(
        e.detail()
            .is_some_and(|d| d.contains(step) && d.contains(&thing_dir.display().to_string())),
        "{e}"
    );
    std::fs::remove_file(&thing_dir).expect("unblock");
    assert_eq!(
        svc.get("t", None, None, 3000).map_err(|e| e.code()),
        Err(404)
    );
}

/// A stored version that cannot grow is a 500, not an overflow.
fn a_version_at_the_limit_is_500(kind: Kind) {
    let fx = Fixture::new(kind);
    let svc = fx.open();
    let stored = Stored {
        doc: ShadowDoc {
            version: u64::MAX,
            ..Default::default()
        },
        deleted_at_ms: None,
    };
    fx.seed("t", None, &stored);
    let e = svc
        .update("t", None, br#"{"state":{}}"#, 0)
        .expect_err("overflow");
    assert_eq!(e.code(), 500);
    assert_eq!(
        svc.get("t", None, None, 0).expect("get")["version"],
        json!(u64::MAX)
    );
}

/// Two services on one document store: two hosts of a cluster.
fn two_hosts() -> (tempfile::TempDir, ShadowService, ShadowService) {
    let dir = tempfile::tempdir().expect("tempdir");
    let docs: Arc<dyn DocStore> = Arc::new(FolderDocStore::new(dir.path()));
    let host = || ShadowService::on_docs(docs.clone(), PREFIX, ShadowLimits::default());
    (dir, host().expect("a"), host().expect("b"))
}

/// What one host writes the other reads; of two updates with one expected version, one per
/// host, one is accepted and the other is a 409; a delete on one is a 404 on the other; and
/// the version goes on after a delete and a re-creation on the other host.
#[test]
fn two_services_on_one_doc_store_see_each_others_writes() {
    let (_dir, a, b) = two_hosts();
    let thing = "lamp:1";
    for name in [None, Some("$cfg:net")] {
        let out = update(
            &a,
            thing,
            name,
            json!({"state": {"reported": {"on": true}}}),
            1000,
        );
        assert_eq!(out.version, 1);
        let got = b.get(thing, name, None, 2000).expect("read on b");
        assert_eq!(got["state"]["reported"], json!({"on": true}));
        assert_eq!(got["version"], json!(1));

        // Both start from version 1; whichever writes first wins, the other sees version 2.
        let first = b.update(
            thing,
            name,
            br#"{"state":{"desired":{"on":false}},"version":1}"#,
            3000,
        );
        let second = a.update(
            thing,
            name,
            br#"{"state":{"desired":{"on":true}},"version":1}"#,
            3000,
        );
        assert_eq!(first.map(|o| o.version), Ok(2));
        assert_eq!(second.map_err(|e| e.code()), Err(409));
        assert_eq!(
            a.get(thing, name, None, 4000).expect("read on a")["state"]["desired"],
            json!({"on": false})
        );

        assert_eq!(
            a.delete(thing, name, None, 5000).expect("delete on a"),
            json!({"version": 2, "timestamp": 5})
        );
        assert_eq!(
            b.get(thing, name, None, 6000).map_err(|e| e.code()),
            Err(404)
        );
        assert_eq!(
            b.delete(thing, name, None, 6000).map_err(|e| e.code()),
            Err(404)
        );
        // A's expectation of version 2 holds on b: the tombstone keeps it.
        let out = update(&b, thing, name, json!({"state": {}, "version": 2}), 7000);
        assert_eq!(out.version, 3);
        assert_eq!(
            a.get(thing, name, None, 8000).expect("a")["version"],
            json!(3)
        );
    }
    assert_eq!(
        a.list_named(thing, None, None, 0).expect("list").results,
        ["$cfg:net"]
    );
    b.delete(thing, Some("$cfg:net"), None, 9000)
        .expect("delete");
    assert!(a
        .list_named(thing, None, None, 0)
        .expect("list")
        .results
        .is_empty());
}

/// Threads on both hosts racing on one shadow with expected versions: each 409 is retried
/// from a fresh read, and no increment is lost.
#[test]
fn two_hosts_racing_lose_no_update() {
    let (_dir, a, b) = two_hosts();
    let (a, b) = (Arc::new(a), Arc::new(b));
    update(&a, "t", None, json!({"state": {"reported": {"n": 0}}}), 0);
    let threads: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .map(|svc| std::thread::spawn(move || increment(&svc, 10)))
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    for svc in [&a, &b] {
        let got = svc.get("t", None, None, 0).expect("get");
        assert_eq!(got["state"]["reported"]["n"], json!(40));
        assert_eq!(got["version"], json!(41));
    }
}

/// Adds 1 to `state.reported.n` of `t`'s classic shadow `times` times, each with the version
/// it read, retrying after a 409.
fn increment(svc: &ShadowService, times: usize) {
    for _ in 0..times {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 1000, "never got through");
            let got = svc.get("t", None, None, 0).expect("get");
            let n = got["state"]["reported"]["n"].as_u64().expect("n");
            let body = json!({"state": {"reported": {"n": n + 1}}, "version": got["version"]});
            match svc.update("t", None, body.to_string().as_bytes(), 0) {
                Ok(_) => break,
                Err(e) if e.code() == 409 => continue,
                Err(e) => panic!("update: {e}"),
            }
        }
    }
}

/// A document store that lets another "host" write a shadow between this one's read and its
/// write: before each of the first `races` puts it rewrites the document itself (same bytes,
/// new revision), so the put's expected revision is stale.
#[derive(Debug)]
struct Racing {
    inner: FolderDocStore,
    races: AtomicUsize,
    fail_puts: bool,
}

impl DocStore for Racing {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, DocRevision)>, DocError> {
        self.inner.get(key)
    }

    fn put(&self, key: &str, bytes: &[u8], expect: DocExpect) -> Result<DocRevision, DocError> {
        if self.fail_puts {
            return Err(DocError::Io {
                key: key.to_owned(),
                what: "cannot write to the test store".into(),
                source: std::io::Error::other("disk on fire"),
            });
        }
        let raced = self
            .races
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if raced {
            let theirs = match self.inner.get(key)? {
                Some((b, _)) => b,
                None => bytes.to_vec(),
            };
            self.inner.put(key, &theirs, DocExpect::Any)?;
        }
        self.inner.put(key, bytes, expect)
    }

    fn delete(&self, key: &str, expect: DocExpect) -> Result<(), DocError> {
        self.inner.delete(key, expect)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, DocError> {
        self.inner.keys(prefix)
    }

    fn describe(&self, key: &str) -> String {
        self.inner.describe(key)
    }
}

fn racing(dir: &tempfile::TempDir, races: usize, fail_puts: bool) -> (Arc<Racing>, ShadowService) {
    let docs = Arc::new(Racing {
        inner: FolderDocStore::new(dir.path()),
        races: AtomicUsize::new(races),
        fail_puts,
    });
    let svc = ShadowService::on_docs(docs.clone(), PREFIX, ShadowLimits::default()).expect("svc");
    (docs, svc)
}

/// A write that loses the race is redone on a fresh read, up to `docs::ATTEMPTS` times; past
/// that the request is a 500 that names the document and says it kept changing.
#[test]
fn a_lost_race_is_redone_and_endless_races_are_500() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (docs, svc) = racing(&dir, 0, false);
    update(&svc, "t", None, json!({"state": {"reported": {"n": 1}}}), 0);

    docs.races
        .store(crate::docs::ATTEMPTS - 1, Ordering::SeqCst);
    let out = update(
        &svc,
        "t",
        None,
        json!({"state": {"reported": {"n": 2}}, "version": 1}),
        0,
    );
    assert_eq!(out.version, 2);
    assert_eq!(docs.races.load(Ordering::SeqCst), 0);

    docs.races.store(crate::docs::ATTEMPTS, Ordering::SeqCst);
    let e = svc
        .update("t", None, br#"{"state":{},"clientToken":"k"}"#, 0)
        .expect_err("always raced");
    assert_eq!((e.code(), e.client_token()), (500, Some("k")));
    let where_ = docs.describe("shadows/t/classic");
    assert!(
        e.detail()
            .is_some_and(|d| d.contains("kept changing") && d.contains(&where_)),
        "{e}"
    );
    // The same for a delete, and a get never writes, so it never races.
    docs.races.store(crate::docs::ATTEMPTS, Ordering::SeqCst);
    assert_eq!(
        svc.delete("t", None, None, 0).map_err(|e| e.code()),
        Err(500)
    );
    assert_eq!(
        svc.get("t", None, None, 0).expect("get")["version"],
        json!(2)
    );
}

/// A store that cannot write is a 500 naming the document, with the request's token.
#[test]
fn a_failed_put_is_500_naming_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (docs, svc) = racing(&dir, 0, true);
    let e = svc
        .update("t", Some("n"), br#"{"state":{},"clientToken":"k"}"#, 0)
        .expect_err("cannot write");
    assert_eq!((e.code(), e.client_token()), (500, Some("k")));
    let where_ = docs.describe("shadows/t/named/n");
    assert!(
        e.detail()
            .is_some_and(|d| d.contains("disk on fire") && d.contains(&where_)),
        "{e}"
    );
    assert_eq!(
        svc.get("t", Some("n"), None, 0).map_err(|e| e.code()),
        Err(404)
    );
}

/// The documents hold the files' bytes: a shadow file copied into a document store is served
/// as it was, and the document keys are the documented ones.
#[test]
fn a_document_holds_the_bytes_of_a_shadow_file() {
    let files = Fixture::new(Kind::Files);
    let svc = files.open();
    update(
        &svc,
        "my:thing",
        Some("$s"),
        json!({"state": {"reported": {"a": 1}}}),
        1000,
    );
    let bytes = std::fs::read(files.file_of("my:thing", Some("$s"))).expect("file");

    let dir = tempfile::tempdir().expect("tempdir");
    let docs = Arc::new(FolderDocStore::new(dir.path()));
    docs.put("shadows/my=cthing/named/=ds", &bytes, DocExpect::Absent)
        .expect("put");
    let svc = ShadowService::on_docs(docs.clone(), PREFIX, ShadowLimits::default()).expect("svc");
    assert_eq!(
        svc.get("my:thing", Some("$s"), None, 2000).expect("get"),
        files
            .open()
            .get("my:thing", Some("$s"), None, 2000)
            .expect("get")
    );
    assert_eq!(
        svc.list_named("my:thing", None, None, 0)
            .expect("list")
            .results,
        ["$s"]
    );
    update(&svc, "my:thing", None, json!({"state": {}}), 3000);
    assert_eq!(
        docs.keys("shadows/my=cthing").expect("keys"),
        ["shadows/my=cthing/classic"]
    );
    assert!(svc.dir().is_none());
    assert_eq!(files.open().dir(), Some(files.dir.path()));
    for bad in ["", "a//b", "/shadows", ".x"] {
        let e = ShadowService::on_docs(docs.clone(), bad, ShadowLimits::default()).expect_err(bad);
        assert_eq!(e.code(), 500);
    }
}
