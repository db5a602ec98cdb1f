//! The host's own sections: `[broker]` (embedded or external), `[storage]`, `[s3]` and
//! `[api]`.

use super::*;

#[test]
fn s3_section_is_optional_and_checked() {
    let none = Config::parse(BASE, F).expect("no [s3]");
    assert_eq!(none.s3, None);
    let text = format!(
        "{BASE}\n[s3]\nendpoint_url = \"http://127.0.0.1:9000\"\nregion = \"eu-west-1\"\naccess_key_id = \"AK\"\nsecret_access_key = \"SK\"\n"
    );
    let c = Config::parse(&text, F).expect("valid [s3]");
    let s3 = c.s3.expect("s3");
    assert_eq!(s3.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
    assert!(
        !format!("{s3:?}").contains("SK"),
        "the secret is not printed"
    );
    let bad = format!("{BASE}\n[s3]\nendpoint_url = \"minio:9000\"\naccess_key_id = \"AK\"\n");
    let err = Config::parse(&bad, F).expect_err("bad [s3]").to_string();
    assert!(
        err.contains("s3.endpoint_url") && err.contains("not an http://"),
        "{err}"
    );
    assert!(
        err.contains("s3.secret_access_key") && err.contains("go together"),
        "{err}"
    );
    let typo = format!("{BASE}\n[s3]\nendpoint = \"http://x\"\n");
    let err = Config::parse(&typo, F)
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("unknown key `endpoint`"), "{err}");
}

#[test]
fn cluster_section_is_optional_and_checked() {
    let none = Config::parse(BASE, F).expect("no [cluster]");
    assert_eq!(none.cluster, None);
    let text =
        format!("{BASE}\n[cluster]\nnats = [\"nats://127.0.0.1:4222\", \"127.0.0.1:4223\"]\n");
    let c = Config::parse(&text, F)
        .expect("valid [cluster]")
        .cluster
        .expect("cluster");
    assert_eq!(c.nats.len(), 2);
    assert_eq!((c.replicas, c.prefix.as_str(), c.tls), (3, "weir", false));
    let text = format!("{BASE}\n[cluster]\nnats = [\"tls://n1:4222\"]\nreplicas = 1\nprefix = \"plant1.weir\"\n[cluster.tls]\n");
    let c = Config::parse(&text, F)
        .expect("valid [cluster]")
        .cluster
        .expect("cluster");
    assert_eq!(
        (c.replicas, c.prefix.as_str(), c.tls),
        (1, "plant1.weir", true)
    );

    let bad = format!(
        "{BASE}\n[cluster]\nnats = [\"nats://ok:4222\", \"http://n2:4222\", \"\"]\nreplicas = 7\nprefix = \"Weir>\"\ncreds = \"missing.creds\"\n[cluster.tls]\ncert_file = \"c.pem\"\n"
    );
    let err = Config::parse(&bad, F)
        .expect_err("bad [cluster]")
        .to_string();
    for want in [
        "cluster.nats[1]",
        "scheme \"http\"",
        "cluster.nats[2]",
        "names no server host",
        "cluster.replicas",
        "cluster.prefix",
        "dot-separated tokens",
        "cluster.creds",
        "does not exist",
        "cluster.tls.key_file",
        "go together",
    ] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }
    // The prefix leaves room for the Firehose buffers' `.fh`: 61 bytes fit, 62 do not.
    let with_prefix = |p: &str| format!("{BASE}\n[cluster]\nnats = [\"h:1\"]\nprefix = \"{p}\"\n");
    let longest = "a".repeat(61);
    assert_eq!(
        Config::parse(&with_prefix(&longest), F)
            .expect("61 bytes")
            .cluster
            .expect("cluster")
            .prefix,
        longest
    );
    for bad in [
        "a".repeat(62),
        "é".into(),
        ".".into(),
        "..".into(),
        "/w".into(),
        "w/".into(),
        "a//b".into(),
        "a\\u0001b".into(),
        "weir.fh".into(),
        String::new(),
    ] {
        let err = Config::parse(&with_prefix(&bad), F)
            .expect_err(&bad)
            .to_string();
        assert!(err.contains("cluster.prefix"), "{bad:?}: {err}");
    }
    let empty = format!("{BASE}\n[cluster]\n");
    let err = Config::parse(&empty, F)
        .expect_err("no servers")
        .to_string();
    assert!(
        err.contains("cluster.nats") && err.contains("at least one"),
        "{err}"
    );
    let typo = format!("{BASE}\n[cluster]\nnats = [\"h:1\"]\nreplica = 3\n");
    let err = Config::parse(&typo, F)
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("unknown key `replica`"), "{err}");
}

#[test]
fn config_both_broker_modes() {
    let text = format!("[broker]\nlisten = \"127.0.0.1:1883\"\n[broker.external]\nurl = \"mqtt://broker:1883\"\n{BASE}");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:10: `broker.listen`: both an embedded broker (listen) and `broker.external` are configured (expected either the embedded broker's keys or `[broker.external]`, not both)")
    );
}

#[test]
fn config_external_broker() {
    let text = format!("[broker.external]\nurl = \"mqtts://broker.example.com\"\n{BASE}");
    let c = match Config::parse(&text, F) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let Broker::External(b) = &c.broker else {
        panic!("not external")
    };
    assert_eq!(
        (b.tls, b.host.as_str(), b.port),
        (true, "broker.example.com", 8883)
    );
    assert_eq!(b.subscription("rtr/#"), "$share/weir/rtr/#");
}

#[test]
fn config_external_broker_default_client_id_is_per_host_and_storage() {
    let text = format!("[broker.external]\nurl = \"mqtt://b\"\n{BASE}");
    let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b) = &c.broker else {
        panic!("not external")
    };
    assert!(b.client_id.starts_with("weir-"), "{}", b.client_id);
    assert!(b.client_id.len() <= 23, "{}", b.client_id);
    // The same file gives the same id (the session survives a restart)...
    let again = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b2) = &again.broker else {
        panic!("not external")
    };
    assert_eq!(b.client_id, b2.client_id);
    // ...another storage folder or another machine another one.
    let other = format!("{text}\n[storage]\ndir = \"elsewhere\"\n");
    let c3 = Config::parse(&other, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b3) = &c3.broker else {
        panic!("not external")
    };
    assert_ne!(b.client_id, b3.client_id);
    let dir = Path::new("/srv/weir/data");
    let a = validate::sections_default_client_id("gateway-07", dir);
    let z = validate::sections_default_client_id("gateway-08", dir);
    assert_ne!(a, z);
    assert!(a.ends_with("-gateway-0"), "{a}");
    // An explicit one is kept; an empty one is refused.
    let named = format!("[broker.external]\nurl = \"mqtt://b\"\nclient_id = \"plant-1\"\n{BASE}");
    let c4 = Config::parse(&named, F).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&c4.broker, Broker::External(b) if b.client_id == "plant-1"));
    let empty = format!("[broker.external]\nurl = \"mqtt://b\"\nclient_id = \"\"\n{BASE}");
    assert!(
        one_error(&empty).contains("broker.client_id") || one_error(&empty).contains("client_id"),
        "{}",
        one_error(&empty)
    );
}

#[test]
fn config_storage_and_external_broker_mistakes() {
    let text = format!(
        "[broker.external]\nurl = \"http://broker\"\n[storage]\nfsync = \"never\"\nfsync_interval_ms = 10\n{BASE}"
    );
    assert_eq!(
        errors(&text),
        [
            format!("{F}:2:7: `broker.external.url`: \"http://broker\" is not an MQTT URL (expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT])"),
            format!("{F}:5:21: `storage.fsync_interval_ms`: only applies when `fsync = \"interval\"` (expected no `fsync_interval_ms`, or `fsync = \"interval\"`)"),
        ]
    );
}

#[test]
fn config_admin_token_must_not_be_guessable() {
    let text = format!("{BASE}\n[api]\nadmin_token = \"short\"\n");
    let e = one_error(&text);
    assert!(
        e.ends_with(
            "`api.admin_token`: the token has 5 characters (expected at least 16 characters)"
        ),
        "{e}"
    );
    let text = format!("{BASE}\n[api]\nadmin_token = \"sixteen-chars-ok\"\n");
    match Config::parse(&text, F) {
        Ok(c) => assert_eq!(c.api.admin_token.as_deref(), Some("sixteen-chars-ok")),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn config_dead_letter_budget_defaults_sets_and_checks_its_range() {
    let c = Config::parse(BASE, F).expect("base");
    assert_eq!(
        c.storage.dead_letter_max_bytes,
        DEFAULT_DEAD_LETTER_MAX_BYTES
    );
    assert_eq!(DEFAULT_DEAD_LETTER_MAX_BYTES, 1 << 30);
    let text = format!("[storage]\ndead_letter_max_bytes = 0\n{BASE}");
    let c = Config::parse(&text, F).expect("zero stores none");
    assert_eq!(c.storage.dead_letter_max_bytes, 0);
    let text = format!("[storage]\ndead_letter_max_bytes = 2000000000000000000\n{BASE}");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:25: `storage.dead_letter_max_bytes`: 2000000000000000000 is out of range (expected 0..=1125899906842624 bytes)")
    );
}
