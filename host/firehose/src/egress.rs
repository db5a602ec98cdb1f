//! The HTTP endpoint destination's egress check: `weir_support::egress::EgressPolicy` applied
//! where the HTTP client connects.
//!
//! An API caller names the endpoint URL, so the operator's policy decides which addresses it
//! may reach. Three places check it:
//! - `weir_aws_client::EgressResolver`, reqwest's DNS resolver, drops every resolved address
//!   the policy refuses, on every new connection. A name that resolved to a public address
//!   when the stream was created and to `127.0.0.1` now (DNS rebinding) connects nowhere.
//! - [`check_literal`], before each request: reqwest calls no resolver for an IP-literal host.
//! - [`Egress::check_url`], at CreateDeliveryStream and UpdateDestination, so the caller gets
//!   an InvalidArgumentException naming the URL and the reason; a convenience, the two checks
//!   above are the ones that hold.
//!
//! The resolver and the literal check are `weir-aws-client`'s, shared with every AWS client
//! Weir runs. Redirects are not followed (the client's redirect policy is `none`), and the
//! client ignores proxy environment variables, so the address checked is the address
//! connected to.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
pub use weir_aws_client::egress::{check_literal, refusal_in};
use weir_aws_client::EgressResolver;
pub use weir_aws_client::{Lookup, SystemLookup};
use weir_support::egress::EgressPolicy;

/// What to tell an operator who wants the address reached anyway.
pub const HOW_TO_ALLOW: &str =
    "allow it in the config file with [firehose] allow_private_endpoints = true or an [firehose] allowed_endpoints entry";

/// How long CreateDeliveryStream waits for DNS before accepting a name unchecked (the connect-
/// time check still applies).
const CREATE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The operator's policy and the resolver it is applied to.
#[derive(Clone)]
pub struct Egress {
    pub policy: EgressPolicy,
    pub lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Egress")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for Egress {
    /// Non-public addresses refused, names looked up by the system.
    fn default() -> Self {
        Egress::new(EgressPolicy::default())
    }
}

impl Egress {
    pub fn new(policy: EgressPolicy) -> Self {
        Egress {
            policy,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// The same policy with names looked up by `lookup`.
    pub fn with_lookup(mut self, lookup: Arc<dyn Lookup>) -> Self {
        self.lookup = lookup;
        self
    }

    /// CreateDeliveryStream's and UpdateDestination's check of an endpoint URL: an IP literal
    /// is judged as it is; a name is looked up (for at most two seconds) and refused when
    /// every address it has now is refused. A name that does not resolve yet is accepted.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        if self.policy.allows_all() {
            return Ok(());
        }
        let parsed = Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
        if let Err(r) = check_literal(&self.policy, &parsed) {
            return Err(format!("{r}; {HOW_TO_ALLOW}"));
        }
        let Some(host) = parsed.domain() else {
            return Ok(());
        };
        if self.policy.trusts_name(host) {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let lookup = self.lookup.clone();
        let name = host.to_owned();
        // A thread, so a slow resolver delays the answer by the timeout at most.
        let spawned = std::thread::Builder::new()
            .name("weir-firehose-lookup".into())
            .spawn(move || {
                let _ = tx.send(lookup.lookup(&name));
            });
        if spawned.is_err() {
            return Ok(());
        }
        match rx.recv_timeout(CREATE_LOOKUP_TIMEOUT) {
            Ok(Ok(addrs)) => self
                .resolver()
                .filter(host, addrs)
                .map(|_| ())
                .map_err(|e| format!("{e}; {HOW_TO_ALLOW}")),
            _ => Ok(()),
        }
    }

    /// reqwest's resolver for this policy.
    pub fn resolver(&self) -> Arc<EgressResolver> {
        Arc::new(EgressResolver::new(self.policy.clone()).with_lookup(self.lookup.clone()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::sync::Mutex;

    /// A resolver from a table a test changes as it goes.
    #[derive(Default)]
    pub(crate) struct MapLookup(pub(crate) Mutex<HashMap<String, Vec<IpAddr>>>);

    impl MapLookup {
        pub(crate) fn set(&self, host: &str, ips: &[&str]) {
            let ips = ips
                .iter()
                .map(|s| s.parse().expect("test address"))
                .collect();
            weir_support::lock(&self.0).insert(host.to_owned(), ips);
        }
    }

    impl Lookup for MapLookup {
        fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
            weir_support::lock(&self.0)
                .get(host)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        }
    }

    #[test]
    fn create_time_check_names_the_address_and_the_rule() {
        let map = Arc::new(MapLookup::default());
        map.set("rebind.test", &["8.8.8.8"]);
        map.set("inside.test", &["10.0.0.7", "fd00::7"]);
        map.set("mixed.test", &["10.0.0.7", "8.8.4.4"]);
        let eg = Egress::default().with_lookup(map.clone());
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/",
            "http://[fd00:ec2::254]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "https://10.1.2.3/",
            "http://inside.test/",
        ] {
            let err = eg.check_url(url).expect_err(url);
            assert!(err.contains("allow_private_endpoints"), "{url}: {err}");
        }
        let err = eg
            .check_url("http://169.254.169.254/")
            .expect_err("metadata");
        assert!(
            err.starts_with("169.254.169.254 is a cloud metadata service address"),
            "{err}"
        );
        let err = eg.check_url("http://inside.test/").expect_err("inside");
        assert!(
            err.contains(
                "inside.test resolves only to refused addresses: 10.0.0.7 is a private address"
            ),
            "{err}"
        );
        // Public now, unknown, or partly public: accepted here (the connect-time check stays).
        for url in [
            "http://rebind.test/",
            "http://mixed.test/",
            "http://unknown.test/",
            "https://8.8.8.8/",
        ] {
            eg.check_url(url).expect(url);
        }
        let listed = Egress::new(EgressPolicy::new(
            false,
            vec![
                "10.0.0.0/8".parse().expect("entry"),
                "fd00::/8".parse().expect("entry"),
            ],
        ))
        .with_lookup(map);
        listed.check_url("http://inside.test/").expect("allowed");
        listed.check_url("http://10.9.9.9/").expect("allowed");
        assert!(listed.check_url("http://127.0.0.1/").is_err());
        Egress::new(EgressPolicy::allow_all())
            .check_url("http://127.0.0.1/")
            .expect("open");
    }
}
