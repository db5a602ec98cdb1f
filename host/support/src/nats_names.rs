//! What a NATS cluster layout's names may be, checked in one place: `weir-config` reports a
//! bad `[cluster] prefix` with its line, and `weir-cluster` refuses it again for callers
//! that build the layout themselves (`weir streams serve --nats-prefix`).

/// The longest prefix: JetStream refuses stream names over 255 bytes, and a shard stream's
/// name is the prefix's upper-case form followed by `_S_<uid>_<index>`.
pub const MAX_PREFIX_BYTES: usize = 64;

/// Why `prefix` cannot name a layout (dot-separated tokens of `a-z`, `0-9` and `_`, at most
/// [`MAX_PREFIX_BYTES`]), or `None` when it can. Subjects are `<prefix>.…`, so a wildcard,
/// a space or an empty token would change what they match.
pub fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Some(format!(
            "is {} bytes; at most {MAX_PREFIX_BYTES}",
            prefix.len()
        ));
    }
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if prefix.is_empty() || !prefix.split('.').all(token_ok) {
        return Some(format!(
            "{prefix:?} must be dot-separated tokens of a-z, 0-9 and _"
        ));
    }
    None
}

/// The last token of the Firehose buffers' layout (`<prefix>.fh`, beside the streams under
/// `<prefix>`).
pub const FIREHOSE_TOKEN: &str = "fh";

/// Why a deployment's own `prefix` cannot be used (on top of [`prefix_problem`]): one that
/// ends in the [`FIREHOSE_TOKEN`] would share its catalog bucket with the Firehose buffers of
/// the deployment one token shorter.
pub fn deployment_prefix_problem(prefix: &str) -> Option<String> {
    prefix_problem(prefix)
        .or_else(|| {
            (prefix.rsplit('.').next() == Some(FIREHOSE_TOKEN)).then(|| {
                format!(
                    "{prefix:?} ends in `.{FIREHOSE_TOKEN}`, which names another deployment's Firehose buffers"
                )
            })
        })
        .or_else(|| {
            prefix_problem(&format!("{prefix}.{FIREHOSE_TOKEN}"))
                .map(|r| format!("with the Firehose buffers' suffix `.{FIREHOSE_TOKEN}` it {r}"))
        })
}

/// Why `url` cannot name a NATS server (`nats://host:port`, `tls://host:port`, `ws(s)://…`
/// or a bare `host:port`), or `None`. It catches what would otherwise fail only at connect
/// as a lookup of nothing: an empty entry, a bare scheme, another scheme, a missing host.
pub fn server_url_problem(url: &str) -> Option<String> {
    // A space or a control character would be cut or escaped differently by the URL parser
    // and the logs: refuse it here, where the key and line are known.
    if let Some(c) = url.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Some(format!("{url:?} holds {c:?}, which no server URL has"));
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            if !matches!(scheme, "nats" | "tls" | "ws" | "wss") {
                return Some(format!(
                    "{url:?} has scheme {scheme:?}; NATS servers are nats://, tls://, ws:// or wss://"
                ));
            }
            rest
        }
        None => url,
    };
    // Credentials may precede the host (`nats://user:pass@host:4222`).
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, _)) => h,
            None => return Some(format!("{url:?} has an unclosed IPv6 address")),
        }
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    if host.trim().is_empty() {
        return Some(format!("{url:?} names no server host"));
    }
    if let Some((_, port)) = host_port
        .rsplit_once(':')
        .filter(|_| !host_port.ends_with(']'))
    {
        if port.parse::<u16>().is_err() {
            return Some(format!(
                "{url:?} has port {port:?}, not a number up to 65535"
            ));
        }
    }
    None
}

/// `url` without the password it may carry (`nats://user:***@host:4222`), for logs and
/// error messages.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((creds, host)) => {
            let user = creds.split_once(':').map_or(creds, |(u, _)| u);
            format!("{scheme}{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

/// The server URLs of a config, redacted and joined with `, `.
pub fn redacted_list(urls: &[String]) -> String {
    urls.iter()
        .map(|u| redacted(u))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redacted("nats://u:secret@h:4222"),
            "nats://u:***@h:4222"
        );
        assert_eq!(super::redacted("u:secret@h:4222"), "u:***@h:4222");
        assert_eq!(super::redacted("nats://h:4222"), "nats://h:4222");
        assert!(!super::redacted_list(&["tls://a:b@c".into()]).contains('b'));
    }

    use super::*;

    #[test]
    fn prefixes() {
        for ok in ["weir", "weir.fh", "a_1.b2", &"a".repeat(MAX_PREFIX_BYTES)] {
            assert_eq!(prefix_problem(ok), None, "{ok:?}");
        }
        let long = "a".repeat(MAX_PREFIX_BYTES + 1);
        for bad in [
            "", "Weir", "weir..x", "weir.", ".weir", ".", "..", "we ir", "weir>", "w*", "wé",
            "a/b", "a\u{1}b", &long,
        ] {
            assert!(prefix_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn deployment_prefixes() {
        assert_eq!(deployment_prefix_problem("weir"), None);
        assert_eq!(deployment_prefix_problem("fhx.weir"), None);
        for bad in ["weir.fh", "fh", "", &"a".repeat(MAX_PREFIX_BYTES - 2)] {
            assert!(deployment_prefix_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn server_urls() {
        for ok in [
            "nats://127.0.0.1:4222",
            "tls://nats.example.com:4222",
            "127.0.0.1:4222",
            "localhost",
            "nats://u:p@h:1",
            "nats://[::1]:4222",
            "ws://h:8080/path",
        ] {
            assert_eq!(server_url_problem(ok), None, "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "nats://",
            "http://h:4222",
            "nats://:4222",
            "nats://[::1",
            "h:port",
            "h:70000",
            "nats://u:p@",
        ] {
            assert!(server_url_problem(bad).is_some(), "{bad:?}");
        }
    }
}
