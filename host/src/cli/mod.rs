//! Subcommands of the `weir` binary.

mod analytics;
mod demo;
mod plugin_build;
mod plugin_embedded;
mod plugin_manifest;
mod plugin_new;
mod plugin_test;
mod rule_import;
mod rule_test;
mod run;
mod streams_serve;
mod toolchain;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Weir: an IoT rules engine and WebAssembly plugin host.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the speeding-car scenario in-process through the server's own rules, plugin
    /// pipelines and sinks (no broker): the seed's CSV rows replayed as the device's messages
    /// into a fresh storage folder, then every alert and what each rule and action did.
    Demo {
        /// The configuration file, as for `weir run`.
        #[arg(long, default_value = "examples/speeding/weir.toml")]
        config: PathBuf,
        /// Folder with the built plugin components, instead of the paths in the file
        /// (`cargo xtask plugins` writes them to target/plugins).
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// Folder with `speeding_data.csv`.
        #[arg(long, default_value = "examples/speeding/data")]
        data: PathBuf,
        /// Keep the streams, tables and archives in this (empty or new) folder; by default a
        /// temporary folder is used and removed.
        #[arg(long)]
        storage: Option<PathBuf>,
        /// Print only the summary, not every alert.
        #[arg(long)]
        quiet: bool,
    },
    /// Run the server: embedded broker (or external broker client), rules, pipelines,
    /// streams, the Kinesis API and /metrics, as the configuration file says.
    Run {
        /// The configuration file (see examples/speeding/weir.toml).
        #[arg(long)]
        config: PathBuf,
        /// Do not watch the file for changes (reload only by restarting).
        #[arg(long)]
        no_watch: bool,
    },
    /// Work with rules.
    Rule {
        #[command(subcommand)]
        command: RuleCommand,
    },
    /// Durable streams with the Kinesis-compatible API.
    Streams {
        #[command(subcommand)]
        command: StreamsCommand,
    },
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Kinesis Data Analytics SQL applications.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AnalyticsCommand {
    /// Run a Kinesis Data Analytics SQL application on recorded input, offline, and print
    /// every row each in-application stream emits (error_stream included) as one JSON line,
    /// in emission order. See docs/analytics.md.
    Test {
        /// The application code (CreateApplication's ApplicationCode).
        #[arg(long)]
        code: PathBuf,
        /// The InputSchema object, exactly as CreateApplication takes it; the input is
        /// SOURCE_SQL_STREAM_001.
        #[arg(long)]
        schema: PathBuf,
        /// One record per line: {"rowtime": "2019-01-01T10:00:00.000Z", "data": RECORD}.
        #[arg(long)]
        input: PathBuf,
        /// A reference table: a ReferenceDataSource (TableName, ReferenceSchema) plus
        /// "Rows": [...].
        #[arg(long)]
        reference: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum StreamsCommand {
    /// Serve the streams under `--dir` over the Kinesis API (boto3, the AWS CLI and the Java
    /// SDK work against `--endpoint-url http://ADDR`).
    Serve(streams_serve::Args),
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Evaluate an AWS IoT rule (SQL version 2016-03-23) against one message, offline. Prints
    /// the output as one line of JSON, or `null` when the rule does not fire.
    Test {
        /// The rule's SQL, e.g. `SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75`.
        #[arg(long)]
        sql: String,
        /// The topic the message was published on.
        #[arg(long)]
        topic: String,
        /// The message payload (JSON, or any text: non-JSON payloads are binary to the rule).
        #[arg(long)]
        payload: String,
        /// The publisher's MQTT client id, for `clientid()`.
        #[arg(long)]
        clientid: Option<String>,
    },
    /// Print an AWS IoT rule (a TopicRulePayload, a CreateTopicRule body, or `aws iot
    /// get-topic-rule` output, as JSON) as the `[rules.NAME]` entry of a configuration file.
    Import {
        /// The JSON file.
        file: PathBuf,
        /// The rule's name (default: the document's `ruleName`, else the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Make a plugin folder (`./NAME`) in Rust, Python or JavaScript, with a unit test and a
    /// `weir-plugin.toml` naming its stage and grants.
    New {
        /// The plugin's name (a-z, 0-9, '-', '_'): its folder, its component's file name and
        /// its `[plugins.NAME]` entry.
        name: String,
        /// rust, python or js.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// filter, transformer or emitter.
        #[arg(long, default_value = "filter")]
        stage: String,
        /// The folder to create (default ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: the weir-sdk crate's folder (default: the source tree weir was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin folder (Rust, Python or JavaScript) into one component, by default
    /// target/plugins/NAME.wasm under the working directory. Python and JavaScript
    /// toolchains install themselves on first use (see guest-sdk/README.md).
    Build {
        /// The plugin folder (with weir-plugin.toml, or a Rust crate).
        dir: PathBuf,
        /// Where to write the component.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a built component on sample input in the real runtime and print every record's
    /// outcome (kept, dropped, output, delivered, failed and why).
    Test {
        /// The component (`.wasm`).
        plugin: PathBuf,
        /// One record per line: JSON (the line is the payload), or any text with `--raw`.
        #[arg(long)]
        input: PathBuf,
        /// Treat input lines as raw text rather than JSON.
        #[arg(long)]
        raw: bool,
        /// A plugin parameter, `KEY=VALUE` (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// A lookup table, `NAME=FILE.csv[:KEY_COLUMN]` (repeatable; the key defaults to the
        /// first column).
        #[arg(long = "table", value_name = "NAME=FILE")]
        tables: Vec<String>,
        /// Records per call.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch: u32,
        /// Grant only these (comma-separated: log, config, lookup, outbox, wasi:clocks, ...),
        /// as a host configuration would; by default every grant, so any component loads.
        #[arg(long, value_delimiter = ',')]
        grants: Option<Vec<String>>,
        /// Compile the component afresh instead of through the compile cache
        /// ($XDG_CACHE_HOME/weir/plugin-cache, else ~/.cache/weir/plugin-cache).
        #[arg(long)]
        no_cache: bool,
    },
}

/// Log to stderr; `-v` flags pick the level unless `RUST_LOG` is set.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // rumqttd logs every ordinary client disconnect as an error; its own logs are opt-in
    // (`RUST_LOG=rumqttd=info`).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},rumqttd=off")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
}

/// Whether log lines carry ANSI colour: only on a terminal, so a log redirected to a file or
/// piped to journald or `grep` is plain text, and never when `NO_COLOR` is set to anything
/// non-empty (<https://no-color.org>). An explicit `with_ansi` overrides tracing-subscriber's
/// own `NO_COLOR` check, hence both here.
fn colour_logs(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            config,
            plugins,
            data,
            storage,
            quiet,
        } => demo::run(&demo::Options {
            config,
            plugin_dir: plugins,
            data_dir: data,
            storage,
            quiet,
        }),
        Command::Run { config, no_watch } => run::run(&config, !no_watch),
        Command::Rule {
            command:
                RuleCommand::Test {
                    sql,
                    topic,
                    payload,
                    clientid,
                },
        } => rule_test::run(&sql, &topic, &payload, clientid.as_deref()),
        Command::Rule {
            command: RuleCommand::Import { file, name },
        } => rule_import::run(&file, name.as_deref()),
        Command::Streams {
            command: StreamsCommand::Serve(args),
        } => streams_serve::run(args),
        Command::Plugin {
            command:
                PluginCommand::Test {
                    plugin,
                    input,
                    raw,
                    config,
                    tables,
                    batch,
                    grants,
                    no_cache,
                },
        } => plugin_test::run(&plugin_test::Options {
            plugin,
            input,
            raw,
            config,
            tables,
            batch: batch as usize,
            grants,
            no_cache,
        }),
        Command::Plugin {
            command:
                PluginCommand::New {
                    name,
                    lang,
                    stage,
                    dir,
                    sdk,
                },
        } => plugin_new::run(&plugin_new::Options {
            name,
            lang: plugin_manifest::Lang::parse(&lang).context("--lang")?,
            stage: plugin_manifest::Stage::parse(&stage).context("--stage")?,
            dir,
            sdk,
        }),
        Command::Plugin {
            command: PluginCommand::Build { dir, out },
        } => plugin_build::run(&plugin_build::Options { dir, out }),
        Command::Analytics {
            command:
                AnalyticsCommand::Test {
                    code,
                    schema,
                    input,
                    reference,
                },
        } => analytics::run(&analytics::Options {
            code,
            schema,
            input,
            reference,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::colour_logs;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(colour_logs(true, Some("".into())));
        assert!(!colour_logs(true, Some("1".into())));
        assert!(!colour_logs(false, None));
        assert!(!colour_logs(false, Some("1".into())));
    }
}
