//! The sections of the file: broker, API, storage, streams, tables, notify channels, plugins
//! (`[firehose]` is in `firehose.rs`).

use super::*;

impl<'i> Ctx<'i> {
    pub(super) fn config(&mut self) -> Option<Config> {
        let root = KeyPath::root();
        self.unknown_top_level_keys(&root);
        let broker = self.section::<RawBroker>("broker").map(|b| self.broker(b));
        let api = self.section::<RawApi>("api").map(|a| self.api(a));
        let storage = self
            .section::<RawStorage>("storage")
            .map(|s| self.storage(s));
        let cluster = if find(self.doc.get_ref(), "cluster").is_some() {
            self.section::<RawCluster>("cluster")
                .map(|c| self.cluster(c))
        } else {
            Some(None)
        };
        let s3 = if find(self.doc.get_ref(), "s3").is_some() {
            self.section::<RawS3>("s3").map(|s| Some(self.s3(s)))
        } else {
            Some(None)
        };
        let sqs = self.service_endpoint("sqs");
        let sns = self.service_endpoint("sns");
        let dynamodb = self.service_endpoint("dynamodb");
        let streams = self.streams();
        let tables = self.tables();
        let notify = self.notify();
        let plugins = self.plugins(&tables, &notify);
        let firehose = self.firehose(&streams, &plugins);
        let rules = self.rules(&streams, &tables, &plugins);
        let mut broker = broker??;
        let storage = storage?;
        if let Broker::External(e) = &mut broker {
            if e.client_id.is_empty() {
                e.client_id = default_client_id(&host_name(), &storage.dir);
            }
        }
        Some(Config {
            file: self.file.clone(),
            broker,
            api: api?,
            storage,
            cluster: cluster?,
            firehose,
            s3: s3?,
            sqs: sqs?,
            sns: sns?,
            dynamodb: dynamodb?,
            streams: streams
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            tables: tables
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            plugins: plugins
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            notify: notify
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            rules: rules
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
        })
    }

    /// Reports every top-level key that is not a section Weir knows, with the list of those
    /// it does: a misspelt section would otherwise be ignored without a word.
    fn unknown_top_level_keys(&mut self, root: &KeyPath) {
        let unknown: Vec<String> = self
            .doc
            .get_ref()
            .iter()
            .map(|(k, _)| k.get_ref().to_string())
            .filter(|k| !TOP_LEVEL_KEYS.contains(&k.as_str()))
            .collect();
        for k in unknown {
            let expected = TOP_LEVEL_KEYS
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let path = root.key(&k);
            let span = self.key_span_of(&path);
            self.push(
                &path,
                span,
                format!("unknown key `{k}`"),
                Some(format!("one of {expected}")),
            );
        }
    }

    pub(super) fn broker(&mut self, b: RawBroker) -> Option<Broker> {
        let path = KeyPath::root().key("broker");
        if b.external.is_some() {
            self.embedded_keys_beside_external(&b, &path);
        }
        if let Some(ext) = b.external {
            return self
                .external(ext, &path.key("external"))
                .map(Broker::External);
        }
        let listen = self.listen(&path.key("listen"), b.listen.clone(), "127.0.0.1:1883");
        let listen_v5 = b
            .listen_v5
            .clone()
            .map(|l| self.listen(&path.key("listen_v5"), Some(l), ""));
        // Port 0 asks the system for a port, a different one for each listener.
        if listen_v5.as_deref() == Some(listen.as_str()) && !listen.ends_with(":0") {
            self.err(
                &path.key("listen_v5"),
                format!("{listen:?} is already the MQTT 3.1.1 listener's address"),
                Some("a different address (each listener speaks one protocol version)".to_owned()),
            );
        }
        let tls = b.tls.as_ref().map(|t| TlsFiles {
            cert_file: self.existing_file(&path.key("tls").key("cert_file"), &t.cert_file),
            key_file: self.existing_file(&path.key("tls").key("key_file"), &t.key_file),
        });
        let limits = self.broker_limits(&b, &path);
        Some(Broker::Embedded(EmbeddedBroker {
            listen,
            listen_v5,
            users: b.auth.map(|a| a.users).unwrap_or_default(),
            tls,
            limits,
        }))
    }

    /// `[broker.external]` replaces the embedded broker: any embedded broker key beside it
    /// would be silently ignored, so it is an error naming them all.
    fn embedded_keys_beside_external(&mut self, b: &RawBroker, path: &KeyPath) {
        let embedded: Vec<&str> = [
            ("listen", b.listen.is_some()),
            ("listen_v5", b.listen_v5.is_some()),
            ("auth", b.auth.is_some()),
            ("tls", b.tls.is_some()),
            ("max_connections", b.max_connections.is_some()),
            ("connect_timeout_ms", b.connect_timeout_ms.is_some()),
            ("max_packet_bytes", b.max_packet_bytes.is_some()),
            ("max_inflight", b.max_inflight.is_some()),
            ("max_publish_rate", b.max_publish_rate.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if !embedded.is_empty() {
            let first = path.key(embedded[0]);
            self.err(
                &first,
                format!(
                    "both an embedded broker ({}) and `broker.external` are configured",
                    embedded.join(", ")
                ),
                Some(
                    "either the embedded broker's keys or `[broker.external]`, not both".to_owned(),
                ),
            );
        }
    }

    /// The embedded broker's limits, each within the range rumqttd (or the host) can hold.
    fn broker_limits(&mut self, b: &RawBroker, path: &KeyPath) -> BrokerLimits {
        BrokerLimits {
            max_connections: self.ranged(
                &path.key("max_connections"),
                b.max_connections,
                10_000,
                1..1_000_001,
                "",
            ) as usize,
            connect_timeout: Duration::from_millis(self.ranged(
                &path.key("connect_timeout_ms"),
                b.connect_timeout_ms,
                10_000,
                // rumqttd holds it in a u16 of milliseconds.
                100..65_001,
                " ms",
            )),
            max_packet_bytes: self.ranged(
                &path.key("max_packet_bytes"),
                b.max_packet_bytes,
                1 << 20,
                1024..(256 << 20) + 1,
                " bytes",
            ) as usize,
            max_inflight: self.ranged(
                &path.key("max_inflight"),
                b.max_inflight,
                100,
                1..65_536,
                "",
            ) as usize,
            max_publish_rate: b.max_publish_rate.map(|r| {
                self.ranged(
                    &path.key("max_publish_rate"),
                    Some(r),
                    100,
                    1..1_000_001,
                    " publishes per second",
                ) as u32
            }),
        }
    }

    pub(super) fn external(&mut self, e: RawExternal, path: &KeyPath) -> Option<ExternalBroker> {
        let url_path = path.key("url");
        let (tls, rest) = if let Some(r) = e.url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = e.url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            self.err(
                &url_path,
                format!("{:?} is not an MQTT URL", e.url),
                Some("mqtt://HOST[:PORT] or mqtts://HOST[:PORT]".to_owned()),
            );
            return None;
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) => (h.to_owned(), p),
                Err(_) => {
                    self.err(
                        &url_path,
                        format!("{p:?} is not a port"),
                        Some("a port number 0..=65535".to_owned()),
                    );
                    return None;
                }
            },
            None => (rest.to_owned(), default_port),
        };
        if host.is_empty() || host.contains('/') {
            self.err(
                &url_path,
                format!("{:?} has no host, or has a path", e.url),
                Some("mqtt://HOST[:PORT]".to_owned()),
            );
        }
        let share_group = e.share_group.unwrap_or_else(|| "weir".to_owned());
        if share_group.is_empty() || share_group.contains(['/', '+', '#']) {
            self.err(
                &path.key("share_group"),
                format!("{share_group:?} is not a share group name"),
                Some("a non-empty name without `/`, `+` or `#`".to_owned()),
            );
        }
        let ca_file = e
            .ca_file
            .map(|f| self.existing_file(&path.key("ca_file"), &f));
        if e.client_id.as_deref() == Some("") {
            self.err(
                &path.key("client_id"),
                "an empty client id gets a new session on every connection, and Weir's persistent session is what brings unacknowledged messages back".to_owned(),
                Some("a non-empty client id, or none (a default unique to this host and storage folder)".to_owned()),
            );
        }
        Some(ExternalBroker {
            url: e.url,
            tls,
            host,
            port,
            // Empty until the storage folder is known: see `default_client_id`.
            client_id: e.client_id.unwrap_or_default(),
            share_group,
            username: e.username,
            password: e.password,
            ca_file,
        })
    }

    pub(super) fn api(&mut self, a: RawApi) -> ApiConfig {
        let path = KeyPath::root().key("api");
        // A guessable token would be no lock at all.
        if let Some(t) = &a.admin_token {
            if t.chars().count() < 16 {
                self.err(
                    &path.key("admin_token"),
                    format!("the token has {} characters", t.chars().count()),
                    Some("at least 16 characters".to_owned()),
                );
            }
        }
        ApiConfig {
            listen: self.listen(&path.key("listen"), a.listen, "127.0.0.1:4567"),
            verify_keys: a.verify_keys.unwrap_or_default(),
            admin_token: a.admin_token,
            max_connections: self.ranged(
                &path.key("max_connections"),
                a.max_connections,
                1024,
                1..65_537,
                "",
            ) as usize,
            header_timeout: Duration::from_millis(self.ranged(
                &path.key("header_timeout_ms"),
                a.header_timeout_ms,
                10_000,
                100..600_001,
                " ms",
            )),
            body_timeout: Duration::from_millis(self.ranged(
                &path.key("body_timeout_ms"),
                a.body_timeout_ms,
                30_000,
                100..600_001,
                " ms",
            )),
            // At least one largest body (16 MiB, PutRecords), or such a request could never
            // be served.
            body_budget_bytes: self.ranged(
                &path.key("body_budget_bytes"),
                a.body_budget_bytes,
                256 << 20,
                (16 << 20)..((1 << 40) + 1),
                " bytes",
            ),
        }
    }

    pub(super) fn storage(&mut self, s: RawStorage) -> StorageConfig {
        let path = KeyPath::root().key("storage");
        let dir = self.resolve(s.dir.as_deref().unwrap_or("weir-data"));
        let fsync = match s.fsync.unwrap_or(RawFsync::Always) {
            RawFsync::Always => FsyncPolicy::Always,
            RawFsync::Never => FsyncPolicy::Never,
            RawFsync::Interval => {
                let ms = self.ranged(
                    &path.key("fsync_interval_ms"),
                    s.fsync_interval_ms,
                    50,
                    1..60_001,
                    " ms",
                );
                FsyncPolicy::Interval(Duration::from_millis(ms))
            }
        };
        if s.fsync_interval_ms.is_some() && !matches!(fsync, FsyncPolicy::Interval(_)) {
            self.err(
                &path.key("fsync_interval_ms"),
                "only applies when `fsync = \"interval\"`",
                Some("no `fsync_interval_ms`, or `fsync = \"interval\"`".to_owned()),
            );
        }
        let max_streams = self.ranged(
            &path.key("max_streams"),
            s.max_streams,
            u64::from(weir_streams::DEFAULT_MAX_STREAMS),
            1..100_001,
            "",
        ) as u32;
        let max_shards = self.ranged(
            &path.key("max_shards"),
            s.max_shards,
            u64::from(weir_streams::DEFAULT_MAX_TOTAL_SHARDS),
            1..100_001,
            "",
        ) as u32;
        let transition_ms = self.ranged(
            &path.key("transition_ms"),
            s.transition_ms,
            weir_streams::DEFAULT_TRANSITION_MS,
            0..600_001,
            " ms",
        );
        let dead_letter_max_bytes = self.ranged(
            &path.key("dead_letter_max_bytes"),
            s.dead_letter_max_bytes,
            crate::DEFAULT_DEAD_LETTER_MAX_BYTES,
            // 0 stores none: every failure of a rule without an error action is sent again.
            0..(1 << 50) + 1,
            " bytes",
        );
        StorageConfig {
            dir,
            fsync,
            max_streams,
            max_shards,
            transition: Duration::from_millis(transition_ms),
            dead_letter_max_bytes,
        }
    }

    /// `[sqs]`, `[sns]` or `[dynamodb]` (`section`): an HTTP URL and a region name, both
    /// optional. Absent is the default (the environment's endpoint and region).
    pub(super) fn service_endpoint(&mut self, section: &str) -> Option<ServiceEndpoint> {
        if find(self.doc.get_ref(), section).is_none() {
            return Some(ServiceEndpoint::default());
        }
        let s = self.section::<RawServiceEndpoint>(section)?;
        let path = KeyPath::root().key(section);
        if let Some(url) = &s.endpoint_url {
            // The services' clients send `POST /` to the host: a path, query or user info
            // would be dropped or refused, so it is a mistake here.
            let host_only = ["http://", "https://"]
                .iter()
                .find_map(|p| url.strip_prefix(p))
                .is_some_and(|rest| {
                    let rest = rest.strip_suffix('/').unwrap_or(rest);
                    !rest.is_empty() && !rest.contains(['/', '?', '#', '@'])
                });
            if !host_only {
                self.err(
                    &path.key("endpoint_url"),
                    format!("{url:?} is not an http:// or https:// URL of a host (no path)"),
                    Some("an endpoint such as \"http://127.0.0.1:4566\"".to_owned()),
                );
            }
        }
        if let Some(r) = &s.region {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                self.err(
                    &path.key("region"),
                    format!("{r:?} is not a region name"),
                    Some("a region such as \"us-east-1\"".to_owned()),
                );
            }
        }
        Some(ServiceEndpoint {
            endpoint_url: s.endpoint_url,
            region: s.region,
        })
    }

    /// `[cluster]`: `None` once something in it was reported.
    pub(super) fn cluster(&mut self, c: RawCluster) -> Option<ClusterSection> {
        let path = KeyPath::root().key("cluster");
        let before = self.error_count();
        let nats = c.nats.unwrap_or_default();
        if nats.is_empty() {
            self.err(
                &path.key("nats"),
                "needs at least one NATS server URL",
                Some("nats = [\"nats://127.0.0.1:4222\"]".to_owned()),
            );
        }
        for (i, url) in nats.iter().enumerate() {
            if let Some(reason) = weir_support::nats_names::server_url_problem(url) {
                self.err(
                    &path.key("nats").index(i),
                    reason,
                    Some("nats://host:port".to_owned()),
                );
            }
        }
        // JetStream's limit: a Raft group has at most 5 peers.
        let replicas = self.ranged(
            &path.key("replicas"),
            c.replicas,
            crate::DEFAULT_CLUSTER_REPLICAS as u64,
            1..6,
            "",
        ) as usize;
        let prefix = c.prefix.unwrap_or_else(|| "weir".to_owned());
        // The Firehose buffers live under `<prefix>.fh`: that name must fit and be ours.
        if let Some(reason) = weir_support::nats_names::deployment_prefix_problem(&prefix) {
            self.err(
                &path.key("prefix"),
                reason,
                Some("e.g. \"weir\" or \"plant1.weir\"".to_owned()),
            );
        }
        let creds = c
            .creds
            .as_deref()
            .map(|f| self.existing_file(&path.key("creds"), f));
        let tls_path = path.key("tls");
        let tls = c.tls.is_some();
        let (tls_ca_file, tls_client) = match c.tls {
            None => (None, None),
            Some(t) => {
                let ca = t
                    .ca_file
                    .as_deref()
                    .map(|f| self.existing_file(&tls_path.key("ca_file"), f));
                let client = match (t.cert_file.as_deref(), t.key_file.as_deref()) {
                    (Some(cert), Some(key)) => Some((
                        self.existing_file(&tls_path.key("cert_file"), cert),
                        self.existing_file(&tls_path.key("key_file"), key),
                    )),
                    (None, None) => None,
                    (Some(_), None) | (None, Some(_)) => {
                        let missing = if t.cert_file.is_some() {
                            "key_file"
                        } else {
                            "cert_file"
                        };
                        self.err(
                            &tls_path.key(missing),
                            "`cert_file` and `key_file` go together (a client certificate needs its key)",
                            Some("both, or neither".to_owned()),
                        );
                        None
                    }
                };
                (ca, client)
            }
        };
        (self.error_count() == before).then_some(ClusterSection {
            nats,
            replicas,
            creds,
            tls_ca_file,
            tls_client,
            tls,
            prefix,
        })
    }

    pub(super) fn s3(&mut self, s: RawS3) -> S3Config {
        let path = KeyPath::root().key("s3");
        if let Some(url) = &s.endpoint_url {
            if !is_http_url(url) {
                self.err(
                    &path.key("endpoint_url"),
                    format!("{url:?} is not an http:// or https:// URL"),
                    Some("an endpoint such as \"http://127.0.0.1:9000\"".to_owned()),
                );
            }
        }
        if s.access_key_id.is_some() != s.secret_access_key.is_some() {
            let missing = if s.access_key_id.is_some() {
                "secret_access_key"
            } else {
                "access_key_id"
            };
            self.err(
                &path.key(missing),
                "`access_key_id` and `secret_access_key` go together",
                Some("both keys, or neither (the AWS_* environment variables)".to_owned()),
            );
        }
        for (key, v) in [("region", &s.region), ("access_key_id", &s.access_key_id)] {
            if v.as_deref().is_some_and(str::is_empty) {
                self.err(&path.key(key), "must not be empty", None);
            }
        }
        S3Config {
            endpoint_url: s.endpoint_url,
            region: s.region,
            access_key_id: s.access_key_id,
            secret_access_key: s.secret_access_key,
        }
    }

    pub(super) fn streams(&mut self) -> BTreeMap<String, Option<StreamConfig>> {
        let path = KeyPath::root().key("streams");
        let raw = self.entries::<RawStream>("streams");
        raw.into_iter()
            .map(|(name, s)| {
                let p = path.key(&name);
                let name_ok = (1..=128).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !name_ok {
                    self.err(
                        &p,
                        format!("{name:?} is not a valid stream name"),
                        Some("1-128 characters of a-z, A-Z, 0-9, `_`, `.`, `-`".to_owned()),
                    );
                }
                let s = s.map(|s| StreamConfig {
                    shards: self.ranged(&p.key("shards"), s.shards, 1, 1..501, "") as u32,
                    retention_hours: self.ranged(
                        &p.key("retention_hours"),
                        s.retention_hours,
                        24,
                        24..8761,
                        " hours",
                    ) as u32,
                });
                (name, s)
            })
            .collect()
    }

    pub(super) fn tables(&mut self) -> BTreeMap<String, Option<TableConfig>> {
        let path = KeyPath::root().key("tables");
        let raw = self.entries::<RawTable>("tables");
        raw.into_iter()
            .map(|(name, t)| {
                let p = path.key(&name);
                let t = t.map(|t| {
                    let file = t.file.map(|f| self.existing_file(&p.key("file"), &f));
                    if let Some(file) = file.as_deref().filter(|f| f.is_file()) {
                        self.check_key_column(&p, file, &t.key);
                    }
                    TableConfig { file, key: t.key }
                });
                (name, t)
            })
            .collect()
    }

    /// The table's CSV header must have the key column; only the header is read, the host
    /// loads the rows.
    pub(super) fn check_key_column(&mut self, path: &KeyPath, file: &Path, key: &str) {
        let header = csv::Reader::from_path(file).and_then(|mut r| r.headers().cloned());
        match header {
            Ok(h) if h.iter().any(|c| c == key) => {}
            Ok(h) => {
                let cols: Vec<String> = h.iter().map(str::to_owned).collect();
                self.err(
                    &path.key("key"),
                    format!(
                        "column {key:?} is not in the header (line 1) of {}",
                        file.display()
                    ),
                    Some(one_of(&cols)),
                );
            }
            Err(e) => self.err(
                &path.key("file"),
                format!("cannot read the CSV header of {}: {e}", file.display()),
                None,
            ),
        }
    }

    pub(super) fn notify(&mut self) -> BTreeMap<String, Option<NotifyChannel>> {
        let path = KeyPath::root().key("notify");
        let raw = self.entries::<RawNotify>("notify");
        raw.into_iter()
            .map(|(name, n)| {
                let p = path.key(&name);
                let n = n.and_then(|n| match (n.kind, n.path) {
                    (RawNotifyKind::Console, None) => Some(NotifyChannel::Console),
                    (RawNotifyKind::Console, Some(_)) => {
                        self.err(
                            &p.key("path"),
                            "a console channel has no `path`",
                            Some("no `path`, or `kind = \"file\"`".to_owned()),
                        );
                        None
                    }
                    (RawNotifyKind::File, Some(f)) => Some(NotifyChannel::File {
                        path: self.resolve(&f),
                    }),
                    (RawNotifyKind::File, None) => {
                        self.err(
                            &p,
                            "missing key `path`",
                            Some("`path` for `kind = \"file\"`".to_owned()),
                        );
                        None
                    }
                });
                (name, n)
            })
            .collect()
    }

    pub(super) fn plugins(
        &mut self,
        tables: &BTreeMap<String, Option<TableConfig>>,
        notify: &BTreeMap<String, Option<NotifyChannel>>,
    ) -> BTreeMap<String, Option<PluginConfig>> {
        let path = KeyPath::root().key("plugins");
        let raw = self.entries::<RawPlugin>("plugins");
        raw.into_iter()
            .map(|(name, pl)| {
                let p = path.key(&name);
                let pl = pl.map(|pl| self.plugin(&name, &p, pl, tables, notify));
                (name, pl.flatten())
            })
            .collect()
    }

    pub(super) fn plugin(
        &mut self,
        name: &str,
        p: &KeyPath,
        pl: RawPlugin,
        tables: &BTreeMap<String, Option<TableConfig>>,
        notify: &BTreeMap<String, Option<NotifyChannel>>,
    ) -> Option<PluginConfig> {
        let grants = self.plugin_grants(p, &pl.grants);
        let params = self.plugin_params(p, pl.params);
        let mut ok = grants.is_some() && params.is_some();
        let memory_bytes = self.ranged(
            &p.key("memory_bytes"),
            pl.memory_bytes,
            DEFAULT_MEMORY_BYTES as u64,
            MIB..4096 * MIB + 1,
            " bytes",
        );
        let timeout_ms = self.ranged(
            &p.key("timeout_ms"),
            pl.timeout_ms,
            DEFAULT_CALL_TIMEOUT.as_millis() as u64,
            1..600_001,
            " ms",
        );
        ok &= self.declared(&p.key("tables"), pl.tables.as_deref(), tables, "table");
        ok &= self.declared(
            &p.key("channels"),
            pl.channels.as_deref(),
            notify,
            "notify channel",
        );
        let spec = PluginSpec {
            name: name.to_owned(),
            grants: grants.unwrap_or_default(),
            params: params.unwrap_or_default(),
            memory_bytes: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
            call_timeout: Duration::from_millis(timeout_ms),
            tables: pl.tables,
            channels: pl.channels,
        };
        ok.then(|| PluginConfig {
            path: self.resolve(&pl.path),
            spec,
        })
    }

    /// A plugin's `grants`, by name; `None` once one is unknown (each unknown one reported,
    /// with the names there are).
    fn plugin_grants(&mut self, p: &KeyPath, names: &[String]) -> Option<Vec<Grant>> {
        let mut ok = true;
        let mut grants = Vec::new();
        for (i, g) in names.iter().enumerate() {
            match Grant::from_str(g) {
                Ok(g) => grants.push(g),
                Err(_) => {
                    let names: Vec<String> =
                        Grant::ALL.iter().map(|g| g.name().to_owned()).collect();
                    self.err(
                        &p.key("grants").index(i),
                        format!("unknown grant {g:?}"),
                        Some(one_of(&names)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(grants)
    }

    /// A plugin's `params` as the strings a plugin reads (numbers and booleans written out);
    /// `None` once one is a table, array or date (each reported).
    fn plugin_params(
        &mut self,
        p: &KeyPath,
        raw: BTreeMap<String, toml::Value>,
    ) -> Option<BTreeMap<String, String>> {
        let mut ok = true;
        let mut params = BTreeMap::new();
        for (k, v) in raw {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    self.err(
                        &p.key("params").key(&k),
                        format!("a parameter cannot be {}", other.type_str()),
                        Some("a string, number or boolean".to_owned()),
                    );
                    ok = false;
                    continue;
                }
            };
            params.insert(k, s);
        }
        ok.then_some(params)
    }

    /// Each name in `names` must be a key of `declared`; reports each that is not.
    pub(super) fn declared<T>(
        &mut self,
        path: &KeyPath,
        names: Option<&[String]>,
        declared: &BTreeMap<String, T>,
        what: &str,
    ) -> bool {
        let mut ok = true;
        for (i, n) in names.unwrap_or_default().iter().enumerate() {
            ok &= self.declared_one(&path.index(i), n, declared, what);
        }
        ok
    }

    pub(super) fn declared_one<T>(
        &mut self,
        path: &KeyPath,
        name: &str,
        declared: &BTreeMap<String, T>,
        what: &str,
    ) -> bool {
        if declared.contains_key(name) {
            return true;
        }
        self.err(
            path,
            format!("{what} {name:?} is not declared"),
            Some(one_of(declared.keys())),
        );
        false
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`), or `""`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The external broker's client id when none is configured: `weir-` and a stable hash of the
/// host name and the storage folder, then the host name's start, at most 23 characters (the
/// length every MQTT server must accept). Two hosts left on the default never share a session
/// (the broker would disconnect one for the other and split their messages), and one host
/// keeps its session across restarts, which is what brings unacknowledged messages back.
pub(crate) fn default_client_id(host: &str, storage_dir: &std::path::Path) -> String {
    // FNV-1a: stable across Rust versions, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host
        .as_bytes()
        .iter()
        .chain(&[0])
        .chain(storage_dir.as_os_str().as_encoded_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let readable: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(9)
        .collect();
    let mut id = format!("weir-{:08x}", (h >> 32) as u32 ^ h as u32);
    if !readable.is_empty() {
        id.push('-');
        id.push_str(&readable);
    }
    id
}

/// `http://` or `https://` followed by something.
pub(super) fn is_http_url(url: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|p| url.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}
