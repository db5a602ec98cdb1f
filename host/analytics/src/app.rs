//! A running application: its in-application streams and pumps. Rows come in on input
//! streams with their ROWTIME; each pump's output lands on its target stream (cast to the
//! stream's column types, as SQL INSERT does) and flows on to the pumps reading that stream,
//! in emission order. Rows that fail go to `error_stream` and the pump goes on.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{CompileError, SqlError};
use crate::exec::query::{self, QueryState};
use crate::exec::{calls, PumpError};
use crate::input::{error_row, error_stream_schema, ERROR_STREAM};
use crate::parse::parse_program;
use crate::plan::{plan_app, AppPlan, PumpPlan, Tables};
use crate::row::{StreamRow, StreamSchema};
use crate::value::Value;

/// One row an in-application stream emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub stream: String,
    pub row: StreamRow,
    pub columns: StreamSchema,
}

/// A compiled application and its state.
#[derive(Debug, Clone)]
pub struct Application {
    plan: AppPlan,
    schemas: HashMap<String, StreamSchema>,
    state: State,
}

/// Everything a checkpoint keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// Each pump's query state, by pump name.
    pumps: HashMap<String, QueryState>,
    /// The latest ROWTIME on each stream (ROWTIME never decreases on a stream).
    last_rowtime: HashMap<String, i64>,
    /// Stream time: the latest ROWTIME seen or time advanced to.
    time: Option<i64>,
    /// Each pump's plan fingerprint, so a checkpoint restored into changed code does not
    /// feed a changed query the windows of the old one.
    #[serde(default)]
    plans: HashMap<String, u64>,
}

/// A pump's plan, fingerprinted (its compiled form, so spacing and comments do not count).
fn fingerprint(p: &PumpPlan) -> u64 {
    let text = format!(
        "{:?}|{:?}|{:?}|{}",
        p.query, p.assign, p.rowtime_from, p.target
    );
    // Where items were written is not what they compute.
    let mut plain = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("Pos {") {
        plain.push_str(&rest[..at]);
        rest = rest[at..].find('}').map_or("", |end| &rest[at + end + 1..]);
    }
    plain.push_str(rest);
    // FNV-1a, not std's DefaultHasher: its algorithm may change with the Rust release, and a
    // checkpoint must read the same after Weir is rebuilt.
    plain.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Application {
    /// Compiles application code against its inputs (name and columns, e.g.
    /// `SOURCE_SQL_STREAM_001`) and reference tables (name, columns, rows).
    pub fn compile(
        code: &str,
        inputs: &[(String, StreamSchema)],
        references: &[(String, StreamSchema, Vec<Vec<Value>>)],
    ) -> Result<Application, CompileError> {
        let program = parse_program(code)?;
        let tables: Tables = references
            .iter()
            .map(|(n, s, rows)| (n.clone(), (s.clone(), Arc::new(rows.clone()))))
            .collect();
        let plan = plan_app(&program, inputs, &tables)?;
        let mut schemas: HashMap<String, StreamSchema> = plan.streams.iter().cloned().collect();
        schemas.insert(ERROR_STREAM.to_string(), error_stream_schema());
        let pumps = plan
            .pumps
            .iter()
            .map(|p| (p.name.clone(), QueryState::new(&p.query)))
            .collect();
        let plans = plan
            .pumps
            .iter()
            .map(|p| (p.name.clone(), fingerprint(p)))
            .collect();
        Ok(Application {
            plan,
            schemas,
            state: State {
                pumps,
                plans,
                ..State::default()
            },
        })
    }

    /// The in-application streams an output can read (inputs excluded), with their
    /// columns, and `error_stream` last.
    pub fn output_streams(&self) -> Vec<(String, StreamSchema)> {
        let mut out: Vec<(String, StreamSchema)> = self
            .plan
            .streams
            .iter()
            .filter(|(n, _)| !self.plan.inputs.contains(n))
            .cloned()
            .collect();
        out.push((ERROR_STREAM.to_string(), error_stream_schema()));
        out
    }

    /// The input streams, with their columns.
    pub fn input_streams(&self) -> Vec<(String, StreamSchema)> {
        self.plan
            .streams
            .iter()
            .filter(|(n, _)| self.plan.inputs.contains(n))
            .cloned()
            .collect()
    }

    /// A row arrives on an input stream: the stream's columns, optionally followed by its
    /// APPROXIMATE_ARRIVAL_TIME (else the ROWTIME is used). Its ROWTIME is raised to the stream's latest if
    /// it is earlier (ROWTIME never decreases). Windows that time has passed flush first.
    pub fn push(&mut self, input: &str, row: StreamRow) -> Vec<Emitted> {
        let mut out = Vec::new();
        if !self.plan.inputs.iter().any(|n| n == input) {
            return out;
        }
        let mut row = row;
        row.rowtime = self.stamp(input, row.rowtime);
        let width = self.schemas.get(input).map_or(0, |s| s.len());
        if row.values.len() == width {
            // APPROXIMATE_ARRIVAL_TIME, when the caller has none: the row's arrival is its
            // ROWTIME (the test command's rows arrive when stamped).
            row.values.push(Value::Timestamp(row.rowtime));
        }
        self.advance_into(row.rowtime, &mut out);
        self.deliver(input, &row, &mut out);
        out
    }

    /// An `error_stream` row from outside the pumps (a record the input mapping refused).
    pub fn push_error(&mut self, row: StreamRow) -> Vec<Emitted> {
        let mut out = Vec::new();
        let mut row = row;
        row.rowtime = self.stamp(ERROR_STREAM, row.rowtime);
        self.emit(ERROR_STREAM, row, &mut out);
        out
    }

    /// Stream time reaches `time_ms`: windows whose end it has passed emit their rows.
    pub fn advance(&mut self, time_ms: i64) -> Vec<Emitted> {
        let mut out = Vec::new();
        self.advance_into(time_ms, &mut out);
        out
    }

    /// Stream time so far (None before the first row).
    pub fn time(&self) -> Option<i64> {
        self.state.time
    }

    /// The whole state as JSON: pumps' windows, streams' latest ROWTIMEs, stream time.
    pub fn checkpoint(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or(serde_json::Value::Null)
    }

    /// Restores a checkpoint (taken from this code or an earlier version of it). Pumps the
    /// checkpoint does not know, or whose query changed shape, start empty.
    pub fn restore(&mut self, checkpoint: &serde_json::Value) -> Result<(), String> {
        let mut state: State = serde_json::from_value(checkpoint.clone())
            .map_err(|e| format!("checkpoint does not fit this application: {e}"))?;
        for p in &self.plan.pumps {
            let fresh = || QueryState::new(&p.query);
            let same_plan = state.plans.get(&p.name) == self.state.plans.get(&p.name);
            let entry = state.pumps.entry(p.name.clone()).or_insert_with(fresh);
            if !same_plan || !entry.fits(&p.query) {
                // The pump's query changed shape (an update of the code): its old windows
                // cannot be read by the new query, which starts empty.
                *entry = fresh();
            }
        }
        state
            .pumps
            .retain(|name, _| self.plan.pumps.iter().any(|p| p.name == *name));
        state.plans = self.state.plans.clone();
        self.state = state;
        Ok(())
    }

    fn stamp(&mut self, stream: &str, rowtime: i64) -> i64 {
        let last = self
            .state
            .last_rowtime
            .entry(stream.to_string())
            .or_insert(i64::MIN);
        *last = (*last).max(rowtime);
        *last
    }

    fn advance_into(&mut self, time: i64, out: &mut Vec<Emitted>) {
        if self.state.time.is_some_and(|t| t > time) {
            return;
        }
        self.state.time = Some(time);
        for i in 0..self.plan.pumps.len() {
            let pump = &self.plan.pumps[i];
            if pump.stopped {
                continue;
            }
            let Some(state) = self.state.pumps.get_mut(&pump.name) else {
                continue;
            };
            let mut errors = Vec::new();
            let rows = query::advance(&pump.query, state, time, &mut errors);
            let pump = Arc::clone(pump);
            self.land(&pump, rows, errors, out);
        }
    }

    /// A row is on `stream`: every pump reading it runs, depth first.
    fn deliver(&mut self, stream: &str, row: &StreamRow, out: &mut Vec<Emitted>) {
        for i in 0..self.plan.pumps.len() {
            let pump = &self.plan.pumps[i];
            if pump.stopped || !pump.reads.iter().any(|s| s == stream) {
                continue;
            }
            let Some(state) = self.state.pumps.get_mut(&pump.name) else {
                continue;
            };
            let mut errors = Vec::new();
            let rows = query::push(&pump.query, state, stream, row, &mut errors);
            let pump = Arc::clone(pump);
            self.land(&pump, rows, errors, out);
        }
    }

    /// A pump's output rows go into its target stream; its failed rows to `error_stream`.
    fn land(
        &mut self,
        pump: &PumpPlan,
        rows: Vec<StreamRow>,
        errors: Vec<PumpError>,
        out: &mut Vec<Emitted>,
    ) {
        for e in errors {
            self.error(&pump.name, &e.error, &e.row, out);
        }
        let Some(schema) = self.schemas.get(&pump.target).cloned() else {
            return;
        };
        let required = self
            .plan
            .not_null
            .get(&pump.target)
            .cloned()
            .unwrap_or_default();
        for row in rows {
            let values = assign(pump, &schema, &required, &row)
                .and_then(|v| Ok((v, self.rowtime_of(pump, &row)?)));
            match values {
                Ok((values, rowtime)) => {
                    let rowtime = self.stamp(&pump.target, rowtime);
                    let landed = StreamRow::new(rowtime, values);
                    self.emit(&pump.target, landed.clone(), out);
                    self.deliver(&pump.target, &landed, out);
                }
                Err(error) => self.error(&pump.name, &error, &row, out),
            }
        }
    }

    /// The ROWTIME a pump's row lands with: its own, or the value of the query output the
    /// INSERT puts into ROWTIME, which must not go back in time on the target stream
    /// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/error-handling.html: rows
    /// out of order are errors).
    fn rowtime_of(&self, pump: &PumpPlan, row: &StreamRow) -> Result<i64, SqlError> {
        let Some(i) = pump.rowtime_from else {
            return Ok(row.rowtime);
        };
        let t = match row.values.get(i) {
            Some(Value::Timestamp(t)) => *t,
            Some(other) => {
                return Err(SqlError::new(
                    "InvalidRowtime",
                    format!("ROWTIME takes a TIMESTAMP, not {}", other.kind()),
                ))
            }
            None => row.rowtime,
        };
        let last = self.state.last_rowtime.get(&pump.target).copied();
        if last.is_some_and(|l| t < l) {
            return Err(SqlError::new(
                "RowtimeOutOfOrder",
                format!(
                    "ROWTIME {} is earlier than {}'s latest",
                    crate::value::format_timestamp(t, false),
                    pump.target
                ),
            ));
        }
        Ok(t)
    }

    fn error(&mut self, pump: &str, error: &SqlError, row: &StreamRow, out: &mut Vec<Emitted>) {
        let text = row
            .values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let time = self.state.time.unwrap_or(row.rowtime).max(row.rowtime);
        let mut e = error_row(error, time, row.rowtime, text.as_bytes(), Some(pump));
        e.rowtime = self.stamp(ERROR_STREAM, e.rowtime);
        self.emit(ERROR_STREAM, e, out);
    }

    fn emit(&self, stream: &str, row: StreamRow, out: &mut Vec<Emitted>) {
        let columns = self
            .schemas
            .get(stream)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()));
        out.push(Emitted {
            stream: stream.to_string(),
            row,
            columns,
        });
    }
}

/// The query's output values placed in the target's columns, each cast to its column's
/// type as SQL INSERT assigns; NULL in a `NOT NULL` column is an error.
fn assign(
    pump: &PumpPlan,
    schema: &StreamSchema,
    required: &[bool],
    row: &StreamRow,
) -> Result<Vec<Value>, SqlError> {
    schema
        .iter()
        .zip(&pump.assign)
        .enumerate()
        .map(|(i, (col, from))| {
            let v = match from {
                Some(at) => row.values.get(*at).cloned().unwrap_or(Value::Null),
                None => Value::Null,
            };
            if v.is_null() {
                if required.get(i).copied().unwrap_or(false) {
                    return Err(SqlError::new(
                        "NotNullViolation",
                        format!("NULL for NOT NULL column {} of {}", col.name, pump.target),
                    ));
                }
                return Ok(Value::Null);
            }
            calls::cast(&v, &col.ty)
        })
        .collect()
}
