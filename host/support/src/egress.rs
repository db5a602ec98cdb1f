//! Where outbound requests may go: the address classifier and the operator's egress policy.
//!
//! An API caller can name the URL Weir sends to (Firehose's HTTP endpoint destination). Left
//! open, that lets any caller make the host reach what only the host can reach: its own
//! loopback services, the cloud metadata service (`169.254.169.254`, `fd00:ec2::254`), the
//! private network around it (server-side request forgery). So every address outside the
//! public internet is refused unless the operator's config file allows it, either wholesale
//! or by an allow-list.
//!
//! The check is made on the **address actually connected to**, after DNS resolution, on every
//! connection: a name that resolved to a public address when the URL was accepted and to
//! `127.0.0.1` later (DNS rebinding) is refused at connect time. The caller (the HTTP client)
//! runs [`EgressPolicy::check`] on each resolved address and on IP-literal hosts; this module
//! does no IO.
//!
//! IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are judged by the
//! IPv4 address inside, so `::ffff:127.0.0.1` is loopback.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The special-purpose ranges (IANA's IPv4 and IPv6 special-purpose address registries) that
/// are not the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Range {
    /// `0.0.0.0/8` ("this network"), `::/128`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata service: `169.254.169.254`, `169.254.170.2` (ECS task
    /// metadata), `fd00:ec2::254`, `192.0.0.192` (Oracle), `100.100.100.200` (Alibaba).
    Metadata,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// Unique local IPv6, `fc00::/7`.
    UniqueLocal,
    /// Deprecated site-local IPv6, `fec0::/10`.
    SiteLocal,
    /// Carrier-grade NAT shared space, `100.64.0.0/10`.
    SharedAddressSpace,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// IETF protocol assignments `192.0.0.0/24`, the 6to4 relay `192.88.99.0/24`, the
    /// reserved `240.0.0.0/4`, discard-only `100::/64`, local-use NAT64 `64:ff9b:1::/48`, and
    /// IPv4-compatible IPv6 `::/96` (deprecated, never routed).
    Reserved,
}

impl Range {
    /// How the range is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Range::Unspecified => "an unspecified address",
            Range::Loopback => "a loopback address",
            Range::LinkLocal => "a link-local address",
            Range::Metadata => "a cloud metadata service address",
            Range::Private => "a private address (RFC 1918)",
            Range::UniqueLocal => "a unique local address (fc00::/7)",
            Range::SiteLocal => "a site-local address (fec0::/10)",
            Range::SharedAddressSpace => "a carrier-grade NAT address (100.64.0.0/10)",
            Range::Multicast => "a multicast address",
            Range::Broadcast => "the broadcast address",
            Range::Documentation => "a documentation address",
            Range::Benchmarking => "a benchmarking address",
            Range::Reserved => "a reserved address",
        }
    }
}

/// An IPv6 form that carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`.
    Ipv4Mapped,
    /// `::a.b.c.d`.
    Ipv4Compatible,
    /// `64:ff9b::a.b.c.d`.
    Nat64,
    /// `2002:AABB:CCDD::/48`.
    SixToFour,
    /// `2001:0:SERVER:FLAGS:PORT:CLIENT`, the client address inverted.
    Teredo,
}

impl Embedding {
    fn describe(self) -> &'static str {
        match self {
            Embedding::Ipv4Mapped => "IPv4-mapped",
            Embedding::Ipv4Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
            Embedding::Teredo => "Teredo",
        }
    }
}

/// Why an address is not public: its range, the CIDR block it fell in, and the IPv4 address
/// inside when it was reached through an IPv6 wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restricted {
    pub range: Range,
    /// The block matched, e.g. `127.0.0.0/8`.
    pub block: &'static str,
    pub via: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for Restricted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((e, v4)) = self.via {
            write!(f, "the {} IPv6 form of {v4}, ", e.describe())?;
        }
        write!(f, "{} in {}", self.range.describe(), self.block)
    }
}

/// IPv4 blocks, most specific first (the first match names the range).
const V4: &[(u32, u8, Range, &str)] = &[
    (0xA9FE_A9FE, 32, Range::Metadata, "169.254.169.254/32"),
    (0xA9FE_AA02, 32, Range::Metadata, "169.254.170.2/32"),
    (0xC000_00C0, 32, Range::Metadata, "192.0.0.192/32"),
    (0x6464_64C8, 32, Range::Metadata, "100.100.100.200/32"),
    (0xFFFF_FFFF, 32, Range::Broadcast, "255.255.255.255/32"),
    (0x0000_0000, 8, Range::Unspecified, "0.0.0.0/8"),
    (0x0A00_0000, 8, Range::Private, "10.0.0.0/8"),
    (0x6440_0000, 10, Range::SharedAddressSpace, "100.64.0.0/10"),
    (0x7F00_0000, 8, Range::Loopback, "127.0.0.0/8"),
    (0xA9FE_0000, 16, Range::LinkLocal, "169.254.0.0/16"),
    (0xAC10_0000, 12, Range::Private, "172.16.0.0/12"),
    (0xC000_0000, 24, Range::Reserved, "192.0.0.0/24"),
    (0xC000_0200, 24, Range::Documentation, "192.0.2.0/24"),
    (0xC058_6300, 24, Range::Reserved, "192.88.99.0/24"),
    (0xC0A8_0000, 16, Range::Private, "192.168.0.0/16"),
    (0xC612_0000, 15, Range::Benchmarking, "198.18.0.0/15"),
    (0xC633_6400, 24, Range::Documentation, "198.51.100.0/24"),
    (0xCB00_7100, 24, Range::Documentation, "203.0.113.0/24"),
    (0xE000_0000, 4, Range::Multicast, "224.0.0.0/4"),
    (0xF000_0000, 4, Range::Reserved, "240.0.0.0/4"),
];

/// IPv6 blocks that are restricted in themselves (the IPv4 wrappers are handled apart).
const V6: &[(u128, u8, Range, &str)] = &[
    (0, 128, Range::Unspecified, "::/128"),
    (1, 128, Range::Loopback, "::1/128"),
    (
        0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
        128,
        Range::Metadata,
        "fd00:ec2::254/128",
    ),
    (
        0x0064_ff9b_0001 << 80,
        48,
        Range::Reserved,
        "64:ff9b:1::/48",
    ),
    (0x0100 << 112, 64, Range::Reserved, "100::/64"),
    (0x2001_0002 << 96, 48, Range::Benchmarking, "2001:2::/48"),
    (0x2001_0db8 << 96, 32, Range::Documentation, "2001:db8::/32"),
    (0x3fff << 112, 20, Range::Documentation, "3fff::/20"),
    (0xfc << 120, 7, Range::UniqueLocal, "fc00::/7"),
    (0xfe80 << 112, 10, Range::LinkLocal, "fe80::/10"),
    (0xfec0 << 112, 10, Range::SiteLocal, "fec0::/10"),
    (0xff << 120, 8, Range::Multicast, "ff00::/8"),
];

fn in_v4(ip: u32, base: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    ip & mask == base & mask
}

fn in_v6(ip: u128, base: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    ip & mask == base & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Restricted> {
    let n = u32::from(ip);
    V4.iter()
        .find(|(base, len, _, _)| in_v4(n, *base, *len))
        .map(|&(_, _, range, block)| Restricted {
            range,
            block,
            via: None,
        })
}

/// The IPv4 address an IPv6 address carries, and how.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let n = u128::from(ip);
    let low = Ipv4Addr::from((n & 0xffff_ffff) as u32);
    if in_v6(n, 0xffff << 32, 96) {
        Some((Embedding::Ipv4Mapped, low))
    } else if in_v6(n, 0, 96) && n > 1 {
        Some((Embedding::Ipv4Compatible, low))
    } else if in_v6(n, 0x0064_ff9b << 96, 96) {
        Some((Embedding::Nat64, low))
    } else if in_v6(n, 0x2002 << 112, 16) {
        Some((Embedding::SixToFour, Ipv4Addr::from((n >> 80) as u32)))
    } else if in_v6(n, 0x2001_0000 << 96, 32) {
        Some((Embedding::Teredo, Ipv4Addr::from(!(n as u32))))
    } else {
        None
    }
}

/// Why `ip` is not a public internet address, or `None` when it is one.
pub fn classify(ip: IpAddr) -> Option<Restricted> {
    let v6 = match ip {
        IpAddr::V4(v4) => return classify_v4(v4),
        IpAddr::V6(v6) => v6,
    };
    let n = u128::from(v6);
    if let Some(&(_, _, range, block)) = V6.iter().find(|(b, l, _, _)| in_v6(n, *b, *l)) {
        return Some(Restricted {
            range,
            block,
            via: None,
        });
    }
    let (how, v4) = embedded_v4(v6)?;
    match classify_v4(v4) {
        Some(r) => Some(Restricted {
            via: Some((how, v4)),
            ..r
        }),
        // Deprecated and never routed: nothing legitimate is reached this way.
        None if how == Embedding::Ipv4Compatible => Some(Restricted {
            range: Range::Reserved,
            block: "::/96",
            via: Some((how, v4)),
        }),
        None => None,
    }
}

/// One `[firehose] allowed_endpoints` entry.
///
/// Written as an IP address (`127.0.0.1`, `::1`), a CIDR block (`10.0.0.0/8`, `fd00::/8`), or
/// a host name (`collector.internal`, matched case-insensitively against the URL's host, and
/// then trusted whatever it resolves to). Entries have no port: an allowed address is allowed
/// on every port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Addresses whose first `prefix` bits are `addr`'s (a single address has the full
    /// length). IPv4 blocks also match the IPv4-mapped IPv6 form of their addresses.
    Block { addr: IpAddr, prefix: u8 },
    /// A host name, lowercase, without a trailing dot.
    Host(String),
}

/// An `allowed_endpoints` entry that is not one of the three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    pub entry: String,
    pub reason: String,
}

impl fmt::Display for BadEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.entry, self.reason)
    }
}

impl std::error::Error for BadEntry {}

/// What an entry may be, for messages.
pub const ALLOWED_FORMS: &str =
    "an IP address (`127.0.0.1`, `::1`), a CIDR block (`10.0.0.0/8`, `fd00::/8`) or a host name (`collector.internal`), without a port";

impl FromStr for Allowed {
    type Err = BadEntry;

    fn from_str(s: &str) -> Result<Self, BadEntry> {
        let bad = |reason: String| BadEntry {
            entry: s.to_owned(),
            reason,
        };
        let t = s.trim();
        if let Some((addr, prefix)) = t.split_once('/') {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| bad(format!("{addr:?} is not an IP address")))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad(format!("the prefix length must be 0..={max}")))?;
            let entry = Allowed::Block { addr, prefix };
            if entry != Allowed::block(addr, prefix) {
                return Err(bad(format!(
                    "the address has bits set past the /{prefix} prefix (did you mean {}?)",
                    Allowed::block(addr, prefix)
                )));
            }
            return Ok(entry);
        }
        let unbracketed = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if let Ok(addr) = unbracketed.parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(Allowed::Block { addr, prefix });
        }
        if t.contains(':') {
            return Err(bad(
                "entries have no port (an allowed address is allowed on every port); write the address, block or host name alone".into(),
            ));
        }
        let name = t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase();
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(bad(format!("not {ALLOWED_FORMS}")));
        }
        Ok(Allowed::Host(name))
    }
}

impl Allowed {
    /// The block of `addr`'s first `prefix` bits (host bits cleared).
    fn block(addr: IpAddr, prefix: u8) -> Allowed {
        let addr = match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Allowed::Block { addr, prefix }
    }

    /// Whether this entry lets a request whose URL host is `host` (a name, or `None` for an
    /// IP literal) connect to `ip`.
    pub fn matches(&self, host: Option<&str>, ip: IpAddr) -> bool {
        match self {
            Allowed::Host(name) => host.is_some_and(|h| same_name(h, name)),
            Allowed::Block { addr, prefix } => match (addr, ip.to_canonical()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => in_v4(u32::from(b), u32::from(*a), *prefix),
                (IpAddr::V6(a), IpAddr::V6(b)) => in_v6(u128::from(b), u128::from(*a), *prefix),
                _ => false,
            },
        }
    }
}

/// Whether the URL host `host` is the (lowercase, dotless) entry `name`.
fn same_name(host: &str, name: &str) -> bool {
    host.strip_suffix('.')
        .unwrap_or(host)
        .eq_ignore_ascii_case(name)
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::Block { addr, prefix } => write!(f, "{addr}/{prefix}"),
            Allowed::Host(h) => f.write_str(h),
        }
    }
}

/// The operator's rule for outbound requests whose address an API caller chose: public
/// addresses always; the rest only when allowed. The default refuses every non-public one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow_all: bool,
    allowed: Vec<Allowed>,
}

/// A connection the policy refuses: the address and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub addr: IpAddr,
    pub why: Restricted,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.addr, self.why)
    }
}

impl std::error::Error for Refused {}

impl EgressPolicy {
    /// Every address allowed (`allow_private_endpoints = true`).
    pub fn allow_all() -> Self {
        EgressPolicy {
            allow_all: true,
            allowed: Vec::new(),
        }
    }

    /// Public addresses, plus what `allowed` lists (or everything with `allow_all`).
    pub fn new(allow_all: bool, allowed: Vec<Allowed>) -> Self {
        EgressPolicy { allow_all, allowed }
    }

    /// Whether nothing is ever refused.
    pub fn allows_all(&self) -> bool {
        self.allow_all
    }

    /// The allow-list entries.
    pub fn allowed(&self) -> &[Allowed] {
        &self.allowed
    }

    /// Whether a name entry trusts `host` whatever it resolves to.
    pub fn trusts_name(&self, host: &str) -> bool {
        self.allow_all
            || self
                .allowed
                .iter()
                .any(|a| matches!(a, Allowed::Host(n) if same_name(host, n)))
    }

    /// Whether a request whose URL host is `host` (`None` for an IP literal) may connect to
    /// `ip`: public addresses always, the rest only when the operator allowed them.
    pub fn check(&self, host: Option<&str>, ip: IpAddr) -> Result<(), Refused> {
        if self.allow_all {
            return Ok(());
        }
        let Some(why) = classify(ip) else {
            return Ok(());
        };
        if self.allowed.iter().any(|a| a.matches(host, ip)) {
            return Ok(());
        }
        Err(Refused { addr: ip, why })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn range(s: &str) -> Option<Range> {
        classify(ip(s)).map(|r| r.range)
    }

    #[test]
    fn every_special_ipv4_range_is_classified() {
        let cases = [
            ("0.0.0.0", Range::Unspecified),
            ("0.1.2.3", Range::Unspecified),
            ("127.0.0.1", Range::Loopback),
            ("127.255.255.254", Range::Loopback),
            ("169.254.169.254", Range::Metadata),
            ("169.254.170.2", Range::Metadata),
            ("192.0.0.192", Range::Metadata),
            ("100.100.100.200", Range::Metadata),
            ("169.254.0.1", Range::LinkLocal),
            ("10.0.0.1", Range::Private),
            ("10.255.255.255", Range::Private),
            ("172.16.0.1", Range::Private),
            ("172.31.255.255", Range::Private),
            ("192.168.1.1", Range::Private),
            ("100.64.0.1", Range::SharedAddressSpace),
            ("100.127.255.255", Range::SharedAddressSpace),
            ("224.0.0.1", Range::Multicast),
            ("239.255.255.250", Range::Multicast),
            ("255.255.255.255", Range::Broadcast),
            ("240.0.0.1", Range::Reserved),
            ("192.0.0.8", Range::Reserved),
            ("192.88.99.1", Range::Reserved),
            ("192.0.2.1", Range::Documentation),
            ("198.51.100.7", Range::Documentation),
            ("203.0.113.9", Range::Documentation),
            ("198.18.0.1", Range::Benchmarking),
            ("198.19.255.255", Range::Benchmarking),
        ];
        for (a, want) in cases {
            assert_eq!(range(a), Some(want), "{a}");
        }
        // The edges just outside each block are public.
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(range(a), None, "{a}");
        }
    }

    #[test]
    fn every_special_ipv6_range_is_classified() {
        let cases = [
            ("::", Range::Unspecified),
            ("::1", Range::Loopback),
            ("fd00:ec2::254", Range::Metadata),
            ("fc00::1", Range::UniqueLocal),
            ("fdff:ffff::1", Range::UniqueLocal),
            ("fe80::1", Range::LinkLocal),
            ("febf::1", Range::LinkLocal),
            ("fec0::1", Range::SiteLocal),
            ("ff02::1", Range::Multicast),
            ("2001:db8::1", Range::Documentation),
            ("3fff::1", Range::Documentation),
            ("2001:2::1", Range::Benchmarking),
            ("100::1", Range::Reserved),
            ("64:ff9b:1::1", Range::Reserved),
        ];
        for (a, want) in cases {
            assert_eq!(range(a), Some(want), "{a}");
        }
        for a in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "fbff::1",
            "2001:db9::1",
            "2001:3::1",
        ] {
            assert_eq!(range(a), None, "{a}");
        }
    }

    #[test]
    fn ipv4_wrapped_in_ipv6_is_judged_by_the_ipv4_inside() {
        let cases = [
            ("::ffff:127.0.0.1", Embedding::Ipv4Mapped, Range::Loopback),
            (
                "::ffff:169.254.169.254",
                Embedding::Ipv4Mapped,
                Range::Metadata,
            ),
            ("::ffff:10.1.2.3", Embedding::Ipv4Mapped, Range::Private),
            ("::127.0.0.1", Embedding::Ipv4Compatible, Range::Loopback),
            ("::192.168.0.1", Embedding::Ipv4Compatible, Range::Private),
            ("64:ff9b::127.0.0.1", Embedding::Nat64, Range::Loopback),
            ("64:ff9b::a9fe:a9fe", Embedding::Nat64, Range::Metadata),
            // 2002:7f00:0001:: is 6to4 for 127.0.0.1; 2002:c0a8:0101:: for 192.168.1.1.
            ("2002:7f00:1::1", Embedding::SixToFour, Range::Loopback),
            ("2002:c0a8:101::", Embedding::SixToFour, Range::Private),
            // Teredo's client address is stored inverted: !127.0.0.1 = 0x80ff_fffe.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                Embedding::Teredo,
                Range::Loopback,
            ),
        ];
        for (a, how, want) in cases {
            let r = classify(ip(a)).unwrap_or_else(|| panic!("{a} classified public"));
            assert_eq!(r.range, want, "{a}");
            assert_eq!(r.via.map(|v| v.0), Some(how), "{a}");
        }
        // Wrappers of a public address are public, except the never-routed compatible form.
        assert_eq!(range("::ffff:8.8.8.8"), None);
        assert_eq!(range("64:ff9b::808:808"), None);
        assert_eq!(range("2002:808:808::1"), None);
        assert_eq!(range("::8.8.8.8"), Some(Range::Reserved));
        let text = classify(ip("::ffff:127.0.0.1"))
            .expect("loopback")
            .to_string();
        assert_eq!(
            text,
            "the IPv4-mapped IPv6 form of 127.0.0.1, a loopback address in 127.0.0.0/8"
        );
    }

    #[test]
    fn allow_list_entries_parse_and_match() {
        let e = |s: &str| s.parse::<Allowed>();
        assert_eq!(
            e("10.0.0.0/8"),
            Ok(Allowed::Block {
                addr: ip("10.0.0.0"),
                prefix: 8
            })
        );
        assert_eq!(
            e("127.0.0.1"),
            Ok(Allowed::Block {
                addr: ip("127.0.0.1"),
                prefix: 32
            })
        );
        assert_eq!(
            e("[::1]"),
            Ok(Allowed::Block {
                addr: ip("::1"),
                prefix: 128
            })
        );
        assert_eq!(
            e("Collector.Internal."),
            Ok(Allowed::Host("collector.internal".into()))
        );
        for (bad, says) in [
            ("10.1.0.0/8", "did you mean 10.0.0.0/8"),
            ("10.0.0.0/33", "0..=32"),
            ("fd00::/129", "0..=128"),
            ("127.0.0.1:8080", "no port"),
            ("host:443", "no port"),
            ("", "not an IP address"),
            ("a b", "not an IP address"),
            ("x/8", "not an IP address"),
        ] {
            let err = e(bad).expect_err(bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let block: Allowed = "10.0.0.0/8".parse().expect("block");
        assert!(block.matches(None, ip("10.9.9.9")));
        assert!(block.matches(None, ip("::ffff:10.9.9.9")));
        assert!(!block.matches(None, ip("11.0.0.0")));
        let v6: Allowed = "fd00::/8".parse().expect("v6 block");
        assert!(v6.matches(None, ip("fd12::1")));
        assert!(!v6.matches(None, ip("fc00::1")));
        let host: Allowed = "collector.internal".parse().expect("host");
        assert!(host.matches(Some("COLLECTOR.internal."), ip("127.0.0.1")));
        assert!(!host.matches(None, ip("127.0.0.1")));
        assert!(!host.matches(Some("other.internal"), ip("127.0.0.1")));
    }

    #[test]
    fn the_policy_refuses_what_is_not_public_unless_allowed() {
        let closed = EgressPolicy::default();
        assert!(closed.check(None, ip("93.184.215.14")).is_ok());
        let refused = closed
            .check(None, ip("169.254.169.254"))
            .expect_err("metadata");
        assert_eq!(
            refused.to_string(),
            "169.254.169.254 is a cloud metadata service address in 169.254.169.254/32"
        );
        assert!(closed.check(Some("localhost"), ip("::1")).is_err());
        assert!(closed.check(None, ip("::ffff:127.0.0.1")).is_err());
        assert!(EgressPolicy::allow_all()
            .check(None, ip("127.0.0.1"))
            .is_ok());
        let listed = EgressPolicy::new(
            false,
            vec![
                "127.0.0.1".parse().expect("entry"),
                "collector.internal".parse().expect("entry"),
            ],
        );
        assert!(listed.check(None, ip("127.0.0.1")).is_ok());
        assert!(listed.check(None, ip("127.0.0.2")).is_err());
        assert!(listed.check(None, ip("169.254.169.254")).is_err());
        assert!(listed
            .check(Some("collector.internal"), ip("10.1.1.1"))
            .is_ok());
        assert!(listed.trusts_name("Collector.Internal"));
        assert!(!listed.trusts_name("other.internal"));
        assert!(!closed.trusts_name("collector.internal"));
    }
}
