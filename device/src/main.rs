//! `weir-device`: command line over the `weir_device` library. Parsing flags, printing, exit
//! codes; no logic of its own (that lives in the library so it can be tested).
//!
//! Exit codes: 0 when everything sent was acknowledged, 1 when anything failed or the run
//! could not start (the reason is printed as `error: ...` on stderr).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use weir_device::button::{self, ButtonConfig, Clock, TopicSink};
use weir_device::connection::{BrokerUrl, Connection, ConnectionOptions, LinkEvent, Protocol, Qos};
use weir_device::csv_source::{self, CsvSource, OnBadRow};
use weir_device::gpio::PiPins;
use weir_device::load::{self, LoadOptions, LoadPayload};
use weir_device::payload::seed_payload;
use weir_device::replay::{self, Item, Progress, ReplayOptions};
use weir_device::template::{Generator, PayloadTemplate};

#[derive(Parser)]
#[command(
    name = "weir-device",
    version,
    about = "Weir's device: the Pi button publisher, CSV replay, template generator and MQTT load tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish the next CSV row on each button press (Raspberry Pi GPIO).
    Button(ButtonArgs),
    /// Publish a CSV as seed payloads, at a rate or as fast as possible.
    Replay(ReplayArgs),
    /// Publish (or print) messages generated from a Kinesis-Data-Generator-style template.
    #[command(
        after_help = "Placeholders: {{date.now}}, {{date.now(\"YYYY-MM-DD HH:mm:ss.SSS\")}}, \
{{random.number(100)}}, {{random.number({\"min\":1,\"max\":1000,\"precision\":0.01})}}, \
{{random.arrayElement([\"a\",\"b\"])}}, {{random.weightedArrayElement({\"weights\":[0.9,0.1],\"data\":[\"x\",\"y\"]})}}, \
{{random.uuid}}, {{random.boolean}}, {{vehicle.licensePlate}}, {{vehicle.speed}}, {{address.city}}, \
{{address.state}}, {{address.longitude}}, {{address.latitude}}"
    )]
    Template(TemplateArgs),
    /// Many connections at a target rate; reports msg/s and latency percentiles.
    Load(LoadArgs),
}

#[derive(Args, Clone)]
struct ConnArgs {
    /// Broker URL: mqtt://host:port, or mqtts://host:port for TLS.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    /// CA certificate (PEM) for mqtts://; the system roots when omitted.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, as AWS IoT requires.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// MQTT user name (AWS IoT uses certificates instead).
    #[arg(long)]
    username: Option<String>,
    /// MQTT password; needs --username. Visible to other users in `ps`: prefer
    /// --password-file or the WEIR_DEVICE_PASSWORD environment variable.
    #[arg(long, requires = "username", conflicts_with = "password_file")]
    password: Option<String>,
    /// File whose first line is the MQTT password; needs --username.
    #[arg(long, requires = "username")]
    password_file: Option<PathBuf>,
    /// MQTT client id (load mode appends -N per connection).
    #[arg(long, default_value = "weir-device")]
    client_id: String,
    /// MQTT 3.1.1 (v4, what AWS IoT devices use) or MQTT 5 (v5).
    #[arg(long, value_enum, default_value_t = ProtocolArg::V4)]
    protocol: ProtocolArg,
    /// Keep-alive interval in seconds.
    #[arg(long, default_value_t = 30)]
    keep_alive: u64,
    /// Start a fresh session instead of resuming the broker-side one.
    #[arg(long)]
    clean_session: bool,
    /// QoS 1 messages in flight before publishing waits for acknowledgements.
    #[arg(long, default_value_t = 100)]
    inflight: u16,
    /// Seconds to wait for the broker when connecting.
    #[arg(long, default_value_t = 10)]
    connect_timeout: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    V4,
    V5,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum BadRowArg {
    Skip,
    Stop,
}

impl From<BadRowArg> for OnBadRow {
    fn from(b: BadRowArg) -> Self {
        match b {
            BadRowArg::Skip => OnBadRow::Skip,
            BadRowArg::Stop => OnBadRow::Stop,
        }
    }
}

#[derive(Args)]
struct OutputArgs {
    /// No progress bar and no human summary (warnings and errors still go to stderr).
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as one line of JSON on stdout.
    #[arg(long)]
    summary_json: bool,
}

#[derive(Args)]
struct ButtonArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// CSV of speeding rows; each press publishes the next one, wrapping at the end.
    #[arg(long)]
    csv: PathBuf,
    #[arg(long, default_value = "rtr/iot/trafficdata")]
    topic: String,
    /// Button input, BCM numbering; wired to GND, internal pull-up.
    #[arg(long, default_value_t = 17)]
    button_pin: u8,
    /// LED output, BCM numbering; lit while a message awaits its PUBACK.
    #[arg(long, default_value_t = 4)]
    led_pin: u8,
    #[arg(long, default_value_t = 300)]
    debounce_ms: u64,
    /// While the button is held, publish again this often.
    #[arg(long, default_value_t = 1000)]
    repeat_ms: u64,
    /// Stop after this many messages; 0 runs until Ctrl-C.
    #[arg(long, default_value_t = 0)]
    count: u64,
    #[arg(long, value_enum, default_value_t = BadRowArg::Skip)]
    on_bad_row: BadRowArg,
}

#[derive(Args)]
struct PublishArgs {
    #[arg(long, default_value = "rtr/iot/trafficdata")]
    topic: String,
    /// Messages per second; omit (or 0) for as fast as the in-flight window allows.
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    qos: u8,
    /// Seconds to wait for outstanding PUBACKs at the end.
    #[arg(long, default_value_t = 30)]
    ack_timeout: u64,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    publish: PublishArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[arg(long)]
    csv: PathBuf,
    /// Stop after this many messages (default: the whole file).
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, value_enum, default_value_t = BadRowArg::Skip)]
    on_bad_row: BadRowArg,
}

#[derive(Args)]
struct TemplateArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    publish: PublishArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Template file, or the template text itself.
    #[arg(long)]
    template: String,
    #[arg(long)]
    count: u64,
    /// Same seed, same messages (except date.now).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Draw vehicle.* and address.* from rows of this CSV, so plates join the driver table.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Print the messages, one per line, instead of publishing them.
    #[arg(long)]
    print: bool,
}

#[derive(Args)]
struct LoadArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Total messages per second over all connections; 0 = as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    qos: u8,
    #[arg(long, default_value = "weir/load")]
    topic: String,
    /// Payload size in bytes (a JSON object with a send timestamp, padded).
    #[arg(long, conflicts_with = "csv")]
    payload_size: Option<usize>,
    /// Send seed payloads from this CSV instead.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Subscribe to this filter on one more connection and report end-to-end latency.
    #[arg(long)]
    subscribe: Option<String>,
    /// Seconds to wait for PUBACKs and subscribed messages after sending.
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,
    /// Print the report as one line of JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Button(a) => run_button(a).await,
            Command::Replay(a) => run_replay(a).await,
            Command::Template(a) => run_template(a).await,
            Command::Load(a) => run_load(a).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The MQTT password from `--password-file`, `WEIR_DEVICE_PASSWORD` or `--password`, in that
/// order; secrets on the command line are readable by every user of the machine.
fn password(a: &ConnArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &a.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--password-file {}", path.display()))?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
    }
    if let Ok(p) = std::env::var("WEIR_DEVICE_PASSWORD") {
        return Ok(Some(p));
    }
    if a.password.is_some() {
        eprintln!("warning: --password is visible to other users (ps); prefer --password-file or WEIR_DEVICE_PASSWORD");
    }
    Ok(a.password.clone())
}

fn connection_options(a: &ConnArgs) -> anyhow::Result<ConnectionOptions> {
    let mut o = ConnectionOptions::new(BrokerUrl::parse(&a.broker)?, a.client_id.clone());
    o.protocol = match a.protocol {
        ProtocolArg::V4 => Protocol::V4,
        ProtocolArg::V5 => Protocol::V5,
    };
    o.ca = a.ca.clone();
    o.cert = a.cert.clone();
    o.key = a.key.clone();
    o.username = a.username.clone();
    o.password = password(a)?;
    o.keep_alive = Duration::from_secs(a.keep_alive);
    o.clean_session = a.clean_session;
    o.inflight = a.inflight.max(1);
    o.connect_timeout = Duration::from_secs(a.connect_timeout.max(1));
    o.observer = Some(Arc::new(|e: &LinkEvent| match e {
        LinkEvent::Disconnected { reason } => {
            eprintln!("warning: disconnected: {reason}; reconnecting")
        }
        LinkEvent::Reconnected {
            session_present,
            resent,
        } => eprintln!(
            "warning: reconnected (session {}, {resent} message(s) re-queued)",
            if *session_present { "resumed" } else { "new" }
        ),
    }));
    Ok(o)
}

fn qos(level: u8) -> Qos {
    Qos::from_level(level).unwrap_or_default()
}

/// Progress bar on stderr, hidden when stderr is not a terminal or with `--quiet`.
struct Bar(ProgressBar);

impl Bar {
    fn new(len: Option<u64>, quiet: bool) -> Self {
        let pb = match len {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::no_length(),
        };
        if quiet || !std::io::stderr().is_terminal() {
            pb.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            let style =
                ProgressStyle::with_template("{bar:40} {pos}/{len} {rate} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "rate",
                        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.0} msg/s", state.per_sec());
                        },
                    );
            pb.set_style(style);
        }
        Self(pb)
    }
}

impl Progress for Bar {
    fn sent(&self, total: u64) {
        self.0.set_position(total);
    }
    fn warn(&self, message: &str) {
        // suspend() so the line is not drawn over by the bar, and still shown when hidden.
        self.0.suspend(|| eprintln!("warning: {message}"));
    }
}

/// Stops the message source on Ctrl-C; what was sent is still awaited and summarised.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing in-flight messages");
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

fn report(outcome: &replay::ReplayOutcome, output: &OutputArgs) -> anyhow::Result<bool> {
    if let Some(reason) = &outcome.stopped {
        eprintln!("error: {reason}");
    }
    if !output.quiet {
        eprintln!("{}", outcome.summary);
    }
    if output.summary_json {
        println!("{}", serde_json::to_string(&outcome.summary)?);
    }
    Ok(outcome.ok())
}

async fn run_replay(a: ReplayArgs) -> anyhow::Result<bool> {
    let source = CsvSource::open(&a.csv)?;
    let opts = connection_options(&a.conn)?;
    let publisher = Connection::connect(&opts).await?;
    let mut ro = ReplayOptions::new(a.publish.topic.clone());
    ro.qos = qos(a.publish.qos);
    ro.rate = a.publish.rate.filter(|r| *r > 0.0);
    ro.count = a.count;
    ro.ack_timeout = Duration::from_secs(a.publish.ack_timeout);
    let len = match a.count {
        Some(n) => Some(n),
        None => count_lines(&a.csv),
    };
    let bar = Bar::new(len, a.output.quiet);
    let stop = stop_on_ctrl_c();
    let items = replay::csv_messages(source, a.on_bad_row.into())
        .take_while(|_| !stop.load(Ordering::SeqCst));
    let outcome = replay::run(&publisher, items, &ro, &bar).await;
    bar.0.finish_and_clear();
    publisher.close().await;
    report(&outcome, &a.output)
}

/// Data lines in a CSV, for the progress bar's length; a guess is fine (quoted newlines).
fn count_lines(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let unterminated = u64::from(bytes.last().is_some_and(|b| *b != b'\n'));
    Some((lines + unterminated).saturating_sub(1))
}

fn read_template(arg: &str) -> anyhow::Result<PayloadTemplate> {
    let path = Path::new(arg);
    let text = if !arg.contains("{{") && path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read template {}", path.display()))?;
        // Editors end files with a newline; it is not part of the message.
        text.trim_end_matches(['\n', '\r']).to_string()
    } else {
        arg.to_string()
    };
    Ok(PayloadTemplate::parse(&text)?)
}

async fn run_template(a: TemplateArgs) -> anyhow::Result<bool> {
    let template = read_template(&a.template)?;
    let rows = match &a.csv {
        Some(p) => csv_source::read_all(p, OnBadRow::Skip, |e| {
            eprintln!("warning: skipping bad row: {e}")
        })?,
        None => Vec::new(),
    };
    let mut generator = Generator::new(template, a.seed, rows);
    if a.print {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for _ in 0..a.count {
            writeln!(out, "{}", generator.next_message(Utc::now()))?;
        }
        return Ok(true);
    }
    let opts = connection_options(&a.conn)?;
    let publisher = Connection::connect(&opts).await?;
    let mut ro = ReplayOptions::new(a.publish.topic.clone());
    ro.qos = qos(a.publish.qos);
    ro.rate = a.publish.rate.filter(|r| *r > 0.0);
    ro.count = Some(a.count);
    ro.ack_timeout = Duration::from_secs(a.publish.ack_timeout);
    let bar = Bar::new(Some(a.count), a.output.quiet);
    let stop = stop_on_ctrl_c();
    let items = std::iter::repeat_with(move || {
        Ok(Item::Message(
            generator.next_message(Utc::now()).into_bytes(),
        ))
    })
    .take(usize::try_from(a.count).unwrap_or(usize::MAX))
    .take_while(|_| !stop.load(Ordering::SeqCst));
    let outcome = replay::run(&publisher, items, &ro, &bar).await;
    bar.0.finish_and_clear();
    publisher.close().await;
    report(&outcome, &a.output)
}

async fn run_button(a: ButtonArgs) -> anyhow::Result<bool> {
    let rows = csv_source::read_all(&a.csv, a.on_bad_row.into(), |e| {
        eprintln!("warning: skipping bad row: {e}")
    })?;
    let clock = Clock::start();
    // Open the pins before connecting: "not a Pi" is the likelier mistake, and says more.
    let (mut pins, edges) = PiPins::open(a.button_pin, a.led_pin, clock)?;
    let opts = connection_options(&a.conn)?;
    let publisher = Connection::connect(&opts).await?;
    eprintln!(
        "ready: press the button on BCM {} to publish to {} ({} rows)",
        a.button_pin,
        a.topic,
        rows.len()
    );
    let mut sink = TopicSink {
        publisher: &publisher,
        topic: a.topic.clone(),
        qos: Qos::AtLeastOnce,
    };
    let mut next = 0usize;
    let next_payload = move || {
        let row = &rows[next % rows.len()];
        next += 1;
        eprintln!("button pressed: publishing #{next} ({})", row.license_plate);
        seed_payload(row, Utc::now())
    };
    let cfg = ButtonConfig {
        debounce: Duration::from_millis(a.debounce_ms),
        repeat: Duration::from_millis(a.repeat_ms.max(1)),
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = button::run(
        &mut pins,
        edges,
        &mut sink,
        clock,
        cfg,
        a.count,
        next_payload,
        stop,
    )
    .await;
    let all_settled = publisher.wait_all_settled(Duration::from_secs(10)).await;
    let counts = publisher.counts();
    publisher.close().await;
    let report = result.map_err(anyhow::Error::msg)?;
    eprintln!(
        "published {}, acknowledged {}, failed {}",
        report.published,
        counts.acked,
        counts.published_qos1.saturating_sub(counts.acked)
    );
    if !all_settled {
        bail!("{} message(s) were not acknowledged", counts.outstanding());
    }
    Ok(counts.rejected == 0)
}

async fn run_load(a: LoadArgs) -> anyhow::Result<bool> {
    let payload = match (&a.csv, a.payload_size) {
        (Some(p), _) => {
            LoadPayload::Rows(Arc::new(csv_source::read_all(p, OnBadRow::Skip, |e| {
                eprintln!("warning: skipping bad row: {e}")
            })?))
        }
        (None, size) => LoadPayload::Size(size.unwrap_or(256)),
    };
    if !(a.duration > 0.0 && a.duration.is_finite()) {
        bail!("--duration must be a positive number of seconds");
    }
    let mut connection = connection_options(&a.conn)?;
    connection.inflight = a.conn.inflight.max(1);
    let opts = LoadOptions {
        connection,
        connections: a.connections,
        rate: a.rate.max(0.0),
        duration: Duration::from_secs_f64(a.duration),
        qos: qos(a.qos),
        topic: a.topic,
        payload,
        subscribe: a.subscribe,
        drain_timeout: Duration::from_secs(a.drain_timeout),
    };
    let report = load::run(&opts).await?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(report.failed == 0)
}
