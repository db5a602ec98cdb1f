//! The `[cluster]` settings: which NATS servers, how many replicas, credentials and TLS, and
//! the prefix that keeps one Weir deployment's streams apart from another's on one cluster.

use std::path::PathBuf;

use serde::Deserialize;

use crate::{ClusterError, ClusterResult as Result};

/// How to reach the NATS cluster and how to lay Weir's data out on it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Seed URLs (`nats://host:port`, `tls://host:port` or `host:port`); the client learns the
    /// rest of the cluster from them.
    pub nats: Vec<String>,
    /// Replicas of every stream and bucket: 3 survives the loss of one server; 1 is for a
    /// single test server only.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// A NATS credentials file (JWT and NKey seed), when the servers require one.
    #[serde(default)]
    pub creds: Option<PathBuf>,
    /// TLS to the servers; `None` leaves it to the URL scheme and the server's demand.
    #[serde(default)]
    pub tls: Option<ClusterTls>,
    /// Dot-separated lowercase tokens: subjects start with it (`weir.s.…`) and stream and
    /// bucket names with its upper-case form (`WEIR_S_…`, `WEIR_META`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

/// TLS to the NATS servers (rustls on ring).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterTls {
    /// PEM roots to trust instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) for servers that verify clients; needs `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

#[cfg(test)]
use weir_support::nats_names::MAX_PREFIX_BYTES;

fn default_replicas() -> usize {
    3
}

fn default_prefix() -> String {
    "weir".into()
}

impl ClusterConfig {
    /// A config for the `nats` servers with the defaults (3 replicas, prefix `weir`, no auth or TLS).
    pub fn new(nats: Vec<String>) -> Self {
        ClusterConfig {
            nats,
            replicas: default_replicas(),
            creds: None,
            tls: None,
            prefix: default_prefix(),
        }
    }

    /// Checks every field, naming the first bad one, so a typo fails at start and not at the
    /// first stream creation.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(ClusterError::Config { field, reason });
        if self.nats.is_empty() {
            return bad("nats", "needs at least one NATS server URL".into());
        }
        for url in &self.nats {
            match url.parse::<async_nats::ServerAddr>() {
                Err(e) => return bad("nats", format!("{url:?} is not a NATS server URL: {e}")),
                // An empty string or a bare scheme parses, then fails at connect as a DNS
                // lookup of nothing: say so here, naming the entry.
                Ok(addr) if url.trim().is_empty() || addr.host().is_empty() => {
                    return bad("nats", format!("{url:?} names no server host"));
                }
                Ok(_) => {
                    if let Some(reason) = weir_support::nats_names::server_url_problem(url) {
                        return bad("nats", reason);
                    }
                }
            }
        }
        // JetStream's limit: a Raft group of at most 5 peers.
        if !(1..=5).contains(&self.replicas) {
            return bad(
                "replicas",
                format!("{} is not between 1 and 5", self.replicas),
            );
        }
        // Stream names are `<PREFIX>_S_<uid>_<index>` and JetStream refuses names over 255
        // bytes: a bad prefix would fail only at the first stream creation.
        if let Some(reason) = weir_support::nats_names::prefix_problem(&self.prefix) {
            return bad("prefix", reason);
        }
        if self
            .creds
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return bad("creds", "is an empty path".into());
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return bad(
                    "tls",
                    "cert_file and key_file go together (a client certificate needs its key)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// The upper-case form of the prefix for stream and bucket names (`weir.fh` → `WEIR_FH`).
    pub fn name_prefix(&self) -> String {
        self.prefix.replace('.', "_").to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ClusterConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_a_valid_config() {
        let c = parse(r#"{"nats": ["nats://127.0.0.1:4222", "127.0.0.1:4223"]}"#).expect("parses");
        assert_eq!(c.replicas, 3);
        assert_eq!(c.prefix, "weir");
        c.validate().expect("valid");
        assert_eq!(
            ClusterConfig {
                prefix: "weir.fh".into(),
                ..c
            }
            .name_prefix(),
            "WEIR_FH"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = parse(r#"{"nats": ["127.0.0.1:4222"], "replica": 3}"#).expect_err("typo");
        assert!(e.to_string().contains("replica"), "{e}");
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok = ClusterConfig::new(vec!["nats://127.0.0.1:4222".into()]);
        let field = |c: ClusterConfig| match c.validate() {
            Err(ClusterError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert_eq!(
            field(ClusterConfig {
                nats: vec![],
                ..ok.clone()
            }),
            "nats"
        );
        for url in ["http://[::1", "", " ", "nats://"] {
            assert_eq!(
                field(ClusterConfig {
                    nats: vec![url.into()],
                    ..ok.clone()
                }),
                "nats",
                "{url:?}"
            );
        }
        assert_eq!(
            field(ClusterConfig {
                replicas: 0,
                ..ok.clone()
            }),
            "replicas"
        );
        assert_eq!(
            field(ClusterConfig {
                replicas: 7,
                ..ok.clone()
            }),
            "replicas"
        );
        let long = "a".repeat(MAX_PREFIX_BYTES + 1);
        assert!(ClusterConfig {
            prefix: "a".repeat(MAX_PREFIX_BYTES),
            ..ok.clone()
        }
        .validate()
        .is_ok());
        for prefix in [
            "", "Weir", "weir..x", "weir.", ".weir", ".", "..", "we ir", "weir>", "wé", "a/b",
            "a\u{1}b", &long,
        ] {
            assert_eq!(
                field(ClusterConfig {
                    prefix: prefix.into(),
                    ..ok.clone()
                }),
                "prefix",
                "{prefix:?}"
            );
        }
        assert_eq!(
            field(ClusterConfig {
                tls: Some(ClusterTls {
                    ca_file: None,
                    cert_file: Some("c.pem".into()),
                    key_file: None,
                }),
                ..ok.clone()
            }),
            "tls"
        );
        assert_eq!(
            field(ClusterConfig {
                creds: Some(PathBuf::new()),
                ..ok
            }),
            "creds"
        );
    }
}
