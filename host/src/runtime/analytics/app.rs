//! One running application: a thread that reads its input stream, maps each record to rows
//! (`weir_analytics::input::Mapper`, a record that does not map becomes an `error_stream`
//! row), stamps ROWTIME as the row enters (the host's clock, never decreasing, as the
//! service stamps it), pushes the rows into the engine, moves stream time on, and writes what
//! the output streams emit to their destinations (JSON or CSV records by `DestinationSchema`).
//!
//! Delivery is at least once, as AWS documents it: a failing destination is retried, the
//! application waiting on it (a row is never skipped), and positions and the engine's state
//! are saved together (`checkpoint.rs`) only after every row they produced was written. A
//! crash re-reads what followed the last checkpoint and computes it again from the state it
//! had then, so a window's rows are emitted at least once after any restart.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_analytics::input::{error_row, Mapper, MappingError};
use weir_analytics::output::serialize_as;
use weir_analytics::SqlError;
use weir_api::analytics_runner::{OutputDestination, RunOutput, RunSpec, Source, StartFrom};
use weir_streams::{PutEntry, PutOutcome, StartPosition, Streams};

use super::checkpoint::{self, Checkpoint, From, Positions};
use super::engine::{Emitted, Engine};

/// Records read per shard per round.
const READ_BATCH: usize = 500;
/// How often positions and state are saved while records flow, at most: a checkpoint that
/// takes long (a large window state) waits ten times its own duration before the next, so
/// saving never takes more than a tenth of the application's time.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The longest wait between retries of a failing destination.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where the application reads and writes: the host's streams and delivery streams, and
/// the functions (transformer plugins, Firehose's `Processor`) that stand for the Lambda
/// functions of input preprocessing and `LambdaOutput`.
#[derive(Clone)]
pub(crate) struct Sinks {
    pub streams: Streams,
    pub firehose: Option<weir_firehose::Firehose>,
    pub functions: Option<Arc<dyn weir_firehose::Processor>>,
}

/// A destination's refusal, retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct WriteFailed(String);

impl Sinks {
    fn write(
        &self,
        dest: &OutputDestination,
        records: &[Vec<u8>],
        seq: &mut u64,
    ) -> Result<(), WriteFailed> {
        match dest {
            OutputDestination::Stream(name) => {
                let entries: Vec<PutEntry> = records
                    .iter()
                    .map(|data| {
                        *seq += 1;
                        PutEntry {
                            partition_key: format!("kda-{seq}"),
                            explicit_hash_key: None,
                            data: data.clone(),
                        }
                    })
                    .collect();
                let outcomes = self
                    .streams
                    .put_records(name, &entries)
                    .map_err(|e| WriteFailed(format!("stream {name}: {e}")))?;
                match outcomes
                    .iter()
                    .find(|o| !matches!(o, PutOutcome::Ok { .. }))
                {
                    Some(PutOutcome::Throttled { message } | PutOutcome::Failed { message }) => {
                        Err(WriteFailed(format!("stream {name}: {message}")))
                    }
                    _ => Ok(()),
                }
            }
            OutputDestination::DeliveryStream(name) => {
                let fh = self
                    .firehose
                    .as_ref()
                    .ok_or_else(|| WriteFailed("this host has no Firehose service".into()))?;
                let (outcomes, _) = fh
                    .put(name, records)
                    .map_err(|e| WriteFailed(format!("delivery stream {name}: {e}")))?;
                match outcomes
                    .iter()
                    .find(|o| !matches!(o, weir_firehose::RecordPutOutcome::Ok { .. }))
                {
                    Some(weir_firehose::RecordPutOutcome::Failed { message }) => {
                        Err(WriteFailed(format!("delivery stream {name}: {message}")))
                    }
                    _ => Ok(()),
                }
            }
            // The Lambda output contract: each record handed to the function, which answers
            // per record; a record it fails (DeliveryFailed) is handed again.
            OutputDestination::Plugin(name) => {
                let f = self
                    .functions
                    .as_ref()
                    .ok_or_else(|| WriteFailed("this host runs no plugins".into()))?;
                let ids: Vec<String> = records
                    .iter()
                    .map(|_| {
                        *seq += 1;
                        seq.to_string()
                    })
                    .collect();
                let batch: Vec<weir_firehose::ProcessIn<'_>> = records
                    .iter()
                    .zip(&ids)
                    .map(|(data, id)| weir_firehose::ProcessIn {
                        record_id: id,
                        data,
                        arrival_ms: weir_support::now_ms(),
                    })
                    .collect();
                let out = f
                    .process(name, &batch)
                    .map_err(|e| WriteFailed(format!("LambdaOutput {name}: {e}")))?;
                match out.iter().find_map(|p| match p {
                    weir_firehose::Processed::Failed(m) => Some(m),
                    _ => None,
                }) {
                    Some(m) => Err(WriteFailed(format!("LambdaOutput {name}: {m}"))),
                    None if out.len() != records.len() => Err(WriteFailed(format!(
                        "LambdaOutput {name}: {} results for {} records",
                        out.len(),
                        records.len()
                    ))),
                    None => Ok(()),
                }
            }
        }
    }

    /// Input preprocessing: the records of a page through `function`, one result each
    /// (`Ok` with the record to map, `Dropped`, or `ProcessingFailed`, which goes to
    /// `error_stream`). A failed call is retried by the caller (the page is read again).
    fn preprocess(
        &self,
        function: &str,
        records: &[weir_streams::RecordOut],
    ) -> Result<Vec<weir_firehose::Processed>, String> {
        let f = self
            .functions
            .as_ref()
            .ok_or_else(|| "this host runs no plugins".to_owned())?;
        let ids: Vec<String> = (0..records.len()).map(|i| i.to_string()).collect();
        let batch: Vec<weir_firehose::ProcessIn<'_>> = records
            .iter()
            .zip(&ids)
            .map(|(r, id)| weir_firehose::ProcessIn {
                record_id: id,
                data: &r.data,
                arrival_ms: r.arrival_ms,
            })
            .collect();
        let out = f
            .process(function, &batch)
            .map_err(|e| format!("input preprocessing {function}: {e}"))?;
        if out.len() != records.len() {
            return Err(format!(
                "input preprocessing {function}: {} results for {} records",
                out.len(),
                records.len()
            ));
        }
        Ok(out)
    }
}

/// A running application's handle: its stop flag and thread.
pub(crate) struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the thread after its current round and waits for it (it saves a checkpoint
    /// when everything it computed was written).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One input being read: its mapper and where each shard is.
struct Input {
    id: String,
    stream: String,
    /// The engine holding the source: the host's streams, or Firehose's buffers for a
    /// delivery stream (`Firehose::buffer_of`).
    streams: Streams,
    source: String,
    mapper: Mapper,
    /// The preprocessing function, if any.
    processor: Option<String>,
    /// Where shards without a saved position start.
    start: StartPosition,
    iterators: HashMap<String, String>,
}

/// The loop's state.
pub(crate) struct App {
    spec: RunSpec,
    engine: Box<dyn Engine>,
    sinks: Sinks,
    inputs: Vec<Input>,
    positions: BTreeMap<String, Positions>,
    rowtime: i64,
    path: PathBuf,
    seq: u64,
}

/// What the engine's state belongs to: the code, the input streams' columns and the
/// reference tables' (a state restored under other code or columns would not fit).
fn state_key(spec: &RunSpec) -> String {
    let inputs: Vec<_> = spec.inputs.iter().map(|i| (&i.stream, &i.schema)).collect();
    let tables: Vec<_> = spec
        .references
        .iter()
        .map(|r| (&r.table, &r.schema))
        .collect();
    let shapes = serde_json::to_string(&(inputs, tables)).unwrap_or_default();
    format!("{}\n-- weir: {shapes}", spec.code)
}

/// The engine and stream an input reads.
fn source_of(sinks: &Sinks, source: &Source) -> Result<(Streams, String), String> {
    match source {
        Source::Stream(s) => Ok((sinks.streams.clone(), s.clone())),
        Source::DeliveryStream(d) => sinks
            .firehose
            .as_ref()
            .ok_or_else(|| "this host has no Firehose service".to_owned())?
            .buffer_of(d)
            .map_err(|e| format!("delivery stream {d}: {e}")),
    }
}

/// Where shards without a position start, as a stream position.
fn position_of(from: From) -> StartPosition {
    match from {
        From::TrimHorizon => StartPosition::TrimHorizon,
        From::At(ms) => StartPosition::AtTimestamp(ms),
    }
}

impl App {
    /// Prepares `spec` over `engine`: positions and state from `saved` when the inputs start
    /// at LAST_STOPPED_POINT (state only when the code is the same), fresh otherwise.
    pub fn new(
        spec: RunSpec,
        mut engine: Box<dyn Engine>,
        sinks: Sinks,
        path: PathBuf,
        saved: Option<Checkpoint>,
    ) -> Result<App, String> {
        let now = weir_support::now_ms();
        let saved = saved.filter(|c| c.created_ms == spec.created_ms);
        let mut positions = BTreeMap::new();
        let mut inputs = Vec::new();
        let mut rowtime = 0;
        let resumes = spec
            .inputs
            .iter()
            .all(|i| i.start == StartFrom::LastStoppedPoint);
        if let (true, Some(c)) = (resumes, &saved) {
            if c.code == state_key(&spec) {
                engine.restore(&c.engine)?;
                rowtime = c.rowtime;
            }
        }
        Self::check(&spec, &sinks)?;
        for i in &spec.inputs {
            let (streams, source) = source_of(&sinks, &i.source)?;
            let mapper = Mapper::new(&i.schema).map_err(|e| format!("input {}: {e}", i.id))?;
            let kept = match i.start {
                StartFrom::LastStoppedPoint => saved.as_ref().and_then(|c| {
                    let mut p = c.positions.get(&i.id)?.clone();
                    // Shards that appeared since the stop hold only records that came after it.
                    p.from.get_or_insert(From::At(c.saved_ms));
                    Some(p)
                }),
                _ => None,
            };
            let p = kept.unwrap_or_else(|| Positions {
                from: Some(match i.start {
                    StartFrom::TrimHorizon => From::TrimHorizon,
                    // NOW, and LAST_STOPPED_POINT of an input never read.
                    _ => From::At(now),
                }),
                ..Positions::default()
            });
            let start = position_of(p.from.unwrap_or(From::At(now)));
            positions.insert(i.id.clone(), p);
            inputs.push(Input {
                id: i.id.clone(),
                stream: i.stream.clone(),
                streams,
                source,
                mapper,
                processor: i.processor.clone(),
                start,
                iterators: HashMap::new(),
            });
        }
        Ok(App {
            spec,
            engine,
            sinks,
            inputs,
            positions,
            rowtime,
            path,
            seq: 0,
        })
    }

    /// What can be known about `spec` before anything runs: its sources are there, their
    /// schemas map, and the plugins its
    /// preprocessing and `LambdaOutput` name are loaded. Checked before a running
    /// configuration is replaced, so a refused update leaves the old one running.
    pub fn check(spec: &RunSpec, sinks: &Sinks) -> Result<(), String> {
        let known = |p: &str| sinks.functions.as_ref().is_some_and(|f| f.knows(p));
        for i in &spec.inputs {
            source_of(sinks, &i.source).map_err(|e| format!("input {}: {e}", i.id))?;
            if let Some(p) = i.processor.as_deref().filter(|p| !known(p)) {
                return Err(format!(
                    "input {}: no transformer plugin named {p} runs the input preprocessing",
                    i.id
                ));
            }
            Mapper::new(&i.schema).map_err(|e| format!("input {}: {e}", i.id))?;
        }
        for o in &spec.outputs {
            if let OutputDestination::Plugin(p) = &o.destination {
                if !known(p) {
                    return Err(format!(
                        "output {}: no transformer plugin named {p} stands for the LambdaOutput function",
                        o.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs on a thread of its own until stopped.
    pub fn spawn(self) -> std::io::Result<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let name = self.spec.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("weir-kda-{name}"))
            .spawn(move || self.run(&flag))?;
        Ok(Running {
            stop,
            thread: Some(thread),
        })
    }

    fn run(mut self, stop: &AtomicBool) {
        // Where this run starts is saved before anything is read: a crash before the next
        // checkpoint resumes from the start's positions, not from the time of the restart.
        self.save();
        let mut last_save = Instant::now();
        let mut save_gap = CHECKPOINT_EVERY;
        let mut dirty = false;
        let mut warned = false;
        while !stop.load(Ordering::SeqCst) {
            let (read, mut out) = match self.read_round() {
                Ok(x) => {
                    warned = false;
                    x
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(application = %self.spec.name, error = %e, "reading the input failed; retrying");
                        warned = true;
                    }
                    (0, Vec::new())
                }
            };
            self.rowtime = self.rowtime.max(weir_support::now_ms());
            out.extend(self.engine.advance(self.rowtime));
            if !self.deliver(&out, stop) {
                // Stopped while a destination failed: what was computed since the last
                // checkpoint is computed again from it at the next start.
                return;
            }
            dirty |= read > 0 || !out.is_empty();
            if dirty && last_save.elapsed() >= save_gap {
                let began = Instant::now();
                if self.save() {
                    dirty = false;
                }
                last_save = Instant::now();
                save_gap = CHECKPOINT_EVERY.max(began.elapsed() * 10);
            }
            if read == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.save();
    }

    /// Saves positions and state; a failure is logged and retried at the next round (the
    /// older checkpoint stays: more is read again after a crash, nothing is lost).
    fn save(&self) -> bool {
        let c = Checkpoint {
            created_ms: self.spec.created_ms,
            code: state_key(&self.spec),
            saved_ms: weir_support::now_ms(),
            rowtime: self.rowtime,
            positions: self.positions.clone(),
            engine: self.engine.checkpoint(),
        };
        match checkpoint::save(&self.path, &c) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(application = %self.spec.name, error = %e, "cannot save the checkpoint");
                false
            }
        }
    }

    /// Reads each input's readable shards once (parents before children); returns how many
    /// records were read and what the engine emitted for them.
    fn read_round(&mut self) -> Result<(usize, Vec<Emitted>), String> {
        let mut read = 0;
        let mut out = Vec::new();
        for k in 0..self.inputs.len() {
            let source = self.inputs[k].source.clone();
            let info = self.inputs[k]
                .streams
                .describe_stream(&source)
                .map_err(|e| format!("stream {source}: {e}"))?;
            let known: Vec<String> = info.shards.iter().map(|s| s.shard_id.clone()).collect();
            for shard in &info.shards {
                let id = self.inputs[k].id.clone();
                let pos = self.positions.entry(id).or_default();
                if pos.ended.contains(&shard.shard_id) {
                    continue;
                }
                let waiting = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .any(|p| known.contains(p) && !pos.ended.contains(p));
                if waiting {
                    continue;
                }
                read += self.read_shard(k, &source, &shard.shard_id, &mut out)?;
            }
        }
        Ok((read, out))
    }

    fn read_shard(
        &mut self,
        k: usize,
        source: &str,
        shard: &str,
        out: &mut Vec<Emitted>,
    ) -> Result<usize, String> {
        let input = &mut self.inputs[k];
        let streams = input.streams.clone();
        let pos = self.positions.entry(input.id.clone()).or_default();
        let it = match input.iterators.remove(shard) {
            Some(it) => it,
            None => {
                let start = match pos.after.get(shard) {
                    Some(seq) => StartPosition::AfterSequence(seq.clone()),
                    None => input.start.clone(),
                };
                streams
                    .get_shard_iterator(source, shard, &start)
                    .map_err(|e| format!("{source}/{shard}: {e}"))?
            }
        };
        let page = streams
            .get_records(&it, READ_BATCH)
            .map_err(|e| format!("{source}/{shard}: {e}"))?;
        let n = page.records.len();
        let processed = match &input.processor {
            Some(f) => {
                // A failed call reads the page again at the next round.
                let out = self.sinks.preprocess(f, &page.records)?;
                Some(out)
            }
            None => None,
        };
        for (k, r) in page.records.iter().enumerate() {
            let now = weir_support::now_ms();
            self.rowtime = self.rowtime.max(now);
            let rowtime = self.rowtime;
            let data: &[u8] = match processed.as_ref().map(|p| &p[k]) {
                None => &r.data,
                Some(weir_firehose::Processed::Ok(d)) => d,
                Some(weir_firehose::Processed::Dropped) => continue,
                Some(weir_firehose::Processed::Failed(m)) => {
                    let e = SqlError::new("ProcessingFailed", m.clone());
                    out.extend(
                        self.engine
                            .push_error(error_row(&e, now, rowtime, &r.data, None)),
                    );
                    continue;
                }
            };
            match input.mapper.map(data) {
                Ok(rows) => {
                    for mut values in rows {
                        values.push(weir_analytics::Value::Timestamp(r.arrival_ms));
                        out.extend(self.engine.push(
                            &input.stream,
                            weir_analytics::StreamRow::new(rowtime, values),
                        ));
                    }
                }
                Err(MappingError { name, message }) => {
                    let row = error_row(&SqlError::new(name, message), now, rowtime, &r.data, None);
                    out.extend(self.engine.push_error(row));
                }
            }
        }
        if let Some(last) = page.records.last() {
            pos.after
                .insert(shard.to_owned(), last.sequence_number.clone());
        }
        match page.next_iterator {
            Some(next) => {
                input.iterators.insert(shard.to_owned(), next);
            }
            None => pos.ended.push(shard.to_owned()),
        }
        Ok(n)
    }

    /// Writes every emitted row to the outputs that take its stream, in emission order,
    /// retrying a failing destination (with backoff) until it takes them or the application
    /// is stopped (then `false`: nothing after the last checkpoint counts as delivered).
    fn deliver(&mut self, out: &[Emitted], stop: &AtomicBool) -> bool {
        for o in self.spec.outputs.clone() {
            let records: Vec<Vec<u8>> = out
                .iter()
                .filter(|e| e.stream == o.stream)
                .map(|e| serialize_as(o.format, &e.columns, &e.row))
                .collect();
            if records.is_empty() {
                continue;
            }
            if !self.write_retrying(&o, &records, stop) {
                return false;
            }
        }
        true
    }

    fn write_retrying(&mut self, o: &RunOutput, records: &[Vec<u8>], stop: &AtomicBool) -> bool {
        let mut backoff = Duration::from_millis(20);
        let mut warned = false;
        loop {
            match self.sinks.write(&o.destination, records, &mut self.seq) {
                Ok(()) => {
                    if warned {
                        tracing::info!(application = %self.spec.name, output = %o.id, "the output takes records again");
                    }
                    return true;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(application = %self.spec.name, output = %o.id, error = %e, "writing the output failed; retrying (the application waits)");
                        warned = true;
                    }
                }
            }
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
