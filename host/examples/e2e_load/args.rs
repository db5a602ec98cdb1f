//! The command line.

pub(super) struct Args {
    pub(super) seconds: u64,
    pub(super) connections: usize,
    /// `[storage] fsync` of Weir's runs: the first is the one the targets of issue 5 judge,
    /// the others run next to it (at the same half rate) for comparison.
    pub(super) fsync: Vec<String>,
    /// The action's `buffer.max_age_ms`: how long a record may wait to share a put. Every
    /// record can wait this long by the user's choice, so it is a floor under the latency;
    /// 0 delivers each micro-batch as it comes, as AWS IoT's kinesis action does.
    pub(super) buffer_age_ms: u64,
    /// Also run Weir with a `[cluster]` section on a 3-node nats-server cluster the bench
    /// starts (R3, `sync_interval: always`): an extra Weir variant named `cluster` after the
    /// fsync policies, compared with the first of them.
    pub(super) cluster: bool,
}

pub(super) fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 5,
        connections: 8,
        fsync: vec!["always".into(), "interval".into()],
        buffer_age_ms: 5,
        cluster: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .and_then(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{name}: expected a positive integer, got {v:?}"))
                })
        };
        match a.as_str() {
            "--seconds" => args.seconds = value("--seconds")?,
            "--connections" => {
                args.connections = usize::try_from(value("--connections")?)
                    .map_err(|e| format!("--connections: {e}"))?;
            }
            "--buffer-age-ms" => {
                let v = it.next().ok_or("--buffer-age-ms needs a value")?;
                args.buffer_age_ms = v
                    .parse()
                    .map_err(|_| format!("--buffer-age-ms: expected an integer, got {v:?}"))?;
            }
            "--fsync" => {
                let v = it.next().ok_or("--fsync needs a value")?;
                args.fsync = v.split(',').map(str::to_owned).collect();
                if args
                    .fsync
                    .iter()
                    .any(|p| !["always", "interval", "never"].contains(&p.as_str()))
                {
                    return Err(format!(
                        "--fsync: always|interval|never, comma-separated, got {v:?}"
                    ));
                }
            }
            "--cluster" => args.cluster = true,
            "-h" | "--help" => {
                println!("usage: e2e_load [--seconds N (5)] [--connections C (8)] [--fsync always,interval] [--buffer-age-ms MS (5)] [--cluster]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.cluster {
        // The cluster variant runs after the local policies; the first of those stays the one
        // the targets judge.
        args.fsync.retain(|p| p != CLUSTER);
        args.fsync.push(CLUSTER.into());
    }
    Ok(args)
}

/// The name of the Weir variant on the NATS cluster, in the list of fsync policies.
pub(super) const CLUSTER: &str = "cluster";
