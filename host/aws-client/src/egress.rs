//! `weir_support::egress::EgressPolicy` applied where the HTTP client connects.
//!
//! When an API caller can name the URL Weir sends to (Firehose's HTTP endpoint destination;
//! rule actions created through an API), the operator's policy decides which addresses it may
//! reach. A client checks it twice, both on the address actually connected to:
//! - [`EgressResolver`], given to reqwest as its DNS resolver, drops every resolved address
//!   the policy refuses, on every new connection. A name that resolved to a public address
//!   when the URL was accepted and to `127.0.0.1` now (DNS rebinding) connects nowhere.
//! - [`check_literal`], before each request: reqwest calls no resolver for an IP-literal host.
//!
//! A client that checks must also follow no redirects and ignore proxy environment variables
//! ([`crate::http_client`] builds one so), or the address checked is not the one connected to.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use weir_support::egress::{EgressPolicy, Refused};

/// Host name lookup, blocking. The system resolver in production; tests map names to the
/// addresses they need (DNS rebinding without a DNS server).
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// `getaddrinfo`, as reqwest's default resolver does it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// The URL's host resolved only to addresses the policy refuses.
#[derive(Debug, Clone)]
pub struct NameRefused {
    pub host: String,
    pub refused: Vec<Refused>,
}

impl fmt::Display for NameRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves only to refused addresses: ", self.host)?;
        for (i, r) in self.refused.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NameRefused {}

/// reqwest's DNS resolver for a policy: the lookup, then only the addresses the policy
/// allows. Called for every new connection, so the policy holds whatever the name resolves to
/// by then.
#[derive(Clone)]
pub struct EgressResolver {
    pub policy: EgressPolicy,
    pub lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for EgressResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl EgressResolver {
    /// `policy` over the system resolver.
    pub fn new(policy: EgressPolicy) -> Self {
        EgressResolver {
            policy,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// Every address allowed: for endpoints the operator wrote in the config file.
    pub fn allow_all() -> Self {
        EgressResolver::new(EgressPolicy::allow_all())
    }

    /// The same policy with names looked up by `lookup`.
    pub fn with_lookup(mut self, lookup: Arc<dyn Lookup>) -> Self {
        self.lookup = lookup;
        self
    }

    /// The allowed addresses among `addrs` of `host`, or why none is.
    pub fn filter(&self, host: &str, addrs: Vec<IpAddr>) -> Result<Vec<IpAddr>, NameRefused> {
        let mut ok = Vec::with_capacity(addrs.len());
        let mut refused = Vec::new();
        for ip in addrs {
            match self.policy.check(Some(host), ip) {
                Ok(()) => ok.push(ip),
                Err(r) => refused.push(r),
            }
        }
        if ok.is_empty() && !refused.is_empty() {
            return Err(NameRefused {
                host: host.to_owned(),
                refused,
            });
        }
        if !refused.is_empty() {
            tracing::debug!(
                host,
                refused = refused.len(),
                "egress policy dropped some of a name's addresses"
            );
        }
        Ok(ok)
    }
}

impl Resolve for EgressResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = egress.lookup.clone();
            let h = host.clone();
            // `?` boxes each error as itself, so `refusal_in` can find a `NameRefused`.
            let addrs = tokio::task::spawn_blocking(move || lookup.lookup(&h)).await??;
            let ok = egress.filter(&host, addrs)?;
            let addrs: Addrs = Box::new(ok.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The request-time check of an IP-literal host (reqwest resolves nothing for one).
pub fn check_literal(policy: &EgressPolicy, url: &Url) -> Result<(), Refused> {
    match literal_ip(url) {
        Some(ip) => policy.check(None, ip),
        None => Ok(()),
    }
}

/// The URL's host when it is an IP address (`http://2130706433/` included: the URL parser
/// reads every IPv4 spelling to its address).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    if url.domain().is_some() {
        return None;
    }
    let h = url.host_str()?;
    h.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(h)
        .parse()
        .ok()
}

/// The egress refusal somewhere in `e`'s causes (reqwest wraps the resolver's error).
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<NameRefused>() {
            return Some(r.to_string());
        }
        if let Some(r) = c.downcast_ref::<Refused>() {
            return Some(r.to_string());
        }
        cur = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn literals_are_read_in_every_spelling_and_names_are_not_literals() {
        let lit = |u: &str| literal_ip(&Url::parse(u).expect("url"));
        assert_eq!(lit("http://2130706433/"), Some(ip("127.0.0.1")));
        assert_eq!(lit("http://0x7f.1:8/"), Some(ip("127.0.0.1")));
        assert_eq!(lit("http://[::ffff:7f00:1]/"), Some(ip("::ffff:127.0.0.1")));
        assert_eq!(lit("http://example.com/"), None);
        let closed = EgressPolicy::default();
        let url = Url::parse("http://[fd00:ec2::254]/").expect("url");
        let refused = check_literal(&closed, &url).expect_err("metadata");
        assert_eq!(
            refusal_in(&refused).as_deref(),
            Some(refused.to_string().as_str())
        );
    }

    #[test]
    fn a_name_is_refused_only_when_every_address_is() {
        let r = EgressResolver::new(EgressPolicy::default());
        let e = r
            .filter("inside.test", vec![ip("10.0.0.7"), ip("::1")])
            .expect_err("all private");
        assert_eq!(
            e.to_string(),
            "inside.test resolves only to refused addresses: 10.0.0.7 is a private address (RFC 1918) in 10.0.0.0/8; ::1 is a loopback address in ::1/128"
        );
        assert_eq!(
            r.filter("mixed.test", vec![ip("10.0.0.7"), ip("8.8.4.4")])
                .expect("one public"),
            vec![ip("8.8.4.4")]
        );
        assert_eq!(
            EgressResolver::allow_all()
                .filter("lo", vec![ip("127.0.0.1")])
                .expect("open"),
            vec![ip("127.0.0.1")]
        );
    }
}
