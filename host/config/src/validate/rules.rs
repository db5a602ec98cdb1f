//! Rules and their actions: SQL, templates, and what each action kind may name.

use super::*;

impl<'i> Ctx<'i> {
    pub(super) fn rules(
        &mut self,
        streams: &BTreeMap<String, Option<StreamConfig>>,
        tables: &BTreeMap<String, Option<TableConfig>>,
        plugins: &BTreeMap<String, Option<PluginConfig>>,
    ) -> BTreeMap<String, Option<RuleConfig>> {
        let path = KeyPath::root().key("rules");
        let raw = self.entries::<RawRule>("rules");
        let refs = Refs {
            streams,
            tables,
            plugins,
        };
        raw.into_iter()
            .map(|(name, r)| {
                let p = path.key(&name);
                let r = r.and_then(|r| self.rule(&p, r, &refs));
                (name, r)
            })
            .collect()
    }

    pub(super) fn rule(&mut self, p: &KeyPath, r: RawRule, refs: &Refs<'_>) -> Option<RuleConfig> {
        let rule = match weir_rules::Rule::compile(&r.sql) {
            Ok(rule) => Some(rule),
            Err(diags) => {
                for d in &diags {
                    self.diag(&p.key("sql"), "SQL", d);
                }
                None
            }
        };
        let mut actions = Vec::new();
        let mut ok = true;
        for (i, a) in r.actions.into_iter().enumerate() {
            match self.action(&p.key("actions").index(i), a, refs) {
                Some(a) => actions.push(a),
                None => ok = false,
            }
        }
        let error_action = match r.error_action {
            None => None,
            Some(a) => {
                let a = self.action(&p.key("error_action"), a, refs);
                ok &= a.is_some();
                a
            }
        };
        let rule = rule?;
        ok.then_some(RuleConfig {
            rule,
            description: r.description,
            enabled: r.enabled.unwrap_or(true),
            actions,
            error_action,
        })
    }

    pub(super) fn template(&mut self, path: &KeyPath, text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => Some(t),
            Err(diags) => {
                for d in &diags {
                    self.diag(path, "template", d);
                }
                None
            }
        }
    }

    /// A required per-kind key.
    pub(super) fn required(
        &mut self,
        path: &KeyPath,
        kind: RawActionKind,
        key: &str,
        value: Option<String>,
    ) -> Option<String> {
        if value.is_none() {
            self.err(
                path,
                format!("a `{}` action needs `{key}`", kind.name()),
                Some(format!("`{key}`")),
            );
        }
        value
    }

    /// One rule action. Every mistake is reported, not just the first: the keys of other
    /// kinds, undeclared plugins, the buffer, then the kind's own keys (one function per kind
    /// below); the action is `None` if any was found.
    pub(super) fn action(
        &mut self,
        p: &KeyPath,
        mut a: RawAction,
        refs: &Refs<'_>,
    ) -> Option<ActionConfig> {
        use RawActionKind as K;
        let mut ok = self.keys_of_its_kind(p, &a);
        ok &= self.pipeline_plugins(p, &a, refs);
        let buffer = self.buffer(p, a.buffer.take());
        let transformers = std::mem::take(&mut a.transformers);
        let filters = std::mem::take(&mut a.filters);
        let kind = match a.kind {
            K::Kinesis => self.kinesis_action(p, a, refs, &mut ok),
            K::Firehose => self.firehose_action(p, a, &mut ok),
            K::Republish => self.republish_action(p, a),
            K::Table => self.table_action(p, a, refs, &mut ok),
            K::Plugin => self.plugin_action(p, a, refs, &mut ok),
            K::Sqs => self.sqs_action(p, a, &mut ok),
            K::Sns => self.sns_action(p, a, &mut ok),
            K::DynamoDbV2 => self.dynamodb_action(p, a, &mut ok),
            K::S3 => self.s3_action(p, a, &mut ok),
            K::Http => self.http_action(p, a, &mut ok),
            K::Lambda => self.lambda_action(p, a, &mut ok),
        };
        let kind = kind?;
        ok.then_some(ActionConfig {
            kind,
            transformers,
            filters,
            buffer,
        })
    }

    /// Keys that belong to other kinds are mistakes, not settings to ignore: each is named
    /// with the kind it belongs to.
    fn keys_of_its_kind(&mut self, p: &KeyPath, a: &RawAction) -> bool {
        use RawActionKind as K;
        let kind = a.kind;
        let mut ok = true;
        for key in a.set_keys() {
            if !kind.keys().contains(&key) {
                let owner = K::owning(key).map_or("another kind", K::name);
                self.err(
                    &p.key(key),
                    format!("`{key}` is not a key of a `{}` action", kind.name()),
                    Some(format!("a key of `kind = \"{owner}\"`")),
                );
                ok = false;
            }
        }
        ok
    }

    /// The transformer and filter plugins, which any kind may have, must be declared.
    fn pipeline_plugins(&mut self, p: &KeyPath, a: &RawAction, refs: &Refs<'_>) -> bool {
        let mut ok = true;
        for (i, t) in a.transformers.iter().enumerate() {
            ok &= self.declared_one(&p.key("transformers").index(i), t, refs.plugins, "plugin");
        }
        for (i, f) in a.filters.iter().enumerate() {
            ok &= self.declared_one(&p.key("filters").index(i), f, refs.plugins, "plugin");
        }
        ok
    }

    /// The action's `buffer`, each bound within its range (an out-of-range value is reported
    /// and replaced by the default, so the other checks still run).
    fn buffer(&mut self, p: &KeyPath, buffer: Option<RawBuffer>) -> BufferConfig {
        match buffer {
            None => BufferConfig::default(),
            Some(b) => {
                let bp = p.key("buffer");
                let d = BufferConfig::default();
                BufferConfig {
                    max_records: self.ranged(
                        &bp.key("max_records"),
                        b.max_records,
                        d.max_records,
                        1..100_001,
                        "",
                    ),
                    max_bytes: self.ranged(
                        &bp.key("max_bytes"),
                        b.max_bytes,
                        d.max_bytes,
                        1..128 * MIB + 1,
                        " bytes",
                    ),
                    max_age: Duration::from_millis(self.ranged(
                        &bp.key("max_age_ms"),
                        b.max_age_ms,
                        d.max_age.as_millis() as u64,
                        0..900_001,
                        " ms",
                    )),
                }
            }
        }
    }

    /// `kind = "kinesis"`: a declared stream (or any stream of a remote endpoint) and a
    /// partition key template.
    fn kinesis_action(
        &mut self,
        p: &KeyPath,
        a: RawAction,
        refs: &Refs<'_>,
        ok: &mut bool,
    ) -> Option<ActionKind> {
        let kind = a.kind;
        let stream = self.required(p, kind, "stream", a.stream);
        let pk = self.required(p, kind, "partition_key", a.partition_key);
        // A remote endpoint's streams are not ours to check.
        if let (Some(s), None) = (&stream, &a.endpoint) {
            *ok &= self.declared_one(&p.key("stream"), s, refs.streams, "stream");
        }
        if let Some(e) = &a.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                self.err(
                    &p.key("endpoint"),
                    format!("{e:?} is not an HTTP URL"),
                    Some("http://HOST[:PORT] or https://...".to_owned()),
                );
                *ok = false;
            }
        }
        let pk = pk.and_then(|pk| self.template(&p.key("partition_key"), &pk));
        match (stream, pk) {
            (Some(stream), Some(partition_key)) => Some(ActionKind::Kinesis(KinesisAction {
                stream,
                partition_key,
                endpoint: a.endpoint,
            })),
            _ => None,
        }
    }

    /// `kind = "firehose"`: a folder (`root`, prefixes, buffering hints) or a declared
    /// delivery stream, whose own settings then apply.
    fn firehose_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let kind = a.kind;
        if let Some(ds) = &a.delivery_stream {
            *ok &= self.delivery_stream_alone(p, ds, &a);
        }
        let root = match &a.delivery_stream {
            Some(_) => Some(PathBuf::new()),
            None => self
                .required(p, kind, "root", a.root)
                .map(|r| self.resolve(&r)),
        };
        // Already refused with a delivery stream; not checked twice.
        let direct = a.delivery_stream.is_none();
        // Firehose's buffering hints, in the action's units.
        let hints = weir_firehose_model::BUFFERING;
        let buffer_bytes = self.ranged(
            &p.key("buffer_bytes"),
            a.buffer_bytes.filter(|_| direct),
            u64::from(hints.default.size_mib) * MIB,
            1..weir_firehose_model::MAX_ACTION_BUFFER_BYTES + 1,
            " bytes",
        );
        let interval = self.ranged(
            &p.key("buffer_interval_ms"),
            a.buffer_interval_ms.filter(|_| direct),
            u64::from(hints.default.interval_s) * 1000,
            0..weir_firehose_model::MAX_ACTION_BUFFER_INTERVAL_MS + 1,
            " ms",
        );
        root.map(|root| {
            ActionKind::Firehose(FirehoseAction {
                root,
                prefix: a.prefix.filter(|_| direct).unwrap_or_default(),
                error_prefix: a
                    .error_prefix
                    .filter(|_| direct)
                    .unwrap_or_else(|| "errors/!{firehose:error-output-type}/".to_owned()),
                buffer_bytes,
                buffer_interval: Duration::from_millis(interval),
                delivery_stream: a.delivery_stream,
            })
        })
    }

    /// A firehose action into delivery stream `ds`: a valid name, and none of the folder
    /// mode's keys (the delivery stream has its own prefixes and buffering).
    fn delivery_stream_alone(&mut self, p: &KeyPath, ds: &str, a: &RawAction) -> bool {
        let mut ok = true;
        if !firehose::is_delivery_stream_name(ds) {
            self.err(
                &p.key("delivery_stream"),
                format!("{ds:?} is not a valid delivery stream name"),
                Some(firehose::DELIVERY_STREAM_NAME.to_owned()),
            );
            ok = false;
        }
        for (key, set) in [
            ("root", a.root.is_some()),
            ("prefix", a.prefix.is_some()),
            ("error_prefix", a.error_prefix.is_some()),
            ("buffer_bytes", a.buffer_bytes.is_some()),
            ("buffer_interval_ms", a.buffer_interval_ms.is_some()),
        ] {
            if set {
                self.err(
                    &p.key(key),
                    format!(
                        "`{key}` does not apply with `delivery_stream` (the delivery stream's own settings apply)"
                    ),
                    Some(format!("no `{key}`, or no `delivery_stream`")),
                );
                ok = false;
            }
        }
        ok
    }

    /// `kind = "republish"`: a topic template and a QoS of 0 or 1.
    fn republish_action(&mut self, p: &KeyPath, a: RawAction) -> Option<ActionKind> {
        let kind = a.kind;
        let qos = self.ranged(&p.key("qos"), a.qos, 0, 0..2, "");
        let topic = self.required(p, kind, "topic", a.topic);
        let topic = topic.and_then(|t| self.template(&p.key("topic"), &t));
        topic.map(|topic| {
            ActionKind::Republish(RepublishAction {
                topic,
                qos: qos as u8,
            })
        })
    }

    /// `kind = "table"`: a declared table and a key template.
    fn table_action(
        &mut self,
        p: &KeyPath,
        a: RawAction,
        refs: &Refs<'_>,
        ok: &mut bool,
    ) -> Option<ActionKind> {
        let kind = a.kind;
        let table = self.required(p, kind, "table", a.table);
        let key = self.required(p, kind, "key", a.key);
        if let Some(t) = &table {
            *ok &= self.declared_one(&p.key("table"), t, refs.tables, "table");
        }
        let key = key.and_then(|k| self.template(&p.key("key"), &k));
        match (table, key) {
            (Some(table), Some(key)) => Some(ActionKind::Table(TableAction { table, key })),
            _ => None,
        }
    }

    /// `kind = "plugin"`: a declared emitter plugin.
    fn plugin_action(
        &mut self,
        p: &KeyPath,
        a: RawAction,
        refs: &Refs<'_>,
        ok: &mut bool,
    ) -> Option<ActionKind> {
        let kind = a.kind;
        let emitter = self.required(p, kind, "emitter", a.emitter);
        if let Some(e) = &emitter {
            *ok &= self.declared_one(&p.key("emitter"), e, refs.plugins, "plugin");
        }
        emitter.map(|emitter| ActionKind::Plugin(PluginAction { emitter }))
    }
}

/// S3's canned ACLs (`x-amz-acl`), as the S3 API Reference lists them.
const CANNED_ACLS: [&str; 8] = [
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

impl<'i> Ctx<'i> {
    /// A required key that is a substitution template; when it has no substitution, `check`
    /// says what is wrong with its text, if anything (`expected` is the hint).
    fn target_template(
        &mut self,
        p: &KeyPath,
        kind: RawActionKind,
        key: &str,
        value: Option<String>,
        check: impl Fn(&str) -> Option<String>,
        expected: &str,
    ) -> Option<Template> {
        let value = self.required(p, kind, key, value)?;
        let t = self.template(&p.key(key), &value)?;
        if t.is_static() {
            if let Some(message) = check(&value) {
                self.err(&p.key(key), message, Some(expected.to_owned()));
                return None;
            }
        }
        Some(t)
    }

    /// `kind = "sqs"`: a queue URL (template) and `use_base64`.
    fn sqs_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let url = self.target_template(
            p,
            a.kind,
            "queue_url",
            a.queue_url,
            |u| {
                (!sections::is_http_url(u))
                    .then(|| format!("{u:?} is not an http:// or https:// queue URL"))
            },
            "a queue URL such as \"https://sqs.us-east-1.amazonaws.com/123456789012/queue\"",
        );
        *ok &= url.is_some();
        Some(ActionKind::Sqs(SqsAction {
            queue_url: url?,
            use_base64: a.use_base64.unwrap_or(false),
        }))
    }

    /// `kind = "sns"`: a target ARN (template) and `message_format` `RAW` or `JSON`.
    fn sns_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let arn = self.target_template(
            p,
            a.kind,
            "target_arn",
            a.target_arn,
            |t| (!t.starts_with("arn:")).then(|| format!("{t:?} is not an ARN")),
            "an SNS ARN such as \"arn:aws:sns:us-east-1:123456789012:alerts\"",
        );
        let format = match a.message_format.as_deref() {
            None | Some("RAW") => Some(SnsMessageFormat::Raw),
            Some("JSON") => Some(SnsMessageFormat::Json),
            Some(other) => {
                self.err(
                    &p.key("message_format"),
                    format!("{other:?} is not a message format"),
                    Some("`RAW` or `JSON`".to_owned()),
                );
                None
            }
        };
        *ok &= arn.is_some() && format.is_some();
        Some(ActionKind::Sns(SnsAction {
            target_arn: arn?,
            message_format: format?,
        }))
    }

    /// `kind = "dynamodbv2"`: a table name (template) DynamoDB accepts.
    fn dynamodb_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let table = self.target_template(
            p,
            a.kind,
            "table_name",
            a.table_name,
            |t| {
                let good = (3..=255).contains(&t.len())
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
                (!good).then(|| format!("{t:?} is not a DynamoDB table name"))
            },
            "3 to 255 characters of [a-zA-Z0-9_.-]",
        );
        *ok &= table.is_some();
        Some(ActionKind::DynamoDbV2(DynamoDbV2Action {
            table_name: table?,
        }))
    }

    /// `kind = "s3"`: a bucket and an object key (templates) and an optional canned ACL.
    fn s3_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let bucket = self.target_template(
            p,
            a.kind,
            "bucket",
            a.bucket,
            |b| {
                let good = (3..=63).contains(&b.len())
                    && b.bytes().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-')
                    });
                (!good).then(|| format!("{b:?} is not an S3 bucket name"))
            },
            "3 to 63 characters of [a-z0-9.-]",
        );
        let key = self.target_template(
            p,
            a.kind,
            "object_key",
            a.object_key,
            |k| {
                (k.is_empty() || k.len() > 1024).then(|| "an S3 key is 1 to 1,024 bytes".to_owned())
            },
            "an object key such as \"${topic()}/${timestamp()}\"",
        );
        if let Some(acl) = &a.canned_acl {
            if !CANNED_ACLS.contains(&acl.as_str()) {
                let list: Vec<String> = CANNED_ACLS.iter().map(|a| format!("`{a}`")).collect();
                self.err(
                    &p.key("canned_acl"),
                    format!("{acl:?} is not an S3 canned ACL"),
                    Some(format!("one of {}", list.join(", "))),
                );
                *ok = false;
            }
        }
        *ok &= bucket.is_some() && key.is_some();
        Some(ActionKind::S3(S3Action {
            bucket: bucket?,
            key: key?,
            canned_acl: a.canned_acl,
        }))
    }

    /// `kind = "http"`: a URL (template), headers whose values are templates, and AWS's
    /// `confirmation_url`, which must be a prefix of the URL.
    fn http_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let url = self.target_template(
            p,
            a.kind,
            "url",
            a.url,
            |u| {
                (!sections::is_http_url(u))
                    .then(|| format!("{u:?} is not an http:// or https:// URL"))
            },
            "a URL such as \"https://example.com/ingest\"",
        );
        let mut headers = Vec::new();
        for (name, value) in a.headers.unwrap_or_default() {
            let hp = p.key("headers").key(&name);
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                self.err(
                    &hp,
                    format!("{name:?} is not an HTTP header name"),
                    Some("letters, digits and !#$%&'*+-.^_`|~".to_owned()),
                );
                *ok = false;
                continue;
            }
            match self.template(&hp, &value) {
                Some(t) => headers.push((name, t)),
                None => *ok = false,
            }
        }
        if let (Some(c), Some(u)) = (&a.confirmation_url, &url) {
            if !u.source().starts_with(c.as_str()) {
                self.err(
                    &p.key("confirmation_url"),
                    format!("{c:?} is not a prefix of the url {:?}", u.source()),
                    Some("the start of `url`, as AWS requires".to_owned()),
                );
                *ok = false;
            }
        }
        *ok &= url.is_some();
        Some(ActionKind::Http(HttpAction {
            url: url?,
            headers,
            confirmation_url: a.confirmation_url,
        }))
    }

    /// `kind = "lambda"`: a function ARN (template) whose function name is an emitter plugin.
    /// The plugin is looked up when a record is delivered, not here: like AWS, a rule may name
    /// a function that does not exist yet, and its records then go to the error action.
    fn lambda_action(&mut self, p: &KeyPath, a: RawAction, ok: &mut bool) -> Option<ActionKind> {
        let arn = self.target_template(
            p,
            a.kind,
            "function_arn",
            a.function_arn,
            |f| {
                crate::lambda_function_name(f)
                    .is_none()
                    .then(|| format!("{f:?} is not a Lambda function ARN or name"))
            },
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or NAME",
        );
        *ok &= arn.is_some();
        Some(ActionKind::Lambda(LambdaAction { function_arn: arn? }))
    }
}

/// What actions may refer to.
pub(super) struct Refs<'a> {
    pub(super) streams: &'a BTreeMap<String, Option<StreamConfig>>,
    pub(super) tables: &'a BTreeMap<String, Option<TableConfig>>,
    pub(super) plugins: &'a BTreeMap<String, Option<PluginConfig>>,
}
