//! Rules and their actions: references to streams, plugins, tables and channels, SQL and
//! template errors pointing into the file, action keys and action identities.

use super::*;

#[test]
fn config_undeclared_stream() {
    let text = format!("{BASE}\n[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alarms\"\npartition_key = \"${{licensePlate}}\"\n");
    assert_eq!(
        one_error(&text),
        format!("{F}:18:10: `rules.fast.actions[0].stream`: stream \"alarms\" is not declared (expected one of `alerts`)")
    );
}

#[test]
fn config_undeclared_plugin_and_table() {
    let text = format!("{BASE}\n[[rules.fast.actions]]\nkind = \"table\"\ntable = \"cars\"\nkey = \"${{licensePlate}}\"\ntransformers = [\"enrich\", \"enrichh\"]\n");
    assert_eq!(
        errors(&text),
        [
            format!("{F}:18:9: `rules.fast.actions[0].table`: table \"cars\" is not declared (expected one of `drivers`)"),
            format!("{F}:20:27: `rules.fast.actions[0].transformers[1]`: plugin \"enrichh\" is not declared (expected one of `enrich`)"),
        ]
    );
}

#[test]
fn config_bad_grant() {
    let text = BASE.replace("\"lookup\"]", "\"lookups\"]");
    assert_eq!(
        one_error(&text),
        format!("{F}:10:21: `plugins.enrich.grants[1]`: unknown grant \"lookups\" (expected one of `log`, `config`, `lookup`, `outbox`, `wasi:clocks`, `wasi:filesystem`, `wasi:sockets`)")
    );
}

#[test]
fn config_bad_sql_points_into_the_file() {
    let text = BASE.replace("WHERE speed > 75", "WHERE speed >");
    let err = one_error(&text);
    assert!(err.starts_with(&format!("{F}:14:")), "{err}");
    assert!(err.contains("`rules.fast.sql`: SQL: "), "{err}");
}

#[test]
fn config_bad_sql_in_multiline_string_has_its_line() {
    let text = BASE.replace(
        "sql = \"SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75\"",
        "sql = \"\"\"\nSELECT *\nFROM 'rtr/iot/trafficdata'\nWHERE nosuchfunction(speed) > 75\n\"\"\"",
    );
    let err = one_error(&text);
    assert!(
        err.starts_with(&format!("{F}:17:7: `rules.fast.sql`: SQL: ")),
        "{err}"
    );
}

#[test]
fn config_bad_template() {
    let text = format!(
        "{BASE}\n[[rules.fast.actions]]\nkind = \"republish\"\ntopic = \"cars/${{licensePlate\"\n"
    );
    assert_eq!(
        one_error(&text),
        format!("{F}:18:15: `rules.fast.actions[0].topic`: template: unclosed ${{ in template (line 1, column 6 of the template)")
    );
}

#[test]
fn config_key_column_must_be_in_header() {
    let text = BASE.replace("key = \"licensePlate\"", "key = \"plate\"");
    let err = one_error(&text);
    assert!(
        err.starts_with(&format!(
            "{F}:6:7: `tables.drivers.key`: column \"plate\" is not in the header (line 1) of "
        )),
        "{err}"
    );
    assert!(err.contains("`licensePlate`"), "{err}");
}

#[test]
fn config_keys_of_another_action_kind() {
    let text = format!(
        "{BASE}\n[rules.fast.error_action]\nkind = \"plugin\"\nemitter = \"enrich\"\nqos = 1\n"
    );
    assert_eq!(
        one_error(&text),
        format!("{F}:19:7: `rules.fast.error_action.qos`: `qos` is not a key of a `plugin` action (expected a key of `kind = \"republish\"`)")
    );
}

#[test]
fn config_params_reject_tables() {
    let text = BASE.replace(
        "tables = [\"drivers\"]",
        "tables = [\"drivers\"]\nparams = { n = 1, b = true, t = { x = 1 } }",
    );
    let err = one_error(&text);
    assert_eq!(err, format!("{F}:12:33: `plugins.enrich.params.t`: a parameter cannot be table (expected a string, number or boolean)"));
}

#[test]
fn config_undeclared_channel_and_bad_notify() {
    let text = BASE.replace(
        "tables = [\"drivers\"]",
        "tables = [\"drivers\"]\nchannels = [\"sms\"]",
    ) + "\n[notify.mail]\nkind = \"file\"\n";
    assert_eq!(
        errors(&text),
        [
            format!("{F}:12:13: `plugins.enrich.channels[0]`: notify channel \"sms\" is not declared (expected one of `mail`)"),
            format!("{F}:17:1: `notify.mail`: missing key `path` (expected `path` for `kind = \"file\"`)"),
        ]
    );
}

#[test]
fn config_disabled_rule_and_bad_stream_name() {
    let text = BASE.replace("[streams.alerts]", "[streams.\"bad name\"]") + "enabled = false\n";
    let errs = errors(&text);
    assert_eq!(
        errs,
        [format!("{F}:1:1: `streams.\"bad name\"`: \"bad name\" is not a valid stream name (expected 1-128 characters of a-z, A-Z, 0-9, `_`, `.`, `-`)")]
    );
    let ok = Config::parse(&(BASE.to_owned() + "enabled = false\n"), F);
    assert!(ok.is_ok_and(|c| !c.rules["fast"].enabled));
}

#[test]
fn every_action_key_belongs_to_exactly_one_kind() {
    use crate::schema::RawActionKind;
    let mut seen = std::collections::BTreeSet::new();
    for kind in RawActionKind::ALL {
        for key in kind.keys() {
            assert!(seen.insert(*key), "{key} belongs to two kinds");
            assert_eq!(RawActionKind::owning(key), Some(kind));
        }
    }
    // Every key the flat struct can carry is some kind's key, so none escapes the check.
    let all = toml::from_str::<crate::schema::RawAction>(
        r#"kind = "kinesis"
stream = "s"
partition_key = "p"
endpoint = "http://e"
root = "r"
prefix = "p"
error_prefix = "e"
buffer_bytes = 1
buffer_interval_ms = 1
delivery_stream = "d"
topic = "t"
qos = 0
table = "t"
key = "k"
emitter = "e"
queue_url = "q"
use_base64 = true
target_arn = "a"
message_format = "RAW"
table_name = "t"
bucket = "b"
object_key = "k"
canned_acl = "private"
url = "u"
headers = { h = "v" }
confirmation_url = "c"
function_arn = "f""#,
    )
    .expect("every key");
    let set: std::collections::BTreeSet<_> = all.set_keys().collect();
    assert_eq!(set, seen);
}

#[test]
fn action_identities_ignore_how_and_keep_where() {
    let rule = |actions: &str| {
        let text = format!("{BASE}{actions}");
        let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
        c.rules["fast"]
            .actions
            .iter()
            .map(|a| a.kind.destination().identity())
            .collect::<Vec<_>>()
    };
    let a = rule(
        "[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alerts\"\npartition_key = \"${a}\"\n\
         [[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"p/\"\n",
    );
    // Another key template, other buffering: the same places.
    let b = rule(
        "[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alerts\"\npartition_key = \"${b}\"\n\
         buffer = { max_records = 7 }\n\
         [[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"p/\"\nbuffer_interval_ms = 9000\n",
    );
    assert_eq!(a, b);
    // Another prefix is another place.
    let c = rule("[[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"q/\"\n");
    assert_ne!(a[1], c[0]);
    assert_ne!(a[0], a[1]);
}

#[test]
fn config_aws_service_actions_name_their_keys() {
    let text = format!(
        "{BASE}\n[sqs]\nendpoint_url = \"localhost:4566\"\n\
         [sns]\nendpoint_url = \"http://127.0.0.1:4566/sns\"\n\
         [[rules.fast.actions]]\nkind = \"sqs\"\nuse_base64 = true\n\
         [[rules.fast.actions]]\nkind = \"sns\"\ntarget_arn = \"arn:aws:sns:us-east-1:1:t\"\nmessage_format = \"raw\"\n\
         [[rules.fast.actions]]\nkind = \"s3\"\nbucket = \"archive\"\nobject_key = \"${{topic()}}\"\ncanned_acl = \"open\"\n\
         [[rules.fast.actions]]\nkind = \"http\"\nurl = \"https://example.com/in\"\nconfirmation_url = \"https://other.example.com\"\nheaders = {{ \"bad name\" = \"v\" }}\n\
         [[rules.fast.actions]]\nkind = \"lambda\"\nfunction_arn = \"arn:aws:lambda:us-east-1:1:layer:x\"\n\
         [[rules.fast.actions]]\nkind = \"dynamodbv2\"\ntable_name = \"t\"\nstream = \"alerts\"\n"
    );
    assert_eq!(
        errors(&text),
        [
            format!("{F}:17:16: `sqs.endpoint_url`: \"localhost:4566\" is not an http:// or https:// URL of a host (no path) (expected an endpoint such as \"http://127.0.0.1:4566\")"),
            format!("{F}:19:16: `sns.endpoint_url`: \"http://127.0.0.1:4566/sns\" is not an http:// or https:// URL of a host (no path) (expected an endpoint such as \"http://127.0.0.1:4566\")"),
            format!("{F}:20:1: `rules.fast.actions[0]`: a `sqs` action needs `queue_url` (expected `queue_url`)"),
            format!("{F}:26:18: `rules.fast.actions[1].message_format`: \"raw\" is not a message format (expected `RAW` or `JSON`)"),
            format!("{F}:31:14: `rules.fast.actions[2].canned_acl`: \"open\" is not an S3 canned ACL (expected one of `private`, `public-read`, `public-read-write`, `aws-exec-read`, `authenticated-read`, `bucket-owner-read`, `bucket-owner-full-control`, `log-delivery-write`)"),
            format!("{F}:35:20: `rules.fast.actions[3].confirmation_url`: \"https://other.example.com\" is not a prefix of the url \"https://example.com/in\" (expected the start of `url`, as AWS requires)"),
            format!("{F}:36:26: `rules.fast.actions[3].headers.\"bad name\"`: \"bad name\" is not an HTTP header name (expected letters, digits and !#$%&'*+-.^_`|~)"),
            format!("{F}:39:16: `rules.fast.actions[4].function_arn`: \"arn:aws:lambda:us-east-1:1:layer:x\" is not a Lambda function ARN or name (expected arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or NAME)"),
            format!("{F}:42:14: `rules.fast.actions[5].table_name`: \"t\" is not a DynamoDB table name (expected 3 to 255 characters of [a-zA-Z0-9_.-])"),
            format!("{F}:43:10: `rules.fast.actions[5].stream`: `stream` is not a key of a `dynamodbv2` action (expected a key of `kind = \"kinesis\"`)"),
        ]
    );
}
