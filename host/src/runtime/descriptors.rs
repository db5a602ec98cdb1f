//! File descriptors: every shard keeps segment files open, every API and MQTT connection is a
//! socket, and the soft limit is often 1,024. At start the host raises its soft limit to the
//! hard one and says when even that is below what the configuration can need, instead of
//! failing later at a segment roll or an accept.

/// Descriptors one shard holds: its active segment, and its folder while it syncs. Sealed
/// segments share a process-wide bound (`weir_streams::log::MAX_OPEN_SEALED`).
const PER_SHARD: u64 = 2;

/// Everything else: plugins, tables, notification files, the broker's listeners, slack.
const BASE: u64 = 256;

/// What a configuration can need at most.
pub fn needed(max_shards: u32, max_connections: usize) -> u64 {
    u64::from(max_shards) * PER_SHARD
        + weir_streams::log::MAX_OPEN_SEALED as u64
        + max_connections as u64
        + BASE
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force
/// (`None` where it cannot be read).
pub fn raise_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer, which
    // lives on this stack frame for the duration of the calls.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Some(lim.rlim_cur)
}

/// Raises the limit and warns when it is below what the configuration can need.
pub fn prepare(max_shards: u32, max_connections: usize) {
    let need = needed(max_shards, max_connections);
    match raise_limit() {
        Some(have) if have < need => tracing::warn!(
            limit = have,
            needed = need,
            "the open-file limit is below what max_shards and max_connections can need; raise it (ulimit -n / LimitNOFILE) or lower them"
        ),
        Some(have) => tracing::debug!(limit = have, needed = need, "open-file limit"),
        None => tracing::warn!("cannot read the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_raised_to_at_least_what_it_was() {
        let mut before = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: see `raise_limit`.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut before) },
            0
        );
        let now = raise_limit().expect("readable");
        assert!(now >= before.rlim_cur);
        assert_eq!(now, before.rlim_max);
        assert_eq!(needed(500, 1024), 500 * 2 + 256 + 1024 + 256);
    }
}
